"""Running a sweep: :func:`run` (and :func:`check_options`, the options it accepts).

:func:`run` runs what a :class:`~workbench.sweeps.planning.SweepPlan` still needs into the
sweep folder, on local processes (:mod:`workbench.sweeps.local`) or Dask
(:mod:`workbench.sweeps.dask_executor`), and returns a
:class:`~workbench.sweeps.results.SweepResult`. The public API, with an example, is
:mod:`workbench.sweeps`.

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
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

from .. import runs
from ..config import Dumper
from ..runs import write_atomic
from .planning import HASH_LEN, PlannedRun, Reference, SweepError, SweepPlan, config_hash
from .progress import Reporter
from .results import SweepResult
from .summary import (
    NOT_RUN,
    OK,
    SUMMARY_CSV,
    SUMMARY_JSON,
    SWEEP_FILE,
    columns,
    figure_column,
    plain,
    write_summary,
)
from .worker import Task, shrink, usable_cores, warm_up

__all__ = ["EXECUTORS", "check_options", "run"]

EXECUTORS = ("local", "dask")
_RUN_DIR = re.compile(rf"^(\d+)-([0-9a-f]{{{HASH_LEN}}})$")
_REF_DIR = re.compile(rf"^ref-([0-9a-f]{{{HASH_LEN}}})$")


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
                same = (
                    config_hash((path / runs.CONFIG_FILE).read_text(encoding="utf-8")) == item.hash
                )
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
        performed = runs.Performed(
            outcome,
            info.get("target"),
            info.get("target_reason"),
            info.get("wall_s"),
            info.get("versions"),
        )
        with _NamedRunDir(self.folder, item.key) as rd:
            rd.write_config(item.text)
            rd.log(f"sweep {self.folder.name}: run {item.key} on {info.get('worker')}")
            rd.log(f"target: {info.get('target')} ({info.get('target_reason')})")
            runs.write_complete(rd, cfg, performed, extra={"sweep": sweep_info})
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
        from .local import LocalExecutor

        return LocalExecutor(workers, threads, timeout)
    try:
        from .dask_executor import DaskExecutor
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
    """Check that the executor options go together.

    Parameters
    ----------
    executor : str
        One of :data:`EXECUTORS`, ``"local"`` or ``"dask"``.
    workers : int or None
        Worker count, >= 1 (None: the default).
    address : str or None
        A Dask scheduler's address, ``tcp://HOST:PORT``; only with ``executor="dask"`` and
        without ``workers``.
    timeout : float or None
        Seconds per run, ``0 < timeout <= 1e7``, or ``inf`` (no limit).

    Returns
    -------
    None

    Raises
    ------
    SweepError
        Naming the option (as the CLI spells it) that is wrong.
    """
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
    """Run what a sweep plan still needs into its sweep folder ``plan.out``.

    Combinations whose complete run folder already holds the same resolved config and
    succeeded are skipped (resume); the rest (and reference runs) run on local worker
    processes or Dask. ``sweep.yaml`` and ``summary.csv``/``summary.json`` are written into the
    folder; see :mod:`workbench.sweeps.driver` for its layout.

    Parameters
    ----------
    plan : SweepPlan
        From :func:`workbench.sweeps.plan`.
    executor : {"local", "dask"}, optional
        Local processes (default; started with ``spawn``, so a calling script must guard its
        top level with ``if __name__ == "__main__":``) or Dask (needs ``dask.distributed``).
    workers : int, optional
        Number of workers (default the usable cores; at most the number of runs). Each gets
        ``cores // workers`` Numba threads. With Dask and no ``address``, the size of the
        local cluster started.
    address : str, optional
        A Dask scheduler, ``tcp://HOST:PORT`` (``executor="dask"`` only).
    timeout : float, optional
        Seconds each run may take (``inf`` or None: no limit); a run past it has status
        ``timeout``.
    reporter : Reporter, optional
        Progress reporting (default: none; :class:`RichReporter` draws a progress bar).

    Returns
    -------
    SweepResult
        ``path``, ``columns`` and ``rows`` (the summary's), ``skipped`` (runs already done),
        ``failed`` and ``reference_failed`` rows, ``sort``, ``warnings``; ``counts`` (rows per
        status) and ``exit_code`` (0 if every run and reference run succeeded, else 1).

    Raises
    ------
    SweepError
        Before anything runs: bad options (:func:`check_options`), an ``out`` that is not a
        folder, a non-empty folder that holds no sweep, a folder that cannot be made, a Dask
        that is missing or cannot be reached.
    KeyboardInterrupt
        Raised again after Ctrl-C stops the sweep: finished runs are kept and the summary is
        written, with runs in progress marked ``interrupted``.
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
