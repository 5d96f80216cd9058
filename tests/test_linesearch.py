"""The public line searches against scipy's, on the same compiled functions: the same step,
call counts, values and gradient, and the same tuples when they fail."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from numba import njit
from scipy.optimize import _linesearch as scipy_ls

from workbench.optimize import line_search, line_search_wolfe1

SMOOTH, FALSE_SLOPE, NAN_FAR = 0, 1, 2


@njit(error_model="numpy")
def f(x, k):
    if k == NAN_FAR and x[0] > 3.0:
        return math.nan
    s = x[0] * x[1]
    for i in range(x.shape[0]):
        s += x[i] ** 4 + 0.5 * x[i] ** 2
    return s


@njit(error_model="numpy")
def fprime(x, k):
    g = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        g[i] = 4.0 * x[i] ** 3 + x[i]
    g[0] += x[1]
    g[1] += x[0]
    if k == FALSE_SLOPE:  # claims descent where f rises: the searches cannot succeed
        for i in range(x.shape[0]):
            g[i] = -g[i]
    return g


POINTS = [
    (np.array([1.0, -0.5, 2.0]), None, None),
    (np.array([0.3, 0.2, -0.1]), None, None),
    (np.array([3.0, 1.0, 1.0]), 100.0, 120.0),  # old values given: a shorter first step
    (np.array([-0.05, 0.02, 0.01]), 5.0, 5.0 + 1e-9),
]


def same_tuple(ours, ref):
    assert len(ours) == len(ref) == 6
    assert (ours[0] is None) == (ref[0] is None)
    if ref[0] is not None:
        assert ours[0] == pytest.approx(ref[0], rel=1e-10)
    assert ours[1:3] == ref[1:3]  # fc, gc: the same calls
    for a, b in zip(ours[3:5], ref[3:5], strict=True):  # new_fval, old_fval
        assert (a is None) == (b is None)
        assert a is None or a == pytest.approx(b, rel=1e-12, nan_ok=True)
    assert (ours[5] is None) == (ref[5] is None)
    if ref[5] is not None:
        np.testing.assert_allclose(ours[5], ref[5], rtol=1e-10)


def both(ours_fn, scipy_fn, xk, pk, k=SMOOTH, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's LineSearchWarning
        ref = scipy_fn(f, fprime, xk, pk, args=(k,), **kw)
    return ours_fn(f, fprime, xk, pk, args=(k,), **kw), ref


@pytest.mark.parametrize(("xk", "old_fval", "old_old_fval"), POINTS)
def test_zoom_search_matches_scipy(xk, old_fval, old_old_fval):
    pk = -fprime(xk, SMOOTH)
    old_fval = None if old_fval is None else f(xk, SMOOTH)
    kw = dict(old_fval=old_fval, old_old_fval=old_old_fval)
    ours, ref = both(line_search, scipy_ls.line_search_wolfe2, xk, pk, **kw)
    assert ref[0] is not None
    same_tuple(ours, ref)


@pytest.mark.parametrize(("xk", "old_fval", "old_old_fval"), POINTS)
def test_more_thuente_matches_scipy(xk, old_fval, old_old_fval):
    pk = -fprime(xk, SMOOTH)
    old_fval = None if old_fval is None else f(xk, SMOOTH)
    kw = dict(old_fval=old_fval, old_old_fval=old_old_fval)
    ours, ref = both(line_search_wolfe1, scipy_ls.line_search_wolfe1, xk, pk, **kw)
    assert ref[0] is not None
    same_tuple(ours, ref)


def test_options_and_a_given_gradient():
    xk = np.array([1.0, -0.5, 2.0])
    gfk = fprime(xk, SMOOTH)
    kw = dict(gfk=gfk, c1=1e-3, c2=0.5, amax=0.2)
    same_tuple(*both(line_search, scipy_ls.line_search_wolfe2, xk, -gfk, **kw))
    # scipy's positional order: ..., amax, extra_condition, maxiter
    ours = line_search(f, fprime, xk, -gfk, gfk, None, None, (SMOOTH,), 1e-3, 0.5, 0.2, None, 3)
    ref = scipy_ls.line_search_wolfe2(
        f, fprime, xk, -gfk, gfk, None, None, (SMOOTH,), 1e-3, 0.5, 0.2, None, 3
    )
    same_tuple(ours, ref)
    kw = dict(gfk=gfk, c1=1e-3, c2=0.5, amax=0.2, amin=1e-3, xtol=1e-10)
    same_tuple(*both(line_search_wolfe1, scipy_ls.line_search_wolfe1, xk, -gfk, **kw))


def test_an_ascent_direction_fails_like_scipy():
    xk = np.array([1.0, 2.0, 3.0])
    pk = fprime(xk, SMOOTH)  # uphill: Moré-Thuente refuses at once, the zoom search gives up
    ours, ref = both(line_search_wolfe1, scipy_ls.line_search_wolfe1, xk, pk)
    assert ref[0] is None and ref[2] == 0  # only phi(0) evaluated
    same_tuple(ours, ref)
    ours, ref = both(line_search, scipy_ls.line_search_wolfe2, xk, pk)
    assert ref[0] is None and ref[3] is None
    same_tuple(ours, ref)


def test_a_false_slope_fails_like_scipy():
    xk = np.array([1.0, -0.5, 2.0])
    pk = -fprime(xk, FALSE_SLOPE)  # a descent direction for the claimed slope only
    for ours_fn, scipy_fn in (
        (line_search_wolfe1, scipy_ls.line_search_wolfe1),
        (line_search, scipy_ls.line_search_wolfe2),
    ):
        ours, ref = both(ours_fn, scipy_fn, xk, pk, FALSE_SLOPE)
        assert ref[0] is None and ref[1] > 1
        same_tuple(ours, ref)


def test_the_zoom_search_out_of_iterations_returns_a_step_without_slope():
    xk = np.array([0.3, 0.2, -0.1])
    pk = -1e-3 * fprime(xk, SMOOTH)  # so short a direction that the step must grow
    ours, ref = both(line_search, scipy_ls.line_search_wolfe2, xk, pk, maxiter=2)
    assert ref[0] is not None and ref[5] is None
    same_tuple(ours, ref)


def test_a_step_stalled_at_zero_returns_old_values():
    xk = np.array([1.0, -0.5, 2.0])
    kw = dict(amax=0.0, old_fval=f(xk, SMOOTH), old_old_fval=123.0)
    ours, ref = both(line_search, scipy_ls.line_search_wolfe2, xk, -fprime(xk, SMOOTH), **kw)
    assert ref[0] is None and ref[3] == kw["old_fval"] and ref[4] == 123.0
    same_tuple(ours, ref)


def test_nan_on_the_way_matches_scipy():
    xk = np.array([-0.5, 0.0, 0.0])
    pk = np.array([10.0, 0.0, 0.0])  # downhill, but the first trial lands where f is NaN
    for ours_fn, scipy_fn in (
        (line_search_wolfe1, scipy_ls.line_search_wolfe1),
        (line_search, scipy_ls.line_search_wolfe2),
    ):
        ours, ref = both(ours_fn, scipy_fn, xk, pk, NAN_FAR)
        assert ref[1] > 1
        same_tuple(ours, ref)


def test_bad_arguments_say_what_to_do():
    xk = np.zeros(3)
    with pytest.raises(ValueError, match="'c1' and 'c2' do not satisfy"):
        line_search(f, fprime, xk, xk, args=(SMOOTH,), c1=0.9, c2=0.1)
    with pytest.raises(ValueError, match="extra_condition is not supported"):
        line_search(f, fprime, xk, xk, args=(SMOOTH,), extra_condition=lambda a, x, f, g: True)
    with pytest.raises(ValueError, match="must be 1-D arrays of the same length"):
        line_search_wolfe1(f, fprime, xk, np.zeros(2), args=(SMOOTH,))
