"""``workbench.integrate.solve_ivp`` against ``scipy.integrate.solve_ivp(method="RK45")``.

The contract: given the same compiled right-hand side, the same evaluations, accepted and
rejected steps, step times within 1e-7 x |t1 - t0| and y within 1e-7 relative. scipy reports
no step counts, so :class:`CountingRK45` counts its accepted and rejected step attempts.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.integrate as si
import scipy.linalg as sl
from hypothesis import example, given, settings
from hypothesis import strategies as st
from numba import njit
from scipy_counting import counting

from workbench.experiments import arm as exp
from workbench.integrate import _shared, _sums, solve_ivp
from workbench.models import arm as model

#: Our step sums reproduce numpy's BLAS on this machine: then parity is bit for bit.
EXACT = _sums.ORDER != "plain"

# A few module-level right-hand sides, reused across tests: each new function costs a compile.


@njit
def decay(t, y):
    return -0.5 * y


OSC = np.array([[0.0, 1.0], [-1.0, -0.2]])  # eigenvalues -0.1 +- i sqrt(0.99)


@njit
def oscillator(t, y):
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


#: scipy's RK45 counting its accepted and rejected step attempts.
CountingRK45 = counting(si.RK45)


def scipy_counts(fun, t_span, y0, **kw):
    """scipy's result and its accepted and rejected steps."""
    ref = si.solve_ivp(fun, t_span, y0, method=CountingRK45, **kw)
    solver = CountingRK45.last
    return ref, solver.n_accepted, solver.n_rejected


def assert_parity(ours, ref, accepted, rejected, t_span, exact=False):
    """Counts equal; t and y within 1e-7, or (``exact``) bit for bit: where our step sums
    reproduce numpy's BLAS (``_sums.ORDER``) the steps are scipy's to the last bit."""
    assert ours.status == ref.status
    assert ours.success == ref.success
    assert ours.message == ref.message
    assert ours.nfev == ref.nfev
    assert ours.naccept == accepted
    assert ours.nreject == rejected
    ref_t, ref_y = np.asarray(ref.t, dtype=float), np.asarray(ref.y, dtype=float)
    assert ours.t.shape == ref_t.shape
    assert ours.y.size == ref_y.size
    if ref_t.size == 0:
        return
    if exact and EXACT:
        np.testing.assert_array_equal(ours.t, ref_t)
        np.testing.assert_array_equal(ours.y, ref_y.reshape(ours.y.shape))
    np.testing.assert_allclose(ours.t, ref_t, rtol=0, atol=1e-7 * abs(t_span[1] - t_span[0]))
    scale = np.abs(ref_y).max()
    np.testing.assert_allclose(ours.y, ref_y, rtol=1e-7, atol=1e-7 * scale)


def solve_both(fun, t_span, y0, **kw):
    ref, accepted, rejected = scipy_counts(fun, t_span, y0, **kw)
    ours = solve_ivp(fun, t_span, y0, **kw)
    # at t_eval the values come from the interpolant, whose sums are not BLAS-ordered
    assert_parity(ours, ref, accepted, rejected, t_span, exact=kw.get("t_eval") is None)
    return ours, ref


# --- parity and closed forms --------------------------------------------------------------------

PROBLEMS = {
    "exponential decay": (
        decay,
        (0.0, 10.0),
        [1.0, 2.0],
        lambda t: np.exp(-0.5 * t) * np.array([[1.0], [2.0]]),
    ),
    "damped oscillator": (
        oscillator,
        (0.0, 20.0),
        [1.0, 0.0],
        lambda t: np.column_stack([sl.expm(OSC * ti) @ [1.0, 0.0] for ti in t]),
    ),
    "rational": (rational, (0.0, 5.0), [1.0], lambda t: (1.0 / (1.0 + t**2))[None, :]),
}


@pytest.mark.parametrize("rtol", [1e-3, 1e-6, 1e-9])
@pytest.mark.parametrize("problem", PROBLEMS)
def test_parity_and_closed_form(problem, rtol):
    fun, t_span, y0, exact = PROBLEMS[problem]
    ours, _ = solve_both(fun, t_span, y0, rtol=rtol, atol=rtol * 1e-3)
    assert ours.status == 0
    # t_eval=None: the output is the step times, from t0 to exactly t1
    assert ours.t.size == ours.naccept + 1
    assert ours.t[0] == t_span[0] and ours.t[-1] == t_span[1]
    np.testing.assert_array_equal(ours.y[:, 0], y0)
    # The global error of these problems stays within a few rtol of the solution's scale.
    truth = exact(ours.t)
    assert np.abs(ours.y - truth).max() <= 10 * rtol * np.abs(truth).max()


CASES = {
    "backward": (oscillator, (10.0, 0.0), [0.3, -0.4], {"rtol": 1e-6}),
    "backward t_eval": (decay, (4.0, -1.0), [1.0, 3.0], {"t_eval": np.linspace(4, -1, 9)}),
    "backward t_eval inside": (
        oscillator,
        (3.0, -2.0),
        [0.5, 0.5],
        {"t_eval": [2.5, 0.0, -1.75], "rtol": 1e-7, "atol": 1e-10},
    ),
    "vector atol": (oscillator, (0.0, 5.0), [1.0, 0.0], {"atol": [1e-8, 1e-3]}),
    "vector atol tight": (
        oscillator,
        (0.0, 5.0),
        [1.0, 0.0],
        {"rtol": 1e-8, "atol": np.array([1e-12, 1e-6])},
    ),
    "first_step": (oscillator, (0.0, 5.0), [1.0, 0.0], {"first_step": 0.01}),
    "first_step too big": (oscillator, (0.0, 5.0), [1.0, 0.0], {"first_step": 4.0}),
    "first_step backward": (decay, (2.0, 0.0), [1.0, 2.0], {"first_step": 1e-4, "rtol": 1e-6}),
    "max_step": (oscillator, (0.0, 5.0), [1.0, 0.0], {"max_step": 0.05}),
    "max_step backward": (rational, (3.0, 0.0), [0.1], {"max_step": 0.3, "rtol": 1e-5}),
    "t_eval with ends": (oscillator, (0.0, 5.0), [1.0, 0.0], {"t_eval": np.linspace(0, 5, 17)}),
    "t_eval inside": (rational, (0.0, 3.0), [1.0], {"t_eval": [0.5, 1.25, 2.0]}),
    "t_eval dense": (
        oscillator,
        (0.0, 5.0),
        [1.0, 0.0],
        {"t_eval": np.linspace(0, 5, 401), "rtol": 1e-9, "atol": 1e-12},
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_parity_with_scipy(case):
    fun, t_span, y0, kw = CASES[case]
    ours, _ = solve_both(fun, t_span, y0, **kw)
    assert ours.status == 0
    if "t_eval" in kw:  # exactly the requested times, all of them reached
        np.testing.assert_array_equal(ours.t, np.asarray(kw["t_eval"], dtype=float))
    if "max_step" in kw:
        # h = t_new - t is max_step up to the rounding of t + h
        assert np.abs(np.diff(ours.t)).max() <= kw["max_step"] * (1 + 1e-12)
    if kw.get("first_step") == 0.01:  # accepted as given
        assert ours.t[1] == 0.01


def test_t_eval_at_both_ends_gives_y0_exactly_and_the_end_state():
    t_eval = np.linspace(0.0, 5.0, 6)
    ours = solve_ivp(oscillator, (0.0, 5.0), [1.0, 0.0], t_eval=t_eval, rtol=1e-8)
    steps = solve_ivp(oscillator, (0.0, 5.0), [1.0, 0.0], rtol=1e-8)
    np.testing.assert_array_equal(ours.y[:, 0], [1.0, 0.0])
    # t1 is the last step's end: dense output there reproduces the step's state
    np.testing.assert_allclose(ours.y[:, -1], steps.y[:, -1], rtol=1e-13, atol=1e-15)
    assert (ours.nfev, ours.naccept, ours.nreject) == (steps.nfev, steps.naccept, steps.nreject)


def test_args_and_plain_python_function():
    def plain(t, y, k, shift):  # not jitted: the API compiles it
        return -k * (y - shift)

    kw = dict(args=(0.7, 0.25), rtol=1e-7, atol=1e-9)
    ref, accepted, rejected = scipy_counts(decay_k, (0, 3), [1.0], **kw)
    for fun in (decay_k, plain):
        ours = solve_ivp(fun, (0, 3), [1.0], **kw)
        assert_parity(ours, ref, accepted, rejected, (0, 3))
    # the arguments reach the function: the closed form with k = 0.7, shift = 0.25
    exact = 0.25 + 0.75 * np.exp(-0.7 * ours.t)
    np.testing.assert_allclose(ours.y[0], exact, rtol=1e-6)
    # other values reach the same compiled function
    other = solve_ivp(decay_k, (0, 3), [1.0], args=(2.0, -1.0), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(other.y[0], -1.0 + 2.0 * np.exp(-2.0 * other.t), rtol=1e-6)


def test_plain_python_function_is_compiled_once():
    """Solving twice with the same plain Python function should reuse its compiled form.

    ``workbench._numba.as_dispatcher`` wraps a plain function in a new ``njit`` dispatcher on
    every call, so every ``solve_ivp`` call compiles a new C-callback wrapper (and, for
    arguments that are not floats or 1-D float64 arrays, a whole new kernel, seconds each), and
    the wrapper cache grows by one entry per call.
    """
    from workbench.integrate import _callback

    def plain(t, y, k):
        return -k * y

    first = solve_ivp(plain, (0.0, 1.0), [1.0], args=(0.5,))
    cached = len(_callback._wrappers)
    second = solve_ivp(plain, (0.0, 1.0), [1.0], args=(0.5,))
    np.testing.assert_array_equal(first.y, second.y)
    assert len(_callback._wrappers) == cached, "the same plain function was compiled again"


@njit
def scaled(t, y, k, weights):
    return -k * weights * y


def test_float_and_array_args_go_through_the_cached_kernel(monkeypatch):
    """With float and 1-D float64 arguments, the user's function is wrapped as a C callback
    and the cached kernel runs; other arguments (an int here) take the dispatcher path. Both
    give scipy's numbers."""
    from workbench.integrate._kernels import KERNELS

    twins = {}
    monkeypatch.setattr(KERNELS["RK45"], "_dynamic", twins)
    w = np.array([1.0, 0.5])
    kw = dict(rtol=1e-8)
    solve_both(scaled, (0, 2), [1.0, 1.0], args=(1.5, w), **kw)
    assert twins == {}  # no kernel was specialised on the dispatcher
    ours_int, _ = solve_both(scaled, (0, 2), [1.0, 1.0], args=(2, w), **kw)
    assert "solve" in twins
    exact = np.exp(-2 * w[:, None] * ours_int.t)
    np.testing.assert_allclose(ours_int.y, exact, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "torque",
    [
        {"kind": "chirp", "interpolation": "cubic"},
        {"kind": "sines", "interpolation": "linear"},  # the bundled arm's: a kink per sample
        {"kind": "step", "interpolation": "linear"},
    ],
)
def test_arm_compiled_rhs_matches_scipy_on_the_same_function(torque):
    # A linear table has a kink at every sample, which puts accept/reject decisions near the
    # threshold: only sums rounded as numpy's keep scipy's nfev there (212 vs 218 at rtol
    # 1e-6 on the bundled arm, before).
    cfg = exp.ArmConfig.model_validate({"torque": torque})
    p, torque = cfg.arm.vector(), exp.packed_torque(cfg)
    y0 = exp.initial_state(cfg.initial.q_deg, cfg.initial.qdot_deg_s)

    def reference(t, y):
        return model.arm_rhs_out(t, y, p, torque)

    for rtol, t_eval in ((1e-3, None), (1e-6, np.linspace(0, 1, 101)), (1e-6, None), (1e-9, None)):
        kw = dict(rtol=rtol, atol=rtol * 1e-3, t_eval=t_eval)
        ref, accepted, rejected = scipy_counts(reference, (0, 1), y0, **kw)
        ours = solve_ivp(model.ARM_RHS, (0, 1), y0, args=(p, torque), **kw)
        assert_parity(ours, ref, accepted, rejected, (0, 1), exact=t_eval is None)
        assert ours.status == 0


# --- dense output -------------------------------------------------------------------------------


@pytest.mark.parametrize("t_span", [(0.0, 10.0), (10.0, 0.0)])
def test_dense_output_matches_scipy(t_span):
    kw = dict(rtol=1e-6, atol=1e-9, dense_output=True)
    ref = si.solve_ivp(oscillator, t_span, [1.0, 0.0], **kw)
    ours = solve_ivp(oscillator, t_span, [1.0, 0.0], **kw)
    np.testing.assert_allclose(ours.t, ref.t, rtol=0, atol=1e-6)
    scale = np.abs(ref.y).max()

    def close(a, b):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-7 * scale)

    # interior points, every step boundary (the earlier step is used, as scipy does), the ends
    # and a few points just beyond them (both extrapolate from the end steps), unsorted
    rng = np.random.default_rng(0)
    times = np.concatenate([rng.uniform(-0.5, 10.5, 200), ref.t, [0.0, 10.0]])
    rng.shuffle(times)
    got = ours.sol(times)
    assert got.shape == (2, times.size)
    close(got, ref.sol(times))
    for t in (3.3, ref.t[0], ref.t[1], ref.t[len(ref.t) // 2], ref.t[-1]):
        assert ours.sol(t).shape == (2,)
        close(ours.sol(t), ref.sol(t))
    # at its own step times the interpolant reproduces the steps
    np.testing.assert_allclose(ours.sol(ours.t), ours.y, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(ours.sol(t_span[0]), [1.0, 0.0])


def test_dense_output_together_with_t_eval():
    t_eval = np.linspace(0, 6, 7)
    kw = dict(rtol=1e-6, atol=1e-9, dense_output=True, t_eval=t_eval)
    ref = si.solve_ivp(oscillator, (0, 6), [1.0, 0.0], **kw)
    ours = solve_ivp(oscillator, (0, 6), [1.0, 0.0], **kw)
    np.testing.assert_array_equal(ours.t, t_eval)
    np.testing.assert_allclose(ours.y, ref.y, rtol=1e-7, atol=1e-7)
    times = np.linspace(0, 6, 61)
    np.testing.assert_allclose(ours.sol(times), ref.sol(times), rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(ours.sol(t_eval), ours.y, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("t_span", [(0.0, 6.0), (6.0, -1.0)])
def test_every_interpolation_path_gives_the_same_bits(t_span):
    """t_eval alone (the scalar-returning kernel), t_eval with dense output (the step-table
    kernel) and the dense solution evaluate one interpolant with the same arithmetic."""
    t_eval = np.linspace(*t_span, 101)
    kw = dict(rtol=1e-6, atol=1e-9, t_eval=t_eval)
    plain = solve_ivp(oscillator, t_span, [1.0, 0.0], **kw)
    dense = solve_ivp(oscillator, t_span, [1.0, 0.0], dense_output=True, **kw)
    np.testing.assert_array_equal(plain.y, dense.y)
    np.testing.assert_array_equal(dense.sol(t_eval), dense.y)
    assert plain.nfev == dense.nfev > 50


# --- argument errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y0": [[1.0, 2.0]]}, r"`y0` must be 1-D, shape \(n,\), got shape \(1, 2\)"),
        ({"y0": [[1.0], [2.0]]}, r"`y0` must be 1-D, shape \(n,\), got shape \(2, 1\)"),
        ({"y0": []}, "`y0` must not be empty"),
        ({"y0": [1.0, np.nan]}, "`y0` must be finite"),
        ({"y0": [1.0, np.inf]}, "`y0` must be finite"),
        ({"t_eval": [0.5, 11.0]}, r"`t_eval` must lie within `t_span` \[0.0, 10.0\]"),
        ({"t_eval": [-0.5, 1.0]}, r"`t_eval` must lie within `t_span` \[0.0, 10.0\]"),
        ({"t_eval": [1.0, np.nan]}, r"`t_eval` must lie within `t_span`"),
        ({"t_eval": [2.0, 1.0]}, "must be strictly increasing"),
        ({"t_eval": [1.0, 1.0]}, "must be strictly increasing"),
        (
            {"t_span": (10.0, 0.0), "t_eval": [1.0, 2.0]},
            r"must be strictly decreasing \(the direction of integration\)",
        ),
        ({"t_eval": [[1.0]]}, "`t_eval` must be 1-dimensional"),
        ({"t_eval": np.ones((2, 2))}, r"`t_eval` must be 1-dimensional, got shape \(2, 2\)"),
        ({"atol": -1.0}, "`atol` must be finite and >= 0"),
        ({"atol": [1e-6, -1e-6]}, "`atol` must be finite and >= 0"),
        ({"atol": [1e-6, 1e-6, 1e-6]}, r"`atol` must be a scalar or have shape \(2,\)"),
        ({"atol": [[1e-6, 1e-6]]}, r"`atol` must be a scalar or have shape \(2,\)"),
        ({"rtol": 0.0}, "`rtol` must be a finite number > 0"),
        ({"rtol": -1e-3}, "`rtol` must be a finite number > 0"),
        ({"rtol": np.nan}, "`rtol` must be a finite number > 0"),
        ({"first_step": 0.0}, "`first_step` must be positive"),
        ({"first_step": -0.1}, "`first_step` must be positive"),
        ({"first_step": 20.0}, "`first_step` exceeds bounds"),
        ({"t_span": (10.0, 0.0), "first_step": 10.5}, "`first_step` exceeds bounds"),
        ({"max_step": 0.0}, "`max_step` must be positive"),
        ({"max_step": -1.0}, "`max_step` must be positive"),
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
        ref, accepted, rejected = scipy_counts(decay, (0, 1), [1.0], rtol=1e-20, atol=1e-20)
    assert_parity(ours, ref, accepted, rejected, (0, 1))
    assert ours.status == 0
    # solved at rtol = 100 eps: the closed form to near machine precision
    np.testing.assert_allclose(ours.y[0], np.exp(-0.5 * ours.t), rtol=1e-12)


# --- failures -----------------------------------------------------------------------------------


def test_nan_at_the_first_evaluation_fails_with_the_time():
    # scipy loops forever here (its initial step becomes NaN), so it is not called
    ours = solve_ivp(nan_after_half, (0.75, 2.0), [1.0])
    assert ours.status == -1 and not ours.success
    assert ours.message == "The right-hand side returned NaN or infinity at t = 0.75."
    assert ours.nfev == 1 and ours.naccept == 0
    np.testing.assert_array_equal(ours.t, [0.75])
    np.testing.assert_array_equal(ours.y, [[1.0]])


def test_nan_at_the_initial_step_probe_fails_with_its_time():
    # f(0.5) is finite; scipy's initial-step probe at t0 + h0 is not. With y0 = 1 and f0 = -1,
    # d0 == d1 in scipy's select_initial_step, so h0 = 0.01 * d0 / d1 = 0.01.
    ours = solve_ivp(nan_after_half, (0.5, 2.0), [1.0])
    assert ours.status == -1 and not ours.success
    assert ours.message == f"The right-hand side returned NaN or infinity at t = {0.5 + 0.01!r}."
    assert ours.nfev == 2


class _Stop(Exception):
    pass


def test_nan_mid_integration_fails_with_the_time():
    """scipy would reject NaN steps and creep towards t = 0.5; we stop at the first NaN.

    Up to that evaluation both make the same calls: step scipy's solver until it first
    evaluates past t = 0.5, and compare the accepted steps, the counts and the time.
    """
    times = []

    def recording(t, y):
        times.append(t)
        if t > 0.5:
            raise _Stop
        return nan_after_half(t, y)

    kw = dict(rtol=1e-5, atol=1e-8)
    solver = CountingRK45(recording, 0.0, np.array([1.0]), 2.0, **kw)
    ts, ys = [0.0], [np.array([1.0])]
    with pytest.raises(_Stop):
        while True:
            solver.step()
            ts.append(solver.t)
            ys.append(solver.y.copy())

    ours = solve_ivp(nan_after_half, (0.0, 2.0), [1.0], **kw)
    assert ours.status == -1 and not ours.success
    prefix = "The right-hand side returned NaN or infinity at t = "
    assert ours.message.startswith(prefix) and ours.message.endswith(".")
    t_bad = float(ours.message[len(prefix) : -1])
    # the same stage of the same step; its time agrees as the step times do
    assert t_bad > 0.5 and times[-1] > 0.5
    assert t_bad == pytest.approx(times[-1], rel=0, abs=1e-7 * 2.0)
    assert ours.nfev == len(times)
    assert ours.naccept == len(ts) - 1 == solver.n_accepted
    assert ours.nreject == solver.n_rejected
    np.testing.assert_allclose(ours.t, ts, rtol=0, atol=1e-7 * 2.0)
    np.testing.assert_allclose(ours.y, np.column_stack(ys), rtol=1e-7)
    assert ours.t[-1] <= 0.5  # the output stops at the last good step
    np.testing.assert_allclose(ours.y[0], np.exp(-ours.t), rtol=1e-4)


def test_nan_mid_integration_with_t_eval_keeps_the_samples_reached():
    t_eval = np.linspace(0.0, 1.0, 11)
    ours = solve_ivp(nan_after_half, (0.0, 1.0), [1.0], t_eval=t_eval, rtol=1e-6, atol=1e-9)
    steps = solve_ivp(nan_after_half, (0.0, 1.0), [1.0], rtol=1e-6, atol=1e-9)
    assert ours.status == -1 and ours.message == steps.message
    reached = t_eval[t_eval <= steps.t[-1]]
    np.testing.assert_array_equal(ours.t, reached)
    np.testing.assert_allclose(ours.y[0], np.exp(-reached), rtol=1e-5)


def test_step_size_underflow_is_scipy_status_and_message():
    ref, accepted, rejected = scipy_counts(blow_up, (0, 2), [1.0])
    ours = solve_ivp(blow_up, (0, 2), [1.0])
    assert ours.status == ref.status == -1 and not ours.success
    assert ours.message == ref.message == "Required step size is less than spacing between numbers."
    assert (ours.nfev, ours.naccept, ours.nreject) == (ref.nfev, accepted, rejected)
    np.testing.assert_allclose(ours.t, ref.t, rtol=0, atol=1e-7 * 2)
    assert 0.9999 < ours.t[-1] < 1.0  # y = 1 / (1 - t) blows up at t = 1
    # Near the pole round-off in t is amplified by y: a relative difference of 1e-16 in
    # 1 - t becomes 5% of y at y = 1e14. Compare y where it is still well-conditioned.
    sane = ref.y[0] < 1e8
    assert sane.sum() > 30
    np.testing.assert_allclose(ours.y[0, sane], ref.y[0, sane], rtol=1e-7)
    np.testing.assert_allclose(ours.y[0, :10], 1 / (1 - ours.t[:10]), rtol=1e-2)


def test_failure_before_the_first_step_with_t_eval_returns_no_samples_like_scipy():
    # At t = 1e6 the spacing of floats (1.2e-10) exceeds the time to blow-up (1e-10): the very
    # first step is too small. scipy returns no samples, not even the one at t0.
    ours, ref = solve_both(blow_up, (1e6, 1e6 + 1), [1e10], t_eval=[1e6, 1e6 + 0.5])
    assert ours.status == -1 and ours.t.size == 0 and ours.y.shape == (1, 0)


def test_empty_interval():
    ref = si.solve_ivp(decay, (1.0, 1.0), [2.0], t_eval=[1.0])
    ours = solve_ivp(decay, (1.0, 1.0), [2.0], t_eval=[1.0])
    assert ours.status == ref.status == 0 and ours.success
    assert ours.message == ref.message
    assert ours.nfev == ref.nfev == 1
    # scipy returns no sample here; the state at the one requested time is y0
    np.testing.assert_array_equal(ours.y, [[2.0]])

    ref = si.solve_ivp(decay, (1.0, 1.0), [2.0], dense_output=True)
    ours = solve_ivp(decay, (1.0, 1.0), [2.0], dense_output=True)
    assert ours.status == ref.status == 0
    assert ours.nfev == ref.nfev == 1 and ours.naccept == 0 and ours.nreject == 0
    # scipy lists t0 twice (its zero-length "step"); we list it once
    np.testing.assert_array_equal(ours.t, [1.0])
    np.testing.assert_array_equal(ours.y, [[2.0]])
    np.testing.assert_array_equal(ours.sol(1.0), ref.sol(1.0))
    np.testing.assert_array_equal(ours.sol([1.0, 1.0]), [[2.0, 2.0]])


# --- the minimum step ---------------------------------------------------------------------------

DBL_MAX = float(np.finfo(float).max)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.floats(allow_nan=False, allow_infinity=False, width=64),
        st.integers(-1074, 1023).map(lambda e: math.ldexp(1.0, e)),
        st.integers(-1074, 1023).map(lambda e: -math.ldexp(1.0, e)),
        st.floats(-1e-300, 1e-300, allow_nan=False),  # subnormals and tiny normals
        st.just(0.0),
    ),
    st.sampled_from([1.0, -1.0]),
)
@example(0.0, 1.0)
@example(-0.0, -1.0)
@example(5e-324, -1.0)
@example(-5e-324, 1.0)
@example(2.0**-1022, -1.0)  # the smallest normal: below it the spacing stays 2^-1074
@example(-(2.0**-1022), 1.0)
@example(1.0, -1.0)  # below a power of two the spacing halves
@example(-1.0, 1.0)
@example(DBL_MAX, 1.0)  # the next float is infinity
@example(-DBL_MAX, -1.0)
@example(DBL_MAX, -1.0)
@example(1e300, 1.0)
def test_min_step_matches_nextafter(t, direction):
    with np.errstate(over="ignore"):  # next to the largest float, the step is infinite
        expected = 10 * abs(np.nextafter(t, direction * np.inf) - t)
    assert _shared.min_step(t, direction) == expected


def test_a_step_record_that_would_fill_the_memory_ends_with_a_status(monkeypatch):
    from workbench._numba.interrupt import time_limit

    @njit
    def decay(t, y):
        return -y

    # the bound is a quarter of the machine's memory; here 100,000 rows of (t, h, nfev, y1, y2).
    # Patched where solve_ivp reads it (another test may have re-imported the package), and
    # under a time limit, so that a bound that does not hold fails instead of filling memory
    monkeypatch.setitem(solve_ivp.__globals__, "RECORD_BYTES", 8 * 5 * 100_000)
    with time_limit(60):
        res = solve_ivp(decay, (0, 1), np.ones(2), max_step=1e-300)
    assert res.status == -1 and not res.success
    assert "would exceed a quarter of this machine's memory; pass t_eval" in res.message
    assert res.t.size == 100_000 and res.t[-1] < 1e-290
    np.testing.assert_allclose(res.y[:, -1], np.exp(-res.t[-1]), rtol=1e-12)
    # a solve within the bound is untouched
    res = solve_ivp(decay, (0, 1), np.ones(2), max_step=1e-4)
    assert res.status == 0 and res.t.size == res.naccept + 1 > 10_000


def test_the_result_is_also_a_mapping_with_scipys_keys():
    """scipy's OdeResult is a dict whose keys are attributes; code written for it indexes it."""

    def decay(t, y):
        return -y

    ref = si.solve_ivp(decay, (0, 1), [1.0, 2.0], events=lambda t, y: y[0] - 0.5)
    ours = solve_ivp(decay, (0, 1), [1.0, 2.0], events=lambda t, y: y[0] - 0.5)
    assert set(ref.keys()) <= set(ours.keys())
    assert set(ours) - set(ref) == {"naccept", "nreject"}
    for key in ("nfev", "njev", "nlu", "status", "message", "success"):
        assert ours[key] == ref[key], key
    np.testing.assert_array_equal(ours["t"], ref["t"])
    np.testing.assert_allclose(ours["y"], ref["y"], rtol=1e-13)
    np.testing.assert_allclose(ours["t_events"][0], ref["t_events"][0], rtol=1e-13)
    assert ours["y"] is ours.y and dict(ours)["sol"] is None and "sol" in ours
    with pytest.raises(KeyError):
        ours["x"]
