"""``solve_ivp_batch`` on the CPU targets gives exactly the numbers of a loop of single solves."""

from __future__ import annotations

import os

import numpy as np
import pytest
from numba import njit

from workbench.experiments import arm as exp
from workbench.integrate import solve_ivp, solve_ivp_batch
from workbench.models import arm as model
from workbench.targets import TargetError


@njit
def damped(t, y, dydt, p, forcing):
    dydt[0] = y[1]
    dydt[1] = -p[0] * y[0] - p[1] * y[1] + forcing * np.cos(t)


@njit
def damped_out(t, y, p, forcing):
    dydt = np.empty(2)
    damped(t, y, dydt, p, forcing)
    return dydt


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
    for i in range(len(y0s)):
        one = solve_ivp(model.ARM_RHS, (0, 1), y0s[i], args=(params[i], torque), **kw)
        np.testing.assert_array_equal(batch.y[i], one.y)
        assert (batch.nfev[i], batch.naccept[i], batch.nreject[i]) == (
            one.nfev,
            one.naccept,
            one.nreject,
        )
        assert batch.status[i] == one.status == 0


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
    assert seen == [(3, 4), (4, 4)]
    np.testing.assert_array_equal(batch.failed, [2])
    assert batch.status.tolist() == [0, 0, -1, 0]
    for i in range(4):
        one = solve_ivp(damped_out, (0, 30), y0s[i], t_eval=t_eval, args=(params[i], 0.3))
        assert one.status == batch.status[i] and one.nfev == batch.nfev[i]
        assert batch.messages[i] == one.message
        if one.status == 0:
            np.testing.assert_array_equal(batch.y[i], one.y)
        else:  # a failed member's unreached samples stay NaN
            assert np.isnan(batch.y[i, :, -1]).all()


def test_argument_errors():
    y0s = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"`params` must have shape \(m, p\) with m = 3"):
        solve_ivp_batch(damped, (0, 1), y0s, params=np.ones((2, 2)), args=(0.0,), t_eval=[1.0])
    with pytest.raises(ValueError, match="`t_eval` is required"):
        solve_ivp_batch(damped, (0, 1), y0s, params=np.ones((3, 2)), args=(0.0,), t_eval=None)
    with pytest.raises(ValueError, match=r"`y0s` must be 2-D"):
        solve_ivp_batch(damped, (0, 1), np.ones(3), t_eval=[1.0])


@pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", reason="simulator present")
def test_cuda_without_a_gpu_is_a_clear_error(arm_members):
    _, y0s, params, torque = arm_members
    with pytest.raises(TargetError, match="target 'cuda' requested but no CUDA GPU is usable"):
        solve_ivp_batch(
            model.ARM_RHS, (0, 1), y0s, params=params, args=(torque,), t_eval=[1.0], target="cuda"
        )
