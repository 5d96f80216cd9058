"""Experiment files: loading YAML, command-line overrides, validation and the resolved dump.

Everything here fails with :class:`ConfigError`, whose ``str`` is one line such as
``configs/arm.yaml: solver.rtol: must be > 0, got -1``.

The parts: :mod:`.loading` (YAML, limits, duplicate keys), :mod:`.overrides` (``KEY=VALUE``)
and :mod:`.messages` (pydantic's errors in the file's terms). This module chooses the schema
by the ``experiment`` kind and validates.

Key paths in messages are dotted (``solver.rtol``); list items are written with an index in
brackets (``solver.t_eval[3]``); the tag of a discriminated union (``torque: {kind: ...}``) is
left out, so an error in the ``sines`` member of ``torque`` reads ``torque.amplitudes``.

pydantic is imported lazily (only :func:`resolve` needs it) to keep ``import workbench.config``
cheap.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import yaml

from .loading import LIMITS, Dumper, Loader, limit, load_file, load_yaml
from .messages import ConfigError, did_you_mean, from_validation, show
from .overrides import apply_overrides, parse_override

if TYPE_CHECKING:
    from workbench.experiments.base import ExperimentConfig

__all__ = [
    "LIMITS",
    "SWEEP_KEY",
    "ConfigError",
    "Dumper",
    "Loader",
    "apply_overrides",
    "dump_resolved",
    "limit",
    "load_file",
    "load_yaml",
    "parse_override",
    "resolve",
    "resolve_dict",
    "split_sweep",
]

#: The top-level key of a sweep's axes (see :mod:`workbench.sweeps`); no experiment has it.
SWEEP_KEY = "sweep"


def split_sweep(raw: dict) -> tuple[dict, Any]:
    """Split a sweep file's mapping into the base experiment and its axes.

    :func:`resolve_dict` refuses a mapping with a ``sweep:`` section, so that ``workbench run``
    on a sweep file is an error; the sweep code resolves each combination from the base.

    Parameters
    ----------
    raw : dict
        A loaded experiment or sweep file (:func:`load_file`).

    Returns
    -------
    base : dict
        ``raw`` without its ``sweep:`` section.
    sweep : object
        That section as written, or None when there is none.
    """
    base = {key: value for key, value in raw.items() if key != SWEEP_KEY}
    return base, raw.get(SWEEP_KEY)


def resolve(path: str | os.PathLike[str], overrides: Iterable[str] = ()) -> ExperimentConfig:
    """Load an experiment file, apply overrides and validate it against its kind's schema.

    Parameters
    ----------
    path : str or path-like
        The YAML experiment file.
    overrides : iterable of str
        ``KEY=VALUE`` overrides (``solver.rtol=1e-8``), applied in order.

    Returns
    -------
    ExperimentConfig
        The validated config of the kind named by the file's ``experiment`` key.

    Raises
    ------
    ConfigError
        For any problem with the file, an override or a value, in one line.
    """
    return resolve_dict(load_file(path), overrides, file=path)


def resolve_dict(
    raw: dict, overrides: Iterable[str] = (), *, file: str | os.PathLike[str] | None = None
) -> ExperimentConfig:
    """Like :func:`resolve`, for an already loaded mapping.

    Parameters
    ----------
    raw : dict
        The file's mapping (it is not changed).
    overrides : iterable of str
        ``KEY=VALUE`` overrides, applied in order.
    file : str or path-like, optional
        The file the mapping came from, only used in messages.

    Returns
    -------
    ExperimentConfig
        The validated config.
    """
    from pydantic import ValidationError

    from workbench import experiments

    overrides = list(overrides)
    try:
        data = apply_overrides(raw, overrides)
    except ConfigError as exc:  # say which file the override was applied to
        raise ConfigError(exc.problem, file=file, key=exc.key) from None
    if SWEEP_KEY in data:
        raise ConfigError(
            "this file describes a sweep (it has a sweep: section); run it with "
            "`workbench sweep`, or remove the section to run one experiment",
            file=file,
            key=SWEEP_KEY,
        )
    kind = data.get("experiment")
    known = ", ".join(sorted(experiments.KINDS))
    if kind is None:
        raise ConfigError(
            f"missing; say which experiment to run (known kinds: {known})",
            file=file,
            key="experiment",
        )
    if not isinstance(kind, str) or kind not in experiments.KINDS:
        hint = did_you_mean(kind, experiments.KINDS) if isinstance(kind, str) else ""
        raise ConfigError(
            f"unknown experiment kind {show(kind)}{hint} (known kinds: {known})",
            file=file,
            key="experiment",
        )
    model = experiments.get(kind).config_model
    try:
        cfg = model.model_validate(data)
    except ValidationError as exc:
        # apply_overrides has parsed each override already (parsing is cached)
        overridden = {tuple(parse_override(text)[0]): text for text in overrides}
        raise from_validation(exc, model, data, file, overridden) from None
    if not cfg.name:
        cfg.name = kind
    return cfg


def dump_resolved(cfg: ExperimentConfig) -> str:
    """The fully resolved config as YAML, in schema order; :func:`resolve` reads it back.

    Parameters
    ----------
    cfg : ExperimentConfig
        A validated config.

    Returns
    -------
    str
        YAML text with every default written out.
    """
    return yaml.dump(
        cfg.model_dump(mode="json"),
        Dumper=Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
    )
