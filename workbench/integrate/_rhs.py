"""How the solver kernels call a right-hand side.

Two forms reach the kernels:

* a Numba dispatcher ``rhs(t, y, dydt, p, *args)`` writing dy/dt into ``dydt`` (the batch API's
  in-place form; ``solve_ivp`` wraps an out-of-place ``fun(t, y, *args)`` into it). Kernels
  specialise on the dispatcher, so they are compiled once per process.
* a :class:`CompiledRHS`: the same in-place function compiled as a C callback with the fixed
  signature :data:`RHS_SIGNATURE`; the kernels receive only its address (an integer) and call
  it through :func:`call_rhs`. Because no dispatcher crosses the kernel's boundary, the kernels
  are cached on disk and load in milliseconds in a new process (numba 0.68 recompiles a cached
  function that receives or passes on a dispatcher in every process). ``p`` and ``data`` are then
  float64 arrays.
"""

from __future__ import annotations

from numba import njit, types
from numba.extending import overload

from .._numba import CompiledCallback, address_call

_f64p = types.CPointer(types.float64)

#: ``void rhs(double t, double *y, double *dydt, intp n, double *p, intp np, double *d, intp nd)``
RHS_SIGNATURE = types.void(
    types.float64, _f64p, _f64p, types.intp, _f64p, types.intp, _f64p, types.intp
)


class CompiledRHS(CompiledCallback):
    """An in-place right-hand side ``rhs(t, y, dydt, p, data)`` behind a C callback.

    ``cfunc`` is a ``numba.cfunc(RHS_SIGNATURE, cache=True)`` defined at module level (a cfunc
    made inside a factory is not cached) that unpacks its pointers with ``numba.carray`` and
    calls ``py_func``'s compiled form. ``py_func`` is kept so the CUDA target can compile the
    same source as a device function.
    """


#: Calls the C callback at an address: ``_call_address(addr, t, y, dydt, p, data)``.
_call_address = address_call(
    "call_rhs_address",
    types.void,
    [("value", 0), ("data", 1), ("data", 2), ("len", 1), ("data", 3), ("len", 3)]
    + [("data", 4), ("len", 4)],
    5,
)


def call_rhs(rhs, t, y, dydt, p, args):
    """Evaluate the right-hand side into ``dydt``.

    In pure Python (the CUDA simulator) ``rhs`` is a callable and ``args`` a tuple; compiled
    code uses the overload below, which also accepts a C callback's address.
    """
    rhs(t, y, dydt, p, *args)


@overload(call_rhs, target="generic")
def _call_rhs_overload(rhs, t, y, dydt, p, args):
    if isinstance(rhs, types.Integer):

        def impl(rhs, t, y, dydt, p, args):
            _call_address(rhs, t, y, dydt, p, args)

        return impl

    def impl(rhs, t, y, dydt, p, args):
        rhs(t, y, dydt, p, *args)

    return impl


_trampolines: dict = {}


def with_nrt(rhs):
    """``rhs`` (an in-place dispatcher) behind a trampoline compiled with Numba's reference
    counting on.

    The stepping functions run without it (``_nrt=False``: otherwise every array argument is
    incref'd atomically on each of their calls, a third of the time of a step), and Numba
    passes that flag on to the functions they call unless those set it themselves; a user's
    right-hand side may allocate, which needs it.
    """
    trampoline = _trampolines.get(rhs)
    if trampoline is None:

        @njit(error_model="numpy", _nrt=True)
        def trampoline(t, y, dydt, p, *args):
            rhs(t, y, dydt, p, *args)

        _trampolines[rhs] = trampoline
    return trampoline
