"""What every experiment kind provides, and the top-level config keys they share.

An experiment module (``workbench/experiments/<kind>.py``) exposes ``EXPERIMENT``, an
:class:`Experiment`. The CLI and the sweep code only talk to experiments through it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

Target = Literal["auto", "cpu", "parallel", "cuda"]


class Section(BaseModel):
    """Base of every config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


class ExperimentConfig(Section):
    """Keys every experiment file has at its top level."""

    experiment: str
    name: str = ""
    target: Target = "auto"
    seed: int = 0
    output: str = "runs"


#: Upper bounds on counts in configs, so that a typo (``samples: 1e12``) is a clear error at
#: validation and not an allocation of terabytes: samples and members, steps and epochs, and
#: widths (features, hidden units, classes).
MAX_SAMPLES = 10_000_000
MAX_STEPS = 100_000_000
MAX_WIDTH = 100_000


def available_memory() -> int | None:
    """Bytes of physical memory free now (None where the system does not say)."""
    import os

    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _size(nbytes: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.3g} {unit}" if unit != "bytes" else f"{int(nbytes)} bytes"
        nbytes /= 1024
    return f"{nbytes:.3g} PiB"


def check_memory(key: str, nbytes: float, what: str) -> None:
    """Raise :class:`ProblemError` on ``key`` before anything is allocated when a run's
    arrays (``nbytes``, an estimate: ``what`` says of what) would not fit in the memory free
    now."""
    free = available_memory()
    if free is not None and nbytes > free:
        raise ProblemError(
            key,
            f"the run's arrays would take about {_size(nbytes)} ({what}); this machine has "
            f"{_size(free)} free: make the run smaller",
        )


class ProblemError(ValueError):
    """A config that validates but cannot be run (a torque file that is not a table, say).

    ``key`` is the dotted key path the problem belongs to; the CLI reports it like a config
    error (exit 2) before any run folder is created.
    """

    def __init__(self, key: str, problem: str):
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


@dataclass
class Outcome:
    """What one run of an experiment produced.

    ``status`` is 0 on success; anything else means the run finished but the solver
    reported failure (or some ensemble members failed), and the CLI exits 1.
    ``figures`` are the key numbers shown in the summary and written to result.json;
    ``arrays`` go to arrays.npz.
    """

    status: int
    message: str
    figures: dict[str, Any]
    arrays: dict[str, np.ndarray]
    target: str
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: extra text files for the run folder (name -> content), e.g. a vocabulary
    files: dict[str, str] = field(default_factory=dict)


def median_time(fn, repeats: int) -> float:
    """Median wall seconds of ``fn()`` over ``repeats`` calls (call it once before: warm-up)."""
    import time

    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


@dataclass
class ComparisonRow:
    """One row of ``workbench compare``: our kernel against the reference."""

    quantity: str
    ours: Any
    reference: Any


@dataclass
class Comparison:
    """Result of running an experiment with our kernel and with its scipy/numpy reference."""

    rows: list[ComparisonRow]
    max_abs_diff: float
    max_rel_diff: float
    ours_seconds: float
    reference_seconds: float

    @property
    def speedup(self) -> float:
        """How many times faster ours ran than the reference (inf when ours took no time)."""
        return self.reference_seconds / self.ours_seconds if self.ours_seconds > 0 else float("inf")


@dataclass
class Experiment:
    """An experiment kind: its schema and how to run, compare and plot it.

    ``check(config, base_dir)`` raises :class:`ProblemError` for what the schema cannot see
    (files, table ranges) before anything runs. ``run(config, target, progress, base_dir)`` does
    the work; ``progress`` is a callable ``progress(done, total, note=None)`` (or None) that
    batched kinds call between chunks (``note``, when given, replaces the bar's description:
    a training run shows its running loss there). ``base_dir`` is the config file's folder,
    for relative paths.
    """

    kind: str
    summary: str
    config_model: type[ExperimentConfig]
    run: Callable[..., Outcome]
    compare: Callable[..., Comparison]
    plot: Callable[..., None]
    is_batched: Callable[[ExperimentConfig], bool]
    check: Callable[..., None] = field(default=lambda cfg, base_dir=None: None)
    #: Whether ``run`` takes ``checkpoint=``: an object with ``save_checkpoint(arrays, meta)``
    #: and ``load_checkpoint()`` (a :class:`workbench.runs.RunDir`), so that an interrupted run
    #: can be resumed (``workbench run --resume``).
    checkpoints: bool = False
    #: Whether a run reports progress (a bar in the terminal); batched runs always do.
    long_running: Callable[[ExperimentConfig], bool] = field(default=lambda cfg: False)
    #: ``shrink(config)`` edits a config (a plain dict, as dumped) in place into a short run
    #: that calls the same compiled kernels, with which a sweep warms its workers up; None:
    #: this kind is not shrunk, and a sweep runs its first run alone before the others.
    shrink: Callable[[dict], None] | None = None

    def shows_progress(self, cfg: ExperimentConfig) -> bool:
        """Whether a run of this config reports progress (a bar in the terminal).

        Parameters
        ----------
        cfg : ExperimentConfig
            The validated config.

        Returns
        -------
        bool
            True for a batched run (``is_batched``) or a long-running one (``long_running``).
        """
        return self.is_batched(cfg) or self.long_running(cfg)
