"""The kernels' Python source as CUDA device functions, and as plain Python for the simulator.

An ``@njit`` function is compiled by numba-cuda as a device function when a kernel calls it,
so each family writes its arithmetic once. Under the CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``) kernels run as Python, and a compiled ``@njit`` function cannot
take the simulator's arrays: :func:`pure_python` gives the source with every dispatcher it
calls replaced by its Python function. An intrinsic has no Python body; it names its Python
twin in a ``python_form`` attribute (see ``integrate._sums.fma``).
"""

from __future__ import annotations

import types as pytypes

from numba import config
from numba.core.dispatcher import Dispatcher


def pure_python(fn, _memo: dict | None = None):
    """``fn``'s Python source with every Numba dispatcher it calls (by global name) replaced,
    recursively, by its Python source too, and every intrinsic by its ``python_form``."""
    memo = {} if _memo is None else _memo
    py = getattr(fn, "py_func", fn)
    if py in memo:
        return memo[py]
    namespace = dict(py.__globals__)
    clone = pytypes.FunctionType(
        py.__code__, namespace, py.__name__, py.__defaults__, py.__closure__
    )
    memo[py] = clone
    for name in py.__code__.co_names:
        if isinstance(namespace.get(name), Dispatcher):
            namespace[name] = pure_python(namespace[name], memo)
        elif hasattr(namespace.get(name), "python_form"):  # an intrinsic: no Python body
            namespace[name] = namespace[name].python_form
    return clone


def device_function(fn):
    """``fn`` (a Python function or ``@njit`` dispatcher) as a CUDA device function."""
    from numba import cuda

    py = getattr(fn, "py_func", fn)
    return cuda.jit(device=True)(pure_python(py) if config.ENABLE_CUDASIM else py)
