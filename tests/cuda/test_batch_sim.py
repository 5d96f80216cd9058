"""``solve_ivp_batch(target="cuda")`` under the CUDA simulator gives the CPU kernels' numbers.

The simulator runs the kernel's source (and the stepping code, and the right-hand side) as
Python, so agreement to round-off and identical counts check the CUDA code path's logic:
indexing by thread, local work arrays, shared-argument tuples, chunking and the copies back.
Runs under ``NUMBA_ENABLE_CUDASIM=1``, or on a GPU with ``WORKBENCH_GPU=1`` (see
conftest.py). Kept small: the simulator is slow.
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from workbench.experiments import arm as exp
from workbench.integrate import solve_ivp_batch
from workbench.models import arm as model


def assert_same_numbers(gpu, cpu):
    assert gpu.target == "cuda" and cpu.target == "cpu"
    np.testing.assert_array_equal(gpu.status, cpu.status)
    assert gpu.messages == cpu.messages
    np.testing.assert_array_equal(gpu.nfev, cpu.nfev)
    np.testing.assert_array_equal(gpu.naccept, cpu.naccept)
    np.testing.assert_array_equal(gpu.nreject, cpu.nreject)
    # NaN (samples a failed member never reached) must sit in the same places
    np.testing.assert_array_equal(np.isnan(gpu.y), np.isnan(cpu.y))
    scale = np.nanmax(np.abs(cpu.y))
    np.testing.assert_allclose(gpu.y, cpu.y, rtol=1e-12, atol=1e-12 * scale)


# The failing members' NaN arithmetic runs as numpy scalars in the simulator's threads (where
# np.errstate does not reach): numpy warns about it.
NAN_WARNINGS = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")


@NAN_WARNINGS
def test_arm_ensemble_on_cuda_matches_cpu():
    cfg = exp.ArmConfig.model_validate(
        {
            "solver": {"t_span": [0, 0.2]},
            "torque": {"kind": "chirp", "interpolation": "cubic"},
            "ensemble": {
                "size": 8,
                "q_deg": {"low": [0, 100], "high": [30, 160]},
                "qdot_deg_s": {"low": [-60, -60], "high": [60, 60]},
                "params": {"M2": [0.6, 1.4], "I2": [0.03, 0.06]},
            },
        }
    )
    torque = exp.packed_torque(cfg)
    y0s, params = exp.ensemble_members(cfg)
    params[5, :3] = 0.0  # no inertia: f(t0) is 0/0, the member fails at once
    kw = dict(
        params=params,
        args=(torque,),
        t_eval=np.linspace(0, 0.2, 5),
        rtol=1e-7,
        atol=[1e-10, 1e-10, 1e-9, 1e-9, 1e-9],
    )
    seen = []
    gpu = solve_ivp_batch(
        model.ARM_RHS,
        (0, 0.2),
        y0s,
        target="cuda",
        chunk_size=3,
        progress=lambda done, total: seen.append((done, total)),
        **kw,
    )
    cpu = solve_ivp_batch(model.ARM_RHS, (0, 0.2), y0s, target="cpu", **kw)
    assert seen == [(3, 8), (6, 8), (8, 8)]
    assert_same_numbers(gpu, cpu)
    np.testing.assert_array_equal(gpu.failed, [5])
    assert gpu.messages[5] == "The right-hand side returned NaN or infinity at t = 0.0."
    assert (gpu.status[np.arange(8) != 5] == 0).all()
    np.testing.assert_array_equal(gpu.y[:, :, 0][np.arange(8) != 5], y0s[np.arange(8) != 5])


@njit
def no_args(t, y, dydt, p):
    dydt[0] = -p[0] * y[0]


@njit
def forced(t, y, dydt, p, w, k):
    # NaN once t passes p[2] (np.sqrt of a negative number: NaN in Python and in Numba)
    dydt[0] = y[1]
    dydt[1] = -k * y[0] - p[0] * y[1] + w[0] * np.sin(p[1] * t) * np.sqrt(p[2] - t)


def test_njit_rhs_without_args_on_cuda_matches_cpu_and_closed_form():
    rates = np.array([[0.5], [1.0], [2.0], [3.0]])
    y0s = np.array([[1.0], [2.0], [-1.0], [0.5]])
    t_eval = np.linspace(0.0, 1.0, 4)
    kw = dict(params=rates, t_eval=t_eval, rtol=1e-8, atol=1e-11)
    gpu = solve_ivp_batch(no_args, (0, 1), y0s, target="cuda", **kw)
    cpu = solve_ivp_batch(no_args, (0, 1), y0s, target="cpu", **kw)
    assert_same_numbers(gpu, cpu)
    np.testing.assert_allclose(gpu.y[:, 0, :], y0s * np.exp(-rates * t_eval), rtol=1e-6)


@NAN_WARNINGS
@pytest.mark.parametrize("t_span", [(0.0, 2.0), (2.0, 0.0)])
def test_njit_rhs_with_mixed_args_and_a_failing_member_on_cuda_matches_cpu(t_span):
    y0s = np.array([[1.0, 0.0], [0.5, -0.2], [-1.0, 0.3]])
    # member 1 turns NaN once t > 1.5 (forwards) / from the start (backwards, t0 = 2 > 1.5)
    params = np.array([[0.1, 1.0, 10.0], [0.5, 2.0, 1.5], [0.0, 3.0, 10.0]])
    kw = dict(
        params=params,
        args=(np.array([0.3]), 4.0),
        t_eval=np.linspace(t_span[0], t_span[1], 5),
        rtol=1e-6,
        atol=1e-9,
        max_step=0.5,
    )
    gpu = solve_ivp_batch(forced, t_span, y0s, target="cuda", chunk_size=2, **kw)
    cpu = solve_ivp_batch(forced, t_span, y0s, target="cpu", **kw)
    assert_same_numbers(gpu, cpu)
    np.testing.assert_array_equal(gpu.status, [0, -1, 0])
    assert gpu.messages[1].startswith("The right-hand side returned NaN or infinity at t = ")


@njit
def oscillator_inplace(t, y, dydt, p, damping):
    dydt[0] = y[1]
    dydt[1] = -p[0] * y[0] - damping * y[1]


@njit
def position(t, y, p, damping):
    return y[0]


@njit
def slow(t, y, p, damping):
    return y[1] + 0.5


def test_dop853_and_events_on_cuda_match_cpu():
    """Each member stops at its own terminal event; the counts and the kept occurrences are
    the CPU kernel's. DOP853: the most stages, its own error norm and interpolant (RK23 and
    RK45 differ from it in data only; the simulator runs Python, slowly)."""
    method = "DOP853"
    position.terminal = 3
    slow.direction = -1.0
    rng = np.random.default_rng(7)
    m = 4
    y0s = np.column_stack([rng.uniform(0.5, 1.5, m), rng.uniform(-1, 1, m)])
    kw = dict(
        params=rng.uniform(1.0, 6.0, (m, 1)),
        args=(0.2,),
        t_eval=np.linspace(0, 4, 9),
        rtol=1e-6,
        method=method,
        events=[position, slow],
        keep_events=2,
    )
    gpu = solve_ivp_batch(oscillator_inplace, (0, 4), y0s, target="cuda", **kw)
    cpu = solve_ivp_batch(oscillator_inplace, (0, 4), y0s, target="cpu", **kw)
    assert_same_numbers(gpu, cpu)
    assert (cpu.status == 1).any()  # some members stop at their third crossing
    np.testing.assert_array_equal(gpu.event_counts, cpu.event_counts)
    np.testing.assert_array_equal(np.isnan(gpu.t_events), np.isnan(cpu.t_events))
    np.testing.assert_allclose(gpu.t_events, cpu.t_events, rtol=1e-12)
    np.testing.assert_allclose(gpu.y_events, cpu.y_events, rtol=1e-12, atol=1e-14)
