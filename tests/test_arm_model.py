"""The arm's dynamics, energy balance and torque generators, against independent formulas."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.experiments import arm as exp
from workbench.interpolate import evaluate
from workbench.models import arm as model
from workbench.models import reference


def _mass_matrix(q2, p):
    a1, a2, a3 = p[:3]
    return np.array([[a1 + 2 * a2 * np.cos(q2), a3 + a2 * np.cos(q2)], [a3 + a2 * np.cos(q2), a3]])


def test_inertia_parameters_follow_the_definitions():
    cfg = exp.ArmConfig()
    a = cfg.arm
    p = a.vector()
    assert p[0] == pytest.approx(a.I1 + a.I2 + a.M2 * a.L1**2)
    assert p[1] == pytest.approx(a.M2 * a.L1 * a.D2)
    assert p[2] == pytest.approx(a.I2)
    np.testing.assert_array_equal(p[3:], np.ravel(a.B))


@pytest.mark.parametrize("interpolation", ["linear", "cubic"])
def test_rhs_satisfies_the_equations_of_motion(interpolation):
    """M(q) q'' + C(q, q') + B q' = tau(t) holds for the accelerations the kernel returns."""
    cfg = exp.ArmConfig.model_validate(
        {"torque": {"kind": "sines", "interpolation": interpolation}}
    )
    p, torque = cfg.arm.vector(), exp.packed_torque(cfg)
    B = np.array(cfg.arm.B)
    rng = np.random.default_rng(1)
    for _ in range(20):
        t = rng.uniform(0, 1)
        y = np.append(rng.uniform(-3, 3, 4), 0.0)
        dydt = model.arm_rhs_out(t, y, p, torque)
        q, qd, qdd = y[:2], y[2:4], dydt[2:4]
        C = p[1] * np.sin(q[1]) * np.array([-qd[1] * (2 * qd[0] + qd[1]), qd[0] ** 2])
        tau = evaluate(torque, [t])[:, 0]
        np.testing.assert_allclose(_mass_matrix(q[1], p) @ qdd + C + B @ qd, tau, atol=1e-12)
        np.testing.assert_array_equal(dydt[:2], qd)
        assert dydt[4] == pytest.approx(qd @ (tau - B @ qd), abs=1e-12)
        # the seed's numpy form (inverse of M, np.interp) agrees for a linear table
        if interpolation == "linear":
            t_grid, table = exp.torque_table(cfg)
            np.testing.assert_allclose(
                reference.arm_rhs_interp(t, y, t_grid, table, p), dydt, atol=1e-10
            )


@pytest.mark.parametrize(
    "torque",
    [
        {"kind": "sines"},
        {"kind": "chirp", "interpolation": "cubic"},
        {"kind": "step"},
        {"kind": "zero"},
        {"kind": "constant", "value": [0.3, -0.1]},
    ],
)
@pytest.mark.parametrize("rtol", [1e-5, 1e-8])
def test_energy_balance(torque, rtol):
    """E(T) - E(0) equals the work of torque and damping, within 100 x rtol of max E."""
    cfg = exp.ArmConfig.model_validate(
        {
            "torque": torque,
            "initial": {"qdot_deg_s": [30, -20]},
            "solver": {"rtol": rtol, "atol": rtol * 1e-3, "t_span": [0, 2]},
        }
    )
    res, p, _ = exp.solve_single(cfg)
    assert res.status == 0
    err = model.energy_error(res.y, p)
    assert err <= 100 * rtol
    # and the balance is not trivially satisfied: energy does change
    E = model.kinetic_energy(res.y[1], res.y[2], res.y[3], p)
    assert np.ptp(E) > 1e-3 * np.max(E)


def test_forward_kinematics_closed_form():
    x, y = model.end_effector(np.array([0.0, np.pi / 2]), np.array([0.0, -np.pi / 2]), 0.3, 0.33)
    np.testing.assert_allclose(x, [0.63, 0.33], atol=1e-15)
    np.testing.assert_allclose(y, [0.0, 0.3], atol=1e-15)


def test_generators_match_their_formulas():
    t = np.linspace(0, 1, 1001)
    cfg = exp.ArmConfig.model_validate(
        {
            "torque": {
                "kind": "sines",
                "amplitudes": [1, 2],
                "frequencies": [3, 4],
                "phases": [0.1, 0.2],
                "offsets": [0.5, -0.5],
            }
        }
    )
    tg, table = exp.torque_table(cfg)
    np.testing.assert_array_equal(tg, t)
    np.testing.assert_allclose(table[0], 0.5 + np.sin(2 * np.pi * 3 * t + 0.1), atol=1e-15)
    np.testing.assert_allclose(table[1], -0.5 + 2 * np.sin(2 * np.pi * 4 * t + 0.2), atol=1e-15)
    cfg = exp.ArmConfig.model_validate({"torque": {"kind": "chirp", "f0": 1, "f1": 3}})
    _, table = exp.torque_table(cfg)
    # instantaneous frequency sweeps linearly: phase = 2 pi (f0 t + (f1 - f0) t^2 / 2)
    np.testing.assert_allclose(table[0], 0.3 * np.sin(2 * np.pi * (t + t**2)), atol=1e-14)
    cfg = exp.ArmConfig.model_validate({"torque": {"kind": "step", "time": 0.25}})
    _, table = exp.torque_table(cfg)
    np.testing.assert_array_equal(table[:, t < 0.25], 0.0)
    np.testing.assert_array_equal(table[0, t >= 0.25], 0.2)


def test_table_must_cover_the_interval_unless_held():
    raw = {"torque": {"kind": "table", "t": [0, 0.5], "values": [[0, 1], [0, 1]]}}
    with pytest.raises(exp.ProblemError, match="extrapolate: hold"):
        exp.packed_torque(exp.ArmConfig.model_validate(raw))
    raw["torque"]["extrapolate"] = "hold"
    packed = exp.packed_torque(exp.ArmConfig.model_validate(raw))
    np.testing.assert_array_equal(evaluate(packed, [0.9])[:, 0], [1.0, 1.0])


def test_ensemble_members_are_seeded_and_in_range():
    raw = {
        "ensemble": {
            "size": 500,
            "q_deg": {"low": [0, 100], "high": [10, 110]},
            "params": {"M2": [0.5, 2.0]},
        }
    }
    cfg = exp.ArmConfig.model_validate(raw)
    y0s, params = exp.ensemble_members(cfg)
    again, _ = exp.ensemble_members(cfg)
    np.testing.assert_array_equal(y0s, again)
    q = np.rad2deg(y0s[:, :2])
    assert q[:, 0].min() >= 0 and q[:, 0].max() <= 10 and q[:, 1].min() >= 100
    assert y0s.shape == (500, 5) and np.all(y0s[:, 4] == 0)
    m2 = params[:, 1] / (cfg.arm.L1 * cfg.arm.D2)  # a2 = M2 L1 D2
    assert m2.min() >= 0.5 and m2.max() <= 2.0 and np.ptp(m2) > 1.0
    cfg = exp.ArmConfig.model_validate({"ensemble": {**raw["ensemble"], "sampling": "grid"}})
    y0s, params = exp.ensemble_members(cfg)
    assert y0s.shape[0] == 8**3  # round(500 ** (1/3)) = 8 points on each of 3 axes


def test_mass_matrix_must_be_positive_definite():
    with pytest.raises(ValueError, match="positive definite"):
        exp.ArmConfig.model_validate({"arm": {"D2": 0.3, "M2": 2.0}})
    raw = {"ensemble": {"size": 50, "params": {"M2": [1.0, 1.5], "D2": [0.1, 0.2]}}}
    with pytest.raises(exp.ProblemError, match="members have a mass matrix that is not positive"):
        exp.ensemble_members(exp.ArmConfig.model_validate(raw))
    # the rule is det M(q) > 0 at the worst angle, cos^2 q2 = 1
    for M2, D2 in [(1.0, 0.16), (1.5, 0.2)]:
        p = model.param_vector(0.025, 0.045, M2, 0.3, D2, np.zeros((2, 2)))
        det = np.linalg.det(_mass_matrix(0.0, p))
        assert (det > 0) == bool(model.mass_matrix_ok(0.025, 0.045, M2, 0.3, D2))
