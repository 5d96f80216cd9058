"""Sweeps: many runs of one experiment over a grid (or a random sample) of config values.

::

    from workbench import sweep

    p = sweep.plan("configs/sweep_arm_tolerances.yaml", ["solver.t_span=[0,0.5]"])
    result = sweep.run(p, executor="local", workers=2, timeout=60)
    result.exit_code, result.counts, result.path      # 0, {"ok": 16}, runs/arm_tolerances-...
    sweep.load_summary(result.path)                   # the rows of summary.json

A script that calls :func:`run` with the local executor must guard its top level with
``if __name__ == "__main__":``: workers are started with ``spawn``, which imports the main
module again in each of them.

:func:`plan` reads the config, expands the axes (the file's ``sweep:`` section, then the
command line's, which add axes or replace those of the same key) and resolves every
combination through the experiment's schema and checks before anything runs: a bad
combination is a :class:`SweepError` naming it. :func:`run` runs what is not done yet into the
sweep folder, on local processes (:mod:`workbench.sweeps.local`) or Dask
(:mod:`workbench.sweeps.dask_executor`), and returns a :class:`SweepResult`.

The sweep folder holds ``sweep.yaml`` (the resolved sweep: axes, values, each run's folder),
one run folder per combination, named ``<index>-<hash>`` where the hash is the first 10 hex
digits of the SHA-256 of the run's resolved ``config.yaml``, with the files ``workbench run``
writes (plus a ``sweep`` entry in ``result.json``), ``ref-<hash>`` folders for reference runs,
and ``summary.csv``/``summary.json`` (see :mod:`workbench.sweeps.summary`), rewritten as runs
finish (a large summary less often, so that rewriting it never takes more than a twentieth of
the time) and whenever the sweep ends or is stopped.

Resume: running a sweep into a folder that already has runs skips each combination whose
complete run folder holds the same resolved config (its hash is checked against the file)
and succeeded; failed, interrupted and missing runs run again. Results only ever reach the
folder as complete run folders renamed into place, and Ctrl-C is held off while one is being
written, so stopping a sweep in any way loses at most the runs in progress.

The ``sweep:`` section of a config file is either a mapping of axes::

    sweep:
      solver.rtol: logspace(-3, -6, 4)
      solver.atol: [1e-6, 1e-7, 1e-8, 1e-9]

or, with options, ``axes:`` plus any of ``random`` (draw that many combinations), ``seed``
(for ``random``), ``sort`` (the column the final table is sorted by; ``-name`` descending)
and ``reference`` (``overrides``: values applied on top of each combination to make its
reference run; ``arrays``: the output arrays compared, giving the ``error_<array>`` columns:
the largest absolute difference between the run's array and its reference's).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import math
import os
import re
import shutil
import signal
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import runs
from .config import ConfigError, Dumper, dump_resolved, load_file, resolve_dict, split_sweep
from .runs import write_atomic
from .sweeps.axes import Axis, axis_from_yaml, grid, parse_axis, sample, show, yaml_text
from .sweeps.summary import (
    NOT_RUN,
    OK,
    SUMMARY_CSV,
    SUMMARY_JSON,
    SWEEP_FILE,
    columns,
    figure_column,
    is_number,
    load_summary,
    plain,
    plot_sweep,
    write_summary,
)
from .sweeps.worker import Task, shrink, usable_cores, warm_up
from .targets import TargetError, choose_target

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

EXECUTORS = ("local", "dask")
SECTION_KEYS = ("axes", "random", "seed", "sort", "reference")
HASH_LEN = 10
_RUN_DIR = re.compile(rf"^(\d+)-([0-9a-f]{{{HASH_LEN}}})$")
_REF_DIR = re.compile(rf"^ref-([0-9a-f]{{{HASH_LEN}}})$")


class SweepError(ConfigError):
    """A sweep that cannot start: bad axes, a bad combination, bad options (exit status 2)."""


# ------------------------------------------------------------------------------------ planning


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
        return ", ".join(f"{k}={show(v)}" for k, v in self.values.items())


@dataclass
class Reference:
    key: str
    cfg: Any
    text: str
    hash: str


@dataclass
class SweepPlan:
    """A validated sweep, ready to :func:`run`."""

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
        return self.config.parent

    @property
    def error_columns(self) -> list[str]:
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


def _hash(text: str) -> str:
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
    """Read ``config``, add the command-line ``axes`` and resolve every combination.

    Raises :class:`SweepError` (a :class:`~workbench.config.ConfigError`) for anything wrong,
    naming the file, the axis or the combination; nothing is written.
    """
    from . import experiments
    from .experiments.base import ProblemError

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
        return cfg, text, _hash(text)

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


# ----------------------------------------------------------------------------------- progress


class Reporter:
    """Told what a sweep is doing; the base class ignores it all."""

    def start(self, total: int, skipped: int) -> None: ...

    def update(self, done: int, failed: int, running: int) -> None: ...

    def note(self, text: str) -> None: ...

    def stop(self) -> None: ...


class RichReporter(Reporter):
    """A rich progress bar over runs (done, failed, running, ETA) on ``console``."""

    def __init__(self, console, enabled: bool = True):
        self.console = console
        self.enabled = enabled
        self.bar = None
        self.task = None

    def start(self, total: int, skipped: int) -> None:
        if not self.enabled:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        if skipped:
            self.console.print(f"{skipped} run(s) already done in this folder: skipped")
        self.bar = Progress(
            TextColumn("sweep"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self.task = self.bar.add_task("sweep", total=total, counts="")
        self.bar.start()

    def update(self, done: int, failed: int, running: int) -> None:
        if self.bar is not None:
            counts = f"[green]{done - failed} ok[/] [red]{failed} failed[/] {running} running"
            self.bar.update(self.task, completed=done, counts=counts)

    def note(self, text: str) -> None:
        if self.enabled:
            self.console.print(text, highlight=False)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


# ------------------------------------------------------------------------------------- running


@dataclass
class SweepResult:
    """What :func:`run` did: ``rows`` are the summary's, ``exit_code`` 0 (all ok) or 1."""

    path: Path
    columns: list[str]
    rows: list[dict]
    skipped: int
    failed: list[dict]
    reference_failed: list[dict] = field(default_factory=list)
    sort: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.rows:
            out[row["status"]] = out.get(row["status"], 0) + 1
        return out

    @property
    def exit_code(self) -> int:
        return 0 if not self.failed and not self.reference_failed else 1


class _NamedRunDir(runs.RunDir):
    """A :class:`workbench.runs.RunDir` whose folder has a given name (``<index>-<hash>``)
    instead of a time-stamped one; a leftover ``.partial`` folder of that name is replaced."""

    def __init__(self, output: Path, folder: str):
        super().__init__(output, folder)
        self.folder = folder

    def __enter__(self) -> _NamedRunDir:
        self.output.mkdir(parents=True, exist_ok=True)
        self.run_id = self.folder
        partial = self.output / f".{self.folder}{runs.PARTIAL_SUFFIX}"
        if partial.exists():  # left by an earlier attempt that did not finish
            shutil.rmtree(partial)
        partial.mkdir()
        self.partial_path, self.final_path = partial, self.output / self.folder
        self.log(f"started {self.folder}")
        return self


@contextlib.contextmanager
def _hold_interrupts():
    """Delay Ctrl-C (SIGINT) until the block is done, so a result is never half-written."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[Any] = []
    previous = signal.signal(signal.SIGINT, lambda *args: caught.append(args))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught and callable(previous):
            previous(*caught[0])


class _Sweep:
    """The state of one :func:`run`: rows, what is done, writing folders and the summary."""

    def __init__(self, plan: SweepPlan, folder: Path):
        self.plan = plan
        self.folder = folder
        self.axes = [ax.key for ax in plan.axes]
        self.errors = plan.error_columns
        self.by_key: dict[str, PlannedRun | Reference] = {r.key: r for r in plan.runs}
        self.by_key.update({r.key: r for r in plan.references})
        self.rows: dict[str, dict] = {}
        self.ref_state: dict[str, dict] = {}
        self.ref_arrays: dict[str, dict] = {}
        self.unknown_arrays: dict[str, list[str]] = {}  # reference.arrays a run lacks: its arrays
        self.done: set[str] = set()
        self.errors_done: set[str] = set()
        self.running: set[str] = set()
        self.failures = 0
        self.finished = 0
        self.last_summary = 0.0
        self.summary_cost = 0.0
        self.strangers = 0

    # ------------------------------------------------------------------------------- rows

    def _row(self, run_: PlannedRun, status: str, **fields: Any) -> dict:
        row = {"index": run_.index, **run_.values, "status": status}
        for name, value in (fields.pop("figures", None) or {}).items():
            row[figure_column(name, self.axes, self.errors)] = plain(value)
        row.update(fields)
        return row

    def _record(self, key: str, status: str, **fields: Any) -> None:
        item = self.by_key[key]
        if isinstance(item, Reference):
            self.ref_state[key] = {"status": status, **fields}
        else:
            self.rows[key] = self._row(item, status, **fields)

    # ------------------------------------------------------------------------------ resume

    def tidy(self) -> None:
        """Remove what a sweep killed outright can leave behind: temporary files of the summary
        and ``sweep.yaml``, and earlier failed attempts being replaced (``.KEY.replaced``).
        ``.KEY.partial`` folders stay until their run is retried (their log says what
        happened)."""
        if not self.folder.is_dir():
            return
        for entry in self.folder.iterdir():
            name = entry.name
            if name.startswith(".") and name.endswith(".tmp") and entry.is_file():
                if any(name.startswith(f".{f}.") for f in (SUMMARY_CSV, SUMMARY_JSON, SWEEP_FILE)):
                    entry.unlink(missing_ok=True)
            elif name.startswith(".") and name.endswith(".replaced") and entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)

    def scan(self) -> int:
        """Find finished runs already in the folder; returns how many runs are skipped."""
        self.tidy()
        found: dict[tuple[bool, str], Path] = {}  # (is a reference, hash) -> folder
        for entry in sorted(self.folder.iterdir()) if self.folder.is_dir() else []:
            m = _RUN_DIR.match(entry.name) or _REF_DIR.match(entry.name)
            if m and runs.is_complete(entry):
                found.setdefault((entry.name.startswith("ref-"), m.groups()[-1]), entry)
        skipped = 0
        for key, item in self.by_key.items():
            path = found.get((isinstance(item, Reference), item.hash))
            if path is None:
                continue
            try:
                same = _hash((path / runs.CONFIG_FILE).read_text(encoding="utf-8")) == item.hash
                result = json.loads((path / runs.RESULT_FILE).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if not same or not result.get("success"):
                continue  # edited by hand, or failed: run again
            if path.name != key:
                if (self.folder / key).exists():
                    continue
                os.rename(path, self.folder / key)  # the same run under an older index
            self._record(
                key,
                OK,
                figures=result.get("figures") or {},
                wall_s=(result.get("timings") or {}).get("wall_s"),
                message=result.get("message"),
                run_dir=key,
            )
            self.done.add(key)
            skipped += isinstance(item, PlannedRun)
        for run_ in self.plan.runs:
            if run_.key not in self.done:
                self.rows[run_.key] = self._row(run_, "pending", run_dir=None)
        ours = {item.hash for item in self.by_key.values()}
        self.strangers = sum(1 for (_, digest) in found if digest not in ours)
        return skipped

    # ------------------------------------------------------------------------------ events

    def handle(self, event: tuple, reporter: Reporter) -> None:
        if event[0] == "started":
            self.running.add(event[1])
            if event[1] in self.rows:
                self.rows[event[1]]["status"] = "running"
        elif event[0] == "finished":
            key, info = event[1], event[2]
            self.running.discard(key)
            with _hold_interrupts():
                status = self._write(key, info)
            self.finished += 1
            if status != OK:
                self.failures += 1
                if info.get("state") in ("timeout", "crashed", "interrupted"):
                    from rich.markup import escape

                    reporter.note(f"[yellow]{key}: {escape(str(info.get('message')))}[/]")
            self.write_summary(force=False)
        reporter.update(self.finished, self.failures, len(self.running))

    def _write(self, key: str, info: dict) -> str:
        item = self.by_key[key]
        state = info.get("state")
        if state == "finished":
            outcome = info["outcome"]
            self._write_complete(item, info)
            status = OK if outcome.status == 0 else "failed"
            self._record(
                key,
                status,
                figures=outcome.figures,
                wall_s=info.get("wall_s"),
                message=outcome.message,
                run_dir=key,
            )
            if isinstance(item, Reference) and status == OK:
                arrays = outcome.arrays
                wanted = self.plan.reference_arrays
                self.ref_arrays[key] = {a: arrays[a] for a in wanted if a in arrays}
            if isinstance(item, PlannedRun):
                self.errors_done.discard(key)
            return status
        rd = self._write_partial(item, info)
        self._record(
            key,
            state or "error",
            wall_s=info.get("wall_s"),
            message=info.get("message"),
            run_dir=rd,
        )
        return state or "error"

    def _write_complete(self, item, info: dict) -> None:
        outcome = info["outcome"]
        cfg = item.cfg
        final = self.folder / item.key
        old = None
        if final.exists():  # an earlier attempt that failed: replaced once this one is written
            old = self.folder / f".{item.key}.replaced"
            if old.exists():
                shutil.rmtree(old)
            os.rename(final, old)
        sweep_info = {
            "folder": self.folder.name,
            "index": getattr(item, "index", None),
            "values": plain(getattr(item, "values", None)),
            "reference_of": None if isinstance(item, PlannedRun) else "runs of this sweep",
            "worker": info.get("worker"),
        }
        result = runs.result_record(
            cfg,
            outcome,
            target_reason=info.get("target_reason"),
            wall_s=info.get("wall_s"),
            versions=info.get("versions"),
        )
        result["sweep"] = sweep_info
        with _NamedRunDir(self.folder, item.key) as rd:
            rd.write_config(item.text)
            rd.log(f"sweep {self.folder.name}: run {item.key} on {info.get('worker')}")
            rd.log(f"target: {info.get('target')} ({info.get('target_reason')})")
            rd.write_arrays(outcome.arrays)
            for filename, text in outcome.files.items():
                rd.write_text(filename, text)
            rd.log(f"status {outcome.status}: {outcome.message}")
            rd.write_result(result)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def _write_partial(self, item, info: dict) -> str:
        """A failed run's config and log in a ``.partial`` folder (never looks complete)."""
        rd = _NamedRunDir(self.folder, item.key)
        rd.__enter__()  # deliberately never completed
        rd.write_config(item.text)
        rd.log(f"sweep {self.folder.name}: run {item.key} on {info.get('worker')}")
        rd.log(f"{info.get('state')}: {info.get('message')}")
        for line in (info.get("traceback") or "").splitlines():
            rd.log(f"  {line}")
        return rd.path.name

    # ----------------------------------------------------------------------------- summary

    def interrupted(self) -> None:
        for key in list(self.running):
            self._record(key, "interrupted", message="the sweep was stopped", run_dir=None)
        self.running.clear()

    def _fill_errors(self) -> None:
        """The ``error_<array>`` columns of the rows that have run (computed once each)."""
        if not self.errors:
            return
        import numpy as np

        for run_ in self.plan.runs:
            row = self.rows[run_.key]
            if row["status"] in NOT_RUN or run_.key in self.errors_done:
                for col in self.errors:
                    row.setdefault(col, None)
                continue
            ref = self._reference_arrays(run_.reference)
            mine = self._arrays(run_.key) if row.get("run_dir") == run_.key else None
            for name, col in zip(self.plan.reference_arrays, self.errors, strict=True):
                a = None if mine is None else mine.get(name)
                b = None if ref is None else ref.get(name)
                if a is None or b is None or np.shape(a) != np.shape(b):
                    row[col] = None
                else:
                    diff = np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))
                    row[col] = float(np.max(diff, initial=0.0))
            if ref is not None:
                self.errors_done.add(run_.key)

    def _arrays(self, key: str) -> dict | None:
        import numpy as np

        path = self.folder / key / "arrays.npz"
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as npz:
            for name in self.plan.reference_arrays:
                if name not in npz.files:
                    self.unknown_arrays[name] = sorted(npz.files)
            return {a: npz[a] for a in self.plan.reference_arrays if a in npz.files}

    def _reference_arrays(self, key: str | None) -> dict | None:
        if key is None:
            return None
        if key not in self.ref_arrays and key in self.done:
            self.ref_arrays[key] = self._arrays(key) or {}
        return self.ref_arrays.get(key)

    def ordered_rows(self) -> list[dict]:
        return [self.rows[r.key] for r in self.plan.runs]

    def write_summary(self, force: bool = True) -> None:
        """Rewrite the summary; unless ``force``d, only when the last rewrite is long enough
        ago that rewriting takes at most 1/20 of the time (a large sweep's summary is big)."""
        started = time.monotonic()
        if not force and started - self.last_summary < 20 * self.summary_cost:
            return
        with _hold_interrupts():
            rows = self.ordered_rows()
            if force:
                self._fill_errors()
            write_summary(self.folder, columns(self.axes, rows, self.errors), rows)
        self.last_summary = time.monotonic()
        self.summary_cost = self.last_summary - started

    def result(self, skipped: int, sort: str | None) -> SweepResult:
        rows = self.ordered_rows()
        failed = [r for r in rows if r["status"] != OK]
        ref_failed = [
            {"run_dir": k, **v} for k, v in self.ref_state.items() if v.get("status") != OK
        ]
        ref_failed += [
            {"run_dir": r.key, "status": "pending", "message": "not run"}
            for r in self.plan.references
            if r.key not in self.ref_state
        ]
        return SweepResult(
            path=self.folder,
            columns=columns(self.axes, rows, self.errors),
            rows=rows,
            skipped=skipped,
            failed=failed,
            reference_failed=ref_failed,
            sort=sort,
            warnings=[
                f"reference.arrays: the runs have no array {name!r}, so error_{name} is "
                f"empty (their arrays: {', '.join(have)})"
                for name, have in self.unknown_arrays.items()
            ],
        )


def _executor(name: str, workers: int, threads: int, timeout, address):
    """The executor, connected (Dask) but not yet warmed up: connection problems are
    :class:`SweepError` before anything is written."""
    if name == "local":
        from .sweeps.local import LocalExecutor

        return LocalExecutor(workers, threads, timeout)
    try:
        from .sweeps.dask_executor import DaskExecutor
    except ImportError as exc:
        raise SweepError(
            f"--executor dask needs dask.distributed ({exc}); install it with "
            "pip install 'workbench[dask]'"
        ) from None
    executor = DaskExecutor(workers, threads, timeout, address)
    try:
        executor.start()
    except ConnectionError as exc:
        executor.close()
        raise SweepError(str(exc)) from None
    except BaseException:
        executor.close()
        raise
    return executor


def _check_can_make(folder: Path) -> None:
    """A :class:`SweepError` now, before any worker starts, if ``folder`` cannot be made."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing != folder and not (existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)):
        what = "not a folder" if not existing.is_dir() else "not writable"
        raise SweepError(f"--out {folder}: cannot make the folder ({existing} is {what})")


#: The longest --timeout (about 115 days); ``inf`` is no limit.
MAX_TIMEOUT = 1e7


def check_options(
    executor: str, workers: int | None, address: str | None, timeout: float | None
) -> None:
    """:class:`SweepError` for options that do not go together."""
    if executor not in EXECUTORS:
        raise SweepError(f"--executor {executor!r}: accepted: {', '.join(EXECUTORS)}")
    if workers is not None and workers < 1:
        raise SweepError(f"--workers: expected a count >= 1, got {workers}")
    if timeout is not None and not (0 < timeout <= MAX_TIMEOUT or timeout == math.inf):
        raise SweepError(
            f"--timeout: expected seconds > 0 (at most {MAX_TIMEOUT:.0f}, or inf: no limit), "
            f"got {timeout}"
        )
    if address is not None and executor != "dask":
        raise SweepError("--address is the address of a Dask scheduler: add --executor dask")
    if address is not None and workers is not None:
        raise SweepError(
            "--workers starts a local Dask cluster of that size; with --address the "
            "cluster's own workers are used: give one or the other"
        )
    if address is not None and not re.match(r"^[a-z]+://.+:\d+$", address):
        raise SweepError(f"--address {address!r}: expected tcp://HOST:PORT")


def run(
    plan: SweepPlan,
    *,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    timeout: float | None = None,
    reporter: Reporter | None = None,
) -> SweepResult:
    """Run what ``plan`` still needs into ``plan.out``; see the module docstring.

    ``workers`` defaults to the usable cores; each worker gets ``cores // workers`` numba
    threads. KeyboardInterrupt (Ctrl-C) stops the sweep: finished runs are kept, the summary
    is written (runs in progress marked ``interrupted``) and the exception is raised again.
    """
    check_options(executor, workers, address, timeout)
    if timeout == math.inf:
        timeout = None
    reporter = reporter or Reporter()
    folder = plan.out
    if folder.exists() and not folder.is_dir():
        raise SweepError(f"--out {folder}: exists and is not a folder")
    if folder.is_dir() and not (folder / SWEEP_FILE).is_file() and any(folder.iterdir()):
        raise SweepError(
            f"--out {folder}: the folder is not empty and holds no sweep ({SWEEP_FILE}); "
            "give a new folder, or the folder of the sweep to resume"
        )
    _check_can_make(folder)
    state = _Sweep(plan, folder)
    skipped = state.scan()
    if state.strangers:
        reporter.note(
            f"[yellow]{state.strangers} run folder(s) in {folder} belong to no combination "
            "of this sweep (an earlier sweep's?): left as they are[/]"
        )
    base_dir = str(plan.base_dir.resolve())
    tasks = [
        Task(item.key, item.cfg.experiment, item.cfg.model_dump(mode="json"), base_dir)
        for item in [*plan.references, *plan.runs]
        if item.key not in state.done
    ]
    ex = None
    if tasks:
        cores = usable_cores()
        n = min(workers or cores, len(tasks))
        threads = max(1, cores // n)
        ex = _executor(executor, n, threads, timeout, address)
    try:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SweepError(f"--out {folder}: cannot make the folder ({exc.strerror})") from None
        write_atomic(folder / SWEEP_FILE, _yaml(plan.describe()).encode("utf-8"))
        state.write_summary()
        if ex is None:
            return state.result(skipped, plan.sort)
        if executor == "local" and n > cores:
            reporter.note(f"[yellow]{n} workers on {cores} cores: runs will compete for cores[/]")
        warm = shrink(tasks)
        if warm:
            reporter.note(f"warming up: {len(warm)} short run(s) compile or load the kernels")
            warm_up(warm)  # here, once, so that workers load the kernels from numba's cache
        ex.prepare(warm or [])  # each worker warms up once, from the cache
        # A kind without a warm-up recipe compiles in its first run: run that alone first.
        batches = [tasks[:1], tasks[1:]] if warm is None and len(tasks) > 1 else [tasks]
        reporter.start(len(tasks), skipped)
        try:
            for batch in batches:
                with contextlib.closing(ex.events(batch)) as events:
                    for event in events:
                        state.handle(event, reporter)
        except KeyboardInterrupt:
            state.interrupted()
            state.write_summary()
            raise
        finally:
            reporter.stop()
    finally:
        if ex is not None:
            ex.close()
    state.write_summary()
    return state.result(skipped, plan.sort)


def _yaml(data: Any) -> str:
    import yaml

    return yaml.dump(data, Dumper=Dumper, sort_keys=False, default_flow_style=None, width=100)


# ------------------------------------------------------------------------------------ showing


def _sort_key(column: str, descending: bool):
    def key(row: dict):
        value = row.get(column)
        missing = value is None or (isinstance(value, float) and value != value)
        if missing:
            return (1, 0, "")
        if is_number(value):
            return (0, 0, -value if descending else value)
        return (0, 1, str(value))

    return key


def sorted_rows(result: SweepResult, sort: str | None) -> tuple[list[dict], str | None]:
    """The rows sorted by column ``sort`` (``-col``: descending), missing values last; and a
    warning when ``sort`` is not a column (the rows then stay in index order)."""
    if not sort:
        return result.rows, None
    descending = sort.startswith("-")
    column = sort[1:] if descending else sort
    if column not in result.columns:
        have = ", ".join(c for c in result.columns if c not in ("message", "run_dir"))
        return result.rows, f"--sort {sort!r} is not a column of the summary (have: {have})"
    return sorted(result.rows, key=_sort_key(column, descending)), None


def summary_table(result: SweepResult, sort: str | None = None):
    """A rich Table of the summary (scalar columns only), sorted by ``sort``."""
    from rich.markup import escape
    from rich.table import Table

    rows, _warning = sorted_rows(result, sort or result.sort)
    axes = result.columns[1 : result.columns.index("status")]
    shown = [
        c
        for c in result.columns
        if c not in ("message", "run_dir")
        and (c in axes or all(not isinstance(r.get(c), (list, dict)) for r in rows))
    ]
    table = Table(title=f"sweep {result.path.name}: {len(rows)} runs")
    for col in shown:
        table.add_column(col, justify="right" if col not in ("status",) else "left")
    colours = {OK: "green", "pending": "dim", "running": "yellow"}
    for row in rows:
        cells = []
        for col in shown:
            value = row.get(col)
            if col == "status":
                cells.append(f"[{colours.get(value, 'red')}]{value}[/]")
            elif isinstance(value, float):
                cells.append(f"{value:.4g}")
            elif isinstance(value, (list, dict)):
                cells.append(escape(show(value)))
            else:
                cells.append(escape("" if value is None else str(value)))
        table.add_row(*cells)
    return table


def failure_lines(result: SweepResult) -> list[str]:
    """One line per run (and reference run) that did not succeed, for the end of a sweep."""
    lines = []
    for row in result.failed:
        values = ", ".join(
            f"{k}={show(row[k])}" for k in result.columns[1 : result.columns.index("status")]
        )
        where = f" [{row['run_dir']}]" if row.get("run_dir") else ""
        lines.append(f"run {row['index']} ({values}): {row['status']}: {row.get('message')}{where}")
    for ref in result.reference_failed:
        lines.append(f"reference run {ref['run_dir']}: {ref['status']}: {ref.get('message')}")
    if lines:
        total = len(result.rows)
        lines.insert(0, f"{len(result.failed)} of {total} runs did not succeed:")
    return lines


def is_sweep_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a sweep folder (it has ``sweep.yaml`` and ``summary.json``)."""
    p = Path(path)
    return (p / SWEEP_FILE).is_file() and (p / SUMMARY_JSON).is_file()


def plot(folder: str | os.PathLike[str], x: str, y: str, output=None) -> Path:
    """``y`` against varied key ``x`` for the sweep in ``folder`` (PNG; needs matplotlib)."""
    try:
        return plot_sweep(folder, x, y, output)
    except ValueError as exc:
        raise SweepError(str(exc)) from None
