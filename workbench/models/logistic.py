"""Binary logistic regression: the loss and its gradient in one pass over the data.

``loss(w) = sum_i c_i [softplus(z_i) - y_i z_i] / sum_i c_i + l2/2 * |w_pen|^2`` with
``z = X w``, labels ``y`` in {0, 1}, sample weights ``c`` (all ones for a plain fit, resample
counts for a bootstrap) and the penalty on every coefficient but an intercept column
(``first_penalised``); an empty ``c`` means all ones. ``softplus(z) = log(1 + e^z)`` is
evaluated as ``log1p(e^-|z|) + max(z, 0)``, without overflow or ``log(0)``, so the loss is
finite in full double precision even for huge margins; scipy's BFGS parity depends on that.
The exp and log1p are :mod:`._elementary`'s (within 2 ulp of libm), so that the loop over a
block of samples vectorises.
"""

from __future__ import annotations

import numpy as np
from numba import carray, cfunc, njit, prange

from ..optimize import OBJECTIVE_SIGNATURE, CompiledObjective
from ._elementary import exp_nonpositive, log1p_unit, stack_buffer

#: Rows per block of the loss: margins first, then the exp/log1p of the block, then the
#: gradient sums, so that the middle loop (no libm call in it: :mod:`._elementary`) and the
#: loops over columns vectorise.
_BLOCK = 64
#: Up to this many columns the products run column by column (the loops over a block's rows
#: vectorise); wider data row by row (the loops along a row do).
_NARROW = 8
_LARGEST = 1.7976931348623157e308


# reassoc/contract let the sums use SIMD lanes and FMA (they are then rounded differently from
# a left-to-right loop, well inside 1e-14 relative)
@njit(cache=True, error_model="numpy", _nrt=False, fastmath={"reassoc", "contract"})
def _partial(w, g, X, y, c, r0, r1, want_grad):
    """Weighted loss sum and weight over rows r0..r1; adds the gradient sum into ``g``.

    A row of weight zero (left out of a bootstrap resample, or masked) adds exactly zero,
    even if its features are not finite.
    """
    n = X.shape[1]
    buf = stack_buffer(_BLOCK)
    unweighted = c.shape[0] == 0  # no weights given: every sample counts once
    total = 0.0
    weight = 0.0
    for s in range(r0, r1, _BLOCK):
        rows = min(r1 - s, _BLOCK)
        # views indexed from 0: an index that may be negative (s + i) gets Numba's
        # wraparound, which turned the loops over rows into gathers
        Xb = X[s : s + rows]
        yb = y[s : s + rows]
        cb = c[s : s + rows]  # empty when unweighted
        if n <= _NARROW:  # column by column: the loops over rows vectorise
            for i in range(rows):
                buf[i] = 0.0
            for k in range(n):
                w_k = w[k]
                for i in range(rows):
                    buf[i] += Xb[i, k] * w_k
        else:  # row by row: the loops along a row vectorise
            for i in range(rows):
                z = 0.0
                for k in range(n):
                    z += Xb[i, k] * w[k]
                buf[i] = z
        # A row of weight zero adds exactly nothing, even if its margin (or a feature) is not
        # finite: its margin is taken as 0 (a selection: the loop still vectorises), so its
        # terms are finite times zero.
        for i in range(rows):
            ci = 1.0 if unweighted else cb[i]
            z = buf[i]  # loaded on both sides of the selection, or it does not vectorise
            z = 0.0 if ci == 0.0 else z
            # one exp serves both softplus and sigmoid: e = exp(-|z|) never overflows
            e = exp_nonpositive(-abs(z))
            total += ci * (log1p_unit(e) + max(z, 0.0) - yb[i] * z)
            weight += ci
            sigma = (1.0 if z >= 0.0 else e) / (1.0 + e)  # one division for either sign
            buf[i] = ci * (sigma - yb[i])
        if want_grad and n <= _NARROW:
            for k in range(n):
                acc = 0.0
                for i in range(rows):
                    acc += buf[i] * Xb[i, k]
                if not abs(acc) <= _LARGEST:  # 0 * inf from a row left out? sum without them
                    acc = 0.0
                    for i in range(rows):
                        if buf[i] != 0.0:
                            acc += buf[i] * Xb[i, k]
                g[k] += acc
        elif want_grad:
            for i in range(rows):
                r = buf[i]
                if r != 0.0:  # a row left out adds nothing, not 0 * x (NaN for x = inf)
                    for k in range(n):
                        g[k] += r * Xb[i, k]
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


@njit(cache=True, error_model="numpy", _nrt=False)
def _chunk(w, X, y, c, r0, r1, want_grad, out):
    """Loss sum, weight and gradient sum over rows r0..r1 into ``out = [total, weight, g...]``."""
    for k in range(out.shape[0]):
        out[k] = 0.0
    out[0], out[1] = _partial(w, out[2:], X, y, c, r0, r1, want_grad)


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


def check_packed_data(data, n) -> None:
    """Raise ValueError unless ``data`` is :func:`pack_data`'s form for ``n`` weights."""
    data = np.asarray(data)
    ok = data.ndim == 1 and data.size >= 4 and data.dtype.kind == "f"
    if ok:
        m, cols = data[0], data[1]
        ok = m == int(m) and cols == int(cols) and data.size == 4 + int(m) * int(cols) + int(m)
    if not ok:
        raise ValueError(
            f"the logistic objective reads its data as pack_data(X, y, l2, first_penalised) "
            f"builds it; got an array of shape {data.shape} that is not: call "
            "workbench.models.logistic.pack_data."
        )
    if int(cols) != n:
        raise ValueError(
            f"the data have {int(cols)} columns, so x0 needs {int(cols)} weights; got {n}."
        )


#: The logistic loss as a cached C callback for ``minimize_bfgs`` and ``minimize_bfgs_batch``.
LOGISTIC = CompiledObjective(_objective_c, objective.py_func, data=check_packed_data)


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
        _threaded.append(CompiledObjective(compiled, objective.py_func, data=check_packed_data))
    return _threaded[0]
