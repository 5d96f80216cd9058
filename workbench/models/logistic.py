"""Binary logistic regression: the loss and its gradient in one pass over the data.

``loss(w) = sum_i c_i [softplus(z_i) - y_i z_i] / sum_i c_i + l2/2 * |w_pen|^2`` with
``z = X w``, labels ``y`` in {0, 1}, sample weights ``c`` (all ones for a plain fit, resample
counts for a bootstrap) and the penalty on every coefficient but an intercept column
(``first_penalised``); an empty ``c`` means all ones. ``softplus(z) = log(1 + e^z)`` is
evaluated without overflow or
``log(0)``, so the loss is finite in full double precision even for huge margins; scipy's
BFGS parity depends on that.
"""

from __future__ import annotations

import math

import numpy as np
from numba import carray, cfunc, njit

from ..optimize import OBJECTIVE_SIGNATURE, CompiledObjective


@njit(cache=True, error_model="numpy", _nrt=False)
def softplus(z):
    """``log(1 + exp(z))`` for any finite z."""
    if z > 0.0:
        return z + math.log1p(math.exp(-z))
    return math.log1p(math.exp(z))


@njit(cache=True, error_model="numpy", _nrt=False)
def sigmoid(z):
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


# reassoc/contract let the row dot products and gradient sums use SIMD lanes and FMA (the
# sums are then rounded differently from a left-to-right loop, well inside 1e-14 relative)
@njit(cache=True, error_model="numpy", _nrt=False, fastmath={"reassoc", "contract"})
def _partial(w, g, X, y, c, r0, r1, want_grad):
    """Weighted loss sum and weight over rows r0..r1; adds the gradient sum into ``g``."""
    n = X.shape[1]
    total = 0.0
    weight = 0.0
    unweighted = c.shape[0] == 0  # no weights given: every sample counts once
    for i in range(r0, r1):
        ci = 1.0 if unweighted else c[i]
        if ci == 0.0:
            continue
        z = 0.0
        for k in range(n):
            z += X[i, k] * w[k]
        # one exp serves both softplus and sigmoid: e = exp(-|z|) never overflows
        e = math.exp(-abs(z))
        softplus_z = math.log1p(e) + (z if z > 0.0 else 0.0)
        total += ci * (softplus_z - y[i] * z)
        weight += ci
        if want_grad:
            sigma = 1.0 / (1.0 + e) if z >= 0.0 else e / (1.0 + e)
            r = ci * (sigma - y[i])
            for k in range(n):
                g[k] += r * X[i, k]
    return total, weight


@njit(cache=True, error_model="numpy", _nrt=False)
def _finish(w, g, total, weight, l2, first_penalised, want_grad):
    """Normalise by the total weight and add the penalty."""
    n = w.shape[0]
    penalty = 0.0
    for k in range(first_penalised, n):
        penalty += w[k] * w[k]
    if want_grad:
        for k in range(n):
            g[k] /= weight
        for k in range(first_penalised, n):
            g[k] += l2 * w[k]
    return total / weight + 0.5 * l2 * penalty


@njit(cache=True, error_model="numpy", _nrt=False)
def loss_grad(w, g, X, y, c, l2, first_penalised, want_grad):
    """Loss at ``w``; with ``want_grad`` also writes the gradient into ``g``. No allocation.

    One pass over the rows of X: each row's margin, its loss and its contribution to the
    gradient, so the data is read once per evaluation.
    """
    if want_grad:
        for k in range(w.shape[0]):
            g[k] = 0.0
    total, weight = _partial(w, g, X, y, c, 0, X.shape[0], want_grad)
    return _finish(w, g, total, weight, l2, first_penalised, want_grad)


@njit(cache=True, error_model="numpy")
def loss_and_grad(w, X, y, c, l2, first_penalised):
    """Out-of-place ``(loss, gradient)``: the form ``minimize(..., jac=True)`` takes."""
    g = np.empty(w.shape[0])
    f = loss_grad(w, g, X, y, c, l2, first_penalised, True)
    return f, g


def numpy_loss(w, X, y, l2=0.0, first_penalised=0):
    """The loss as numpy users write it for ``fmin_bfgs`` (with a stable log(1 + e^z))."""
    z = X @ w
    return np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * np.sum(w[first_penalised:] ** 2)


def numpy_grad(w, X, y, l2=0.0, first_penalised=0):
    """The gradient as numpy users write it: ``X.T @ (sigmoid(X w) - y) / m``."""
    h = 1.0 / (1.0 + np.exp(-(X @ w)))
    g = X.T @ (h - y) / X.shape[0]
    g[first_penalised:] += l2 * w[first_penalised:]
    return g


def pack_data(X, y, l2: float, first_penalised: int) -> np.ndarray:
    """Everything the compiled objective needs, in one float64 array:
    ``[m, n, l2, first_penalised, X (row-major), y]``."""
    m, n = X.shape
    head = np.array([m, n, l2, first_penalised], dtype=float)
    return np.concatenate([head, np.ascontiguousarray(X, dtype=float).ravel(), y.astype(float)])


@njit(cache=True, error_model="numpy", _nrt=False)
def _unpack(data):
    m = int(data[0])
    n = int(data[1])
    return data[4 : 4 + m * n].reshape((m, n)), data[4 + m * n : 4 + m * n + m]


@njit(cache=True, error_model="numpy", _nrt=False)
def objective(w, g, need, weights, data):
    """The loss for the optimizer kernels: ``need & 2`` asks for the gradient too; ``weights``
    are the sample weights (empty: all ones) and ``data`` comes from :func:`pack_data`."""
    X, y = _unpack(data)
    return loss_grad(w, g, X, y, weights, data[2], int(data[3]), (need & 2) != 0)


@cfunc(OBJECTIVE_SIGNATURE, cache=True, error_model="numpy")
def _objective_c(w, g, n, need, p, n_p, d, n_d):
    return objective(carray(w, (n,)), carray(g, (n,)), need, carray(p, (n_p,)), carray(d, (n_d,)))


#: The logistic loss as a cached C callback for ``minimize_bfgs`` and ``minimize_bfgs_batch``.
LOGISTIC = CompiledObjective(_objective_c, objective.py_func)
