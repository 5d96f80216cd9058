"""The RK45 step sums are rounded as numpy's BLAS rounds ``np.dot(K.T, c)`` and ``x @ x``.

Which OpenBLAS kernels numpy runs depends on the CPU; ``OPENBLAS_CORETYPE`` picks another
one (if the CPU has its instructions), so each model is checked in its own process.
"""

from __future__ import annotations

import ast
import ctypes
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numba import njit

from workbench.integrate import _sums

CHECK = """
import sys
import numpy as np
from numba import njit
from workbench.integrate import _sums
from workbench.integrate._sums import add_square, gemv_row


@njit
def rows(K, c, s):
    n = K.shape[1]
    out = np.empty(n)
    for i in range(n):
        out[i] = gemv_row(K, c, s, i, n)
    return out


@njit
def sum_squares(x):
    acc = 0.0
    for v in x:
        acc = add_square(acc, v)
    return acc


rng = np.random.default_rng(int(sys.argv[1]))
bad = []
for n in range(1, 12):
    for s in range(1, 8):
        for _ in range(40):
            K, c = rng.standard_normal((7, n)), rng.standard_normal(7)
            if not np.array_equal(rows(K, c, s), np.dot(K[:s].T, c[:s])):
                bad.append(("gemv", n, s))
                break
for n in range(1, 15):
    for _ in range(40):
        x = rng.standard_normal(n)
        if sum_squares(x) != np.dot(x, x):
            bad.append(("ddot", n))
            break
print(_sums.ORDER, bad)
"""


def openblas_core() -> str | None:
    """The OpenBLAS kernel set numpy runs (None if numpy's BLAS is not scipy-openblas)."""
    libs = (Path(np.__file__).parent.parent / "numpy.libs").glob("libscipy_openblas*")
    for lib in libs:
        for name in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename"):
            fn = getattr(ctypes.CDLL(str(lib)), name, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return fn().decode()
    return None


def run_check(core: str | None, seed: int) -> tuple[str, list]:
    env = dict(os.environ)
    if core is not None:
        env["OPENBLAS_CORETYPE"] = core
    out = subprocess.run(
        [sys.executable, "-c", CHECK, str(seed)], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    order, bad = out.stdout.strip().split(" ", 1)
    return order, ast.literal_eval(bad)  # a list of tuples printed by CHECK


@njit
def _rows(K, c, s):
    n = K.shape[1]
    out = np.empty(n)
    for i in range(n):
        out[i] = _sums.gemv_row(K, c, s, i, n)
    return out


def test_this_machines_order_is_numpys():
    if _sums.ORDER == "plain":
        pytest.skip(f"numpy's BLAS ({openblas_core()}) has no model here: sums agree to 1 ulp")
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 4, 5, 7, 8, 9):
        for s in range(1, 8):
            K, c = rng.standard_normal((7, n)), rng.standard_normal(7)
            np.testing.assert_array_equal(_rows(K, c, s), np.dot(K[:s].T, c[:s]))


@pytest.mark.parametrize(("core", "order"), [("SkylakeX", "skylakex"), ("Haswell", "haswell")])
def test_each_model_matches_numpy_under_its_openblas_kernels(core, order):
    if openblas_core() is None:
        pytest.skip("numpy's BLAS is not scipy-openblas")
    probe = subprocess.run(
        [sys.executable, "-c", "from tests.test_sums import openblas_core; print(openblas_core())"],
        env={**os.environ, "OPENBLAS_CORETYPE": core},
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[1],
    )
    if probe.stdout.strip() != core:
        pytest.skip(f"this CPU cannot run OpenBLAS's {core} kernels")
    found, bad = run_check(core, seed=1)
    assert found == order
    assert bad == []


def test_an_unknown_blas_gets_plain_sums():
    found, _ = run_check("Prescott", seed=2)  # SSE3 kernels: no model, plain order
    if openblas_core() is not None:
        assert found == "plain"


def test_python_fma_is_exact():
    # 1 + 2^-30 squared needs 61 bits: a * b + c rounded twice loses the 2^-60 term
    a = 1.0 + 2.0**-30
    assert _sums.fma_python(a, a, -1.0) == 2.0**-29 + 2.0**-60
    assert a * a - 1.0 == 2.0**-29
