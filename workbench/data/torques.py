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
    """A torque file (see :func:`workbench.data.tables.read_table` for its layouts and ``time``)
    as ``t`` (N,) and ``values`` (2, N). A relative ``path`` that does not exist is looked up
    under ``base_dir`` (the config's folder). Raises :class:`TableError` for a file that cannot
    be read as a table and for a table without exactly 2 channels."""
    path = Path(path)
    if not path.is_absolute() and base_dir is not None and not path.exists():
        path = Path(base_dir) / path
    t, values = read_table(path, time=time)
    if values.shape[0] != CHANNELS:
        raise TableError(f"expected 2 torque channels, got {values.shape[0]}")
    return t, values


def zero(t: np.ndarray) -> np.ndarray:
    return np.zeros((2, t.size))


def constant(t: np.ndarray, value) -> np.ndarray:
    return np.asarray(value)[:, None] * np.ones((2, t.size))


def sines(t: np.ndarray, amplitudes, frequencies, phases, offsets) -> np.ndarray:
    """``offsets + amplitudes * sin(2 pi frequencies t + phases)``, frequencies in Hz."""
    a, f, ph, off = (np.asarray(v)[:, None] for v in (amplitudes, frequencies, phases, offsets))
    return off + a * np.sin(2 * np.pi * f * t + ph)


def step(t: np.ndarray, time: float, before, after) -> np.ndarray:
    """``before`` until ``time``, ``after`` from ``time`` on."""
    col = np.ones((2, 1))
    return np.where(t < time, np.asarray(before)[:, None] * col, np.asarray(after)[:, None] * col)


def chirp(t: np.ndarray, amplitudes, f0: float, f1: float, t_lo: float, t_hi: float) -> np.ndarray:
    """Linear chirp: the frequency sweeps from ``f0`` Hz at ``t_lo`` to ``f1`` Hz at ``t_hi``."""
    span = t_hi - t_lo
    s = t - t_lo
    phase = 2 * np.pi * (f0 * s + (f1 - f0) * s**2 / (2 * span))
    return np.asarray(amplitudes)[:, None] * np.sin(phase)


def torque_table(spec, t_span, base_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """The torque ``spec`` describes, as ``t`` (N,) and ``values`` (2, N).

    ``spec`` is a config's ``torque`` section (any object with these attributes): ``kind`` is
    "file" (``path``, ``time``; read by :func:`read_torque`, which may raise
    :class:`TableError`), "table" (``t``, ``values``, returned as float64 arrays, checked when
    packed) or a generator ("zero", "constant", "sines", "step", "chirp", with that function's
    parameters), sampled at ``samples`` equally spaced times over [``t_start``, ``t_stop``]
    (either, when None, taken from ``t_span``; the two may come in either order).
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
