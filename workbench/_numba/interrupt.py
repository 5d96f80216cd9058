"""Ctrl-C and time limits inside compiled work.

Python runs signal handlers (the one that raises ``KeyboardInterrupt``, or a ``SIGALRM``
handler that enforces a time limit) only between bytecodes, so a compiled loop never sees
them. The kernels therefore poll a *stop array*, ``stop`` (int64, :data:`STOP_SIZE`), once per
step or iteration, through :func:`interrupted`:

- called directly from Python on the main thread (single solves and fits), the kernel holds
  the GIL, and ``stop[SIGNALS] = 1`` lets it ask CPython to run any pending handlers
  (``PyErr_CheckSignals``, a few nanoseconds when none is pending). A handler's exception is
  taken off the thread (``PyErr_Fetch``) into ``stop``, the kernel returns its "interrupted"
  status, and :func:`reraise` raises that very exception in Python, traceback included;
- in a worker thread with the GIL released (the batch kernels, see :func:`run_released`),
  ``stop[SIGNALS] = 0``: the main thread waits, receives the signal itself, and sets
  ``stop[FLAG]``, which every member reads at its next step.

``stop=None`` compiles the polling away (the CUDA kernels, and solves called from a user's own
``@njit`` code). :func:`time_limit` bounds a block of work with ``SIGALRM``; the exception it
raises, :class:`TimeLimitReached`, reaches compiled work by the same route as Ctrl-C.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import signal
import sys
import threading
from collections.abc import Callable, Iterator

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils, event
from numba.extending import intrinsic, overload

#: Slots of a stop array: the stop request, the fetched exception (type, value, traceback, as
#: owned ``PyObject*``) and whether the kernel may run signal handlers.
FLAG, EXC_TYPE, EXC_VALUE, EXC_TB, SIGNALS = range(5)
STOP_SIZE = 5


class TimeLimitReached(Exception):
    """A :func:`time_limit` ran out; the work in progress was stopped."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        super().__init__(f"the time limit of {seconds:g} s was reached")


# ------------------------------------------------------------------------------ the kernel side


@intrinsic
def _check_signals(typingctx):
    """``PyErr_CheckSignals()``: runs pending Python signal handlers (GIL held, main thread);
    nonzero when one raised. Linked by name, so the kernels stay cacheable."""

    def codegen(context, builder, sig, args):
        fnty = ir.FunctionType(ir.IntType(32), [])
        check = cgutils.get_or_insert_function(builder.module, fnty, "PyErr_CheckSignals")
        return builder.call(check, [])

    return types.int32(), codegen


@intrinsic
def _fetch_exception(typingctx, stop):
    """``PyErr_Fetch`` into ``stop[EXC_TYPE:EXC_TB + 1]``: the raised exception leaves the
    thread (a kernel must not return with one set) and the references are ours."""

    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        slots = builder.bitcast(data, ir.IntType(8).as_pointer().as_pointer())
        ptrs = [
            builder.gep(slots, [ir.Constant(ir.IntType(64), k)])
            for k in (EXC_TYPE, EXC_VALUE, EXC_TB)
        ]
        fnty = ir.FunctionType(ir.VoidType(), [slots.type] * 3)
        builder.call(cgutils.get_or_insert_function(builder.module, fnty, "PyErr_Fetch"), ptrs)
        return context.get_dummy_value()

    return types.void(stop), codegen


@intrinsic
def _load_flag(typingctx, stop):
    """``stop[FLAG]`` read atomically, so that the compiler never hoists it out of a loop:
    another thread sets it."""

    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        return builder.load_atomic(data, "monotonic", 8)

    return types.int64(stop), codegen


def interrupted(stop) -> bool:
    """Whether compiled work should stop now (see the module docstring). ``stop`` is None
    (never: the check compiles away) or a stop array. This Python body serves the CUDA
    simulator, which runs the kernels as Python."""
    return False


@overload(interrupted, target="generic", inline="always")
def _interrupted_overload(stop):
    if isinstance(stop, types.NoneType):
        return lambda stop: False
    if not (isinstance(stop, types.Array) and stop.dtype == types.int64 and stop.ndim == 1):
        return None

    def impl(stop):
        if stop[SIGNALS] != 0 and _check_signals() != 0:
            _fetch_exception(stop)
            stop[FLAG] = 1
        return _load_flag(stop) != 0

    return impl


# ------------------------------------------------------------------------------ the Python side

_restore = ctypes.pythonapi.PyErr_Restore
_restore.argtypes = [ctypes.c_void_p] * 3
_restore.restype = None


def new_stop(signals: bool | None = None) -> np.ndarray:
    """A stop array; ``signals`` (default: whether this is the main thread) lets a kernel
    called directly run pending signal handlers."""
    stop = np.zeros(STOP_SIZE, dtype=np.int64)
    if signals is None:
        signals = threading.current_thread() is threading.main_thread()
    stop[SIGNALS] = int(bool(signals))
    return stop


_MAIN_STOP = new_stop(True)
_OTHER_STOP = new_stop(False)
_MAIN_IDENT = threading.main_thread().ident


def stop_for_call() -> np.ndarray:
    """The stop array for a kernel called directly from this thread. One array serves every
    call on the main thread (an allocation would cost a tenth of a small solve): after a
    kernel returns, :func:`reraise` leaves it cleared. Other threads cannot run signal
    handlers, and get an array that never stops."""
    return _MAIN_STOP if threading.get_ident() == _MAIN_IDENT else _OTHER_STOP


def reraise(stop: np.ndarray) -> None:
    """Raise what stopped a kernel: the exception a signal handler raised (taken off the
    thread by the kernel), else ``KeyboardInterrupt``. Clears ``stop`` first."""
    pending = [int(stop[k]) for k in (EXC_TYPE, EXC_VALUE, EXC_TB)]
    stop[FLAG] = stop[EXC_TYPE] = stop[EXC_VALUE] = stop[EXC_TB] = 0
    if pending[0]:
        # ctypes.pythonapi checks for a Python error after each call: this raises it, with
        # the handler's traceback, and takes back the references the kernel held.
        _restore(*(p or None for p in pending))
    raise KeyboardInterrupt


def run_released(
    kernel: Callable[..., object],
    args: tuple,
    stop: np.ndarray,
    poll: Callable[[], None] | None = None,
    poll_s: float = 0.1,
):
    """Run ``kernel(*args)`` (compiled with ``nogil=True``, polling ``stop``) in a worker
    thread, with this thread's ``numba.get_num_threads()``, while this thread waits and stays
    responsive: every ``poll_s`` it calls ``poll``
    (progress), and a signal handler's exception (Ctrl-C, :class:`TimeLimitReached`) sets
    ``stop[FLAG]``, waits for the kernel to return (the next step of every member) and is
    raised. Returns the kernel's value; re-raises its exception."""
    outcome: dict = {}
    threads = numba.get_num_threads()  # a per-thread setting: the caller's must hold

    def work():
        try:
            numba.set_num_threads(threads)
            outcome["value"] = kernel(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="workbench-kernel", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(poll_s)
            if poll is not None:
                poll()
    except BaseException:
        stop[FLAG] = 1
        _join_regardless(worker)
        raise
    if "error" in outcome:
        raise outcome["error"]
    if poll is not None:
        poll()  # the final count
    return outcome.get("value")


def progress_poll(
    progress: Callable[[int, int], None] | None, count_done: Callable[[], int], total: int
) -> Callable[[], None] | None:
    """A ``poll`` for :func:`run_released` that calls ``progress(done, total)`` when the
    count of finished members has changed (None without ``progress``)."""
    if progress is None:
        return None
    last = -1

    def poll() -> None:
        nonlocal last
        done = count_done()
        if done != last:
            last = done
            progress(done, total)

    return poll


def _join_regardless(worker: threading.Thread) -> None:
    """Wait for a stopping kernel (well under a second), ignoring a second Ctrl-C meanwhile:
    a kernel left running would write into arrays its caller is about to drop."""
    while worker.is_alive():
        with contextlib.suppress(BaseException):
            worker.join()


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`TimeLimitReached` in this block after ``seconds`` (None or inf: no
    limit), inside compiled work too. Uses ``SIGALRM``: main thread only, not on Windows."""
    if seconds is None or math.isinf(seconds):
        yield
        return
    if not seconds > 0:
        raise ValueError(f"a time limit must be positive seconds, got {seconds!r}")
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("time_limit works on the main thread only (it uses SIGALRM)")

    def expire(signum, frame):
        raise TimeLimitReached(seconds)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ------------------------------------------------------------ signals that land while compiling


class _SignalsDuringCompilation(event.Listener):
    """Re-arms a signal whose exception Numba's compiler lost.

    Compiling runs Python code inside llvmlite's ctypes callbacks, and an exception raised in
    one (``KeyboardInterrupt`` from Ctrl-C, :class:`TimeLimitReached` from a time limit) is
    printed and dropped: the compilation goes on and the kernel never hears of the signal.
    While the main thread compiles, the handlers of ``SIGINT`` and ``SIGALRM`` are wrapped to
    note the signal; when the compilation ends without an exception but with a signal noted,
    the signal is raised again, so that its handler runs in ordinary code.
    """

    SIGNALS = tuple(
        getattr(signal, name) for name in ("SIGINT", "SIGALRM") if hasattr(signal, name)
    )

    def __init__(self) -> None:
        self._depth = 0
        self._wrapped: dict[int, tuple[Callable, Callable]] = {}  # signum -> (wrapper, handler)
        self._noted: list[int] = []

    def on_start(self, ev) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # handlers run on the main thread only
        self._depth += 1
        if self._depth > 1:
            return
        self._noted.clear()
        for signum in self.SIGNALS:
            handler = signal.getsignal(signum)
            if callable(handler):  # not SIG_IGN, SIG_DFL or a handler set outside Python
                wrapper = self._wrapper(signum, handler)
                signal.signal(signum, wrapper)
                self._wrapped[signum] = (wrapper, handler)

    def _wrapper(self, signum: int, handler: Callable) -> Callable:
        def noting(sig, frame):
            self._noted.append(sig)
            handler(sig, frame)

        return noting

    def on_end(self, ev) -> None:
        if threading.current_thread() is not threading.main_thread() or self._depth == 0:
            return
        self._depth -= 1
        if self._depth > 0:
            return
        for signum, (wrapper, handler) in self._wrapped.items():
            if signal.getsignal(signum) is wrapper:  # unless someone set another meanwhile
                signal.signal(signum, handler)
        self._wrapped.clear()
        noted, self._noted = self._noted, []
        if noted and not _carries_exception(ev):
            # the handler's exception was swallowed (the compilation would have failed with it)
            signal.raise_signal(noted[-1])


def _carries_exception(ev) -> bool:
    """Whether an END event ends by an exception. (``Event.is_failed`` answers the opposite
    in numba 0.68, so the details are read directly, where they are kept.)"""
    if hasattr(ev, "_exc_details"):
        return ev._exc_details is not None
    return sys.exc_info()[0] is not None


event.register("numba:compile", _SignalsDuringCompilation())
