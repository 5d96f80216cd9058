"""``workbench.integrate.solve_ivp`` against ``scipy.integrate.solve_ivp(method="RK45")``.

The contract: given the same compiled right-hand side, the same evaluations, accepted and
rejected steps, step times within 1e-7 x |t1 - t0| and y within 1e-7 relative.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.integrate as si
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from workbench.experiments import arm as exp
from workbench.integrate import _rk45, solve_ivp
from workbench.models import arm as model


@njit
def decay(t, y):
    return -0.5 * y


@njit
def oscillator(t, y):  # eigenvalues -0.1 +- i sqrt(0.99)
    return np.array([y[1], -y[0] - 0.2 * y[1]])


@njit
def rational(t, y):  # y(0) = 1 gives y = 1 / (1 + t^2)
    return -2.0 * t * y**2


@njit
def decay_k(t, y, k, shift):
    return -k * (y - shift)


@njit
def nan_after_half(t, y):
    if t > 0.5:
        return np.full(1, np.nan)
    return -y


@njit
def blow_up(t, y):  # y' = y^2, y(0) = 1: y = 1 / (1 - t) blows up at t = 1
    return y**2


def scipy_counts(fun, t_span, y0, **kw):
    """scipy's result plus its accepted and rejected steps (it reports neither)."""
    ref = si.solve_ivp(fun, t_span, y0, method="RK45", dense_output=True, **kw)
    accepted = len(ref.sol.interpolants) if ref.status == 0 else None
    start = 1 if kw.get("first_step") else 2  # f(t0, y0) and the initial-step probe
    rejected = (ref.nfev - start) // 6 - accepted if accepted is not None else None
    return ref, accepted, rejected


def assert_parity(ours, ref, accepted, rejected, t_span):
    assert ours.status == ref.status == 0
    assert ours.nfev == ref.nfev
    assert ours.naccept == accepted
    assert ours.nreject == rejected
    assert ours.t.shape == ref.t.shape
    np.testing.assert_allclose(ours.t, ref.t, rtol=0, atol=1e-7 * abs(t_span[1] - t_span[0]))
    scale = np.abs(ref.y).max()
    np.testing.assert_allclose(ours.y, ref.y, rtol=1e-7, atol=1e-7 * scale)


CASES = {
    "decay": (decay, (0.0, 10.0), [1.0, 2.0], {}),
    "decay tight": (decay, (0.0, 10.0), [1.0, 2.0], {"rtol": 1e-9, "atol": 1e-12}),
    "oscillator": (oscillator, (0.0, 20.0), [1.0, 0.0], {"rtol": 1e-6, "atol": 1e-9}),
    "oscillator loose": (oscillator, (0.0, 20.0), [1.0, 0.0], {"rtol": 1e-3}),
    "rational": (rational, (0.0, 5.0), [1.0], {"rtol": 1e-8, "atol": 1e-10}),
    "backward": (oscillator, (10.0, 0.0), [0.3, -0.4], {"rtol": 1e-6}),
    "vector atol": (oscillator, (0.0, 5.0), [1.0, 0.0], {"atol": [1e-8, 1e-3]}),
    "first_step": (oscillator, (0.0, 5.0), [1.0, 0.0], {"first_step": 0.01}),
    "max_step": (oscillator, (0.0, 5.0), [1.0, 0.0], {"max_step": 0.05}),
    "t_eval": (oscillator, (0.0, 5.0), [1.0, 0.0], {"t_eval": np.linspace(0, 5, 17)}),
    "t_eval backward": (decay, (4.0, -1.0), [1.0, 3.0], {"t_eval": np.linspace(4, -1, 9)}),
    "t_eval inside": (rational, (0.0, 3.0), [1.0], {"t_eval": [0.5, 1.25, 2.0]}),
}


@pytest.mark.parametrize("case", CASES)
def test_parity_with_scipy(case):
    fun, t_span, y0, kw = CASES[case]
    ref, accepted, rejected = scipy_counts(fun, t_span, y0, **kw)
    ours = solve_ivp(fun, t_span, y0, **kw)
    assert_parity(ours, ref, accepted, rejected, t_span)
    assert ours.success and ours.message == ref.message


def test_args_and_plain_python_function():
    def plain(t, y, k, shift):  # not jitted: the API compiles it
        return -k * (y - shift)

    kw = dict(args=(0.7, 0.25), rtol=1e-7, atol=1e-9)
    ref, accepted, rejected = scipy_counts(decay_k, (0, 3), [1.0], **kw)
    for fun in (decay_k, plain):
        ours = solve_ivp(fun, (0, 3), [1.0], **kw)
        assert_parity(ours, ref, accepted, rejected, (0, 3))
    exact = 0.25 + 0.75 * np.exp(-0.7 * ours.t)
    np.testing.assert_allclose(ours.y[0], exact, rtol=1e-6)


def test_closed_form_solutions():
    res = solve_ivp(rational, (0, 5), [1.0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res.y[0], 1 / (1 + res.t**2), rtol=1e-8)
    res = solve_ivp(
        decay, (0, 10), [1.0, 2.0], rtol=1e-10, atol=1e-14, t_eval=np.linspace(0, 10, 11)
    )
    np.testing.assert_allclose(res.y, np.exp(-0.5 * res.t) * np.array([[1.0], [2.0]]), rtol=1e-8)


@pytest.mark.parametrize("t_span", [(0.0, 10.0), (10.0, 0.0)])
def test_dense_output_matches_scipy(t_span):
    kw = dict(rtol=1e-6, atol=1e-9, dense_output=True)
    ref = si.solve_ivp(oscillator, t_span, [1.0, 0.0], **kw)
    ours = solve_ivp(oscillator, t_span, [1.0, 0.0], **kw)
    # interior points, the step boundaries themselves, and a scalar
    times = np.concatenate([np.linspace(0, 10, 101), ref.t[1:-1]])
    scale = np.abs(ref.y).max()
    np.testing.assert_allclose(ours.sol(times), ref.sol(times), rtol=1e-7, atol=1e-7 * scale)
    np.testing.assert_allclose(ours.sol(3.3), ref.sol(3.3), rtol=1e-7, atol=1e-7 * scale)
    assert ours.sol(3.3).shape == (2,)


def test_arm_compiled_rhs_matches_scipy_on_the_same_function():
    # A cubic torque table: a linear one has a kink at every sample, which at tight tolerances
    # puts accept/reject decisions right at the threshold where round-off can flip them.
    cfg = exp.ArmConfig.model_validate({"torque": {"kind": "chirp", "interpolation": "cubic"}})
    p, torque = cfg.arm.vector(), exp.packed_torque(cfg)
    y0 = exp.initial_state(cfg.initial.q_deg, cfg.initial.qdot_deg_s)
    for rtol in (1e-3, 1e-6, 1e-9):
        kw = dict(rtol=rtol, atol=rtol * 1e-3, t_eval=np.linspace(0, 1, 101))
        ref, accepted, rejected = scipy_counts(
            lambda t, y: model.arm_rhs_out(t, y, p, torque), (0, 1), y0, **kw
        )
        ours = solve_ivp(model.ARM_RHS, (0, 1), y0, args=(p, torque), **kw)
        assert_parity(ours, ref, accepted, rejected, (0, 1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y0": [[1.0, 2.0]]}, r"`y0` must be 1-D, shape \(n,\), got shape \(1, 2\)"),
        ({"y0": []}, "`y0` must not be empty"),
        ({"y0": [1.0, np.nan]}, "`y0` must be finite"),
        ({"t_eval": [0.5, 11.0]}, r"`t_eval` must lie within `t_span` \[0.0, 10.0\]"),
        ({"t_eval": [2.0, 1.0]}, "must be strictly increasing"),
        ({"t_eval": [[1.0]]}, "`t_eval` must be 1-dimensional"),
        ({"atol": -1.0}, "`atol` must be finite and >= 0"),
        ({"atol": [1e-6, 1e-6, 1e-6]}, r"`atol` must be a scalar or have shape \(2,\)"),
        ({"rtol": 0.0}, "`rtol` must be a finite number > 0"),
        ({"rtol": np.nan}, "`rtol` must be a finite number > 0"),
        ({"first_step": 0.0}, "`first_step` must be positive"),
        ({"first_step": 20.0}, "`first_step` exceeds bounds"),
        ({"max_step": 0.0}, "`max_step` must be positive"),
        ({"t_span": (0.0, np.inf)}, "`t_span` must be finite"),
    ],
)
def test_argument_errors_say_what_is_accepted(kwargs, message):
    call = {"fun": oscillator, "t_span": (0.0, 10.0), "y0": [1.0, 0.0], **kwargs}
    with pytest.raises(ValueError, match=message):
        solve_ivp(**call)


def test_wrong_output_shape_names_both_shapes():
    @njit
    def column(t, y):
        return np.zeros((2, 1))

    with pytest.raises(ValueError, match=r"returned shape \(2, 1\); expected \(2,\)"):
        solve_ivp(column, (0, 1), [1.0, 0.0])


def test_tiny_rtol_warns_and_clamps_like_scipy():
    with pytest.warns(UserWarning, match="`rtol` is too small"):
        ours = solve_ivp(decay, (0, 1), [1.0], rtol=1e-20, atol=1e-20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = si.solve_ivp(decay, (0, 1), [1.0], rtol=1e-20, atol=1e-20)
    assert ours.nfev == ref.nfev
    np.testing.assert_allclose(ours.y, ref.y, rtol=1e-7)


def test_nan_at_the_first_evaluation_fails_with_the_time():
    # scipy loops forever here; we stop at once
    ours = solve_ivp(nan_after_half, (0.75, 2.0), [1.0])
    assert ours.status == -1 and not ours.success
    assert ours.message == "The right-hand side returned NaN or infinity at t = 0.75."
    assert ours.nfev == 1


def test_nan_mid_integration_fails_with_the_time():
    ours = solve_ivp(nan_after_half, (0.0, 2.0), [1.0])
    assert ours.status == -1
    assert "returned NaN or infinity at t = " in ours.message
    t_bad = float(ours.message.rsplit("= ", 1)[1].rstrip("."))
    assert 0.5 < t_bad <= 2.0
    assert ours.t[-1] <= 0.5 + 1e-12  # the output stops at the last good step


def test_step_size_underflow_is_scipy_status_and_message():
    ref = si.solve_ivp(blow_up, (0, 2), [1.0], method="RK45")
    ours = solve_ivp(blow_up, (0, 2), [1.0])
    assert ours.status == ref.status == -1
    assert ours.message == ref.message == "Required step size is less than spacing between numbers."
    assert ours.nfev == ref.nfev
    np.testing.assert_allclose(ours.t[-1], ref.t[-1], rtol=1e-9)


def test_empty_interval():
    ref = si.solve_ivp(decay, (1.0, 1.0), [2.0], t_eval=[1.0])
    ours = solve_ivp(decay, (1.0, 1.0), [2.0], t_eval=[1.0])
    assert ours.status == ref.status == 0
    assert ours.nfev == ref.nfev == 1
    # scipy returns no sample here; the state at the one requested time is y0
    np.testing.assert_array_equal(ours.y, [[2.0]])


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.floats(allow_nan=False, allow_infinity=False, width=64),
        st.integers(-1070, 1020).map(lambda e: math.ldexp(1.0, e)),
        st.integers(-1070, 1020).map(lambda e: -math.ldexp(1.0, e)),
        st.just(0.0),
    ),
    st.sampled_from([1.0, -1.0]),
)
def test_min_step_matches_nextafter(t, direction):
    with np.errstate(over="ignore"):  # next to the largest float, the step is infinite
        expected = 10 * abs(np.nextafter(t, direction * np.inf) - t)
    assert _rk45.min_step(t, direction) == expected


@njit
def scaled(t, y, k, weights):
    return -k * weights * y


def test_float_and_array_args_go_through_the_cached_kernel(monkeypatch):
    """With float and 1-D float64 arguments, the user's function is wrapped as a C callback
    and the cached kernel runs; other arguments (an int here) take the dispatcher path. Both
    give scipy's numbers."""
    from workbench.integrate import _ivp

    twins = {}
    monkeypatch.setattr(_ivp, "_dynamic_twins", twins)
    w = np.array([1.0, 0.5])
    ref = si.solve_ivp(scaled, (0, 2), [1.0, 1.0], args=(1.5, w), rtol=1e-8)
    ours = solve_ivp(scaled, (0, 2), [1.0, 1.0], args=(1.5, w), rtol=1e-8)
    assert twins == {}  # no kernel was specialised on the dispatcher
    assert ours.nfev == ref.nfev
    np.testing.assert_allclose(ours.y, ref.y, rtol=1e-7)
    ours_int = solve_ivp(scaled, (0, 2), [1.0, 1.0], args=(2, w), rtol=1e-8)
    assert "solve_one" in twins
    ref_int = si.solve_ivp(scaled, (0, 2), [1.0, 1.0], args=(2, w), rtol=1e-8)
    assert ours_int.nfev == ref_int.nfev
    np.testing.assert_allclose(ours_int.y, ref_int.y, rtol=1e-7)
