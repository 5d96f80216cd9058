"""The models' own exp, log1p and tanh against libm (Python's math), ulp by ulp."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from workbench._numba import pure_python
from workbench.models._elementary import exp_nonpositive, log1p_unit, stack_buffer, tanh


@njit
def _apply(fn_id, xs):
    out = np.empty_like(xs)
    for i in range(xs.shape[0]):
        if fn_id == 0:
            out[i] = exp_nonpositive(xs[i])
        elif fn_id == 1:
            out[i] = log1p_unit(xs[i])
        else:
            out[i] = tanh(xs[i])
    return out


def ulps(got, ref):
    return np.abs(got - ref) / np.spacing(np.abs(ref))


def test_exp_within_one_ulp_of_libm():
    rng = np.random.default_rng(7)
    xs = np.concatenate(
        [
            -rng.exponential(5.0, 100_000),
            -rng.uniform(0.0, 708.39, 50_000),
            -rng.uniform(0.0, 1e-8, 5_000),
            [0.0, -0.0, -5e-324, -1e-300, -0.5 * math.log(2), -math.log(2), -708.0, -708.39],
        ]
    )
    ref = np.array([math.exp(x) for x in xs])
    assert ulps(_apply(0, xs), ref).max() <= 1.0


def test_exp_underflow_infinity_and_nan():
    xs = np.array([-708.4, -745.0, -1e5, -np.inf, np.nan])
    got = _apply(0, xs)
    np.testing.assert_array_equal(got[:4], 0.0)  # the true values are below 2.3e-308
    assert math.isnan(got[4])


def test_log1p_within_two_ulp_of_libm():
    rng = np.random.default_rng(8)
    root2 = math.sqrt(2.0) - 1.0  # where the reduction switches
    xs = np.concatenate(
        [
            rng.uniform(0.0, 1.0, 100_000),
            np.exp(-rng.uniform(0.0, 745.0, 50_000)),  # what the loss passes: exp(-|z|)
            [1.0, 5e-324, 1e-300, 1e-17, 2**-53, root2, np.nextafter(root2, 0), 0.5],
        ]
    )
    ref = np.array([math.log1p(x) for x in xs])
    assert ulps(_apply(1, xs), ref).max() <= 2.0
    assert _apply(1, np.array([0.0]))[0] == 0.0
    assert math.isnan(_apply(1, np.array([np.nan]))[0])


def test_tanh_within_three_ulp_of_libm():
    rng = np.random.default_rng(10)
    xs = np.concatenate(
        [
            rng.normal(0.0, 1.0, 100_000),
            rng.uniform(-20.0, 20.0, 50_000),
            [0.625, -0.625, np.nextafter(0.625, 1.0), 1e-300, -5e-324, 19.0, -40.0, 1e300],
        ]
    )
    ref = np.array([math.tanh(x) for x in xs])
    nonzero = ref != 0.0
    assert ulps(_apply(2, xs)[nonzero], ref[nonzero]).max() <= 3.0
    got = _apply(2, np.array([0.0, -0.0, np.inf, -np.inf, np.nan]))
    np.testing.assert_array_equal(got[:4], [0.0, 0.0, 1.0, -1.0])  # tanh(-0.0) is +0.0 here
    assert math.isnan(got[4])


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=-708.0, max_value=0.0), st.floats(min_value=0.0, max_value=1.0))
def test_any_value_in_range(x, u):
    assert ulps(_apply(0, np.array([x]))[0], math.exp(x)) <= 1.0
    if u > 0.0:
        assert ulps(_apply(1, np.array([u]))[0], math.log1p(u)) <= 2.0


def test_python_forms_for_the_cuda_simulator_give_the_same_bits():
    """The simulator runs device code as Python, with the bitcast intrinsic's Python twin."""
    exp_py, log1p_py = pure_python(exp_nonpositive), pure_python(log1p_unit)
    rng = np.random.default_rng(9)
    xs = -np.abs(rng.normal(0.0, 50.0, 500))
    np.testing.assert_array_equal([exp_py(x) for x in xs], _apply(0, xs))
    us = rng.uniform(0.0, 1.0, 500)
    np.testing.assert_array_equal([log1p_py(u) for u in us], _apply(1, us))
    assert math.isnan(exp_py(math.nan))


@njit(_nrt=False)
def _running_sums(xs, out):
    buf = stack_buffer(16)
    for s in range(0, xs.shape[0], 16):
        rows = min(16, xs.shape[0] - s)
        for i in range(rows):
            buf[i] = xs[s + i] * 2.0
        acc = 0.0
        for i in range(rows):
            acc += buf[i]
        out[s // 16] = acc


def test_stack_buffer_is_scratch_without_reference_counting():
    xs = np.arange(40.0)
    out = np.empty(3)
    _running_sums(xs, out)
    np.testing.assert_array_equal(out, [2 * xs[:16].sum(), 2 * xs[16:32].sum(), 2 * xs[32:].sum()])
