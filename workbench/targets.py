"""Which compute target a run uses: ``cpu``, ``parallel`` (CPU threads) or ``cuda``.

numba and numba.cuda are imported inside the functions: importing numba.cuda takes most of a
second, and nothing needs it unless a batched run asks ``auto`` or ``cuda``.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

__all__ = [
    "TARGETS",
    "Choice",
    "TargetError",
    "choose_target",
    "cpu_threads",
    "cuda_available",
    "cuda_status",
    "threading_layer",
]

TARGETS = ("auto", "cpu", "parallel", "cuda")


class TargetError(ValueError):
    """A target that was asked for cannot be used, or is not a target at all."""


@dataclass(frozen=True)
class Choice:
    """The target a run will use, and why (shown to the user)."""

    name: str
    reason: str


def _simulator_enabled() -> bool:
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0").strip() not in ("", "0")


def cuda_status() -> tuple[bool, str]:
    """``(usable, why)`` for CUDA; the driver is probed once per process. Never raises."""
    if _simulator_enabled():
        return True, "the CUDA simulator is enabled (NUMBA_ENABLE_CUDASIM=1)"
    return _probe_driver()


@functools.lru_cache(maxsize=1)
def _probe_driver() -> tuple[bool, str]:
    try:
        from numba import cuda
    except Exception as exc:  # no numba-cuda, or a broken install
        return False, f"numba.cuda cannot be imported ({_first_line(exc)})"
    try:
        if cuda.is_available():
            return True, "a CUDA GPU is usable"
        error = cuda.cuda_error()
    except Exception as exc:
        return False, _first_line(exc)
    if error is not None:
        return False, _first_line(error)
    return False, "the CUDA driver loaded but NVVM (the CUDA compiler library) was not found"


def cuda_available() -> bool:
    """Whether a CUDA GPU (or the CUDA simulator) can run kernels; never raises."""
    try:
        return cuda_status()[0]
    except Exception:
        return False


def _first_line(exc: object) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def choose_target(requested: str, *, batched: bool) -> Choice:
    """The target for a run; ``batched`` says whether it runs many independent problems.

    ``auto`` takes cuda for a batched run when a GPU is usable, else parallel for a batched
    run, else cpu. Asking for ``cuda`` without a usable GPU is a :class:`TargetError`: a
    silent fallback would make timings and results look like GPU ones when they are not.
    """
    name = str(requested).strip().lower()
    if name not in TARGETS:
        raise TargetError(f"unknown target {requested!r}; accepted: {', '.join(TARGETS)}")
    if name == "auto":
        if not batched:  # one problem gains nothing from threads or a GPU; skip the CUDA probe
            return Choice("cpu", "auto: one problem (not batched) -> cpu")
        if cuda_available():
            return Choice("cuda", "auto: batched run and a CUDA GPU is usable -> cuda")
        return Choice("parallel", f"auto: batched run, no usable CUDA GPU ({_why()}) -> parallel")
    if name == "cuda" and not cuda_available():
        raise TargetError(
            f"target 'cuda' requested but no CUDA GPU is usable: {_why()}; "
            "use --target parallel or cpu"
        )
    return Choice(name, f"{name}: requested")


def _why() -> str:
    usable, why = cuda_status()
    # cuda_available() may have been replaced (tests); then the probe's reason does not apply.
    return "not available" if usable else why


def cpu_threads() -> int:
    """Threads numba's parallel target uses (``NUMBA_NUM_THREADS``)."""
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


def threading_layer(*, initialise: bool = False) -> str:
    """numba's threading layer (``omp``, ``tbb``, ``workqueue``) or ``"not initialised"``.

    The layer is only chosen when the first parallel function runs; with ``initialise=True`` a
    tiny one is compiled and run first (about a second), so the answer is always a layer.
    """
    import numba

    if initialise:
        _run_tiny_parallel()
    try:
        return str(numba.threading_layer())
    except ValueError:  # "Threading layer is not initialized."
        return "not initialised"


def _run_tiny_parallel() -> None:
    import numba
    import numpy as np

    @numba.njit(parallel=True, cache=False)
    def tiny(x):
        total = 0.0
        for i in numba.prange(x.shape[0]):
            total += x[i]
        return total

    tiny(np.ones(4))
