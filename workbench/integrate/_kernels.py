"""Each method's compiled kernels: :mod:`._stepper` and :mod:`._entries` instantiated per method.

A method is a global record the kernels are compiled for: :func:`instantiate` runs the two
template modules' source once per method, as modules of their own named after it, with the
method's :class:`._methods.Tableau` as their global ``TABLEAU``. Numba then sees every
coefficient as a constant, and caches each method's kernels in files of their own (a cache
file is named after the function's module). The modules are registered in ``sys.modules``
because a kernel loaded from the cache looks its module up by name.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import numpy as np

from . import _entries, _stepper
from ._methods import METHODS, Method
from ._records import STEP_Y


class MethodKernels:
    """A method's instances of :mod:`._stepper` (``stepper``) and :mod:`._entries`; the entry
    points are attributes of this object too (``kernels.to_grid``)."""

    def __init__(self, method: Method, stepper: ModuleType, entries: ModuleType):
        self.method = method
        self.stepper = stepper
        self.entries = entries
        self._dynamic: dict = {}
        for name in self.ENTRIES:
            setattr(self, name, getattr(entries, name))

    #: The entry points, as attributes (looked up on every call: no ``__getattr__``).
    ENTRIES = ("to_grid", "solve", "batch_cpu", "batch_parallel", "eval_segments")

    def dynamic(self, name: str):
        """A non-caching twin of an entry point, for when a dispatcher crosses its boundary
        (numba 0.68 recompiles a cached function that receives one in every process)."""
        twin = self._dynamic.get(name)
        if twin is None:
            from numba import njit

            kernel = getattr(self.entries, name)
            options = dict(error_model="numpy")
            if name.startswith("batch"):  # run in a worker thread (see _numba.interrupt)
                options["nogil"] = True
            if name == "batch_parallel":
                options["parallel"] = True
            twin = self._dynamic[name] = njit(**options)(kernel.py_func)
        return twin


def _instance(template: ModuleType, method: Method, **globals_) -> ModuleType:
    name = f"{template.__name__}_{method.name}"
    module = sys.modules.get(name)
    if module is not None:
        return module
    spec = importlib.util.spec_from_file_location(name, template.__file__)
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(TABLEAU=method.tableau, NAME=method.name, **globals_)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def instantiate(method: Method) -> MethodKernels:
    """The compiled kernels of ``method`` (made once per process; compiled on first use)."""
    stepper = _instance(_stepper, method)
    entries = _instance(_entries, method, STEPPER=stepper)
    return MethodKernels(method, stepper, entries)


class _Kernels(dict):
    """Each method's kernels, by scipy's name, instantiated on first use (a template's
    instance creates a few dozen dispatchers: import costs milliseconds per method)."""

    def __missing__(self, name: str) -> MethodKernels:
        if name not in METHODS:
            raise KeyError(name)
        kernels = self[name] = instantiate(METHODS[name])
        return kernels


#: The compiled kernels of every method, by scipy's name (RK45, the default, made at import:
#: its modules are then importable by name, as Numba's cache and ``tests/test_cache`` need).
KERNELS: dict[str, MethodKernels] = _Kernels()
KERNELS["RK45"] = instantiate(METHODS["RK45"])


def dense_table(steps: np.ndarray, n: int, n_dense: int):
    """Split the ``solve`` kernel's step table into (ts (s+1,), hs (s,), ys (s+1, n),
    Qs (s, n, n_dense))."""
    ts = steps[:, 0].copy()
    hs = steps[:-1, 1].copy()
    ys = np.ascontiguousarray(steps[:, STEP_Y : STEP_Y + n])
    Qs = np.ascontiguousarray(steps[:-1, STEP_Y + n :].reshape(-1, n, n_dense))
    return ts, hs, ys, Qs
