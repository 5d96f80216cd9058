"""A user's ``fun(t, y, *args)`` as a C callback, so ``solve_ivp`` can use its cached kernel.

A kernel specialised on a user's dispatcher is compiled afresh in every process (several
seconds). Instead, when every extra argument is a float or a 1-D float64 array, the function is
wrapped in a small ``cfunc`` with the fixed right-hand-side signature: float arguments travel in
``p``, arrays in ``data``, and only that wrapper (and the user's function) is compiled. Other
arguments (ints, tuples, 2-D arrays...) keep the dispatcher path.
"""

from __future__ import annotations

import numpy as np
from numba import carray, cfunc
from numba.core.errors import NumbaError

from ._rhs import RHS_SIGNATURE

_wrappers: dict = {}


def _layout(args):
    """(kinds, p, data) for args made only of floats and 1-D float64 arrays; None otherwise."""
    kinds, scalars, arrays, offset = [], [], [], 0
    for a in args:
        if isinstance(a, float | np.floating):
            kinds.append(("s", len(scalars), 0))
            scalars.append(float(a))
        elif isinstance(a, np.ndarray) and a.dtype == np.float64 and a.ndim == 1:
            kinds.append(("a", offset, a.shape[0]))
            arrays.append(a)
            offset += a.shape[0]
        else:
            return None
    data = np.concatenate(arrays) if arrays else np.empty(0)
    return tuple(kinds), np.array(scalars, dtype=float), np.ascontiguousarray(data)


def wrap(fun_dispatcher, args):
    """``(address, p, data)`` to run ``fun(t, y, *args)`` through the cached kernel, or None
    when the arguments or the function do not fit a C callback."""
    layout = _layout(args)
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


def unpack_lines(kinds) -> tuple[list[str], list[str]]:
    """Source lines that rebuild the arguments ``a0, a1, ...`` from ``p`` and ``d`` inside a
    C callback (sizes and offsets baked in), and those names."""
    lines, names = [], []
    for i, (kind, at, size) in enumerate(kinds):
        names.append(f"a{i}")
        if kind == "s":  # a float, from p
            lines.append(f"    a{i} = p[{at}]")
        elif kind == "a":  # an array, from data
            lines.append(f"    a{i} = carray(d, (nd,))[{at}:{at + size}]")
        elif kind == "p":  # all of p (a CompiledRHS's own p)
            lines.append(f"    a{i} = carray(p, (n_p,))")
        else:  # "d": all of data
            lines.append(f"    a{i} = carray(d, (nd,))")
    return lines, names


def _compile_wrapper(fun, kinds):
    lines, names = unpack_lines(kinds)
    call = ", ".join(["t", "carray(y, (n,))", *names])
    src = "\n".join(
        [
            "def wrapper(t, y, dydt, n, p, n_p, d, nd):",
            *lines,
            f"    out = fun({call})",
            "    for i in range(n):",
            "        dydt[i] = out[i]",
        ]
    )
    namespace = {"carray": carray, "fun": fun}
    exec(compile(src, "<solve_ivp callback>", "exec"), namespace)
    try:
        return cfunc(RHS_SIGNATURE, error_model="numpy")(namespace["wrapper"])
    except NumbaError:  # e.g. a function that returns a tuple: keep the dispatcher path
        return None
