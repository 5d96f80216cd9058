"""The CUDA kernels of ``workbench.optim._cuda`` compile to PTX for sm_90, no GPU needed.

The simulator does no type inference, so this is the check that each kernel is valid CUDA
for the argument types the optimizers launch it with (1-D contiguous arrays and scalars of
the parameter's dtype, boolean flags), that nothing allocates on the device, and that a
float32 kernel stays in float32 (no float64 promotion of the hyperparameters).
"""

from __future__ import annotations

import os
import re
from types import SimpleNamespace

import numpy as np
import pytest
from numba import typeof, types

pytestmark = pytest.mark.skipif(
    os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0"),
    reason="PTX needs the real CUDA target, not the simulator",
)

cuda = pytest.importorskip("numba.cuda")

b1 = types.boolean


@pytest.fixture
def stub_device(monkeypatch):
    """The kernels call the element updates as device functions, and compiling a device
    function asks the driver for the current device's compute capability; without a GPU that
    lookup is stubbed."""
    import numba.cuda.dispatcher as dispatcher

    assert hasattr(dispatcher, "get_current_device"), "numba-cuda moved get_current_device"
    device = SimpleNamespace(compute_capability=(9, 0), id=0, name="stub sm_90")
    monkeypatch.setattr(dispatcher, "get_current_device", lambda: device)


def signature(kind: str, dt):
    """The argument types the optimizers and transforms launch kernel ``kind`` with."""
    a = dt[::1]
    return {
        # p, g, square_avg, grad_avg, momentum_buffer; lr, rho, 1-rho, eps_in, eps_out,
        # momentum, weight_decay; use_weight_decay, centered, use_momentum
        "rmsprop": (a,) * 5 + (dt,) * 7 + (b1,) * 3,
        # p, g, momentum_buffer; lr, momentum, 1-dampening, weight_decay;
        # use_weight_decay, nesterov, use_momentum, first
        "sgd": (a,) * 3 + (dt,) * 4 + (b1,) * 4,
        # p, g, exp_avg, exp_avg_sq, max_exp_avg_sq; step_size, beta1, 1-beta1, beta2,
        # 1-beta2, sqrt(bias_correction2), eps, weight_decay; use_weight_decay, amsgrad
        "adam": (a,) * 5 + (dt,) * 8 + (b1,) * 2,
        # p, g, sum; clr, eps, weight_decay; use_weight_decay
        "adagrad": (a,) * 3 + (dt,) * 3 + (b1,),
        "scale": (a, dt),
        "clip": (a, dt),
        "sum_squares": (a, types.float64[::1]),
    }[kind]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_signatures_match_what_the_optimizers_pass(monkeypatch, dtype):
    """The types above are those of the arguments ``RMSprop``, ``SGD``, ``Adam`` and
    ``Adagrad`` launch a
    kernel with (captured from a cpu step: the cuda target passes the same scalars and flags,
    and device arrays of the same dtype, dimension and layout)."""
    import workbench.optim.optimizers as optimizers
    from workbench.optim import SGD, Adagrad, Adam, RMSprop

    seen = {}

    class Recorder(dict):
        def __getitem__(self, kind):
            return lambda *args: seen.setdefault(kind, tuple(typeof(x) for x in args))

    recorder = Recorder()
    monkeypatch.setattr(
        optimizers, "_kernels", SimpleNamespace(CPU_KERNELS=recorder, PARALLEL_KERNELS=recorder)
    )
    params, g = {"w": np.zeros(4, dtype=dtype)}, {"w": np.ones(4, dtype=dtype)}
    RMSprop(params, centered=True, momentum=0.5, target="cpu").step(g)
    SGD(params, lr=0.1, momentum=0.5, target="cpu").step(g)
    Adam(params, amsgrad=True, target="cpu").step(g)
    Adagrad(params, weight_decay=0.1, initial_accumulator_value=0.5, target="cpu").step(g)
    dt = typeof(dtype(0))
    for kind in ("rmsprop", "sgd", "adam", "adagrad"):
        assert seen[kind] == signature(kind, dt), kind


KINDS = ("rmsprop", "sgd", "adam", "adagrad", "scale", "clip", "sum_squares")


@pytest.mark.parametrize("dt", [types.float32, types.float64], ids=str)
@pytest.mark.parametrize("kind", KINDS)
def test_optim_kernel_compiles_to_ptx(stub_device, kind, dt):
    from workbench.optim._cuda import kernel

    ptx, restype = cuda.compile_ptx(kernel(kind).py_func, signature(kind, dt), cc=(9, 0))
    assert restype == types.void
    assert ".entry" in ptx and ".target sm_90" in ptx
    assert "malloc" not in ptx  # nothing allocates on the device
    assert "NRT_" not in ptx  # no reference counting or Numba runtime calls
    if dt == types.float32 and kind != "sum_squares":
        # float32 parameters: float32 arithmetic throughout, IEEE square roots and divisions
        ops = set(re.findall(r"\b(?:add|sub|mul|div|sqrt|fma|cvt)\.[a-z0-9.]+", ptx))
        assert not {op for op in ops if "f64" in op}, ops
        if kind in ("rmsprop", "adam", "adagrad"):
            assert "sqrt.rn.f32" in ptx and "div.rn.f32" in ptx
