"""``minimize_bfgs_batch`` on the CPU targets equals a loop of single ``minimize_bfgs`` calls,
bit for bit, for bootstrap-style members: per-member sample weights or row indices, with the
data shared through ``args``."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit
from scipy.optimize import minimize as scipy_minimize

from workbench.models import logistic
from workbench.optimize import minimize_bfgs, minimize_bfgs_batch


@njit(error_model="numpy")
def weighted_loss_grad(x, g, w, X, y):
    """Weighted mean logistic loss, value returned and gradient written into g (in place)."""
    n = x.shape[0]
    for j in range(n):
        g[j] = 0.0
    f = 0.0
    total = 0.0
    for i in range(X.shape[0]):
        z = 0.0
        for j in range(n):
            z += X[i, j] * x[j]
        e = math.exp(-abs(z))
        f += w[i] * ((max(z, 0.0) + math.log1p(e)) - y[i] * z)
        s = 1.0 / (1.0 + e) if z >= 0 else e / (1.0 + e)
        for j in range(n):
            g[j] += w[i] * (s - y[i]) * X[i, j]
        total += w[i]
    for j in range(n):
        g[j] /= total
    return f / total


@njit(error_model="numpy")
def weighted_loss_and_grad(x, w, X, y):
    """The same numbers in scipy's jac=True form, for the single fits."""
    g = np.empty(x.shape[0])
    f = weighted_loss_grad(x, g, w, X, y)
    return f, g


@njit(error_model="numpy")
def resampled_loss(x, rows, X, y):
    """Value only (the gradient by finite differences): the loss on the resampled rows."""
    f = 0.0
    for i in rows:
        z = 0.0
        for j in range(x.shape[0]):
            z += X[i, j] * x[j]
        f += (max(z, 0.0) + math.log1p(math.exp(-abs(z)))) - y[i] * z
    return f / rows.shape[0]


def data(m=80, seed=0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(m), rng.normal(size=(m, 2))])
    y = (rng.random(m) < 1.0 / (1.0 + np.exp(-(X @ np.array([0.3, 1.0, -1.5]))))).astype(float)
    return X, y


X, Y = data()
M = 10
RNG = np.random.default_rng(7)
COUNTS = RNG.multinomial(X.shape[0], np.full(X.shape[0], 1 / X.shape[0]), size=M).astype(float)
ROWS = RNG.integers(0, X.shape[0], size=(M, X.shape[0]))
X0S = RNG.normal(scale=0.1, size=(M, 3))


def assert_equals_loop(batch, singles):
    for i, one in enumerate(singles):
        np.testing.assert_array_equal(batch.x[i], one.x)
        assert batch.fun[i] == one.fun
        assert (batch.nit[i], batch.nfev[i], batch.njev[i], batch.status[i]) == (
            one.nit,
            one.nfev,
            one.njev,
            one.status,
        )
        assert batch.message(i) == one.message


@pytest.mark.parametrize("target", ["cpu", "parallel"])
def test_weights_batch_equals_a_loop(target):
    calls = []
    batch = minimize_bfgs_batch(
        weighted_loss_grad,
        X0S,
        member_args=(COUNTS,),
        args=(X, Y),
        target=target,
        chunk_size=4,
        progress=lambda done, total: calls.append((done, total)),
    )
    counts = [done for done, total in calls if total == M]
    assert batch.target == target and len(counts) == len(calls)
    assert counts == sorted(set(counts)) and counts[-1] == M  # polled: increasing, ends at M
    singles = [
        minimize_bfgs(weighted_loss_and_grad, X0S[i], args=(COUNTS[i], X, Y), jac=True)
        for i in range(M)
    ]
    assert_equals_loop(batch, singles)
    assert batch.success.all()
    ref = scipy_minimize(weighted_loss_and_grad, X0S[0], args=(COUNTS[0], X, Y), jac=True)
    assert (singles[0].nit, singles[0].nfev, singles[0].njev) == (ref.nit, ref.nfev, ref.njev)
    np.testing.assert_allclose(singles[0].x, ref.x, rtol=1e-8)


@pytest.mark.parametrize("target", ["cpu", "parallel"])
def test_index_rows_with_finite_differences_equal_a_loop(target):
    options = dict(gtol=1e-6, maxiter=50)
    batch = minimize_bfgs_batch(
        resampled_loss, X0S, member_args=(ROWS,), args=(X, Y), jac=None, target=target, **options
    )
    singles = [
        minimize_bfgs(resampled_loss, X0S[i], args=(ROWS[i], X, Y), **options) for i in range(M)
    ]
    assert_equals_loop(batch, singles)
    assert np.all(batch.nfev > 3 * batch.njev)  # forward differences: n more values a gradient


def test_compiled_objective_batch_equals_a_loop():
    data_ = logistic.pack_data(X, Y, 1e-2, 1)
    batch = minimize_bfgs_batch(
        logistic.LOGISTIC, X0S, member_args=(COUNTS,), args=(data_,), target="cpu"
    )
    singles = [minimize_bfgs(logistic.LOGISTIC, X0S[i], args=(COUNTS[i], data_)) for i in range(M)]
    assert_equals_loop(batch, singles)


def test_bad_batches_say_what_to_do():
    with pytest.raises(ValueError, match=r"member_args\[0\] must have one row per member"):
        minimize_bfgs_batch(weighted_loss_grad, X0S, member_args=(COUNTS[:3],), args=(X, Y))
    with pytest.raises(ValueError, match=r"`x0s` must be 2-D, shape \(m, n\)"):
        minimize_bfgs_batch(weighted_loss_grad, X0S[0], member_args=(COUNTS,), args=(X, Y))
    with pytest.raises(ValueError, match="`x0s` must be finite"):
        minimize_bfgs_batch(weighted_loss_grad, X0S * np.nan, member_args=(COUNTS,), args=(X, Y))
    with pytest.raises(ValueError, match=r"unknown target 'tpu'; accepted: auto, cpu, parallel"):
        minimize_bfgs_batch(
            weighted_loss_grad, X0S, member_args=(COUNTS,), args=(X, Y), target="tpu"
        )
