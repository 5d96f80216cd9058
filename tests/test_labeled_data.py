"""Labelled-data readers: round trips and one clear error per kind of bad file."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.data.labeled import DataError, design_matrix, read_csv, read_npz, synthetic


def test_csv_round_trip(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,label,b\n1.5,0,2\n-3,1,4e-1\n")
    X, y, names = read_csv(path)
    np.testing.assert_array_equal(X, [[1.5, 2.0], [-3.0, 0.4]])
    np.testing.assert_array_equal(y, [0.0, 1.0])
    assert names == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,label\n1,0\n2\n", "line 3 has 1 cells, the header has 2"),
        ("a,b\n1,0\n", "no label column 'label'; columns are a, b"),
        ("a,label\n1,0\nx,1\n", "line 3, column 'a': 'x' is not a number"),
        ("a,label\n1,0\n2,2\n", "labels must be 0 or 1; sample 1 has 2.0"),
        ("a,label\nnan,0\n", "feature 'a' of sample 0 is NaN or infinite"),
        ("a,label\n", "needs a header row and at least one data row"),
    ],
)
def test_bad_csv(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        read_csv(path)


def test_npz(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.eye(3), y=np.array([0, 1, 1]))
    X, y, names = read_npz(path)
    np.testing.assert_array_equal(X, np.eye(3))
    assert names == ["x1", "x2", "x3"]
    np.savez(path, X=np.eye(3))
    with pytest.raises(DataError, match="missing y"):
        read_npz(path)
    with pytest.raises(DataError, match="no such file"):
        read_npz(tmp_path / "none.npz")


def test_synthetic_is_seeded_and_separated():
    X, y, _ = synthetic(2000, 3, 4.0, 0.0, seed=5)
    X2, y2, _ = synthetic(2000, 3, 4.0, 0.0, seed=5)
    np.testing.assert_array_equal(X, X2)
    gap = np.linalg.norm(X[y == 1].mean(axis=0) - X[y == 0].mean(axis=0))
    assert gap == pytest.approx(4.0, rel=0.1)


def test_design_matrix():
    X = np.array([[1.0, 10.0], [3.0, 10.0]])
    Z, mean, scale = design_matrix(X, standardize=True, intercept=True)
    np.testing.assert_array_equal(Z, [[1.0, -1.0, 0.0], [1.0, 1.0, 0.0]])
    np.testing.assert_array_equal(mean, [2.0, 10.0])
    np.testing.assert_array_equal(scale, [1.0, 1.0])  # a constant column keeps scale 1


def test_csv_problems_name_the_line_as_numbered_in_the_file(tmp_path):
    # blank lines count: the one CSV reader (workbench.data.csvfile) reports file lines
    path = tmp_path / "gaps.csv"
    path.write_text("a,label\n\n1,0\n\nx,1\n")
    with pytest.raises(DataError, match=r"line 5, column 'a': 'x' is not a number"):
        read_csv(path)
