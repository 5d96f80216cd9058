"""The small sums of an RK45 step, rounded as scipy's numpy/BLAS calls round them.

scipy's ``RK45`` forms its stage sums, solution and error estimate with ``np.dot(K.T, c)``
(BLAS ``dgemv``) and its error norm with ``np.linalg.norm`` (BLAS ``ddot``). The error
estimate is a difference of nearly equal terms, so a different summation order moves the
next step size in its 12th digit, and over a run a borderline step can be accepted by one
solver and rejected by the other: a different ``nfev`` (the bundled arm at rtol 1e-6 took
212 evaluations to scipy's 218 before these sums). These functions add the terms in the
order, and with the fused multiply-adds, of the OpenBLAS kernels in numpy's wheels, so that
step sizes and solutions agree with scipy's bit for bit. Which kernels numpy runs depends on
the CPU; :data:`ORDER` is found at import by asking numpy:

- ``"skylakex"`` (OpenBLAS's AVX-512 kernels: ``SkylakeX``, ``Cooperlake``,
  ``SapphireRapids``): rows in blocks of four take columns four at a time as
  ``((c1 + c0) + c2) + c3`` in fused steps, then a fused pair, then a single column, the
  block results added in turn; the other rows add every column in one fused chain; a system
  of two or three rows adds pairs of columns.
- ``"haswell"`` (the AVX2 kernels: ``Haswell``, ``Zen``): blocks of four columns as
  ``fma(c2, c0) + fma(c3, c1)``, then ``c0 + c1`` and single columns, unfused; the other
  rows add every column in turn, unfused.
- ``"plain"``: any other BLAS; the terms are added in turn (the last bits may differ).

:data:`ORDER` is fixed into the compiled kernels, and so into Numba's on-disk cache, which
is kept per CPU model: after moving a checkout to another BLAS on the same CPU (or setting
``OPENBLAS_CORETYPE``), run ``make clean-cache``.

``add_square`` follows ``ddot`` for fewer than 15 terms: one chain, fused on ``skylakex``,
unfused on ``haswell`` (longer sums use SIMD lanes there, and differ in the last bits).
"""

from __future__ import annotations

from numba import njit

from .._numba.fma import fma, fma_python

inl = njit(cache=True, error_model="numpy", _nrt=False, inline="always")

SKYLAKEX, HASWELL, PLAIN = 0, 1, 2


@inl
def gemv_row(K, coef, s, i, n):
    """Row ``i`` of ``np.dot(K[:s].T, coef[:s])`` for a system of ``n`` rows."""
    if _ORDER == SKYLAKEX:
        return _row_skylakex(K, coef, s, i, n)
    if _ORDER == HASWELL:
        return _row_haswell(K, coef, s, i, n)
    acc = 0.0
    for j in range(s):
        acc += K[j, i] * coef[j]
    return acc


@inl
def _row_skylakex(K, coef, s, i, n):
    acc = 0.0  # dgemv zeroes y, then adds each block's result to it
    j = 0
    if n >= 4 and i < n - n % 4:
        while j + 4 <= s:
            t = K[j + 1, i] * coef[j + 1]
            t = fma(K[j, i], coef[j], t)
            t = fma(K[j + 2, i], coef[j + 2], t)
            acc = acc + fma(K[j + 3, i], coef[j + 3], t)
            j += 4
        if s - j >= 2:
            acc = acc + fma(K[j, i], coef[j], K[j + 1, i] * coef[j + 1])
            j += 2
        if s - j == 1:
            acc = acc + K[j, i] * coef[j]
        return acc
    if n == 2 or n == 3:
        while j + 4 <= s:
            acc = acc + fma(K[j, i], coef[j], K[j + 1, i] * coef[j + 1])
            acc = acc + fma(K[j + 2, i], coef[j + 2], K[j + 3, i] * coef[j + 3])
            j += 4
    while j < s:
        acc = fma(K[j, i], coef[j], acc)
        j += 1
    return acc


@inl
def _row_haswell(K, coef, s, i, n):
    acc = 0.0
    j = 0
    if n >= 4 and i < n - n % 4:
        while j + 4 <= s:
            low = fma(K[j + 2, i], coef[j + 2], K[j, i] * coef[j])
            high = fma(K[j + 3, i], coef[j + 3], K[j + 1, i] * coef[j + 1])
            acc = acc + (low + high)
            j += 4
        if s - j >= 2:
            acc = acc + (K[j, i] * coef[j] + K[j + 1, i] * coef[j + 1])
            j += 2
    elif n == 2 or n == 3:
        while j + 4 <= s:
            acc = acc + (K[j, i] * coef[j] + K[j + 1, i] * coef[j + 1])
            acc = acc + (K[j + 2, i] * coef[j + 2] + K[j + 3, i] * coef[j + 3])
            j += 4
    while j < s:
        acc = acc + K[j, i] * coef[j]
        j += 1
    return acc


@inl
def add_square(acc, r):
    """One term of ``ddot(x, x)``: ``acc + r * r``, rounded once where numpy's BLAS fuses."""
    if _ORDER == SKYLAKEX:
        return fma(r, r, acc)
    return acc + r * r


def _with_python_fma(fn):
    import types as pytypes

    namespace = dict(fn.__globals__, fma=fma_python)
    return pytypes.FunctionType(fn.__code__, namespace, fn.__name__)


def _probe() -> int:
    """Which order numpy's ``dot`` uses here: compare it with each model on fixed data that
    tells them apart (sizes 2, 5 and 8 rows, 2 to 7 columns)."""
    import numpy as np

    rng = np.random.default_rng(20261129)
    cases = [
        (rng.standard_normal((s, n)), rng.standard_normal(s))
        for n in (2, 5, 8)
        for s in range(2, 8)
        for _ in range(4)
    ]
    for order in (SKYLAKEX, HASWELL):
        impl = _with_python_fma({SKYLAKEX: _row_skylakex, HASWELL: _row_haswell}[order].py_func)
        if all(
            np.dot(K.T, c)[i] == impl(K, c, K.shape[0], i, K.shape[1])
            for K, c in cases
            for i in range(K.shape[1])
        ):
            return order
    return PLAIN


#: The summation order of numpy's BLAS on this machine (SKYLAKEX, HASWELL or PLAIN).
_ORDER = _probe()
ORDER = {SKYLAKEX: "skylakex", HASWELL: "haswell", PLAIN: "plain"}[_ORDER]
