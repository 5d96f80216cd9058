"""Sweeps: many runs of one experiment over a grid (or a random sample) of config values.

::

    from workbench import sweeps

    p = sweeps.plan("configs/sweep_arm_tolerances.yaml", ["solver.t_span=[0,0.5]"])
    result = sweeps.run(p, executor="local", workers=2, timeout=60)
    result.exit_code, result.counts, result.path      # 0, {"ok": 16}, runs/arm_tolerances-...
    sweeps.load_summary(result.path)                  # the rows of summary.json

A script that calls :func:`run` with the local executor must guard its top level with
``if __name__ == "__main__":``: workers are started with ``spawn``, which imports the main
module again in each of them.

:func:`plan` reads the config, expands the axes (the file's ``sweep:`` section, then the
command line's, which add axes or replace those of the same key) and resolves every
combination through the experiment's schema and checks before anything runs: a bad
combination is a :class:`SweepError` naming it. :func:`run` runs what is not done yet into the
sweep folder, on local processes (:mod:`workbench.sweeps.local`) or Dask
(:mod:`workbench.sweeps.dask_executor`), and returns a :class:`SweepResult`; the sweep
folder, resuming and stopping are described in :mod:`workbench.sweeps.driver`.

The ``sweep:`` section of a config file is either a mapping of axes::

    sweep:
      solver.rtol: logspace(-3, -6, 4)
      solver.atol: [1e-6, 1e-7, 1e-8, 1e-9]

or, with options, ``axes:`` plus any of ``random`` (draw that many combinations), ``seed``
(for ``random``), ``sort`` (the column the final table is sorted by; ``-name`` descending)
and ``reference`` (``overrides``: values applied on top of each combination to make its
reference run; ``arrays``: the output arrays compared, giving the ``error_<array>`` columns:
the largest absolute difference between the run's array and its reference's).

The modules: ``axes`` parses the axes (``KEY=V1,V2``, ``linspace(a,b,n)``...) and expands them
into combinations; ``planning`` resolves every combination into a run before anything runs
(:func:`plan`); ``driver`` runs a plan into the sweep folder (:func:`run`); ``progress``
reports progress; ``results`` holds what a sweep did and shows it (table, failures, plot);
``worker`` is what runs in a worker process (a local pool process or a Dask worker): it must
stay importable without the parent's ``__main__``; ``local`` and ``dask_executor`` run tasks;
``summary`` writes and reads ``summary.csv``/``summary.json`` and draws the sweep plot.

The names below are imported on first use, so that importing a submodule (a worker process
imports :mod:`workbench.sweeps.worker`) does not import the rest: a worker limits Numba's
threads before anything imports Numba.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .driver import EXECUTORS, check_options, run
    from .planning import SweepError, SweepPlan, plan
    from .progress import Reporter, RichReporter
    from .results import (
        SweepResult,
        failure_lines,
        is_sweep_folder,
        plot,
        sorted_rows,
        summary_table,
    )
    from .summary import SUMMARY_CSV, SUMMARY_JSON, SWEEP_FILE, load_summary

#: The public names and the submodule that defines each.
_WHERE = {
    "EXECUTORS": "driver",
    "check_options": "driver",
    "run": "driver",
    "SweepError": "planning",
    "SweepPlan": "planning",
    "plan": "planning",
    "Reporter": "progress",
    "RichReporter": "progress",
    "SweepResult": "results",
    "failure_lines": "results",
    "is_sweep_folder": "results",
    "plot": "results",
    "sorted_rows": "results",
    "summary_table": "results",
    "SUMMARY_CSV": "summary",
    "SUMMARY_JSON": "summary",
    "SWEEP_FILE": "summary",
    "load_summary": "summary",
}

__all__ = [
    "EXECUTORS",
    "SUMMARY_CSV",
    "SUMMARY_JSON",
    "SWEEP_FILE",
    "Reporter",
    "RichReporter",
    "SweepError",
    "SweepPlan",
    "SweepResult",
    "check_options",
    "failure_lines",
    "is_sweep_folder",
    "load_summary",
    "plan",
    "plot",
    "run",
    "sorted_rows",
    "summary_table",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
