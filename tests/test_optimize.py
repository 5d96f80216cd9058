"""``workbench.optimize.minimize`` against ``scipy.optimize.minimize(method="BFGS")``, given the
SAME compiled functions: the same iterations, evaluations, status and message, and the same x.

Where numpy's BLAS is one :mod:`workbench.optimize._blas` reproduces (OpenBLAS's AVX2
kernels), :func:`test_bit_for_bit_with_scipy` demands identical bits on hard problems; on
other machines the parity tests use problems whose counts do not hinge on last bits
(checked by nudging x0 by an ulp), and that test gives scipy index-order dot products.

All problems share one family of ``@njit`` functions with the same argument types, so the
kernel is compiled once (and cached on disk) for all of them.
"""

from __future__ import annotations

import math
import re
import types
import warnings

import numpy as np
import pytest
import scipy.optimize._linesearch as scipy_linesearch
import scipy.optimize._optimize as scipy_optimize
from numba import carray, cfunc, njit
from scipy.optimize import minimize as scipy_minimize

from workbench.optimize import (
    OBJECTIVE_SIGNATURE,
    STATUS_MESSAGES,
    CompiledObjective,
    OptimizeResult,
    OptimizeWarning,
    minimize,
    minimize_bfgs,
)

# problem selectors: value(x, k, d) and gradient(x, k, d) for k in
ROSEN, QUAD, LOGIT, WALL, NAN_REGION, NAN_VALUE, SQUARE, WRONG_GRAD, NAN_GRAD, INVERSE = range(10)


@njit(error_model="numpy")  # 1/0 is inf, as in numpy, not an exception
def value(x, k, d):
    n = x.shape[0]
    f = 0.0
    if k == ROSEN:
        for i in range(n - 1):
            f += 100.0 * (x[i + 1] - x[i] * x[i]) ** 2 + (1.0 - x[i]) ** 2
    elif k == QUAD:  # 0.5 sum d_i x_i^2, badly scaled by d
        for i in range(n):
            f += 0.5 * d[i] * x[i] * x[i]
    elif k == LOGIT:  # mean logistic loss, d = [m, X (m x n, row-major), y]
        m = int(d[0])
        for r in range(m):
            z = 0.0
            for j in range(n):
                z += d[1 + r * n + j] * x[j]
            y = d[1 + m * n + r]
            # log(1 + e^z) without overflow or log(0)
            f += (z + math.log1p(math.exp(-z)) if z > 0 else math.log1p(math.exp(z))) - y * z
        f /= m
    elif k == WALL:  # 5 (x0 - 1)^2 + x1^2, and d[0] (+-inf) from x0 = 1.5 on
        f = d[0] if x[0] >= 1.5 else 5.0 * (x[0] - 1.0) ** 2 + x[1] ** 2
    elif k == NAN_REGION or k == NAN_VALUE:  # (x0 - 1)^2 + x1^2, NaN where x0 > 0.5
        f = math.nan if x[0] > 0.5 else (x[0] - 1.0) ** 2 + x[1] ** 2
    elif k == INVERSE:  # sum 1/x + d x^2 (x > 0)
        for i in range(n):
            f += 1.0 / x[i] + d[i] * x[i] * x[i]
    else:  # SQUARE, WRONG_GRAD, NAN_GRAD
        for i in range(n):
            f += x[i] * x[i]
    return f


@njit(error_model="numpy")
def gradient(x, k, d):
    n = x.shape[0]
    g = np.zeros(n)
    if k == ROSEN:
        for i in range(n - 1):
            t = x[i + 1] - x[i] * x[i]
            g[i] += -400.0 * x[i] * t - 2.0 * (1.0 - x[i])
            g[i + 1] += 200.0 * t
    elif k == QUAD:
        for i in range(n):
            g[i] = d[i] * x[i]
    elif k == LOGIT:
        m = int(d[0])
        for r in range(m):
            z = 0.0
            for j in range(n):
                z += d[1 + r * n + j] * x[j]
            e = math.exp(-abs(z))
            s = 1.0 / (1.0 + e) if z >= 0 else e / (1.0 + e)
            for j in range(n):
                g[j] += (s - d[1 + m * n + r]) * d[1 + r * n + j] / m
    elif k == WALL:  # beyond the wall: (d[1], 0)
        g[0] = d[1] if x[0] >= 1.5 else 10.0 * (x[0] - 1.0)
        g[1] = 0.0 if x[0] >= 1.5 else 2.0 * x[1]
    elif k == NAN_REGION or k == NAN_VALUE:  # NAN_VALUE: a finite gradient everywhere
        bad = k == NAN_REGION and x[0] > 0.5
        g[0] = math.nan if bad else 2.0 * (x[0] - 1.0)
        g[1] = math.nan if bad else 2.0 * x[1]
    elif k == INVERSE:
        for i in range(n):
            g[i] = -1.0 / (x[i] * x[i]) + 2.0 * d[i] * x[i]
    elif k == SQUARE:
        for i in range(n):
            g[i] = 2.0 * x[i]
    elif k == WRONG_GRAD:  # the gradient of -f: no descent direction, both line searches fail
        for i in range(n):
            g[i] = -2.0 * x[i]
    else:  # NAN_GRAD
        for i in range(n):
            g[i] = math.nan
    return g


@njit
def value_and_gradient(x, k, d):
    return value(x, k, d), gradient(x, k, d)


@njit
def column_gradient(x, k, d):
    return (2.0 * x).reshape((-1, 1))


@njit
def vector_value(x, k, d):
    return x * 2.0


# The docstring example of workbench.optimize._objective: least squares as a C callback.
@njit(cache=True)
def lsq(x, g, need, p, data):
    m, n = int(data[0]), x.shape[0]
    A = data[1 : 1 + m * n].reshape((m, n))
    b = data[1 + m * n : 1 + m * n + m]
    f = 0.0
    for j in range(n):
        g[j] = 0.0
    for i in range(m):
        r = -b[i]
        for j in range(n):
            r += A[i, j] * x[j]
        f += 0.5 * r * r
        for j in range(n):
            g[j] += r * A[i, j]
    return f


@cfunc(OBJECTIVE_SIGNATURE, cache=True)
def _lsq_c(x, g, n, need, p, n_p, d, n_d):
    return lsq(carray(x, (n,)), carray(g, (n,)), need, carray(p, (n_p,)), carray(d, (n_d,)))


LSQ = CompiledObjective(_lsq_c, lsq.py_func)

NONE = np.zeros(0)
ROSEN_X0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])  # scipy's documentation example


def logistic_data(m=100, seed=0):
    """Seeded data: two features and an intercept column; returns d for LOGIT."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(m), rng.normal(size=(m, 2))])
    p = 1.0 / (1.0 + np.exp(-(X @ np.array([-0.5, 1.5, -2.0]))))
    y = (rng.random(m) < p).astype(float)
    return np.concatenate([[m], X.ravel(), y])


def run_both(x0, k, d=NONE, jac=gradient, **options):
    """(ours, scipy's) for problem k, through the same compiled functions."""
    fun = value_and_gradient if jac is True else value
    ours = minimize(fun, x0, args=(k, d), method="BFGS", jac=jac, options=options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's RuntimeWarnings on NaN problems
        ref = scipy_minimize(fun, x0, args=(k, d), method="BFGS", jac=jac, options=options)
    return ours, ref


def assert_same(ours, ref, rtol=1e-8, atol=0.0, hess_rtol=None, fun_atol=1e-14):
    assert (ours.nit, ours.nfev, ours.njev) == (ref.nit, ref.nfev, ref.njev)
    assert (ours.status, ours.success, ours.message) == (ref.status, ref.success, ref.message)
    np.testing.assert_allclose(ours.x, ref.x, rtol=rtol, atol=atol)
    np.testing.assert_allclose(ours.fun, ref.fun, rtol=rtol, atol=fun_atol)
    if hess_rtol is not None:
        scale = np.abs(ref.hess_inv).max()
        np.testing.assert_allclose(
            ours.hess_inv, ref.hess_inv, rtol=hess_rtol, atol=hess_rtol * scale
        )


@pytest.mark.parametrize("n", [2, 5, 10])
@pytest.mark.parametrize("jac", ["function", "combined"])
def test_rosenbrock_with_a_gradient(n, jac):
    ours, ref = run_both(
        np.resize(ROSEN_X0, n), ROSEN, np.zeros(n), gradient if jac == "function" else True
    )
    assert ref.status == 0 and ref.nit > 20
    assert_same(ours, ref, hess_rtol=1e-6)
    np.testing.assert_allclose(ours.jac, ref.jac, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("n", [2, 5, 10])
def test_rosenbrock_finite_differences(n):
    # forward differences amplify round-off; gtol=1e-4 stops before the noise-dominated end
    ours, ref = run_both(np.resize(ROSEN_X0, n), ROSEN, np.zeros(n), jac=None, gtol=1e-4)
    assert ref.status == 0 and ref.nfev >= (n + 1) * ref.njev
    assert_same(ours, ref, rtol=1e-7, fun_atol=1e-12)  # f* ~ 1e-11: compare absolutely


def test_badly_scaled_quadratic():
    scales = np.logspace(0, 6, 6)  # condition number 1e6
    ours, ref = run_both(np.ones(6), QUAD, scales)
    assert ref.status == 0
    assert_same(ours, ref, atol=1e-12)  # x* = 0: compare against |x0| = 1
    assert np.abs(ours.x).max() < 1e-5


def test_logistic_regression():
    d = logistic_data()
    for jac in (gradient, True, None):
        ours, ref = run_both(np.zeros(3), LOGIT, d, jac)
        assert ref.status == 0
        if jac is None:  # finite differences amplify round-off in the inverse Hessian
            assert_same(ours, ref, rtol=1e-7)
        else:
            assert_same(ours, ref, hess_rtol=1e-6)


def test_compiled_objective_from_the_docstring():
    rng = np.random.default_rng(1)
    A, b = rng.normal(size=(30, 4)), rng.normal(size=30)
    data = np.concatenate([[30.0], A.ravel(), b])
    ours = minimize_bfgs(LSQ, np.zeros(4), args=(np.empty(0), data))
    ref = scipy_minimize(
        lambda x: (0.5 * np.sum((A @ x - b) ** 2), A.T @ (A @ x - b)), np.zeros(4), jac=True
    )
    np.testing.assert_allclose(ours.x, np.linalg.lstsq(A, b, rcond=None)[0], rtol=1e-6)
    assert (ours.nit, ours.nfev, ours.njev, ours.status) == (ref.nit, ref.nfev, ref.njev, 0)


def test_zoom_fallback_when_more_thuente_fails(monkeypatch):
    # The first trial step crosses a wall where f = +inf: Moré-Thuente's cubic step turns NaN
    # and it gives up; scipy's zoom search then halves the step and succeeds.
    scipy_wolfe2 = scipy_optimize.line_search_wolfe2
    found = []

    def instrumented(*args, **kwargs):
        ret = scipy_wolfe2(*args, **kwargs)
        found.append(ret[0] is not None)
        return ret

    monkeypatch.setattr(scipy_optimize, "line_search_wolfe2", instrumented)
    for jac in (gradient, None):
        found.clear()
        ours, ref = run_both(np.array([0.8, 0.1]), WALL, np.array([np.inf, 1.0]), jac)
        assert found == [True]  # scipy fell back once, and the zoom search found a step
        assert ref.status == 0
        assert_same(ours, ref, atol=1e-15, hess_rtol=1e-8)


def test_maxiter_is_status_1():
    ours, ref = run_both(np.resize(ROSEN_X0, 5), ROSEN, np.zeros(5), maxiter=7)
    assert ours.status == ref.status == 1
    assert ours.message == "Maximum number of iterations has been exceeded."
    assert_same(ours, ref)


def test_infinite_optimum_is_precision_loss():
    # the first step lands where f = -inf with a small slope: scipy accepts it and stops
    ours, ref = run_both(np.array([0.8, 0.1]), WALL, np.array([-np.inf, 1e-3]))
    assert ours.status == ref.status == 2 and ours.fun == -np.inf
    assert ours.message == "Desired error not necessarily achieved due to precision loss."
    assert_same(ours, ref)


def test_nan_inside_the_line_search_is_precision_loss():
    # the first step crosses into x0 > 0.5 where value and gradient are NaN
    ours, ref = run_both(np.array([0.0, 1.0]), NAN_REGION)
    assert ours.status == ref.status == 2 and ours.nit == 1 and np.isnan(ours.fun)
    assert ours.message == "Desired error not necessarily achieved due to precision loss."
    assert_same(ours, ref)


def test_nan_value_at_x0_is_nan_result():
    for jac in (gradient, None):  # f(x0) is NaN; the gradient is finite (analytic), or NaN
        ours, ref = run_both(np.array([1.0, 1.0]), NAN_VALUE, NONE, jac)
        assert ours.status == ref.status == 3 and np.isnan(ours.fun)
        assert ours.message == "NaN result encountered."
        assert_same(ours, ref)


def test_nan_gradient_at_x0_is_nan_result():
    ours, ref = run_both(np.array([1.0, 2.0]), NAN_GRAD)
    assert ours.status == ref.status == 3 and ours.nit == ref.nit == 0
    assert ours.message == ref.message == "NaN result encountered."
    assert_same(ours, ref)


@pytest.mark.parametrize(
    "options",
    [
        {"jac": "2-point"},
        {"jac": "3-point"},
        {"jac": "2-point", "finite_diff_rel_step": 1e-7},
        {"jac": None, "eps": 1e-7},
        {"jac": None, "norm": 2.0, "xrtol": 1e-3},
        {"jac": gradient, "hess_inv0": np.diag([0.5, 1.0, 2.0]), "c2": 0.5},
    ],
    ids=["2-point", "3-point", "rel-step", "eps", "norm-xrtol", "hess_inv0-c2"],
)
def test_options_as_scipy_reads_them(options):
    ours, ref = run_both(np.zeros(3), LOGIT, logistic_data(), **options)
    assert_same(ours, ref, rtol=1e-6)


def test_bit_for_bit_with_scipy(monkeypatch):
    """Where :mod:`workbench.optimize._blas` reproduces numpy's BLAS (OpenBLAS's AVX2
    kernels), scipy as it is; elsewhere scipy given index-order dot products (our loops' order
    there). Then every bit, count and status agrees, also on problems whose iterates BLAS
    rounding would steer apart."""
    from workbench.optimize._blas import ORDER

    def dot(a, b):
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        if b.ndim == 1:
            out = np.zeros(a.shape[:-1])
            for k in range(a.shape[-1]):
                out = out + a[..., k] * b[k]
            return out[()] if a.ndim == 1 else out
        out = np.zeros((a.shape[0], b.shape[1]))
        for k in range(a.shape[1]):
            out += a[:, k : k + 1] * b[k]
        return out

    if ORDER == "plain":
        shim = types.SimpleNamespace(
            **{name: getattr(np, name) for name in dir(np) if not name.startswith("__")}
        )
        shim.dot = dot
        shim.linalg = types.SimpleNamespace(norm=lambda x: np.sqrt(dot(x, x)))
        monkeypatch.setattr(scipy_optimize, "np", shim)
        monkeypatch.setattr(scipy_linesearch, "np", shim)
    cases = [
        (np.linspace(-1.2, 1.0, 10), ROSEN, np.zeros(10), gradient, {}),
        (np.resize(ROSEN_X0, 10), ROSEN, np.zeros(10), None, {}),  # ends in precision loss
        (np.array([0.5, 2.0]), INVERSE, np.array([2.0, 2.0]), gradient, {}),  # falls back
        (np.array([0.5, 1.0, 2.0]), INVERSE, np.array([0.3, 1.0, 2.0]), None, {}),
        (np.zeros(3), LOGIT, logistic_data(60, seed=5), "3-point", {"norm": 2.0}),
        (np.array([1.0, -2.0]), WRONG_GRAD, NONE, gradient, {}),
        (np.array([0.0, 1.0]), NAN_VALUE, NONE, None, {}),
    ]
    for x0, k, d, jac, options in cases:
        ours, ref = run_both(x0, k, d, jac, **options)
        assert (ours.nit, ours.nfev, ours.njev, ours.status) == (
            ref.nit,
            ref.nfev,
            ref.njev,
            ref.status,
        )
        np.testing.assert_array_equal(ours.x, ref.x)
        np.testing.assert_array_equal(ours.jac, ref.jac)
        np.testing.assert_array_equal(ours.hess_inv, ref.hess_inv)
        assert ours.fun == ref.fun or (math.isnan(ours.fun) and math.isnan(ref.fun))
    assert ref.status == 2


def test_result_fields_and_return_all():
    ours, ref = run_both(np.array([-1.2, 1.0]), ROSEN, np.zeros(2), return_all=True)
    assert isinstance(ours, OptimizeResult) and ours["x"] is ours.x
    assert set(ours) == set(ref)
    assert len(ours.allvecs) == len(ref.allvecs) == ours.nit + 1
    np.testing.assert_allclose(np.array(ours.allvecs), np.array(ref.allvecs), rtol=1e-8, atol=1e-12)
    assert "message: Optimization terminated successfully." in repr(ours)
    assert STATUS_MESSAGES[ours.status] == ours.message


def test_disp_prints_scipy_summary(capsys):
    minimize(value, np.zeros(2), args=(SQUARE, NONE), jac=gradient, options={"disp": True})
    out = capsys.readouterr().out
    assert out.startswith("Optimization terminated successfully.\n")
    assert "Iterations: 0" in out and "Gradient evaluations: 1" in out
    with pytest.warns(OptimizeWarning, match="Maximum number of iterations"):
        minimize_bfgs(value, np.ones(2), args=(SQUARE, NONE), jac=gradient, maxiter=0, disp=True)


def test_shape_errors_say_what_to_do():
    args = (SQUARE, NONE)
    with pytest.raises(ValueError) as err:
        minimize(value, np.zeros(3), args=args, jac=column_gradient)
    assert str(err.value) == (
        "jac returned shape (3, 1); expected (3,) to match x0: return a 1-D array "
        "(e.g. grad.ravel())"
    )
    with pytest.raises(
        ValueError, match=r"`fun` must return a scalar, got an array of shape \(3,\)"
    ):
        minimize(vector_value, np.zeros(3), args=args)
    with pytest.raises(ValueError, match=r"`x0` must be 1-D, shape \(n,\), got shape \(3, 1\)"):
        minimize(value, np.zeros((3, 1)), args=args)
    with pytest.raises(ValueError, match="`x0` must be finite"):
        minimize(value, np.array([1.0, np.nan]), args=args)
    with pytest.raises(ValueError, match="method 'CG' is not available"):
        minimize(value, np.zeros(2), args=args, method="CG")
    with pytest.raises(ValueError, match=r"unknown BFGS options \['tol'\]"):
        minimize(value, np.zeros(2), args=args, options={"tol": 1e-3})
    with pytest.raises(ValueError, match="'c1' and 'c2' do not satisfy"):
        minimize_bfgs(value, np.zeros(2), args=args, c1=0.5, c2=0.1)
    with pytest.raises(ValueError, match="'hess_inv0' matrix isn't positive definite"):
        minimize_bfgs(value, np.zeros(2), args=args, hess_inv0=-np.eye(2))
    with pytest.raises(ValueError, match="`jac` must be a callable"):
        minimize_bfgs(value, np.zeros(2), args=args, jac="cs")


@pytest.mark.parametrize("ord", [np.inf, -np.inf, 2.0, 1.0, 0.5, -1.0, 3.0])
def test_vecnorm_is_scipys_to_the_last_bit(ord):
    # numpy's array power squares for ord 2 (libm's pow rounds some squares differently),
    # and sums in pairwise blocks of 128; scipy's vecnorm is built on both
    from scipy.optimize._optimize import vecnorm as scipy_vecnorm

    from workbench.optimize._bfgs_kernel import vecnorm

    rng = np.random.default_rng(7)
    # libm's pow(x, 2) and x * x differ where the square is subnormal, as for this x
    edge = np.array([9.829381385314735e-156, 9.852219552596867e-156])
    for n in (1, 2, 3, 7, 8, 50, 129, 300, 1000):
        x = rng.standard_normal(n) * rng.choice([1e-150, 1e-3, 1.0, 1e3, 1e150], n)
        if n <= 2:
            x = edge[:n].copy()
        got = vecnorm(x, float(ord), np.empty(n))
        with np.errstate(over="ignore"):  # (1e150)**3 is inf in both
            want = float(scipy_vecnorm(x, ord=ord))
        if ord in (2.0, 1.0, 0.5, -1.0, np.inf, -np.inf):
            assert got == want, (n, got, want)
        else:  # numpy's own pow (vectorised) and libm's round a few cases apart
            assert got == pytest.approx(want, rel=1e-14)


def test_scipys_signature_hess_bounds_and_constraints_as_scipy_treats_them():
    """minimize takes scipy's parameters in scipy's order. BFGS does not use hess or hessp and
    cannot handle bounds or constraints: with method='BFGS' scipy warns and minimises without
    them, and so do we, to its numbers; with method=None scipy would choose L-BFGS-B or
    SLSQP, which we do not have, so that is an error rather than another method's answer."""
    d, x0 = np.zeros(1), np.array([-1.2, 1.0])
    ref = scipy_minimize(value, x0, args=(ROSEN, d), jac=gradient)
    # every parameter positionally, in scipy's order
    ours = minimize(value, x0, (ROSEN, d), None, gradient, None, None, None, (), None, None, {})
    assert (ours.nit, ours.nfev, ours.njev) == (ref.nit, ref.nfev, ref.njev)
    np.testing.assert_allclose(ours.x, ref.x, rtol=1e-10)
    box, eq = [(-2.0, 2.0)] * 2, [{"type": "eq", "fun": lambda x: x[0] - x[1]}]
    for kw, words in (
        ({"hess": gradient}, "does not use Hessian information (hess)"),
        ({"hessp": gradient}, "does not use Hessian-vector product information (hessp)"),
        ({"bounds": box}, "cannot handle bounds"),
        ({"constraints": eq}, "cannot handle constraints"),
    ):
        with pytest.warns(RuntimeWarning, match=r"Method BFGS " + re.escape(words)):
            ref_kw = scipy_minimize(value, x0, args=(ROSEN, d), method="BFGS", jac=gradient, **kw)
        with pytest.warns(RuntimeWarning, match=r"Method BFGS " + re.escape(words)):
            ours = minimize(value, x0, args=(ROSEN, d), method="BFGS", jac=gradient, **kw)
        assert (ours.nit, ours.nfev) == (ref_kw.nit, ref_kw.nfev) == (ref.nit, ref.nfev)
    with pytest.raises(ValueError, match="scipy's minimize chooses L-BFGS-B"):
        minimize(value, x0, args=(ROSEN, d), jac=gradient, bounds=box)
    with pytest.raises(ValueError, match="scipy's minimize chooses SLSQP"):
        minimize(value, x0, args=(ROSEN, d), jac=gradient, constraints=eq)
