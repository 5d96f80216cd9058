"""Event functions, as scipy's ``solve_ivp`` takes them, made into one compiled callable.

scipy calls each ``event(t, y, *args)`` in turn. The kernels call one function that writes
every event's value into an array ``g``: ``ev(t, y, g, p, *args)``, like a right-hand side. It
is generated here from the user's functions, either as a C callback (so that the cached solver
kernel runs, as for the right-hand side, see :mod:`._callback`) or as a dispatcher.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit
from numba.core.errors import NumbaError

from .._numba import as_dispatcher, compile_cfunc, compile_or_fallback, unpack_lines
from .._numba.pyfallback import type_key
from ._rhs import RHS_SIGNATURE

_TERMINAL_MESSAGE = "The `terminal` attribute of each event must be a boolean or positive integer."


@dataclass(frozen=True)
class EventSet:
    """The events of one solve: their compiled functions, ``direction`` and ``max_events``
    (the occurrence that terminates the solve; ``inf`` for none), as scipy's
    ``prepare_events`` reads them from the functions' attributes."""

    functions: tuple  # dispatchers (the user's function where Numba refused to wrap it)
    direction: np.ndarray  # (e,)
    max_events: np.ndarray  # (e,)
    originals: tuple = ()  # the user's functions, for the plain-Python path

    def __len__(self) -> int:
        return len(self.functions)


def prepare_events(events) -> EventSet | None:
    """scipy's ``prepare_events``: a callable or a sequence of them, with optional attributes
    ``terminal`` (bool or a positive count) and ``direction`` (a number: > 0 rising, < 0
    falling, 0 both)."""
    if events is None:
        return None
    if callable(events):
        events = (events,)
    try:
        events = tuple(events)
    except TypeError:
        raise ValueError(
            f"`events` must be a callable or a sequence of callables, got {type(events).__name__}."
        ) from None
    if not events:
        return None
    # The same functions with the same attributes give the same set: made once (a solve in a
    # loop would otherwise spend microseconds here on every call).
    try:
        key = tuple((e, getattr(e, "terminal", None), getattr(e, "direction", 0)) for e in events)
        known = _prepared.get(key)
    except TypeError:  # an unhashable attribute: checked below
        key, known = None, None
    if known is not None:
        return known
    max_events = np.empty(len(events))
    direction = np.empty(len(events))
    functions = []
    for i, event in enumerate(events):
        if not callable(event):
            raise ValueError(f"`events[{i}]` must be callable, got {type(event).__name__}.")
        terminal = getattr(event, "terminal", None)
        try:
            direction[i] = float(getattr(event, "direction", 0))
        except (TypeError, ValueError):
            raise ValueError(
                f"The `direction` attribute of event {i} must be a number, got {event.direction!r}."
            ) from None
        if terminal is None or terminal == 0:
            max_events[i] = np.inf
        elif isinstance(terminal, (bool, int, np.integer, float)) and int(terminal) == terminal:
            if terminal < 0:
                raise ValueError(_TERMINAL_MESSAGE)
            max_events[i] = terminal
        else:
            raise ValueError(_TERMINAL_MESSAGE)
        try:
            functions.append(as_dispatcher(event, f"events[{i}]"))
        except TypeError:  # a bound method or callable object: see check_event_values
            functions.append(event)
    event_set = EventSet(tuple(functions), direction, max_events, events)
    if key is not None:
        if len(_prepared) > 256:
            _prepared.clear()
        _prepared[key] = event_set
    return event_set


_prepared: dict = {}
_checked: set = set()


def check_event_values(event_set: EventSet, t0, y0, args, leading=()) -> bool:
    """Call each event once at the start and check that it returns one real number (once per
    set of functions and argument types: the result's type does not change with values).

    Returns False, after a :class:`PythonFallbackWarning`, when Numba cannot compile one of
    them: then the caller runs every function as plain Python."""
    key = (event_set.functions, type_key(y0), *map(type_key, (*leading, *args)))
    if key in _checked:
        return True
    for i, original in enumerate(event_set.originals):

        def check(compiled, i=i):
            _check_value(i, compiled, t0, y0, (*leading, *args))

        if compile_or_fallback(original, f"events[{i}]", as_dispatcher, check, args) is None:
            _check_value(i, original, t0, y0, (*leading, *args))
            return False
    if len(_checked) > 1024:
        _checked.clear()
    _checked.add(key)
    return True


def _check_value(i: int, fn, t0, y0, args) -> None:
    try:
        value = fn(t0, y0, *args)
    except NumbaError:
        raise
    except Exception as exc:
        raise ValueError(
            f"`events[{i}]` failed when called as event(t0, y0, *args): {exc}"
        ) from exc
    if np.ndim(value) != 0 or not np.isrealobj(value):
        raise ValueError(
            f"`events[{i}]` must return one real number, got {type(value).__name__} "
            f"of shape {np.shape(value)}."
        )


_cfuncs: dict = {}
_dispatchers: dict = {}


def combined_cfunc(event_set: EventSet, kinds, leading_p: bool = False):
    """The events as one C callback with the right-hand side's signature, writing ``g``;
    their extra arguments are unpacked from ``(p, data)`` by ``kinds`` (see
    :func:`._callback.unpack_lines`), after ``p`` itself when ``leading_p`` (the batch form
    ``event(t, y, p, *args)``). None when Numba cannot compile it."""
    key = (event_set.functions, kinds, leading_p)
    if key not in _cfuncs:
        lines, names = unpack_lines(kinds)
        call = ", ".join(["t", "yy", *(["carray(p, (n_p,))"] if leading_p else []), *names])
        e = len(event_set.functions)
        src = [
            "def events(t, y, g, n, p, n_p, d, nd):",
            "    yy = carray(y, (n,))",
            f"    gg = carray(g, ({e},))",
            *lines,
            *(f"    gg[{k}] = e{k}({call})" for k in range(e)),
        ]
        namespace = {f"e{k}": fn for k, fn in enumerate(event_set.functions)}
        _cfuncs[key] = compile_cfunc(src, namespace, RHS_SIGNATURE, "<solve_ivp events>")
    return _cfuncs[key]


def combined_dispatcher(event_set: EventSet, leading_p: bool = False):
    """The events as one dispatcher ``ev(t, y, g, p, *args)`` writing ``g``; each event is
    called as ``event(t, y, *args)``, or ``event(t, y, p, *args)`` with ``leading_p``."""
    key = (event_set.functions, leading_p)
    if key not in _dispatchers:
        call = "t, y, p, *args" if leading_p else "t, y, *args"
        src = [
            "def events(t, y, g, p, *args):",
            *(f"    g[{k}] = e{k}({call})" for k in range(len(event_set.functions))),
        ]
        namespace = {f"e{k}": fn for k, fn in enumerate(event_set.functions)}
        exec(compile("\n".join(src), "<solve_ivp events>", "exec"), namespace)
        _dispatchers[key] = njit(error_model="numpy", _nrt=True)(namespace["events"])
    return _dispatchers[key]
