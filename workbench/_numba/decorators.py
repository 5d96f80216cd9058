"""The compile options of the kernels, named once.

- ``jit``: cached, numpy's error model (no division-by-zero checks): entry points that may
  allocate;
- ``leaf``: the same without Numba's reference counting. With it, every array argument is
  incref'd atomically on each call, a third of a Runge-Kutta step's time; functions that
  never allocate and are called in hot loops use this (a user function that allocates is
  called through an NRT-enabled trampoline);
- ``inline``: a ``leaf`` inlined into its callers in Numba's IR (small hot helpers, and code
  whose callers pass constants that should fold).
"""

from __future__ import annotations

from numba import njit, types


class _CacheWithoutPythonObjects:
    """A dispatcher's on-disk cache that neither saves nor looks up specialisations whose
    argument types hold a Python function (a user's dispatcher passed to a cached kernel).

    Numba pickles such a type by reference to the function's module into the cache index;
    a later process that cannot import that module (a script's ``__main__``, a test file)
    then fails to unpickle the whole index, and every cached specialisation of the kernel
    with it. Such specialisations are never reused across processes anyway (the function's
    type differs in each), so skipping them loses nothing.
    """

    def __init__(self, cache):
        self._cache = cache

    def __getattr__(self, name):
        return getattr(self._cache, name)

    def load_overload(self, sig, target_context):
        if _holds_python_function(sig):
            return None
        return self._cache.load_overload(sig, target_context)

    def save_overload(self, sig, cres):
        if not _holds_python_function(sig):
            self._cache.save_overload(sig, cres)


def _holds_python_function(sig) -> bool:
    args = getattr(sig, "args", sig)
    stack = list(args) if isinstance(args, (tuple, list)) else [args]
    while stack:
        ty = stack.pop()
        if isinstance(ty, types.Dispatcher):
            return True
        if isinstance(ty, types.BaseTuple):
            stack.extend(ty.types)
    return False


def cached_njit(**options):
    """``numba.njit(cache=True, **options)`` whose cache skips specialisations on Python
    functions (see :class:`_CacheWithoutPythonObjects`)."""
    decorate = njit(cache=True, **options)

    def wrapper(fn):
        dispatcher = decorate(fn)
        dispatcher._cache = _CacheWithoutPythonObjects(dispatcher._cache)
        return dispatcher

    return wrapper


jit = cached_njit(error_model="numpy")
leaf = cached_njit(error_model="numpy", _nrt=False)
inline = cached_njit(error_model="numpy", _nrt=False, inline="always")


def compiled_for(name: str, **options):
    """``numba.njit(**options)`` for a function of a template module that is run once per
    instance (see :mod:`workbench.integrate._kernels`): the function's ``__qualname__`` gets
    the instance's name appended first.

    Numba names a function's cache files after its source file and qualified name, and keys
    its entries by signature and bytecode; the instances of one template share all three, so
    without the name they would load one another's compiled code.
    """

    def decorate(fn):
        fn.__qualname__ = f"{fn.__qualname__}.{name}"
        if options.get("cache"):
            rest = {k: v for k, v in options.items() if k != "cache"}
            return cached_njit(**rest)(fn)
        return njit(**options)(fn)

    return decorate
