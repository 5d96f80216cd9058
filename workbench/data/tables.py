"""Read tabulated signals (time grid plus C channels) from .csv, .npy and .npz files.

:func:`read_table` returns ``(t, values)`` with ``t`` (N,) and ``values`` (C, N), ready for
:func:`workbench.interpolate.pack_table`. Accepted layouts:

* ``.csv`` (comma-separated; blank lines and lines starting with ``#`` are skipped; the first row
  is a header of names, and skipped, when none of its cells is a number):
  without ``time``, N rows ``t, v1, ..., vC``; with ``time=(t_start, t_stop)``, C rows of N
  samples each on ``np.linspace(t_start, t_stop, N)`` (e.g. a 2 x 1001 torque table on [0, 1]).
* ``.npy``: with ``time``, the (C, N) table (a 1-D array is one channel); without it, a 2-D
  array whose long axis is time: (N, C+1) with time in column 0 when it has more rows than
  columns, (C+1, N) with time in row 0 when it has more columns. A square array is read the way
  whose time axis is strictly increasing, and is an error when both or neither are.
* ``.npz``: arrays ``t`` and ``values`` (or ``tau``), values (C, N) or 1-D for one channel; ``t``
  may be left out when ``time`` is given.

Every problem raises :class:`TableError` naming the file (and the line and column for CSV).
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from workbench.interpolate import TableError, validate_table

from .csvfile import read_numeric_csv

__all__ = ["TableError", "read_table"]


def read_table(path, *, time: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read a tabulated signal (a time grid and C channels) from a file.

    Parameters
    ----------
    path : str or Path
        A ``.csv``, ``.npy`` or ``.npz`` file, in one of the layouts the module docstring
        describes (chosen by the suffix, case-insensitive).
    time : tuple of float, optional
        ``(t_start, t_stop)``, finite with ``t_stop > t_start``: the file holds only the table,
        sampled at N equally spaced times from ``t_start`` to ``t_stop`` inclusive. An ``.npz``
        with its own ``t`` must not be given one.

    Returns
    -------
    t : ndarray of float64, shape (N,)
        The time grid, strictly increasing, N >= 2.
    values : ndarray of float64, shape (C, N)
        The channels, finite.

    Raises
    ------
    TableError
        For a missing file, an unsupported suffix, an unreadable file or one whose content does
        not match its suffix, a bad ``time``, or a grid or table that
        :func:`workbench.interpolate.validate_table` rejects; the message names the file (and
        the line and column for CSV).
    """
    path = Path(path)
    if not path.is_file():
        raise TableError(f"{path}: file not found")
    span = _check_time(path, time)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        t, values = _read_csv(path, span)
    elif suffix == ".npy":
        t, values = _read_npy(path, span)
    elif suffix == ".npz":
        t, values = _read_npz(path, span)
    else:
        raise TableError(f"{path}: unsupported file type {path.suffix!r}; use .csv, .npy or .npz")
    try:
        return validate_table(t, values)
    except TableError as exc:
        raise TableError(f"{path}: {exc}") from None


def _check_time(path: Path, time) -> tuple[float, float] | None:
    if time is None:
        return None
    try:
        start, stop = (float(x) for x in time)
    except (TypeError, ValueError):
        raise TableError(f"{path}: time must be a pair (t_start, t_stop), got {time!r}") from None
    if not (math.isfinite(start) and math.isfinite(stop) and stop > start):
        raise TableError(
            f"{path}: time=(t_start, t_stop) needs finite t_stop > t_start, got {time}"
        )
    return start, stop


def _grid(path: Path, span: tuple[float, float], n: int) -> np.ndarray:
    if n < 2:
        raise TableError(f"{path}: the table has {n} sample(s); at least 2 are needed")
    return np.linspace(span[0], span[1], n)


def _read_csv(path: Path, span) -> tuple[np.ndarray, np.ndarray]:
    table = read_numeric_csv(path, TableError, header="optional", comments=True)
    data, lines = table.values, table.lines
    bad = np.argwhere(~np.isfinite(data))
    if bad.size:
        r, c = bad[0]
        raise TableError(f"{path}: line {lines[r]}, column {c + 1}: NaN or infinity ({data[r, c]})")
    if span is not None:
        return _grid(path, span, data.shape[1]), data
    if data.shape[1] < 2:
        raise TableError(
            f"{path}: rows need a time column and at least one channel (t, v1, ...); "
            "for a table without a time column pass time=(t_start, t_stop)"
        )
    t = data[:, 0]
    bad = np.flatnonzero(~(np.diff(t) > 0))
    if bad.size:
        i = bad[0] + 1
        raise TableError(
            f"{path}: line {lines[i]}: time {float(t[i])!r} does not increase past "
            f"{float(t[i - 1])!r} (line {lines[i - 1]}); times must be strictly increasing"
        )
    return t, data[:, 1:].T


def _load(path: Path, kind: type):
    try:
        obj = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise TableError(f"{path}: cannot read as {path.suffix} ({exc})") from None
    if not isinstance(obj, kind):  # e.g. an .npz archive saved under a .npy name
        if hasattr(obj, "close"):
            obj.close()
        raise TableError(f"{path}: content does not match the {path.suffix} extension")
    return obj


def _as_float(path: Path, arr, what: str) -> np.ndarray:
    try:
        return np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError):
        raise TableError(f"{path}: {what} has dtype {arr.dtype}; numbers are needed") from None


def _read_npy(path: Path, span) -> tuple[np.ndarray, np.ndarray]:
    arr = _as_float(path, _load(path, np.ndarray), "array")
    if span is not None:
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2:
            raise TableError(f"{path}: expected a (C, N) table, got shape {arr.shape}")
        return _grid(path, span, arr.shape[1]), arr
    if arr.ndim != 2 or min(arr.shape) < 2:
        raise TableError(
            f"{path}: expected a 2-D array (N, C+1) with time in column 0 or (C+1, N) with time "
            f"in row 0, got shape {arr.shape}; for a table alone pass time=(t_start, t_stop)"
        )
    rows, cols = arr.shape
    if rows == cols:
        col_ok = bool(np.all(np.diff(arr[:, 0]) > 0))
        row_ok = bool(np.all(np.diff(arr[0, :]) > 0))
        if col_ok == row_ok:
            raise TableError(
                f"{path}: square array {arr.shape} is ambiguous (time in column 0 or row 0?); "
                "save it as .npz with 't' and 'values', or pass time=(t_start, t_stop)"
            )
        by_rows = col_ok
    else:
        by_rows = rows > cols
    if by_rows:
        return arr[:, 0], arr[:, 1:].T
    return arr[0, :], arr[1:, :]


def _read_npz(path: Path, span) -> tuple[np.ndarray, np.ndarray]:
    with _load(path, np.lib.npyio.NpzFile) as npz:
        names = set(npz.files)
        keys = names & {"values", "tau"}
        if len(keys) != 1:
            raise TableError(
                f"{path}: needs exactly one of the arrays 'values' or 'tau' (C, N), "
                f"found {sorted(names)}"
            )
        values = _as_float(path, npz[keys.pop()], "values")
        if values.ndim == 1:
            values = values[None, :]
        if "t" in names:
            if span is not None:
                raise TableError(f"{path}: has its own time grid 't'; do not pass time=")
            t = _as_float(path, npz["t"], "t")
        elif span is not None:
            t = _grid(path, span, values.shape[-1])
        else:
            raise TableError(
                f"{path}: no time grid 't' in {sorted(names)}; add one or pass time=(t0, t1)"
            )
    return t, values
