"""Test functions for optimizer studies: value and exact gradient in one compiled call.

* :func:`rosenbrock` (n-dimensional), minimum 0 at ``x = (1, ..., 1)``;
* the saddle ``f(x, y) = x^T A x / 2 + x^T C y - y^T D y / 2`` with A and D symmetric positive
  definite (:func:`make_saddle`, :class:`Saddle`): convex in ``x``, concave in ``y``, its only
  stationary point the saddle ``(0, 0)``. The gradients are ``gx = A x + C y`` and
  ``gy = C^T x - D y``; descent in ``x`` with ascent in ``y`` converges to the saddle for a
  small enough step, descent in both does not;
* :func:`beale` (minimum 0 at (3, 0.5)) and :func:`booth` (minimum 0 at (1, 3)), 2-D.

Each has a plain-numpy twin of the same name, written independently, in
:mod:`workbench.models.reference`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

# ---------------------------------------------------------------------------- Rosenbrock


@njit(cache=True, error_model="numpy")
def rosenbrock(x):
    """``f = sum_i 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2`` and its gradient (n >= 2)."""
    n = x.shape[0]
    g = np.zeros(n)
    f = 0.0
    for i in range(n - 1):
        u = x[i + 1] - x[i] * x[i]
        v = 1.0 - x[i]
        f += 100.0 * u * u + v * v
        g[i] += -400.0 * x[i] * u - 2.0 * v
        g[i + 1] += 200.0 * u
    return f, g


# -------------------------------------------------------------------------------- saddle


def make_saddle(nx: int, ny: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(A, C, D)`` from ``np.random.default_rng(seed)``: A (nx, nx) and D (ny, ny)
    symmetric with eigenvalues uniform in [0.5, 1.5] (random orthogonal eigenvectors) and the
    coupling C (nx, ny) with N(0, 1) entries scaled by ``0.5 / sqrt(max(nx, ny))``, so that
    ``|C|`` is about 1 or less and plain gradient descent-ascent with a step of 0.05 converges."""
    if nx < 1 or ny < 1:
        raise ValueError(f"nx and ny must be >= 1, got {nx} and {ny}")
    rng = np.random.default_rng(seed)

    def spd(n):
        q, r = np.linalg.qr(rng.standard_normal((n, n)))
        q = q * np.sign(np.diag(r))  # a uniformly distributed orthogonal matrix
        eig = rng.uniform(0.5, 1.5, size=n)
        m = (q * eig) @ q.T
        return np.ascontiguousarray(0.5 * (m + m.T))

    A = spd(nx)
    D = spd(ny)
    C = np.ascontiguousarray(rng.standard_normal((nx, ny)) * (0.5 / np.sqrt(max(nx, ny))))
    return A, C, D


@njit(cache=True, error_model="numpy")
def saddle_value_grad(x, y, A, C, D):
    """``(f, gx, gy)``: ``f = x^T A x / 2 + x^T C y - y^T D y / 2``, ``gx = A x + C y``,
    ``gy = C^T x - D y`` (A and D symmetric)."""
    nx = x.shape[0]
    ny = y.shape[0]
    gx = np.zeros(nx)
    gy = np.zeros(ny)
    f = 0.0
    for i in range(nx):
        ax = 0.0
        for j in range(nx):
            ax += A[i, j] * x[j]
        cy = 0.0
        for j in range(ny):
            cy += C[i, j] * y[j]
        gx[i] = ax + cy
        f += x[i] * (0.5 * ax + cy)
    for j in range(ny):
        dy = 0.0
        for k in range(ny):
            dy += D[j, k] * y[k]
        ctx = 0.0
        for i in range(nx):
            ctx += C[i, j] * x[i]
        gy[j] = ctx - dy
        f -= 0.5 * y[j] * dy
    return f, gx, gy


@dataclass(frozen=True)
class Saddle:
    """The saddle problem of sizes ``nx``, ``ny`` drawn from ``seed``."""

    A: np.ndarray
    C: np.ndarray
    D: np.ndarray

    @classmethod
    def make(cls, nx: int, ny: int, seed: int) -> Saddle:
        """The saddle problem :func:`make_saddle` draws.

        Parameters
        ----------
        nx, ny : int
            Sizes of ``x`` and ``y`` (>= 1).
        seed : int
            Seed of ``np.random.default_rng``.

        Returns
        -------
        Saddle
            With ``A`` (nx, nx), ``C`` (nx, ny) and ``D`` (ny, ny).
        """
        return cls(*make_saddle(nx, ny, seed))

    def value_grad(self, x, y):
        """``(f, gx, gy)``."""
        x = np.ascontiguousarray(x, dtype=float)
        y = np.ascontiguousarray(y, dtype=float)
        return saddle_value_grad(x, y, self.A, self.C, self.D)


# ------------------------------------------------------------------------ Beale, Booth


@njit(cache=True, error_model="numpy")
def beale(x):
    """Beale's function of ``x = (x0, x1)`` and its gradient; minimum 0 at (3, 0.5)."""
    a, b = x[0], x[1]
    t1 = 1.5 - a + a * b
    t2 = 2.25 - a + a * b * b
    t3 = 2.625 - a + a * b * b * b
    f = t1 * t1 + t2 * t2 + t3 * t3
    g = np.empty(2)
    g[0] = 2.0 * (t1 * (b - 1.0) + t2 * (b * b - 1.0) + t3 * (b * b * b - 1.0))
    g[1] = 2.0 * a * (t1 + 2.0 * b * t2 + 3.0 * b * b * t3)
    return f, g


@njit(cache=True, error_model="numpy")
def booth(x):
    """Booth's function ``(x0 + 2 x1 - 7)^2 + (2 x0 + x1 - 5)^2``; minimum 0 at (1, 3)."""
    u = x[0] + 2.0 * x[1] - 7.0
    v = 2.0 * x[0] + x[1] - 5.0
    g = np.empty(2)
    g[0] = 2.0 * u + 4.0 * v
    g[1] = 4.0 * u + 2.0 * v
    return u * u + v * v, g
