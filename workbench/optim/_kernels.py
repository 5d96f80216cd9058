"""CPU kernels of the fused optimizer updates: one pass over each parameter block.

Each update is written once, per element, in an ``*_at(i, ...)`` function. It reads element
``i`` of the parameter, the gradient and each state array once, and writes the parameter and
each state array once: no temporaries, no allocation. Its update rule in
:mod:`.registry` names it; the loops around it are

* :data:`CPU_KERNELS` ``[kind]``: a plain loop (one core) and
* :data:`PARALLEL_KERNELS` ``[kind]``: the same loop as a ``prange`` (numba's threads), both
  instances of the one loop text of :mod:`._loop` (:func:`loop`);
* the CUDA kernels of :mod:`._cuda`: a grid-stride loop, one thread per element, calling the
  same ``*_at`` function as a device function, so the GPU runs the same formulas.

Arrays are 1-D contiguous views (``arr.reshape(-1)``) of one dtype, float32 or float64.
Hyperparameters arrive as scalars already cast to that dtype (``np.float32(lr)``, derived
constants such as ``1 - rho`` computed in Python floats first), so the arithmetic is all in
the parameter's dtype: float32 parameters get float32 state and float32 arithmetic, as torch
does for float32 tensors. Changing ``lr`` between steps does not recompile.

The loops are specialised on the flags that decide which state arrays are touched (centered,
momentum, amsgrad, the first SGD step: a rule's ``loop_flags``, the element function's last
arguments): each variant has its own loop in which the element
function is called with constant flags, so LLVM drops the dead branches and vectorises a
straight-line body. (One loop with loop-invariant flags around conditional loads and stores
ran 15x slower.) Flags that only choose arithmetic (weight decay, nesterov) stay run-time
arguments. State arrays a variant does not use are zero-length placeholders, never read.

``fastmath=False`` keeps IEEE semantics (no reassociation, no fused multiply-add), so the
float64 results match the plain numpy formulas of :mod:`.reference` to rounding;
``error_model="numpy"`` drops the division-by-zero checks; ``_nrt=False`` keeps reference
counting of the array arguments out of the loops (nothing here allocates).
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import math
import os
import sys

import numpy as np
from numba import njit, prange

__all__ = [
    "CPU_KERNELS",
    "PARALLEL_KERNELS",
    "adagrad_at",
    "adam_at",
    "rmsprop_at",
    "sgd_at",
]

_OPTS = dict(cache=True, error_model="numpy", fastmath=False, _nrt=False)

# ------------------------------------------------------------------------- element updates


@njit(**_OPTS)
def rmsprop_at(
    i,
    p,
    g,
    acc,
    gavg,
    buf,
    lr,
    rho,
    one_minus_rho,
    eps_in,
    eps_out,
    momentum,
    weight_decay,
    use_weight_decay,
    centered,
    use_momentum,
):
    """RMSprop on element ``i``: the formulas of ``torch.optim.RMSprop`` and Theano's form.

    g += wd*p (only when ``use_weight_decay``); acc = rho*acc + (1-rho)*g*g; centered:
    gavg = rho*gavg + (1-rho)*g and avg = acc - gavg*gavg, else avg = acc;
    denom = sqrt(avg + eps_in) + eps_out, which is Theano's sqrt(avg + eps) with
    (eps_in, eps_out) = (eps, 0) and PyTorch's sqrt(avg) + eps with (0, eps) (adding a zero
    changes nothing: avg is never -0); momentum: buf = momentum*buf + g/denom, p -= lr*buf;
    else p -= lr*(g/denom), PyTorch's ``addcdiv``.
    """
    gi = g[i]
    pi = p[i]
    if use_weight_decay:
        gi = gi + weight_decay * pi
    a = rho * acc[i] + one_minus_rho * gi * gi
    acc[i] = a
    if centered:
        ga = rho * gavg[i] + one_minus_rho * gi
        gavg[i] = ga
        a = a - ga * ga
    denom = math.sqrt(a + eps_in) + eps_out
    if use_momentum:
        b = momentum * buf[i] + gi / denom
        buf[i] = b
        p[i] = pi - lr * b
    else:
        p[i] = pi - lr * (gi / denom)


@njit(**_OPTS)
def sgd_at(
    i,
    p,
    g,
    buf,
    lr,
    momentum,
    one_minus_dampening,
    weight_decay,
    use_weight_decay,
    nesterov,
    use_momentum,
    first,
):
    """SGD on element ``i``, as ``torch.optim.SGD``.

    g += wd*p (only when ``use_weight_decay``); momentum: buf = g on the first step, else
    buf = momentum*buf + (1-dampening)*g; then g = g + momentum*buf (nesterov) or g = buf;
    p -= lr*g.
    """
    gi = g[i]
    pi = p[i]
    if use_weight_decay:
        gi = gi + weight_decay * pi
    if use_momentum:
        if first:
            b = gi
        else:
            b = momentum * buf[i] + one_minus_dampening * gi
        buf[i] = b
        if nesterov:
            gi = gi + momentum * b
        else:
            gi = b
    p[i] = pi - lr * gi


@njit(**_OPTS)
def adam_at(
    i,
    p,
    g,
    m,
    v,
    vmax,
    step_size,
    beta1,
    one_minus_beta1,
    beta2,
    one_minus_beta2,
    bias_correction2_sqrt,
    eps,
    weight_decay,
    use_weight_decay,
    amsgrad,
):
    """Adam on element ``i``, as torch's single-tensor, non-capturable path.

    g += wd*p (only when ``use_weight_decay``); m = beta1*m + (1-beta1)*g;
    v = beta2*v + (1-beta2)*g*g; amsgrad: vmax = max(vmax, v), used in place of v;
    denom = sqrt(v)/sqrt(bc2) + eps; p -= step_size*(m/denom), where the caller computes
    step_size = lr/bc1 and sqrt(bc2) for the step count t (bc = 1 - beta**t).
    """
    gi = g[i]
    pi = p[i]
    if use_weight_decay:
        gi = gi + weight_decay * pi
    mi = beta1 * m[i] + one_minus_beta1 * gi
    vi = beta2 * v[i] + one_minus_beta2 * gi * gi
    m[i] = mi
    v[i] = vi
    if amsgrad:
        vm = vmax[i]
        if not vi <= vm:  # as torch.maximum, a NaN wins
            vm = vi
        vmax[i] = vm
        vi = vm
    denom = math.sqrt(vi) / bias_correction2_sqrt + eps
    p[i] = pi - step_size * (mi / denom)


@njit(**_OPTS)
def adagrad_at(i, p, g, acc, clr, eps, weight_decay, use_weight_decay):
    """Adagrad on element ``i``, as torch's single-tensor ``torch.optim.Adagrad``.

    g += wd*p (only when ``use_weight_decay``); sum = sum + g*g; std = sqrt(sum) + eps;
    p -= clr*(g/std), where the caller computes clr = lr/(1 + (t - 1)*lr_decay) for the step
    count t.
    """
    gi = g[i]
    pi = p[i]
    if use_weight_decay:
        gi = gi + weight_decay * pi
    s = acc[i] + gi * gi
    acc[i] = s
    std = math.sqrt(s) + eps
    p[i] = pi - clr * (gi / std)


# ------------------------------------------------------------ gradient-transform helpers


@njit(**_OPTS)
def sum_squares_cpu(g):
    """Sum of squares of a 1-D array, accumulated in float64."""
    s = 0.0
    for i in range(g.shape[0]):
        x = np.float64(g[i])
        s += x * x
    return s


@njit(parallel=True, **_OPTS)
def sum_squares_parallel(g):
    """Sum of squares of a 1-D array, accumulated in float64 (a ``prange`` reduction)."""
    s = 0.0
    for i in prange(g.shape[0]):
        x = np.float64(g[i])
        s += x * x
    return s


_LOOP_MODULE = __name__.rpartition(".")[0] + "._loop"  # the template (never imported as such)
_LOOP_FILE = os.path.join(os.path.dirname(__file__), "_loop.py")


def _digest(fn) -> str:
    """A short digest of a jitted function's code (bytecode, constants, names, line numbers)."""
    return hashlib.sha1(marshal.dumps(fn.py_func.__code__)).hexdigest()[:12]


class _Loops(dict):
    """An update rule's loop on one target, by the rule's kind, made on first use from the
    template :mod:`._loop` (see :func:`loops`); ``sum_squares`` is there from the start."""

    def __init__(self, parallel: bool, **fixed):
        super().__init__(**fixed)
        self.parallel = parallel

    def __missing__(self, kind: str):
        from .registry import RULES

        if kind not in RULES:
            raise KeyError(kind)
        kernel = self[kind] = loop(RULES[kind], self.parallel)
        return kernel


def loop(rule, parallel: bool):
    """The loop of update rule ``rule`` (a :class:`.registry.UpdateRule`) over a block:
    :mod:`._loop`'s text run as a module of its own, ``workbench.optim._loop_<kind>_cpu`` or
    ``..._parallel``, with ``range`` or ``prange`` as its global ``RANGE``. Each instance is
    cached in files of its own (numba names them after the source file and the qualified
    name, to which the instance's name is appended); the module is registered in
    ``sys.modules`` because a kernel loaded from the cache looks its module up by name."""
    instance = f"{rule.kind}_{'parallel' if parallel else 'cpu'}"
    name = f"{_LOOP_MODULE}_{instance}"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, _LOOP_FILE)
        module = importlib.util.module_from_spec(spec)
        module.__dict__.update(
            ELEMENT=rule.element,
            RANGE=prange if parallel else range,
            N_ARGS=rule.n_element_args,
            N_FLAGS=len(rule.loop_flags),
            NAME=f"{instance}_{_digest(rule.element)}",
        )
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module.update


#: Each update rule's loop, by kind (made on first use), and ``sum_squares``: on one core ...
CPU_KERNELS: dict = _Loops(False, sum_squares=sum_squares_cpu)
#: ... and over numba's threads (``prange``).
PARALLEL_KERNELS: dict = _Loops(True, sum_squares=sum_squares_parallel)


def __getattr__(name: str):
    """``<kind>_cpu`` and ``<kind>_parallel`` (``rmsprop_cpu``, ``adam_parallel``, ...): the
    loops of :data:`CPU_KERNELS` and :data:`PARALLEL_KERNELS` under the names they had when
    they were written out per optimizer (``tests/test_cache`` looks them up by these names)."""
    kind, _, target = name.rpartition("_")
    if target in ("cpu", "parallel") and kind:
        from .registry import RULES

        if kind in RULES:
            return (PARALLEL_KERNELS if target == "parallel" else CPU_KERNELS)[kind]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
