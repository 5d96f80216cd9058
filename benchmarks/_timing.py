"""Small timing helpers shared by the benchmarks: medians after warm-up, process starts."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time


def median_time(fn, repeats: int = 7, number: int = 1, warmup_s: float = 0.25) -> float:
    """Median seconds per call of ``fn`` over ``repeats`` rounds of ``number`` calls.

    The warm-up calls ``fn`` for at least ``warmup_s`` seconds: beyond JIT compilation and
    caches, that lets the thread pool of whatever ran before (OpenBLAS and numba threads
    spin for a while after their last task) go idle, so that on a small machine the two
    sides of a ratio do not time each other's spinning threads.
    """
    fn()  # JIT compilation, caches
    end = time.perf_counter() + warmup_s
    while time.perf_counter() < end:
        fn()
    rounds = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        rounds.append((time.perf_counter() - t) / number)
    return statistics.median(rounds)


def process_wall(argv: list[str], env: dict | None = None) -> float:
    """Wall seconds of one process start to exit; raises if it fails."""
    t = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env={**os.environ, **(env or {})})
    return time.perf_counter() - t


def workbench_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "workbench.cli", *args]


def report(label: str, ours: float, reference: float, unit: str = "ms") -> None:
    scale = 1e3 if unit == "ms" else 1.0
    print(
        f"{label:<58} ours {ours * scale:10.4f} {unit}   reference {reference * scale:10.3f} {unit}"
        f"   ratio {reference / ours:8.1f}x"
    )
