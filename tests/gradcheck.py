"""Finite-difference checks of hand-derived gradients, shared by the model tests."""

from __future__ import annotations

import numpy as np


def central_differences(loss, params: dict, h: float = 1e-6) -> dict:
    """Central differences of ``loss()`` (a scalar of the current ``params``), one parameter
    entry at a time; each entry is restored after it is probed."""
    fd = {}
    for name, p in params.items():
        g = np.empty_like(p)
        for idx in np.ndindex(p.shape):
            saved = p[idx]
            p[idx] = saved + h
            up = loss()
            p[idx] = saved - h
            down = loss()
            p[idx] = saved
            g[idx] = (up - down) / (2 * h)
        fd[name] = g
    return fd


def assert_close_blocks(got: dict, want: dict, rtol: float) -> None:
    """Each block within ``rtol`` of ``want`` in the 2-norm (relative to at least 1e-3)."""
    assert set(got) == set(want)
    for name in want:
        scale = np.linalg.norm(want[name])
        err = np.linalg.norm(got[name] - want[name])
        assert err <= rtol * max(scale, 1e-3), (name, err, scale)
