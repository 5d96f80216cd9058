"""Plain Python functions that Numba cannot compile, run through the same compiled kernels.

A user's function reaches the kernels as a C callback's address (see :mod:`.callbacks`).
When Numba cannot compile the function (a bound method, a call into ``scipy.special``, a
global dict, a helper that is plain Python), :mod:`ctypes` makes the C callback instead: a
C-callable trampoline into the Python function, with the same signature as the compiled
wrappers. The kernels, which only see an address, run unchanged (and load from Numba's
cache): the same steps, the same counts, the function's own values. Each call then costs
the Python call plus about a microsecond of ctypes.

An exception raised by the function (``KeyboardInterrupt`` included) cannot unwind through
compiled code. The trampoline stores it and answers NaN, which the kernels treat as a
failed evaluation and stop on (every later call answers NaN at once); the caller re-raises
it when the kernel returns (:meth:`Bridge.reraise`).
"""

from __future__ import annotations

import ctypes
import inspect
import logging
import os
import re
import warnings
from collections.abc import Callable

import numpy as np
from numba.core.errors import NumbaError

__all__ = [
    "Bridge",
    "PythonFallbackWarning",
    "compile_or_fallback",
    "function_name",
    "numba_reason",
    "require_compiled",
    "run_as_python",
    "type_key",
]

log = logging.getLogger("workbench")


class PythonFallbackWarning(UserWarning):
    """A user's function runs as plain Python because Numba cannot compile it."""


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def numba_reason(exc: BaseException, width: int = 160) -> str:
    """Numba's reason for not compiling, in one line of at most ``width`` characters (its
    messages span a screen: a pipeline header, the reason, then source excerpts and the
    typing stack)."""
    text = _ANSI.sub("", str(exc))
    reason = type(exc).__name__
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("Failed in ", "No implementation of function")):
            reason = line.rstrip(":.")
            break
    return reason if len(reason) <= width else reason[: width - 3] + "..."


def function_name(fun) -> str:
    """``module.qualname`` of a function, bound method or callable object."""
    target = getattr(fun, "__func__", fun)
    qualname = getattr(target, "__qualname__", None) or type(fun).__qualname__
    module = getattr(target, "__module__", None)
    return f"{module}.{qualname}" if module not in (None, "__main__") else qualname


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _user_stacklevel() -> int:
    """The stack level of the first frame outside workbench (the user's call)."""
    level, frame = 1, inspect.currentframe().f_back  # level 1: the caller of warnings.warn
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level


_verdicts: dict = {}


def type_key(value):
    """What of a value fixes how Numba types it: an array's dtype and dimensions, a tuple's
    members, else the Python type (a hashable key for memoising per argument types)."""
    if isinstance(value, np.ndarray):
        return (np.ndarray, value.dtype, value.ndim)
    if isinstance(value, tuple):
        return tuple(map(type_key, value))
    return type(value)


_PYTHON_ATTR = "__workbench_python__"


def run_as_python(fun):
    """Mark ``fun`` (a function made here, such as an argument-order adapter around a user's
    function that Numba cannot compile) to take the plain-Python path without a warning
    (the user's function has had its own)."""
    setattr(fun, _PYTHON_ATTR, True)
    return fun


def compile_or_fallback(fun, name: str, make: Callable, check: Callable, args: tuple):
    """``make(fun)``'s compiled function after ``check(compiled)`` (which calls it once, so
    that Numba compiles it for these argument types), or None when Numba cannot compile
    ``fun``: then one :class:`PythonFallbackWarning` names the function, gives Numba's reason
    and says how to make it fast, and the caller takes the plain-Python path.

    A failed attempt is remembered per function and argument types (Numba would retry, and
    a failing compilation costs tens of milliseconds). Errors that are not compilation
    errors (the function raising, a wrong shape) propagate from ``check``.
    """
    if getattr(fun, _PYTHON_ATTR, False):
        return None
    try:
        key = (fun, tuple(map(type_key, args)))
        hash(key)
    except TypeError:
        key = None
    if key is not None and key in _verdicts:
        return None
    try:
        compiled = make(fun)
        check(compiled)
        return compiled
    except (NumbaError, TypeError) as exc:
        if isinstance(exc, TypeError) and not _is_numba_refusal(exc):
            raise
        reason = numba_reason(exc)
    if key is not None:
        if len(_verdicts) > 256:
            _verdicts.clear()
        _verdicts[key] = reason
    warnings.warn(
        f"`{name}` ({function_name(fun)}) runs as plain Python: Numba cannot compile it "
        f"({reason}). Results are the same; for speed, make it a module-level @njit function "
        "that Numba compiles (no bound methods, Python-only helpers or scipy calls inside).",
        PythonFallbackWarning,
        stacklevel=_user_stacklevel(),
    )
    log.info("%s runs as plain Python: %s", function_name(fun), reason)
    return None


def require_compiled(fun, name: str, api: str, check: Callable, alternative: str):
    """``check()`` (which compiles ``fun`` by calling it once), turning Numba's refusal into
    a ValueError that names the function, gives the reason in one line and says what to do:
    for the batch APIs, which run every member compiled and have no plain-Python path."""
    try:
        return check()
    except (NumbaError, TypeError) as exc:
        if isinstance(exc, TypeError) and not _is_numba_refusal(exc):
            raise
        raise ValueError(
            f"{api} runs `{name}` ({function_name(fun)}) compiled for every member, and Numba "
            f"cannot compile it: {numba_reason(exc)}. Make it an @njit function Numba "
            f"compiles, or use {alternative}, which also runs plain Python."
        ) from None


def _is_numba_refusal(exc: TypeError) -> bool:
    """Numba's own TypeErrors when given something that is not a Python function."""
    text = str(exc)
    return "decorated object is not a function" in text or "Numba" in text


# --- the ctypes trampolines -------------------------------------------------------------------

_p = ctypes.c_void_p
_n = ctypes.c_ssize_t
#: ``void f(double t, double *y, double *out, intp n, double *p, intp np, double *d, intp nd)``
RHS_PROTOTYPE = ctypes.CFUNCTYPE(None, ctypes.c_double, _p, _p, _n, _p, _n, _p, _n)
#: ``double f(double *x, double *g, intp n, intp need, double *p, intp np, double *d, intp nd)``
OBJECTIVE_PROTOTYPE = ctypes.CFUNCTYPE(ctypes.c_double, _p, _p, _n, _n, _p, _n, _p, _n)
#: ``double f(double *x, intp n, double f)``: a per-iteration callback; nonzero stops
ITERATION_PROTOTYPE = ctypes.CFUNCTYPE(ctypes.c_double, _p, _n, ctypes.c_double)


class Bridge:
    """The C trampolines of one kernel call, their array views, and the first exception any
    of them caught. Keep the bridge alive until the kernel returns (it owns the callbacks)."""

    def __init__(self):
        self.error: BaseException | None = None
        self._views: dict = {}
        self._keep: list = []

    def view(self, address: int, n: int) -> np.ndarray:
        """A float64 array over the kernel's memory at ``address`` (made once per address:
        the kernel's work arrays stay put while it runs)."""
        arr = self._views.get((address, n))
        if arr is None:
            arr = np.ctypeslib.as_array((ctypes.c_double * n).from_address(address))
            self._views[(address, n)] = arr
        return arr

    def _keep_alive(self, callback) -> int:
        self._keep.append(callback)
        return ctypes.cast(callback, ctypes.c_void_p).value

    def rhs(self, fun, args: tuple, width: int | None = None) -> int:
        """The address of ``out[:] = fun(t, y, *args)`` with the right-hand side's C
        signature (``width``: the output's length when it is not the state's, as for the
        combined events). ``y`` is passed as a copy, as scipy passes a new array."""

        def trampoline(t, y, out, n, p, n_p, d, nd):
            target = self.view(out, n if width is None else width)
            if self.error is not None:
                target[:] = np.nan
                return
            try:
                target[:] = fun(t, self.view(y, n).copy(), *args)
            except BaseException as exc:  # noqa: BLE001 - handed back by reraise()
                self.error = exc
                target[:] = np.nan

        return self._keep_alive(RHS_PROTOTYPE(trampoline))

    def objective(self, value, gradient, args: tuple, combined: bool = False) -> int:
        """The address of an objective with the optimizer's C signature: ``value(x, *args)``
        when the kernel asks for the value (``need & 1``), ``gradient(x, *args)`` written into
        ``g`` for the gradient (``need & 2``); with ``combined`` (scipy's ``jac=True``),
        ``value`` returns ``(f, g)`` and both are used. ``x`` is passed as a copy."""

        def trampoline(x, g, n, need, p, n_p, d, nd):
            if self.error is not None:
                return np.nan
            try:
                xk = self.view(x, n).copy()
                if combined:
                    f, grad = value(xk, *args)
                    self.view(g, n)[:] = np.ravel(grad)
                    return float(f)
                f = float(value(xk, *args)) if need & 1 else np.nan
                if need & 2:
                    self.view(g, n)[:] = np.ravel(gradient(xk, *args))
                return f
            except BaseException as exc:  # noqa: BLE001
                self.error = exc
                return np.nan

        return self._keep_alive(OBJECTIVE_PROTOTYPE(trampoline))

    def iteration(self, callback: Callable[[np.ndarray, float], bool]) -> int:
        """The address of a per-iteration callback ``callback(x, f) -> stop``; an exception
        stops the iterations and is re-raised."""

        def trampoline(x, n, f):
            if self.error is not None:
                return 1.0
            try:
                return 1.0 if callback(self.view(x, n).copy(), f) else 0.0
            except BaseException as exc:  # noqa: BLE001
                self.error = exc
                return 1.0

        return self._keep_alive(ITERATION_PROTOTYPE(trampoline))

    def reraise(self) -> None:
        """Raise what a trampoline caught, if anything (after the kernel has returned)."""
        if self.error is not None:
            error, self.error = self.error, None
            raise error
