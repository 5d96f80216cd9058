"""A user's compiled ``fun`` (and ``jac``) behind a C callback, so BFGS runs its cached kernel.

As ``workbench.integrate`` does for right-hand sides: when every extra argument is a float or
a 1-D or 2-D float64 array (:func:`workbench._numba.arg_layout`), a small ``cfunc`` with the
objective's fixed signature unpacks them and calls the user's compiled functions. The kernel
then receives an address, not a function object: it loads from Numba's cache, and a call
skips unboxing a first-class function (about 3 us of a small fit's fixed cost, measured by
``benchmarks/bench_parts.py``).
"""

from __future__ import annotations

import numpy as np

from .._numba import compile_cfunc, unpack_lines
from ._objective import OBJECTIVE_SIGNATURE

_BODIES = {
    # need: 1 value, 2 gradient, 3 both (see _objective); a gradient of the wrong length
    # gives NaN (the run then stops) rather than a read past its end
    "separate": [
        "    f = 0.0",
        "    if need & 1:",
        "        f = fun({call})",
        "    if need & 2:",
        "        r = jac({call})",
        "        if r.shape[0] != n:",
        "            return np.nan",
        "        for i in range(n):",
        "            gg[i] = r[i]",
        "    return f",
    ],
    "combined": [
        "    f, r = fun({call})",
        "    if r.shape[0] != n:",
        "        return np.nan",
        "    for i in range(n):",
        "        gg[i] = r[i]",
        "    return f",
    ],
    "value": ["    return fun({call})"],
}

_wrappers: dict = {}


def wrap_objective(fun, jac, mode: str, kinds):
    """The C callback running compiled ``fun``/``jac`` (mode ``"separate"``, ``"combined"``
    or ``"value"``) on arguments laid out as ``kinds``; None when Numba cannot compile it
    (the first-class function path is then used)."""
    key = (fun, jac, mode, kinds)
    if key not in _wrappers:
        if len(_wrappers) > 256:
            _wrappers.clear()
        lines, names = unpack_lines(kinds)
        call = ", ".join(["xx", *names])
        src = [
            "def objective(x, g, n, need, p, n_p, d, nd):",
            "    xx = carray(x, (n,))",
            "    gg = carray(g, (n,))",
            *lines,
            *(line.format(call=call) for line in _BODIES[mode]),
        ]
        namespace = {"fun": fun, "jac": jac, "np": np}
        _wrappers[key] = compile_cfunc(src, namespace, OBJECTIVE_SIGNATURE, "<minimize callback>")
    return _wrappers[key]
