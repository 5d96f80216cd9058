"""The RK45 batch kernel of ``workbench.integrate._cuda`` compiles to PTX for sm_90, no GPU needed.

The simulator does no type inference, so this is the check that the kernel is valid CUDA for
the argument types ``run_batch_cuda`` launches it with: shared ``args`` as a tuple of arrays
(homogeneous or mixed with floats, or empty), no allocation on the device.
"""

from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import pytest
from numba import njit, typeof, types

pytestmark = pytest.mark.skipif(
    os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0"),
    reason="PTX needs the real CUDA target, not the simulator",
)

cuda = pytest.importorskip("numba.cuda")

f64, i64 = types.float64, types.int64


@pytest.fixture
def stub_device(monkeypatch):
    """A kernel that calls a device function asks the driver for the current device's compute
    capability; without a GPU that lookup is stubbed."""
    import numba.cuda.dispatcher as dispatcher

    assert hasattr(dispatcher, "get_current_device"), "numba-cuda moved get_current_device"
    device = SimpleNamespace(compute_capability=(9, 0), id=0, name="stub sm_90")
    monkeypatch.setattr(dispatcher, "get_current_device", lambda: device)


def launch_signature(args_type):
    """The kernel's argument types as ``run_batch_cuda`` passes them."""
    return (
        f64[:, ::1],  # P, the members' parameter rows
        args_type,  # shared args
        f64,  # t0
        f64,  # t1
        f64[:, ::1],  # Y0
        f64[::1],  # t_eval
        f64,  # first_step
        f64,  # rtol
        f64[::1],  # atol
        f64,  # max_step
        i64,  # lo
        i64,  # hi
        f64[:, :, ::1],  # Y (m, n, len(t_eval))
        i64[:, ::1],  # statistics
        f64[::1],  # time of a non-finite evaluation
    )


def test_signature_matches_the_host_arrays_of_a_batch():
    """The types above are those of the arrays ``solve_ivp_batch`` builds (device copies keep
    dtype, dimensions and layout)."""
    m, n, k = 4, 5, 11
    host = (
        np.ascontiguousarray(np.ones((m, 7)), dtype=float),
        (np.ones(3),),
        0.0,
        1.0,
        np.ones((m, n)),
        np.linspace(0, 1, k),
        0.0,
        1e-6,
        np.full(n, 1e-9),
        np.inf,
        0,
        m,
        np.full((m, n, k), np.nan),
        np.zeros((m, 4), dtype=np.int64),
        np.full(m, np.nan),
    )
    assert tuple(typeof(a) for a in host) == launch_signature(types.UniTuple(f64[::1], 1))


@njit
def no_args(t, y, dydt, p):
    dydt[0] = -p[0] * y[0]


@njit
def two_arrays(t, y, dydt, p, w, c):
    for i in range(y.shape[0]):
        dydt[i] = -p[0] * w[i] * y[i] + c[i] * np.cos(t)


@njit
def array_and_float(t, y, dydt, p, w, k):
    dydt[0] = y[1]
    dydt[1] = -k * y[0] - p[0] * y[1] + w[0] * np.sin(t)


CASES = {
    "arm": (5, types.UniTuple(f64[::1], 1)),
    "no args": (1, types.Tuple(())),
    "two arrays": (3, types.UniTuple(f64[::1], 2)),
    "array and float": (2, types.Tuple((f64[::1], f64))),
}


@pytest.mark.parametrize("case", CASES)
def test_rk45_batch_kernel_compiles_to_ptx(stub_device, case):
    from workbench.integrate._cuda import device_rhs, make_kernel
    from workbench.models.arm import ARM_RHS

    n, args_type = CASES[case]
    rhs = {
        "arm": ARM_RHS,
        "no args": no_args,
        "two arrays": two_arrays,
        "array and float": array_and_float,
    }[case]
    device = ARM_RHS.device if case == "arm" else device_rhs(rhs)
    kernel = make_kernel(device, n)
    ptx, restype = cuda.compile_ptx(kernel.py_func, launch_signature(args_type), cc=(9, 0))
    assert restype == types.void
    assert ".entry" in ptx and ".target sm_90" in ptx
    assert "malloc" not in ptx  # nothing allocates on the device
    assert "NRT_" not in ptx  # no reference counting or Numba runtime calls
