"""The CUDA BFGS batch kernel compiles to PTX for a real architecture (sm_90), without a GPU.

The simulator does no type inference, so this is the check that the kernel is valid CUDA: no
allocation anywhere in BFGS, the line searches or the finite differences. A kernel that calls
a device function asks the driver for the current device's compute capability, so that
lookup is stubbed.
"""

import os
from types import SimpleNamespace

import pytest
from numba import njit, types

pytestmark = pytest.mark.skipif(
    os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", reason="PTX needs the real CUDA target"
)

cuda = pytest.importorskip("numba.cuda")

f64, i64 = types.float64, types.int64
ROWS, VECTOR = f64[:, ::1], f64[::1]


@pytest.fixture
def no_gpu_device(monkeypatch):
    import numba.cuda.dispatcher as dispatcher

    assert hasattr(dispatcher, "get_current_device")  # numba-cuda 0.30.x
    device = SimpleNamespace(compute_capability=(9, 0), id=0, name="stub sm_90")
    monkeypatch.setattr(dispatcher, "get_current_device", lambda: device)


@njit
def weighted_squares(x, w, X, y):
    """A value-only objective (the kernel takes finite differences): weighted least squares
    with the sample weights of one bootstrap member."""
    f = 0.0
    for i in range(X.shape[0]):
        r = -y[i]
        for j in range(x.shape[0]):
            r += X[i, j] * x[j]
        f += 0.5 * w[i] * r * r
    return f


def kernel_signature(shared, members):
    # (shared, members, x0s, gtol, ord, maxiter, xrtol, c1, c2, lo, hi, X, F, ST)
    return (shared, members, ROWS, f64, f64, i64, f64, f64, f64, i64, i64, ROWS, VECTOR, ROWS)


def assert_allocation_free(ptx):
    assert ".entry" in ptx and ".target sm_90" in ptx
    for needle in ("malloc", "NRT_Allocate", "NRT_MemInfo"):
        assert needle not in ptx


def test_compiled_objective_kernel_compiles_to_ptx(no_gpu_device):
    from workbench.models.logistic import LOGISTIC
    from workbench.optimize._cuda import device_objective, make_kernel

    kernel = make_kernel(device_objective(LOGISTIC), 3)
    signature = kernel_signature(types.UniTuple(VECTOR, 1), types.UniTuple(ROWS, 1))
    ptx, _ = cuda.compile_ptx(kernel.py_func, signature, cc=(9, 0))
    assert_allocation_free(ptx)


def test_finite_difference_kernel_with_member_tuple_compiles_to_ptx(no_gpu_device):
    import numpy as np

    from workbench.optimize._cuda import device_objective
    from workbench.optimize._cuda import make_kernel as make
    from workbench.optimize._scalar import FD_ABS

    kernel = make(device_objective(weighted_squares, "value"), 2, FD_ABS, np.full(2, 1.5e-8))
    shared = types.Tuple((f64[:, ::1], VECTOR))
    signature = kernel_signature(shared, types.Tuple((ROWS,)))
    ptx, _ = cuda.compile_ptx(kernel.py_func, signature, cc=(9, 0))
    assert_allocation_free(ptx)
