"""The CUDA target of :mod:`workbench.optim`: one thread per element, a grid-stride loop.

Each update rule of :mod:`.registry` gets a kernel (:func:`rule_kernel_source`) that calls
its element update of :mod:`._kernels` (``rmsprop_at``, ``sgd_at``, ``adam_at``,
``adagrad_at``), which numba-cuda compiles as a device function: the GPU runs the same
formulas, in the same order, as the CPU targets. Under the CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``) the kernels run as Python, with the element functions' Python
source, so the simulator checks the launch logic here against the CPU kernels.

This module imports ``numba.cuda``; :mod:`workbench.optim` imports it only for
``target="cuda"``, and kernels are compiled on first use (:func:`kernel`), never at import.
The kernels' plain-Python sources are :data:`SOURCES`, for ``cuda.compile_ptx``.
"""

from __future__ import annotations

import inspect
from types import FunctionType, SimpleNamespace

import numpy as np
from numba import config, cuda

from .._numba import pure_python
from .registry import RULES, UpdateRule

__all__ = [
    "SOURCES",
    "as_flat_device",
    "is_device_array",
    "kernel",
    "launch",
    "launch_config",
]

THREADS_PER_BLOCK = 256  # a power of two: the sum-of-squares reduction halves it
MAX_BLOCKS = 4096  # grid-stride beyond that
# The simulator runs every thread as a Python thread: few and small blocks, but more than one,
# so the grid-stride loop is exercised.
SIM_THREADS_PER_BLOCK = 8
SIM_MAX_BLOCKS = 2


_RULE_KERNEL = """\
def {name}(p, g, {args}):
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    for i in range(start, p.shape[0], stride):
        ELEMENT(i, p, g, {args})
"""


def rule_kernel_source(rule: UpdateRule):
    """The kernel of update rule ``rule`` as a plain Python function: a grid-stride loop
    calling the rule's element function with the kernel's arguments, which are the element
    function's after ``i`` (flags as run-time arguments: the GPU runs no vectorised loop).
    Its text is generated from the element function's parameter names (a CUDA kernel takes
    no ``*args``)."""
    py = getattr(rule.element, "py_func", rule.element)
    args = ", ".join(list(inspect.signature(py).parameters)[3:])
    namespace = {"cuda": cuda, "ELEMENT": rule.element}
    name = f"_{rule.kind}"
    exec(_RULE_KERNEL.format(name=name, args=args), namespace)  # noqa: S102
    fn = namespace[name]
    fn.__qualname__ = fn.__name__ = name
    return fn


def _scale(g, factor):
    """g *= factor, in place (factor in g's dtype)."""
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    for i in range(start, g.shape[0], stride):
        g[i] = g[i] * factor


def _clip(g, limit):
    """Each element clipped to [-limit, limit], in place; NaN stays NaN (as ``np.clip``)."""
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    for i in range(start, g.shape[0], stride):
        x = g[i]
        if x > limit:
            g[i] = limit
        elif x < -limit:
            g[i] = -limit


def _sum_squares(g, out):
    """out[0] += sum(g*g), accumulated in float64: per thread, then a tree over the block
    (the block size must be a power of two, at most THREADS_PER_BLOCK), one atomic per block."""
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    s = np.float64(0.0)
    for i in range(start, g.shape[0], stride):
        x = np.float64(g[i])
        s += x * x
    partial = cuda.shared.array(THREADS_PER_BLOCK, np.float64)
    t = cuda.threadIdx.x
    partial[t] = s
    cuda.syncthreads()
    half = cuda.blockDim.x // 2
    while half > 0:
        if t < half:
            partial[t] += partial[t + half]
        cuda.syncthreads()
        half //= 2
    if t == 0:
        cuda.atomic.add(out, 0, partial[0])


SOURCES = {
    **{kind: rule_kernel_source(r) for kind, r in RULES.items()},
    "scale": _scale,
    "clip": _clip,
    "sum_squares": _sum_squares,
}
_compiled: dict = {}


# In the simulator the element functions run as Python, where math.sqrt of a negative number
# raises instead of giving NaN (a centered RMSprop's variance can round below zero).
_SIM_MATH = SimpleNamespace(sqrt=np.sqrt)


def _simulator_source(source):
    clone = pure_python(source)
    fn = clone.__globals__.get("ELEMENT")
    if isinstance(fn, FunctionType):
        fn.__globals__["math"] = _SIM_MATH
    return clone


def kernel(kind: str):
    """The compiled kernel ``kind`` (a key of :data:`SOURCES`), compiled on first use."""
    k = _compiled.get(kind)
    if k is None:
        source = SOURCES[kind]
        k = cuda.jit(_simulator_source(source) if config.ENABLE_CUDASIM else source)
        _compiled[kind] = k
    return k


def launch_config(n: int) -> tuple[int, int]:
    """``(blocks, threads_per_block)`` for n elements: one thread per element up to
    MAX_BLOCKS blocks, a grid-stride loop beyond."""
    if config.ENABLE_CUDASIM:
        tpb, most = SIM_THREADS_PER_BLOCK, SIM_MAX_BLOCKS
    else:
        tpb, most = THREADS_PER_BLOCK, MAX_BLOCKS
    return max(1, min(most, -(-n // tpb))), tpb


def launch(kind: str, n: int, *args) -> None:
    """Launch kernel ``kind`` over n elements (nothing for n = 0)."""
    if n == 0:
        return
    blocks, tpb = launch_config(n)
    kernel(kind)[blocks, tpb](*args)


def is_device_array(obj) -> bool:
    """Whether ``obj`` is a CUDA device array (a numba device array, or anything with
    ``__cuda_array_interface__``; the simulator's fake device arrays too)."""
    if isinstance(obj, np.ndarray):
        return False
    if config.ENABLE_CUDASIM:
        from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

        return isinstance(obj, FakeCUDAArray)
    return cuda.is_cuda_array(obj)


def as_device(obj):
    """``obj`` as a numba device array (no copy)."""
    if config.ENABLE_CUDASIM or isinstance(obj, cuda.devicearray.DeviceNDArray):
        return obj
    return cuda.as_cuda_array(obj)


def as_flat_device(obj):
    """A contiguous device array as a 1-D view (no copy); None if it is not C-contiguous."""
    d = as_device(obj)
    if not d.is_c_contiguous():
        return None
    return d.reshape(d.size)


def to_device(a: np.ndarray):
    return cuda.to_device(a)


def zeros(n: int, dtype):
    d = cuda.device_array(n, dtype=dtype)
    if n:
        d.copy_to_device(np.zeros(n, dtype=dtype))
    return d


def copy(d):
    """A new device array with the contents of device array ``d``."""
    out = cuda.device_array_like(d)
    if d.size:
        out.copy_to_device(d)
    return out


def sum_squares(d) -> float:
    """sum(d*d) of a 1-D device array, in float64."""
    out = cuda.to_device(np.zeros(1))
    launch("sum_squares", d.size, d, out)
    return float(out.copy_to_host()[0])
