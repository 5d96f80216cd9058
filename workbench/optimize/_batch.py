"""``minimize_bfgs_batch``: thousands of independent BFGS fits (bootstrap resamples) at once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from ._bfgs_kernel import bfgs
from ._linesearch import LS_SLOTS
from ._minimize import STATUS_MESSAGES, check_c1_c2, objective_adapter
from ._objective import CompiledObjective
from ._scalar import COMBINED, NFEV, NGEV, S_SLOTS, W_ROWS, XK

STATUS, NIT, NFEV_COL, NJEV_COL = range(4)


@njit(cache=True, error_model="numpy")
def fit_member(obj, args, x0, gtol, ord, maxiter, xrtol, c1, c2, x_out, f_out, stats, i):
    """Fit member ``i`` on the CPU (allocates its own work arrays)."""
    n = x0.shape[0]
    W = np.zeros((W_ROWS, n))
    S = np.zeros(S_SLOTS)
    L = np.zeros(LS_SLOTS)
    H = np.eye(n)
    T = np.empty((n, n))
    A = np.empty((n, n))
    status, nit, f = bfgs(
        obj,
        args,
        W,
        S,
        L,
        H,
        T,
        A,
        x0,
        COMBINED,
        0.0,
        gtol,
        ord,
        maxiter,
        xrtol,
        c1,
        c2,
        np.empty((0, n)),
    )
    for k in range(n):
        x_out[i, k] = W[XK, k]
    f_out[i] = f
    stats[i, STATUS] = status
    stats[i, NIT] = nit
    stats[i, NFEV_COL] = S[NFEV]
    stats[i, NJEV_COL] = S[NGEV]


@njit(cache=True, error_model="numpy")
def batch_serial(obj, shared, rows, x0s, gtol, ord, maxiter, xrtol, c1, c2, lo, hi, x, f, st):
    for i in range(lo, hi):
        args = (rows[i],) + shared
        fit_member(obj, args, x0s[i], gtol, ord, maxiter, xrtol, c1, c2, x, f, st, i)


@njit(cache=True, error_model="numpy", parallel=True)
def batch_parallel(obj, shared, rows, x0s, gtol, ord, maxiter, xrtol, c1, c2, lo, hi, x, f, st):
    for i in prange(lo, hi):
        args = (rows[i],) + shared
        fit_member(obj, args, x0s[i], gtol, ord, maxiter, xrtol, c1, c2, x, f, st, i)


_KERNELS = {"cpu": batch_serial, "parallel": batch_parallel}
_twins: dict = {}


def _kernel(target: str, dynamic: bool):
    """The cached kernel, or an uncached twin when a dispatcher crosses its boundary."""
    if not dynamic:
        return _KERNELS[target]
    if target not in _twins:
        _twins[target] = njit(error_model="numpy", parallel=target == "parallel")(
            _KERNELS[target].py_func
        )
    return _twins[target]


@dataclass
class BatchOptimizeResult:
    """Results of :func:`minimize_bfgs_batch`, one row per member."""

    x: np.ndarray
    fun: np.ndarray
    nit: np.ndarray
    nfev: np.ndarray
    njev: np.ndarray
    status: np.ndarray
    target: str

    @property
    def success(self) -> np.ndarray:
        return self.status == 0

    def message(self, i: int) -> str:
        return STATUS_MESSAGES[int(self.status[i])]


def minimize_bfgs_batch(
    fun,
    x0s,
    *,
    member_data,
    args=(),
    target: str = "auto",
    gtol=1e-5,
    norm=np.inf,
    maxiter=None,
    xrtol=0.0,
    c1=1e-4,
    c2=0.9,
    chunk_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BatchOptimizeResult:
    """Minimise m independent problems with BFGS, each exactly as :func:`minimize_bfgs` would
    with an analytic gradient.

    The objective is in place, ``fun(x, g, row, *args) -> f``, writing the gradient into
    ``g``; ``row`` is member i's row of ``member_data`` (m, k), e.g. its bootstrap counts, and
    ``args`` are shared by all members (the data, passed once). ``fun`` may be a
    :class:`CompiledObjective`: then it is called with ``p = row`` and ``data = args[0]``, and
    the kernels load from Numba's cache. ``target``: ``cpu`` loops, ``parallel`` spreads
    members over cores (``prange``), ``auto`` picks. Members run in chunks, so ``progress(done,
    total)`` is called and Ctrl-C is seen between chunks. ``cuda`` runs one member per GPU
    thread (n <= 32); its numbers agree with the CPU's to round-off. Returns x (m, n), fun,
    nit, nfev, njev and status (m,), each member's numbers equal to a single
    :func:`minimize_bfgs` call's.
    """
    from ..targets import choose_target

    x0s = np.ascontiguousarray(x0s, dtype=float)
    if x0s.ndim != 2 or x0s.size == 0:
        raise ValueError(f"`x0s` must be 2-D, shape (m, n), got shape {x0s.shape}.")
    if not np.isfinite(x0s).all():
        raise ValueError("`x0s` must be finite; it contains NaN or infinity.")
    m, n = x0s.shape
    rows = np.ascontiguousarray(member_data, dtype=float)
    if rows.ndim == 1:
        rows = rows[:, None]
    if rows.ndim != 2 or rows.shape[0] != m:
        raise ValueError(
            f"`member_data` must have shape (m, k) with m = {m} members, got {rows.shape}."
        )
    check_c1_c2(c1, c2)
    if not isinstance(args, tuple):
        args = (args,)
    maxiter = 200 * n if maxiter is None else int(maxiter)
    choice = choose_target(target, batched=True).name
    if isinstance(fun, CompiledObjective):
        if len(args) != 1:
            raise ValueError("a CompiledObjective batch takes args=(data,): one float64 array.")
        data = np.ascontiguousarray(args[0], dtype=float).ravel()
        obj, shared, dynamic = fun.address, (data,), False
    else:
        obj, shared, dynamic = objective_adapter(fun, None, "inplace"), args, True
    x = np.empty((m, n))
    f = np.empty(m)
    st = np.zeros((m, 4))
    chunk = chunk_size or max(16, -(-m // 50))
    if choice == "cuda":
        from ._cuda import run_batch_cuda

        device_shared = args if not isinstance(fun, CompiledObjective) else shared
        run_batch_cuda(
            fun,
            device_shared,
            rows,
            x0s,
            float(gtol),
            float(norm),
            maxiter,
            float(xrtol),
            float(c1),
            float(c2),
            x,
            f,
            st,
            chunk,
            progress,
        )
        return _batch_result(x, f, st, choice)
    kernel = _kernel(choice, dynamic)
    for lo in range(0, m, chunk):
        hi = min(m, lo + chunk)
        kernel(
            obj,
            shared,
            rows,
            x0s,
            float(gtol),
            float(norm),
            maxiter,
            float(xrtol),
            float(c1),
            float(c2),
            lo,
            hi,
            x,
            f,
            st,
        )
        if progress is not None:
            progress(hi, m)
    return _batch_result(x, f, st, choice)


def _batch_result(x, f, st, target) -> BatchOptimizeResult:
    return BatchOptimizeResult(
        x=x,
        fun=f,
        nit=st[:, NIT].astype(np.int64),
        nfev=st[:, NFEV_COL].astype(np.int64),
        njev=st[:, NJEV_COL].astype(np.int64),
        status=st[:, STATUS].astype(np.int64),
        target=target,
    )
