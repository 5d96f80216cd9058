"""Labelled data sets for classifiers: CSV and ``.npz`` readers and a seeded synthetic maker.

Every reader returns ``(X, y, names)``: features (m, n) float64, labels (m,) in {0, 1} as
float64, and the feature names. Problems raise :class:`DataError` naming the file, the line
or column, and what is accepted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .csvfile import read_numeric_csv


class DataError(ValueError):
    """A data file or data setting that cannot be used; the message says why and what works."""


def read_csv(path, label: str = "label") -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read a labelled data set from a CSV file with a header row.

    Parameters
    ----------
    path : str or Path
        The CSV file: a header row naming the columns, then one row of numbers per sample.
    label : str, optional
        Name of the label column (default ``"label"``); the other columns are the features.

    Returns
    -------
    X : ndarray of float64, shape (m, n)
        Features, finite.
    y : ndarray of float64, shape (m,)
        Labels, each 0.0 or 1.0.
    names : list of str, length n
        The feature columns' names, in file order.

    Raises
    ------
    DataError
        For a missing file, a cell that is not a number, a row of another width, no column
        ``label``, no samples or features, a NaN or infinite feature, or a label other than 0
        or 1; the message names the file (and the line, column or sample).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    table = read_numeric_csv(path, DataError, header="required")
    header = table.header
    if label not in header:
        raise DataError(f"{path}: no label column {label!r}; columns are {', '.join(header)}")
    j = header.index(label)
    names = [h for k, h in enumerate(header) if k != j]
    values = table.values
    return _checked(path, np.delete(values, j, axis=1), values[:, j], names)


def read_npz(path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read a labelled data set from an ``.npz`` archive.

    Parameters
    ----------
    path : str or Path
        The archive, holding arrays ``X`` (m, n) and ``y`` (m,).

    Returns
    -------
    X : ndarray of float64, shape (m, n)
        Features, finite.
    y : ndarray of float64, shape (m,)
        Labels, each 0.0 or 1.0.
    names : list of str, length n
        ``"x1"``, ``"x2"``, ...

    Raises
    ------
    DataError
        For a missing file, missing ``X`` or ``y``, shapes that do not match, no samples or
        features, a NaN or infinite feature, or a label other than 0 or 1.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    with np.load(path, allow_pickle=False) as data:
        missing = [k for k in ("X", "y") if k not in data.files]
        if missing:
            raise DataError(f"{path}: needs arrays 'X' and 'y'; missing {', '.join(missing)}")
        X, y = data["X"], data["y"]
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise DataError(f"{path}: X must be (m, n) and y (m,), got {X.shape} and {y.shape}")
    names = [f"x{k + 1}" for k in range(X.shape[1])]
    return _checked(path, X.astype(float), y.astype(float), names)


def _checked(path, X, y, names):
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"{path}: no samples or no features (shape {X.shape})")
    bad = np.argwhere(~np.isfinite(X))
    if bad.size:
        i, k = bad[0]
        raise DataError(f"{path}: feature {names[k]!r} of sample {i} is NaN or infinite")
    wrong = np.flatnonzero((y != 0) & (y != 1))
    if wrong.size:
        raise DataError(
            f"{path}: labels must be 0 or 1; sample {wrong[0]} has {float(y[wrong[0]])!r}"
        )
    return X, y, names


def synthetic(samples: int, features: int, separation: float, label_noise: float, seed: int):
    """Make a seeded synthetic two-class data set.

    Two Gaussian classes (unit variance) ``separation`` apart along a random unit direction,
    each sample's class drawn with probability 1/2, then a fraction ``label_noise`` of the
    labels flipped. The same arguments always give the same set.

    Parameters
    ----------
    samples : int
        Number of samples m.
    features : int
        Number of features n.
    separation : float
        Distance between the class means.
    label_noise : float
        Probability that a label is flipped, in [0, 1].
    seed : int
        Seed of ``np.random.default_rng``.

    Returns
    -------
    X : ndarray of float64, shape (m, n)
        Features.
    y : ndarray of float64, shape (m,)
        Labels, 0.0 or 1.0.
    names : list of str, length n
        ``"x1"``, ``"x2"``, ...
    """
    rng = np.random.default_rng(seed)
    y = (rng.random(samples) < 0.5).astype(float)
    direction = rng.normal(size=features)
    direction /= np.linalg.norm(direction)
    X = rng.normal(size=(samples, features)) + np.outer(y - 0.5, direction) * separation
    flip = rng.random(samples) < label_noise
    y[flip] = 1.0 - y[flip]
    return X, y, [f"x{k + 1}" for k in range(features)]


def design_matrix(X, *, standardize: bool, intercept: bool):
    """Build the model's design matrix from features.

    Parameters
    ----------
    X : ndarray, shape (m, n)
        Features.
    standardize : bool
        Centre each column by its mean and divide by its standard deviation (a constant
        column is only centred).
    intercept : bool
        Prepend a column of ones.

    Returns
    -------
    Z : ndarray of float64, shape (m, n) or (m, n + 1)
        The design matrix, C-contiguous; the column of ones first with ``intercept``.
    mean : ndarray, shape (n,)
        The column means subtracted (zeros without ``standardize``).
    scale : ndarray, shape (n,)
        The scales divided by (ones without ``standardize``), so that coefficients can be
        mapped back to the original features.
    """
    mean = X.mean(axis=0) if standardize else np.zeros(X.shape[1])
    scale = X.std(axis=0) if standardize else np.ones(X.shape[1])
    scale = np.where(scale > 0, scale, 1.0)
    Z = (X - mean) / scale
    if intercept:
        Z = np.column_stack([np.ones(X.shape[0]), Z])
    return np.ascontiguousarray(Z), mean, scale
