"""The method-independent parts of the Runge-Kutta core (see :mod:`._stepper`).

Compiled once, not once per method: argument checks, the error norm's RMS, the smallest step,
the events' sign changes.
"""

from __future__ import annotations

import math

from .._numba import inline as inl
from .._numba import leaf
from ._records import GRID_OK, GRID_OUT_OF_ORDER, GRID_OUTSIDE_SPAN
from ._sums import add_square


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
def emit_start(t0, y, out):
    """On an empty interval only ``t_eval == t0`` can be asked for: the initial state."""
    j = 0
    while j < out.t_eval.shape[0] and out.t_eval[j] == t0:
        for i in range(y.shape[0]):
            out.y[i, j] = y[i]
        j += 1
    return j


@leaf
def find_active(events):
    """scipy's ``find_active_events``: indices of the events whose sign change from ``g`` to
    ``g_new`` matches their direction, into ``events.order``; returns how many."""
    count = 0
    for k in range(events.g.shape[0]):
        g0 = events.g[k]
        g1 = events.g_new[k]
        up = g0 <= 0.0 and g1 >= 0.0
        down = g0 >= 0.0 and g1 <= 0.0
        d = events.direction[k]
        if (up and d > 0) or (down and d < 0) or ((up or down) and d == 0):
            events.order[count] = k
            count += 1
    return count


@leaf
def events_full(events):
    """Whether an event list that grows (a single solve's) has no room for one more."""
    if events.grow:
        cap = events.t_at.shape[1]
        for k in range(events.count.shape[0]):
            if events.count[k] >= cap:
                return True
    return False
