"""Training data sets for classifiers, held-out splits, scaling and minibatches.

Every data set is ``(X, y, class_names)``: features (N, d) float64, labels (N,) int64 class
indices 0..k-1, and one name per class (``class_names[y[i]]`` names sample i's class).

* :func:`digits`: the 8x8 handwritten digits shipped with the package (1797 images, 64
  features 0..16, 10 classes; UCI, CC BY 4.0: see ``DIGITS_LICENSE.txt`` beside this file);
* seeded synthetic sets :func:`blobs`, :func:`moons`, :func:`spirals`: the same seed always
  gives the same set;
* :func:`from_file`: the user's CSV or ``.npz`` with integer labels.

:func:`split` holds out a seeded random fraction, :func:`standardize` scales by training-set
statistics, and :class:`Minibatches` gives each epoch's batches as a function of the seed and
the epoch number alone, so a resumed run sees the same batches as an uninterrupted one.
Problems with data raise :class:`~workbench.data.labeled.DataError` naming the file, the
line or sample, and what is accepted.
"""

from __future__ import annotations

import functools
import gzip
import math
from importlib import resources
from pathlib import Path

import numpy as np

from .csvfile import read_numeric_csv
from .labeled import DataError

__all__ = [
    "DataError",
    "Minibatches",
    "blobs",
    "digits",
    "from_file",
    "moons",
    "spirals",
    "split",
    "standardize",
]


# ---------------------------------------------------------------------------------- digits


@functools.lru_cache(maxsize=1)
def _digits_table() -> np.ndarray:
    with resources.files(__package__).joinpath("digits.csv.gz").open("rb") as raw:
        with gzip.open(raw, "rt", encoding="ascii") as text:
            table = np.loadtxt(text, delimiter=",", dtype=np.float64)
    table.flags.writeable = False
    return table


def digits() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Load the 8x8 handwritten digits shipped with the package.

    The UCI "Optical Recognition of Handwritten Digits" test set (Alpaydin & Kaynak 1998,
    doi:10.24432/C50P49, CC BY 4.0), as scikit-learn ships it.

    Returns
    -------
    X : ndarray of float64, shape (1797, 64)
        Pixel counts 0..16, each image row by row (a fresh copy).
    y : ndarray of int64, shape (1797,)
        The digit, 0..9.
    class_names : list of str
        ``"0"`` .. ``"9"``.
    """
    table = _digits_table()
    X = np.array(table[:, :64])
    y = table[:, 64].astype(np.int64)
    return X, y, [str(k) for k in range(10)]


# ------------------------------------------------------------------------------- synthetic


def _per_class(samples: int, classes: int) -> np.ndarray:
    """Class sizes as equal as possible, the first ``samples % classes`` one larger."""
    counts = np.full(classes, samples // classes, dtype=np.int64)
    counts[: samples % classes] += 1
    return counts


def _check_counts(samples: int, classes: int) -> None:
    if classes < 2:
        raise DataError(f"needs at least 2 classes, got {classes}")
    if samples < classes:
        raise DataError(f"needs at least one sample per class: {samples} samples, {classes}")


def blobs(samples: int, classes: int, features: int, spread: float, seed: int):
    """Make seeded isotropic Gaussian clusters.

    Centres are uniform in [-10, 10]^features; each class is drawn around its centre with
    standard deviation ``spread``; classes are as equal in size as possible (the first
    ``samples % classes`` one larger); the samples are shuffled.

    Parameters
    ----------
    samples : int
        Number of samples N, at least ``classes``.
    classes : int
        Number of classes k, at least 2.
    features : int
        Number of features d, at least 1.
    spread : float
        Standard deviation around each centre, >= 0.
    seed : int
        Seed of ``np.random.default_rng``.

    Returns
    -------
    X : ndarray of float64, shape (N, d)
        Features.
    y : ndarray of int64, shape (N,)
        Class indices 0..k-1.
    class_names : list of str
        ``"blob 0"``, ``"blob 1"``, ...

    Raises
    ------
    DataError
        For fewer than 2 classes, fewer samples than classes, ``features < 1`` or
        ``spread < 0``.
    """
    _check_counts(samples, classes)
    if features < 1 or spread < 0:
        raise DataError(f"features must be >= 1 and spread >= 0, got {features}, {spread}")
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-10.0, 10.0, size=(classes, features))
    y = np.repeat(np.arange(classes, dtype=np.int64), _per_class(samples, classes))
    X = centres[y] + spread * rng.standard_normal((samples, features))
    order = rng.permutation(samples)
    return np.ascontiguousarray(X[order]), y[order], [f"blob {k}" for k in range(classes)]


def moons(samples: int, noise: float, seed: int):
    """Make two seeded interleaving half circles, as scikit-learn's ``make_moons``.

    Class 0 ("upper") lies on ``(cos t, sin t)``, class 1 ("lower") on
    ``(1 - cos t, 1/2 - sin t)``, with ``t`` evenly spaced on [0, pi] (``samples // 2`` upper
    points, the rest lower); the samples are shuffled, then Gaussian noise of standard
    deviation ``noise`` is added to both coordinates.

    Parameters
    ----------
    samples : int
        Number of samples N, at least 2.
    noise : float
        Standard deviation of the noise, >= 0.
    seed : int
        Seed of ``np.random.default_rng``.

    Returns
    -------
    X : ndarray of float64, shape (N, 2)
        Points.
    y : ndarray of int64, shape (N,)
        Class indices 0 and 1.
    class_names : list of str
        ``["upper", "lower"]``.

    Raises
    ------
    DataError
        For ``samples < 2`` or ``noise < 0``.
    """
    if samples < 2 or noise < 0:
        raise DataError(f"moons needs samples >= 2 and noise >= 0, got {samples}, {noise}")
    rng = np.random.default_rng(seed)
    n_upper = samples // 2
    n_lower = samples - n_upper
    t_up = np.linspace(0.0, np.pi, n_upper)
    t_lo = np.linspace(0.0, np.pi, n_lower)
    X = np.vstack(
        [
            np.column_stack([np.cos(t_up), np.sin(t_up)]),
            np.column_stack([1.0 - np.cos(t_lo), 0.5 - np.sin(t_lo)]),
        ]
    )
    y = np.concatenate([np.zeros(n_upper, np.int64), np.ones(n_lower, np.int64)])
    order = rng.permutation(samples)
    X, y = X[order], y[order]
    X = X + noise * rng.standard_normal(X.shape)
    return np.ascontiguousarray(X), y, ["upper", "lower"]


def spirals(samples: int, classes: int, noise: float, seed: int):
    """Make seeded interleaved spiral arms in 2-D (the CS231n set).

    Class j's points lie at radius r evenly spaced in [0, 1] and angle
    ``4 (j + r) + noise * N(0, 1)`` radians, at ``r (sin, cos)``; classes are as equal in size
    as possible; the samples are shuffled.

    Parameters
    ----------
    samples : int
        Number of samples N, at least ``classes``.
    classes : int
        Number of arms k, at least 2.
    noise : float
        Standard deviation of the angle noise, >= 0.
    seed : int
        Seed of ``np.random.default_rng``.

    Returns
    -------
    X : ndarray of float64, shape (N, 2)
        Points.
    y : ndarray of int64, shape (N,)
        Class indices 0..k-1.
    class_names : list of str
        ``"arm 0"``, ``"arm 1"``, ...

    Raises
    ------
    DataError
        For fewer than 2 classes, fewer samples than classes, or ``noise < 0``.
    """
    _check_counts(samples, classes)
    if noise < 0:
        raise DataError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    parts_X, parts_y = [], []
    for j, n in enumerate(_per_class(samples, classes)):
        r = np.linspace(0.0, 1.0, n)
        t = 4.0 * (j + r) + noise * rng.standard_normal(n)
        parts_X.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
        parts_y.append(np.full(n, j, dtype=np.int64))
    X, y = np.vstack(parts_X), np.concatenate(parts_y)
    order = rng.permutation(samples)
    return np.ascontiguousarray(X[order]), y[order], [f"arm {k}" for k in range(classes)]


# ------------------------------------------------------------------------------ user files


def from_file(path, label: str = "label") -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read a user's classification data set from a file.

    Labels must be non-negative integers (``3`` or ``3.0``); the distinct values, sorted, are
    mapped to 0..k-1 and named by their original values (labels 3, 7, 9 become 0, 1, 2 named
    "3", "7", "9"). At least two classes are needed.

    Parameters
    ----------
    path : str or Path
        An ``.npz`` archive (suffix, case-insensitive) with arrays ``X`` (N, d) and ``y`` (N,),
        or otherwise a CSV with a header row.
    label : str, optional
        The CSV's label column (default ``"label"``); the other columns are the features.
        Ignored for ``.npz``.

    Returns
    -------
    X : ndarray of float64, shape (N, d)
        Features, finite.
    y : ndarray of int64, shape (N,)
        Class indices 0..k-1.
    class_names : list of str, length k
        The original label values as strings.

    Raises
    ------
    DataError
        For a missing or unreadable file, missing arrays or columns, shapes that do not match,
        no samples or features, a NaN or infinite feature, a label that is not a non-negative
        integer (or is 2**53 or more), or a single class; the message names the file and the
        line (CSV) or sample (``.npz``).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.suffix.lower() == ".npz":
        X, raw, where = _read_npz(path)
    else:
        X, raw, where = _read_csv(path, label)
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"{path}: no samples or no features (shape {X.shape})")
    bad = np.argwhere(~np.isfinite(X))
    if bad.size:
        i, k = bad[0]
        raise DataError(f"{path}: feature {k} of {where(i)} is NaN or infinite")
    y, names = _class_indices(path, raw, where)
    return np.ascontiguousarray(X, dtype=np.float64), y, names


def _read_csv(path: Path, label: str):
    def wording(column: int, names) -> str:
        return "is not an integer class label" if names[column] == label else "is not a number"

    table = read_numeric_csv(path, DataError, header="required", wording=wording)
    header, values, lines = table.header, table.values, table.lines
    if label not in header:
        raise DataError(f"{path}: no label column {label!r}; columns are {', '.join(header)}")
    j = header.index(label)
    return np.delete(values, j, axis=1), values[:, j], lambda i: f"line {lines[i]}"


def _read_npz(path: Path):
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as exc:  # a damaged or foreign file: zipfile, pickle or format errors
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    with data:
        missing = [k for k in ("X", "y") if k not in data.files]
        if missing:
            raise DataError(f"{path}: needs arrays 'X' and 'y'; missing {', '.join(missing)}")
        X, y = data["X"], data["y"]
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise DataError(f"{path}: X must be (N, d) and y (N,), got {X.shape} and {y.shape}")
    if X.dtype.kind not in "biuf" or y.dtype.kind not in "biuf":
        raise DataError(
            f"{path}: X and y must be numeric arrays, got dtypes {X.dtype} and {y.dtype}"
        )
    return X.astype(np.float64), y, lambda i: f"sample {i}"


def _class_indices(path: Path, raw: np.ndarray, where) -> tuple[np.ndarray, list[str]]:
    if raw.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(raw) | (raw != np.round(raw)) | (raw < 0))
    else:
        bad = np.flatnonzero(raw < 0)
    if bad.size:
        i = bad[0]
        raise DataError(
            f"{path}: class labels must be non-negative integers; {where(i)} has {raw[i]!r}"
        )
    if raw.dtype.kind == "f" and raw.size and raw.max() >= 2.0**53:
        raise DataError(f"{path}: class label {raw.max()!r} is too large")
    values, y = np.unique(raw.astype(np.int64), return_inverse=True)
    if values.size < 2:
        raise DataError(f"{path}: needs at least two classes; every label is {values[0]}")
    return y.astype(np.int64).reshape(-1), [str(int(v)) for v in values]


# ------------------------------------------------------------------ splitting and scaling


def split(X, y, holdout: float, seed: int):
    """Hold out a seeded random fraction of a data set (not stratified).

    Parameters
    ----------
    X : array_like, shape (N, d)
        Features.
    y : array_like, shape (N,)
        Labels.
    holdout : float
        Fraction held out, in [0, 1): ``round(holdout * N)`` samples (at most N - 1), drawn
        without replacement by ``np.random.default_rng(seed)``.
    seed : int
        The seed.

    Returns
    -------
    X_train : ndarray, shape (N - n_test, d)
    y_train : ndarray, shape (N - n_test,)
    X_test : ndarray, shape (n_test, d)
    y_test : ndarray, shape (n_test,)
        Both parts keep the samples' original order.

    Raises
    ------
    DataError
        If ``X`` and ``y`` have different numbers of samples, or ``holdout`` is outside [0, 1).
    """
    X = np.asarray(X)
    y = np.asarray(y)
    n = len(y)
    if X.shape[0] != n:
        raise DataError(f"X has {X.shape[0]} samples, y has {n}")
    if not 0.0 <= holdout < 1.0:
        raise DataError(f"holdout must be in [0, 1), got {holdout}")
    n_test = min(int(round(holdout * n)), max(n - 1, 0))
    test = np.zeros(n, dtype=bool)
    test[np.random.default_rng(seed).permutation(n)[:n_test]] = True
    train = ~test
    return (
        np.ascontiguousarray(X[train]),
        y[train],
        np.ascontiguousarray(X[test]),
        y[test],
    )


def standardize(X_train, X_test):
    """Scale a training and a test set by the training set's statistics.

    Parameters
    ----------
    X_train : array_like, shape (N, d)
        Training features.
    X_test : array_like, shape (M, d)
        Test features.

    Returns
    -------
    X_train : ndarray of float64, shape (N, d)
    X_test : ndarray of float64, shape (M, d)
        Both centred by the training set's column means and divided by its standard
        deviations; a column constant in the training set is only centred.
    """
    X_train = np.asarray(X_train, dtype=np.float64)
    X_test = np.asarray(X_test, dtype=np.float64)
    mean = X_train.mean(axis=0)
    scale = X_train.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    return (
        np.ascontiguousarray((X_train - mean) / scale),
        np.ascontiguousarray((X_test - mean) / scale),
    )


# ----------------------------------------------------------------------------- minibatches


class Minibatches:
    """Minibatch indices for ``n`` samples, reproducible per epoch.

    Every epoch is a fresh permutation, cut into batches of ``batch_size`` (the last one
    shorter when ``n`` is not a multiple; it is kept). Epoch ``e``'s permutation comes from
    ``np.random.default_rng([seed, e])`` alone, not from a generator's running state, so any
    epoch can be reproduced on its own: a run resumed at epoch 7 sees exactly the batches an
    uninterrupted run sees there. Each index appears exactly once per epoch.

    Parameters
    ----------
    n : int
        Number of samples, >= 1.
    batch_size : int
        Samples per batch, >= 1.
    seed : int
        Seed, >= 0.

    Attributes
    ----------
    n, batch_size, seed : int
        The arguments.
    batches_per_epoch : int
        ``ceil(n / batch_size)``; also ``len(minibatches)``.

    Raises
    ------
    ValueError
        For ``n < 1``, ``batch_size < 1`` or ``seed < 0``.
    """

    def __init__(self, n: int, batch_size: int, seed: int):
        if n < 1 or batch_size < 1:
            raise ValueError(f"n and batch_size must be >= 1, got {n} and {batch_size}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.n, self.batch_size, self.seed = int(n), int(batch_size), int(seed)
        self.batches_per_epoch = math.ceil(self.n / self.batch_size)

    def permutation(self, epoch: int) -> np.ndarray:
        """The order of the samples in an epoch.

        Parameters
        ----------
        epoch : int
            The epoch, 0-based (>= 0, else ValueError).

        Returns
        -------
        ndarray of int64, shape (n,)
            A permutation of ``0 .. n - 1``.
        """
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        return np.random.default_rng([self.seed, int(epoch)]).permutation(self.n)

    def epoch(self, epoch: int) -> list[np.ndarray]:
        """The batches of an epoch.

        Parameters
        ----------
        epoch : int
            The epoch, 0-based.

        Returns
        -------
        list of ndarray of int64
            ``batches_per_epoch`` index arrays, in order, each of shape (batch_size,) but the last
            (which may be shorter).
        """
        order = self.permutation(epoch)
        return [order[i : i + self.batch_size] for i in range(0, self.n, self.batch_size)]

    def __len__(self) -> int:
        return self.batches_per_epoch
