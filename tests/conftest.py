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
