"""What a sweep did (:class:`SweepResult`) and how it is shown: the sorted summary table,
the failures, and the figure against a varied key."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .axes import show
from .planning import SweepError
from .summary import (
    OK,
    SUMMARY_JSON,
    SWEEP_FILE,
    is_number,
    plot_sweep,
)


@dataclass
class SweepResult:
    """What :func:`~workbench.sweeps.run` did: ``rows`` are the summary's, ``exit_code`` 0 (all
    ok) or 1."""

    path: Path
    columns: list[str]
    rows: list[dict]
    skipped: int
    failed: list[dict]
    reference_failed: list[dict] = field(default_factory=list)
    sort: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """The number of rows with each ``status`` (``{"ok": 8, "failed": 1}``, say)."""
        out: dict[str, int] = {}
        for row in self.rows:
            out[row["status"]] = out.get(row["status"], 0) + 1
        return out

    @property
    def exit_code(self) -> int:
        """The CLI's exit status: 0 when no run and no reference run failed, else 1."""
        return 0 if not self.failed and not self.reference_failed else 1


def _sorted(rows: list[dict], column: str, descending: bool) -> list[dict]:
    """Numbers first, then other values as text, each in the order asked; missing values
    (None, NaN) last, in index order."""
    numbers, others, missing = [], [], []
    for row in rows:
        value = row.get(column)
        if value is None or (isinstance(value, float) and value != value):
            missing.append(row)
        elif is_number(value):
            numbers.append(row)
        else:
            others.append(row)
    numbers.sort(key=lambda row: row[column], reverse=descending)
    others.sort(key=lambda row: str(row[column]), reverse=descending)
    return numbers + others + missing


def sorted_rows(result: SweepResult, sort: str | None) -> tuple[list[dict], str | None]:
    """The summary's rows sorted by a column.

    Parameters
    ----------
    result : SweepResult
        What :func:`workbench.sweeps.run` returned.
    sort : str or None
        Column name (``-name``: descending); None or empty keeps index order. Missing values
        (None, NaN) go last; numbers sort before other values.

    Returns
    -------
    rows : list of dict
        The rows, sorted (``result.rows`` itself when not sorted).
    warning : str or None
        A message when ``sort`` is not a column of the summary (the rows then stay in index
        order), else None.
    """
    if not sort:
        return result.rows, None
    descending = sort.startswith("-")
    column = sort[1:] if descending else sort
    if column not in result.columns:
        have = ", ".join(c for c in result.columns if c not in ("message", "run_dir"))
        return result.rows, f"--sort {sort!r} is not a column of the summary (have: {have})"
    return _sorted(result.rows, column, descending), None


def summary_table(result: SweepResult, sort: str | None = None):
    """The sweep's summary as a rich Table.

    Parameters
    ----------
    result : SweepResult
        What :func:`workbench.sweeps.run` returned.
    sort : str, optional
        Column to sort by (``-name``: descending); default ``result.sort``. An unknown column
        leaves index order.

    Returns
    -------
    rich.table.Table
        One row per run: the varied keys and the scalar columns (not ``message``/``run_dir``,
        nor figures holding lists or mappings), status coloured, floats to 4 significant
        digits.
    """
    from rich.markup import escape
    from rich.table import Table

    rows, _warning = sorted_rows(result, sort or result.sort)
    axes = result.columns[1 : result.columns.index("status")]
    shown = [
        c
        for c in result.columns
        if c not in ("message", "run_dir")
        and (c in axes or all(not isinstance(r.get(c), (list, dict)) for r in rows))
    ]
    table = Table(title=f"sweep {result.path.name}: {len(rows)} runs")
    for col in shown:
        # fold, never cut: at 80 columns a number ellipsised to "1e-..." says nothing
        justify = "right" if col not in ("status",) else "left"
        table.add_column(col, justify=justify, overflow="fold")
    colours = {OK: "green", "pending": "dim", "running": "yellow"}
    for row in rows:
        cells = []
        for col in shown:
            value = row.get(col)
            if col == "status":
                cells.append(f"[{colours.get(value, 'red')}]{value}[/]")
            elif isinstance(value, float):
                cells.append(f"{value:.4g}")
            elif isinstance(value, (list, dict)):
                cells.append(escape(show(value)))
            else:
                cells.append(escape("" if value is None else str(value)))
        table.add_row(*cells)
    return table


def failure_lines(result: SweepResult) -> list[str]:
    """One line per run (and reference run) that did not succeed, for the end of a sweep.

    Parameters
    ----------
    result : SweepResult
        What :func:`workbench.sweeps.run` returned.

    Returns
    -------
    list of str
        A heading ("N of M runs did not succeed:") then one line per failed run (index, values,
        status, message, run folder) and per failed reference run; empty when all succeeded.
    """
    lines = []
    for row in result.failed:
        values = ", ".join(
            f"{k}={show(row[k])}" for k in result.columns[1 : result.columns.index("status")]
        )
        where = f" [{row['run_dir']}]" if row.get("run_dir") else ""
        lines.append(f"run {row['index']} ({values}): {row['status']}: {row.get('message')}{where}")
    for ref in result.reference_failed:
        lines.append(f"reference run {ref['run_dir']}: {ref['status']}: {ref.get('message')}")
    if lines:
        total = len(result.rows)
        lines.insert(0, f"{len(result.failed)} of {total} runs did not succeed:")
    return lines


def is_sweep_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a sweep folder.

    Parameters
    ----------
    path : str or path-like
        A folder.

    Returns
    -------
    bool
        True if it holds ``sweep.yaml`` and ``summary.json``.
    """
    p = Path(path)
    return (p / SWEEP_FILE).is_file() and (p / SUMMARY_JSON).is_file()


def plot(folder: str | os.PathLike[str], x: str, y: str, output=None) -> Path:
    """Plot a summary column against a varied key of a sweep (PNG; needs matplotlib).

    One line per value of the other varied keys (if any); rows without a number in ``y``
    (failed runs) are left out; axes of positive values spanning two decades or more are drawn
    on a log scale.

    Parameters
    ----------
    folder : str or path-like
        The sweep folder.
    x : str
        A varied key (an axis of the sweep).
    y : str
        A column of the summary (e.g. a figure).
    output : str or path-like, optional
        Where to write the PNG; default ``<folder>/plot-<y>-vs-<x>.png``.

    Returns
    -------
    Path
        The PNG written.

    Raises
    ------
    SweepError
        If ``x`` is not a varied key, ``y`` not a column, or no run has a number in ``y``.
    FileNotFoundError
        If ``folder`` holds no ``summary.json``.
    """
    try:
        return plot_sweep(folder, x, y, output)
    except ValueError as exc:
        raise SweepError(str(exc)) from None
