"""BFGS's BLAS calls, rounded as numpy's OpenBLAS rounds them.

scipy's BFGS computes its search direction with ``np.dot(Hk, gfk)`` (``dgemv``), its slopes
and curvature with ``np.dot`` of two vectors (``ddot``), and its inverse-Hessian update with
two matrix products (``dgemm``). Summed in another order, each result moves in its last bit,
and over a long run (Rosenbrock in 10 dimensions, Wood's function) a borderline line-search
test goes the other way: an iteration more or less than scipy. These functions add the terms
in the order, and with the fused multiply-adds, of the OpenBLAS kernels numpy's wheels run
on AVX2 CPUs (``Haswell``/``Zen`` kernels), found by reading those kernels and checked
against numpy bit for bit (``tests/test_optimize.py``):

- ``ddot`` below 16 terms: one fused chain (the kernel's scalar tail);
- ``dgemv`` (row-major ``A @ x``): per output, four fused lanes over the columns in blocks
  of four, combined as ``(l0 + l2) + (l1 + l3)``, for outputs in blocks of four; the two or
  one outputs left use the unfused SSE kernels (two lanes, or four combined the same way);
  the last ``n % 4`` columns are then added as one fused expression;
- ``dgemm``: one fused chain along the inner index (bit for bit while ``n^3 <= 4096``,
  OpenBLAS's small-matrix kernel; for larger n most elements, the edge tiles differing).

:data:`ORDER` is found at import by asking numpy. On another BLAS or CPU (``"plain"``), and
for the sizes outside the list above, the terms are added in index order: the results then
agree with scipy's to rounding, not bit for bit. As for ``integrate._sums``, the order is
fixed into Numba's on-disk cache (kept per CPU model): after changing the BLAS on the same
CPU, run ``make clean-cache``.
"""

from __future__ import annotations

import numpy as np

from .._numba import inline
from .._numba.fma import fma, fma_python

__all__ = ["ORDER", "dot", "madd", "neg_gemv"]

HASWELL, PLAIN = 1, 2


@inline
def dot(x, y):
    """``np.dot(x, y)`` for two vectors."""
    n = x.shape[0]
    acc = 0.0
    if _ORDER == HASWELL and n < 16:
        for i in range(n):
            acc = fma(y[i], x[i], acc)
        return acc
    for i in range(n):
        acc += x[i] * y[i]
    return acc


@inline
def _row_dot(A, x, j, n_out):
    """Row ``j`` of ``A @ x`` (``A`` has ``n_out`` rows) as OpenBLAS's ``dgemv_t`` sums it."""
    m = x.shape[0]
    if _ORDER != HASWELL:
        acc = 0.0
        for k in range(m):
            acc += A[j, k] * x[k]
        return acc
    m3 = m & 3
    m1 = m - m3
    s = 0.0
    if m1 > 0:
        if j < n_out - n_out % 4:  # the AVX2 kernel: four fused lanes
            l0 = l1 = l2 = l3 = 0.0
            for k in range(0, m1, 4):
                l0 = fma(A[j, k], x[k], l0)
                l1 = fma(A[j, k + 1], x[k + 1], l1)
                l2 = fma(A[j, k + 2], x[k + 2], l2)
                l3 = fma(A[j, k + 3], x[k + 3], l3)
            s = (l0 + l2) + (l1 + l3)
        elif n_out % 4 >= 2 and j < n_out - n_out % 4 + 2:  # SSE, two outputs: two lanes
            l0 = l1 = 0.0
            for k in range(0, m1, 2):
                l0 += A[j, k] * x[k]
                l1 += A[j, k + 1] * x[k + 1]
            s = l0 + l1
        else:  # SSE, one output: four lanes in two registers
            l0 = l1 = l2 = l3 = 0.0
            for k in range(0, m1, 4):
                l0 += A[j, k] * x[k]
                l1 += A[j, k + 1] * x[k + 1]
                l2 += A[j, k + 2] * x[k + 2]
                l3 += A[j, k + 3] * x[k + 3]
            s = (l0 + l2) + (l1 + l3)
    if m3 == 1:
        return fma(A[j, m1], x[m1], s)
    if m3 == 2:
        return s + fma(A[j, m1], x[m1], A[j, m1 + 1] * x[m1 + 1])
    if m3 == 3:
        t = fma(A[j, m1], x[m1], A[j, m1 + 1] * x[m1 + 1])
        return s + fma(A[j, m1 + 2], x[m1 + 2], t)
    return s


@inline
def neg_gemv(A, x, out):
    """``out = -np.dot(A, x)`` for a square row-major ``A``."""
    n = x.shape[0]
    for j in range(n):
        out[j] = -_row_dot(A, x, j, n)


@inline
def madd(a, b, acc):
    """One term of a ``dgemm`` dot product: ``acc + a * b``, fused where OpenBLAS fuses."""
    if _ORDER == HASWELL:
        return fma(a, b, acc)
    return acc + a * b


# --- which order numpy uses here ------------------------------------------------------------


def _probe() -> int:
    """HASWELL when numpy's ``dot`` agrees bit for bit with the model above on fixed data
    (all tail cases of dgemv, ddot, dgemm); else PLAIN."""
    import types as pytypes

    def python(fn, order):
        namespace = dict(fn.__globals__, fma=fma_python, _ORDER=order)
        return pytypes.FunctionType(fn.__code__, namespace, fn.__name__)

    row = python(_row_dot.py_func, HASWELL)
    vdot = python(dot.py_func, HASWELL)
    rng = np.random.default_rng(20261206)
    for n in (2, 3, 5, 6, 7, 9):
        A, x = rng.standard_normal((n, n)), rng.standard_normal(n)
        y = A @ x
        if any(y[j] != row(A, x, j, n) for j in range(n)):
            return PLAIN
        if float(np.dot(x, A[0])) != vdot(x, A[0]):
            return PLAIN
        B = rng.standard_normal((n, n))
        C = A @ B
        for i in range(n):
            for j in range(n):
                acc = 0.0
                for k in range(n):
                    acc = fma_python(A[i, k], B[k, j], acc)
                if acc != C[i, j]:
                    return PLAIN
    return HASWELL


_ORDER = _probe()
#: The summation order of numpy's BLAS here: "haswell" (reproduced) or "plain".
ORDER = {HASWELL: "haswell", PLAIN: "plain"}[_ORDER]
