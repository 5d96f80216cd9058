"""``workbench.optimize`` against ``scipy.optimize.minimize(method="BFGS")``, given the same
compiled functions: the same iterations, evaluations, status and message, and the same x."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numba import njit
from scipy.optimize import minimize as scipy_minimize

from workbench.data.labeled import design_matrix, synthetic
from workbench.models import logistic
from workbench.optimize import minimize, minimize_bfgs


@njit
def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


@njit
def rosen_der(x):
    d = np.zeros_like(x)
    xm, xm_m1, xm_p1 = x[1:-1], x[:-2], x[2:]
    d[1:-1] = 200 * (xm - xm_m1**2) - 400 * (xm_p1 - xm**2) * xm - 2 * (1 - xm)
    d[0] = -400 * x[0] * (x[1] - x[0] ** 2) - 2 * (1 - x[0])
    d[-1] = 200 * (x[-1] - x[-2] ** 2)
    return d


@njit
def rosen_both(x):
    return rosen(x), rosen_der(x)


@njit
def quadratic(x, scales):  # badly scaled: condition number 1e6
    return 0.5 * np.sum(scales * x**2)


@njit
def quadratic_der(x, scales):
    return scales * x


@njit
def wrong_gradient(x):  # the gradient of -f: no descent direction, the line searches fail
    return -2.0 * x


@njit
def square(x):
    return np.sum(x**2)


@njit
def nan_gradient(x):
    return np.full(x.shape[0], np.nan)


@njit
def column_gradient(x):
    return (2.0 * x).reshape((-1, 1))


@njit
def vector_value(x):
    return x * 2.0


def both(fun, x0, **kw):
    ours = minimize(fun, x0, method="BFGS", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = scipy_minimize(fun, x0, method="BFGS", **kw)
    return ours, ref


def assert_same(ours, ref, rtol=1e-8, atol=None):
    assert (ours.nit, ours.nfev, ours.njev) == (ref.nit, ref.nfev, ref.njev)
    assert ours.status == ref.status and ours.message == ref.message
    assert ours.success == ref.success
    atol = rtol * np.abs(ref.x).max() if atol is None else atol
    np.testing.assert_allclose(ours.x, ref.x, rtol=rtol, atol=atol)
    np.testing.assert_allclose(ours.fun, ref.fun, rtol=1e-8, atol=1e-12)  # f* = 0 here


@pytest.mark.parametrize("n", [2, 5, 10])
def test_rosenbrock_with_gradient(n):
    x0 = np.linspace(-1.2, 1.0, n)
    ours, ref = both(rosen, x0, jac=rosen_der)
    # Rosenbrock's valley is ill-conditioned: over 80 iterations round-off (our inverse-Hessian
    # products vs BLAS) moves the last iterate by up to ~1e-7, inside the gradient tolerance.
    rtol = 1e-8 if n < 10 else 1e-6
    assert_same(ours, ref, rtol)
    if n < 10:  # the last inverse Hessian carries the same round-off, amplified
        np.testing.assert_allclose(ours.hess_inv, ref.hess_inv, rtol=1e-5, atol=1e-8)
    ours, ref = both(rosen_both, x0, jac=True)
    assert_same(ours, ref, rtol)


def test_rosenbrock_finite_differences():
    ours, ref = both(rosen, np.linspace(-1.2, 1.0, 5))
    assert_same(ours, ref, rtol=1e-7)


def test_badly_scaled_quadratic():
    scales = np.logspace(0, 6, 6)
    ours, ref = both(quadratic, np.ones(6), jac=quadratic_der, args=(scales,))
    assert_same(ours, ref, atol=1e-12)  # x is ~1e-19 at the end: compare against |x0| = 1
    assert np.abs(ours.x).max() < 1e-4


def test_logistic_regression_compiled_objective_matches_scipy():
    X, y, _ = synthetic(100, 2, 2.0, 0.05, seed=0)
    Z, _, _ = design_matrix(X, standardize=False, intercept=True)
    data = logistic.pack_data(Z, y, 0.0, 1)
    ours = minimize_bfgs(logistic.LOGISTIC, np.zeros(3), args=(np.empty(0), data))
    ref = scipy_minimize(
        logistic.loss_and_grad,
        np.zeros(3),
        jac=True,
        method="BFGS",
        args=(Z, y, np.empty(0), 0.0, 1),
    )
    assert_same(ours, ref)
    numpy_ref = scipy_minimize(
        logistic.numpy_loss, np.zeros(3), jac=logistic.numpy_grad, args=(Z, y), method="BFGS"
    )
    np.testing.assert_allclose(ours.x, numpy_ref.x, rtol=1e-7)


def test_maxiter_is_status_1():
    ours, ref = both(rosen, np.array([-1.2, 1.0]), jac=rosen_der, options={"maxiter": 5})
    assert ours.status == ref.status == 1
    assert_same(ours, ref)


def test_failed_line_search_is_precision_loss():
    ours, ref = both(square, np.array([1.0, -2.0]), jac=wrong_gradient)
    assert ours.status == ref.status == 2
    assert ours.message == "Desired error not necessarily achieved due to precision loss."
    assert (ours.nfev, ours.njev) == (ref.nfev, ref.njev)


def test_nan_gradient_at_x0_is_status_3():
    ours, ref = both(square, np.array([1.0, 2.0]), jac=nan_gradient)
    assert ours.status == ref.status == 3
    assert ours.message == ref.message == "NaN result encountered."
    assert ours.nit == ref.nit == 0


def test_shape_errors_say_what_to_do():
    with pytest.raises(ValueError) as err:
        minimize(square, np.zeros(3), jac=column_gradient)
    assert str(err.value) == (
        "jac returned shape (3, 1); expected (3,) to match x0: return a 1-D array "
        "(e.g. grad.ravel())"
    )
    with pytest.raises(ValueError, match=r"`fun` must return a scalar, got shape \(3,\)"):
        minimize(vector_value, np.zeros(3))
    with pytest.raises(ValueError, match=r"`x0` must be 1-D, shape \(n,\), got shape \(3, 1\)"):
        minimize(square, np.zeros((3, 1)))
    with pytest.raises(ValueError, match="`x0` must be finite"):
        minimize(square, np.array([1.0, np.inf]))
    with pytest.raises(ValueError, match="method 'CG' is not available"):
        minimize(square, np.zeros(2), method="CG")
    with pytest.raises(ValueError, match="'c1' and 'c2' do not satisfy"):
        minimize_bfgs(square, np.zeros(2), c1=0.5, c2=0.1)


def test_return_all_gives_every_iterate():
    ours, ref = both(rosen, np.array([-1.2, 1.0]), jac=rosen_der, options={"return_all": True})
    assert len(ours.allvecs) == len(ref.allvecs) == ours.nit + 1
    np.testing.assert_allclose(np.array(ours.allvecs), np.array(ref.allvecs), rtol=1e-7, atol=1e-10)
