"""The bundled arm experiments load their kernels from Numba's on-disk cache in a new process.

Each check runs twice in fresh processes: the first may compile (and fills the cache), the
second must only load. Numba 0.68 recompiles a cached function that receives a dispatcher in
every process; the arm passes its right-hand side as a C callback's address, so this holds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
from workbench.config import resolve
from workbench.experiments import arm
from workbench.integrate import _batch, _rk45
from workbench.models.arm import ARM_RHS

cfg = resolve(sys.argv[1], sys.argv[3:])
arm.run(cfg, sys.argv[2])
kernels = {"solve_one": _rk45.solve_one, "batch_parallel": _batch.batch_parallel}
stats = {name: [sum(k.stats.cache_hits.values()), sum(k.stats.cache_misses.values())]
         for name, k in kernels.items()}
stats["arm_rhs_cfunc"] = [ARM_RHS.cfunc.cache_hits, 0]
print(json.dumps(stats))
"""


def probe(config: str, target: str, *overrides: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT / config), target, *overrides],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("config", "target", "overrides", "kernel"),
    [
        ("configs/arm.yaml", "cpu", (), "solve_one"),
        ("configs/arm_ensemble.yaml", "parallel", ("ensemble.size=16",), "batch_parallel"),
    ],
)
def test_second_process_loads_kernels_from_cache(config, target, overrides, kernel):
    probe(config, target, *overrides)  # may compile and fill the cache
    stats = probe(config, target, *overrides)
    hits, misses = stats[kernel]
    assert hits >= 1 and misses == 0, stats
    assert stats["arm_rhs_cfunc"][0] == 1, stats
