"""RK23 and DOP853 against scipy's, and events (all methods) against scipy's ``solve_ivp``.

The contract is RK45's (``test_integrate``): given the same compiled right-hand side, equal
``nfev``, accepted and rejected steps and status, the steps bit for bit where our sums model
numpy's BLAS, values at ``t_eval``, from ``sol`` and at events to rounding.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.integrate as si
from numba import njit
from scipy_counting import counting
from test_batch import assert_member_equals_single
from test_integrate import CASES, EXACT, decay, oscillator, rational

from workbench.integrate import METHODS, solve_ivp, solve_ivp_batch

NEW_METHODS = ("RK23", "DOP853")


COUNTING = {name: counting(getattr(si, name)) for name in ("RK23", "RK45", "DOP853")}


def compare(method, fun, t_span, y0, **kw):
    """Our solve and scipy's with the same method; asserts the counts and the solution."""
    cls = COUNTING[method]
    ref = si.solve_ivp(fun, t_span, y0, method=cls, **kw)
    ours = solve_ivp(fun, t_span, y0, method=method, **kw)
    assert (ours.status, ours.message, ours.success) == (ref.status, ref.message, ref.success)
    assert ours.nfev == ref.nfev
    assert (ours.naccept, ours.nreject) == (cls.last.n_accepted, cls.last.n_rejected)
    assert ours.t.shape == np.shape(ref.t)
    scale = max(np.abs(ref.y).max(), 1.0) if ref.y.size else 1.0
    span = abs(t_span[1] - t_span[0])
    if kw.get("t_eval") is None and EXACT and kw.get("events") is None:
        np.testing.assert_array_equal(ours.t, ref.t)
        np.testing.assert_array_equal(ours.y, ref.y)
    np.testing.assert_allclose(ours.t, ref.t, rtol=0, atol=1e-12 * span)
    np.testing.assert_allclose(ours.y, ref.y, rtol=1e-10, atol=1e-12 * scale)
    return ours, ref


def test_tableaux_are_scipys():
    for name in ("RK23", "RK45"):
        tab, ref = METHODS[name].tableau, getattr(si, name)
        s = ref.n_stages
        np.testing.assert_array_equal(tab.A[:s, : ref.A.shape[1]], ref.A)
        assert not tab.A[:s, ref.A.shape[1] :].any()
        np.testing.assert_array_equal(tab.A[s, :s], ref.B)
        np.testing.assert_array_equal(tab.B, ref.B)
        np.testing.assert_array_equal(tab.C[:s], ref.C)
        np.testing.assert_array_equal(tab.E, ref.E)
        np.testing.assert_array_equal(tab.P, ref.P)
        assert tab.error_estimator_order == ref.error_estimator_order
        assert METHODS[name].order == ref.order
    tab, ref = METHODS["DOP853"].tableau, si.DOP853
    np.testing.assert_array_equal(tab.A[:12, :12], ref.A)
    np.testing.assert_array_equal(tab.A[13:], ref.A_EXTRA)
    np.testing.assert_array_equal(tab.C[:12], ref.C)
    np.testing.assert_array_equal(tab.C[13:], ref.C_EXTRA)
    np.testing.assert_array_equal(tab.B, ref.B)
    np.testing.assert_array_equal(tab.E, ref.E5)
    np.testing.assert_array_equal(tab.E3, ref.E3)
    np.testing.assert_array_equal(tab.P, ref.D)
    assert (tab.n_stages, tab.error_estimator_order) == (ref.n_stages, ref.error_estimator_order)


@pytest.mark.parametrize("method", NEW_METHODS)
@pytest.mark.parametrize("case", CASES)
def test_parity_with_scipy(method, case):
    fun, t_span, y0, kw = CASES[case]
    ours, _ = compare(method, fun, t_span, y0, **kw)
    assert ours.status == 0


@pytest.mark.parametrize("method", NEW_METHODS)
@pytest.mark.parametrize("rtol", [1e-3, 1e-8])
def test_closed_form(method, rtol):
    ours, _ = compare(method, rational, (0.0, 5.0), [1.0], rtol=rtol, atol=rtol * 1e-3)
    truth = 1.0 / (1.0 + ours.t**2)
    assert np.abs(ours.y[0] - truth).max() <= 10 * rtol


@pytest.mark.parametrize("method", ("RK23", "RK45", "DOP853"))
@pytest.mark.parametrize("t_span", [(0.0, 7.0), (7.0, -1.0)])
def test_dense_output_is_scipys_interpolant(method, t_span):
    kw = dict(rtol=1e-6, atol=1e-9, dense_output=True)
    ours, ref = compare(method, oscillator, t_span, [1.0, 0.0], **kw)
    t = np.linspace(*t_span, 301)
    np.testing.assert_allclose(ours.sol(t), ref.sol(t), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(ours.sol(t[5]), ref.sol(t[5]), rtol=1e-12, atol=1e-13)
    # with t_eval too: DOP853 counts its extra stages for the steps that are interpolated
    t_eval = np.linspace(*t_span, 9)
    with_grid, _ = compare(method, oscillator, t_span, [1.0, 0.0], t_eval=t_eval, **kw)
    np.testing.assert_allclose(with_grid.sol(t), ref.sol(t), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("method", ("RK45", "DOP853"))
def test_t_eval_counts_dop853_dense_stages_as_scipy(method):
    """DOP853 spends three evaluations on a step's interpolant, only for steps with output
    times in them: a sparse t_eval costs fewer than a dense one, and both match scipy."""
    kw = dict(rtol=1e-8, atol=1e-10)
    sparse, _ = compare(method, oscillator, (0, 10), [1.0, 0.0], t_eval=[5.0], **kw)
    dense, _ = compare(
        method, oscillator, (0, 10), [1.0, 0.0], t_eval=np.linspace(0, 10, 500), **kw
    )
    assert (dense.naccept, dense.nreject) == (sparse.naccept, sparse.nreject)
    if method == "DOP853":  # three more evaluations for every step but the one with t = 5
        assert dense.nfev - sparse.nfev == 3 * (dense.naccept - 1)
    else:
        assert dense.nfev == sparse.nfev


@njit
def decay_k(t, y, k, shift):
    return -k * (y - shift)


@pytest.mark.parametrize("method", NEW_METHODS)
def test_args_and_plain_python(method):
    def plain(t, y, k, shift):
        return -k * (y - shift)

    for fun in (decay_k, plain):
        ours, _ = compare(method, fun, (0, 3), [1.0], args=(0.7, 0.25), rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(ours.y[0], 0.25 + 0.75 * np.exp(-0.7 * ours.t), rtol=1e-6)


@njit
def unstable(t, y):
    return np.array([y[0] * y[0]])


@pytest.mark.parametrize("method", NEW_METHODS)
def test_step_size_failure_is_scipys(method):
    ours, _ = compare(method, unstable, (0.0, 2.0), [1.0])
    assert ours.status == -1 and not ours.success


def test_method_names_and_errors():
    assert set(METHODS) == {"RK23", "RK45", "DOP853"}
    for name in ("Radau", "BDF", "LSODA"):
        with pytest.raises(ValueError, match="implicit methods.*'RK23', 'RK45', 'DOP853'"):
            solve_ivp(decay, (0, 1), [1.0], method=name)
    with pytest.raises(ValueError, match="Unknown method 'rk45'.*'RK23', 'RK45', 'DOP853'"):
        solve_ivp(decay, (0, 1), [1.0], method="rk45")
    with pytest.raises(ValueError, match="`method` must be the name of a method"):
        solve_ivp(decay, (0, 1), [1.0], method=si.RK45)


def test_vectorized_is_accepted_and_implicit_options_warn_as_scipy():
    ours = solve_ivp(decay, (0, 1), [1.0], vectorized=True, rtol=1e-8)
    ref = si.solve_ivp(decay, (0, 1), [1.0], rtol=1e-8)
    assert ours.nfev == ref.nfev
    with pytest.warns(UserWarning, match="no effect for a chosen solver: `jac`"):
        solve_ivp(decay, (0, 1), [1.0], jac=None)
    with pytest.raises(TypeError, match="unexpected keyword arguments \\['tol'\\]"):
        solve_ivp(decay, (0, 1), [1.0], tol=1e-3)


# --- events ---------------------------------------------------------------------------------


@njit
def spring(t, y, k):
    return np.array([y[1], -k * y[0] - 0.1 * y[1]])


@njit
def position(t, y, k):
    return y[0]


@njit
def speed_below(t, y, k):
    return y[1] + 0.2


@njit
def level(t, y, k):
    return y[0] - 0.5


def with_attributes(fn, **attributes):
    for name, value in attributes.items():
        setattr(fn, name, value)
    return fn


def clear(*functions):
    for fn in functions:
        for name in ("terminal", "direction"):
            if hasattr(fn, name):
                delattr(fn, name)


def assert_events_match(ours, ref):
    assert len(ours.t_events) == len(ref.t_events)
    for ot, rt, oy, ry in zip(
        ours.t_events, ref.t_events, ours.y_events, ref.y_events, strict=True
    ):
        assert ot.shape == rt.shape
        np.testing.assert_allclose(ot, rt, rtol=1e-12, atol=1e-12)
        assert oy.shape == np.shape(ry)
        if oy.size:
            np.testing.assert_allclose(oy, ry, rtol=1e-9, atol=1e-11)


EVENT_CASES = {
    "one, non-terminal": ((0.0, 20.0), {"events": "position"}),
    "terminal": ((0.0, 20.0), {"events": "position", "terminal": True}),
    "terminal at the third": ((0.0, 20.0), {"events": "position", "terminal": 3}),
    "rising only": ((0.0, 20.0), {"events": "position", "direction": 1.0}),
    "falling, terminal": ((0.0, 20.0), {"events": "position", "direction": -1, "terminal": 1}),
    "several": ((0.0, 20.0), {"events": "several"}),
    "with t_eval": ((0.0, 20.0), {"events": "position", "terminal": 2, "t_eval": 41}),
    "backward": ((20.0, 0.0), {"events": "position", "terminal": 2}),
    "backward with t_eval": ((20.0, 0.0), {"events": "several", "t_eval": 21}),
    "dense output": ((0.0, 20.0), {"events": "position", "terminal": 4, "dense_output": True}),
}


@pytest.mark.parametrize("method", ("RK23", "RK45", "DOP853"))
@pytest.mark.parametrize("case", EVENT_CASES)
def test_events_match_scipy(method, case):
    t_span, spec = EVENT_CASES[case]
    spec = dict(spec)
    clear(position, speed_below, level)
    try:
        if spec.pop("events") == "several":
            with_attributes(speed_below, direction=-1.0)
            with_attributes(level, terminal=5)
            events = [position, speed_below, level]
        else:
            attributes = {k: spec.pop(k) for k in ("terminal", "direction") if k in spec}
            events = with_attributes(position, **attributes)
        if "t_eval" in spec:
            spec["t_eval"] = np.linspace(*t_span, spec["t_eval"])
        kw = dict(rtol=1e-7, atol=1e-10, args=(2.0,), events=events, **spec)
        ours, ref = compare(method, spring, t_span, np.array([1.0, 0.0]), **kw)
        assert_events_match(ours, ref)
        if spec.get("dense_output"):
            t = np.linspace(t_span[0], ours.t[-1], 97)
            np.testing.assert_allclose(ours.sol(t), ref.sol(t), rtol=1e-10, atol=1e-12)
    finally:
        clear(position, speed_below, level)


def test_terminal_event_stops_at_the_root_with_scipys_message():
    clear(position)
    try:
        with_attributes(position, terminal=True)
        ours = solve_ivp(
            spring, (0, 20), [1.0, 0.0], events=position, args=(2.0,), rtol=1e-10, atol=1e-12
        )
    finally:
        clear(position)
    assert ours.status == 1 and ours.message == "A termination event occurred."
    # x'' + 0.1 x' + 2 x = 0 from x = 1 at rest: first zero where the damped cosine crosses
    w = np.sqrt(2.0 - 0.05**2)
    t_zero = (np.pi / 2 + np.arctan(0.05 / w)) / w
    assert ours.t_events[0][0] == pytest.approx(t_zero, abs=1e-8)
    assert ours.t[-1] == ours.t_events[0][0]
    np.testing.assert_allclose(ours.y[:, -1], ours.y_events[0][0])
    assert abs(ours.y_events[0][0][0]) < 1e-12


def test_event_errors_are_clear():
    @njit
    def vector_event(t, y):
        return y

    with pytest.raises(ValueError, match=r"`events\[0\]` must return one real number"):
        solve_ivp(decay, (0, 1), [1.0], events=vector_event)
    with pytest.raises(ValueError, match="`terminal` attribute of each event must be"):
        solve_ivp(decay, (0, 1), [1.0], events=with_attributes(lambda t, y: y[0], terminal=1.5))
    with pytest.raises(ValueError, match=r"`events\[1\]` must be callable"):
        solve_ivp(decay, (0, 1), [1.0], events=[lambda t, y: y[0], 3])


def test_events_with_a_compiled_rhs_and_its_args():
    """The arm's CompiledRHS with an event on the elbow angle: the cached kernel, the event as
    a C callback, scipy's numbers for the same functions."""
    from workbench.experiments import arm as exp
    from workbench.models import arm as model

    cfg = exp.ArmConfig.model_validate({})
    p, torque = cfg.arm.vector(), exp.packed_torque(cfg)
    y0 = exp.initial_state(cfg.initial.q_deg, cfg.initial.qdot_deg_s)

    @njit
    def elbow(t, y, p, torque):
        return y[1] - 2.4

    elbow.terminal = True

    def reference_rhs(t, y, p, torque):
        return model.arm_rhs_out(t, y, p, torque)

    kw = dict(args=(p, torque), rtol=1e-8, atol=1e-11, events=elbow)
    ours = solve_ivp(model.ARM_RHS, (0, 1), y0, **kw)
    ref = si.solve_ivp(reference_rhs, (0, 1), y0, **kw)
    assert ours.nfev == ref.nfev and ours.status == ref.status == 1
    assert_events_match(ours, ref)


# --- batches ---------------------------------------------------------------------------------


@njit
def spring_inplace(t, y, dydt, p, damping):
    dydt[0] = y[1]
    dydt[1] = -p[0] * y[0] - damping * y[1]


@njit
def crossing(t, y, p, damping):
    return y[0]


# each pair compiles a batch kernel for the dispatcher (seconds): every method once, and the
# parallel loop once (it runs the same member code)
@pytest.mark.parametrize(
    ("method", "target"), [("RK23", "cpu"), ("RK45", "parallel"), ("DOP853", "cpu")]
)
def test_batch_events_equal_a_loop_of_single_solves(method, target):
    rng = np.random.default_rng(3)
    m = 9
    y0s = np.column_stack([rng.uniform(0.5, 1.5, m), rng.uniform(-1, 1, m)])
    params = rng.uniform(1.0, 4.0, (m, 1))
    t_eval = np.linspace(0, 6, 25)
    clear(crossing)
    try:
        crossing.terminal = 3
        batch = solve_ivp_batch(
            spring_inplace, (0, 6), y0s, t_eval=t_eval, params=params, args=(0.1,),
            method=method, events=crossing, keep_events=2, target=target, rtol=1e-7,
        )  # fmt: skip

        @njit
        def out_of_place(t, y, k, damping):
            return np.array([y[1], -k * y[0] - damping * y[1]])

        @njit
        def single_event(t, y, k, damping):
            return y[0]

        single_event.terminal = 3
        for i in range(m):
            one = solve_ivp(
                out_of_place, (0, 6), y0s[i], method=method, t_eval=t_eval,
                args=(params[i, 0], 0.1), events=single_event, rtol=1e-7,
            )  # fmt: skip
            assert_member_equals_single(batch, i, one)
            count = one.t_events[0].size
            assert batch.event_counts[i, 0] == count
            kept = min(count, 2)
            np.testing.assert_allclose(batch.t_events[i, 0, :kept], one.t_events[0][:kept])
            np.testing.assert_allclose(batch.y_events[i, 0, :kept], one.y_events[0][:kept])
            assert np.isnan(batch.t_events[i, 0, kept:]).all()
    finally:
        clear(crossing)
