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
        types.UniTuple(f64, 6),  # t0, t1, rtol, first_step, max_step, direction
        f64[:, ::1],  # Y0
        f64[::1],  # t_eval
        f64[::1],  # atol
        f64[::1],  # the events' directions
        f64[::1],  # the events' terminal counts
        i64,  # lo
        i64,  # hi
        f64[:, :, ::1],  # Y (m, n, len(t_eval))
        i64[:, ::1],  # statistics
        f64[::1],  # time of a non-finite evaluation
        i64[:, ::1],  # event counts (m, e)
        f64[:, :, ::1],  # event times (m, e, keep)
        f64[:, :, :, ::1],  # event states (m, e, keep, n)
    )


def test_signature_matches_the_host_arrays_of_a_batch(monkeypatch):
    """The types above are those of the arrays ``solve_ivp_batch`` hands the launcher
    (device copies keep dtype, dimensions and layout)."""
    from workbench.integrate import _cuda, solve_ivp_batch
    from workbench.models.arm import ARM_RHS

    seen = {}

    def launcher(method, rhs, event_set, params, data, scalars, y0s, t_eval, atol, y, stats,
                 t_bad, event_out, chunk, progress):  # fmt: skip
        ev_n, ev_t, ev_y = event_out
        seen["types"] = tuple(
            typeof(a)
            for a in (params, (data,), scalars, y0s, t_eval, atol, np.ones(1), np.ones(1), 0, 1,
                      y, stats, t_bad, ev_n, ev_t, ev_y)
        )  # fmt: skip

    monkeypatch.setattr(_cuda, "run_batch_cuda", launcher)
    monkeypatch.setattr(
        "workbench.targets.choose_target", lambda *a, **k: SimpleNamespace(name="cuda")
    )
    from workbench.interpolate import pack_table

    m, n = 4, 5
    torque = pack_table(np.linspace(0.0, 1.0, 5), np.ones((2, 5)))  # ARM_RHS checks its table
    solve_ivp_batch(
        ARM_RHS, (0.0, 1.0), np.ones((m, n)), params=np.ones((m, 7)), args=(torque,),
        t_eval=np.linspace(0, 1, 11), events=lambda t, y, p, d: y[0], target="cuda",
    )  # fmt: skip
    expected = launch_signature(types.UniTuple(f64[::1], 1))
    # an event set of one: the launcher pads empty ones itself
    assert seen["types"] == expected


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


@njit
def first_state(t, y, p, *args):
    return y[0] - 0.5


# RK45 with every kind of shared args; the other methods (their own stages, error norms and
# interpolants) with the arm's, events included
PTX_CASES = [(case, "RK45") for case in CASES] + [("arm", "RK23"), ("arm", "DOP853")]


@pytest.mark.parametrize(("case", "method"), PTX_CASES)
def test_batch_kernel_compiles_to_ptx(stub_device, case, method):
    from workbench.integrate import METHODS
    from workbench.integrate._cuda import device_events, device_rhs, make_kernel
    from workbench.integrate._events import prepare_events
    from workbench.models.arm import ARM_RHS

    n, args_type = CASES[case]
    rhs = {
        "arm": ARM_RHS,
        "no args": no_args,
        "two arrays": two_arrays,
        "array and float": array_and_float,
    }[case]
    device = ARM_RHS.device if case == "arm" else device_rhs(rhs)
    first_state.terminal = 2
    events = prepare_events(first_state) if case != "no args" else None
    kernel = make_kernel(
        METHODS[method], device, device_events(events, device), n, 1 if events else 0, 2
    )
    ptx, restype = cuda.compile_ptx(kernel.py_func, launch_signature(args_type), cc=(9, 0))
    assert restype == types.void
    assert ".entry" in ptx and ".target sm_90" in ptx
    assert "malloc" not in ptx  # nothing allocates on the device
    assert "NRT_" not in ptx  # no reference counting or Numba runtime calls
