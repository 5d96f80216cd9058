"""How the optimizer kernels call an objective.

Kernels evaluate ``f = call_objective(obj, x, g, need, args)``: ``need`` is 1 for the value,
2 for the gradient (written into ``g``), 3 for both; the value is returned whenever it was
computed. ``obj`` is either

* a Numba dispatcher ``obj(x, g, need, *args) -> f`` (the Python API wraps the user's
  ``fun``/``jac`` into this form; kernels specialise on it, compiled once per process), or
* a :class:`CompiledObjective`: an in-place ``f(x, g, need, p, data)`` compiled as a C callback
  with the fixed signature :data:`OBJECTIVE_SIGNATURE`, called through its address, so the
  kernels load from Numba's on-disk cache (as :mod:`workbench.integrate._rhs` does for
  right-hand sides). ``args`` is then ``(p, data)``: two float64 arrays, ``p`` per problem (a
  bootstrap member's sample weights) and ``data`` shared.

A compiled objective is written at module level, e.g.::

    @njit(cache=True)
    def my_fg(x, g, need, p, data):      # p, data: float64 arrays
        ...
        return f

    @cfunc(OBJECTIVE_SIGNATURE, cache=True)
    def _my_fg_c(x, g, n, need, p, n_p, d, nd):
        return my_fg(carray(x, (n,)), carray(g, (n,)), need, carray(p, (n_p,)),
                     carray(d, (nd,)))

    MY_OBJECTIVE = CompiledObjective(_my_fg_c, my_fg.py_func)
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic, overload

from .._compiled import CompiledCallback

_f64p = types.CPointer(types.float64)

#: ``double f(double *x, double *g, intp n, intp need, double *p, intp np, double *d, intp nd)``
OBJECTIVE_SIGNATURE = types.float64(
    _f64p, _f64p, types.intp, types.intp, _f64p, types.intp, _f64p, types.intp
)


class CompiledObjective(CompiledCallback):
    """An in-place objective ``f(x, g, need, p, data) -> float`` behind a C callback.

    ``cfunc`` must be a module-level ``numba.cfunc(OBJECTIVE_SIGNATURE, cache=True)``;
    ``py_func`` is the Python source, compiled as a CUDA device function for the GPU target.
    """


@intrinsic
def _call_address(typingctx, addr, x, g, need, p, d):
    for name, ty in (("x", x), ("g", g), ("p", p), ("data", d)):
        if not (isinstance(ty, types.Array) and ty.dtype == types.float64 and ty.ndim == 1):
            raise TypingError(f"CompiledObjective: {name} must be a 1-D float64 array, got {ty}")
        if ty.layout != "C":
            raise TypingError(f"CompiledObjective: {name} must be C-contiguous")

    def codegen(context, builder, signature, args):
        addr_v, x_v, g_v, need_v, p_v, d_v = args
        _, x_t, g_t, need_t, p_t, d_t = signature.args
        dptr = ir.DoubleType().as_pointer()
        intp = context.get_value_type(types.intp)
        fnty = ir.FunctionType(ir.DoubleType(), [dptr, dptr, intp, intp, dptr, intp, dptr, intp])
        fn = builder.inttoptr(addr_v, fnty.as_pointer())
        xa, ga, pa, da = (
            context.make_array(t)(context, builder, v)
            for t, v in ((x_t, x_v), (g_t, g_v), (p_t, p_v), (d_t, d_v))
        )

        def length(a):
            return cgutils.unpack_tuple(builder, a.shape, 1)[0]

        need = context.cast(builder, need_v, need_t, types.intp)
        return builder.call(
            fn, [xa.data, ga.data, length(xa), need, pa.data, length(pa), da.data, length(da)]
        )

    return types.float64(addr, x, g, need, p, d), codegen


def call_objective(obj, x, g, need, args):
    """Evaluate the objective (pure Python, for the CUDA simulator); see the module doc."""
    return obj(x, g, need, *args)


@overload(call_objective, target="generic")
def _call_objective_overload(obj, x, g, need, args):
    if isinstance(obj, types.Integer):

        def impl(obj, x, g, need, args):
            return _call_address(obj, x, g, need, args[0], args[1])

        return impl

    def impl(obj, x, g, need, args):
        return obj(x, g, need, *args)

    return impl
