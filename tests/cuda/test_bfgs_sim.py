"""The CUDA BFGS batch under the simulator gives the CPU kernels' numbers.

Run with ``NUMBA_ENABLE_CUDASIM=1 pytest tests/cuda``: the kernel then executes the same source
as plain Python, one simulated thread per member, so this checks the CUDA kernel's logic (local
work arrays, member arguments, baked-in options) against the CPU target.
"""

import math

import numpy as np
from numba import njit

from workbench.models import logistic
from workbench.optimize import minimize_bfgs_batch


@njit
def weighted_squares(x, g, w, A, b):
    """0.5 sum_i w_i (A_i x - b_i)^2, in place: value returned, gradient written into g."""
    for j in range(x.shape[0]):
        g[j] = 0.0
    f = 0.0
    for i in range(A.shape[0]):
        r = -b[i]
        for j in range(x.shape[0]):
            r += A[i, j] * x[j]
        f += 0.5 * w[i] * r * r
        for j in range(x.shape[0]):
            g[j] += w[i] * r * A[i, j]
    return f


@njit
def resampled_logcosh(x, rows, A, b):
    """A value-only robust loss on resampled rows: the gradient by finite differences."""
    f = 0.0
    for i in rows:
        r = -b[i]
        for j in range(x.shape[0]):
            r += A[i, j] * x[j]
        f += math.log(math.cosh(r))
    return f


RNG = np.random.default_rng(0)
A = RNG.normal(size=(16, 2))
B = A @ np.array([1.0, -2.0]) + 0.1 * RNG.normal(size=16)
WEIGHTS = RNG.multinomial(16, np.full(16, 1 / 16), size=3).astype(float)
ROWS = RNG.integers(0, 16, size=(3, 16))
X0S = RNG.normal(size=(3, 2))


def assert_cuda_equals_cpu(fun, x0s, **kw):
    gpu = minimize_bfgs_batch(fun, x0s, target="cuda", **kw)
    cpu = minimize_bfgs_batch(fun, x0s, target="cpu", **kw)
    assert gpu.target == "cuda" and cpu.target == "cpu"
    np.testing.assert_array_equal(gpu.status, cpu.status)
    np.testing.assert_array_equal(gpu.nit, cpu.nit)
    np.testing.assert_array_equal(gpu.nfev, cpu.nfev)
    np.testing.assert_array_equal(gpu.njev, cpu.njev)
    np.testing.assert_allclose(gpu.x, cpu.x, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(gpu.fun, cpu.fun, rtol=1e-10)
    return cpu


def test_in_place_objective_with_member_weights():
    cpu = assert_cuda_equals_cpu(
        weighted_squares, X0S, member_args=(WEIGHTS,), args=(A, B), hess_inv0=np.diag([0.5, 2.0])
    )
    assert cpu.success.all()


def test_finite_differences_with_member_rows():
    assert_cuda_equals_cpu(resampled_logcosh, X0S, member_args=(ROWS,), args=(A, B), jac=None)


def test_compiled_objective():
    Z = np.column_stack([np.ones(16), A])
    y = (B > 0).astype(float)
    data = logistic.pack_data(Z, y, 0.01, 1)
    assert_cuda_equals_cpu(
        logistic.LOGISTIC, np.zeros((3, 3)), member_args=(WEIGHTS,), args=(data,), gtol=1e-8
    )
