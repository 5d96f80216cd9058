"""A user's ``fun`` (and ``jac``) as a C callback, so BFGS runs its cached kernel.

As ``workbench.integrate`` does for right-hand sides: when every extra argument
is a float or a 1-D float64 array, a small ``cfunc`` with the objective's fixed signature
unpacks them (floats from ``p``, arrays from ``data``) and calls the user's compiled
functions; only that wrapper is compiled, not a kernel specialised on the dispatcher.
"""

from __future__ import annotations

from .._numba import arg_layout, compile_cfunc, unpack_lines
from ._objective import OBJECTIVE_SIGNATURE

_wrappers: dict = {}

_BODIES = {
    # need: 1 value, 2 gradient, 3 both (see _objective)
    "separate": [
        "    f = 0.0",
        "    if need & 1:",
        "        f = fun({call})",
        "    if need & 2:",
        "        r = jac({call})",
        "        for i in range(n):",
        "            gg[i] = r[i]",
        "    return f",
    ],
    "combined": [
        "    f, r = fun({call})",
        "    if need & 2:",
        "        for i in range(n):",
        "            gg[i] = r[i]",
        "    return f",
    ],
    "value": ["    return fun({call})"],
}


def wrap(fun, jac, mode: str, args):
    """``(address, (p, data))`` for the cached BFGS kernel, or None when the arguments or the
    functions do not fit a C callback (then the dispatcher path is used)."""
    layout = arg_layout(args)
    if layout is None or mode not in _BODIES:
        return None
    kinds, p, data = layout
    key = (fun, jac, mode, kinds)
    if key not in _wrappers:
        _wrappers[key] = _compile(fun, jac, mode, kinds)
    wrapped = _wrappers[key]
    return None if wrapped is None else (wrapped.address, (p, data))


def _compile(fun, jac, mode, kinds):
    lines, names = unpack_lines(kinds)
    call = ", ".join(["xx", *names])
    src = [
        "def wrapper(x, g, n, need, p, n_p, d, nd):",
        "    xx = carray(x, (n,))",
        "    gg = carray(g, (n,))",
        *lines,
        *(line.format(call=call) for line in _BODIES[mode]),
    ]
    return compile_cfunc(src, {"fun": fun, "jac": jac}, OBJECTIVE_SIGNATURE, "<minimize callback>")
