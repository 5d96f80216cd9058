"""The bundled experiments load their kernels from Numba's on-disk cache in a new process.

Each check runs twice in fresh processes: the first may compile (and fills the cache), the
second must only load. Numba 0.68 recompiles a cached function that receives a dispatcher in
every process; the bundled experiments pass their right-hand side or objective as a C
callback's address, so this holds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import importlib, json, sys
from workbench import experiments
from workbench.config import resolve

cfg = resolve(sys.argv[1], sys.argv[4:])
experiments.get(cfg.experiment).run(cfg, sys.argv[2])
stats = {}
for path in sys.argv[3].split(","):
    module, name = path.rsplit(".", 1)
    obj = getattr(importlib.import_module(module), name)
    if callable(obj) and not hasattr(obj, "stats") and not hasattr(obj, "cfunc"):
        obj = obj()  # a getter that builds its callback on first use
    if hasattr(obj, "stats"):
        stats[path] = [sum(obj.stats.cache_hits.values()), sum(obj.stats.cache_misses.values())]
    else:  # a CompiledRHS / CompiledObjective: its cfunc is compiled once, at definition,
        # either loaded from the cache (one hit) or compiled (no hit: a miss)
        hits = obj.cfunc.cache_hits
        stats[path] = [hits, 1 - hits]
print(json.dumps(stats))
"""

CASES = [
    (
        "configs/arm.yaml",
        "cpu",
        (),
        "workbench.integrate._entries_RK45.to_grid,workbench.models.arm.ARM_RHS",
    ),
    (
        "configs/arm_ensemble.yaml",
        "parallel",
        ("ensemble.size=16",),
        "workbench.integrate._entries_RK45.batch_parallel,workbench.models.arm.ARM_RHS",
    ),
    (
        "configs/logreg.yaml",
        "cpu",
        (),
        "workbench.optimize._bfgs_kernel.bfgs_one,workbench.models.logistic.LOGISTIC",
    ),
    (
        "configs/logreg_large.yaml",
        "parallel",
        (),
        "workbench.optimize._bfgs_kernel.bfgs_one,workbench.models.logistic.threaded_objective",
    ),
    (
        "configs/logreg_bootstrap.yaml",
        "parallel",
        ("bootstrap.resamples=16",),
        "workbench.optimize._batch.batch_parallel,workbench.models.logistic.LOGISTIC",
    ),
    (
        "configs/train_mlp.yaml",
        "cpu",
        ("training.epochs=1",),
        "workbench.models.nets._forward_backward,workbench.models.nets._logits,"
        "workbench.optim._kernels.rmsprop_cpu",
    ),
    (
        "configs/optimizers.yaml",
        "cpu",
        ("training.epochs=1",),
        "workbench.optim._kernels.rmsprop_cpu,workbench.optim._kernels.sgd_cpu,"
        "workbench.optim._kernels.adam_cpu",
    ),
    (
        "configs/lm_gru.yaml",
        "cpu",
        ("training.epochs=1", "model.hidden=16", "sample.length=5"),
        "workbench.models.gru._run,workbench.models.gru._sample,"
        "workbench.optim._kernels.rmsprop_cpu",
    ),
]


def probe(config: str, target: str, kernels: str, *overrides: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT / config), target, kernels, *overrides],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("config", "target", "overrides", "kernels"), CASES)
def test_second_process_loads_kernels_from_cache(config, target, overrides, kernels):
    probe(config, target, kernels, *overrides)  # may compile and fill the cache
    stats = probe(config, target, kernels, *overrides)
    for name, (hits, misses) in stats.items():
        assert hits >= 1 and misses == 0, (name, stats)
