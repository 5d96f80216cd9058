"""``nbsolve_ivp``: the Runge-Kutta core called from a user's own ``@njit`` code.

A shooting method or a parameter scan calls the solver in a loop; from Python each call costs
a few microseconds of argument checks and boxing. Inside ``@njit`` code there is none of that:
``nbsolve_ivp`` is resolved when the user's function compiles (the method must then be a
constant string, and the events' ``terminal`` and ``direction`` attributes are read then), and
runs the same kernel as :func:`workbench.integrate.solve_ivp`, with the same numbers.

Example::

    from numba import njit
    from workbench.integrate import nbsolve_ivp

    @njit
    def f(t, y, k):
        return -k * y

    @njit
    def scan(ks, y0, t_eval):
        finals = np.empty(ks.shape[0])
        for i in range(ks.shape[0]):
            res = nbsolve_ivp(f, 0.0, 1.0, y0, t_eval, (ks[i],), "DOP853", 1e-8, 1e-10)
            finals[i] = res.y[0, -1]
        return finals
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit, types
from numba.core.errors import TypingError
from numba.extending import overload

from ._events import combined_dispatcher, prepare_events
from ._ivp import RECORD_BYTES, _in_place
from ._kernels import KERNELS
from ._methods import METHODS
from ._records import BAD_GRID, FINISHED, STEP_Y, TERMINATED


class NbResult(NamedTuple):
    """What :func:`nbsolve_ivp` returns (a named tuple, in compiled code and in Python).

    ``status`` is scipy's (0 the end was reached, 1 a terminal event, -1 a failure; -2 for a
    ``t_eval`` outside ``[t0, t1]`` or not in the direction of integration); ``t`` (k,) and
    ``y`` (n, k); with events ``event_counts`` (e,), ``t_events`` (e, c) and ``y_events``
    (e, c, n), where event ``i``'s occurrences are the first ``event_counts[i]`` of row ``i``.
    """

    status: int
    t: np.ndarray
    y: np.ndarray
    nfev: int
    naccept: int
    nreject: int
    t_bad: float
    event_counts: np.ndarray
    t_events: np.ndarray
    y_events: np.ndarray


def nbsolve_ivp(
    fun, t0, t1, y0, t_eval=None, args=(), method="RK45", rtol=1e-3, atol=1e-6, events=None,
    first_step=0.0, max_step=math.inf,
):  # fmt: skip
    """Solve an initial value problem from compiled code (or from Python, for checking).

    Parameters
    ----------
    fun : numba dispatcher
        ``fun(t, y, *args)`` returning dy/dt (n,), an ``@njit`` function.
    t0, t1 : float
        The interval; ``t1 < t0`` integrates backward.
    y0 : ndarray, shape (n,)
        Initial state (float64).
    t_eval : ndarray (k,) or None
        Output times in the direction of integration; None gives the solver's steps.
    args : tuple
        Extra arguments of ``fun`` and the events.
    method : {"RK45", "RK23", "DOP853"}
        A constant string in compiled code.
    rtol : float
    atol : float or ndarray (n,)
    events : tuple of numba dispatchers, or None
        ``event(t, y, *args) -> float``, with scipy's ``terminal`` and ``direction``
        attributes (read when the caller compiles).
    first_step : float
        0 chooses it as scipy does.
    max_step : float

    Returns
    -------
    NbResult

    Notes
    -----
    Arguments are not checked as :func:`solve_ivp` checks them (that is the point): ``y0``
    must be finite, the tolerances positive, ``t_eval`` sorted within ``[t0, t1]`` (else
    status -2).
    """
    from . import solve_ivp

    res = solve_ivp(
        fun, (t0, t1), y0, method=method, t_eval=t_eval, args=args, rtol=rtol, atol=atol,
        events=events, first_step=first_step or None, max_step=max_step,
    )  # fmt: skip
    e = 0 if res.t_events is None else len(res.t_events)
    cap = max([len(t) for t in res.t_events], default=0) if e else 0
    t_ev = np.full((e, cap), np.nan)
    y_ev = np.full((e, cap, len(y0)), np.nan)
    counts = np.zeros(e, dtype=np.int64)
    for i in range(e):
        c = len(res.t_events[i])
        counts[i] = c
        t_ev[i, :c] = res.t_events[i]
        y_ev[i, :c] = res.y_events[i]
    return NbResult(
        res.status, res.t, res.y, res.nfev, res.naccept, res.nreject, math.nan, counts, t_ev, y_ev
    )


def _const_string(value, name):
    if isinstance(value, types.StringLiteral):
        return value.literal_value
    if isinstance(value, types.Omitted):
        return value.value
    raise TypingError(f"nbsolve_ivp: `{name}` must be a constant string in compiled code")


@njit
def _as_vector(atol, n):
    out = np.empty(n)
    for i in range(n):
        out[i] = atol
    return out


@overload(nbsolve_ivp, jit_options={"error_model": "numpy"})
def _nbsolve_ivp(
    fun, t0, t1, y0, t_eval=None, args=(), method="RK45", rtol=1e-3, atol=1e-6, events=None,
    first_step=0.0, max_step=math.inf,
):  # fmt: skip
    if not isinstance(fun, types.Dispatcher):
        raise TypingError("nbsolve_ivp: `fun` must be an @njit function")
    name = _const_string(method, "method")
    if name not in METHODS:
        raise TypingError(f"nbsolve_ivp: unknown method {name!r}; use one of {list(METHODS)}")
    solve = KERNELS[name].dynamic("solve")  # it receives dispatchers: not cached
    rhs = _in_place(fun.dispatcher)
    no_events = events is None or isinstance(events, (types.NoneType, types.Omitted))
    if no_events:
        ev = rhs
        ev_dir = np.empty(0)
        ev_max = np.empty(0)
    else:
        if not isinstance(events, types.BaseTuple) or not all(
            isinstance(e, types.Dispatcher) for e in events
        ):
            raise TypingError("nbsolve_ivp: `events` must be a tuple of @njit functions")
        event_set = prepare_events([e.dispatcher for e in events])
        ev = combined_dispatcher(event_set)
        ev_dir = event_set.direction
        ev_max = event_set.max_events
    record = t_eval is None or isinstance(t_eval, (types.NoneType, types.Omitted))
    scalar_atol = isinstance(atol, (types.Float, types.Integer))
    record_bytes = RECORD_BYTES  # the step record's bound, as solve_ivp's

    def impl(
        fun, t0, t1, y0, t_eval=None, args=(), method="RK45", rtol=1e-3, atol=1e-6, events=None,
        first_step=0.0, max_step=math.inf,
    ):  # fmt: skip
        n = y0.shape[0]
        grid = np.empty(0) if record else np.asarray(t_eval, dtype=np.float64)
        atol_v = _as_vector(atol, n) if scalar_atol else np.asarray(atol, dtype=np.float64)
        dirs = ev_dir.copy()
        maxes = ev_max.copy()
        code, nfev, naccept, nreject, _, t_bad, y_grid, filled, steps, count, t_at, y_at = solve(
            rhs, ev, np.empty(0), args, float(t0), float(t1), y0, grid, float(first_step),
            float(rtol), atol_v, float(max_step), record, False, dirs, maxes, None,
            max(64, record_bytes // (8 * (STEP_Y + n))),
        )  # fmt: skip
        if code == FINISHED:
            status = 0
        elif code == TERMINATED:
            status = 1
        elif code == BAD_GRID:
            status = -2
        else:
            status = -1
        if record:
            t_out = steps[:, 0].copy()
            y_out = np.ascontiguousarray(steps[:, STEP_Y : STEP_Y + n].T)
        else:
            t_out = grid[:filled].copy()
            y_out = np.ascontiguousarray(y_grid[:, :filled])
        return NbResult(status, t_out, y_out, nfev, naccept, nreject, t_bad, count, t_at, y_at)

    return impl
