"""Experiment kinds, looked up by the ``experiment:`` key of a config file.

Modules are imported lazily so that ``workbench list`` and start-up stay cheap.
"""

from __future__ import annotations

import importlib

from .base import Experiment

KINDS: dict[str, str] = {
    "arm": "workbench.experiments.arm",
    "logreg": "workbench.experiments.logreg",
    "train": "workbench.experiments.train",
    "lm": "workbench.experiments.lm",
}


def get(kind: str) -> Experiment:
    """The :class:`Experiment` registered under ``kind`` (KeyError if unknown)."""
    return importlib.import_module(KINDS[kind]).EXPERIMENT
