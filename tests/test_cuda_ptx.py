"""Every CUDA kernel compiles to PTX for a real architecture (sm_90), without a GPU.

The simulator does no type inference, so this is the check that the kernels are valid CUDA:
no allocation, no unsupported calls. A kernel that calls a device function asks the driver for
the current device's compute capability, so that lookup is stubbed.
"""

import os
from types import SimpleNamespace

import numpy as np
import pytest
from numba import njit, types

pytestmark = pytest.mark.skipif(
    os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", reason="PTX needs the real CUDA target"
)

cuda = pytest.importorskip("numba.cuda")


@pytest.fixture
def no_gpu_device(monkeypatch):
    import numba.cuda.dispatcher as dispatcher

    assert hasattr(dispatcher, "get_current_device")  # numba-cuda 0.30.x
    device = SimpleNamespace(compute_capability=(9, 0), id=0, name="stub sm_90")
    monkeypatch.setattr(dispatcher, "get_current_device", lambda: device)


f64, i64 = types.float64, types.int64


def _batch_signature(args_type):
    return (
        f64[:, ::1],
        args_type,
        f64,
        f64,
        f64[:, ::1],
        f64[::1],
        f64,
        f64,
        f64[::1],
        f64,
        i64,
        i64,
        f64[:, :, ::1],
        i64[:, ::1],
        f64[::1],
    )


@njit
def damped(t, y, dydt, p, k):
    dydt[0] = y[1]
    dydt[1] = -k * y[0] - p[0] * y[1]


@pytest.mark.parametrize("which", ["arm", "njit"])
def test_rk45_batch_kernel_compiles_to_ptx(no_gpu_device, which):
    from workbench.integrate._cuda import device_rhs, make_kernel
    from workbench.models.arm import ARM_RHS

    if which == "arm":
        kernel, args = make_kernel(ARM_RHS.device, 5), types.UniTuple(f64[::1], 1)
    else:
        kernel, args = make_kernel(device_rhs(damped), 2), types.UniTuple(f64, 1)
    ptx, _ = cuda.compile_ptx(kernel.py_func, _batch_signature(args), cc=(9, 0))
    assert ".entry" in ptx and ".target sm_90" in ptx
    assert "malloc" not in ptx  # nothing allocates on the device
    assert np.all([needle not in ptx for needle in ("NRT_MemInfo", "NRT_Allocate")])


def test_bfgs_batch_kernel_compiles_to_ptx(no_gpu_device):
    from workbench.models.logistic import LOGISTIC
    from workbench.optimize._cuda import make_kernel

    kernel = make_kernel(LOGISTIC.device, 3)
    signature = (
        types.UniTuple(f64[::1], 1),
        f64[:, ::1],
        f64[:, ::1],
        f64,
        f64,
        i64,
        f64,
        f64,
        f64,
        i64,
        i64,
        f64[:, ::1],
        f64[::1],
        f64[:, ::1],
    )
    ptx, _ = cuda.compile_ptx(kernel.py_func, signature, cc=(9, 0))
    assert ".entry" in ptx and ".target sm_90" in ptx
    assert "malloc" not in ptx and "NRT_Allocate" not in ptx
