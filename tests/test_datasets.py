"""Training data sets: the bundled digits, seeded synthetic sets, user files, splitting,
scaling and minibatches."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

from workbench.data import datasets
from workbench.data.labeled import DataError


def test_digits_shape_values_and_classes():
    X, y, names = datasets.digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64 and X.flags.c_contiguous
    assert y.shape == (1797,) and y.dtype == np.int64
    assert names == [str(k) for k in range(10)]
    assert X.min() == 0 and X.max() == 16 and np.all(X == np.round(X))
    counts = np.bincount(y, minlength=10)
    assert counts.tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    # the first image is a zero: a ring of ink around an empty centre
    assert y[0] == 0
    img = X[0].reshape(8, 8)
    assert img[3:5, 3:5].sum() == 0 and img[0].sum() > 0
    # a fresh copy every call: changing it does not change the next
    X[:] = -1
    assert datasets.digits()[0].min() == 0


def test_digits_licence_is_shipped():
    text = resources.files("workbench.data").joinpath("DIGITS_LICENSE.txt").read_text()
    assert "CC BY 4.0" in text and "10.24432/C50P49" in text and "Alpaydin" in text


@pytest.mark.parametrize(
    "make",
    [
        lambda seed: datasets.blobs(101, 4, 3, 0.5, seed),
        lambda seed: datasets.moons(101, 0.1, seed),
        lambda seed: datasets.spirals(101, 3, 0.2, seed),
    ],
    ids=["blobs", "moons", "spirals"],
)
def test_synthetic_sets_are_reproducible_by_seed(make):
    X, y, names = make(0)
    X2, y2, _ = make(0)
    X3, _, _ = make(1)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert not np.array_equal(X, X3)
    assert X.dtype == np.float64 and y.dtype == np.int64 and X.shape[0] == y.shape[0] == 101
    assert set(np.unique(y)) == set(range(len(names)))
    counts = np.bincount(y)
    assert counts.max() - counts.min() <= 1  # classes as equal as possible
    assert not np.all(np.diff(y) >= 0)  # shuffled


def test_blobs_shapes_and_clusters():
    X, y, names = datasets.blobs(600, 3, 5, 0.3, seed=2)
    assert X.shape == (600, 5) and names == ["blob 0", "blob 1", "blob 2"]
    for k in range(3):
        pts = X[y == k]
        assert np.all(np.abs(pts.std(axis=0) - 0.3) < 0.06)
        assert np.all(np.abs(pts.mean(axis=0)) <= 10.2)


def test_moons_lie_on_their_half_circles():
    X, y, names = datasets.moons(400, 0.0, seed=0)
    assert X.shape == (400, 2) and names == ["upper", "lower"]
    assert np.bincount(y).tolist() == [200, 200]
    up, lo = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(up[:, 0], up[:, 1]), 1.0, rtol=1e-12)
    assert np.all(up[:, 1] >= -1e-12)
    np.testing.assert_allclose(np.hypot(lo[:, 0] - 1.0, lo[:, 1] - 0.5), 1.0, rtol=1e-12)
    assert np.all(lo[:, 1] <= 0.5 + 1e-12)
    # with noise: within a few standard deviations of the circles
    Xn, yn, _ = datasets.moons(400, 0.05, seed=0)
    r_up = np.hypot(Xn[yn == 0, 0], Xn[yn == 0, 1])
    r_lo = np.hypot(Xn[yn == 1, 0] - 1.0, Xn[yn == 1, 1] - 0.5)
    assert np.all(np.abs(r_up - 1) < 5 * 0.05) and np.all(np.abs(r_lo - 1) < 5 * 0.05)
    assert np.std(np.concatenate([r_up, r_lo]) - 1) == pytest.approx(0.05, rel=0.2)


def test_spirals_radius_and_arms():
    X, y, names = datasets.spirals(300, 3, 0.0, seed=0)
    assert X.shape == (300, 2) and names == ["arm 0", "arm 1", "arm 2"]
    r = np.hypot(X[:, 0], X[:, 1])
    assert r.max() == pytest.approx(1.0) and r.min() == 0.0
    # without noise each point is at angle 4 (j + r) measured from the y axis
    angle = np.arctan2(X[:, 0], X[:, 1])
    want = 4.0 * (y + r)
    mask = r > 1e-9
    np.testing.assert_allclose(np.cos(angle[mask] - want[mask]), 1.0, atol=1e-12)


def test_bad_synthetic_settings():
    with pytest.raises(DataError):
        datasets.blobs(10, 1, 2, 1.0, 0)
    with pytest.raises(DataError):
        datasets.spirals(2, 3, 0.1, 0)
    with pytest.raises(DataError):
        datasets.moons(10, -1.0, 0)


def test_split_sizes_disjointness_and_seed():
    X = np.arange(200, dtype=float).reshape(100, 2)
    y = np.arange(100)
    Xtr, ytr, Xte, yte = datasets.split(X, y, 0.25, seed=3)
    assert len(ytr) == 75 and len(yte) == 25 and Xtr.shape == (75, 2) and Xte.shape == (25, 2)
    assert set(ytr).isdisjoint(yte) and set(ytr) | set(yte) == set(range(100))
    np.testing.assert_array_equal(Xtr[:, 0], 2 * ytr)  # rows stay with their labels
    np.testing.assert_array_equal(Xte[:, 0], 2 * yte)
    assert np.all(np.diff(ytr) > 0) and np.all(np.diff(yte) > 0)  # original order kept
    again = datasets.split(X, y, 0.25, seed=3)
    other = datasets.split(X, y, 0.25, seed=4)
    assert np.array_equal(again[3], yte) and not np.array_equal(other[3], yte)
    none = datasets.split(X, y, 0.0, seed=3)
    assert len(none[1]) == 100 and none[2].shape == (0, 2) and len(none[3]) == 0
    tiny = datasets.split(X[:3], y[:3], 0.9, seed=0)
    assert len(tiny[1]) == 1 and len(tiny[3]) == 2  # at least one training sample
    with pytest.raises(DataError):
        datasets.split(X, y, 1.0, seed=0)


def test_standardize_uses_training_statistics():
    rng = np.random.default_rng(0)
    Xtr = rng.normal(5.0, 3.0, size=(500, 3))
    Xtr[:, 2] = 7.0  # constant: centred, not scaled
    Xte = rng.normal(5.0, 3.0, size=(50, 3))
    Str, Ste = datasets.standardize(Xtr, Xte)
    np.testing.assert_allclose(Str[:, :2].mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Str[:, :2].std(axis=0), 1.0, rtol=1e-12)
    assert np.all(Str[:, 2] == 0.0)
    mean, std = Xtr[:, :2].mean(axis=0), Xtr[:, :2].std(axis=0)
    np.testing.assert_allclose(Ste[:, :2], (Xte[:, :2] - mean) / std, rtol=1e-12)
    np.testing.assert_allclose(Ste[:, 2], Xte[:, 2] - 7.0, rtol=1e-12)
    empty = datasets.standardize(Xtr, np.empty((0, 3)))[1]
    assert empty.shape == (0, 3)


@pytest.mark.parametrize(("n", "batch"), [(10, 3), (64, 64), (100, 7), (5, 10)])
def test_minibatches_cover_every_index_once_per_epoch(n, batch):
    mb = datasets.Minibatches(n, batch, seed=1)
    assert mb.batches_per_epoch == len(mb) == -(-n // batch)
    orders = []
    for e in range(4):
        batches = mb.epoch(e)
        assert len(batches) == mb.batches_per_epoch
        assert all(len(b) == batch for b in batches[:-1])
        assert 1 <= len(batches[-1]) <= batch  # the last partial batch is kept
        order = np.concatenate(batches)
        assert np.array_equal(np.sort(order), np.arange(n))
        assert np.array_equal(order, mb.permutation(e))
        orders.append(order)
    if n > 5:
        assert not np.array_equal(orders[0], orders[1])  # reshuffled every epoch


def test_minibatches_reproduce_any_epoch_on_their_own():
    a = datasets.Minibatches(50, 8, seed=7)
    b = datasets.Minibatches(50, 8, seed=7)
    for e in (5, 0, 3):  # a resumed run asks for epoch 5 first
        for p, q in zip(a.epoch(e), b.epoch(e), strict=True):
            assert np.array_equal(p, q)
    assert not np.array_equal(a.permutation(0), datasets.Minibatches(50, 8, seed=8).permutation(0))
    with pytest.raises(ValueError):
        datasets.Minibatches(0, 8, seed=0)


# ------------------------------------------------------------------------------ user files


def write(path, text):
    path.write_text(text)
    return path


def test_csv_with_arbitrary_integer_labels(tmp_path):
    path = write(tmp_path / "d.csv", "a,label,b\n1,7,2\n3,3,4\n5,9,6\n7,7.0,8\n")
    X, y, names = datasets.from_file(path)
    np.testing.assert_array_equal(X, [[1, 2], [3, 4], [5, 6], [7, 8]])
    assert X.dtype == np.float64 and y.dtype == np.int64
    assert names == ["3", "7", "9"]
    np.testing.assert_array_equal(y, [1, 0, 2, 1])
    other = write(tmp_path / "e.csv", "cls,x\n0,1\n1,2\n")
    X, y, names = datasets.from_file(other, label="cls")
    assert names == ["0", "1"] and y.tolist() == [0, 1] and X.shape == (2, 1)


def test_npz_with_integer_labels(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.arange(12.0).reshape(6, 2), y=np.array([2, 0, 2, 5, 0, 5]))
    X, y, names = datasets.from_file(path)
    assert X.shape == (6, 2) and names == ["0", "2", "5"]
    np.testing.assert_array_equal(y, [1, 0, 1, 2, 0, 2])


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("a,label\n1,0.5\n2,1\n", "non-negative integers"),
        ("a,label\n1,-1\n2,1\n", "non-negative integers"),
        ("a,label\n1,nan\n2,1\n", "non-negative integers"),
        ("a,label\n1,cat\n2,1\n", "line 2, column 'label': 'cat' is not an integer class label"),
        ("a,label\nnan,0\n2,1\n", "NaN or infinite"),
        ("a,label\nx,0\n2,1\n", "'x' is not a number"),
        ("a,label\n1,0\n2\n", "line 3 has 1 cells"),
        ("a,b\n1,0\n2,1\n", "no label column 'label'"),
        ("a,label\n", "at least one data row"),
        ("a,label\n1,4\n2,4\n", "at least two classes"),
        ("label\n1\n0\n", "no features"),
    ],
)
def test_bad_csv_files_raise_data_error(tmp_path, text, needle):
    path = write(tmp_path / "bad.csv", text)
    with pytest.raises(DataError, match="bad.csv") as info:
        datasets.from_file(path)
    assert needle in str(info.value)


def test_bad_npz_files_raise_data_error(tmp_path):
    cases = {
        "float.npz": dict(X=np.ones((3, 2)), y=np.array([0.0, 1.5, 1.0])),
        "nan.npz": dict(X=np.array([[np.nan], [1.0]]), y=np.array([0, 1])),
        "shape.npz": dict(X=np.ones((3, 2)), y=np.array([0, 1])),
        "missing.npz": dict(X=np.ones((3, 2))),
        "text.npz": dict(X=np.ones((2, 1)), y=np.array(["a", "b"])),
    }
    for name, arrays in cases.items():
        np.savez(tmp_path / name, **arrays)
        with pytest.raises(DataError, match=name):
            datasets.from_file(tmp_path / name)
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(DataError, match="junk.npz"):
        datasets.from_file(tmp_path / "junk.npz")
    with pytest.raises(DataError, match="no such file"):
        datasets.from_file(tmp_path / "absent.csv")
