"""The CUDA batch integrator under the simulator gives the CPU kernels' numbers.

The simulator runs the kernel's source as Python, so this checks the CUDA code path's logic
(indexing, local work arrays, chunking, copies back) against the compiled CPU kernels.
"""

import numpy as np
from numba import njit

from workbench.experiments import arm as exp
from workbench.integrate import solve_ivp_batch
from workbench.models import arm as model


@njit
def oscillator(t, y, dydt, p, forcing):
    dydt[0] = y[1]
    dydt[1] = -p[0] * y[0] - p[1] * y[1] + forcing * np.sin(t)


def test_arm_ensemble_on_cuda_matches_cpu():
    cfg = exp.ArmConfig.model_validate(
        {
            "solver": {"t_span": [0, 0.2], "rtol": 1e-6, "atol": 1e-9},
            "torque": {"kind": "sines", "interpolation": "cubic"},
            "ensemble": {
                "size": 6,
                "q_deg": {"low": [0, 120], "high": [20, 160]},
                "params": {"M2": [0.8, 1.2]},
                "t_eval": 5,
            },
        }
    )
    torque = exp.packed_torque(cfg)
    y0s, params = exp.ensemble_members(cfg)
    t_eval = cfg.solver.output_times(cfg.ensemble.t_eval)
    kw = dict(params=params, args=(torque,), t_eval=t_eval, rtol=1e-6, atol=1e-9)
    seen = []
    gpu = solve_ivp_batch(
        model.ARM_RHS,
        (0, 0.2),
        y0s,
        target="cuda",
        chunk_size=4,
        progress=lambda done, total: seen.append((done, total)),
        **kw,
    )
    cpu = solve_ivp_batch(model.ARM_RHS, (0, 0.2), y0s, target="cpu", **kw)
    assert gpu.target == "cuda" and seen == [(4, 6), (6, 6)]
    np.testing.assert_array_equal(gpu.status, 0)
    np.testing.assert_array_equal(gpu.nfev, cpu.nfev)
    np.testing.assert_array_equal(gpu.naccept, cpu.naccept)
    np.testing.assert_allclose(gpu.y, cpu.y, rtol=1e-12, atol=1e-15)


def test_njit_rhs_with_shared_args_on_cuda_matches_cpu():
    y0s = np.array([[1.0, 0.0], [0.5, -0.2], [-1.0, 0.3]])
    params = np.array([[1.0, 0.1], [4.0, 0.5], [0.25, 0.0]])
    kw = dict(params=params, args=(0.3,), t_eval=np.linspace(0, 2, 5), rtol=1e-6, atol=1e-9)
    gpu = solve_ivp_batch(oscillator, (0, 2), y0s, target="cuda", **kw)
    cpu = solve_ivp_batch(oscillator, (0, 2), y0s, target="cpu", **kw)
    np.testing.assert_array_equal(gpu.nfev, cpu.nfev)
    np.testing.assert_allclose(gpu.y, cpu.y, rtol=1e-12, atol=1e-15)
