"""Fixtures shared by the test modules."""

from __future__ import annotations

import pytest


@pytest.fixture
def figures(monkeypatch):
    """The matplotlib figures the code under test closes, kept open for their data."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    close = plt.close
    kept: list = []

    def keep(fig=None):
        if isinstance(fig, Figure):
            kept.append(fig)
        else:
            close(fig)

    monkeypatch.setattr(plt, "close", keep)
    yield kept
    for fig in kept:
        close(fig)


class _StopAfter:
    """A checkpoint store that interrupts the run after ``n`` checkpoints (Ctrl-C)."""

    def __init__(self, rd, n):
        self.rd, self.n = rd, n

    def load_checkpoint(self):
        return self.rd.load_checkpoint()

    def save_checkpoint(self, arrays, meta):
        self.rd.save_checkpoint(arrays, meta)
        self.n -= 1
        if self.n == 0:
            raise KeyboardInterrupt


@pytest.fixture
def stop_after():
    """``stop_after(run_dir, n)``: a checkpoint store for ``checkpoint=`` that stops the run
    with Ctrl-C after its ``n``-th checkpoint, as a user would."""
    return _StopAfter
