"""``nbsolve_ivp`` from a user's ``@njit`` loop gives the numbers of a Python loop of
``solve_ivp`` (the same kernels, no Python in between)."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from workbench.integrate import nbsolve_ivp, solve_ivp


@njit
def pendulum(t, y, k):
    return np.array([y[1], -k * np.sin(y[0])])


@njit
def swings_through_zero(t, y, k):
    return y[0]


swings_through_zero.terminal = 2
swings_through_zero.direction = -1.0


@njit
def scan(ks, y0, t_eval):
    """Final angle per stiffness, DOP853 at tight tolerances: a parameter scan."""
    finals = np.empty(ks.shape[0])
    nfevs = np.empty(ks.shape[0], dtype=np.int64)
    for i in range(ks.shape[0]):
        res = nbsolve_ivp(pendulum, 0.0, 5.0, y0, t_eval, (ks[i],), "DOP853", 1e-9, 1e-12)
        finals[i] = res.y[0, -1]
        nfevs[i] = res.nfev
    return finals, nfevs


@njit
def first_crossings(ks, y0):
    """The time of each pendulum's second downward zero crossing (a terminal event)."""
    out = np.empty(ks.shape[0])
    statuses = np.empty(ks.shape[0], dtype=np.int64)
    for i in range(ks.shape[0]):
        res = nbsolve_ivp(
            pendulum, 0.0, 30.0, y0, None, (ks[i],), "RK45", 1e-8, 1e-10,
            (swings_through_zero,),
        )  # fmt: skip
        statuses[i] = res.status
        out[i] = res.t_events[0, res.event_counts[0] - 1]
    return out, statuses


def test_parameter_scan_matches_a_python_loop():
    ks = np.linspace(0.5, 3.0, 7)
    y0 = np.array([1.0, 0.0])
    t_eval = np.linspace(0, 5, 11)
    finals, nfevs = scan(ks, y0, t_eval)
    for i, k in enumerate(ks):
        one = solve_ivp(pendulum, (0, 5), y0, method="DOP853", t_eval=t_eval, args=(k,),
                        rtol=1e-9, atol=1e-12)  # fmt: skip
        assert nfevs[i] == one.nfev
        assert finals[i] == one.y[0, -1]


def test_terminal_events_in_compiled_code():
    ks = np.array([1.0, 2.0, 4.0])
    y0 = np.array([0.5, 0.0])
    times, statuses = first_crossings(ks, y0)
    assert (statuses == 1).all()
    for i, k in enumerate(ks):
        one = solve_ivp(pendulum, (0, 30), y0, events=swings_through_zero, args=(k,),
                        rtol=1e-8, atol=1e-10)  # fmt: skip
        assert one.status == 1
        assert times[i] == one.t_events[0][-1]
    # small swings: a downward crossing every period, the second one 1.25 periods in
    period = 2 * np.pi / np.sqrt(ks)
    np.testing.assert_allclose(times, 1.25 * period, rtol=0.02)


def test_python_call_gives_the_same_result_as_compiled():
    y0 = np.array([1.0, 0.0])
    res = nbsolve_ivp(pendulum, 0.0, 5.0, y0, np.linspace(0, 5, 11), (2.0,), "DOP853", 1e-9, 1e-12)
    finals, nfevs = scan(np.array([2.0]), y0, np.linspace(0, 5, 11))
    assert res.status == 0 and res.nfev == nfevs[0] and res.y[0, -1] == finals[0]


def test_method_must_be_a_constant_known_name():
    @njit
    def bad(y0):
        return nbsolve_ivp(pendulum, 0.0, 1.0, y0, None, (1.0,), "Radau").status

    with pytest.raises(TypingError, match="unknown method 'Radau'"):
        bad(np.array([1.0, 0.0]))
