"""Run folders: one per run, complete or visibly not.

A run is written into ``OUTPUT/.<name>-<YYYYmmdd-HHMMSS>-<id>.partial/`` (hidden) and renamed
to ``OUTPUT/<name>-<YYYYmmdd-HHMMSS>-<id>/`` only when it finished cleanly, so a folder without
the leading dot and ``.partial`` suffix is always a complete run. The time stamp is local time;
``<id>`` is 6 random hex digits so runs started in the same second do not collide.

A complete run holds ``config.yaml`` (the resolved config), ``result.json``, ``log.txt`` and,
if the experiment produced any, ``arrays.npz``. Every file is written under a temporary name
and moved into place with ``os.replace``, so no file is ever seen half-written.

``result.json`` keeps non-finite floats as the tokens ``NaN``, ``Infinity`` and ``-Infinity``
(what Python's ``json`` reads and writes): a diverged run's figures stay distinguishable from a
failed one's. Strict JSON parsers (``jq``) reject those tokens.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import math
import os
import re
import secrets
import shutil
import tempfile
import time
import traceback
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

__all__ = ["ResumeError", "Run", "RunDir", "create_run", "is_complete", "list_runs", "load"]

PARTIAL_SUFFIX = ".partial"
CONFIG_FILE = "config.yaml"
RESULT_FILE = "result.json"
ARRAYS_FILE = "arrays.npz"
LOG_FILE = "log.txt"
CHECKPOINT_META = "checkpoint.json"
#: Each checkpoint's arrays get a new file, ``checkpoint-<serial>.npz``, named in its metadata.
CHECKPOINT_ARRAYS = "checkpoint-{serial}.npz"


class ResumeError(ValueError):
    """A folder given to resume is not an interrupted run (or not this config's)."""


#: Longest name kept whole in a folder name; the time stamp, id and ``.partial`` suffix add
#: 32 characters, well inside the usual 255-byte limit of a file name.
MAX_NAME = 100


def _safe_name(name: str) -> str:
    """``name`` made usable as part of one folder name (no separators, no leading dot; a
    name longer than :data:`MAX_NAME` is cut and ends with a hash of the whole, so that two
    long names never share a folder name)."""
    cleaned = re.sub(r"[^A-Za-z0-9._+-]+", "-", name).strip(".-") or "run"
    if len(cleaned) > MAX_NAME:
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:12]
        cleaned = f"{cleaned[: MAX_NAME - 13].rstrip('.-')}-{digest}"
    return cleaned


class RunDir:
    """Context manager for one run folder; see the module docstring for the layout.

    ``path`` is where the files are: the ``.partial`` folder while the run is in progress or
    after it failed, the final folder after a clean exit.
    """

    def __init__(
        self,
        output: str | os.PathLike[str],
        name: str,
        resume: str | os.PathLike[str] | None = None,
    ) -> None:
        self.output = Path(output)
        self.name = _safe_name(name)
        self.resume_from = Path(resume) if resume is not None else None
        self.run_id = ""
        self.partial_path: Path | None = None
        self.final_path: Path | None = None
        self.completed = False
        self._log_lines: list[str] = []
        self._has_result = False

    @property
    def path(self) -> Path:
        """The run's folder: the ``.partial`` one until a clean exit, then the final one."""
        if self.completed and self.final_path is not None:
            return self.final_path
        if self.partial_path is None:
            raise RuntimeError("the run folder is created on entering the `with` block")
        return self.partial_path

    def __enter__(self) -> RunDir:
        if self.resume_from is not None:
            self.partial_path, self.final_path = partial_and_final(self.resume_from)
            self.run_id = self.final_path.name
            log = self.partial_path / LOG_FILE
            if log.exists():
                self._log_lines = log.read_text(encoding="utf-8").splitlines()
            self.log(f"resumed {self.run_id}")
            return self
        self.output.mkdir(parents=True, exist_ok=True)
        while True:  # a collision needs the same second and the same 24 random bits
            stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            self.run_id = f"{self.name}-{stamp}-{secrets.token_hex(3)}"
            partial = self.output / f".{self.run_id}{PARTIAL_SUFFIX}"
            final = self.output / self.run_id
            if final.exists():
                continue
            try:
                partial.mkdir()
            except FileExistsError:
                continue
            break
        self.partial_path, self.final_path = partial, final
        self.log(f"started {self.run_id}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc_type is None and not self._has_result:
            # A folder without result.json must never look complete.
            self.log("error: the run ended without writing result.json")
            raise RuntimeError(f"run left incomplete at {self.path}: no result was written")
        if exc_type is not None:
            what = "interrupted" if issubclass(exc_type, KeyboardInterrupt) else "failed"
            self.log(f"{what}: {exc_type.__name__}: {exc}".rstrip(": "))
            for line in "".join(traceback.format_exception(exc_type, exc, tb)).splitlines():
                self.log(f"  {line}")
            return False  # re-raise
        self.log("finished")
        assert self.partial_path is not None and self.final_path is not None
        self._remove_checkpoints(keep=None)  # only an unfinished run needs them
        if self.final_path.exists():  # os.rename would replace an empty directory silently
            raise FileExistsError(f"run folder already exists: {self.final_path}")
        os.rename(self.partial_path, self.final_path)
        self.completed = True
        return False

    # ------------------------------------------------------------------------------ writing

    def write_config(self, text: str) -> Path:
        """Write ``config.yaml`` (the resolved config, as text)."""
        return self._write(CONFIG_FILE, text.encode("utf-8"))

    def write_result(self, result: Mapping[str, Any]) -> Path:
        """Write ``result.json``; numpy scalars and arrays become JSON numbers and lists."""
        text = json.dumps(_jsonable(dict(result), "result"), indent=2, allow_nan=False)
        path = self._write(RESULT_FILE, (text + "\n").encode("utf-8"))
        self._has_result = True
        return path

    def write_arrays(self, arrays: Mapping[str, Any]) -> Path:
        """Write ``arrays.npz`` (uncompressed). A second call replaces the file."""
        checked = {}
        for key, value in arrays.items():
            arr = np.asarray(value)
            if arr.dtype == object:
                # np.load refuses object arrays without allow_pickle, and we never allow it.
                raise ValueError(f"array {key!r} has dtype object; only numeric arrays are saved")
            checked[str(key)] = arr
        return self._write(ARRAYS_FILE, lambda f: np.savez(f, **checked))

    def write_text(self, filename: str, text: str) -> Path:
        """Write an extra text file into the run folder (e.g. a vocabulary)."""
        if Path(filename).name != filename or filename.startswith("."):
            raise ValueError(f"not a plain file name: {filename!r}")
        return self._write(filename, text.encode("utf-8"))

    # --------------------------------------------------------------------------- checkpoints

    def save_checkpoint(self, arrays: Mapping[str, Any], meta: Mapping[str, Any]) -> None:
        """Keep a checkpoint in the (still incomplete) folder: numeric ``arrays`` and JSON
        ``meta``. The arrays go to a new file, then the metadata naming it replaces the old
        metadata (atomically), and only then is the previous arrays file removed: a crash at
        any point leaves one whole checkpoint, the new one or the one before."""
        serial = secrets.token_hex(8)
        checked = {str(k): np.asarray(v) for k, v in arrays.items()}
        checked["__serial__"] = np.array(serial)
        arrays_name = CHECKPOINT_ARRAYS.format(serial=serial)
        self._write(arrays_name, lambda f: np.savez(f, **checked))
        record = {**meta, "serial": serial, "arrays": arrays_name}
        text = json.dumps(_jsonable(record, "checkpoint"), allow_nan=True)
        self._write(CHECKPOINT_META, text.encode("utf-8"))
        self._remove_checkpoints(keep=arrays_name)

    def has_checkpoint(self) -> bool:
        """Whether the unfinished folder holds a checkpoint that ``--resume`` can go on from."""
        return self.partial_path is not None and (self.partial_path / CHECKPOINT_META).exists()

    def discard(self) -> None:
        """Remove the unfinished folder (a run stopped with nothing to resume from)."""
        if not self.completed and self.partial_path is not None:
            shutil.rmtree(self.partial_path, ignore_errors=True)

    def _remove_checkpoints(self, keep: str | None) -> None:
        for path in self.path.glob(CHECKPOINT_ARRAYS.format(serial="*")):
            if path.name != keep:
                path.unlink(missing_ok=True)
        if keep is None:
            (self.path / CHECKPOINT_META).unlink(missing_ok=True)

    def load_checkpoint(self) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """The last checkpoint as ``(arrays, meta)``, or None when there is none. A checkpoint
        that cannot be read is a :class:`ResumeError` that says how to start over."""
        meta_path = self.path / CHECKPOINT_META
        if not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            arrays_name = Path(str(meta.pop("arrays"))).name
            with np.load(self.path / arrays_name, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
            serial = str(arrays.pop("__serial__"))
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            raise ResumeError(
                f"{self.path}: its checkpoint cannot be read ({type(exc).__name__}: {exc}); "
                f"to start this run over, delete {CHECKPOINT_META} and the "
                f"{CHECKPOINT_ARRAYS.format(serial='*')} files in it"
            ) from None
        if serial != meta.pop("serial", None):
            raise ResumeError(f"{self.path}: the checkpoint's arrays and metadata do not match")
        return arrays, meta

    def log(self, line: str) -> None:
        """Append a time-stamped line to ``log.txt``."""
        now = _dt.datetime.now().isoformat(timespec="seconds")
        self._log_lines.extend(f"{now} {part}" for part in str(line).splitlines() or [""])
        # Rewritten whole (logs are short) so that it, too, is only ever replaced atomically.
        self._write(LOG_FILE, ("\n".join(self._log_lines) + "\n").encode("utf-8"))

    def _write(self, filename: str, content: bytes | Any) -> Path:
        return write_atomic(self.path / filename, content)


def _file_mode() -> int:
    """What ``open()`` would give a new file under this process's umask (mkstemp gives 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()


def write_atomic(path: Path, content: bytes | Any) -> Path:
    """Write ``content`` (bytes, or a function that writes into a binary file) to ``path``
    through a temporary file in the same folder and a rename: a reader sees the old file or
    the whole new one, never a part."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            if isinstance(content, bytes):
                f.write(content)
            else:
                content(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def versions() -> dict[str, str]:
    """The versions ``result.json`` records."""
    import platform

    import llvmlite
    import numba
    import scipy

    from . import __version__

    return {
        "workbench": __version__,
        "python": platform.python_version(),
        "numba": numba.__version__,
        "llvmlite": llvmlite.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }


def result_record(cfg, outcome, *, target_reason, wall_s, versions) -> dict[str, Any]:
    """What ``result.json`` holds for an experiment's :class:`Outcome` (run or sweep)."""
    return {
        "experiment": cfg.experiment,
        "name": cfg.name,
        "status": outcome.status,
        "success": outcome.status == 0,
        "message": outcome.message,
        "figures": outcome.figures,
        "warnings": outcome.warnings,
        "target": outcome.target,
        "target_reason": target_reason,
        "timings": {**outcome.timings, "wall_s": wall_s},
        "seed": cfg.seed,
        "versions": versions,
    }


# ------------------------------------------------------------------------- the run service


@dataclass
class Performed:
    """What running an experiment produced: its :class:`Outcome`, where it ran and why, the
    wall time and the package versions (picklable: sweep workers send it back)."""

    outcome: Any
    target: str
    target_reason: str
    wall_s: float
    versions: dict[str, str]


def perform(
    cfg,
    exp=None,
    *,
    progress=None,
    base_dir: Path | None = None,
    checkpoint: RunDir | None = None,
    timeout: float | None = None,
) -> Performed:
    """Run the experiment of a resolved config and return what it produced.

    Chooses the target (:func:`workbench.targets.choose_target`), runs the experiment and
    times it: the one way the CLI and the sweep workers run an experiment.

    Parameters
    ----------
    cfg : Config
        The resolved config.
    exp : Experiment, optional
        The experiment to run (default: the one ``cfg.experiment`` names).
    progress : callable, optional
        Progress callback handed to the experiment.
    base_dir : Path, optional
        Folder for the config's relative paths (data files).
    checkpoint : RunDir, optional
        The entered run folder, handed to experiment kinds that keep checkpoints (and logged
        the target choice).
    timeout : float, optional
        Seconds the experiment may run; None for no limit.

    Returns
    -------
    Performed
        The experiment's :class:`Outcome`, the target it ran on and why, the wall time in
        seconds and the package versions.

    Raises
    ------
    workbench._numba.interrupt.TimeLimitReached
        When ``timeout`` passes.
    Exception
        Whatever the experiment raises.
    """
    from workbench import experiments
    from workbench._numba.interrupt import time_limit
    from workbench.targets import choose_target

    exp = exp or experiments.get(cfg.experiment)
    started = time.perf_counter()
    choice = choose_target(cfg.target, batched=exp.is_batched(cfg))
    extra = {"checkpoint": checkpoint} if exp.checkpoints else {}
    if checkpoint is not None:
        checkpoint.log(f"target: {choice.name} ({choice.reason})")
    with time_limit(timeout):
        outcome = exp.run(cfg, choice.name, progress, base_dir, **extra)
    return Performed(outcome, choice.name, choice.reason, time.perf_counter() - started, versions())


def write_complete(
    rd: RunDir, cfg, performed: Performed, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Write a performed run into an entered run folder.

    Writes the experiment's extra files, ``arrays.npz``, a status line in the log and, last,
    ``result.json``; the folder becomes complete when ``rd``'s ``with`` block ends. The one
    way the CLI and the sweep driver write a finished run.

    Parameters
    ----------
    rd : RunDir
        The run folder, entered, with its config already written.
    cfg : Config
        The resolved config.
    performed : Performed
        What :func:`perform` returned.
    extra : mapping, optional
        Keys added to the result record.

    Returns
    -------
    dict
        The result record written to ``result.json`` (before JSON conversion).
    """
    outcome = performed.outcome
    for filename, text in outcome.files.items():
        rd.write_text(filename, text)
    result = result_record(
        cfg,
        outcome,
        target_reason=performed.target_reason,
        wall_s=performed.wall_s,
        versions=performed.versions,
    )
    result.update(extra or {})
    rd.write_arrays(outcome.arrays)
    rd.log(f"status {outcome.status}: {outcome.message}")
    rd.write_result(result)
    return result


def create_run(
    output: str | os.PathLike[str], name: str, resume: str | os.PathLike[str] | None = None
) -> RunDir:
    """Make the run folder for a new run, or for resuming an interrupted one.

    Parameters
    ----------
    output : str or path-like
        Folder the run folder is made in (created if needed).
    name : str
        The run's name, made safe for a folder name (cut and hashed beyond 100 characters).
    resume : str or path-like, optional
        An interrupted run's ``.partial`` folder to continue instead.

    Returns
    -------
    RunDir
        Use it in a ``with`` block: entering creates the ``.partial`` folder (or takes over
        ``resume``, which raises :class:`ResumeError` if it is not an interrupted run); a clean
        exit after a result was written renames it to the final folder.
    """
    return RunDir(output, name, resume)


def partial_and_final(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(partial folder, final folder)`` of an interrupted run; :class:`ResumeError` when
    ``path`` is not one."""
    path = Path(path)
    if not path.is_dir():
        raise ResumeError(f"{path}: no such folder (expected an interrupted run's .partial folder)")
    name = path.name
    if not (name.startswith(".") and name.endswith(PARTIAL_SUFFIX)):
        raise ResumeError(
            f"{path}: not an interrupted run (its folder name would be .NAME-...{PARTIAL_SUFFIX})"
        )
    final = path.parent / name[1 : -len(PARTIAL_SUFFIX)]
    if final.exists():
        raise ResumeError(f"{path}: the finished run {final} already exists")
    if not (path / CONFIG_FILE).exists():
        raise ResumeError(f"{path}: holds no {CONFIG_FILE}; nothing to resume")
    return path, final


def strict_json(value: Any, **options) -> str:
    """``value`` as strict JSON text (see :func:`_jsonable`): what ``result.json`` holds and
    ``workbench run --json`` prints."""
    return json.dumps(_jsonable(value, "value"), allow_nan=False, **options)


def _jsonable(value: Any, where: str) -> Any:
    """``value`` with numpy types, tuples, paths and dataclasses turned into JSON types; NaN
    and infinities become ``null`` (strict JSON, which ``jq`` and JavaScript read)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist(), where)
    if isinstance(value, np.generic):
        return _jsonable(value.item(), where)
    if isinstance(value, complex):
        return {"real": value.real, "imag": value.imag}
    if isinstance(value, Mapping):
        return {_key(k, where): _jsonable(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value), where)
    raise TypeError(f"{where}: cannot write {type(value).__name__} to JSON")


def _key(key: Any, where: str) -> str:
    if isinstance(key, np.generic):
        key = key.item()
    if isinstance(key, (str, int, float, bool)) or key is None:
        return key if isinstance(key, str) else json.dumps(key)
    raise TypeError(f"{where}: cannot use a {type(key).__name__} as a JSON key")


# ------------------------------------------------------------------------------------ reading


@dataclass
class Run:
    """A complete run read back from its folder."""

    path: Path
    config: dict[str, Any]
    result: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def optimizer_state(self, label: str | None = None) -> dict[str, Any]:
        """The final optimizer state a training run kept, ready for ``load_state_dict``.

        Parameters
        ----------
        label : str, optional
            Which optimizer, for a run that kept several (the keys of ``optimizer.json``);
            default: the only one.

        Returns
        -------
        dict
            The optimizer's ``state_dict``: the scalars from ``optimizer.json`` and
            ``"state"``, a dict of blocks, each a dict of arrays from ``arrays.npz`` (under
            ``opt/``, or ``<label>.opt/`` when there are several optimizers).

        Raises
        ------
        ValueError
            If the run kept no optimizer state, or ``label`` is None with several optimizers,
            or names none of them.
        """
        path = self.path / OPTIMIZER_FILE
        if not path.is_file():
            raise ValueError(f"{self.path}: this run kept no optimizer state")
        metas = json.loads(path.read_text(encoding="utf-8"))
        if label is None:
            if len(metas) != 1:
                raise ValueError(f"{self.path}: several optimizers; pick one of {sorted(metas)}")
            (label,) = metas
        if label not in metas:
            raise ValueError(f"{self.path}: no optimizer {label!r}; there are {sorted(metas)}")
        prefix = f"{label}." if len(metas) > 1 else ""  # as the run named its arrays
        return state_from_arrays(self.arrays, metas[label], prefix=f"{prefix}opt/")


#: Where a training run keeps its final optimizer state's scalars (the arrays are in
#: ``arrays.npz`` under ``opt/``).
OPTIMIZER_FILE = "optimizer.json"


def state_to_arrays(state_dict: Mapping[str, Any], prefix: str = "opt/") -> tuple[dict, dict]:
    """Take an optimizer's ``state_dict`` apart into arrays and JSON metadata.

    Parameters
    ----------
    state_dict : mapping
        ``{"state": {block: {name: array}}, ...}``, e.g. an optimizer's ``state_dict()``.
    prefix : str, optional
        Prefix of the array keys (default ``"opt/"``).

    Returns
    -------
    arrays : dict of str to ndarray
        ``{f"{prefix}{block}/{name}": array}``, for ``arrays.npz``.
    meta : dict
        The other entries of ``state_dict``, plus ``"blocks"``, the block names in order.

    See Also
    --------
    state_from_arrays : the inverse.
    """
    arrays = {
        f"{prefix}{block}/{key}": np.asarray(a)
        for block, st in state_dict["state"].items()
        for key, a in st.items()
    }
    meta = {k: v for k, v in state_dict.items() if k != "state"}
    meta["blocks"] = list(state_dict["state"])
    return arrays, meta


def state_from_arrays(
    arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any], prefix: str = "opt/"
) -> dict[str, Any]:
    """Rebuild the ``state_dict`` that :func:`state_to_arrays` took apart.

    Parameters
    ----------
    arrays : mapping of str to ndarray
        Arrays keyed ``{prefix}{block}/{name}``; keys without ``prefix`` are ignored.
    meta : mapping
        The JSON metadata (its ``"blocks"`` gives the block order, blocks without arrays
        included).
    prefix : str, optional
        Prefix of the array keys (default ``"opt/"``).

    Returns
    -------
    dict
        ``meta`` without ``"blocks"``, plus ``"state"``: ``{block: {name: array}}`` (copies).
    """
    state: dict[str, dict] = {block: {} for block in meta.get("blocks", ())}
    for key, a in arrays.items():
        if key.startswith(prefix):
            block, name = key[len(prefix) :].rsplit("/", 1)
            state.setdefault(block, {})[name] = np.array(a)
    rest = {k: v for k, v in meta.items() if k != "blocks"}
    return {**rest, "state": state}


def _problem(path: Path) -> str | None:
    """Why ``path`` is not a complete run folder, or None if it is one."""
    if not path.exists():
        return "no such folder"
    if not path.is_dir():
        return "not a folder"
    if path.name.endswith(PARTIAL_SUFFIX):
        return "an incomplete run (interrupted or failed; see its log.txt)"
    for name in (CONFIG_FILE, RESULT_FILE):
        if not (path / name).is_file():
            return f"not a complete run folder (no {name})"
    return None


def is_complete(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a finished run folder.

    Parameters
    ----------
    path : str or path-like
        A folder.

    Returns
    -------
    bool
        True if it exists, is a folder not named ``*.partial`` and holds ``config.yaml`` and
        ``result.json``.
    """
    return _problem(Path(path)) is None


def load(path: str | os.PathLike[str]) -> Run:
    """Read a complete run back from its folder.

    Parameters
    ----------
    path : str or path-like
        The run folder.

    Returns
    -------
    Run
        ``path``, ``config`` (the parsed ``config.yaml``; ``{}`` when empty), ``result`` (the
        parsed ``result.json``) and ``arrays`` (``arrays.npz``'s arrays by name; empty when the
        run wrote none).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If it is not a complete run folder (not a folder, a ``.partial`` folder, or without
        ``config.yaml`` or ``result.json``).
    """
    from workbench.config import load_yaml  # the same YAML reading as experiment files

    p = Path(path)
    problem = _problem(p)
    if problem == "no such folder":
        raise FileNotFoundError(f"{p}: no such run folder")
    if problem is not None:
        raise ValueError(f"{p}: {problem}")
    config = load_yaml((p / CONFIG_FILE).read_text(encoding="utf-8"), file=p / CONFIG_FILE)
    result = json.loads((p / RESULT_FILE).read_text(encoding="utf-8"))
    arrays: dict[str, np.ndarray] = {}
    if (p / ARRAYS_FILE).is_file():
        with np.load(p / ARRAYS_FILE, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    return Run(path=p, config=config or {}, result=result, arrays=arrays)


def list_runs(output: str | os.PathLike[str]) -> list[Path]:
    """The complete run folders directly under a folder.

    Parameters
    ----------
    output : str or path-like
        The output folder.

    Returns
    -------
    list of Path
        Complete run folders (hidden ones excluded), oldest first by the time stamp in their
        names (then by name); empty if ``output`` is not a folder.
    """
    out = Path(output)
    if not out.is_dir():
        return []
    runs = [p for p in out.iterdir() if not p.name.startswith(".") and is_complete(p)]
    stamp = re.compile(r"-(\d{8}-\d{6})-[0-9a-f]{6}$")

    def when(p: Path) -> tuple[str, str]:
        m = stamp.search(p.name)
        return (m.group(1) if m else "", p.name)

    return sorted(runs, key=when)
