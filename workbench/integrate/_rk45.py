"""Dormand-Prince RK45 stepping, written once for every target.

These functions mirror scipy's ``RK45`` (``scipy/integrate/_ivp/rk.py`` and ``common.py``)
operation for operation: the same initial step selection, RMS error norm, step-factor rules
and dense output, so that step counts agree with scipy's. They never allocate (work arrays
are passed in), so the same source runs on CPU cores and, compiled by numba-cuda, in one GPU
thread per trajectory. ``rhs`` is either a C callback's address or a dispatcher
(see :mod:`._rhs`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._rhs import call_rhs
from ._sums import add_square, gemv_row
from ._tableau import (
    ERROR_ESTIMATOR_ORDER,
    ERROR_EXPONENT,
    MAX_FACTOR,
    MIN_FACTOR,
    N_STAGES,
    SAFETY,
    A,
    B,
    C,
    E,
    P,
)

jit = njit(cache=True, error_model="numpy")
# Everything below the allocating entry point runs without Numba's reference counting: with
# it, every array argument is incref'd atomically on each call, and these functions are called
# several times per step (a third of a step's time, the right-hand side aside). A right-hand
# side that allocates is called through an NRT-enabled trampoline (``_rhs.with_nrt``).
leaf = njit(cache=True, error_model="numpy", _nrt=False)
inl = njit(cache=True, error_model="numpy", _nrt=False, inline="always")

#: Internal status codes; the Python layer turns them into scipy's status and messages.
RUNNING = 1
FINISHED = 0
STEP_TOO_SMALL = -1
NONFINITE_RHS = -2
BAD_GRID = -3  # solve_one only: t_eval rejected before integrating

#: What :func:`grid_problem` finds wrong with output times.
GRID_OK = 0
GRID_OUTSIDE_SPAN = 1
GRID_OUT_OF_ORDER = 2


@inl
def all_finite(x):
    for i in range(x.shape[0]):
        if not math.isfinite(x[i]):
            return False
    return True


@leaf
def grid_problem(t_eval, t0, t1):
    """Whether the output times lie in ``[t0, t1]`` (NaN does not) and are strictly monotone in
    the direction of integration: GRID_OK, GRID_OUTSIDE_SPAN or GRID_OUT_OF_ORDER."""
    lo = min(t0, t1)
    hi = max(t0, t1)
    direction = 1.0 if t1 >= t0 else -1.0
    for i in range(t_eval.shape[0]):
        if not (lo <= t_eval[i] <= hi):
            return GRID_OUTSIDE_SPAN
        if i > 0 and direction * (t_eval[i] - t_eval[i - 1]) <= 0:
            return GRID_OUT_OF_ORDER
    return GRID_OK


@leaf
def min_step(t, direction):
    """``10 * |nextafter(t, direction * inf) - t|`` without np.nextafter (not on the GPU)."""
    if t == 0.0:
        return 10.0 * 5e-324
    if abs(t) == 1.7976931348623157e308 and (t > 0.0) == (direction > 0.0):
        return math.inf  # the next float is infinity
    m, e = math.frexp(t)  # t = m * 2**e with 0.5 <= |m| < 1
    spacing = math.ldexp(1.0, e - 53)
    if abs(m) == 0.5 and (t > 0.0) != (direction > 0.0):
        spacing *= 0.5  # below a power of two the spacing halves
    return 10.0 * max(spacing, 5e-324)


@leaf
def rms_scaled(x, y, rtol, atol):
    """scipy's ``norm(x / (atol + |y| * rtol))``: the RMS of the scaled vector."""
    acc = 0.0
    for i in range(x.shape[0]):
        r = x[i] / (atol[i] + abs(y[i]) * rtol)
        acc = add_square(acc, r)
    return math.sqrt(acc) / math.sqrt(x.shape[0])


@leaf
def initial_step(rhs, p, args, t0, y0, f0, t_bound, max_step, direction, rtol, atol, y1, f1):
    """scipy's ``select_initial_step`` (Hairer, Norsett & Wanner, Sec. II.4).

    Uses ``y1`` and ``f1`` as scratch; costs one evaluation of ``rhs``. Returns the step and
    whether that evaluation was finite.
    """
    interval_length = abs(t_bound - t0)
    if interval_length == 0.0:
        return 0.0, True
    d0 = rms_scaled(y0, y0, rtol, atol)
    d1 = rms_scaled(f0, y0, rtol, atol)
    if d0 < 1e-5 or d1 < 1e-5:
        h0 = 1e-6
    else:
        h0 = 0.01 * d0 / d1
    h0 = min(h0, interval_length)
    for i in range(y0.shape[0]):
        y1[i] = y0[i] + h0 * direction * f0[i]
    call_rhs(rhs, t0 + h0 * direction, y1, f1, p, args)
    if not all_finite(f1):
        return h0, False
    for i in range(y0.shape[0]):
        f1[i] = f1[i] - f0[i]
    d2 = rms_scaled(f1, y0, rtol, atol) / h0
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / (ERROR_ESTIMATOR_ORDER + 1))
    return min(100 * h0, h1, interval_length, max_step), True


@leaf
def rk_step(rhs, p, args, t, y, h, K, y_new, tmp):
    """One Dormand-Prince step of size ``h`` from ``(t, y)`` with ``K[0] = f(t, y)``.

    Fills ``K[1:]`` and ``y_new``; ``K[N_STAGES]`` ends as ``f(t + h, y_new)`` (FSAL). Returns
    (evaluations made, time of a non-finite evaluation or NaN when all were finite).
    """
    n = y.shape[0]
    for s in range(1, N_STAGES):
        for i in range(n):
            tmp[i] = y[i] + gemv_row(K, A[s], s, i, n) * h
        ts = t + C[s] * h
        call_rhs(rhs, ts, tmp, K[s], p, args)
        if not all_finite(K[s]):
            return s, ts
    for i in range(n):
        y_new[i] = y[i] + h * gemv_row(K, B, N_STAGES, i, n)
    call_rhs(rhs, t + h, y_new, K[N_STAGES], p, args)
    if not all_finite(K[N_STAGES]):
        return N_STAGES, t + h
    return N_STAGES, math.nan


@inl
def error_norm(K, h, y, y_new, rtol, atol):
    """RMS of the embedded error estimate ``h * K.T @ E``, scaled by the tolerances."""
    acc = 0.0
    n = y.shape[0]
    for i in range(n):
        e = gemv_row(K, E, N_STAGES + 1, i, n)
        scale = atol[i] + max(abs(y[i]), abs(y_new[i])) * rtol
        r = e * h / scale
        acc = add_square(acc, r)
    return math.sqrt(acc) / math.sqrt(y.shape[0])


@leaf
def advance(rhs, p, args, t, y, h_abs, t_bound, direction, rtol, atol, max_step, K, y_new, tmp):
    """Take one accepted step from ``(t, y)``, retrying with smaller steps on rejection.

    scipy's ``RungeKutta._step_impl``. Returns (status, t_new, next h_abs, evaluations,
    rejections, time of a non-finite evaluation). On success ``y_new`` and ``K`` hold the step.
    """
    step_floor = min_step(t, direction)
    if h_abs > max_step:
        h_abs = max_step
    elif h_abs < step_floor:
        h_abs = step_floor
    rejected = False
    nfev = 0
    nreject = 0
    while True:
        if h_abs < step_floor:
            return STEP_TOO_SMALL, t, h_abs, nfev, nreject, math.nan
        h = h_abs * direction
        t_new = t + h
        if direction * (t_new - t_bound) > 0:
            t_new = t_bound
        h = t_new - t
        h_abs = abs(h)
        nev, t_bad = rk_step(rhs, p, args, t, y, h, K, y_new, tmp)
        nfev += nev
        if not math.isnan(t_bad):
            return NONFINITE_RHS, t, h_abs, nfev, nreject, t_bad
        err = error_norm(K, h, y, y_new, rtol, atol)
        if err < 1.0:
            if err == 0.0:
                factor = MAX_FACTOR
            else:
                factor = min(MAX_FACTOR, SAFETY * err**ERROR_EXPONENT)
            if rejected:
                factor = min(1.0, factor)
            return RUNNING, t_new, h_abs * factor, nfev, nreject, math.nan
        h_abs *= max(MIN_FACTOR, SAFETY * err**ERROR_EXPONENT)
        rejected = True
        nreject += 1


@leaf
def dense_coefficients(K, Q):
    """``Q = K.T @ P``: the quartic's coefficients for the step just taken."""
    for i in range(Q.shape[0]):
        for k in range(P.shape[1]):
            acc = 0.0
            for j in range(N_STAGES + 1):
                if P[j, k] != 0.0:  # P is a constant: its zero terms (9 of 28) compile away
                    acc += K[j, i] * P[j, k]
            Q[i, k] = acc


@inl
def dense_row(Q, h, y_old, i):
    """Coefficients of state ``i``'s quartic in ``x = (t - t_old) / h``, with ``h`` folded in.

    scipy evaluates ``y_old + h * (Q @ [x, x^2, x^3, x^4])``; Horner's form here needs half
    the operations and no powers, and differs from it in the last bits only (the steps
    themselves do not depend on the interpolant).
    """
    return Q[i, 0] * h, Q[i, 1] * h, Q[i, 2] * h, Q[i, 3] * h, y_old[i]


@leaf
def dense_eval(t_old, h, y_old, Q, t, out, col):
    """Shampine's interpolant of one step at time ``t`` (scipy's ``RkDenseOutput``), written
    into column ``col`` of ``out`` (n, k), with :func:`emit_grid`'s arithmetic. Indexing the
    column here, not taking a view of it, keeps this cheap enough to call for every time."""
    x = (t - t_old) / h
    for i in range(y_old.shape[0]):
        c1, c2, c3, c4, y_i = dense_row(Q, h, y_old, i)
        out[i, col] = y_i + x * (c1 + x * (c2 + x * (c3 + x * c4)))


@leaf
def start(rhs, p, args, t0, t1, y, first_step, max_step, direction, rtol, atol, K, tmp):
    """Evaluate ``f(t0, y0)`` into ``K[0]`` and choose the first step (scipy's constructor).

    ``first_step <= 0`` selects it automatically. Returns (status, h_abs, evaluations, bad t).
    """
    call_rhs(rhs, t0, y, K[0], p, args)
    if not all_finite(K[0]):
        return NONFINITE_RHS, 0.0, 1, t0
    if first_step > 0.0:
        return RUNNING, first_step, 1, math.nan
    h_abs, ok = initial_step(
        rhs, p, args, t0, y, K[0], t1, max_step, direction, rtol, atol, tmp, K[1]
    )
    if not ok:
        return NONFINITE_RHS, h_abs, 2, t0 + h_abs * direction
    return RUNNING, h_abs, 1 if t1 == t0 else 2, math.nan  # no probe on an empty interval


@leaf
def accept(y, y_new, K):
    """Make the accepted step the current state; its last stage is the next first (FSAL)."""
    for i in range(y.shape[0]):
        y[i] = y_new[i]
        K[0, i] = K[N_STAGES, i]


@leaf
def emit_grid(t, t_new, y, K, Q, t_eval, j, y_out, direction):
    """Write the output times ``t_eval[j:]`` that the step ``t -> t_new`` reached into
    ``y_out`` (n, k) by dense output, as ``solve_ivp`` does; returns the next ``j``."""
    k = t_eval.shape[0]
    j0 = j
    while j < k and direction * (t_eval[j] - t_new) <= 0:
        j += 1
    if j == j0:
        return j
    dense_coefficients(K, Q)
    h = t_new - t
    # Row by row, with the row's coefficients in registers, so that the loops over the output
    # times vectorise (state by state per time, every store to y_out could alias Q, y and
    # t_eval, and they were reloaded: twice the time). Row 0 holds the scaled times meanwhile,
    # and is written last. The loops index views from 0: an index that may be negative gets
    # Numba's wraparound, which stops vectorisation. A division, as scipy: x * (1/h) is not
    # exact.
    times = t_eval[j0:j]
    xs = y_out[0, j0:j]
    for m in range(times.shape[0]):
        xs[m] = (times[m] - t) / h
    for i in range(y.shape[0] - 1, -1, -1):
        c1, c2, c3, c4, y_i = dense_row(Q, h, y, i)
        row = y_out[i, j0:j]
        for m in range(xs.shape[0]):
            x = xs[m]
            row[m] = y_i + x * (c1 + x * (c2 + x * (c3 + x * c4)))
    return j


@leaf
def emit_start(t0, y, t_eval, y_out):
    """On an empty interval only ``t_eval == t0`` can be asked for: the initial state."""
    j = 0
    while j < t_eval.shape[0] and t_eval[j] == t0:
        for i in range(y.shape[0]):
            y_out[i, j] = y[i]
        j += 1
    return j


@leaf
def integrate_to_grid(
    rhs, p, args, t0, t1, y0, t_eval, first_step, rtol, atol, max_step, K, y, y_new, tmp, Q, y_out
):
    """Integrate one trajectory and write it at the times ``t_eval`` into ``y_out`` (n, k).

    ``t_eval`` is sorted in the direction of integration. No allocation (this runs in a GPU
    thread): work arrays ``K`` (7, n), ``y``, ``y_new``, ``tmp`` (n,), ``Q`` (n, 4). Returns
    (status, nfev, naccept, nreject, t reached, time of a non-finite evaluation, number of
    output times written).
    """
    direction = 1.0 if t1 >= t0 else -1.0
    for i in range(y0.shape[0]):
        y[i] = y0[i]
    status, h_abs, nfev, t_bad = start(
        rhs, p, args, t0, t1, y, first_step, max_step, direction, rtol, atol, K, tmp
    )
    t = t0
    naccept = 0
    nreject = 0
    j = 0
    if t0 == t1:
        status = FINISHED
        j = emit_start(t0, y, t_eval, y_out)
    while status == RUNNING:
        status, t_new, h_abs, nev, nrej, t_bad = advance(
            rhs, p, args, t, y, h_abs, t1, direction, rtol, atol, max_step, K, y_new, tmp
        )
        nfev += nev
        nreject += nrej
        if status != RUNNING:
            break
        naccept += 1
        j = emit_grid(t, t_new, y, K, Q, t_eval, j, y_out, direction)
        accept(y, y_new, K)
        t = t_new
        if direction * (t - t1) >= 0:
            status = FINISHED
    return status, nfev, naccept, nreject, t, t_bad, j


@jit
def solve_to_grid(rhs, p, args, t0, t1, y0, t_eval, first_step, rtol, atol, max_step, y_out):
    """One trajectory for ``solve_ivp`` with ``t_eval``, written into ``y_out`` (n, k).

    Returns scalars only: (status, nfev, naccept, nreject, t reached, bad t, outputs
    written). Each array a kernel returns is boxed for Python at a cost of about half a
    microsecond (its dtype is unpickled), a tenth of a short solve: the caller allocates
    ``y_out``. A ``t_eval`` that :func:`grid_problem` rejects returns its code as ``nfev``,
    with status ``BAD_GRID``: checked here, it costs a tenth of a separate call from Python.
    """
    problem = grid_problem(t_eval, t0, t1)
    if problem != GRID_OK:
        return BAD_GRID, problem, 0, 0, t0, math.nan, 0
    n = y0.shape[0]
    vectors = np.empty((N_STAGES + 4, n))  # K, then y, y_new and tmp: one allocation
    Q = np.empty((n, P.shape[1]))
    return integrate_to_grid(
        rhs,
        p,
        args,
        t0,
        t1,
        y0,
        t_eval,
        first_step,
        rtol,
        atol,
        max_step,
        vectors[: N_STAGES + 1],
        vectors[N_STAGES + 1],
        vectors[N_STAGES + 2],
        vectors[N_STAGES + 3],
        Q,
        y_out,
    )


@leaf
def _copy_rows(src, dst, rows):
    for i in range(rows):
        for c in range(src.shape[1]):
            dst[i, c] = src[i, c]


@jit
def solve_one(rhs, p, args, t0, t1, y0, t_eval, first_step, rtol, atol, max_step, record, dense):
    """One trajectory for ``solve_ivp``, in one call from Python.

    Writes the solution at ``t_eval`` (sorted in the direction of integration; may be empty)
    into ``y_out``; with ``record`` (or ``dense``) it also keeps every accepted step: row ``i``
    of ``steps`` holds ``t_i``, ``y_i`` (n) and, with ``dense``, the step ``i -> i+1``'s
    dense-output coefficients ``Q`` (n x 4, row-major). Returns (status, nfev, naccept,
    nreject, t reached, bad t, y_out (n, k), outputs written, steps (s+1, 1 + n + 4n)).
    A ``t_eval`` that :func:`grid_problem` rejects returns its code as ``nfev``, with status
    ``BAD_GRID``: checked here, it costs a tenth of what a separate call from Python costs.
    """
    n = y0.shape[0]
    nq = P.shape[1]
    y_out = np.empty((n, t_eval.shape[0]))
    steps = np.empty((64 if (record or dense) else 1, 1 + n + (n * nq if dense else 0)))
    problem = grid_problem(t_eval, t0, t1)
    if problem != GRID_OK:
        return BAD_GRID, problem, 0, 0, t0, math.nan, y_out, 0, steps[:0]
    K = np.empty((N_STAGES + 1, n))
    y = y0.copy()
    y_new = np.empty(n)
    tmp = np.empty(n)
    Q = np.empty((n, nq))
    keep = record or dense
    width = steps.shape[1]
    steps[0, 0] = t0
    for i in range(n):  # explicit loops: slice assignment costs seconds of compile time
        steps[0, 1 + i] = y[i]
    count = 1
    direction = 1.0 if t1 >= t0 else -1.0
    status, h_abs, nfev, t_bad = start(
        rhs, p, args, t0, t1, y, first_step, max_step, direction, rtol, atol, K, tmp
    )
    t = t0
    naccept = 0
    nreject = 0
    j = 0
    if t0 == t1:
        status = FINISHED
        j = emit_start(t0, y, t_eval, y_out)
    while status == RUNNING:
        status, t_new, h_abs, nev, nrej, t_bad = advance(
            rhs, p, args, t, y, h_abs, t1, direction, rtol, atol, max_step, K, y_new, tmp
        )
        nfev += nev
        nreject += nrej
        if status != RUNNING:
            break
        naccept += 1
        j = emit_grid(t, t_new, y, K, Q, t_eval, j, y_out, direction)
        if keep:
            if count == steps.shape[0]:
                grown = np.empty((2 * count, width))
                _copy_rows(steps, grown, count)
                steps = grown
            if dense:
                dense_coefficients(K, Q)
                for i in range(n):
                    for c in range(nq):
                        steps[count - 1, 1 + n + i * nq + c] = Q[i, c]
            steps[count, 0] = t_new
            for i in range(n):
                steps[count, 1 + i] = y_new[i]
            count += 1
        accept(y, y_new, K)
        t = t_new
        if direction * (t - t1) >= 0:
            status = FINISHED
    return status, nfev, naccept, nreject, t, t_bad, y_out, j, steps[:count]
