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


def _per_call(fn, number: int) -> float:
    t = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t) / number


def paired_times(
    ours, reference, rounds: int = 9, number: int = 1, ref_number: int = 1
) -> tuple[float, float, float]:
    """Median seconds per call of ``ours`` and ``reference`` and the median of the per-round
    ratios, the two timed alternately in each round.

    On a shared machine a burst of load can land on one side of a ratio timed as two separate
    medians; alternating puts both sides in the same stretch of time, and the median of the
    round ratios discards the rounds a burst spoilt.
    """
    median_time(ours, repeats=1, number=number)  # warm-up (JIT, caches, idle threads)
    median_time(reference, repeats=1, number=ref_number)
    t_ours, t_ref = [], []
    for _ in range(rounds):
        t_ours.append(_per_call(ours, number))
        t_ref.append(_per_call(reference, ref_number))
    ratio = statistics.median(r / o for o, r in zip(t_ours, t_ref, strict=True))
    return statistics.median(t_ours), statistics.median(t_ref), ratio


def process_wall(argv: list[str], env: dict | None = None) -> float:
    """Wall seconds of one process start to exit; raises if it fails."""
    t = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env={**os.environ, **(env or {})})
    return time.perf_counter() - t


def workbench_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "workbench.cli", *args]


def report(
    label: str, ours: float, reference: float, unit: str = "ms", ratio: float | None = None
) -> None:
    """One line: both times and their ratio (``ratio``, e.g. from :func:`paired_times`, when
    given; else reference / ours)."""
    scale = 1e3 if unit == "ms" else 1.0
    ratio = reference / ours if ratio is None else ratio
    print(
        f"{label:<58} ours {ours * scale:10.4f} {unit}   reference {reference * scale:10.3f} {unit}"
        f"   ratio {ratio:8.1f}x"
    )
