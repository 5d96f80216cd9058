"""CPU kernels of the fused optimizer updates: one pass over each parameter block.

Each update is written once, per element, in an ``*_at(i, ...)`` function. It reads element
``i`` of the parameter, the gradient and each state array once, and writes the parameter and
each state array once: no temporaries, no allocation. The loops around it are

* ``*_cpu``: a plain loop (one core);
* ``*_parallel``: the same loop as a ``prange`` (numba's threads);
* the CUDA kernels of :mod:`._cuda`: a grid-stride loop, one thread per element, calling the
  same ``*_at`` function as a device function, so the GPU runs the same formulas.

Arrays are 1-D contiguous views (``arr.reshape(-1)``) of one dtype, float32 or float64.
Hyperparameters arrive as scalars already cast to that dtype (``np.float32(lr)``, derived
constants such as ``1 - rho`` computed in Python floats first), so the arithmetic is all in
the parameter's dtype: float32 parameters get float32 state and float32 arithmetic, as torch
does for float32 tensors. Changing ``lr`` between steps does not recompile.

The loops are specialised on the flags that decide which state arrays are touched (centered,
momentum, amsgrad, the first SGD step): each variant has its own loop in which the element
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

import math

import numpy as np
from numba import njit, prange

__all__ = [
    "CPU_KERNELS",
    "PARALLEL_KERNELS",
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


# ------------------------------------------------------------------------- CPU loops
# The cpu and parallel loops are the same text, range vs prange.


@njit(**_OPTS)
def rmsprop_cpu(p, g, acc, gavg, buf, lr, rho, omr, e_in, e_out, mom, wd, use_wd, cen, use_m):
    n = p.shape[0]
    if cen and use_m:
        for i in range(n):
            rmsprop_at(
                i, p, g, acc, gavg, buf, lr, rho, omr, e_in, e_out, mom, wd, use_wd, True, True
            )
    elif cen:
        for i in range(n):
            rmsprop_at(
                i, p, g, acc, gavg, buf, lr, rho, omr, e_in, e_out, mom, wd, use_wd, True, False
            )
    elif use_m:
        for i in range(n):
            rmsprop_at(
                i, p, g, acc, gavg, buf, lr, rho, omr, e_in, e_out, mom, wd, use_wd, False, True
            )
    else:
        for i in range(n):
            rmsprop_at(
                i, p, g, acc, gavg, buf, lr, rho, omr, e_in, e_out, mom, wd, use_wd, False, False
            )


@njit(parallel=True, **_OPTS)
def rmsprop_parallel(p, g, acc, gavg, buf, lr, rho, omr, e_in, e_out, mom, wd, use_wd, cen, use_m):
    n = p.shape[0]
    if cen and use_m:
        for i in prange(n):
            rmsprop_at(
                i, p, g, acc, gavg, buf, lr, rho, omr, e_in, e_out, mom, wd, use_wd, True, True
            )
    elif cen:
        for i in prange(n):
            rmsprop_at(
                i, p, g, acc, gavg, buf, lr, rho, omr, e_in, e_out, mom, wd, use_wd, True, False
            )
    elif use_m:
        for i in prange(n):
            rmsprop_at(
                i, p, g, acc, gavg, buf, lr, rho, omr, e_in, e_out, mom, wd, use_wd, False, True
            )
    else:
        for i in prange(n):
            rmsprop_at(
                i, p, g, acc, gavg, buf, lr, rho, omr, e_in, e_out, mom, wd, use_wd, False, False
            )


@njit(**_OPTS)
def sgd_cpu(p, g, buf, lr, mom, omd, wd, use_wd, nesterov, use_m, first):
    n = p.shape[0]
    if use_m and first:
        for i in range(n):
            sgd_at(i, p, g, buf, lr, mom, omd, wd, use_wd, nesterov, True, True)
    elif use_m:
        for i in range(n):
            sgd_at(i, p, g, buf, lr, mom, omd, wd, use_wd, nesterov, True, False)
    else:
        for i in range(n):
            sgd_at(i, p, g, buf, lr, mom, omd, wd, use_wd, nesterov, False, False)


@njit(parallel=True, **_OPTS)
def sgd_parallel(p, g, buf, lr, mom, omd, wd, use_wd, nesterov, use_m, first):
    n = p.shape[0]
    if use_m and first:
        for i in prange(n):
            sgd_at(i, p, g, buf, lr, mom, omd, wd, use_wd, nesterov, True, True)
    elif use_m:
        for i in prange(n):
            sgd_at(i, p, g, buf, lr, mom, omd, wd, use_wd, nesterov, True, False)
    else:
        for i in prange(n):
            sgd_at(i, p, g, buf, lr, mom, omd, wd, use_wd, nesterov, False, False)


@njit(**_OPTS)
def adam_cpu(p, g, m, v, vmax, step_size, b1, omb1, b2, omb2, bc2s, eps, wd, use_wd, amsgrad):
    n = p.shape[0]
    if amsgrad:
        for i in range(n):
            adam_at(i, p, g, m, v, vmax, step_size, b1, omb1, b2, omb2, bc2s, eps, wd, use_wd, True)
    else:
        for i in range(n):
            adam_at(
                i, p, g, m, v, vmax, step_size, b1, omb1, b2, omb2, bc2s, eps, wd, use_wd, False
            )


@njit(parallel=True, **_OPTS)
def adam_parallel(p, g, m, v, vmax, step_size, b1, omb1, b2, omb2, bc2s, eps, wd, use_wd, amsgrad):
    n = p.shape[0]
    if amsgrad:
        for i in prange(n):
            adam_at(i, p, g, m, v, vmax, step_size, b1, omb1, b2, omb2, bc2s, eps, wd, use_wd, True)
    else:
        for i in prange(n):
            adam_at(
                i, p, g, m, v, vmax, step_size, b1, omb1, b2, omb2, bc2s, eps, wd, use_wd, False
            )


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


CPU_KERNELS = {
    "rmsprop": rmsprop_cpu,
    "sgd": sgd_cpu,
    "adam": adam_cpu,
    "sum_squares": sum_squares_cpu,
}
PARALLEL_KERNELS = {
    "rmsprop": rmsprop_parallel,
    "sgd": sgd_parallel,
    "adam": adam_parallel,
    "sum_squares": sum_squares_parallel,
}
