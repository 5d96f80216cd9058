"""``solve_ivp_batch``: many independent trajectories, each with its own adaptive steps."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numba
import numpy as np

from .._numba import as_dispatcher, require_compiled
from .._numba.interrupt import new_stop, progress_poll, run_released
from ._entries import BLOCK, NACCEPT, NFEV, NREJECT, STATUS
from ._events import (
    EventSet,
    check_event_values,
    combined_cfunc,
    combined_dispatcher,
    prepare_events,
)
from ._ivp import status_message, validate_common, validate_y0
from ._kernels import KERNELS
from ._methods import get_method
from ._records import FINISHED, NOT_STARTED, TERMINATED, Options
from ._rhs import CompiledRHS, with_nrt


@dataclass
class BatchResult:
    """Results of :func:`solve_ivp_batch`.

    ``t`` (k,) and ``y`` (m, n, k): the output times and every member's states there (NaN
    after a member stopped: a failure or a terminal event); per member ``nfev``, ``naccept``,
    ``nreject``, ``status`` (as scipy's: 0, 1 for a terminal event, -1) and ``messages``.
    With events: ``event_counts`` (m, e), how often each event occurred in each member, and
    its first occurrences, ``t_events`` (m, e, keep) and ``y_events`` (m, e, keep, n), NaN
    where there were fewer; else these are None.
    """

    t: np.ndarray
    y: np.ndarray
    nfev: np.ndarray
    naccept: np.ndarray
    nreject: np.ndarray
    status: np.ndarray
    target: str
    method: str = "RK45"
    event_counts: np.ndarray | None = None
    t_events: np.ndarray | None = None
    y_events: np.ndarray | None = None
    codes: np.ndarray | None = field(default=None, repr=False)  # the kernels' status codes
    t_bad: np.ndarray | None = field(default=None, repr=False)  # where an evaluation failed

    @functools.cached_property
    def messages(self) -> list[str]:
        """scipy's message for each member (made on first use: a Python loop over members
        costs a few percent of a large ensemble's time)."""
        return [
            status_message(code, t_bad)[1]
            for code, t_bad in zip(self.codes.tolist(), self.t_bad.tolist(), strict=True)
        ]

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


def _event_callables(rhs, event_set: EventSet | None, data, t0, y0, p0):
    """``(rhs, ev, dynamic)`` for the CPU kernels: addresses (the cached kernels run) for a
    CompiledRHS and events that compile as C callbacks, else dispatchers."""
    if isinstance(rhs, CompiledRHS):
        args = (data,) if data.shape[0] else ()
        if event_set is None:
            return rhs.address, rhs.address, False
        check_event_values(event_set, t0, y0, args, leading=(p0,))
        kinds = (("d", 0, 0),) if args else ()
        compiled = combined_cfunc(event_set, kinds, leading_p=True)
        if compiled is not None:
            return rhs.address, compiled.address, False
        raise ValueError(
            "the events could not be compiled as C callbacks: with a CompiledRHS they are "
            "called as event(t, y, p, data) with float64 arrays p and data."
        )

    def check():
        compiled = as_dispatcher(rhs, "rhs")
        compiled(t0, y0, np.empty_like(y0), p0, *data)  # compiles it for these arguments
        return compiled

    fn = with_nrt(require_compiled(rhs, "rhs", "solve_ivp_batch", check, "solve_ivp per member"))
    if event_set is None:
        return fn, fn, True
    check_event_values(event_set, t0, y0, data, leading=(p0,))
    return fn, combined_dispatcher(event_set, leading_p=True), True


def _blocks_per_chunk(chunk_size, m: int) -> int:
    """``numba.parallel_chunksize`` for the ``parallel`` kernel, whose ``prange`` runs over
    blocks of ``BLOCK`` members: ``chunk_size`` members, or about a sixteenth of a core's
    share (dynamic scheduling: a core that finishes early takes more, where static division
    would leave it idle behind the slowest share)."""
    if chunk_size is None:
        share = -(-m // (BLOCK * numba.get_num_threads()))
        return max(1, share // 16)
    return max(1, _chunk(chunk_size, m) // BLOCK)


def _chunk(chunk_size, m: int) -> int:
    if chunk_size is None:
        return max(64, -(-m // 50))
    if isinstance(chunk_size, (int, np.integer)) and not isinstance(chunk_size, bool):
        if chunk_size > 0:
            return int(chunk_size)
    raise ValueError(
        f"`chunk_size` must be a positive integer (members per compiled call), got {chunk_size!r}."
    )


def solve_ivp_batch(
    rhs,
    t_span,
    y0s,
    *,
    t_eval,
    method="RK45",
    events=None,
    keep_events: int = 1,
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
    """Integrate m trajectories of the same system, each with its own adaptive steps.

    Parameters
    ----------
    rhs : callable or CompiledRHS
        ``rhs(t, y, dydt, p, *args)`` writes dy/dt into ``dydt`` (the in-place form, because
        GPU code cannot allocate); ``p`` is the member's row of ``params`` and ``args`` are
        shared by all members (e.g. a torque table). A :class:`CompiledRHS` takes
        ``args=(data,)``, one float64 array.
    t_span : (float, float)
        ``(t0, t1)``, shared by all members.
    y0s : array_like, shape (m, n)
        The members' initial states.
    t_eval : array_like, shape (k,)
        The output times, sorted in the direction of integration.
    method : {"RK45", "RK23", "DOP853"}
        As :func:`solve_ivp`.
    events : callable or list of callables, optional
        ``event(t, y, p, *args) -> float`` (the member's ``p`` as for ``rhs``), with scipy's
        ``terminal`` and ``direction`` attributes; each member stops at its own terminal event.
    keep_events : int
        How many occurrences of each event to keep per member (all are counted).
    params : array_like, shape (m, p), optional
        Per-member parameters.
    rtol, atol, first_step, max_step
        As :func:`solve_ivp`, shared by all members.
    target : {"auto", "cpu", "parallel", "cuda"}
        One core, members spread over cores with ``prange``, one member per GPU thread.
    chunk_size : int, optional
        Members a core takes at a time (``parallel``: dynamic scheduling, so that a few slow
        members do not leave the other cores idle; default about 1/16 of a core's share), or
        members per kernel launch (``cuda``). ``progress(done, total)`` is called about ten
        times a second from the members finished so far.

    Returns
    -------
    BatchResult

    Notes
    -----
    The CPU targets give exactly the numbers of a loop over :func:`solve_ivp`; CUDA agrees
    within the solver tolerance.
    """
    from ..targets import choose_target

    m_ = get_method(method)
    kernels = KERNELS[m_.name]
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
    if not (isinstance(keep_events, (int, np.integer)) and not isinstance(keep_events, bool)):
        raise ValueError(f"`keep_events` must be an integer >= 1, got {keep_events!r}.")
    if not 1 <= keep_events <= 10_000:
        raise ValueError(f"`keep_events` must be between 1 and 10000, got {keep_events!r}.")
    if isinstance(rhs, CompiledRHS):
        shared = args if isinstance(args, tuple) else (args,)
        rhs.check_args(n, (params, *shared), "y0s[i]")
    data = _shared_args(rhs, args)
    event_set = prepare_events(events)
    e = 0 if event_set is None else len(event_set)
    # None: the kernels are compiled without the event code (a compile-time switch)
    ev_dir = None if event_set is None else event_set.direction
    ev_max = None if event_set is None else event_set.max_events
    choice = choose_target(target, batched=True).name
    y = np.empty((m, n, t_eval.shape[0]))  # the kernels write NaN where a member stopped
    stats = np.zeros((m, 4), dtype=np.int64)
    stats[:, STATUS] = NOT_STARTED  # how the progress poll tells finished members
    t_bad = np.full(m, np.nan)
    ev_n = np.zeros((m, e), dtype=np.int64)
    ev_t = np.full((m, e, keep_events if e else 0), np.nan)
    ev_y = np.full((m, e, keep_events if e else 0, n), np.nan)
    direction = 1.0 if t1 >= t0 else -1.0
    if choice == "cuda":
        from ._cuda import run_batch_cuda

        run_batch_cuda(
            m_, rhs, event_set, params, data, (t0, t1, rtol, first, max_step, direction),
            y0s, t_eval, atol_v, y, stats, t_bad, (ev_n, ev_t, ev_y), _chunk(chunk_size, m),
            progress,
        )  # fmt: skip
    else:
        fn, ev, dynamic = _event_callables(rhs, event_set, data, t0, y0s[0], params[0])
        name = "batch_parallel" if choice == "parallel" else "batch_cpu"
        kernel = kernels.dynamic(name) if dynamic else getattr(kernels, name)
        opt = Options(t0, t1, rtol, atol_v, first, max_step, direction)
        stop = new_stop(signals=False)
        values = (fn, ev, params, data, opt, y0s, t_eval, ev_dir, ev_max, 0, m, y, stats, t_bad)
        values += (ev_n, ev_t, ev_y, stop)
        blocks = _blocks_per_chunk(chunk_size, m)  # checks chunk_size on every target

        def launch():
            # a setting of the launching thread; 0 (static division) for the serial kernel
            with numba.parallel_chunksize(blocks if choice == "parallel" else 0):
                kernel(*values)

        def finished() -> int:
            return int(np.count_nonzero(stats[:, STATUS] != NOT_STARTED))

        run_released(launch, (), stop, progress_poll(progress, finished, m))
    codes = stats[:, STATUS].copy()
    status = np.where(codes == FINISHED, 0, np.where(codes == TERMINATED, 1, -1))
    return BatchResult(
        t=t_eval,
        y=y,
        nfev=stats[:, NFEV].copy(),
        naccept=stats[:, NACCEPT].copy(),
        nreject=stats[:, NREJECT].copy(),
        status=status,
        target=choice,
        method=m_.name,
        event_counts=ev_n if e else None,
        t_events=ev_t if e else None,
        y_events=ev_y if e else None,
        codes=codes,
        t_bad=t_bad,
    )
