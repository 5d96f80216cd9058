"""The batch kernels on ``cuda`` against ``parallel`` (all CPU cores), on a machine with a GPU.

- the arm ensemble (configs/arm_ensemble.yaml) at 10,000 and 100,000 members: members/s;
- the BFGS bootstrap (configs/logreg_bootstrap.yaml) at 10,000 and 100,000 resamples;
- one RMSprop step over 1e7 and 1e8 float32 parameters with the gradients already on the
  device, as a share of the device's memory bandwidth (the step reads the parameters, the
  gradients and the running average and writes two of them: 5 x 4 bytes per parameter).

Each line gives both times and the ratio (parallel / cuda), medians after a warm-up that
includes compilation. Without a usable GPU it says so and exits 0. Part of ``make gpu-check``.

Run: ``python benchmarks/bench_gpu.py``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _timing import median_time, report  # noqa: E402

from workbench.config import resolve  # noqa: E402
from workbench.experiments import arm as exp  # noqa: E402
from workbench.experiments.logreg import Problem  # noqa: E402
from workbench.integrate import solve_ivp_batch  # noqa: E402
from workbench.models import arm as model  # noqa: E402
from workbench.models import logistic  # noqa: E402
from workbench.optimize import minimize_bfgs_batch  # noqa: E402
from workbench.targets import cuda_status  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def ensemble(size: int) -> None:
    cfg = resolve(ROOT / "configs/arm_ensemble.yaml", [f"ensemble.size={size}"])
    torque = exp.packed_torque(cfg)
    y0s, params = exp.ensemble_members(cfg)
    s, t_eval = cfg.solver, cfg.solver.output_times(cfg.ensemble.t_eval)

    def on(target):
        return lambda: solve_ivp_batch(
            model.ARM_RHS, s.t_span, y0s, params=params, args=(torque,), t_eval=t_eval,
            rtol=s.rtol, atol=s.atol, target=target,
        )  # fmt: skip

    gpu, cpu = on("cuda"), on("parallel")
    a, b = gpu(), cpu()
    worst = float(np.nanmax(np.abs(a.y - b.y)))
    t_gpu, t_cpu = median_time(gpu, repeats=3), median_time(cpu, repeats=3)
    report(f"arm ensemble of {size:,}: cuda vs parallel", t_gpu, t_cpu, unit="s")
    print(f"    {size / t_gpu:,.0f} members/s on cuda; largest difference {worst:.1e} rad")


def bootstrap(resamples: int) -> None:
    cfg = resolve(ROOT / "configs/logreg_bootstrap.yaml", [f"bootstrap.resamples={resamples}"])
    problem = Problem(cfg)
    m, n = problem.Z.shape
    rng = np.random.default_rng(0)
    counts = rng.multinomial(m, np.full(m, 1.0 / m), size=resamples).astype(float)

    def on(target):
        return lambda: minimize_bfgs_batch(
            logistic.LOGISTIC, np.zeros((resamples, n)), member_data=counts,
            args=(problem.data,), target=target, **problem.options,
        )  # fmt: skip

    gpu, cpu = on("cuda"), on("parallel")
    a, b = gpu(), cpu()
    agree = float(np.mean(a.nit == b.nit))
    t_gpu, t_cpu = median_time(gpu, repeats=3), median_time(cpu, repeats=3)
    report(f"BFGS bootstrap of {resamples:,}: cuda vs parallel", t_gpu, t_cpu, unit="s")
    print(f"    iteration counts equal in {agree:.1%} of fits")


def peak_bandwidth() -> float:
    """The device's memory bandwidth in bytes/s from its clock and bus width."""
    from numba import cuda

    dev = cuda.get_current_device()
    clock_hz = dev.MEMORY_CLOCK_RATE * 1e3  # reported in kHz
    return 2.0 * clock_hz * dev.GLOBAL_MEMORY_BUS_WIDTH / 8.0  # double data rate


def rmsprop_step(size: int) -> None:
    from numba import cuda

    from workbench import optim

    rng = np.random.default_rng(0)
    p = rng.standard_normal(size).astype(np.float32)
    g_host = rng.standard_normal(size).astype(np.float32)
    gpu = optim.RMSprop({"w": p.copy()}, lr=1e-3, target="cuda")
    g_dev = cuda.to_device(g_host)

    def step_gpu():
        gpu.step({"w": g_dev})
        cuda.synchronize()

    cpu = optim.RMSprop({"w": p.copy()}, lr=1e-3, target="parallel")
    t_gpu = median_time(step_gpu, repeats=9)
    t_cpu = median_time(lambda: cpu.step({"w": g_host}), repeats=5)
    moved = 5 * 4 * size
    report(f"RMSprop step, {size:.0e} float32 parameters: cuda vs parallel", t_gpu, t_cpu)
    print(
        f"    {moved / t_gpu / 1e9:,.0f} GB/s on cuda = {moved / t_gpu / peak_bandwidth():.0%} "
        f"of the device's {peak_bandwidth() / 1e9:,.0f} GB/s"
    )


if __name__ == "__main__":
    usable, why = cuda_status()
    if not usable:
        print(f"no GPU benchmarks: {why}")
        sys.exit(0)
    start = time.perf_counter()
    for size in (10_000, 100_000):
        ensemble(size)
    for resamples in (10_000, 100_000):
        bootstrap(resamples)
    for size in (10**7, 10**8):
        rmsprop_step(size)
    print(f"GPU benchmarks done in {time.perf_counter() - start:.0f} s")
