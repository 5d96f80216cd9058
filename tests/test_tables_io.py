"""read_table round trips for every layout, and one test per kind of bad file."""

from __future__ import annotations

import re

import numpy as np
import pytest

from workbench.data.tables import TableError, read_table
from workbench.interpolate import evaluate, pack_table

T = np.linspace(0.0, 1.0, 1001)
TAU = np.vstack([np.sin(2 * np.pi * T), 0.5 * np.cos(3 * T) - 0.1])  # the 2 x 1001 torque table


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def _same(result, t, values):
    got_t, got_v = result
    assert got_t.dtype == got_v.dtype == np.float64
    np.testing.assert_array_equal(got_t, t)
    np.testing.assert_array_equal(got_v, values)


# -- round trips -------------------------------------------------------------------------------


def test_csv_time_column_with_header(tmp_path):
    path = tmp_path / "torque.csv"
    np.savetxt(path, np.column_stack([T, TAU.T]), delimiter=",", fmt="%.17g", header="t,a,b")
    # savetxt prefixes the header with "# "; write a bare header too.
    bare = _write(tmp_path / "bare.csv", "t,tau1,tau2\n" + path.read_text().split("\n", 1)[1])
    _same(read_table(path), T, TAU)
    _same(read_table(bare), T, TAU)


def test_csv_table_without_time_column(tmp_path):
    path = tmp_path / "tau.csv"
    np.savetxt(path, TAU, delimiter=",", fmt="%.17g")
    t, values = read_table(path, time=(0.0, 1.0))
    assert values.shape == (2, 1001)
    _same((t, values), np.linspace(0.0, 1.0, 1001), TAU)


def test_csv_blank_lines_comments_spaces_and_bom(tmp_path):
    text = "\ufefftime, x\n\n# comment\n0, 1.5\n 0.5 ,2.5\n\n1,-3e0\n"
    path = _write(tmp_path / "s.csv", text)
    _same(read_table(path), [0.0, 0.5, 1.0], [[1.5, 2.5, -3.0]])


def test_npy_time_in_column_0(tmp_path):
    path = tmp_path / "cols.npy"
    np.save(path, np.column_stack([T, TAU.T]))  # (N, C+1)
    _same(read_table(path), T, TAU)


def test_npy_time_in_row_0(tmp_path):
    path = tmp_path / "rows.npy"
    np.save(path, np.vstack([T, TAU]))  # (C+1, N)
    _same(read_table(path), T, TAU)


def test_npy_table_with_time(tmp_path):
    path = tmp_path / "tau.npy"
    np.save(path, TAU)
    _same(read_table(path, time=(0, 1)), T, TAU)
    one = tmp_path / "one.npy"
    np.save(one, TAU[0])
    _same(read_table(one, time=(0, 1)), T, TAU[:1])


def test_npy_square_resolved_by_increasing_axis(tmp_path):
    t = np.array([0.0, 1.0, 2.0])
    values = np.array([[5.0, 4.0, 6.0], [0.0, -1.0, 0.0]])
    by_rows = tmp_path / "by_rows.npy"
    np.save(by_rows, np.column_stack([t, values.T]))
    _same(read_table(by_rows), t, values)
    by_cols = tmp_path / "by_cols.npy"
    np.save(by_cols, np.vstack([t, values[::-1]]))
    _same(read_table(by_cols), t, values[::-1])


@pytest.mark.parametrize("name", ["values", "tau"])
def test_npz(tmp_path, name):
    path = tmp_path / "sig.npz"
    np.savez(path, t=T, **{name: TAU})
    _same(read_table(path), T, TAU)


def test_npz_values_only_with_time(tmp_path):
    path = tmp_path / "sig.npz"
    np.savez_compressed(path, tau=TAU)
    _same(read_table(path, time=(0.0, 1.0)), T, TAU)


def test_read_pack_evaluate_matches_np_interp(tmp_path):
    path = tmp_path / "tau.csv"
    np.savetxt(path, TAU, delimiter=",", fmt="%.17g")
    t, values = read_table(path, time=(0.0, 1.0))
    q = np.linspace(-0.1, 1.1, 777)
    got = evaluate(pack_table(t, values), q)
    for k in range(2):
        np.testing.assert_array_max_ulp(got[k], np.interp(q, T, TAU[k]), maxulp=2)


# -- bad files ---------------------------------------------------------------------------------


def _raises(path, match, **kwargs):
    with pytest.raises(TableError, match=re.escape(str(path)) + ".*" + match):
        read_table(path, **kwargs)


def test_missing_file(tmp_path):
    _raises(tmp_path / "nope.csv", "file not found")


def test_unsupported_extension(tmp_path):
    _raises(_write(tmp_path / "x.txt", "0,1\n1,2\n"), r"use \.csv, \.npy or \.npz")


def test_csv_ragged_row(tmp_path):
    path = _write(tmp_path / "r.csv", "t,a,b\n0,1,2\n1,2\n2,3,4\n")
    _raises(path, r"line 3 has 2 columns but line 2 has 3")


def test_csv_non_numeric_cell(tmp_path):
    path = _write(tmp_path / "n.csv", "0,1\n1,2\n2,3\n3,oops\n")
    _raises(path, r"line 4, column 2: 'oops' is not a number")


def test_csv_empty_cell(tmp_path):
    _raises(_write(tmp_path / "e.csv", "0,1\n1,\n"), r"line 2, column 2: '' is not a number")


def test_csv_nan(tmp_path):
    _raises(_write(tmp_path / "nan.csv", "0,1\n1,nan\n"), r"line 2, column 2: NaN or infinity")
    _raises(_write(tmp_path / "inf.csv", "1,2,-inf\n"), r"line 1, column 3: NaN or infinity")


def test_csv_non_increasing_time(tmp_path):
    path = _write(tmp_path / "d.csv", "t,a\n0,1\n0.5,2\n0.5,3\n")
    _raises(path, r"line 4: time 0\.5 does not increase past 0\.5 \(line 3\)")


def test_csv_needs_a_channel_without_time(tmp_path):
    _raises(_write(tmp_path / "c.csv", "0\n1\n2\n"), r"pass time=\(t_start, t_stop\)")


def test_csv_header_only(tmp_path):
    _raises(_write(tmp_path / "h.csv", "t,a\n"), "no numeric rows")


def test_csv_one_sample_with_time(tmp_path):
    _raises(_write(tmp_path / "s.csv", "1\n2\n"), r"1 sample\(s\)", time=(0, 1))


@pytest.mark.parametrize("time", [(1.0, 0.0), (0.0, np.inf), "ab", (0, 1, 2)])
def test_bad_time_argument(tmp_path, time):
    path = _write(tmp_path / "ok.csv", "1,2\n")
    _raises(path, r"time", time=time)


def test_npy_nan(tmp_path):
    path = tmp_path / "nan.npy"
    bad = np.vstack([T, TAU]).copy()
    bad[2, 40] = np.nan
    np.save(path, bad)
    _raises(path, r"NaN or infinity at channel 1, sample 40")


def test_npy_non_increasing(tmp_path):
    path = tmp_path / "dec.npy"
    np.save(path, np.column_stack([T[::-1], TAU.T]))
    _raises(path, r"not strictly increasing at index 1")


def test_npy_wrong_rank(tmp_path):
    path = tmp_path / "r3.npy"
    np.save(path, np.zeros((2, 3, 4)))
    _raises(path, r"expected a 2-D array")
    _raises(path, r"expected a \(C, N\) table", time=(0, 1))


def test_npy_square_ambiguous(tmp_path):
    path = tmp_path / "sq.npy"
    np.save(path, np.array([[0.0, 1.0], [1.0, 2.0]]))
    _raises(path, r"ambiguous")


def test_npy_not_numeric_or_corrupt(tmp_path):
    strings = tmp_path / "s.npy"
    np.save(strings, np.array([["a", "b"], ["c", "d"], ["e", "f"]]))
    _raises(strings, r"numbers are needed")
    corrupt = _write(tmp_path / "c.npy", "not an array")
    _raises(corrupt, r"cannot read as \.npy")
    archive = tmp_path / "a.npy"
    np.savez(tmp_path / "a.npz", t=T, values=TAU)
    archive.write_bytes((tmp_path / "a.npz").read_bytes())
    _raises(archive, r"does not match the \.npy extension")


def test_npz_shapes_disagree(tmp_path):
    path = tmp_path / "s.npz"
    np.savez(path, t=T, values=TAU[:, :1000])
    _raises(path, r"table has shape \(2, 1000\) but the time grid has 1001 points")


def test_npz_missing_or_ambiguous_arrays(tmp_path):
    missing = tmp_path / "m.npz"
    np.savez(missing, t=T, torque=TAU)
    _raises(missing, r"exactly one of the arrays 'values' or 'tau'")
    both = tmp_path / "b.npz"
    np.savez(both, t=T, values=TAU, tau=TAU)
    _raises(both, r"exactly one of the arrays 'values' or 'tau'")
    no_t = tmp_path / "n.npz"
    np.savez(no_t, values=TAU)
    _raises(no_t, r"no time grid 't'")
    _raises(tmp_path / "b.npz", r"exactly one", time=(0, 1))
    with_t = tmp_path / "w.npz"
    np.savez(with_t, t=T, values=TAU)
    _raises(with_t, r"has its own time grid", time=(0, 1))
