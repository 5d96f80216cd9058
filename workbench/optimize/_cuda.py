"""The CUDA target of ``minimize_bfgs_batch``: one BFGS fit per GPU thread.

The same allocation-free source as the CPU kernels (:mod:`._bfgs_kernel`, :mod:`._linesearch`,
:mod:`._scalar`) compiled by numba-cuda, the objective compiled as a device function; the work
arrays (the inverse Hessian and two scratch matrices among them) live in thread-local memory,
sized at compile time for the problem's n (at most 32).
"""

from __future__ import annotations

import numpy as np
from numba import config, cuda, float64

from ..integrate._cuda import device_function, pure_python
from . import _bfgs_kernel
from ._linesearch import LS_SLOTS
from ._objective import CompiledObjective
from ._scalar import COMBINED, NFEV, NGEV, S_SLOTS, W_ROWS, XK

MAX_N = 32
_kernels: dict = {}


def make_kernel(obj_device, n: int):
    """Compile-once kernel for a device objective and problems of size ``n``."""
    key = (obj_device, n)
    if key in _kernels:
        return _kernels[key]
    bfgs = pure_python(_bfgs_kernel.bfgs) if config.ENABLE_CUDASIM else _bfgs_kernel.bfgs

    def kernel(shared, rows, x0s, gtol, ord, maxiter, xrtol, c1, c2, lo, hi, X, F, ST):
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
                H[a, b] = 1.0 if a == b else 0.0
        status, nit, f = bfgs(
            obj_device,
            (rows[i],) + shared,
            W,
            S,
            L,
            H,
            T,
            A,
            x0s[i],
            COMBINED,
            0.0,
            gtol,
            ord,
            maxiter,
            xrtol,
            c1,
            c2,
            none[:0],
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


_devices: dict = {}


def run_batch_cuda(
    fun,
    shared,
    rows,
    x0s,
    gtol,
    ord,
    maxiter,
    xrtol,
    c1,
    c2,
    x,
    f,
    st,
    chunk,
    progress,
    threads_per_block: int = 64,
):
    """Run the fits on the GPU in chunks; results are copied into the host arrays."""
    m, n = x0s.shape
    if n > MAX_N:
        raise ValueError(f"target 'cuda' handles at most {MAX_N} coefficients, got {n}")
    dev = _devices.get(fun)
    if dev is None:
        dev = _devices[fun] = (
            fun.device if isinstance(fun, CompiledObjective) else (device_function(fun))
        )
    kernel = make_kernel(dev, n)
    d_shared = tuple(
        cuda.to_device(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a for a in shared
    )
    d_rows, d_x0 = cuda.to_device(rows), cuda.to_device(x0s)
    d_x, d_f, d_st = cuda.to_device(x), cuda.to_device(f), cuda.to_device(st)
    for lo in range(0, m, chunk):
        hi = min(m, lo + chunk)
        blocks = -(-(hi - lo) // threads_per_block)
        kernel[blocks, threads_per_block](
            d_shared, d_rows, d_x0, gtol, ord, maxiter, xrtol, c1, c2, lo, hi, d_x, d_f, d_st
        )
        cuda.synchronize()
        if progress is not None:
            progress(hi, m)
    d_x.copy_to_host(x)
    d_f.copy_to_host(f)
    d_st.copy_to_host(st)
