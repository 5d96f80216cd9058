"""The Dask executor: runs go to ``dask.distributed`` workers.

Without an address a ``LocalCluster`` of ``workers`` single-threaded worker processes is
started, each with ``NUMBA_NUM_THREADS`` set to its share of the cores; with one, the client
connects to the scheduler there (workbench must be installed on its workers, and the config's
relative files reachable from them). A worker plugin limits numba's threads to the worker's
share of its host and warms the worker up once (short runs that compile, or load from numba's
cache, every kernel the sweep calls), so no task ever compiles. Tasks are
:func:`workbench.sweeps.worker.execute`, an importable function; results come back to the
client, which writes the run folders.

The client keeps at most as many runs in flight as the cluster has worker threads, so a run
starts when it is submitted and its timeout can be counted from there. Dask cannot stop a
running task; a run past its timeout is cancelled and the worker running it restarted by its
nanny (its other runs, if any, are retried elsewhere). A worker that dies during a run fails
that run at once (``allowed-failures`` is 0 on the local cluster) rather than taking more
workers down with it on retries.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

from distributed import Client, LocalCluster, WorkerPlugin, wait
from distributed.client import FIRST_COMPLETED

from .worker import Task, execute, limit_numba_threads, usable_cores, warm_up

__all__ = ["DaskExecutor", "WarmUp", "run_task"]

PLUGIN_NAME = "workbench-sweep-warm-up"

#: Numba threads for runs in this worker process, set by :class:`WarmUp` (None: not set).
_THREADS: int | None = None


class WarmUp(WorkerPlugin):
    """Once per worker process: limit numba's threads, then run the short warm-up tasks."""

    def __init__(self, warm: list[Task], threads: int | None, per_host: dict[str, int]):
        self.warm = warm
        self.threads = threads
        self.per_host = per_host

    async def setup(self, worker) -> None:
        """Limit this worker's numba threads (its share of its host's cores), then warm it up.

        Parameters
        ----------
        worker : distributed.Worker
            The worker the plugin is set up on.

        Returns
        -------
        None
        """
        global _THREADS
        import asyncio

        if self.threads is not None:
            share = self.threads
        else:  # a worker of an existing cluster: its share of its host's cores
            host = worker.address.rsplit(":", 1)[0].split("://")[-1]
            count = max(1, self.per_host.get(host, 1))
            share = max(1, usable_cores() // count // max(1, worker.state.nthreads))
        _THREADS = limit_numba_threads(share)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, warm_up, self.warm)  # keeps the event loop responsive


def run_task(task: Task) -> dict[str, Any]:
    """A sweep run on a Dask worker (the thread count applies per calling thread)."""
    if _THREADS is not None:
        limit_numba_threads(_THREADS)
    return execute(task)


class DaskExecutor:
    """Runs tasks on a Dask cluster (a new ``LocalCluster``, or the scheduler at ``address``)."""

    name = "dask"

    def __init__(
        self,
        workers: int,
        threads: int,
        timeout: float | None,
        address: str | None = None,
    ):
        self.workers = workers
        self.threads = threads
        self.timeout = timeout
        self.address = address
        self._threads_setting: int | None = None
        self._per_host: dict[str, int] = {}
        self.cluster: LocalCluster | None = None
        self.client: Client | None = None
        self.slots = 1

    def start(self) -> None:
        """Connect to the scheduler at ``address``, or start a LocalCluster."""
        import dask

        if self.address:
            try:
                self.client = Client(self.address, timeout="15s")
            except (OSError, TimeoutError) as exc:
                raise ConnectionError(
                    f"--address {self.address}: no Dask scheduler answered there ({exc})"
                ) from None
            try:
                self.client.wait_for_workers(1, timeout=60)
            except TimeoutError:
                raise ConnectionError(
                    f"--address {self.address}: the scheduler has no workers (waited 60 s)"
                ) from None
            threads = None
        else:
            with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                self.cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    env={"NUMBA_NUM_THREADS": str(self.threads)},
                    silence_logs=logging.ERROR,
                )
            self.client = Client(self.cluster)
            threads = self.threads
        info = self.client.scheduler_info(n_workers=-1)["workers"]
        per_host: dict[str, int] = {}
        for w in info.values():
            per_host[w["host"]] = per_host.get(w["host"], 0) + 1
        self.slots = max(1, sum(int(w.get("nthreads", 1)) for w in info.values()))
        self._threads_setting, self._per_host = threads, per_host

    def prepare(self, warm: list[Task]) -> None:
        """Limit numba's threads and warm up every worker (and any that joins later) once."""
        plugin = WarmUp(warm, self._threads_setting, self._per_host)
        self.client.register_plugin(plugin, name=PLUGIN_NAME)

    def close(self) -> None:
        """Close the client and any cluster this executor started."""
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None

    def events(self, tasks: list[Task]) -> Iterator[tuple]:
        """As :meth:`workbench.sweeps.local.LocalExecutor.events`."""
        client = self.client
        queue = deque(tasks)
        flight: dict[Any, tuple[Task, float]] = {}  # future -> (task, submitted at)
        try:
            while queue or flight:
                out: list[tuple] = []
                while queue and len(flight) < self.slots:
                    task = queue.popleft()
                    future = client.submit(run_task, task, key=f"workbench-{task.key}", pure=False)
                    flight[future] = (task, time.perf_counter())
                    out.append(("started", task.key, "dask"))
                yield from out
                out = []
                try:
                    done, _ = wait(
                        list(flight), timeout=self._wait(flight), return_when=FIRST_COMPLETED
                    )
                except TimeoutError:
                    done = set()
                for future in done:
                    task, submitted = flight.pop(future)
                    out.append(("finished", task.key, self._info(future, task, submitted)))
                out += self._expire(flight)
                yield from out
        finally:
            for future in flight:
                future.cancel()

    def _wait(self, flight: dict) -> float | None:
        if self.timeout is None or not flight:
            return None
        first = min(submitted for _, submitted in flight.values())
        return max(0.01, first + self.timeout - time.perf_counter())

    def _info(self, future, task: Task, submitted: float) -> dict[str, Any]:
        from distributed import KilledWorker

        try:
            return future.result()
        except KilledWorker:
            return {
                "key": task.key,
                "state": "crashed",
                "message": "its Dask worker died during the run",
                "wall_s": time.perf_counter() - submitted,
                "worker": "dask",
            }
        except Exception as exc:  # could not run there at all (e.g. workbench not installed)
            text = str(exc).splitlines()[0] if str(exc) else ""
            return {
                "key": task.key,
                "state": "error",
                "message": f"{type(exc).__name__}: {text}".rstrip(": "),
                "wall_s": time.perf_counter() - submitted,
                "worker": "dask",
            }

    def _expire(self, flight: dict) -> list[tuple]:
        if self.timeout is None:
            return []
        now = time.perf_counter()
        late = [f for f, (_, submitted) in flight.items() if now - submitted >= self.timeout]
        if not late:
            return []
        processing = self.client.processing()
        out = []
        for future in late:
            task, submitted = flight.pop(future)
            where = [addr for addr, keys in processing.items() if future.key in keys]
            future.cancel()
            note = "its Dask worker was restarted"
            if where:
                status = self.client.restart_workers(where, raise_for_error=False)
                if any(v != "OK" for v in status.values()):
                    note = "its Dask worker could not be restarted and may still be running it"
            info = {
                "key": task.key,
                "state": "timeout",
                "message": f"timed out after {self.timeout:g} s ({note})",
                "wall_s": now - submitted,
                "worker": ", ".join(where) or "dask",
            }
            out.append(("finished", task.key, info))
        return out
