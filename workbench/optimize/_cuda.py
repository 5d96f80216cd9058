"""The CUDA target of ``minimize_bfgs_batch``: one BFGS fit per GPU thread.

The same allocation-free source as the CPU kernels (:mod:`._bfgs_kernel`, :mod:`._linesearch`,
:mod:`._scalar`), compiled by numba-cuda, with the objective compiled as a device function.
The work arrays (the inverse Hessian and two n x n scratch matrices among them) live in
thread-local memory, sized at compile time for the problem's n (at most 32, so a thread needs
at most 27 KiB). The gradient mode, the finite-difference steps and the initial inverse
Hessian are compile-time constants of a kernel, which keeps its argument list short and fixed.
Under the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) the kernel runs the same source as plain
Python, so the simulator checks this file's logic against the CPU kernels.
"""

from __future__ import annotations

import numpy as np
from numba import config, cuda, float64

from .._numba import device_function, pure_python
from . import _bfgs_kernel
from ._batch import member_args_of
from ._linesearch import LS_SLOTS
from ._objective import CompiledObjective
from ._scalar import COMBINED, NFEV, NGEV, S_SLOTS, W_ROWS, XK

__all__ = ["MAX_N", "device_objective", "make_kernel", "run_batch_cuda"]

MAX_N = 32
_kernels: dict = {}
_devices: dict = {}


def device_objective(fun, mode: str = "compiled"):
    """The objective as a device function in the kernels' ``obj(x, g, need, *args)`` form:
    a CompiledObjective's Python source, or the user's in-place (``fun(x, g, *args)``) or
    value-only (``fun(x, *args)``, finite differences) function behind a thin adapter."""
    key = (fun, mode)
    if key in _devices:
        return _devices[key]
    if isinstance(fun, CompiledObjective):
        dev = fun.device
    else:
        user = device_function(fun)
        if mode == "inplace":

            def adapter(x, g, need, *args):
                return user(x, g, *args)

        else:

            def adapter(x, g, need, *args):
                return user(x, *args)

        dev = cuda.jit(device=True)(adapter)
    _devices[key] = dev
    return dev


def make_kernel(obj_device, n: int, fd: int = COMBINED, steps=None, H0=None):
    """Compile-once kernel for a device objective and problems of size ``n``.

    The kernel's arguments are ``(shared, members, x0s, gtol, ord, maxiter, xrtol, c1, c2, lo,
    hi, X, F, ST)``: ``members`` a tuple of per-member arrays (or one (m, k) array), member
    ``i`` fitted from ``x0s[i]`` into ``X[i]``, ``F[i]`` and ``ST[i]`` (status, nit, nfev,
    njev) for ``lo <= i < hi``. ``fd``, ``steps`` (n,) and ``H0`` (n, n) are baked in.
    """
    steps = np.full(n, np.nan) if steps is None else np.ascontiguousarray(steps, dtype=float)
    H0 = np.eye(n) if H0 is None else np.ascontiguousarray(H0, dtype=float)
    key = (obj_device, n, fd, steps.tobytes(), H0.tobytes())
    if key in _kernels:
        return _kernels[key]
    bfgs = pure_python(_bfgs_kernel.bfgs) if config.ENABLE_CUDASIM else _bfgs_kernel.bfgs

    def kernel(shared, members, x0s, gtol, ord, maxiter, xrtol, c1, c2, lo, hi, X, F, ST):
        i = cuda.grid(1) + lo
        if i >= hi:
            return
        W = cuda.local.array((W_ROWS, n), float64)
        S = cuda.local.array(S_SLOTS, float64)
        L = cuda.local.array(LS_SLOTS, float64)
        H = cuda.local.array((n, n), float64)
        T = cuda.local.array((n, n), float64)
        A = cuda.local.array((n, n), float64)
        none = cuda.local.array((1, n), float64)
        for r in range(W_ROWS):
            for k in range(n):
                W[r, k] = 0.0
        for k in range(S_SLOTS):
            S[k] = 0.0
        for k in range(LS_SLOTS):
            L[k] = 0.0
        for a in range(n):
            for b in range(n):
                H[a, b] = H0[a, b]
        status, nit, f = bfgs(
            obj_device,
            member_args_of(members, i) + shared,
            W,
            S,
            L,
            H,
            T,
            A,
            x0s[i],
            fd,
            steps,
            gtol,
            ord,
            maxiter,
            xrtol,
            c1,
            c2,
            none[:0],
            None,
            None,
        )
        for k in range(n):
            X[i, k] = W[XK, k]
        F[i] = f
        ST[i, 0] = status
        ST[i, 1] = nit
        ST[i, 2] = S[NFEV]
        ST[i, 3] = S[NGEV]

    compiled = cuda.jit(kernel)
    _kernels[key] = compiled
    return compiled


def _to_device(a):
    return cuda.to_device(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a


def run_batch_cuda(
    fun,
    shared,
    members,
    x0s,
    H0,
    fd,
    steps,
    settings,
    x,
    f,
    st,
    chunk,
    progress,
    threads_per_block: int = 64,
):
    """Run the fits on the GPU in chunks; results are copied into the host arrays.
    ``settings`` is ``(gtol, ord, maxiter, xrtol, c1, c2)``."""
    m, n = x0s.shape
    if n > MAX_N:
        raise ValueError(
            f"target 'cuda' handles at most {MAX_N} coefficients, got {n}: use target 'parallel'."
        )
    if isinstance(fun, CompiledObjective):
        dev = device_objective(fun)
    else:
        dev = device_objective(fun, "inplace" if fd == COMBINED else "value")
    kernel = make_kernel(dev, n, fd, steps, H0)
    d_shared = tuple(_to_device(a) for a in shared)
    d_members = tuple(_to_device(a) for a in members)
    d_x0 = cuda.to_device(x0s)
    d_x, d_f, d_st = cuda.to_device(x), cuda.to_device(f), cuda.to_device(st)
    for lo in range(0, m, chunk):
        hi = min(m, lo + chunk)
        blocks = -(-(hi - lo) // threads_per_block)
        kernel[blocks, threads_per_block](
            d_shared, d_members, d_x0, *settings, lo, hi, d_x, d_f, d_st
        )
        cuda.synchronize()
        if progress is not None:
            progress(hi, m)
    d_x.copy_to_host(x)
    d_f.copy_to_host(f)
    d_st.copy_to_host(st)
