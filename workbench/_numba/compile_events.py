"""Say when Numba compiles: an INFO log record for the API, a status line for the CLI.

A kernel's first run in a checkout compiles it (seconds to tens of seconds); later runs load
it from Numba's on-disk cache in milliseconds. Numba announces each compilation (not a cache
load) with a ``numba:compile`` event; :data:`WATCH` listens for the outermost one, logs it
through :mod:`logging` (logger ``workbench``, never stdout) and tells the hooks a front end
registers with :meth:`CompileWatch.hook` (the CLI shows "compiling kernels, first run only").
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator

from numba.core import event

log = logging.getLogger("workbench")

__all__ = ["WATCH", "CompileWatch"]


def _name(data) -> str:
    dispatcher = (data or {}).get("dispatcher")
    func = getattr(dispatcher, "py_func", None) or getattr(dispatcher, "__wrapped__", None)
    return getattr(func, "__qualname__", None) or type(dispatcher).__name__


class CompileWatch(event.Listener):
    """Reports the outermost compilation of each thread: nested functions compile inside it."""

    def __init__(self):
        self._local = threading.local()
        self._hooks: list[tuple[Callable[[str], None], Callable[[], None]]] = []

    def on_start(self, ev) -> None:
        depth = getattr(self._local, "depth", 0)
        self._local.depth = depth + 1
        if depth == 0:
            name = _name(ev.data)
            self._local.started = (name, time.perf_counter())
            log.info("compiling %s (first run only: later runs load it from Numba's cache)", name)
            for start, _ in list(self._hooks):
                start(name)

    def on_end(self, ev) -> None:
        self._local.depth = getattr(self._local, "depth", 1) - 1
        if self._local.depth == 0:
            name, started = self._local.started
            log.info("compiled %s in %.1f s", name, time.perf_counter() - started)
            for _, end in list(self._hooks):
                end()

    @contextlib.contextmanager
    def hook(self, start: Callable[[str], None], end: Callable[[], None]) -> Iterator[None]:
        """Call ``start(name)`` and ``end()`` around each outermost compilation, inside the
        ``with`` block."""
        entry = (start, end)
        self._hooks.append(entry)
        try:
            yield
        finally:
            self._hooks.remove(entry)


#: The process's one watcher, registered when workbench's Numba plumbing is imported.
WATCH = CompileWatch()
event.register("numba:compile", WATCH)
