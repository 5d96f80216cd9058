"""The public line searches against scipy's, on the same compiled functions."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numba import njit
from scipy.optimize import _linesearch as scipy_ls
from scipy.optimize import line_search as scipy_line_search

from workbench.optimize import line_search, line_search_wolfe1


@njit
def f(x):
    return np.sum(x**4) + 0.5 * np.sum(x**2) + x[0] * x[1]


@njit
def fprime(x):
    g = x**3 * 4.0 + x
    g[0] += x[1]
    g[1] += x[0]
    return g


POINTS = [
    (np.array([1.0, -0.5, 2.0]), None, None),
    (np.array([0.3, 0.2, -0.1]), None, None),
    (np.array([3.0, 1.0, 1.0]), 100.0, 120.0),
]


def assert_same_tuple(ours, ref):
    assert (ours[0] is None) == (ref[0] is None)
    if ref[0] is not None:
        assert ours[0] == pytest.approx(ref[0], rel=1e-10)
    assert ours[1:3] == ref[1:3]  # fc, gc
    for a, b in zip(ours[3:5], ref[3:5], strict=True):
        assert (a is None) == (b is None) and (a is None or a == pytest.approx(b, rel=1e-12))
    assert (ours[5] is None) == (ref[5] is None)
    if ref[5] is not None:
        np.testing.assert_allclose(ours[5], ref[5], rtol=1e-10)


@pytest.mark.parametrize(("xk", "old_fval", "old_old_fval"), POINTS)
def test_zoom_search_matches_scipy(xk, old_fval, old_old_fval):
    pk = -fprime(xk)
    if old_fval is not None:
        old_fval = f(xk)
    kw = dict(old_fval=old_fval, old_old_fval=old_old_fval)
    assert_same_tuple(
        line_search(f, fprime, xk, pk, **kw), scipy_line_search(f, fprime, xk, pk, **kw)
    )


@pytest.mark.parametrize(("xk", "old_fval", "old_old_fval"), POINTS)
def test_more_thuente_matches_scipy(xk, old_fval, old_old_fval):
    pk = -fprime(xk)
    if old_fval is not None:
        old_fval = f(xk)
    kw = dict(old_fval=old_fval, old_old_fval=old_old_fval)
    assert_same_tuple(
        line_search_wolfe1(f, fprime, xk, pk, **kw),
        scipy_ls.line_search_wolfe1(f, fprime, xk, pk, **kw),
    )


def test_an_ascent_direction_fails_like_scipy():
    xk = np.array([1.0, 2.0, 3.0])
    pk = fprime(xk)  # uphill
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref2 = scipy_line_search(f, fprime, xk, pk)
        ref1 = scipy_ls.line_search_wolfe1(f, fprime, xk, pk)
    assert ref1[0] is None and line_search_wolfe1(f, fprime, xk, pk)[0] is None
    assert_same_tuple(line_search(f, fprime, xk, pk), ref2)
