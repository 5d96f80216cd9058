"""Planning a sweep: the ``sweep:`` section and command-line axes, expanded into runs, each
resolved through the experiment's schema and checks before anything runs."""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import ConfigError, dump_resolved, load_file, resolve_dict, split_sweep
from ..targets import TargetError, choose_target
from .axes import Axis, axis_from_yaml, grid, parse_axis, sample, show, yaml_text
from .summary import (
    plain,
)

SECTION_KEYS = ("axes", "random", "seed", "sort", "reference")
HASH_LEN = 10


class SweepError(ConfigError):
    """A sweep that cannot start: bad axes, a bad combination, bad options (exit status 2)."""


@dataclass
class PlannedRun:
    """One combination: its axis values, resolved config and run folder name."""

    index: int
    values: dict[str, Any]
    cfg: Any
    text: str
    hash: str
    key: str
    reference: str | None = None  # key of its reference run

    def label(self) -> str:
        """The combination as ``key=value`` pairs, for messages.

        Returns
        -------
        str
            The axis values, comma-separated, in axis order.
        """
        return ", ".join(f"{k}={show(v)}" for k, v in self.values.items())


@dataclass
class Reference:
    """A reference run of a sweep: a combination with ``sweep.reference.overrides`` applied.

    Combinations that give the same reference config share one.

    Attributes
    ----------
    key : str
        The run's folder name, ``ref-<hash>``.
    cfg : Config
        The resolved config.
    text : str
        The resolved config as YAML.
    hash : str
        The first digits of the text's SHA-256 (:func:`config_hash`).
    """

    key: str
    cfg: Any
    text: str
    hash: str


@dataclass
class SweepPlan:
    """A validated sweep, ready to :func:`~workbench.sweeps.run`."""

    config: Path
    name: str
    kind: str
    base: dict
    axes: list[Axis]
    runs: list[PlannedRun]
    out: Path
    random: int | None = None
    seed: int = 0
    sort: str | None = None
    references: list[Reference] = field(default_factory=list)
    reference_overrides: dict[str, Any] = field(default_factory=dict)
    reference_arrays: list[str] = field(default_factory=list)

    @property
    def base_dir(self) -> Path:
        """The config file's folder, for the runs' relative paths."""
        return self.config.parent

    @property
    def error_columns(self) -> list[str]:
        """The summary's ``error_<array>`` columns, one per ``sweep.reference.arrays`` entry."""
        return [f"error_{a}" for a in self.reference_arrays]

    def describe(self) -> dict[str, Any]:
        """What ``sweep.yaml`` records."""
        return plain(
            {
                "name": self.name,
                "experiment": self.kind,
                "config": str(self.config.resolve()),
                "mode": "random" if self.random else "grid",
                "random": self.random,
                "seed": self.seed,
                "sort": self.sort,
                "axes": {ax.key: ax.values for ax in self.axes},
                "axis_specs": {ax.key: ax.spec for ax in self.axes},
                "reference": {
                    "overrides": self.reference_overrides,
                    "arrays": self.reference_arrays,
                    "runs": [r.key for r in self.references],
                }
                if self.references
                else None,
                "base": self.base,
                "runs": [
                    {"index": r.index, "folder": r.key, "values": r.values}
                    | ({"reference": r.reference} if r.reference else {})
                    for r in self.runs
                ],
            }
        )


def config_hash(text: str) -> str:
    """The first HASH_LEN hex digits of the SHA-256 of a resolved config (run folder names)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_LEN]


def _parse_section(section: Any, file: Path) -> tuple[list[Axis], dict[str, Any]]:
    if section is None:
        return [], {}
    if not isinstance(section, dict) or not section:
        raise SweepError(
            "expected a mapping of axes (KEY: [values] or KEY: logspace(a,b,n)), or axes: with "
            f"options ({', '.join(SECTION_KEYS[1:])})",
            file=file,
            key="sweep",
        )
    if "axes" not in section:
        return [axis_from_yaml(k, v, file=file) for k, v in section.items()], {}
    for key in section:
        if key not in SECTION_KEYS:
            raise SweepError(
                f"unknown key {key!r} beside axes: (accepted: {', '.join(SECTION_KEYS)})",
                file=file,
                key=f"sweep.{key}",
            )
    axes_map = section["axes"]
    if not isinstance(axes_map, dict) or not axes_map:
        raise SweepError("expected a mapping of axes, KEY: [values]", file=file, key="sweep.axes")
    axes = [axis_from_yaml(k, v, file=file, where="sweep.axes") for k, v in axes_map.items()]
    options = {k: v for k, v in section.items() if k != "axes"}
    rnd = options.get("random")
    if rnd is not None and (isinstance(rnd, bool) or not isinstance(rnd, int) or rnd < 1):
        raise SweepError(
            f"expected a count >= 1 or null, got {rnd!r}", file=file, key="sweep.random"
        )
    seed = options.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise SweepError(f"expected an integer, got {seed!r}", file=file, key="sweep.seed")
    sort = options.get("sort")
    if sort is not None and not isinstance(sort, str):
        raise SweepError(f"expected a column name, got {sort!r}", file=file, key="sweep.sort")
    ref = options.get("reference")
    if ref is not None:
        if not isinstance(ref, dict) or set(ref) - {"overrides", "arrays"}:
            raise SweepError(
                "expected a mapping with overrides: {KEY: value, ...} and arrays: [name, ...]",
                file=file,
                key="sweep.reference",
            )
        overrides, arrays = ref.get("overrides"), ref.get("arrays")
        if not isinstance(overrides, dict) or not overrides:
            raise SweepError(
                "expected a mapping of KEY: value applied on top of each combination "
                "(e.g. {solver.rtol: 1e-12})",
                file=file,
                key="sweep.reference.overrides",
            )
        if (
            not isinstance(arrays, list)
            or not arrays
            or not all(isinstance(a, str) and a for a in arrays)
        ):
            raise SweepError(
                "expected a list of output array names (e.g. [q])",
                file=file,
                key="sweep.reference.arrays",
            )
    return axes, options


def plan(
    config: str | os.PathLike[str],
    axes: Iterable[str] = (),
    *,
    random: int | None = None,
    seed: int | None = None,
    sort: str | None = None,
    out: str | os.PathLike[str] | None = None,
) -> SweepPlan:
    """Plan a sweep: read a config, add command-line axes and resolve every combination.

    The axes are the file's ``sweep:`` section, then ``axes`` (which add axes or replace those
    of the same key, keeping their place). Every combination (and reference run) is resolved
    through the experiment's schema and checks, and its target chosen, before anything runs;
    nothing is written.

    Parameters
    ----------
    config : str or path-like
        The config file, with or without a ``sweep:`` section.
    axes : iterable of str, optional
        Command-line axes, ``KEY=V1,V2,...`` or ``KEY=linspace(a,b,n)`` etc.
    random : int, optional
        Draw this many combinations at random instead of the whole grid (>= 1); default the
        section's ``random``.
    seed : int, optional
        Seed for ``random`` (default the section's ``seed``, else 0).
    sort : str, optional
        Column the final table is sorted by (``-name``: descending); default the section's
        ``sort``.
    out : str or path-like, optional
        The sweep folder; default ``<output>/<name>-sweep-<YYYYmmdd-HHMMSS>`` from the first
        combination's config.

    Returns
    -------
    SweepPlan
        The validated sweep: ``runs`` (one :class:`PlannedRun` per combination, with its
        resolved config and folder name ``<index>-<hash>``), ``references``, ``axes``, ``out``
        and the options; ready for :func:`workbench.sweeps.run`.

    Raises
    ------
    SweepError
        (a :class:`~workbench.config.ConfigError`) for anything wrong: no axes, a bad axis or
        section, too large a grid, ``random < 1``, a combination the experiment rejects, two
        combinations giving the same config; the message names the file, the axis or the
        combination.
    """
    from .. import experiments
    from ..experiments.base import ProblemError

    path = Path(config)
    raw = load_file(path)
    base, section = split_sweep(raw)
    file_axes, options = _parse_section(section, path)
    merged: dict[str, Axis] = {ax.key: ax for ax in file_axes}
    for text in axes:
        ax = parse_axis(text)
        merged[ax.key] = ax  # replaces the file's axis of that key, keeping its place
    if not merged:
        raise SweepError(
            "nothing to sweep: give axes as KEY=V1,V2,... after the config file, or a sweep: "
            "section in it",
            file=path,
        )
    axis_list = list(merged.values())
    if random is not None and random < 1:
        raise SweepError(f"--random: expected a count >= 1, got {random}")
    n_random = random if random is not None else options.get("random")
    seed = seed if seed is not None else options.get("seed", 0) or 0
    try:
        combos = sample(axis_list, n_random, seed) if n_random else grid(axis_list)
    except ConfigError as exc:
        raise SweepError(exc.problem, file=path) from None

    width = max(3, len(str(len(combos) - 1)))
    runs: list[PlannedRun] = []
    seen: dict[str, PlannedRun] = {}
    exp_cache: dict[str, Any] = {}

    def resolve(values: dict[str, Any], extra: dict[str, Any], what: str):
        texts = [f"{k}={yaml_text(v)}" for k, v in {**values, **extra}.items()]
        try:
            cfg = resolve_dict(base, texts, file=path)
            exp = exp_cache.get(cfg.experiment) or experiments.get(cfg.experiment)
            exp_cache[cfg.experiment] = exp
            exp.check(cfg, path.parent)
            choose_target(cfg.target, batched=exp.is_batched(cfg))
        except TargetError as exc:
            raise SweepError(f"{what}: target: {exc}", file=path) from None
        except ConfigError as exc:
            where = f"{exc.key}: " if exc.key else ""
            more = f" (and {len(exc.more)} more)" if exc.more else ""
            raise SweepError(f"{what}: {where}{exc.problem}{more}", file=path) from None
        except ProblemError as exc:
            raise SweepError(f"{what}: {exc}", file=path) from None
        text = dump_resolved(cfg)
        return cfg, text, config_hash(text)

    for i, values in enumerate(combos):
        label = ", ".join(f"{k}={show(v)}" for k, v in values.items())
        cfg, text, digest = resolve(values, {}, f"sweep combination {i} ({label})")
        if digest in seen:
            other = seen[digest]
            raise SweepError(
                f"sweep combinations {other.index} ({other.label()}) and {i} ({label}) give "
                "the same config; remove the duplicate value",
                file=path,
            )
        run_ = PlannedRun(i, values, cfg, text, digest, f"{i:0{width}d}-{digest}")
        seen[digest] = run_
        runs.append(run_)

    references: dict[str, Reference] = {}
    ref_opts = options.get("reference") or {}
    ref_overrides = dict(ref_opts.get("overrides") or {})
    for run_ in runs if ref_overrides else []:
        what = f"sweep.reference for combination {run_.index} ({run_.label()})"
        cfg, text, digest = resolve(run_.values, ref_overrides, what)
        key = f"ref-{digest}"
        references.setdefault(key, Reference(key, cfg, text, digest))
        run_.reference = key

    first = runs[0].cfg
    if out is None:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        safe = re.sub(r"[^A-Za-z0-9._+-]+", "-", first.name).strip(".-") or "sweep"
        out = Path(first.output) / f"{safe}-sweep-{stamp}"
    return SweepPlan(
        config=path,
        name=first.name,
        kind=first.experiment,
        base=base,
        axes=axis_list,
        runs=runs,
        out=Path(out),
        random=n_random,
        seed=seed,
        sort=sort if sort is not None else options.get("sort"),
        references=list(references.values()),
        reference_overrides=ref_overrides,
        reference_arrays=list(ref_opts.get("arrays") or []),
    )
