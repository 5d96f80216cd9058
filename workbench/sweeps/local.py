"""The local executor: a pool of ``spawn``-ed worker processes, one run at a time each.

Why not ``concurrent.futures.ProcessPoolExecutor`` or ``multiprocessing.Pool``: a per-run
timeout has to kill the process running that run, and neither pool survives that cleanly
(``ProcessPoolExecutor`` marks itself broken and fails every other run in flight;
``multiprocessing.Pool`` loses the task silently and can deadlock if the killed worker held the
shared task-queue lock). Here each worker has its own pipe and is sent one run at a time, so
the parent always knows which process runs what: a run past its timeout, or one whose process
dies (a segfault, the OOM killer, an external ``kill``, a Ctrl-C sent to that process only),
costs only that run; the process is replaced and the other workers carry on. Workers are
started with ``spawn`` (not ``fork``: forking a process with numba's thread pool running is
unsafe), warm up once (load the kernels the parent compiled from numba's on-disk cache) and
then take runs until told to stop.
A worker whose parent dies sees its pipe close and exits.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

from .worker import Task, local_worker_main

__all__ = ["LocalExecutor"]

Event = tuple  # ("started", key, worker) | ("finished", key, info) | ("note", text)


@dataclass
class _Slot:
    process: Any
    conn: Any
    number: int
    task: Task | None = None
    started: float | None = None  # perf_counter when the worker said it started the task
    ready: bool = False


class LocalExecutor:
    """Runs tasks on ``workers`` processes with ``threads`` numba threads each."""

    name = "local"

    def __init__(self, workers: int, threads: int, timeout: float | None):
        self.workers = workers
        self.threads = threads
        self.timeout = timeout
        self.warm: list[Task] = []
        self._ctx = multiprocessing.get_context("spawn")
        self._slots: list[_Slot] = []
        self._started = 0
        self._deaths_before_ready = 0

    def prepare(self, warm: list[Task]) -> None:
        """The short runs each worker makes when it starts (workers start on demand)."""
        self.warm = warm

    # ----------------------------------------------------------------------------- processes

    def _spawn(self) -> _Slot:
        parent_end, child_end = self._ctx.Pipe(duplex=True)
        self._started += 1
        process = self._ctx.Process(
            target=local_worker_main,
            args=(child_end, self.threads, self.warm),
            name=f"workbench-sweep-worker-{self._started}",
        )
        process.start()
        child_end.close()
        slot = _Slot(process, parent_end, self._started)
        self._slots.append(slot)
        return slot

    def _discard(self, slot: _Slot, *, died: bool = False) -> None:
        """Kill ``slot``'s process (if alive) and forget it; ``died``: it ended by itself."""
        if slot.process.is_alive():
            slot.process.kill()
        slot.process.join(5)
        try:
            slot.conn.close()
        except OSError:
            pass
        if slot in self._slots:
            self._slots.remove(slot)
        if died and not slot.ready:
            self._deaths_before_ready += 1
            if self._deaths_before_ready >= 3:
                raise RuntimeError(
                    "local worker processes keep exiting before they are ready "
                    f"(last exit code {slot.process.exitcode}); see the messages above"
                )

    def close(self) -> None:
        """Stop every worker: ask politely, then kill what is still there."""
        for slot in self._slots:
            try:
                slot.conn.send(None)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 3
        for slot in self._slots:
            slot.process.join(max(0.0, deadline - time.monotonic()))
        for slot in list(self._slots):
            self._discard(slot)

    # ---------------------------------------------------------------------------------- runs

    def events(self, tasks: list[Task]) -> Iterator[Event]:
        """Run ``tasks``; yields ``("started", key, worker)`` and ``("finished", key, info)``.

        ``info`` is :func:`~workbench.sweeps.worker.execute`'s dict, or one made here with
        ``state`` ``timeout`` or ``crashed``. Closing the generator early (Ctrl-C) kills the
        workers that are still running something.
        """
        queue = deque(tasks)
        while len(self._slots) < min(self.workers, len(queue)):
            self._spawn()
        try:
            while queue or any(s.task is not None for s in self._slots):
                out: list[Event] = []
                for slot in list(self._slots):
                    if slot.task is None and queue:
                        self._assign(slot, queue, out)
                while len(self._slots) < min(self.workers, len(queue)):
                    self._spawn()  # replaces workers lost while idle
                waitables = [s.conn for s in self._slots]
                waitables += [s.process.sentinel for s in self._slots]
                ready = set(wait(waitables, timeout=self._next_deadline()))
                for slot in list(self._slots):
                    self._drain(slot, ready, queue, out)
                self._expire(out)
                yield from out
        finally:
            for slot in list(self._slots):
                if slot.task is not None:  # stopped early: nobody will collect this run
                    slot.process.kill()
                    slot.task = None
                    self._discard(slot)

    def _assign(self, slot: _Slot, queue: deque, out: list[Event]) -> None:
        task = queue.popleft()
        try:
            slot.conn.send(("run", task))
        except (OSError, ValueError):
            queue.appendleft(task)  # the worker is gone; the task never reached it
            self._discard(slot)
            return
        slot.task, slot.started = task, None

    def _drain(self, slot: _Slot, ready: set, queue: deque, out: list[Event]) -> None:
        """Read what ``slot``'s worker sent; handle its death."""
        broken = False
        if slot.conn in ready or slot.process.sentinel in ready:
            while True:
                try:
                    if not slot.conn.poll():
                        break
                    msg = slot.conn.recv()
                except Exception:  # a closed pipe (EOFError, OSError) or a garbled message
                    broken = True
                    break
                self._handle(slot, msg, out)
        if broken or not slot.process.is_alive():
            slot.process.join(1)
            if slot.task is not None:
                out.append(("finished", slot.task.key, self._crash_info(slot)))
                slot.task = None
            self._discard(slot, died=True)

    def _handle(self, slot: _Slot, msg: tuple, out: list[Event]) -> None:
        kind = msg[0]
        if kind == "ready":
            slot.ready = True
        elif kind == "started" and slot.task is not None and msg[1] == slot.task.key:
            slot.started = time.perf_counter()
            out.append(("started", msg[1], f"local worker {slot.number}"))
        elif kind == "finished" and slot.task is not None and msg[1] == slot.task.key:
            slot.task, slot.started = None, None
            out.append(("finished", msg[1], msg[2]))

    def _next_deadline(self) -> float | None:
        if self.timeout is None:
            return None
        starts = [s.started for s in self._slots if s.task is not None and s.started is not None]
        if not starts:
            return None
        return max(0.0, min(starts) + self.timeout - time.perf_counter())

    def _expire(self, out: list[Event]) -> None:
        if self.timeout is None:
            return
        now = time.perf_counter()
        for slot in list(self._slots):
            if slot.task is None or slot.started is None or now - slot.started < self.timeout:
                continue
            slot.process.kill()
            info = {
                "key": slot.task.key,
                "state": "timeout",
                "message": f"timed out after {self.timeout:g} s (its worker process was killed)",
                "wall_s": now - slot.started,
                "worker": f"local worker {slot.number}",
            }
            out.append(("finished", slot.task.key, info))
            slot.task = None
            self._discard(slot)

    def _crash_info(self, slot: _Slot) -> dict[str, Any]:
        code = slot.process.exitcode
        wall = time.perf_counter() - slot.started if slot.started is not None else None
        if code == -signal.SIGINT:
            return {
                "key": slot.task.key if slot.task else "",
                "state": "interrupted",
                "message": "interrupted (Ctrl-C of its worker process)",
                "wall_s": wall,
                "worker": f"local worker {slot.number}",
            }
        if code is not None and code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exit code {code}"
        return {
            "key": slot.task.key if slot.task else "",
            "state": "crashed",
            "message": f"its worker process died during the run ({how})",
            "wall_s": wall,
            "worker": f"local worker {slot.number}",
        }
