"""Compiled user functions shared by the kernel families.

A :class:`CompiledCallback` pairs a module-level ``numba.cfunc`` (cached on disk: kernels call
it through its address, so they load from Numba's cache too) with the Python source it wraps
(compiled as a CUDA device function for the GPU targets).
"""

from __future__ import annotations

from numba import njit
from numba.core.registry import CPUDispatcher


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


def as_dispatcher(fun, name: str = "fun"):
    """A Numba dispatcher for ``fun``: itself if already ``@njit``, else compiled here."""
    if isinstance(fun, CPUDispatcher):
        return fun
    if not callable(fun):
        raise ValueError(f"`{name}` must be callable, got {type(fun).__name__}.")
    return njit(error_model="numpy")(fun)
