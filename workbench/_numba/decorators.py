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

from numba import njit

jit = njit(cache=True, error_model="numpy")
leaf = njit(cache=True, error_model="numpy", _nrt=False)
inline = njit(cache=True, error_model="numpy", _nrt=False, inline="always")


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
        return njit(**options)(fn)

    return decorate
