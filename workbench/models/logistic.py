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
from numba import carray, cfunc, njit, prange

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


#: Rows per chunk of the threaded loss: the chunks' partial sums are added in chunk order, so
#: its numbers do not depend on the number of threads.
CHUNK_ROWS = 1024
#: Rows per block inside a chunk: margins first, then the exp/log of the block, then the
#: gradient sums. Keeping the libm calls out of the loops over columns lets those vectorise.
_BLOCK = 64


@njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _chunk(w, X, y, c, r0, r1, want_grad, out):
    """Loss sum, weight and gradient sum over rows r0..r1 into ``out = [total, weight, g...]``."""
    n = X.shape[1]
    buf = np.empty(_BLOCK)
    unweighted = c.shape[0] == 0
    total = 0.0
    weight = 0.0
    for k in range(n + 2):
        out[k] = 0.0
    for s in range(r0, r1, _BLOCK):
        e_ = min(r1, s + _BLOCK)
        for i in range(s, e_):
            z = 0.0
            for k in range(n):
                z += X[i, k] * w[k]
            buf[i - s] = z
        for i in range(s, e_):
            ci = 1.0 if unweighted else c[i]
            z = buf[i - s]
            e = math.exp(-abs(z))
            total += ci * (math.log1p(e) + (z if z > 0.0 else 0.0) - y[i] * z)
            weight += ci
            sigma = 1.0 / (1.0 + e) if z >= 0.0 else e / (1.0 + e)
            buf[i - s] = ci * (sigma - y[i])
        if want_grad:
            for i in range(s, e_):
                r = buf[i - s]
                for k in range(n):
                    out[2 + k] += r * X[i, k]
    out[0] = total
    out[1] = weight


@njit(cache=True, error_model="numpy", parallel=True)
def loss_grad_threaded(w, g, X, y, c, l2, first_penalised, want_grad):
    """:func:`loss_grad` for large data on all cores: the rows are cut into chunks of
    :data:`CHUNK_ROWS`, summed in parallel, and the chunk sums added in order. It rounds
    differently from :func:`loss_grad` (within 1e-14 relative), the same for any thread count.
    """
    m, n = X.shape
    chunks = (m + CHUNK_ROWS - 1) // CHUNK_ROWS
    parts = np.empty((chunks, n + 2))
    for j in prange(chunks):
        _chunk(w, X, y, c, j * CHUNK_ROWS, min(m, (j + 1) * CHUNK_ROWS), want_grad, parts[j])
    total = 0.0
    weight = 0.0
    if want_grad:
        for k in range(n):
            g[k] = 0.0
    for j in range(chunks):
        total += parts[j, 0]
        weight += parts[j, 1]
        if want_grad:
            for k in range(n):
                g[k] += parts[j, 2 + k]
    return _finish(w, g, total, weight, l2, first_penalised, want_grad)


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


@njit(cache=True, error_model="numpy")
def objective_threaded(w, g, need, weights, data):
    """:func:`objective` with the threaded loss, for one fit on large data."""
    X, y = _unpack(data)
    return loss_grad_threaded(w, g, X, y, weights, data[2], int(data[3]), (need & 2) != 0)


def _objective_threaded_c(w, g, n, need, p, n_p, d, n_d):
    return objective_threaded(
        carray(w, (n,)), carray(g, (n,)), need, carray(p, (n_p,)), carray(d, (n_d,))
    )


_threaded = []


def threaded_objective() -> CompiledObjective:
    """The logistic loss on all cores (rows split into chunks) for one large fit; not for
    ``minimize_bfgs_batch``, whose members already run in parallel.

    Built on first use: the C callback of a threaded function can only be loaded from the
    cache once numba's threads are running, and starting them at import would fix the
    thread count before a sweep worker sets it.
    """
    if not _threaded:
        from numba.np.ufunc.parallel import _launch_threads

        _launch_threads()
        compiled = cfunc(OBJECTIVE_SIGNATURE, cache=True, error_model="numpy")(
            _objective_threaded_c
        )
        _threaded.append(CompiledObjective(compiled, objective.py_func))
    return _threaded[0]
