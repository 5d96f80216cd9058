"""One method's compiled entry points: a template, instantiated per method with its stepper.

:func:`._kernels.instantiate` runs this file once per method as its own module, with the
globals ``TABLEAU`` and ``STEPPER`` (that method's instance of :mod:`._stepper`) set first; the
functions below then call that method's :func:`._stepper.integrate`. Imported by itself, this
is the RK45 instance.

- ``to_grid``: values at ``t_eval`` only, scalars returned (the common, fastest path);
- ``solve``: any output (values at ``t_eval``, the step record, dense output, events),
  growing the record and the event lists as needed; returns arrays;
- ``batch_cpu`` / ``batch_parallel``: members ``lo:hi`` of a batch, one core or ``prange``,
  work arrays allocated once per block of members;
- ``eval_segments``: the dense solution at many times.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from .._numba import compiled_for
from ._methods import RK45, Tableau
from ._records import (
    BAD_GRID,
    GRID_OK,
    N_STATE,
    NEED_ROOM,
    NOT_STARTED,
    RECORD_FULL,
    S_NACCEPT,
    S_NFEV,
    S_NGRID,
    S_NREC,
    S_NREJECT,
    S_STATUS,
    S_T,
    S_T_BAD,
    STEP_Y,
    Events,
    Options,
    Output,
    Work,
)
from ._shared import grid_problem

TABLEAU: Tableau = globals().get("TABLEAU", RK45.tableau)
NAME: str = globals().get("NAME", RK45.name)
if "STEPPER" not in globals():
    from . import _stepper as STEPPER  # noqa: N812 - the RK45 instance

integrate = STEPPER.integrate
dense_row = STEPPER.dense_row
dense_at = STEPPER.dense_at
N_ROWS = TABLEAU.n_rows
N_DENSE = TABLEAU.n_dense

jit = compiled_for(NAME, cache=True, error_model="numpy")

#: Columns of a batch's per-member integer statistics.
STATUS, NFEV, NACCEPT, NREJECT = range(4)
#: Members a batch kernel integrates with one set of work arrays.
BLOCK = 4


@jit
def new_work(n):
    """Work arrays for one trajectory: two allocations (K, y, y_new and tmp share one)."""
    vectors = np.empty((N_ROWS + 3, n))
    return Work(
        vectors[:N_ROWS], vectors[N_ROWS], vectors[N_ROWS + 1], vectors[N_ROWS + 2],
        np.empty((n, N_DENSE)),
    )  # fmt: skip


@jit
def new_events(direction, max_events, cap, n, grow):
    """Event state for ``len(direction)`` events keeping ``cap`` occurrences each."""
    e = direction.shape[0]
    scratch = np.empty((3, e))
    ints = np.zeros((2, e), dtype=np.int64)
    return Events(
        direction, max_events, scratch[0], scratch[1], ints[0], ints[1], scratch[2],
        np.empty((e, cap)), np.empty((e, cap, n)), grow,
    )  # fmt: skip


@compiled_for(NAME, cache=True, error_model="numpy", _nrt=False)
def fill_unreached(y, reached):
    """NaN in the output columns ``reached:`` of a member that stopped early (a failure or a
    terminal event): the caller's array is not pre-filled, which cost a serial pass over it."""
    for i in range(y.shape[0]):
        for r in range(reached, y.shape[1]):
            y[i, r] = math.nan


@jit
def grown_events(ev, cap):
    """``ev`` with room for ``cap`` occurrences per event, the stored ones kept."""
    e, old = ev.t_at.shape
    n = ev.y_at.shape[2]
    t_at = np.empty((e, cap))
    y_at = np.empty((e, cap, n))
    for k in range(e):
        for c in range(min(old, ev.count[k])):
            t_at[k, c] = ev.t_at[k, c]
            for i in range(n):
                y_at[k, c, i] = ev.y_at[k, c, i]
    return Events(
        ev.direction, ev.max_events, ev.g, ev.g_new, ev.count, ev.order, ev.roots, t_at, y_at, True
    )


@jit
def grown_rows(steps, rows, used):
    grown = np.empty((rows, steps.shape[1]))
    for r in range(used):
        for c in range(steps.shape[1]):
            grown[r, c] = steps[r, c]
    return grown


@jit
def to_grid(rhs, p, args, t0, t1, y0, t_eval, first_step, rtol, atol, max_step, y_out, stop):
    """One trajectory at the times ``t_eval`` into ``y_out`` (n, k).

    Returns scalars only (each returned array costs about half a microsecond to box): status,
    nfev, naccept, nreject, t reached, bad t, outputs written. A ``t_eval`` that
    :func:`._shared.grid_problem` rejects returns its code as ``nfev`` with status
    ``BAD_GRID``: checked here, it costs a tenth of a separate call from Python. ``stop`` is
    the stop array the steps poll (see :mod:`workbench._numba.interrupt`).
    """
    problem = grid_problem(t_eval, t0, t1)
    if problem != GRID_OK:
        return BAD_GRID, problem, 0, 0, t0, math.nan, 0
    n = y0.shape[0]
    direction = 1.0 if t1 >= t0 else -1.0
    opt = Options(t0, t1, rtol, atol, first_step, max_step, direction)
    # one allocation for the work arrays and the run state (new_work and st make two)
    size = (N_ROWS + 3) * n + n * N_DENSE + N_STATE
    buf = np.empty(size)
    K = buf[: N_ROWS * n].reshape((N_ROWS, n))
    at = N_ROWS * n
    w = Work(K, buf[at : at + n], buf[at + n : at + 2 * n], buf[at + 2 * n : at + 3 * n],
             buf[at + 3 * n : at + 3 * n + n * N_DENSE].reshape((n, N_DENSE)))  # fmt: skip
    st = buf[size - N_STATE :]
    out = Output(t_eval, y_out, w.Q[:0], False, False)
    st[S_STATUS] = NOT_STARTED
    status = integrate(rhs, rhs, p, args, y0, opt, w, None, out, st, stop)  # no events
    return (
        status,
        int(st[S_NFEV]),
        int(st[S_NACCEPT]),
        int(st[S_NREJECT]),
        st[S_T],
        st[S_T_BAD],
        int(st[S_NGRID]),
    )


@jit
def solve(
    rhs, ev, p, args, t0, t1, y0, t_eval, first_step, rtol, atol, max_step, record, dense,
    ev_direction, ev_max, stop, max_rows,
):  # fmt: skip
    """One trajectory with any outputs. The step record grows to at most ``max_rows`` rows:
    a solve that would need more ends with status ``RECORD_FULL`` (a tiny ``max_step``
    without ``t_eval`` would otherwise fill the machine's memory).

    Returns (status, nfev, naccept, nreject, t reached, bad t, y at t_eval (n, k), outputs
    written, steps (rows, 3 + n [+ n n_dense]), event counts (e,), event times (e, cap),
    event states (e, cap, n)).
    """
    n = y0.shape[0]
    y_out = np.empty((n, t_eval.shape[0]))
    events = new_events(ev_direction, ev_max, 4, n, True)
    width = STEP_Y + n + (n * N_DENSE if dense else 0)
    steps = np.empty((64 if record else 0, width))
    problem = grid_problem(t_eval, t0, t1)
    if problem != GRID_OK:
        return (
            BAD_GRID, problem, 0, 0, t0, math.nan, y_out, 0, steps[:0], events.count,
            events.t_at, events.y_at,
        )  # fmt: skip
    direction = 1.0 if t1 >= t0 else -1.0
    opt = Options(t0, t1, rtol, atol, first_step, max_step, direction)
    w = new_work(n)
    st = np.empty(N_STATE)
    st[S_STATUS] = NOT_STARTED
    while True:
        out = Output(t_eval, y_out, steps, record, dense)
        status = integrate(rhs, ev, p, args, y0, opt, w, events, out, st, stop)
        if status != NEED_ROOM:
            break
        used = int(st[S_NREC])
        if record and used >= steps.shape[0]:
            if used >= max_rows:
                status = RECORD_FULL
                break
            steps = grown_rows(steps, min(2 * steps.shape[0], max_rows), used)
        if events.count.shape[0] > 0 and events.t_at.shape[1] <= np.max(events.count):
            events = grown_events(events, 2 * events.t_at.shape[1])
    return (
        status,
        int(st[S_NFEV]),
        int(st[S_NACCEPT]),
        int(st[S_NREJECT]),
        st[S_T],
        st[S_T_BAD],
        y_out,
        int(st[S_NGRID]),
        steps[: int(st[S_NREC])],
        events.count,
        events.t_at,
        events.y_at,
    )


@compiled_for(NAME, cache=True, error_model="numpy")
def member_block(
    rhs, ev, P, args, opt, Y0, t_eval, ev_dir, ev_max, lo, hi, Y, stats, t_bad, ev_n, ev_t, ev_y,
    stop,
):  # fmt: skip
    """Members ``lo:hi`` of a batch with one set of work arrays (a member's set-up is a
    few stores, not five allocations). Called, not inlined: inlined into the ``prange``
    body, the 10,000-member ensemble ran 5 to 10% slower. ``ev_dir`` None (no events) is a
    compile-time switch: the event code is then not compiled (see :func:`_stepper.integrate`).
    """
    n = Y0.shape[1]
    w = new_work(n)
    st = np.empty(N_STATE)
    if ev_dir is None:
        for i in range(lo, hi):
            out = Output(t_eval, Y[i], w.Q[:0], False, False)
            st[S_STATUS] = NOT_STARTED
            status = integrate(rhs, ev, P[i], args, Y0[i], opt, w, None, out, st, stop)
            member_done(i, status, st, Y, stats, t_bad)
    else:
        e = ev_dir.shape[0]
        scratch = np.empty((3, e))
        order = np.empty(e, dtype=np.int64)
        for i in range(lo, hi):
            out = Output(t_eval, Y[i], w.Q[:0], False, False)
            st[S_STATUS] = NOT_STARTED
            events = Events(
                ev_dir, ev_max, scratch[0], scratch[1], ev_n[i], order, scratch[2], ev_t[i],
                ev_y[i], False,
            )  # fmt: skip
            status = integrate(rhs, ev, P[i], args, Y0[i], opt, w, events, out, st, stop)
            member_done(i, status, st, Y, stats, t_bad)


@compiled_for(NAME, cache=True, error_model="numpy", _nrt=False, inline="always")
def member_done(i, status, st, Y, stats, t_bad):
    """Member ``i``'s statistics, and NaN where its outputs were not reached."""
    fill_unreached(Y[i], int(st[S_NGRID]))
    stats[i, STATUS] = status
    stats[i, NFEV] = int(st[S_NFEV])
    stats[i, NACCEPT] = int(st[S_NACCEPT])
    stats[i, NREJECT] = int(st[S_NREJECT])
    t_bad[i] = st[S_T_BAD]


@compiled_for(NAME, cache=True, error_model="numpy", nogil=True)
def batch_cpu(
    rhs, ev, P, args, opt, Y0, t_eval, ev_dir, ev_max, lo, hi, Y, stats, t_bad, ev_n, ev_t, ev_y,
    stop,
):  # fmt: skip
    """Members ``lo:hi`` of a batch on one core."""
    member_block(
        rhs, ev, P, args, opt, Y0, t_eval, ev_dir, ev_max, lo, hi, Y, stats, t_bad, ev_n, ev_t,
        ev_y, stop,
    )  # fmt: skip


@compiled_for(NAME, cache=True, error_model="numpy", parallel=True, nogil=True)
def batch_parallel(
    rhs, ev, P, args, opt, Y0, t_eval, ev_dir, ev_max, lo, hi, Y, stats, t_bad, ev_n, ev_t, ev_y,
    stop,
):  # fmt: skip
    """Members ``lo:hi`` of a batch spread over the cores, in blocks of ``BLOCK`` members."""
    blocks = -(-(hi - lo) // BLOCK)
    for b in prange(blocks):
        start = lo + b * BLOCK
        member_block(
            rhs, ev, P, args, opt, Y0, t_eval, ev_dir, ev_max, start, min(hi, start + BLOCK), Y,
            stats, t_bad, ev_n, ev_t, ev_y, stop,
        )  # fmt: skip


@jit
def eval_segments(ts, hs, ys, Qs, t, seg, out):
    """Dense output at the times ``t`` (k,) on the segments ``seg`` (k,) into ``out`` (n, k)."""
    for j in range(t.shape[0]):
        s = seg[j]
        x = (t[j] - ts[s]) / hs[s]
        for i in range(ys.shape[1]):
            out[i, j] = dense_at(dense_row(Qs[s], hs[s], ys[s], i), x)
