"""The one CSV reader behind torque tables, labelled data and data sets.

:func:`read_numeric_csv` reads a comma-separated file of numbers (a spreadsheet's byte-order
mark dropped, blank lines skipped, optionally ``#`` comment lines and a header row) into a
float64 array, and reports every problem as the caller's error type with the file, the line
(as numbered in the file) and the column: a cell that is not a number, a row of another
width, a file that is not text. What the numbers mean (a time grid, a label column) is the
callers' business.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class CsvNumbers:
    """A numeric CSV: ``values`` (rows, columns) float64, the header's names (None without
    a header row) and each row's line number in the file (1-based)."""

    values: np.ndarray
    header: list[str] | None
    lines: list[int]


def read_numeric_csv(
    path: Path,
    error: type[Exception],
    *,
    header: str,
    comments: bool = False,
    wording=None,
) -> CsvNumbers:
    """Read ``path`` as numbers.

    Parameters
    ----------
    path : Path
        The file.
    error : exception type
        Raised, with a message that names the file, for every problem.
    header : {"required", "optional"}
        ``required``: the first row names the columns (and rows must have as many cells);
        ``optional``: a first row with no number in it is a header and is skipped.
    comments : bool
        Skip lines whose first cell starts with ``#``.
    wording : callable, optional
        ``wording(column, names) -> str``: what a cell of that (0-based) column must be, for
        the message (default "is not a number"); ``names`` is the header (or None).

    Returns
    -------
    CsvNumbers
        ``values`` of shape (rows, columns); no rows raises ``error``.
    """
    rows = _rows(path, error, comments)
    names = None
    if header == "required":
        if len(rows) < 2:
            raise error(f"{path}: needs a header row and at least one data row")
        names = [h.strip() for h in rows[0][1]]
        rows = rows[1:]
    elif rows and not any(_is_number(c) for c in rows[0][1]):
        rows = rows[1:]  # only the first row may be a header
    if not rows:
        raise error(f"{path}: no numeric rows")
    width = len(names) if names is not None else len(rows[0][1])
    values = np.empty((len(rows), width))
    for r, (line, cells) in enumerate(rows):
        if len(cells) != width:
            if names is not None:
                raise error(f"{path}: line {line} has {len(cells)} cells, the header has {width}")
            raise error(
                f"{path}: line {line} has {len(cells)} columns but line {rows[0][0]} has "
                f"{width}; every row needs the same number"
            )
        for c, cell in enumerate(cells):
            try:
                values[r, c] = float(cell)
            except ValueError:
                column = repr(names[c]) if names is not None else str(c + 1)
                what = wording(c, names) if wording is not None else "is not a number"
                raise error(f"{path}: line {line}, column {column}: {cell!r} {what}") from None
    return CsvNumbers(values, names, [line for line, _ in rows])


def _rows(path: Path, error, comments: bool) -> list[tuple[int, list[str]]]:
    """Non-blank rows (cells stripped) with their line numbers."""
    out = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:  # -sig: a spreadsheet's BOM
            reader = csv.reader(fh)
            for cells in reader:
                cells = [c.strip() for c in cells]
                if not any(cells) or (comments and cells[0].startswith("#")):
                    continue
                out.append((reader.line_num, cells))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise error(f"{path}: not a readable CSV file ({exc})") from None
    return out


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
