"""The two-link arm's torque as a table: a time grid ``t`` (N,) and joint torques ``values``
(2, N) in N m, read from a file or sampled from a generator, ready for
:func:`workbench.interpolate.pack_table`.

The generators take the grid and their parameters (pairs hold one value per joint) and return
the (2, N) table: :func:`zero`, :func:`constant`, :func:`sines`, :func:`step` and :func:`chirp`.
:func:`torque_table` builds the table a config's ``torque`` section describes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..interpolate import TableError
from .tables import read_table

__all__ = ["chirp", "constant", "read_torque", "sines", "step", "torque_table", "zero"]

CHANNELS = 2


def read_torque(path, time=None, base_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """Read the arm's joint torques from a table file.

    Parameters
    ----------
    path : str or Path
        The file, in a layout :func:`workbench.data.tables.read_table` reads. A relative path
        that does not exist is looked up under ``base_dir``.
    time : tuple of float, optional
        ``(t_start, t_stop)`` for a file that holds only the table (see ``read_table``).
    base_dir : str or Path, optional
        Folder for relative paths (the config's folder).

    Returns
    -------
    t : ndarray of float64, shape (N,)
        The time grid.
    values : ndarray of float64, shape (2, N)
        The two joints' torques in N m.

    Raises
    ------
    TableError
        For a file that cannot be read as a table, or a table without exactly 2 channels.
    """
    path = Path(path)
    if not path.is_absolute() and base_dir is not None and not path.exists():
        path = Path(base_dir) / path
    t, values = read_table(path, time=time)
    if values.shape[0] != CHANNELS:
        raise TableError(f"expected 2 torque channels, got {values.shape[0]}")
    return t, values


def zero(t: np.ndarray) -> np.ndarray:
    """No torque.

    Parameters
    ----------
    t : ndarray, shape (N,)
        The time grid.

    Returns
    -------
    ndarray of float64, shape (2, N)
        Zeros.
    """
    return np.zeros((2, t.size))


def constant(t: np.ndarray, value) -> np.ndarray:
    """A constant torque per joint.

    Parameters
    ----------
    t : ndarray, shape (N,)
        The time grid.
    value : array_like, shape (2,)
        Each joint's torque.

    Returns
    -------
    ndarray of float64, shape (2, N)
        ``value[k]`` in every column of row k.
    """
    return np.asarray(value)[:, None] * np.ones((2, t.size))


def sines(t: np.ndarray, amplitudes, frequencies, phases, offsets) -> np.ndarray:
    """Sinusoidal torques, ``offsets + amplitudes * sin(2 pi frequencies t + phases)``.

    Parameters
    ----------
    t : ndarray, shape (N,)
        The time grid.
    amplitudes, frequencies, phases, offsets : array_like, shape (2,)
        Per joint: amplitude, frequency in Hz, phase in radians, offset.

    Returns
    -------
    ndarray of float64, shape (2, N)
        The torques on the grid.
    """
    a, f, ph, off = (np.asarray(v)[:, None] for v in (amplitudes, frequencies, phases, offsets))
    return off + a * np.sin(2 * np.pi * f * t + ph)


def step(t: np.ndarray, time: float, before, after) -> np.ndarray:
    """A step: ``before`` until ``time``, ``after`` from ``time`` on.

    Parameters
    ----------
    t : ndarray, shape (N,)
        The time grid.
    time : float
        Time of the step.
    before, after : array_like, shape (2,)
        Per joint, the torque before and from the step.

    Returns
    -------
    ndarray of float64, shape (2, N)
        The torques on the grid.
    """
    col = np.ones((2, 1))
    return np.where(t < time, np.asarray(before)[:, None] * col, np.asarray(after)[:, None] * col)


def chirp(t: np.ndarray, amplitudes, f0: float, f1: float, t_lo: float, t_hi: float) -> np.ndarray:
    """Linear chirp: the frequency sweeps from ``f0`` Hz at ``t_lo`` to ``f1`` Hz at ``t_hi``.

    Parameters
    ----------
    t : ndarray, shape (N,)
        The time grid.
    amplitudes : array_like, shape (2,)
        Per joint amplitude.
    f0, f1 : float
        Frequencies in Hz at ``t_lo`` and ``t_hi``.
    t_lo, t_hi : float
        The sweep's start and end, ``t_hi > t_lo``.

    Returns
    -------
    ndarray of float64, shape (2, N)
        ``amplitudes * sin(2 pi (f0 s + (f1 - f0) s**2 / (2 (t_hi - t_lo))))``, with
        ``s = t - t_lo``.
    """
    span = t_hi - t_lo
    s = t - t_lo
    phase = 2 * np.pi * (f0 * s + (f1 - f0) * s**2 / (2 * span))
    return np.asarray(amplitudes)[:, None] * np.sin(phase)


def torque_table(spec, t_span, base_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """Build the torque table a config's ``torque`` section describes.

    Parameters
    ----------
    spec : object
        The ``torque`` section (any object with these attributes). ``kind`` is ``"file"``
        (``path``, ``time``: read by :func:`read_torque`), ``"table"`` (``t``, ``values``) or a
        generator, ``"zero"``, ``"constant"``, ``"sines"``, ``"step"`` or ``"chirp"`` (with that
        function's parameters), sampled at ``samples`` equally spaced times over
        [``t_start``, ``t_stop``].
    t_span : tuple of float
        The simulation's ``(t0, t1)``: supplies ``t_start``/``t_stop`` when either is None. The
        two ends may come in either order.
    base_dir : str or Path, optional
        Folder for a relative ``path`` (the config's folder).

    Returns
    -------
    t : ndarray of float64, shape (N,)
        The time grid.
    values : ndarray of float64, shape (2, N)
        The torques. A ``"table"`` spec's arrays are returned as float64 unchecked (they are
        checked when packed).

    Raises
    ------
    TableError
        For a file that cannot be read as a 2-channel table.
    ValueError
        For an unknown ``kind``.
    """
    if spec.kind == "file":
        return read_torque(spec.path, time=spec.time, base_dir=base_dir)
    if spec.kind == "table":
        return np.asarray(spec.t, dtype=float), np.asarray(spec.values, dtype=float)
    t0 = t_span[0] if spec.t_start is None else spec.t_start
    t1 = t_span[1] if spec.t_stop is None else spec.t_stop
    t_lo, t_hi = min(t0, t1), max(t0, t1)
    t = np.linspace(t_lo, t_hi, spec.samples)
    return t, _generate(spec, t, t_lo, t_hi)


def _generate(spec, t: np.ndarray, t_lo: float, t_hi: float) -> np.ndarray:
    kind = spec.kind
    if kind == "zero":
        return zero(t)
    if kind == "constant":
        return constant(t, spec.value)
    if kind == "sines":
        return sines(t, spec.amplitudes, spec.frequencies, spec.phases, spec.offsets)
    if kind == "step":
        return step(t, spec.time, spec.before, spec.after)
    if kind == "chirp":
        return chirp(t, spec.amplitudes, spec.f0, spec.f1, t_lo, t_hi)
    raise ValueError(f"unknown torque kind {kind!r}")
