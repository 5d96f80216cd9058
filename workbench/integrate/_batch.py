"""``solve_ivp_batch``: many independent trajectories, each with its own adaptive steps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from .._compiled import as_dispatcher
from . import _rk45
from ._ivp import status_message, validate_common, validate_y0
from ._rhs import CompiledRHS, with_nrt
from ._tableau import N_STAGES, P

#: Columns of the per-member integer statistics.
STATUS, NFEV, NACCEPT, NREJECT = range(4)


@njit(cache=True, error_model="numpy")
def solve_member(rhs, p, args, t0, t1, y0, t_eval, first, rtol, atol, max_step, y_out, stats, i):
    """Integrate member ``i`` on the CPU; allocates its own work arrays."""
    n = y0.shape[0]
    K = np.empty((N_STAGES + 1, n))
    y = np.empty(n)
    y_new = np.empty(n)
    tmp = np.empty(n)
    Q = np.empty((n, P.shape[1]))
    code, nfev, nacc, nrej, t_end, t_bad, _ = _rk45.integrate_to_grid(
        rhs, p, args, t0, t1, y0, t_eval, first, rtol, atol, max_step, K, y, y_new, tmp, Q, y_out
    )
    stats[i, STATUS] = code
    stats[i, NFEV] = nfev
    stats[i, NACCEPT] = nacc
    stats[i, NREJECT] = nrej
    return t_bad


@njit(cache=True, error_model="numpy")
def batch_serial(rhs, P, args, t0, t1, Y0, t_eval, first, rtol, atol, max_step, lo, hi, Y, st, tb):
    for i in range(lo, hi):
        tb[i] = solve_member(
            rhs, P[i], args, t0, t1, Y0[i], t_eval, first, rtol, atol, max_step, Y[i], st, i
        )


@njit(cache=True, error_model="numpy", parallel=True)
def batch_parallel(
    rhs, P, args, t0, t1, Y0, t_eval, first, rtol, atol, max_step, lo, hi, Y, st, tb
):
    for i in prange(lo, hi):
        tb[i] = solve_member(
            rhs, P[i], args, t0, t1, Y0[i], t_eval, first, rtol, atol, max_step, Y[i], st, i
        )


_KERNELS = {"cpu": batch_serial, "parallel": batch_parallel}
_dynamic: dict = {}


def _cpu_kernel(target: str, dynamic: bool):
    """The cached kernel, or (when a dispatcher crosses its boundary) an uncached twin."""
    kernel = _KERNELS[target]
    if not dynamic:
        return kernel
    if target not in _dynamic:
        _dynamic[target] = njit(error_model="numpy", parallel=target == "parallel")(kernel.py_func)
    return _dynamic[target]


@dataclass
class BatchResult:
    """Results of :func:`solve_ivp_batch`: ``y`` is (m, n, len(t)); per-member counters."""

    t: np.ndarray
    y: np.ndarray
    nfev: np.ndarray
    naccept: np.ndarray
    nreject: np.ndarray
    status: np.ndarray
    messages: list[str]
    target: str

    @property
    def success(self) -> np.ndarray:
        return self.status >= 0

    @property
    def failed(self) -> np.ndarray:
        """Indices of the members that failed."""
        return np.flatnonzero(self.status < 0)


def _shared_args(rhs, args):
    if not isinstance(args, tuple):
        args = (args,)
    if isinstance(rhs, CompiledRHS):
        if len(args) > 1:
            raise ValueError("a CompiledRHS takes args=(data,): at most one float64 array.")
        data = np.ascontiguousarray(args[0], dtype=float).ravel() if args else np.empty(0)
        return data
    return args


def solve_ivp_batch(
    rhs,
    t_span,
    y0s,
    *,
    t_eval,
    params=None,
    args=(),
    rtol=1e-3,
    atol=1e-6,
    first_step=None,
    max_step=np.inf,
    target: str = "auto",
    chunk_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BatchResult:
    """Integrate m trajectories of the same system, each with its own adaptive RK45 steps.

    ``rhs(t, y, dydt, p, *args)`` writes dy/dt into ``dydt`` (the in-place form, because GPU
    code cannot allocate); ``p`` is the member's row of ``params`` (m, p) and ``args`` are shared
    by all members (e.g. a torque table). ``rhs`` may also be a :class:`CompiledRHS`; then
    ``args`` is ``(data,)``, one float64 array. ``y0s`` is (m, n); ``t_eval`` the output times,
    sorted in the direction of integration.

    ``target`` is ``cpu`` (one core), ``parallel`` (members spread over cores with ``prange``),
    ``cuda`` (one member per GPU thread) or ``auto``. The CPU targets give exactly the numbers of
    a loop over :func:`solve_ivp`; CUDA agrees within the solver tolerance. Members are run in
    chunks so that ``progress(done, total)`` is called and Ctrl-C is seen between chunks.
    """
    from ..targets import choose_target

    y0s = validate_y0(y0s, ndim=2, name="y0s")
    m, n = y0s.shape
    if t_eval is None:
        raise ValueError("`t_eval` is required for a batch: the output times of every member.")
    t0, t1, t_eval, rtol, atol_v, first, max_step = validate_common(
        t_span, y0s, t_eval, rtol, atol, first_step, max_step
    )
    if params is None:
        params = np.empty((m, 0))
    params = np.ascontiguousarray(params, dtype=float)
    given_shape = params.shape
    if params.ndim == 1:
        params = params[:, None]
    if params.ndim != 2 or params.shape[0] != m:
        raise ValueError(
            f"`params` must have shape (m, p) with m = {m} members, got shape {given_shape}."
        )
    if not np.all(np.isfinite(params)):
        raise ValueError("`params` must be finite; it contains NaN or infinity.")
    data = _shared_args(rhs, args)
    choice = choose_target(target, batched=True).name
    y = np.full((m, n, t_eval.shape[0]), np.nan)
    stats = np.zeros((m, 4), dtype=np.int64)
    t_bad = np.full(m, np.nan)
    if chunk_size is None:
        chunk = max(64, -(-m // 50))
    elif (
        isinstance(chunk_size, (int, np.integer))
        and not isinstance(chunk_size, bool)
        and chunk_size > 0
    ):
        chunk = int(chunk_size)
    else:
        raise ValueError(
            f"`chunk_size` must be a positive integer (members per compiled call), "
            f"got {chunk_size!r}."
        )
    if choice == "cuda":
        from ._cuda import run_batch_cuda

        run_batch_cuda(
            rhs,
            params,
            data,
            t0,
            t1,
            y0s,
            t_eval,
            first,
            rtol,
            atol_v,
            max_step,
            y,
            stats,
            t_bad,
            chunk,
            progress,
        )
    else:
        if isinstance(rhs, CompiledRHS):
            kernel, fn = _cpu_kernel(choice, dynamic=False), rhs.address
        else:
            kernel = _cpu_kernel(choice, dynamic=True)
            fn = with_nrt(as_dispatcher(rhs, "rhs"))
        for lo in range(0, m, chunk):
            hi = min(m, lo + chunk)
            kernel(
                fn,
                params,
                data,
                t0,
                t1,
                y0s,
                t_eval,
                first,
                rtol,
                atol_v,
                max_step,
                lo,
                hi,
                y,
                stats,
                t_bad,
            )
            if progress is not None:
                progress(hi, m)
    status = np.empty(m, dtype=np.int64)
    messages = []
    for i in range(m):
        status[i], msg = status_message(int(stats[i, STATUS]), float(t_bad[i]))
        messages.append(msg)
    return BatchResult(
        t=t_eval,
        y=y,
        nfev=stats[:, NFEV].copy(),
        naccept=stats[:, NACCEPT].copy(),
        nreject=stats[:, NREJECT].copy(),
        status=status,
        messages=messages,
        target=choice,
    )
