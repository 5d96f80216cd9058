"""The CUDA target of ``solve_ivp_batch``: one trajectory per GPU thread.

The stepping code is the same source as on the CPU (:mod:`._rk45`); numba-cuda compiles those
``@njit`` functions as device functions, with the right-hand side compiled as a device function
too. Work arrays live in thread-local memory, sized at compile time for the system's n.
Under the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) the kernel runs the same source as plain
Python, so the simulator checks this file's logic against the CPU kernels.
"""

from __future__ import annotations

import types as pytypes

import numpy as np
from numba import config, cuda, float64
from numba.core.dispatcher import Dispatcher

from . import _rk45
from ._rhs import CompiledRHS
from ._tableau import N_STAGES, P

_N_K = N_STAGES + 1  # module constants: local array shapes must be compile-time literals
_N_COEF = P.shape[1]
_kernels: dict = {}


def pure_python(fn, _memo: dict | None = None):
    """``fn``'s Python source with every Numba dispatcher it calls (by global name) replaced,
    recursively, by its Python source too.

    The simulator runs kernels as Python; a compiled ``@njit`` function cannot take the
    simulator's arrays or device-function objects as arguments, so it gets the originals.
    """
    memo = {} if _memo is None else _memo
    py = getattr(fn, "py_func", fn)
    if py in memo:
        return memo[py]
    namespace = dict(py.__globals__)
    clone = pytypes.FunctionType(
        py.__code__, namespace, py.__name__, py.__defaults__, py.__closure__
    )
    memo[py] = clone
    for name in py.__code__.co_names:
        if isinstance(namespace.get(name), Dispatcher):
            namespace[name] = pure_python(namespace[name], memo)
        elif hasattr(namespace.get(name), "python_form"):  # an intrinsic: no Python body
            namespace[name] = namespace[name].python_form
    return clone


def device_function(fn):
    """``fn`` (a Python function or ``@njit`` dispatcher) as a CUDA device function."""
    py = getattr(fn, "py_func", fn)
    return cuda.jit(device=True)(pure_python(py) if config.ENABLE_CUDASIM else py)


def _integrate_to_grid():
    if config.ENABLE_CUDASIM:
        return pure_python(_rk45.integrate_to_grid)
    return _rk45.integrate_to_grid


def make_kernel(rhs_device, n: int):
    """Compile-once kernel for a device right-hand side and a system of size ``n``."""
    key = (rhs_device, n)
    if key in _kernels:
        return _kernels[key]
    integrate_to_grid = _integrate_to_grid()

    def kernel(P, args, t0, t1, Y0, t_eval, first, rtol, atol, max_step, lo, hi, Y, st, tb):
        i = cuda.grid(1) + lo
        if i >= hi:
            return
        K = cuda.local.array((_N_K, n), float64)
        y = cuda.local.array(n, float64)
        y_new = cuda.local.array(n, float64)
        tmp = cuda.local.array(n, float64)
        Q = cuda.local.array((n, _N_COEF), float64)
        code, nfev, nacc, nrej, t_end, t_bad, _ = integrate_to_grid(
            rhs_device,
            P[i],
            args,
            t0,
            t1,
            Y0[i],
            t_eval,
            first,
            rtol,
            atol,
            max_step,
            K,
            y,
            y_new,
            tmp,
            Q,
            Y[i],
        )
        st[i, 0] = code
        st[i, 1] = nfev
        st[i, 2] = nacc
        st[i, 3] = nrej
        tb[i] = t_bad

    compiled = cuda.jit(kernel)
    _kernels[key] = compiled
    return compiled


def device_rhs(rhs):
    """The right-hand side as a CUDA device function."""
    if isinstance(rhs, CompiledRHS):
        return rhs.device
    return device_function(rhs)


_device_fns: dict = {}


def run_batch_cuda(
    rhs,
    params,
    data,
    t0,
    t1,
    y0s,
    t_eval,
    first,
    rtol,
    atol,
    max_step,
    y,
    stats,
    t_bad,
    chunk,
    progress,
    threads_per_block: int = 64,
):
    """Run the batch on the GPU in chunks, copying results back into the host arrays."""
    dev = _device_fns.get(rhs)
    if dev is None:
        dev = _device_fns[rhs] = device_rhs(rhs)
    kernel = make_kernel(dev, y0s.shape[1])
    args = (
        (cuda.to_device(data),)
        if isinstance(rhs, CompiledRHS)
        else tuple(
            cuda.to_device(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a
            for a in data
        )
    )
    d_P, d_Y0, d_te, d_atol = (cuda.to_device(a) for a in (params, y0s, t_eval, atol))
    d_Y, d_st, d_tb = cuda.to_device(y), cuda.to_device(stats), cuda.to_device(t_bad)
    m = y0s.shape[0]
    for lo in range(0, m, chunk):
        hi = min(m, lo + chunk)
        blocks = -(-(hi - lo) // threads_per_block)
        kernel[blocks, threads_per_block](
            d_P, args, t0, t1, d_Y0, d_te, first, rtol, d_atol, max_step, lo, hi, d_Y, d_st, d_tb
        )
        cuda.synchronize()
        if progress is not None:
            progress(hi, m)
    d_Y.copy_to_host(y)
    d_st.copy_to_host(stats)
    d_tb.copy_to_host(t_bad)
