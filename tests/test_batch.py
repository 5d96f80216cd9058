"""``solve_ivp_batch`` on the CPU targets gives exactly the numbers of a loop of single solves."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from workbench import targets
from workbench.experiments import arm as exp
from workbench.integrate import solve_ivp, solve_ivp_batch
from workbench.models import arm as model
from workbench.targets import TargetError


@njit
def damped(t, y, dydt, p, forcing):
    dydt[0] = y[1]
    dydt[1] = -p[0] * y[0] - p[1] * y[1] + forcing * np.cos(t)


@njit
def damped_allocating(t, y, dydt, p, forcing):
    """The same dynamics through a temporary array: the stepping code runs without reference
    counting, and must still let a right-hand side allocate."""
    dydt[:] = np.array([y[1], -p[0] * y[0] - p[1] * y[1] + forcing * np.cos(t)])


@njit
def damped_out(t, y, p, forcing):
    dydt = np.empty(2)
    damped(t, y, dydt, p, forcing)
    return dydt


def assert_member_equals_single(batch, i, one):
    """Member ``i`` of ``batch`` has exactly the numbers of the single solve ``one``; samples a
    failed member did not reach stay NaN (the single solve returns only those it reached)."""
    assert batch.status[i] == one.status
    assert batch.messages[i] == one.message
    assert (batch.nfev[i], batch.naccept[i], batch.nreject[i]) == (
        one.nfev,
        one.naccept,
        one.nreject,
    )
    k = one.t.size
    np.testing.assert_array_equal(batch.t[:k], one.t)
    np.testing.assert_array_equal(batch.y[i, :, :k], one.y)
    assert np.isnan(batch.y[i, :, k:]).all()


@pytest.fixture(scope="module")
def arm_members():
    cfg = exp.ArmConfig.model_validate(
        {
            "torque": {"kind": "sines", "interpolation": "cubic"},
            "ensemble": {
                "size": 40,
                "q_deg": {"low": [0, 100], "high": [30, 160]},
                "qdot_deg_s": {"low": [-30, -30], "high": [30, 30]},
                "params": {"M2": [0.5, 1.5], "D2": [0.1, 0.15]},
            },
        }
    )
    y0s, params = exp.ensemble_members(cfg)
    # member 7 has no inertia at all: its mass matrix is zero and f(t0) is 0/0 = NaN
    params[7, :3] = 0.0
    return cfg, y0s, params, exp.packed_torque(cfg)


@pytest.mark.parametrize("target", ["cpu", "parallel"])
def test_arm_batch_equals_a_loop_of_single_solves(arm_members, target):
    cfg, y0s, params, torque = arm_members
    t_eval = np.linspace(0, 1, 11)
    kw = dict(t_eval=t_eval, rtol=1e-6, atol=1e-9)
    batch = solve_ivp_batch(
        model.ARM_RHS,
        (0, 1),
        y0s,
        params=params,
        args=(torque,),
        target=target,
        chunk_size=16,
        **kw,
    )
    assert batch.target == target
    assert batch.y.shape == (40, 5, 11)
    np.testing.assert_array_equal(batch.failed, [7])
    assert batch.messages[7] == "The right-hand side returned NaN or infinity at t = 0.0."
    assert np.isnan(batch.y[7]).all()
    for i in range(len(y0s)):
        one = solve_ivp(model.ARM_RHS, (0, 1), y0s[i], args=(params[i], torque), **kw)
        assert_member_equals_single(batch, i, one)
    # the members differ (own parameters and initial states): not one trajectory repeated
    assert np.unique(batch.nfev).size > 3
    assert np.unique(batch.y[:, 0, -1]).size == 39 + 1  # 39 distinct finals and NaN


@pytest.mark.parametrize("target", ["cpu", "parallel"])
def test_njit_rhs_batch_equals_loop_and_reports_failed_members(target):
    y0s = np.array([[1.0, 0.0], [0.5, -0.2], [2.0, 1.0], [0.0, 1.0]])
    # member 2 has a hugely negative stiffness: it blows up and fails with a step underflow
    params = np.array([[1.0, 0.1], [4.0, 0.5], [-1e6, 0.0], [0.25, 0.0]])
    t_eval = np.linspace(0, 30, 7)
    seen = []
    batch = solve_ivp_batch(
        damped,
        (0, 30),
        y0s,
        params=params,
        args=(0.3,),
        t_eval=t_eval,
        target=target,
        chunk_size=3,
        progress=lambda done, total: seen.append((done, total)),
    )
    counts = [done for done, total in seen if total == 4]
    assert len(counts) == len(seen) and counts == sorted(set(counts)) and counts[-1] == 4
    np.testing.assert_array_equal(batch.failed, [2])
    assert batch.status.tolist() == [0, 0, -1, 0]
    np.testing.assert_array_equal(batch.success, [True, True, False, True])
    for i in range(4):
        one = solve_ivp(damped_out, (0, 30), y0s[i], t_eval=t_eval, args=(params[i], 0.3))
        assert_member_equals_single(batch, i, one)
    assert batch.status[2] == -1 and np.isnan(batch.y[2, :, -1]).all()
    # member 3 is undamped, y'' = -w^2 y + 0.3 cos t with w = 0.5, y(0) = 0, y'(0) = 1:
    # y = sin(w t) / w + 0.3 (cos(w t) - cos t) / (1 - w^2)
    w, t = 0.5, t_eval
    exact = np.sin(w * t) / w + 0.3 * (np.cos(w * t) - np.cos(t)) / (1 - w**2)
    np.testing.assert_allclose(batch.y[3, 0], exact, rtol=0, atol=2e-2)


@pytest.mark.parametrize("target", ["cpu", "parallel"])
def test_allocating_rhs_gives_the_numbers_of_the_in_place_one(target):
    y0s = np.array([[1.0, 0.0], [0.5, -0.2]])
    params = np.array([[1.0, 0.1], [4.0, 0.5]])
    kw = dict(params=params, args=(0.3,), t_eval=np.linspace(0, 10, 6), target=target)
    plain = solve_ivp_batch(damped, (0, 10), y0s, **kw)
    allocating = solve_ivp_batch(damped_allocating, (0, 10), y0s, **kw)
    np.testing.assert_array_equal(allocating.y, plain.y)
    np.testing.assert_array_equal(allocating.nfev, plain.nfev)
    assert plain.nfev.min() > 20  # it did integrate


OPTIONS = {
    "backward": dict(t_span=(5.0, -1.0), t_eval=np.linspace(5, -1, 7)),
    "vector atol": dict(t_span=(0.0, 6.0), atol=[1e-10, 1e-4], rtol=1e-7),
    "first_step": dict(t_span=(0.0, 6.0), first_step=1e-3, rtol=1e-5),
    "max_step": dict(t_span=(0.0, 6.0), max_step=0.1),
    "t0 == t1": dict(t_span=(2.0, 2.0), t_eval=[2.0]),
}


@pytest.mark.parametrize("target", ["cpu", "parallel"])
@pytest.mark.parametrize("option", OPTIONS)
def test_solver_options_equal_a_loop(option, target):
    kw = dict(OPTIONS[option])
    t_span = kw.pop("t_span")
    t_eval = kw.pop("t_eval", np.linspace(t_span[0], t_span[1], 5))
    y0s = np.array([[1.0, 0.0], [0.5, -0.2], [-1.0, 2.0]])
    params = np.array([[1.0, 0.1], [4.0, 0.5], [0.25, 0.05]])
    batch = solve_ivp_batch(
        damped, t_span, y0s, params=params, args=(0.3,), t_eval=t_eval, target=target, **kw
    )
    for i in range(3):
        one = solve_ivp(damped_out, t_span, y0s[i], t_eval=t_eval, args=(params[i], 0.3), **kw)
        assert one.status == 0
        assert_member_equals_single(batch, i, one)


@pytest.mark.parametrize("target", ["cpu", "parallel"])
def test_chunking_does_not_change_the_numbers(arm_members, target):
    _, y0s, params, torque = arm_members
    kw = dict(params=params[:10], args=(torque,), t_eval=[0.0, 0.5, 1.0], target=target)
    runs = []
    for chunk_size in (1, 3, 10, None):
        seen = []
        res = solve_ivp_batch(
            model.ARM_RHS,
            (0, 1),
            y0s[:10],
            chunk_size=chunk_size,
            progress=lambda done, total, seen=seen: seen.append((done, total)),
            **kw,
        )
        counts = [done for done, _ in seen]
        assert all(total == 10 for _, total in seen)
        assert counts == sorted(set(counts)) and counts[-1] == 10  # increasing, ends at m
        runs.append(res)
    first = runs[0]
    for res in runs[1:]:
        np.testing.assert_array_equal(res.y, first.y)
        for name in ("nfev", "naccept", "nreject", "status"):
            np.testing.assert_array_equal(getattr(res, name), getattr(first, name))


def test_argument_errors():
    y0s = np.ones((3, 2))
    kw = dict(args=(0.0,), t_eval=[1.0])
    with pytest.raises(ValueError, match=r"`params` must have shape \(m, p\) with m = 3"):
        solve_ivp_batch(damped, (0, 1), y0s, params=np.ones((2, 2)), **kw)
    with pytest.raises(ValueError, match=r"`params` must have shape \(m, p\) .* \(3, 2, 1\)"):
        solve_ivp_batch(damped, (0, 1), y0s, params=np.ones((3, 2, 1)), **kw)
    with pytest.raises(ValueError, match="`params` must be finite"):
        solve_ivp_batch(damped, (0, 1), y0s, params=np.full((3, 2), np.nan), **kw)
    with pytest.raises(ValueError, match="`t_eval` is required"):
        solve_ivp_batch(damped, (0, 1), y0s, params=np.ones((3, 2)), args=(0.0,), t_eval=None)
    with pytest.raises(ValueError, match=r"`y0s` must be 2-D, shape \(m, n\)"):
        solve_ivp_batch(damped, (0, 1), np.ones(3), t_eval=[1.0])
    with pytest.raises(ValueError, match="`y0s` must be finite"):
        solve_ivp_batch(damped, (0, 1), np.full((3, 2), np.inf), t_eval=[1.0])
    with pytest.raises(ValueError, match=r"`t_eval` must lie within `t_span`"):
        solve_ivp_batch(damped, (0, 1), y0s, params=np.ones((3, 2)), args=(0.0,), t_eval=[2.0])
    with pytest.raises(TargetError, match="unknown target 'gpu'"):
        solve_ivp_batch(damped, (0, 1), y0s, params=np.ones((3, 2)), target="gpu", **kw)


def test_params_error_names_the_shape_that_was_passed():
    # 1-D params are read as one parameter per member, (m,) -> (m, 1); when m is wrong the
    # message should still report the shape the caller passed, not the reshaped one
    with pytest.raises(ValueError, match=r"`params` must have shape \(m, p\) .* got shape \(4,\)"):
        solve_ivp_batch(damped, (0, 1), np.ones((3, 2)), params=np.ones(4), args=(0.0,), t_eval=[1])


@pytest.mark.parametrize("chunk_size", [-1, 0.5])
def test_a_chunk_size_that_is_not_a_positive_integer_is_an_error(arm_members, chunk_size):
    """``chunk_size=-1`` makes ``range(0, m, -1)`` empty: no member is integrated, yet every
    status is 0 (success) with all-NaN outputs. It must be refused instead."""
    _, y0s, params, torque = arm_members
    with pytest.raises(ValueError, match="chunk_size"):
        solve_ivp_batch(
            model.ARM_RHS,
            (0, 1),
            y0s[:3],
            params=params[:3],
            args=(torque,),
            t_eval=[1.0],
            target="cpu",
            chunk_size=chunk_size,
        )


def test_cuda_without_a_gpu_is_a_clear_error(arm_members):
    if targets.cuda_available():  # a GPU or NUMBA_ENABLE_CUDASIM: nothing to refuse
        pytest.skip("a CUDA GPU (or the simulator) is usable here")
    _, y0s, params, torque = arm_members
    with pytest.raises(TargetError, match="target 'cuda' requested but no CUDA GPU is usable"):
        solve_ivp_batch(
            model.ARM_RHS, (0, 1), y0s, params=params, args=(torque,), t_eval=[1.0], target="cuda"
        )
    assert issubclass(TargetError, ValueError)
