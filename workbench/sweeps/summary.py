"""A sweep's ``summary.csv`` and ``summary.json``, and its plot.

One row per combination, in index order. Columns: ``index``, the varied keys (dotted, as
written), ``status``, the experiment's figures (in the order they first appear; a figure named
like one of these columns is written ``figures.NAME``), the ``error_<array>`` columns when the
sweep has a ``reference``, ``wall_s`` (the run's own time in its worker), ``message`` and
``run_dir`` (the run folder, relative to the sweep folder).

``status`` is ``ok``; ``failed`` (the run finished and its experiment reported failure, as
``workbench run``'s exit status 1); ``error`` (the experiment raised: a problem only the run
could find); ``timeout``; ``crashed`` (its process died); ``interrupted`` (Ctrl-C);
``running`` or ``pending`` (not finished when the summary was written).

Both files are written to a temporary name and renamed, so a reader never sees half a file.
In the CSV, lists and mappings are JSON text, missing values empty; ``summary.json`` is a list
of objects (non-finite floats as ``NaN``/``Infinity``, as ``result.json``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from pathlib import Path
from typing import Any

from ..runs import write_atomic

__all__ = [
    "FIXED_AFTER",
    "columns",
    "is_number",
    "load_summary",
    "plain",
    "plot_sweep",
    "write_summary",
]

SUMMARY_CSV = "summary.csv"
SUMMARY_JSON = "summary.json"
SWEEP_FILE = "sweep.yaml"

FIXED_AFTER = ("wall_s", "message", "run_dir")
OK = "ok"
NOT_RUN = ("pending", "running")


def figure_column(name: str, axes: list[str], errors: list[str]) -> str:
    """The summary column a figure is written in.

    Parameters
    ----------
    name : str
        The figure's name, as the experiment reports it.
    axes : list of str
        The sweep's varied keys.
    errors : list of str
        The sweep's ``error_<array>`` columns.

    Returns
    -------
    str
        ``name``, or ``figures.<name>`` when that is already a column (``index``, ``status``,
        a varied key, an error column, ``wall_s``, ``message`` or ``run_dir``).
    """
    taken = {"index", "status", *axes, *errors, *FIXED_AFTER}
    return f"figures.{name}" if name in taken else name


def columns(axes: list[str], rows: list[dict], errors: list[str]) -> list[str]:
    """The summary's columns for ``rows`` (whose figures are already renamed)."""
    fixed = {"index", "status", *axes, *errors, *FIXED_AFTER}
    figures: dict[str, None] = {}
    for row in rows:
        for key in row:
            if key not in fixed:
                figures.setdefault(key, None)
    return ["index", *axes, "status", *figures, *errors, *FIXED_AFTER]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, allow_nan=True)
    return str(value)


def plain(value: Any) -> Any:
    """``value`` with numpy scalars and arrays, tuples and paths as plain JSON types."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return plain(value.tolist())
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


def write_summary(folder: Path, cols: list[str], rows: list[dict]) -> None:
    """Rewrite ``summary.csv`` and ``summary.json`` in ``folder``."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(cols)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in cols])
    write_atomic(folder / SUMMARY_CSV, text.getvalue().encode("utf-8"))
    ordered = [{c: row.get(c) for c in cols} for row in rows]
    data = json.dumps(plain(ordered), indent=1, allow_nan=True)
    write_atomic(folder / SUMMARY_JSON, (data + "\n").encode("utf-8"))


def load_summary(folder: str | os.PathLike[str]) -> list[dict]:
    """Read the rows of a sweep folder's ``summary.json``.

    Parameters
    ----------
    folder : str or path-like
        The sweep folder.

    Returns
    -------
    list of dict
        One dict per combination, in index order, keyed by the summary's columns (see the
        module docstring); non-finite figures as float NaN/inf.

    Raises
    ------
    FileNotFoundError
        If the folder holds no ``summary.json``.
    """
    path = Path(folder) / SUMMARY_JSON
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: not a sweep folder (no {SUMMARY_JSON})")
    return json.loads(path.read_text(encoding="utf-8"))


def is_number(value: Any) -> bool:
    """Whether a summary value is a number (an int or float; a bool is not).

    Parameters
    ----------
    value : object
        The value.

    Returns
    -------
    bool
        True for int and float values other than bools (NaN included).
    """
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --------------------------------------------------------------------------------------- plot


def plot_sweep(
    folder: str | os.PathLike[str], x: str, y: str, output: str | os.PathLike[str] | None = None
) -> Path:
    """Draw column ``y`` against varied key ``x``, one line per value of the other varied
    keys (if any); rows without a number in ``y`` (failed runs) are left out. Axes of
    positive values spanning two decades or more are drawn on a log scale. Returns the PNG.

    Raises ValueError (with a one-line message) for a key or column the sweep does not have.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..config import load_yaml

    folder = Path(folder)
    rows = load_summary(folder)
    plan = load_yaml((folder / SWEEP_FILE).read_text(encoding="utf-8"))
    axes = list((plan.get("axes") or {}).keys())
    if x not in axes:
        raise ValueError(f"{folder}: --x {x!r} is not a varied key (varied: {', '.join(axes)})")
    cols = list(rows[0].keys()) if rows else []
    if y not in cols:
        shown = [c for c in cols if c not in ("index", "status", "message", "run_dir", *axes)]
        raise ValueError(
            f"{folder}: --y {y!r} is not a column of the summary (have: {', '.join(shown)})"
        )
    others = [k for k in axes if k != x and len({json.dumps(r.get(k)) for r in rows}) > 1]
    groups: dict[str, list[tuple[Any, float]]] = {}
    for row in rows:
        value = row.get(y)
        if not is_number(value) or (isinstance(value, float) and math.isnan(value)):
            continue
        label = ", ".join(f"{k}={_show(row.get(k))}" for k in others)
        groups.setdefault(label, []).append((row.get(x), float(value)))
    if not groups:
        raise ValueError(f"{folder}: no run has a number in column {y!r}")
    xs_all = [p[0] for pts in groups.values() for p in pts]
    numeric_x = all(is_number(v) for v in xs_all)
    categories = list(dict.fromkeys(json.dumps(v) for v in xs_all)) if not numeric_x else []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, pts in groups.items():
        if numeric_x:
            pts = sorted(pts, key=lambda p: p[0])
            xs = [p[0] for p in pts]
        else:
            xs = [categories.index(json.dumps(p[0])) for p in pts]
        ax.plot(xs, [p[1] for p in pts], "o-", label=label or None)
    if not numeric_x:
        ax.set_xticks(range(len(categories)), [_show(json.loads(c)) for c in categories])
    if numeric_x and _log_scale(xs_all):
        ax.set_xscale("log")
    if _log_scale([p[1] for pts in groups.values() for p in pts]):
        ax.set_yscale("log")
    ax.set(xlabel=x, ylabel=y, title=f"{plan.get('name', folder.name)}: {y} against {x}")
    if others:
        ax.legend(fontsize=8, title=", ".join(others) if len(others) == 1 else None)
        if len(others) == 1:
            for text in ax.get_legend().get_texts():
                text.set_text(text.get_text().split("=", 1)[-1])
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    target = Path(output) if output is not None else folder / f"plot-{_safe(y)}-vs-{_safe(x)}.png"
    fig.savefig(target, dpi=120)
    plt.close(fig)
    return target


def _log_scale(values: list) -> bool:
    nums = [float(v) for v in values if is_number(v)]
    return bool(nums) and min(nums) > 0 and max(nums) / min(nums) >= 100


def _show(value: Any) -> str:
    from .axes import show

    return show(value)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", name).strip(".-") or "column"
