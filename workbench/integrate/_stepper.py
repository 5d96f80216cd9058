"""One explicit Runge-Kutta method's step and driver loop: a template, compiled once per method.

These functions mirror scipy's ``RungeKutta`` (``scipy/integrate/_ivp/rk.py``, ``common.py``)
and ``solve_ivp``'s loop (``ivp.py``) operation for operation: the same initial step, error
norms, step-factor rules, dense output and event location, so that step counts agree with
scipy's. Nothing here allocates (work arrays come in a :class:`._records.Work`), so the same
source runs on CPU cores and, compiled by numba-cuda, in one GPU thread per trajectory.

The method is the module global ``TABLEAU``. :func:`._kernels.instantiate` runs this file once
per method as its own module (``workbench.integrate._stepper_<NAME>``) with ``TABLEAU`` set
first, so each method's functions see its coefficients as compile-time constants (zero terms
vanish, the loops over stages unroll, the other method's branches are pruned), and Numba
caches each instance apart (the cache files are named after the module). Imported by itself,
the module is the RK45 instance.

``rhs`` (and the combined event function ``ev``) is a C callback's address or a dispatcher
(see :mod:`._rhs`): ``rhs(t, y, dydt, p, *args)`` writes dy/dt, ``ev(t, y, g, p, *args)``
writes every event's value into ``g``.

:func:`integrate` is resumable: it keeps its scalars in ``st`` (the ``S_*`` slots of
:mod:`._records`) and its vectors in the work arrays, and returns ``NEED_ROOM`` when the step
record or an event list is full, so that an allocating caller can grow them and call it again.
"""

from __future__ import annotations

import math

from .._numba import compiled_for
from .._numba.interrupt import interrupted
from ._methods import DOP853_DENSE, RK45, TWO_ESTIMATORS, Tableau
from ._records import (
    FINISHED,
    INTERRUPTED,
    NEED_ROOM,
    NONFINITE_RHS,
    NOT_STARTED,
    RUNNING,
    S_H_ABS,
    S_NACCEPT,
    S_NFEV,
    S_NGRID,
    S_NREC,
    S_NREJECT,
    S_STATUS,
    S_T,
    S_T_BAD,
    STEP_TOO_SMALL,
    STEP_Y,
    TERMINATED,
)
from ._rhs import call_rhs
from ._shared import all_finite, emit_start, events_full, find_active, min_step, rms_scaled
from ._sums import add_square, gemv_row

#: The method this instance is compiled for (set before the module runs; see above).
TABLEAU: Tableau = globals().get("TABLEAU", RK45.tableau)
NAME: str = globals().get("NAME", RK45.name)

# Module constants, which Numba freezes into the compiled code.
A = TABLEAU.A
B = TABLEAU.B
C = TABLEAU.C
E = TABLEAU.E
E3 = TABLEAU.E3
P = TABLEAU.P
N_STAGES = TABLEAU.n_stages
N_ROWS = TABLEAU.n_rows
N_DENSE = TABLEAU.n_dense
ERROR_EXPONENT = TABLEAU.error_exponent
ERROR_ESTIMATOR_ORDER = TABLEAU.error_estimator_order
ERROR_KIND = TABLEAU.error_kind
DENSE_KIND = TABLEAU.dense_kind

# Step-size control (scipy.integrate._ivp.rk).
SAFETY = 0.9
MIN_FACTOR = 0.2
MAX_FACTOR = 10.0

#: brentq's default iteration limit (scipy.optimize.brentq) and its tolerances' unit.
BRENTQ_MAXITER = 100
EPS = 2.220446049250313e-16

# Everything here runs without Numba's reference counting: with it, every array argument is
# incref'd atomically on each call, and these functions are called several times per step (a
# third of a step's time, the right-hand side aside). A right-hand side that allocates is
# called through an NRT-enabled trampoline (``_rhs.with_nrt``).
leaf = compiled_for(NAME, cache=True, error_model="numpy", _nrt=False)
inl = compiled_for(NAME, cache=True, error_model="numpy", _nrt=False, inline="always")


@leaf
def initial_step(rhs, p, args, t0, y0, f0, opt, y1, f1):
    """scipy's ``select_initial_step`` (Hairer, Norsett & Wanner, Sec. II.4).

    Uses ``y1`` and ``f1`` as scratch; costs one evaluation of ``rhs``. Returns the step and
    whether that evaluation was finite.
    """
    interval_length = abs(opt.t1 - t0)
    if interval_length == 0.0:
        return 0.0, True
    d0 = rms_scaled(y0, y0, opt.rtol, opt.atol)
    d1 = rms_scaled(f0, y0, opt.rtol, opt.atol)
    if d0 < 1e-5 or d1 < 1e-5:
        h0 = 1e-6
    else:
        h0 = 0.01 * d0 / d1
    h0 = min(h0, interval_length)
    for i in range(y0.shape[0]):
        y1[i] = y0[i] + h0 * opt.direction * f0[i]
    call_rhs(rhs, t0 + h0 * opt.direction, y1, f1, p, args)
    if not all_finite(f1):
        return h0, False
    for i in range(y0.shape[0]):
        f1[i] = f1[i] - f0[i]
    d2 = rms_scaled(f1, y0, opt.rtol, opt.atol) / h0
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / (ERROR_ESTIMATOR_ORDER + 1))
    return min(100 * h0, h1, interval_length, opt.max_step), True


@inl
def stage(rhs, p, args, t, y, h, K, s, tmp):
    """Stage ``s``: ``K[s] = f(t + C[s] h, y + h K[:s].T @ A[s, :s])``; returns its time."""
    n = y.shape[0]
    for i in range(n):
        tmp[i] = y[i] + gemv_row(K, A[s], s, i, n) * h
    ts = t + C[s] * h
    call_rhs(rhs, ts, tmp, K[s], p, args)
    return ts


@leaf
def rk_step(rhs, p, args, t, y, h, K, y_new, tmp):
    """One step of size ``h`` from ``(t, y)`` with ``K[0] = f(t, y)`` (scipy's ``rk_step``).

    Fills ``K[1 : n_stages + 1]`` and ``y_new``; ``K[n_stages]`` ends as ``f(t + h, y_new)``
    (FSAL). Returns (evaluations made, time of a non-finite evaluation or NaN).
    """
    n = y.shape[0]
    for s in range(1, N_STAGES):
        ts = stage(rhs, p, args, t, y, h, K, s, tmp)
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
    """The step's error norm, scaled by the tolerances: ``rms(h K.T @ E / scale)``, or for
    DOP853 ``|h| |e5|^2 / sqrt((|e5|^2 + |e3|^2 / 100) n)`` (scipy's
    ``_estimate_error_norm``)."""
    n = y.shape[0]
    rows = N_STAGES + 1
    if ERROR_KIND == TWO_ESTIMATORS:
        acc5 = 0.0
        acc3 = 0.0
        for i in range(n):
            scale = atol[i] + max(abs(y[i]), abs(y_new[i])) * rtol
            acc5 = add_square(acc5, gemv_row(K, E, rows, i, n) / scale)
            acc3 = add_square(acc3, gemv_row(K, E3, rows, i, n) / scale)
        norm5 = math.sqrt(acc5)  # np.linalg.norm(err5) ** 2: the root, then its square
        norm3 = math.sqrt(acc3)
        e5 = norm5 * norm5
        e3 = norm3 * norm3
        if e5 == 0.0 and e3 == 0.0:
            return 0.0
        denom = e5 + 0.01 * e3
        return abs(h) * e5 / math.sqrt(denom * n)
    acc = 0.0
    for i in range(n):
        e = gemv_row(K, E, rows, i, n)
        scale = atol[i] + max(abs(y[i]), abs(y_new[i])) * rtol
        acc = add_square(acc, e * h / scale)
    return math.sqrt(acc) / math.sqrt(n)


@leaf
def advance(rhs, p, args, t, h_abs, opt, w):
    """Take one accepted step from ``(t, w.y)``, retrying with smaller steps on rejection.

    scipy's ``RungeKutta._step_impl``. Returns (status, t_new, next h_abs, evaluations,
    rejections, time of a non-finite evaluation). On success ``w.y_new`` and ``w.K`` hold the
    step.
    """
    direction = opt.direction
    step_floor = min_step(t, direction)
    if h_abs > opt.max_step:
        h_abs = opt.max_step
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
        if direction * (t_new - opt.t1) > 0:
            t_new = opt.t1
        h = t_new - t
        h_abs = abs(h)
        nev, t_bad = rk_step(rhs, p, args, t, w.y, h, w.K, w.y_new, w.tmp)
        nfev += nev
        if not math.isnan(t_bad):
            return NONFINITE_RHS, t, h_abs, nfev, nreject, t_bad
        err = error_norm(w.K, h, w.y, w.y_new, opt.rtol, opt.atol)
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


@inl
def dense_coefficients(rhs, p, args, t, h, w):
    """The dense output of the step ``t -> t + h`` just taken, into ``w.Q`` (n, n_dense).

    For the power-series interpolants ``Q = K.T @ P``; for DOP853 the three extra stages
    (three evaluations of ``rhs``, counted in ``nfev`` as scipy counts them) and the rows of
    its ``F``. Returns the number of evaluations.
    """
    K = w.K
    Q = w.Q
    n = w.y.shape[0]
    if DENSE_KIND == DOP853_DENSE:
        for s in range(N_STAGES + 1, N_ROWS):
            stage(rhs, p, args, t, w.y, h, K, s, w.tmp)
        for i in range(n):
            dy = w.y_new[i] - w.y[i]
            Q[i, 0] = dy
            Q[i, 1] = h * K[0, i] - dy
            Q[i, 2] = 2 * dy - h * (K[N_STAGES, i] + K[0, i])
            for r in range(P.shape[0]):
                acc = 0.0
                for j in range(N_ROWS):
                    if P[r, j] != 0.0:
                        acc += P[r, j] * K[j, i]
                Q[i, 3 + r] = h * acc
        return N_ROWS - N_STAGES - 1
    for i in range(n):
        for k in range(N_DENSE):
            acc = 0.0
            for j in range(N_STAGES + 1):
                if P[j, k] != 0.0:  # P is a constant: its zero terms compile away
                    acc += K[j, i] * P[j, k]
            Q[i, k] = acc
    return 0


@inl
def dense_row(Q, h, y_old, i):
    """State ``i``'s interpolant on the step: its coefficients, with ``h`` folded in, and
    ``y_old[i]``, as an 8-tuple (held in registers while it is evaluated at many times)."""
    if DENSE_KIND == DOP853_DENSE:  # F's rows as they are
        return Q[i, 0], Q[i, 1], Q[i, 2], Q[i, 3], Q[i, 4], Q[i, 5], Q[i, 6], y_old[i]
    c3 = Q[i, 3] * h if N_DENSE > 3 else 0.0
    return Q[i, 0] * h, Q[i, 1] * h, Q[i, 2] * h, c3, 0.0, 0.0, 0.0, y_old[i]


@inl
def dense_at(c, x):
    """The interpolant with coefficients ``c`` (:func:`dense_row`) at ``x = (t - t_old) / h``.

    Power series: scipy evaluates ``y_old + h * (Q @ [x, x^2, ...])``; Horner's form here
    needs half the operations and differs in the last bits only. DOP853: scipy's own sequence
    of operations (factors ``x`` and ``1 - x`` in turn, from the highest row down).
    """
    if DENSE_KIND == DOP853_DENSE:
        acc = c[6] * x
        acc = (acc + c[5]) * (1.0 - x)
        acc = (acc + c[4]) * x
        acc = (acc + c[3]) * (1.0 - x)
        acc = (acc + c[2]) * x
        acc = (acc + c[1]) * (1.0 - x)
        acc = (acc + c[0]) * x
        return acc + c[7]
    if N_DENSE == 4:
        return c[7] + x * (c[0] + x * (c[1] + x * (c[2] + x * c[3])))
    return c[7] + x * (c[0] + x * (c[1] + x * c[2]))


@leaf
def dense_eval(t_old, h, y_old, Q, t, out):
    """The step's interpolant at time ``t``, written into ``out`` (n,)."""
    x = (t - t_old) / h
    for i in range(y_old.shape[0]):
        out[i] = dense_at(dense_row(Q, h, y_old, i), x)


@inl
def emit_grid(t, h, t_upto, w, out, j):
    """Write the output times ``t_eval[j:]`` up to ``t_upto`` (in the direction of
    integration) by the dense output of the step ``t -> t + h`` into ``out.y`` (n, k), as
    ``solve_ivp`` does; returns the next ``j``. ``w.Q`` must hold the step's coefficients."""
    t_eval = out.t_eval
    k = t_eval.shape[0]
    j0 = j
    if h > 0:
        while j < k and t_eval[j] <= t_upto:
            j += 1
    else:
        while j < k and t_eval[j] >= t_upto:
            j += 1
    if j == j0:
        return j
    # Row by row, so that the loops over the output times vectorise (state by state per time,
    # every store to y could alias Q and t_eval, and they were reloaded: twice the time). Row
    # 0 holds the scaled times meanwhile, and is written last. The loops index views from 0:
    # an index that may be negative gets Numba's wraparound, which stops vectorisation. A
    # division, as scipy: x * (1/h) is not exact.
    times = t_eval[j0:j]
    xs = out.y[0, j0:j]
    for r in range(times.shape[0]):
        xs[r] = (times[r] - t) / h
    for i in range(w.y.shape[0] - 1, -1, -1):
        c = dense_row(w.Q, h, w.y, i)
        row = out.y[i, j0:j]
        for r in range(xs.shape[0]):
            row[r] = dense_at(c, xs[r])
    return j


@leaf
def event_at(ev, p, args, k, t, t_old, h, w, events):
    """Event ``k`` at time ``t`` on the step's dense output (state in ``w.tmp``)."""
    dense_eval(t_old, h, w.y, w.Q, t, w.tmp)
    call_rhs(ev, t, w.tmp, events.g_new, p, args)
    return events.g_new[k]


@leaf
def event_root(ev, p, args, k, t_old, t_new, h, w, events):
    """The root of event ``k`` in ``[t_old, t_new]`` on the dense output, by scipy's
    ``brentq(..., xtol=4 eps, rtol=4 eps)`` (Brent's method as scipy's ``brentq.c``
    implements it). Uses ``events.g_new`` as scratch."""
    xtol = 4 * EPS
    rtol = 4 * EPS
    xpre = t_old
    xcur = t_new
    fpre = event_at(ev, p, args, k, xpre, t_old, h, w, events)
    fcur = event_at(ev, p, args, k, xcur, t_old, h, w, events)
    if fpre == 0.0:
        return xpre
    if fcur == 0.0:
        return xcur
    if (fpre < 0.0) == (fcur < 0.0):
        # The interpolant does not change sign where the step's ends did (scipy's brentq
        # raises here): the end with the smaller value is the best estimate there is.
        return xpre if abs(fpre) < abs(fcur) else xcur
    xblk = 0.0
    fblk = 0.0
    spre = 0.0
    scur = 0.0
    for _ in range(BRENTQ_MAXITER):
        if fpre != 0.0 and fcur != 0.0 and ((fpre < 0.0) != (fcur < 0.0)):
            xblk = xpre
            fblk = fpre
            spre = scur = xcur - xpre
        if abs(fblk) < abs(fcur):
            xpre = xcur
            xcur = xblk
            xblk = xpre
            fpre = fcur
            fcur = fblk
            fblk = fpre
        delta = (xtol + rtol * abs(xcur)) / 2
        sbis = (xblk - xcur) / 2
        if fcur == 0.0 or abs(sbis) < delta:
            return xcur
        if abs(spre) > delta and abs(fcur) < abs(fpre):
            if xpre == xblk:
                stry = -fcur * (xcur - xpre) / (fcur - fpre)  # secant
            else:
                dpre = (fpre - fcur) / (xpre - xcur)  # inverse quadratic
                dblk = (fblk - fcur) / (xblk - xcur)
                stry = -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre))
            if 2 * abs(stry) < min(abs(spre), 3 * abs(sbis) - delta):
                spre = scur
                scur = stry
            else:
                spre = sbis
                scur = sbis
        else:
            spre = sbis
            scur = sbis
        xpre = xcur
        fpre = fcur
        if abs(scur) > delta:
            xcur += scur
        else:
            xcur += delta if sbis > 0 else -delta
        fcur = event_at(ev, p, args, k, xcur, t_old, h, w, events)
    return xcur


@leaf
def handle_events(ev, p, args, t_old, t_new, h, w, events, active):
    """scipy's ``handle_events`` for the step's ``active`` events (``events.order[:active]``,
    their counts already raised): roots into ``events.roots``; when one of them is terminal,
    the active events sorted by root in the direction of time and cut after the first
    terminal one. Returns (how many occurred, whether the solve terminates)."""
    for a in range(active):
        events.roots[a] = event_root(ev, p, args, events.order[a], t_old, t_new, h, w, events)
    terminal = False
    for a in range(active):
        k = events.order[a]
        if events.count[k] >= events.max_events[k]:
            terminal = True
    if not terminal:
        return active, False
    forward = t_new > t_old
    for a in range(1, active):  # insertion sort: stable, and a handful of events at most
        r = events.roots[a]
        k = events.order[a]
        b = a - 1
        while b >= 0 and ((events.roots[b] > r) if forward else (events.roots[b] < r)):
            events.roots[b + 1] = events.roots[b]
            events.order[b + 1] = events.order[b]
            b -= 1
        events.roots[b + 1] = r
        events.order[b + 1] = k
    for a in range(active):
        k = events.order[a]
        if events.count[k] >= events.max_events[k]:
            return a + 1, True
    return active, True


@leaf
def occurred_events(ev, p, args, t, t_new, h, w, events, active):
    """The step's ``active`` events (``events.order[:active]``) occurred: count them, find
    their roots on the dense output, keep the occurrences there is room for. Returns
    (whether the solve terminates, the time it stops at: the last root, or ``t_new``)."""
    for a in range(active):
        events.count[events.order[a]] += 1
    occurred, terminate = handle_events(ev, p, args, t, t_new, h, w, events, active)
    for a in range(occurred, active):  # after the terminal one: they did not happen
        events.count[events.order[a]] -= 1
    for a in range(occurred):
        k = events.order[a]
        root = events.roots[a]
        slot = events.count[k] - 1
        if slot < events.t_at.shape[1]:
            events.t_at[k, slot] = root
            dense_eval(t, h, w.y, w.Q, root, events.y_at[k, slot])
    if terminate:
        return True, events.roots[occurred - 1]
    return False, t_new


@inl
def begin(rhs, p, args, y0, opt, w, out, st):
    """Evaluate ``f(t0, y0)`` into ``K[0]``, choose the first step (scipy's constructor) and
    record the first point."""
    for i in range(y0.shape[0]):
        w.y[i] = y0[i]
    t0 = opt.t0
    st[S_T] = t0
    st[S_NACCEPT] = 0.0
    st[S_NREJECT] = 0.0
    st[S_NGRID] = 0.0
    st[S_T_BAD] = math.nan
    st[S_NFEV] = 1.0
    call_rhs(rhs, t0, w.y, w.K[0], p, args)
    if out.record:
        out.steps[0, 0] = t0
        out.steps[0, 2] = 1.0
        for i in range(y0.shape[0]):
            out.steps[0, STEP_Y + i] = w.y[i]
        st[S_NREC] = 1.0
    if not all_finite(w.K[0]):
        st[S_T_BAD] = t0
        return NONFINITE_RHS
    if opt.t1 == t0:
        st[S_H_ABS] = 0.0
        st[S_NGRID] = emit_start(t0, w.y, out)
        return FINISHED
    if opt.first_step > 0.0:
        st[S_H_ABS] = opt.first_step
        return RUNNING
    h_abs, ok = initial_step(rhs, p, args, t0, w.y, w.K[0], opt, w.tmp, w.K[1])
    st[S_NFEV] = 2.0
    st[S_H_ABS] = h_abs
    if not ok:
        st[S_T_BAD] = t0 + h_abs * opt.direction
        return NONFINITE_RHS
    return RUNNING


@leaf
def integrate(rhs, ev, p, args, y0, opt, w, events, out, st, stop):
    """Integrate one trajectory, or go on with it: scipy's ``solve_ivp`` loop.

    Starts when ``st[S_STATUS]`` is ``NOT_STARTED``, else continues from ``st`` and the work
    arrays. Writes the values at ``out.t_eval`` (and with ``out.record`` every step, with
    ``out.dense`` their dense output), finds events on the dense output, and returns the
    status (also in ``st[S_STATUS]``), with the counts in ``st``. ``events`` is an
    :class:`._records.Events` or None: Numba prunes the branches on a None argument, so
    without events their code is not compiled at all (a compile-time switch). ``stop`` is
    polled before every step (see :mod:`workbench._numba.interrupt`; None on the GPU): when
    set, the trajectory ends with status ``INTERRUPTED``.
    """
    if st[S_STATUS] == NOT_STARTED:
        status = begin(rhs, p, args, y0, opt, w, out, st)
        if events is not None:  # the events at the start (when f(t0, y0) was finite)
            if events.g.shape[0] > 0 and (status != NONFINITE_RHS or st[S_NFEV] > 1.0):
                call_rhs(ev, opt.t0, w.y, events.g, p, args)
                for k in range(events.g.shape[0]):
                    events.count[k] = 0
    else:
        status = RUNNING
    n = w.y.shape[0]
    n_events = 0
    if events is not None:
        n_events = events.g.shape[0]
    t = st[S_T]
    h_abs = st[S_H_ABS]
    nfev = int(st[S_NFEV])
    naccept = int(st[S_NACCEPT])
    nreject = int(st[S_NREJECT])
    j = int(st[S_NGRID])
    nrec = int(st[S_NREC])
    t_bad = st[S_T_BAD]
    nq = w.Q.shape[1]
    n_grid = out.t_eval.shape[0]
    while status == RUNNING:
        if interrupted(stop):
            status = INTERRUPTED
            break
        if out.record and nrec >= out.steps.shape[0]:
            status = NEED_ROOM
            break
        if events is not None:
            if events_full(events):
                status = NEED_ROOM
                break
        status, t_new, h_abs, nev, nrej, t_bad = advance(rhs, p, args, t, h_abs, opt, w)
        nfev += nev
        nreject += nrej
        if status != RUNNING:
            break
        naccept += 1
        h = t_new - t
        active = 0
        if events is not None:
            if n_events > 0:
                call_rhs(ev, t_new, w.y_new, events.g_new, p, args)
                active = find_active(events)
                for k in range(n_events):  # g_new is scratch while finding roots
                    events.g[k] = events.g_new[k]
        grid_hit = j < n_grid and opt.direction * (out.t_eval[j] - t_new) <= 0
        if out.dense or active > 0 or grid_hit:  # as scipy, which makes it only when used
            nfev += dense_coefficients(rhs, p, args, t, h, w)
        t_upto = t_new
        if events is not None:
            if active > 0:
                terminate, t_upto = occurred_events(ev, p, args, t, t_new, h, w, events, active)
                if terminate:
                    status = TERMINATED
        if grid_hit:
            j = emit_grid(t, h, t_upto, w, out, j)
        if out.record:
            row = out.steps[nrec]
            if out.dense:
                prev = out.steps[nrec - 1]
                prev[1] = h
                for i in range(n):
                    for c in range(nq):
                        prev[STEP_Y + n + i * nq + c] = w.Q[i, c]
            if status == TERMINATED:
                dense_eval(t, h, w.y, w.Q, t_upto, w.tmp)
                row[0] = t_upto
                for i in range(n):
                    row[STEP_Y + i] = w.tmp[i]
            else:
                row[0] = t_new
                for i in range(n):
                    row[STEP_Y + i] = w.y_new[i]
            row[2] = nfev
            nrec += 1
        if status == TERMINATED:
            dense_eval(t, h, w.y, w.Q, t_upto, w.tmp)
            for i in range(n):
                w.y[i] = w.tmp[i]
            t = t_upto
            break
        for i in range(n):  # the accepted step is the current state; FSAL
            w.y[i] = w.y_new[i]
            w.K[0, i] = w.K[N_STAGES, i]
        t = t_new
        if opt.direction * (t - opt.t1) >= 0:
            status = FINISHED
    st[S_STATUS] = status
    st[S_T] = t
    st[S_H_ABS] = h_abs
    st[S_NFEV] = nfev
    st[S_NACCEPT] = naccept
    st[S_NREJECT] = nreject
    st[S_NGRID] = j
    st[S_NREC] = nrec
    st[S_T_BAD] = t_bad
    return status
