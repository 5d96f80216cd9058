"""How the optimizer kernels call an objective.

Kernels evaluate ``f = call_objective(obj, x, g, need, args)``: ``need`` is 1 for the value,
2 for the gradient (written into ``g``), 3 for both; the value is returned whenever it was
computed. ``obj`` is either

* a first-class function ``obj(x, g, need, *args) -> f`` (a ``numba.types.FunctionType``):
  the Python API wraps the user's ``fun``/``jac`` into this form (:func:`first_class`) and
  calls the kernels' specialisation for the function *type*, not for the function. So a new
  objective costs only its own compilation: the kernels are compiled once per argument types
  and then load from Numba's on-disk cache (numba 0.68 does not cache a kernel specialised
  on a dispatcher, and would recompile the whole BFGS chain for every objective); or
* the address (an integer) of a :class:`CompiledObjective`'s C callback, with the fixed
  signature :data:`OBJECTIVE_SIGNATURE`. No dispatcher crosses the kernels' boundary, so they
  load from Numba's on-disk cache in a new process, as :mod:`workbench.integrate._rhs` does for
  right-hand sides. ``args`` is then ``(p, data)``: two float64 arrays, ``p`` per problem (a
  bootstrap member's sample weights) and ``data`` shared by all.

A compiled objective is three module-level definitions (a ``cfunc`` made inside a function is
not cached). For least squares ``f = |A x - b|^2 / 2`` with ``data = [m, A (row-major), b]``::

    import numpy as np
    from numba import carray, cfunc, njit

    from workbench.optimize import OBJECTIVE_SIGNATURE, CompiledObjective, minimize_bfgs

    @njit(cache=True)
    def lsq(x, g, need, p, data):           # the in-place form: value returned, g written
        m, n = int(data[0]), x.shape[0]
        A = data[1 : 1 + m * n].reshape((m, n))
        b = data[1 + m * n : 1 + m * n + m]
        f = 0.0
        for j in range(n):
            g[j] = 0.0
        for i in range(m):
            r = -b[i]
            for j in range(n):
                r += A[i, j] * x[j]
            f += 0.5 * r * r
            for j in range(n):                 # need is always 3 from the kernels
                g[j] += r * A[i, j]
        return f

    @cfunc(OBJECTIVE_SIGNATURE, cache=True)
    def _lsq_c(x, g, n, need, p, n_p, d, n_d):  # pointers and lengths -> arrays
        return lsq(carray(x, (n,)), carray(g, (n,)), need, carray(p, (n_p,)),
                   carray(d, (n_d,)))

    LSQ = CompiledObjective(_lsq_c, lsq.py_func)

    res = minimize_bfgs(LSQ, np.zeros(n), args=(np.empty(0), data))

The kernels always ask a compiled objective for value and gradient together (``need == 3``);
the counts ``nfev``/``njev`` are still scipy's for ``jac=True``. ``py_func`` is compiled as a
CUDA device function for ``minimize_bfgs_batch(..., target="cuda")``, so it must not allocate
there. :mod:`workbench.models.logistic` is a full example.
"""

from __future__ import annotations

import functools

from numba import typeof, types
from numba.core.types.function_type import CompileResultWAP
from numba.extending import overload

from .._numba import CompiledCallback, address_call, kernel_entry

__all__ = [
    "OBJECTIVE_SIGNATURE",
    "CompiledObjective",
    "call_objective",
    "first_class",
    "kernel_entry",
]

_f64p = types.CPointer(types.float64)
_VECTOR = types.Array(types.float64, 1, "C")

#: ``double f(double *x, double *g, intp n, intp need, double *p, intp np, double *d, intp nd)``
OBJECTIVE_SIGNATURE = types.float64(
    _f64p, _f64p, types.intp, types.intp, _f64p, types.intp, _f64p, types.intp
)


class CompiledObjective(CompiledCallback):
    """An in-place objective ``f(x, g, need, p, data) -> float`` behind a C callback.

    ``cfunc`` must be a module-level ``numba.cfunc(OBJECTIVE_SIGNATURE, cache=True)`` (see the
    module docstring for a complete example); ``py_func`` is the Python source it calls,
    compiled as a CUDA device function for the GPU target.
    """


#: Calls the C callback at an address: ``_call_address(addr, x, g, need, p, data)``.
_call_address = address_call(
    "call_objective_address",
    types.float64,
    [("data", 0), ("data", 1), ("len", 0), ("value", 2), ("data", 3), ("len", 3)]
    + [("data", 4), ("len", 4)],
    5,
)


def call_objective(obj, x, g, need, args):
    """Evaluate the objective (this Python body serves the CUDA simulator; compiled code
    uses the overload below)."""
    return obj(x, g, need, *args)


@overload(call_objective, target="generic")
def _call_objective_overload(obj, x, g, need, args):
    if isinstance(obj, types.Integer):  # a CompiledObjective's address: args = (p, data)

        def impl(obj, x, g, need, args):
            return _call_address(obj, x, g, need, args[0], args[1])

        return impl

    if isinstance(obj, types.FunctionType):  # adapter(x, g, need, *args), args as one tuple

        def impl(obj, x, g, need, args):
            return obj(x, g, need, args)

        return impl

    def impl(obj, x, g, need, args):
        return obj(x, g, need, *args)

    return impl


#: ``double cb(double *x, intp n, double f)``: the per-iteration callback; nonzero stops.
ITERATION_SIGNATURE = types.float64(_f64p, types.intp, types.float64)

_call_iteration_address = address_call(
    "call_iteration_address", types.float64, [("data", 0), ("len", 0), ("value", 1)], 2
)


def call_iteration_callback(cb, x, f):
    """Whether the per-iteration callback ``cb`` asks to stop, after an iteration that
    reached ``x`` with value ``f``. ``cb`` is None (no callback: the call compiles away, as
    in the batch and GPU kernels) or the address of a C function with
    :data:`ITERATION_SIGNATURE` (0 for none). This Python body serves the CUDA simulator."""
    return False


@overload(call_iteration_callback, target="generic")
def _call_iteration_callback_overload(cb, x, f):
    if isinstance(cb, types.Integer):

        def impl(cb, x, f):
            return cb != 0 and _call_iteration_address(cb, x, f) != 0.0

        return impl

    def impl(cb, x, f):
        return False

    return impl


@functools.lru_cache(maxsize=512)
def _first_class(adapter, args_type):
    # star-args arrive as one tuple argument; call_objective calls such an objective so
    signature = types.float64(_VECTOR, _VECTOR, types.intp, args_type)
    adapter.compile(signature)  # a typing error in the user's function shows here, once
    return CompileResultWAP(adapter.overloads[signature.args])


def first_class(adapter, args: tuple):
    """``adapter(x, g, need, *args) -> float`` compiled for these ``args`` and wrapped as a
    first-class function (a ``numba.types.FunctionType`` value); returns it and the type of
    ``args``. Kernels receiving it are specialised on its type, not on the function."""
    try:
        args_type = typeof(args)
    except ValueError as exc:
        raise ValueError(
            f"`args` must be values Numba can type (arrays, numbers, tuples of them): {exc}"
        ) from exc
    return _first_class(adapter, args_type), args_type
