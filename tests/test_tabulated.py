"""Packed tabulated signals against np.interp and scipy's CubicSpline, plus CUDA compilation."""

from __future__ import annotations

import os
from types import SimpleNamespace

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.interpolate import CubicSpline

from workbench.interpolate.tables import (
    H_DATA,
    H_GRID,
    H_UNIFORM,
    HEADER_LEN,
    TableError,
    evaluate,
    pack_table,
    table_channels,
    table_eval,
    table_eval_scalar,
    table_range,
)

SETTINGS = settings(max_examples=50, deadline=None)
finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@st.composite
def tables(draw, uniform: bool):
    """(t, values, query times): query times hit every node, both ends, and beyond both ends."""
    t0 = draw(finite)
    if uniform:
        n = draw(st.integers(2, 200))
        span = draw(st.floats(1e-3, 1e3))
        t = np.linspace(t0, t0 + span, n)
    else:
        steps = draw(st.lists(st.floats(1e-3, 10.0), min_size=1, max_size=60))
        t = t0 + np.concatenate([[0.0], np.cumsum(steps)])
        n = t.shape[0]
        span = t[-1] - t[0]
    c = draw(st.integers(1, 3))
    values = draw(arrays(np.float64, (c, n), elements=finite))
    inside = draw(st.lists(st.floats(0.0, 1.0), max_size=20))
    outside = draw(st.lists(st.floats(0.01, 2.0), max_size=4))
    q = np.concatenate(
        [
            t,
            np.nextafter(t, np.inf),
            np.nextafter(t, -np.inf),
            (t[:-1] + t[1:]) / 2,
            t[0] + np.array(inside) * span,
            t[0] - np.array(outside) * span,
            t[-1] + np.array(outside) * span,
        ]
    )
    return t, values, q


def _check_linear(t, values, q):
    packed = pack_table(t, values, "linear")
    got = evaluate(packed, q)
    for k in range(values.shape[0]):
        np.testing.assert_array_max_ulp(got[k], np.interp(q, t, values[k]), maxulp=2)
    return packed


def _check_cubic(t, values, q):
    packed = pack_table(t, values, "cubic")
    ref = CubicSpline(t, values, axis=1, bc_type="not-a-knot")(np.clip(q, t[0], t[-1]))
    scale = np.max(np.abs(values))
    np.testing.assert_allclose(evaluate(packed, q), ref, rtol=0, atol=1e-12 * scale)
    return packed


@SETTINGS
@given(tables(uniform=True))
def test_linear_uniform_matches_np_interp(case):
    packed = _check_linear(*case)
    assert packed[H_UNIFORM] == 1.0  # linspace grids take the O(1) lookup


@SETTINGS
@given(tables(uniform=False))
def test_linear_nonuniform_matches_np_interp(case):
    _check_linear(*case)


@SETTINGS
@given(tables(uniform=True))
def test_cubic_uniform_matches_cubicspline(case):
    _check_cubic(*case)


@SETTINGS
@given(tables(uniform=False))
def test_cubic_nonuniform_matches_cubicspline(case):
    _check_cubic(*case)


@SETTINGS
@given(tables(uniform=True), st.sampled_from(["linear", "cubic"]))
def test_uniform_lookup_equals_bisection(case, kind):
    """The O(1) index plus one-step correction picks exactly the piece bisection picks."""
    t, values, q = case
    packed = pack_table(t, values, kind)
    bisect = packed.copy()
    bisect[H_UNIFORM] = 0.0
    np.testing.assert_array_equal(evaluate(packed, q), evaluate(bisect, q))


@pytest.mark.parametrize("t0, dt", [(1e9, 1e-3), (-5e3, 0.37), (0.0, 1e-9), (3.0, 1.0 / 3.0)])
def test_uniform_far_from_origin_hits_nodes_exactly(t0, dt):
    # Large offsets make linspace's points and the quotient (t - t0)/dt round the most.
    t = np.linspace(t0, t0 + 1000 * dt, 1001)
    values = np.vstack([np.sin(np.arange(1001.0)), np.arange(1001.0) ** 2])
    q = np.concatenate([t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf)])
    packed = _check_linear(t, values, q)
    assert packed[H_UNIFORM] == 1.0


def test_grid_flags():
    t = np.linspace(0.0, 1.0, 11)
    assert pack_table(t, t[None, :])[H_UNIFORM] == 1.0
    jitter = t.copy()
    jitter[5] += 1e-3 * 0.1  # far beyond rounding
    assert pack_table(jitter, t[None, :])[H_UNIFORM] == 0.0
    geometric = np.geomspace(1.0, 10.0, 11)
    assert pack_table(geometric, t[None, :])[H_UNIFORM] == 0.0


def test_packed_layout():
    """The documented layout, which C callbacks and CUDA code index by hand."""
    t = np.array([0.0, 0.5, 2.0, 3.0])
    values = np.arange(8.0).reshape(2, 4) ** 2
    lin = pack_table(t, values, "linear")
    header = [31409.0, 2.0, 0.0, 2.0, 4.0, 0.0, 0.0, 1.0, 3.0, 12.0, 16.0, 1.0]
    assert list(lin[:HEADER_LEN]) == header
    np.testing.assert_array_equal(lin[int(lin[H_GRID]) : int(lin[H_DATA])], t)
    data = lin[int(lin[H_DATA]) :]
    np.testing.assert_array_equal(data[:8], values.ravel())
    np.testing.assert_array_equal(data[8:], (np.diff(values, axis=1) / np.diff(t)).ravel())
    cub = pack_table(t, values, "cubic")
    assert cub[2] == 1.0 and cub.shape == (HEADER_LEN + 4 + 2 * 3 * 4,)
    coef = CubicSpline(t, values, axis=1).c  # (4, N-1, C)
    k, j, m = 1, 2, 0
    assert cub[int(cub[H_DATA]) + (k * 3 + j) * 4 + m] == coef[m, j, k]
    with pytest.raises(TableError, match="not a packed table"):
        table_range(cub[:-1])


def test_torque_table_accessors_and_scalar():
    t = np.linspace(0.0, 1.0, 1001)
    tau = np.vstack([np.sin(2 * np.pi * t), np.cos(2 * np.pi * t)])
    for kind in ("linear", "cubic"):
        packed = pack_table(t, tau, kind)
        assert table_range(packed) == (0.0, 1.0)
        assert table_channels(packed) == 2
        q = np.array([-1.0, 0.0, 0.123456, 0.5, 1.0, 2.0])
        full = evaluate(packed, q)
        assert full.shape == (2, 6)
        for k in range(2):
            scalar = [table_eval_scalar(packed, x, k) for x in q]
            np.testing.assert_array_equal(scalar, full[k])
        # Ends are held outside the grid.
        np.testing.assert_array_equal(full[:, 0], full[:, 1])
        np.testing.assert_array_equal(full[:, -1], full[:, -2])
        np.testing.assert_allclose(full[:, 3], [0.0, -1.0], atol=1e-12)


def test_table_eval_inside_user_njit_and_nan_time():
    t = np.linspace(0.0, 2.0, 5)
    values = np.vstack([t, -t])
    packed = pack_table(t, values)

    @numba.njit
    def user_kernel(packed, ts):
        out = np.empty(2)
        acc = 0.0
        for x in ts:
            table_eval(packed, x, out)
            acc += out[0] - out[1]
        return acc

    assert user_kernel(packed, np.array([0.25, 1.0, 3.0])) == 2 * (0.25 + 1.0 + 2.0)
    assert np.all(np.isnan(evaluate(packed, [np.nan])))
    assert np.isnan(table_eval_scalar(packed, np.nan, 1))


def test_single_interval_cubic_is_linear():
    # With N=2 not-a-knot degenerates to the straight line; N=3 to the parabola.
    t2, t3 = np.array([0.0, 2.0]), np.array([0.0, 1.0, 3.0])
    np.testing.assert_allclose(evaluate(pack_table(t2, [[1.0, 5.0]], "cubic"), [0.5]), [[2.0]])
    y = (t3**2)[None, :]
    np.testing.assert_allclose(evaluate(pack_table(t3, y, "cubic"), [2.0]), [[4.0]], rtol=1e-14)


@pytest.mark.parametrize(
    "t, values, kind, match",
    [
        ([0.0, 0.5, 0.5, 1.0], np.zeros((1, 4)), "linear", r"not strictly increasing at index 2"),
        ([0.0, 1.0, 0.5], np.zeros((1, 3)), "linear", r"t\[1\]=1\.0, t\[2\]=0\.5"),
        (
            np.linspace(0, 1, 1001),
            np.zeros((2, 1000)),
            "linear",
            r"table has shape \(2, 1000\) but the time grid has 1001 points",
        ),
        (np.linspace(0, 1, 4), np.zeros((4, 2)), "linear", r"looks transposed"),
        (np.linspace(0, 1, 4), np.zeros(4), "linear", r"values\[None, :\]"),
        ([0.0, np.nan, 1.0], np.zeros((1, 3)), "linear", r"NaN or infinity at index 1"),
        ([0.0], np.zeros((1, 1)), "linear", r"at least 2 points"),
        (np.zeros((2, 2)), np.zeros((1, 2)), "linear", r"1-D"),
        (np.linspace(0, 1, 3), np.zeros((1, 3)), "quadratic", r"accepted: 'linear', 'cubic'"),
        ([0.0, 1.0], [["a", "b"]], "linear", r"real numbers"),
        ([-1e308, 1e308], np.zeros((1, 2)), "linear", r"overflows"),
    ],
)
def test_pack_errors(t, values, kind, match):
    with pytest.raises(TableError, match=match):
        pack_table(t, values, kind)


def test_nan_in_values_names_channel_and_sample():
    values = np.zeros((2, 100))
    values[1, 40] = np.inf
    with pytest.raises(TableError, match=r"channel 1, sample 40"):
        pack_table(np.arange(100.0), values)


def test_cubic_coefficient_overflow():
    t = np.linspace(0.0, 4e-100, 5)
    with np.errstate(all="ignore"), pytest.raises(TableError, match=r"overflow"):
        pack_table(t, [[0.0, 1e300, 0.0, 1e300, 0.0]], "cubic")


def test_accessors_reject_non_tables():
    with pytest.raises(TableError, match=r"not a packed table"):
        table_range(np.zeros(20))
    with pytest.raises(TableError, match=r"not a packed table"):
        table_channels([1.0, 2.0])


@pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", reason="PTX needs real nvvm")
def test_compiles_to_ptx(monkeypatch):
    cuda = pytest.importorskip("numba.cuda")
    from numba import types

    # A kernel calling a device function asks the driver for the device's compute capability;
    # stub it so this runs without a GPU.
    assert hasattr(cuda.dispatcher, "get_current_device")
    monkeypatch.setattr(
        cuda.dispatcher,
        "get_current_device",
        lambda: SimpleNamespace(compute_capability=(9, 0)),
    )

    def kern(packed, ts, out):
        i = cuda.grid(1)
        if i < ts.shape[0]:
            table_eval(packed, ts[i], out[i])
            out[i, 0] += table_eval_scalar(packed, ts[i], 0)

    sig = (types.float64[::1], types.float64[::1], types.float64[:, ::1])
    ptx, resty = cuda.compile_ptx(kern, sig, cc=(9, 0))
    assert resty == types.void
    assert ".entry" in ptx
    # No allocation or runtime calls may appear in device code.
    for forbidden in ("malloc", "NRT_"):
        assert forbidden not in ptx
