"""Interpolation of tabulated signals inside compiled code.

:func:`pack_table` packs a time grid and a table of C channels (linear, as ``np.interp``, or a
not-a-knot cubic spline, as scipy's ``CubicSpline``) into one flat float64 array;
:func:`table_eval`, :func:`table_eval_into` and :func:`table_eval_scalar` evaluate it from
``@njit`` code and CUDA device code (no allocation, exceptions or numpy calls), and
:func:`evaluate` from Python. The layout is described in :mod:`workbench.interpolate.tables`.
"""

from .tables import (
    TableError,
    evaluate,
    pack_table,
    table_channels,
    table_eval,
    table_eval_into,
    table_eval_scalar,
    table_range,
    validate_table,
)

__all__ = [
    "TableError",
    "evaluate",
    "pack_table",
    "table_channels",
    "table_eval",
    "table_eval_into",
    "table_eval_scalar",
    "table_range",
    "validate_table",
]
