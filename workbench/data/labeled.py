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
    """A CSV with a header row; ``label`` names the label column, the others are features."""
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
    """An ``.npz`` holding ``X`` (m, n) and ``y`` (m,)."""
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
    """Two Gaussian classes ``separation`` apart along a random direction; a fraction
    ``label_noise`` of the labels flipped. Seeded, so a config always gives the same set."""
    rng = np.random.default_rng(seed)
    y = (rng.random(samples) < 0.5).astype(float)
    direction = rng.normal(size=features)
    direction /= np.linalg.norm(direction)
    X = rng.normal(size=(samples, features)) + np.outer(y - 0.5, direction) * separation
    flip = rng.random(samples) < label_noise
    y[flip] = 1.0 - y[flip]
    return X, y, [f"x{k + 1}" for k in range(features)]


def design_matrix(X, *, standardize: bool, intercept: bool):
    """Features ready for the model: optionally standardised (the mean and scale are returned
    so that coefficients can be mapped back), with a leading column of ones for an intercept."""
    mean = X.mean(axis=0) if standardize else np.zeros(X.shape[1])
    scale = X.std(axis=0) if standardize else np.ones(X.shape[1])
    scale = np.where(scale > 0, scale, 1.0)
    Z = (X - mean) / scale
    if intercept:
        Z = np.column_stack([np.ones(X.shape[0]), Z])
    return np.ascontiguousarray(Z), mean, scale
