"""``workbench.optim`` on ``target="cuda"``, run by the CUDA simulator, against the cpu target.

The simulator runs the kernels of ``workbench.optim._cuda`` as Python, with the element
updates' Python source: this checks the launch logic (grid-stride loop over small blocks,
several blocks per grid), the device copies of parameters and state kept between steps,
host and device gradients, ``params_to_host``, the state dict and the device transforms.
The simulator is slow: small arrays, ten steps.
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import cuda

from workbench.optim import SGD, Adagrad, Adam, RMSprop, chain, clip_norm, clip_value, scale
from workbench.optim._cuda import launch_config

SHAPES = {"W": (3, 7), "b": (5,), "s": ()}  # 21 elements: more than one grid of threads
STEPS = 10
TOL = {np.float64: dict(rtol=1e-12, atol=1e-13), np.float32: dict(rtol=1e-5, atol=1e-6)}


def make_params(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return {k: np.asarray(rng.standard_normal(s), dtype=dtype) for k, s in SHAPES.items()}


def grads_list(dtype, steps=STEPS, seed=1):
    rng = np.random.default_rng(seed)
    return [
        {k: np.asarray(rng.standard_normal(s), dtype=dtype) for k, s in SHAPES.items()}
        for _ in range(steps)
    ]


def test_the_grid_is_smaller_than_the_blocks():
    blocks, threads = launch_config(21)
    assert blocks * threads < 21  # so the grid-stride loop runs more than once


CASES = [
    (RMSprop, {}),
    (RMSprop, {"eps_in_sqrt": False}),
    (RMSprop, {"centered": True}),
    (RMSprop, {"eps_in_sqrt": False, "centered": True, "momentum": 0.9, "weight_decay": 1e-2}),
    (RMSprop, {"momentum": 0.5, "lr": 1e-2}),
    (RMSprop, {"weight_decay": 0.1, "rho": 0.8}),
    (SGD, {"lr": 0.05}),
    (SGD, {"lr": 0.05, "momentum": 0.9, "dampening": 0.2, "weight_decay": 1e-2}),
    (SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    (Adam, {"lr": 1e-2}),
    (Adam, {"lr": 1e-2, "amsgrad": True, "weight_decay": 1e-2}),
    (Adagrad, {}),
    (
        Adagrad,
        {"lr": 0.05, "lr_decay": 0.1, "weight_decay": 1e-2, "initial_accumulator_value": 0.3},
    ),
]


def case_id(case):
    cls, kw = case
    return cls.__name__ + "-" + "-".join(f"{k}={v}" for k, v in kw.items())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_cuda_target_equals_cpu_target(case, dtype):
    cls, kw = case
    host, dev = make_params(dtype), make_params(dtype)
    opt_cpu = cls(host, target="cpu", **kw)
    opt_gpu = cls(dev, target="cuda", **kw)
    assert opt_gpu.block_targets == {k: "cuda" for k in SHAPES}
    for i, g in enumerate(grads_list(dtype)):
        opt_cpu.step(g)
        # alternate host gradients and device gradients
        opt_gpu.step(g if i % 2 else {k: cuda.to_device(v) for k, v in g.items()})
    before = {k: v.copy() for k, v in dev.items()}
    assert all(np.array_equal(before[k], make_params(dtype)[k]) for k in SHAPES)  # not yet
    out = opt_gpu.params_to_host()
    assert out is opt_gpu.params and all(out[k] is dev[k] for k in SHAPES)
    for k in SHAPES:
        np.testing.assert_allclose(dev[k], host[k], **TOL[dtype], err_msg=k)
    sd_cpu, sd_gpu = opt_cpu.state_dict(), opt_gpu.state_dict()
    assert sd_gpu["step"] == STEPS
    for k in SHAPES:
        assert sd_gpu["state"][k].keys() == sd_cpu["state"][k].keys()
        for key, a in sd_gpu["state"][k].items():
            assert isinstance(a, np.ndarray) and a.shape == SHAPES[k] and a.dtype == dtype
            np.testing.assert_allclose(a, sd_cpu["state"][k][key], **TOL[dtype], err_msg=key)


def test_state_dict_moves_between_cpu_and_cuda():
    kw = {"lr": 1e-2, "centered": True, "momentum": 0.5}
    grads = grads_list(np.float64)
    host = make_params(np.float64)
    opt = RMSprop(host, target="cpu", **kw)
    for g in grads[:5]:
        opt.step(g)
    sd = opt.state_dict()
    dev = {k: v.copy() for k, v in host.items()}
    opt_gpu = RMSprop(dev, target="cuda")
    opt_gpu.load_state_dict(sd)
    assert opt_gpu.centered and opt_gpu.lr == 1e-2
    for g in grads[5:]:
        opt.step(g)
        opt_gpu.step(g)
    opt_gpu.params_to_host()
    for k in SHAPES:
        np.testing.assert_allclose(dev[k], host[k], rtol=1e-12, atol=1e-13)


def test_device_params_and_params_to_device():
    params = make_params(np.float64)
    opt = SGD(params, lr=0.5, target="cuda")
    d = opt.device_params
    assert {k: tuple(v.shape) for k, v in d.items()} == SHAPES
    params["b"][...] = 1.0  # changed on the host: pushed explicitly
    opt.params_to_device()
    opt.step({k: np.ones(s) for k, s in SHAPES.items()})
    opt.params_to_host()
    np.testing.assert_array_equal(params["b"], 0.5)


@pytest.mark.parametrize("device_grads", [False, True])
def test_transforms_on_the_device(device_grads):
    transforms = [
        scale(-1.0, params=["b"]),
        clip_value(1.5, params=["W"]),
        clip_norm(1.0, params=["W", "s"], per_block=False),
        clip_norm(0.5),
    ]
    host, dev = make_params(np.float32), make_params(np.float32)
    ch_cpu = chain(transforms, RMSprop(host, lr=1e-2, target="cpu"))
    ch_gpu = chain(transforms, RMSprop(dev, lr=1e-2, target="cuda"))
    for g in grads_list(np.float32, steps=4):
        g = {k: np.asarray(3 * v) for k, v in g.items()}
        saved = {k: v.copy() for k, v in g.items()}
        gd = {k: cuda.to_device(v) for k, v in g.items()} if device_grads else g
        ch_cpu.step(g)
        ch_gpu.step(gd)
        for k in SHAPES:  # the caller's gradients, host or device, are left alone
            kept = gd[k].copy_to_host() if device_grads else gd[k]
            np.testing.assert_array_equal(kept, saved[k])
    ch_gpu.params_to_host()
    for k in SHAPES:
        np.testing.assert_allclose(dev[k], host[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_auto_never_picks_cuda():
    """cuda only when asked, even where it is available (here, the simulator)."""
    big = {"w": np.zeros(200_000, dtype=np.float32), "b": np.zeros(3, dtype=np.float32)}
    assert set(RMSprop(big).block_targets.values()) == {"parallel", "cpu"}


def test_bad_device_grads_name_the_parameter():
    opt = SGD(make_params(np.float64), lr=0.1, target="cuda")
    g = {k: cuda.to_device(np.zeros(s)) for k, s in SHAPES.items()}
    g["W"] = cuda.to_device(np.zeros((7, 3)))
    with pytest.raises(ValueError, match=r"grad for 'W' has shape \(7, 3\); param 'W'"):
        opt.step(g)
    g["W"] = cuda.to_device(np.zeros((3, 7), dtype=np.float32))
    with pytest.raises(ValueError, match="grad for 'W' has dtype float32"):
        opt.step(g)
