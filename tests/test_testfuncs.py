"""Optimizer test functions: values and gradients against numpy twins and finite
differences."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.models import reference
from workbench.models import testfuncs as tf


def central_differences(f, x, h=1e-6):
    g = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


@pytest.mark.parametrize("n", [2, 3, 7, 20])
def test_rosenbrock_against_numpy_and_finite_differences(n):
    rng = np.random.default_rng(n)
    for _ in range(5):
        x = rng.uniform(-2, 2, n)
        f, g = tf.rosenbrock(x)
        f_ref, g_ref = reference.rosenbrock(x)
        assert f == pytest.approx(f_ref, rel=1e-14)
        np.testing.assert_allclose(g, g_ref, rtol=1e-13, atol=1e-12)
        fd = central_differences(lambda v: tf.rosenbrock(v)[0], x)
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-6)
    f, g = tf.rosenbrock(np.ones(n))
    assert f == 0.0 and np.all(g == 0.0)
    assert tf.rosenbrock(np.array([-1.2, 1.0]))[0] == pytest.approx(24.2)


@pytest.mark.parametrize(("nx", "ny"), [(1, 1), (2, 2), (3, 5), (8, 4)])
def test_make_saddle_is_seeded_and_positive_definite(nx, ny):
    A, C, D = tf.make_saddle(nx, ny, seed=3)
    assert A.shape == (nx, nx) and C.shape == (nx, ny) and D.shape == (ny, ny)
    for M in (A, D):
        np.testing.assert_array_equal(M, M.T)
        eig = np.linalg.eigvalsh(M)
        assert eig.min() >= 0.5 - 1e-12 and eig.max() <= 1.5 + 1e-12
    again = tf.make_saddle(nx, ny, seed=3)
    assert all(np.array_equal(p, q) for p, q in zip((A, C, D), again, strict=True))
    assert not np.array_equal(C, tf.make_saddle(nx, ny, seed=4)[1])


@pytest.mark.parametrize(("nx", "ny"), [(1, 1), (2, 3), (6, 4)])
def test_saddle_value_and_gradients(nx, ny):
    A, C, D = tf.make_saddle(nx, ny, seed=1)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(nx), rng.standard_normal(ny)
    f, gx, gy = tf.saddle_value_grad(x, y, A, C, D)
    f_ref, gx_ref, gy_ref = reference.saddle_value_grad(x, y, A, C, D)
    assert f == pytest.approx(x @ A @ x / 2 + x @ C @ y - y @ D @ y / 2, rel=1e-13)
    assert f == pytest.approx(f_ref, rel=1e-13)
    np.testing.assert_allclose(gx, A @ x + C @ y, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(gy, C.T @ x - D @ y, rtol=1e-13, atol=1e-14)  # note the sign
    np.testing.assert_allclose(gx, gx_ref, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(gy, gy_ref, rtol=1e-13, atol=1e-14)
    fx = central_differences(lambda v: tf.saddle_value_grad(v, y, A, C, D)[0], x)
    fy = central_differences(lambda v: tf.saddle_value_grad(x, v, A, C, D)[0], y)
    np.testing.assert_allclose(gx, fx, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gy, fy, rtol=1e-6, atol=1e-8)
    # the saddle point: zero gradient, a minimum in x and a maximum in y
    f0, gx0, gy0 = tf.saddle_value_grad(np.zeros(nx), np.zeros(ny), A, C, D)
    assert f0 == 0.0 and not gx0.any() and not gy0.any()
    assert tf.saddle_value_grad(x, np.zeros(ny), A, C, D)[0] > 0
    assert tf.saddle_value_grad(np.zeros(nx), y, A, C, D)[0] < 0


def test_saddle_class_and_descent_ascent():
    s = tf.Saddle.make(3, 2, seed=0)
    x, y = np.ones(3), np.ones(2)
    np.testing.assert_array_equal(
        s.value_grad(x, y)[1], tf.saddle_value_grad(x, y, s.A, s.C, s.D)[1]
    )
    for _ in range(2000):
        _, gx, gy = s.value_grad(x, y)
        x, y = x - 0.05 * gx, y + 0.05 * gy
    assert np.linalg.norm(np.concatenate([x, y])) < 1e-8


@pytest.mark.parametrize(
    ("f", "ref", "minimum"),
    [(tf.beale, reference.beale, (3.0, 0.5)), (tf.booth, reference.booth, (1.0, 3.0))],
)
def test_beale_and_booth(f, ref, minimum):
    rng = np.random.default_rng(1)
    for _ in range(10):
        x = rng.uniform(-3, 3, 2)
        v, g = f(x)
        v_ref, g_ref = ref(x)
        assert v == pytest.approx(v_ref, rel=1e-13)
        np.testing.assert_allclose(g, g_ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(g, central_differences(lambda u: f(u)[0], x), rtol=1e-6)
    v, g = f(np.array(minimum))
    assert v == 0.0 and np.all(g == 0.0)
