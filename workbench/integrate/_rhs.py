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

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic, overload

from .._compiled import CompiledCallback

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


def _data_ptr(context, builder, aryty, value):
    return context.make_array(aryty)(context, builder, value).data


@intrinsic
def _call_address(typingctx, addr, t, y, dydt, p, d):
    """Call the C callback at ``addr`` with the data pointers and lengths of the arrays."""
    for name, ty in (("y", y), ("dydt", dydt), ("p", p), ("data", d)):
        if not (isinstance(ty, types.Array) and ty.dtype == types.float64 and ty.ndim == 1):
            raise TypingError(f"CompiledRHS: {name} must be a 1-D float64 array, got {ty}")
        if ty.layout != "C":
            raise TypingError(f"CompiledRHS: {name} must be C-contiguous, got layout {ty.layout}")

    def codegen(context, builder, signature, args):
        addr_v, t_v, y_v, dydt_v, p_v, d_v = args
        _, _, y_t, dydt_t, p_t, d_t = signature.args
        dptr = ir.DoubleType().as_pointer()
        intp = context.get_value_type(types.intp)
        fnty = ir.FunctionType(
            ir.VoidType(), [ir.DoubleType(), dptr, dptr, intp, dptr, intp, dptr, intp]
        )
        fn = builder.inttoptr(addr_v, fnty.as_pointer())

        def length(aryty, value):
            ary = context.make_array(aryty)(context, builder, value)
            return cgutils.unpack_tuple(builder, ary.shape, 1)[0]

        builder.call(
            fn,
            [
                t_v,
                _data_ptr(context, builder, y_t, y_v),
                _data_ptr(context, builder, dydt_t, dydt_v),
                length(y_t, y_v),
                _data_ptr(context, builder, p_t, p_v),
                length(p_t, p_v),
                _data_ptr(context, builder, d_t, d_v),
                length(d_t, d_v),
            ],
        )
        return context.get_dummy_value()

    return types.void(addr, t, y, dydt, p, d), codegen


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
