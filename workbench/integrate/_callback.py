"""A user's ``fun(t, y, *args)`` as a C callback, so ``solve_ivp`` can use its cached kernel.

A kernel specialised on a user's dispatcher is compiled afresh in every process (several
seconds). Instead, when every extra argument is a float or a 1-D float64 array, the function is
wrapped in a small ``cfunc`` with the fixed right-hand-side signature: float arguments travel in
``p``, arrays in ``data``, and only that wrapper (and the user's function) is compiled. Other
arguments (ints, tuples, 2-D arrays...) keep the dispatcher path.
"""

from __future__ import annotations

import numpy as np

from .._numba import arg_layout, compile_cfunc, unpack_lines
from ._rhs import RHS_SIGNATURE

_wrappers: dict = {}


def wrap(fun_dispatcher, args):
    """``(address, p, data)`` to run ``fun(t, y, *args)`` through the cached kernel, or None
    when the arguments or the function do not fit a C callback."""
    layout = arg_layout(args)
    if layout is None:
        return None
    kinds, p, data = layout
    key = (fun_dispatcher, kinds)  # offsets and sizes are baked into the wrapper
    if key not in _wrappers:
        _wrappers[key] = _compile_wrapper(fun_dispatcher, kinds)
    wrapped = _wrappers[key]
    if wrapped is None:
        return None
    return wrapped.address, p, data


def _compile_wrapper(fun, kinds):
    lines, names = unpack_lines(kinds)
    call = ", ".join(["t", "carray(y, (n,))", *names])
    src = [
        "def wrapper(t, y, dydt, n, p, n_p, d, nd):",
        *lines,
        f"    out = fun({call})",
        "    if out.shape[0] != n:  # NaN stops the solve (status -1) rather than read past out",
        "        for i in range(n):",
        "            dydt[i] = np.nan",
        "        return",
        "    for i in range(n):",
        "        dydt[i] = out[i]",
    ]
    # None for e.g. a function that returns a tuple: the dispatcher path is kept
    namespace = {"fun": fun, "np": np}
    return compile_cfunc(src, namespace, RHS_SIGNATURE, "<solve_ivp callback>")
