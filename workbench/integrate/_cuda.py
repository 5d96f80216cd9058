"""The CUDA target of ``solve_ivp_batch``: one trajectory per GPU thread.

The stepping code is the same source as on the CPU (:mod:`._stepper`); numba-cuda compiles those
``@njit`` functions as device functions, with the right-hand side compiled as a device function
too. Work arrays live in thread-local memory, sized at compile time for the system's n.
Under the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) the kernel runs the same source as plain
Python, so the simulator checks this file's logic against the CPU kernels.
"""

from __future__ import annotations

import math

import numpy as np
from numba import config, cuda, float64, int64

from .._numba import device_function, pure_python
from ._events import EventSet
from ._kernels import KERNELS
from ._methods import Method
from ._records import (
    N_STATE,
    NOT_STARTED,
    S_NACCEPT,
    S_NFEV,
    S_NGRID,
    S_NREJECT,
    S_T_BAD,
    Events,
    Options,
    Output,
    Work,
)
from ._rhs import CompiledRHS

_kernels: dict = {}


def _integrate(method: Method):
    integrate = KERNELS[method.name].stepper.integrate
    return pure_python(integrate) if config.ENABLE_CUDASIM else integrate


def make_kernel(method: Method, rhs_device, ev_device, n: int, n_events: int, keep: int):
    """Compile-once kernel for a method, device right-hand side and events, and a system of
    size ``n`` (local array shapes must be compile-time constants)."""
    key = (method.name, rhs_device, ev_device, n, n_events, keep)
    if key in _kernels:
        return _kernels[key]
    integrate = _integrate(method)
    m = method.tableau
    S = m.n_rows
    nd = m.n_dense
    e1 = max(n_events, 1)  # local arrays of length 0 are not allowed: sliced below

    def kernel(
        P, args, scalars, Y0, t_eval, atol, ev_dir, ev_max, lo, hi, Y, st_out, tb, ev_n, ev_t, ev_y
    ):
        i = cuda.grid(1) + lo
        if i >= hi:
            return
        K = cuda.local.array((S, n), float64)
        y = cuda.local.array(n, float64)
        y_new = cuda.local.array(n, float64)
        tmp = cuda.local.array(n, float64)
        Q = cuda.local.array((n, nd), float64)
        g = cuda.local.array(e1, float64)
        g_new = cuda.local.array(e1, float64)
        roots = cuda.local.array(e1, float64)
        order = cuda.local.array(e1, int64)
        st = cuda.local.array(N_STATE, float64)
        t0, t1, rtol, first, max_step, direction = scalars
        opt = Options(t0, t1, rtol, atol, first, max_step, direction)
        w = Work(K, y, y_new, tmp, Q)
        out = Output(t_eval, Y[i], Q[:0], False, False)
        st[0] = NOT_STARTED
        if n_events == 0:  # a constant here: the other branch is not compiled
            status = integrate(
                rhs_device, ev_device, P[i], args, Y0[i], opt, w, None, out, st, None
            )
        else:
            events = Events(
                ev_dir, ev_max, g[:n_events], g_new[:n_events], ev_n[i, :n_events],
                order[:n_events], roots[:n_events], ev_t[i, :n_events], ev_y[i, :n_events], False,
            )  # fmt: skip
            status = integrate(
                rhs_device, ev_device, P[i], args, Y0[i], opt, w, events, out, st, None
            )
        reached = int(st[S_NGRID])
        for a in range(n):
            for r in range(reached, t_eval.shape[0]):
                Y[i, a, r] = math.nan
        st_out[i, 0] = status
        st_out[i, 1] = int(st[S_NFEV])
        st_out[i, 2] = int(st[S_NACCEPT])
        st_out[i, 3] = int(st[S_NREJECT])
        tb[i] = st[S_T_BAD]

    compiled = cuda.jit(kernel)
    _kernels[key] = compiled
    return compiled


def device_rhs(rhs):
    """The right-hand side as a CUDA device function."""
    if isinstance(rhs, CompiledRHS):
        return rhs.device
    return device_function(rhs)


def device_events(event_set: EventSet | None, rhs_device):
    """The events as one device function ``ev(t, y, g, p, *args)`` (each called as
    ``event(t, y, p, *args)``); without events, the right-hand side (never called)."""
    if event_set is None:
        return rhs_device
    key = event_set.functions
    if key not in _device_events:
        devices = [device_function(fn) for fn in event_set.functions]
        src = [
            "def events(t, y, g, p, *args):",
            *(f"    g[{k}] = e{k}(t, y, p, *args)" for k in range(len(devices))),
        ]
        namespace = {f"e{k}": dev for k, dev in enumerate(devices)}
        exec(compile("\n".join(src), "<solve_ivp_batch events>", "exec"), namespace)
        _device_events[key] = cuda.jit(device=True)(namespace["events"])
    return _device_events[key]


_device_fns: dict = {}
_device_events: dict = {}


def run_batch_cuda(
    method, rhs, event_set, params, data, scalars, y0s, t_eval, atol, y, stats, t_bad, event_out,
    chunk, progress, threads_per_block: int = 64,
):  # fmt: skip
    """Run the batch on the GPU in chunks, copying results back into the host arrays."""
    dev = _device_fns.get(rhs)
    if dev is None:
        dev = _device_fns[rhs] = device_rhs(rhs)
    ev_dev = device_events(event_set, dev)
    ev_n, ev_t, ev_y = event_out
    e = ev_n.shape[1]
    keep = ev_t.shape[2]
    kernel = make_kernel(method, dev, ev_dev, y0s.shape[1], e, keep)
    args = (
        (cuda.to_device(data),)
        if isinstance(rhs, CompiledRHS)
        else tuple(
            cuda.to_device(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a
            for a in data
        )
    )
    if isinstance(rhs, CompiledRHS) and data.shape[0] == 0 and event_set is not None:
        args = ()  # events are called as event(t, y, p) then
    ev_dir = event_set.direction if event_set is not None else np.zeros(1)
    ev_max = event_set.max_events if event_set is not None else np.zeros(1)
    # device arrays of size zero are avoided: at least one event slot and one kept occurrence
    m, n = y0s.shape
    h_n = np.zeros((m, max(e, 1)), dtype=np.int64)
    h_t = np.full((m, max(e, 1), max(keep, 1)), np.nan)
    h_y = np.full((m, max(e, 1), max(keep, 1), n), np.nan)
    d_P, d_Y0, d_te, d_atol = (cuda.to_device(a) for a in (params, y0s, t_eval, atol))
    d_dir, d_max = cuda.to_device(ev_dir), cuda.to_device(ev_max)
    d_Y, d_st, d_tb = cuda.to_device(y), cuda.to_device(stats), cuda.to_device(t_bad)
    d_n, d_t, d_y = cuda.to_device(h_n), cuda.to_device(h_t), cuda.to_device(h_y)
    for lo in range(0, m, chunk):
        hi = min(m, lo + chunk)
        blocks = -(-(hi - lo) // threads_per_block)
        kernel[blocks, threads_per_block](
            d_P, args, scalars, d_Y0, d_te, d_atol, d_dir, d_max, lo, hi, d_Y, d_st, d_tb, d_n,
            d_t, d_y,
        )  # fmt: skip
        cuda.synchronize()
        if progress is not None:
            progress(hi, m)
    d_Y.copy_to_host(y)
    d_st.copy_to_host(stats)
    d_tb.copy_to_host(t_bad)
    if e:
        ev_n[:] = d_n.copy_to_host()[:, :e]
        ev_t[:] = d_t.copy_to_host()[:, :e, :keep]
        ev_y[:] = d_y.copy_to_host()[:, :e, :keep]
