"""Compiled user functions shared by the kernel families.

A :class:`CompiledCallback` pairs a module-level ``numba.cfunc`` (cached on disk: kernels call
it through its address, so they load from Numba's cache too) with the Python source it wraps
(compiled as a CUDA device function for the GPU targets).
"""

from __future__ import annotations

import numpy as np
from numba import njit, typeof
from numba.core.registry import CPUDispatcher

#: numpy's float64 descriptor. Fast paths test ``a.dtype is F64`` (a tenth of ``==``); an
#: equal descriptor that is another object only takes the slower path.
F64 = np.dtype(np.float64)


class CompiledCallback:
    """A C callback (``cfunc``, defined at module level) and the Python function behind it."""

    def __init__(self, cfunc, py_func):
        self.cfunc = cfunc
        self.py_func = py_func
        self._device = None

    @property
    def address(self) -> int:
        return self.cfunc.address

    @property
    def device(self):
        """The function compiled as a CUDA device function (on first use)."""
        if self._device is None:
            from .integrate._cuda import device_function

            self._device = device_function(self.py_func)
        return self._device

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.py_func.__module__}.{self.py_func.__qualname__})"

    def pointer_args(self, args) -> tuple[np.ndarray, np.ndarray, tuple[bool, bool]]:
        """``args`` as the callback's ``(p, data)``: two contiguous float64 arrays, either of
        which may be omitted (then empty), and whether each is writeable: all that changes a
        kernel's argument types, so a key for :func:`kernel_entry`. Float64 vectors pass
        through uncopied; the flags are read once (each read builds a flags object)."""
        if len(args) > 2:
            raise ValueError(
                f"a {type(self).__name__} takes args=(p, data): at most two float64 arrays."
            )
        p, p_writeable = _vector(args[0]) if args else _NONE
        data, data_writeable = _vector(args[1]) if len(args) == 2 else _NONE
        return p, data, (p_writeable, data_writeable)


def _vector(a) -> tuple[np.ndarray, bool]:
    """``a`` as a contiguous float64 vector, and whether it is writeable."""
    if type(a) is np.ndarray:
        flags = a.flags
        if a.dtype is F64 and a.ndim == 1 and flags.c_contiguous:
            return a, flags.writeable
    a = np.ascontiguousarray(a, dtype=float).ravel()
    return a, a.flags.writeable


_NONE = (np.empty(0), True)  # an omitted p or data (never written)


def as_dispatcher(fun, name: str = "fun"):
    """A Numba dispatcher for ``fun``: itself if already ``@njit``, else compiled here."""
    if isinstance(fun, CPUDispatcher):
        return fun
    if not callable(fun):
        raise ValueError(f"`{name}` must be callable, got {type(fun).__name__}.")
    # Keep the compiled form on the function itself, so that calling the API again with the
    # same plain function reuses it (and the C-callback wrapper keyed on it) instead of
    # compiling anew; the reference cycle goes away with the function.
    compiled = getattr(fun, _COMPILED_ATTR, None)
    if compiled is None:
        compiled = njit(error_model="numpy")(fun)
        try:
            setattr(fun, _COMPILED_ATTR, compiled)
        except (AttributeError, TypeError):  # builtins, bound methods: compile each time
            pass
    return compiled


_COMPILED_ATTR = "__workbench_njit__"


_entries: dict = {}


def kernel_entry(kernel, values: tuple, key):
    """The compiled specialisation of the cached ``kernel`` for ``values`` (its arguments),
    loaded from Numba's cache or compiled once, and remembered under ``key``: a hashable that
    fixes the argument types (the callers pass every other argument with a fixed type), so
    later calls skip typing the arguments."""
    entry = _entries.get((kernel, key))
    if entry is None:
        entry = _entries[(kernel, key)] = kernel.compile(tuple(typeof(v) for v in values))
    return entry
