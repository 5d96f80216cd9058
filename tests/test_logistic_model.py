"""The logistic loss and gradient against numpy formulas and finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.models import logistic


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = np.column_stack([np.ones(200), rng.normal(size=(200, 4))])
    y = (X @ np.array([0.3, 1.0, -2.0, 0.5, 0.0]) + rng.normal(size=200) > 0).astype(float)
    return X, y


@pytest.mark.parametrize("l2", [0.0, 0.1])
def test_loss_and_gradient_match_numpy(data, l2):
    X, y = data
    c = np.ones(len(y))
    w = np.array([0.1, -0.2, 0.3, 0.05, -1.0])
    f, g = logistic.loss_and_grad(w, X, y, c, l2, 1)
    assert f == pytest.approx(logistic.numpy_loss(w, X, y, l2, 1), rel=1e-14)
    np.testing.assert_allclose(g, logistic.numpy_grad(w, X, y, l2, 1), rtol=1e-12, atol=1e-15)


def test_gradient_matches_central_differences(data):
    X, y = data
    c = np.random.default_rng(0).integers(0, 3, len(y)).astype(float)  # bootstrap counts
    w = np.array([0.4, 0.2, -0.7, 1.1, 0.3])
    _, g = logistic.loss_and_grad(w, X, y, c, 0.05, 1)
    h = 1e-6
    fd = np.array(
        [
            (
                logistic.loss_and_grad(w + h * e, X, y, c, 0.05, 1)[0]
                - logistic.loss_and_grad(w - h * e, X, y, c, 0.05, 1)[0]
            )
            / (2 * h)
            for e in np.eye(5)
        ]
    )
    np.testing.assert_allclose(g, fd, rtol=1e-7, atol=1e-9)


def test_weights_equal_repeated_rows(data):
    X, y = data
    c = np.random.default_rng(1).integers(0, 4, len(y)).astype(float)
    rows = np.repeat(np.arange(len(y)), c.astype(int))
    w = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    f, g = logistic.loss_and_grad(w, X, y, c, 0.0, 1)
    f2, g2 = logistic.loss_and_grad(w, X[rows], y[rows], np.ones(len(rows)), 0.0, 1)
    assert f == pytest.approx(f2, rel=1e-13)
    np.testing.assert_allclose(g, g2, rtol=1e-12, atol=1e-15)


def test_huge_margins_stay_finite():
    X = np.array([[1.0, 800.0], [1.0, -900.0]])
    y = np.array([0.0, 1.0])  # both badly misclassified: z = +-800 and more
    f, g = logistic.loss_and_grad(np.array([0.0, 1.0]), X, y, np.ones(2), 0.0, 1)
    assert f == pytest.approx((800.0 + 900.0) / 2, rel=1e-15)  # softplus(z) - y z = |z| here
    np.testing.assert_allclose(g, [0.0, (800.0 + 900.0) / 2], rtol=1e-15)
    f, _ = logistic.loss_and_grad(np.array([0.0, -1.0]), X, y, np.ones(2), 0.0, 1)
    assert 0.0 <= f < 1e-300 or f == pytest.approx(0.0, abs=1e-300)  # no log(0), no NaN
