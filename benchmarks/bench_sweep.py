"""Sweep overhead: 64 short arm runs on the local executor (2 workers) against the same runs
one after another in one warm process.

- T_serial: the sum of the 64 serial run times, each what ``workbench run`` does in-process
  after warm-up (resolve the config, run the experiment, write the run folder);
- T_pool: the wall time of the sweep through the Python API (planning and validating all 64
  combinations, the parent's warm-up, starting and stopping 2 spawned workers, writing 64 run
  folders and the summary), medians of ``--repeats`` fresh sweeps.

Overhead per run = (2 x T_pool - T_serial) / 64: what 2 workers cost beyond the serial work
split over them (target: under 0.3 s). The CLI's process wall time (Python start-up and imports
included) is printed beside it.

Run: ``make bench`` or ``python benchmarks/bench_sweep.py [--repeats N]``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _timing import process_wall, workbench_argv  # noqa: E402

from workbench import runs  # noqa: E402
from workbench import sweeps as sw  # noqa: E402
from workbench.config import dump_resolved  # noqa: E402
from workbench.experiments import get  # noqa: E402
from workbench.targets import choose_target  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "arm.yaml"
# 8 x 8 tolerances: the seed question's trajectory (1 s, 1001 output samples) each time.
AXES = ["solver.rtol=logspace(-3,-10,8)", "solver.atol=logspace(-6,-13,8)", "target=cpu"]
WORKERS = 2


def _arg(name: str, default: int) -> int:
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def serial_seconds(plan: sw.SweepPlan, folder: Path) -> float:
    """The sum of the runs' times, one after another here, as `workbench run` does each."""
    exp = get(plan.kind)

    def one(cfg) -> float:
        t = time.perf_counter()
        choice = choose_target(cfg.target, batched=exp.is_batched(cfg))
        with runs.create_run(folder, cfg.name) as rd:
            rd.write_config(dump_resolved(cfg))
            rd.log(f"target: {choice.name} ({choice.reason})")
            outcome = exp.run(cfg, choice.name, None, plan.base_dir)
            rd.write_arrays(outcome.arrays)
            rd.log(f"status {outcome.status}: {outcome.message}")
            rd.write_result({"status": outcome.status, "figures": outcome.figures})
        return time.perf_counter() - t

    one(plan.runs[0].cfg)  # warm-up: kernels compiled or loaded from the cache
    return sum(one(r.cfg) for r in plan.runs)


def pool_seconds(folder: Path) -> tuple[float, sw.SweepResult]:
    t = time.perf_counter()
    plan = sw.plan(CONFIG, AXES, out=folder)
    result = sw.run(plan, executor="local", workers=WORKERS)
    return time.perf_counter() - t, result


def main() -> None:
    repeats = _arg("--repeats", 3)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        plan = sw.plan(CONFIG, AXES, out=tmp / "unused")
        n = len(plan.runs)
        assert n == 64, n
        serial = [serial_seconds(plan, tmp / f"serial{i}") for i in range(repeats)]
        pooled = []
        for i in range(repeats):
            seconds, result = pool_seconds(tmp / f"pool{i}")
            assert result.exit_code == 0 and result.counts == {"ok": n}, result.counts
            pooled.append(seconds)
        cli = process_wall(
            workbench_argv(
                "sweep",
                str(CONFIG),
                *AXES,
                "--workers",
                str(WORKERS),
                "--quiet",
                "--out",
                str(tmp / "cli"),
            )
        )
        resumed = process_wall(
            workbench_argv(
                "sweep",
                str(CONFIG),
                *AXES,
                "--workers",
                str(WORKERS),
                "--quiet",
                "--out",
                str(tmp / "cli"),
            )
        )
    t_serial, t_pool = statistics.median(serial), statistics.median(pooled)
    overhead = (WORKERS * t_pool - t_serial) / n
    print(
        f"{n} arm runs (configs/arm.yaml, 8 x 8 tolerances), {WORKERS} local workers, "
        f"medians of {repeats}"
    )
    print(
        f"  T_serial (sum of serial run times, one warm process) {t_serial:8.3f} s "
        f"({t_serial / n * 1e3:.1f} ms per run)"
    )
    print(
        f"  T_pool   (sweep wall time, Python API)               {t_pool:8.3f} s  "
        f"(each: {', '.join(f'{s:.2f}' for s in pooled)})"
    )
    print(
        f"  overhead per run (2 x T_pool - T_serial) / {n}        {overhead:8.3f} s   "
        f"target < 0.3 s: {'met' if overhead < 0.3 else 'NOT met'}"
    )
    print(
        f"  `workbench sweep` process wall time                  {cli:8.3f} s "
        f"(overhead per run {(WORKERS * cli - t_serial) / n:.3f} s)"
    )
    print(f"  the same command again (all {n} runs resumed/skipped) {resumed:8.3f} s")


if __name__ == "__main__":
    main()
