"""What runs in a worker process: one sweep run (:func:`execute`) and the warm-up.

This module is imported by local pool processes (started with ``spawn``) and by Dask workers,
so it lives in the package (never in ``__main__``) and imports numba and the experiments only
inside functions: a worker limits numba's thread count (:func:`limit_numba_threads`) before
numba is imported where it can.

A worker runs experiments in-process and never writes files: it returns the
:class:`~workbench.experiments.base.Outcome` and the parent (the only writer of the sweep
folder) writes the run folder. That keeps the sweep folder consistent when workers are killed,
and lets Dask workers on other machines run without a shared file system.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Task",
    "execute",
    "limit_numba_threads",
    "local_worker_main",
    "shrink",
    "usable_cores",
    "warm_up",
]


@dataclass(frozen=True)
class Task:
    """One run: ``key`` is its folder name (``<index>-<hash>`` or ``ref-<hash>``), ``config``
    the resolved config as plain data (``model_dump(mode="json")``)."""

    key: str
    kind: str
    config: dict
    base_dir: str | None = None


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def limit_numba_threads(n: int) -> int:
    """Make numba's parallel target use ``n`` threads in this process; returns the count set.

    Before numba is imported, or before its thread pool is launched, the pool is created with
    ``n`` threads (``NUMBA_NUM_THREADS``); once launched, ``numba.set_num_threads`` masks it.
    """
    n = max(1, int(n))
    if "numba" not in sys.modules:
        os.environ["NUMBA_NUM_THREADS"] = str(n)
        return n
    import numba
    from numba.core import config
    from numba.np.ufunc import parallel

    if not getattr(parallel, "_is_initialized", True):
        os.environ["NUMBA_NUM_THREADS"] = str(n)
        config.reload_config()  # reads NUMBA_NUM_THREADS again (allowed before the launch)
        parallel.NUM_THREADS = config.NUMBA_NUM_THREADS
        return int(config.NUMBA_NUM_THREADS)
    n = min(n, int(config.NUMBA_NUM_THREADS))
    numba.set_num_threads(n)
    return n


def _one_line(exc: BaseException) -> str:
    from workbench.config import ConfigError
    from workbench.experiments.base import ProblemError
    from workbench.targets import TargetError

    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    if isinstance(exc, (ConfigError, ProblemError, TargetError)):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def execute(task: Task) -> dict[str, Any]:
    """Run ``task`` here and return what happened, as a picklable dict.

    ``state`` is ``finished`` (``outcome`` holds the experiment's Outcome, whatever its
    status), ``error`` (the experiment raised; ``message`` is one line, ``traceback`` the
    rest) or ``interrupted`` (KeyboardInterrupt: a Ctrl-C of this run only).
    """
    started = time.perf_counter()
    info: dict[str, Any] = {
        "key": task.key,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
        "started_at": time.time(),
    }
    try:
        from workbench import experiments, runs

        exp = experiments.get(task.kind)
        cfg = exp.config_model.model_validate(task.config)
        base_dir = None if task.base_dir is None else _path(task.base_dir)
        performed = runs.perform(cfg, exp, base_dir=base_dir)
    except KeyboardInterrupt:
        info.update(state="interrupted", message="interrupted (Ctrl-C)")
        info["wall_s"] = time.perf_counter() - started
        return info
    except Exception as exc:
        info.update(state="error", message=_one_line(exc), traceback=traceback.format_exc())
        info["wall_s"] = time.perf_counter() - started
        return info
    info.update(
        state="finished",
        outcome=performed.outcome,
        target=performed.target,
        target_reason=performed.target_reason,
        wall_s=time.perf_counter() - started,
        versions=performed.versions,
    )
    return info


def _path(text: str):
    from pathlib import Path

    return Path(text)


# ------------------------------------------------------------------------------------ warm-up


#: At most this many short runs warm a process up (one per distinct kernel signature).
MAX_WARM = 16


def shrink(tasks: list[Task]) -> list[Task] | None:
    """Short versions of ``tasks``, one per kernel signature; None if a kind has no recipe.

    Two configs share a signature when they differ only in float values (tolerances, rates,
    physical parameters): those are run-time arguments of the same compiled kernels. Kinds,
    targets, integer sizes and whether a value is a number or a list can select other kernels.
    """
    from workbench import experiments

    out: dict[str, Task] = {}
    for task in tasks:
        recipe = experiments.get(task.kind).shrink
        if recipe is None:
            return None
        config = copy.deepcopy(task.config)
        try:
            recipe(config)
        except (KeyError, TypeError, ValueError):
            return None  # a config shape the recipe does not know: fall back to a first run
        signature = json.dumps([task.kind, _mask_floats(config)], sort_keys=True)
        if signature not in out and len(out) < MAX_WARM:
            out[signature] = Task(f"warm-{len(out)}", task.kind, config, task.base_dir)
    return list(out.values())


def _mask_floats(value: Any) -> Any:
    if isinstance(value, float):
        return "<float>"
    if isinstance(value, dict):
        return {k: _mask_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_floats(v) for v in value]
    return value


def warm_up(tasks: list[Task]) -> float:
    """Run the short ``tasks`` here, so that their kernels are compiled (or loaded from
    numba's cache) in this process; failures are ignored (the real run reports them).
    Returns the seconds spent."""
    started = time.perf_counter()
    for task in tasks:
        try:
            execute(task)
        except Exception:  # execute catches the experiment's errors; this is belt and braces
            pass
    return time.perf_counter() - started


# ----------------------------------------------------------------------- local pool processes


def local_worker_main(conn, threads: int, warm: list[Task]) -> None:
    """Body of a local pool process: warm up once, then run tasks sent over ``conn``.

    Messages from the parent: ``("run", Task)`` or None (stop). To the parent: ``("ready",
    seconds)`` after the warm-up, ``("started", key)`` and ``("finished", key, info)``. When
    the parent goes away the pipe closes and this process ends.

    SIGINT (Ctrl-C) ends this process at once, even inside a compiled kernel (which would hold
    off a KeyboardInterrupt until it returns): the parent records the run as ``interrupted``
    and starts another worker, or, when the whole sweep got the Ctrl-C, stops.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    limit_numba_threads(threads)
    try:
        conn.send(("ready", warm_up(warm)))
        while True:
            msg = conn.recv()
            if msg is None:
                return
            _op, task = msg
            conn.send(("started", task.key))
            conn.send(("finished", task.key, execute(task)))
    except (EOFError, OSError):
        return  # the parent is gone
    finally:
        try:
            conn.close()
        except OSError:
            pass
