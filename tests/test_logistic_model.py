"""The logistic loss and gradient against numpy formulas and finite differences."""

from __future__ import annotations

import os

import numpy as np
import pytest

from workbench.models import logistic, reference


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
    assert f == pytest.approx(reference.logistic_loss(w, X, y, l2, 1), rel=1e-14)
    np.testing.assert_allclose(g, reference.logistic_grad(w, X, y, l2, 1), rtol=1e-12, atol=1e-15)


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


@pytest.mark.parametrize("columns", [2, 12])  # the narrow (column by column) and wide loops
def test_rows_of_weight_zero_add_nothing_even_if_not_finite(columns):
    """Masked-out rows count as absent, though their margins overflow or their features are
    NaN (0 * inf would be NaN), in the serial and the threaded loss."""
    rng = np.random.default_rng(4)
    X = np.column_stack([np.ones(90), rng.normal(size=(90, columns - 1))])
    y = (rng.random(90) > 0.5).astype(float)
    w = rng.normal(size=columns)
    keep = np.ones(90)
    keep[[3, 40, 77]] = 0.0
    bad = X.copy()
    bad[3, 1], bad[40, 1], bad[77, :] = 1e308, np.nan, np.inf  # z = +-inf, NaN
    f_ref, g_ref = logistic.loss_and_grad(w, X[keep > 0], y[keep > 0], np.ones(87), 0.1, 1)
    f, g = logistic.loss_and_grad(w, bad, y, keep, 0.1, 1)
    assert f == pytest.approx(f_ref, rel=1e-14)
    np.testing.assert_allclose(g, g_ref, rtol=1e-13, atol=1e-16)
    g_threaded = np.empty(columns)
    f_threaded = logistic.loss_grad_threaded(w, g_threaded, bad, y, keep, 0.1, 1, True)
    assert f_threaded == pytest.approx(f_ref, rel=1e-14)
    np.testing.assert_allclose(g_threaded, g_ref, rtol=1e-13, atol=1e-16)


def test_huge_margins_stay_finite():
    X = np.array([[1.0, 800.0], [1.0, -900.0]])
    y = np.array([0.0, 1.0])  # both badly misclassified: z = +-800 and more
    f, g = logistic.loss_and_grad(np.array([0.0, 1.0]), X, y, np.ones(2), 0.0, 1)
    assert f == pytest.approx((800.0 + 900.0) / 2, rel=1e-15)  # softplus(z) - y z = |z| here
    np.testing.assert_allclose(g, [0.0, (800.0 + 900.0) / 2], rtol=1e-15)
    f, _ = logistic.loss_and_grad(np.array([0.0, -1.0]), X, y, np.ones(2), 0.0, 1)
    assert 0.0 <= f < 1e-300 or f == pytest.approx(0.0, abs=1e-300)  # no log(0), no NaN


@pytest.mark.parametrize("rows", [1, 63, 64, 1025, 5000])
@pytest.mark.parametrize("weighted", [False, True])
def test_threaded_loss_matches_numpy_and_the_serial_loss(rows, weighted):
    # several chunks of CHUNK_ROWS and ragged blocks; weights include zeros (bootstrap counts)
    rng = np.random.default_rng(rows)
    X = np.column_stack([np.ones(rows), rng.normal(size=(rows, 7))])
    y = (rng.random(rows) < 0.4).astype(float)
    c = rng.integers(0, 3, rows).astype(float) if weighted else np.empty(0)
    if weighted and c.sum() == 0:
        c[0] = 1.0
    w = rng.normal(size=8)
    g_serial, g_threaded = np.empty(8), np.empty(8)
    f_serial = logistic.loss_grad(w, g_serial, X, y, c, 0.01, 1, True)
    f_threaded = logistic.loss_grad_threaded(w, g_threaded, X, y, c, 0.01, 1, True)
    assert f_threaded == pytest.approx(f_serial, rel=1e-14)
    np.testing.assert_allclose(g_threaded, g_serial, rtol=1e-12, atol=1e-15)
    rows_ = np.repeat(np.arange(rows), c.astype(int)) if weighted else np.arange(rows)
    assert f_threaded == pytest.approx(
        reference.logistic_loss(w, X[rows_], y[rows_], 0.01, 1), rel=1e-13
    )
    np.testing.assert_allclose(
        g_threaded, reference.logistic_grad(w, X[rows_], y[rows_], 0.01, 1), rtol=1e-11, atol=1e-14
    )
    # without the gradient: the same value, g untouched
    g_keep = np.full(8, 7.0)
    assert logistic.loss_grad_threaded(w, g_keep, X, y, c, 0.01, 1, False) == f_threaded
    assert (g_keep == 7.0).all()


def test_threaded_loss_is_the_same_for_any_thread_count():
    import subprocess
    import sys

    probe = (
        "import numpy as np; from workbench.models import logistic as L\n"
        "r = np.random.default_rng(5); X = r.normal(size=(5000, 6)); y = (X[:, 0] > 0) * 1.0\n"
        "g = np.empty(6); f = L.loss_grad_threaded(np.full(6, 0.1), g, X, y, np.empty(0),"
        " 0.0, 0, True)\n"
        "print(repr(f), [repr(v) for v in g])"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", probe],
            env={**os.environ, "NUMBA_NUM_THREADS": str(threads)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for threads in (1, 2, 3)
    }
    assert len(outputs) == 1, outputs
