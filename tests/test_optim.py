"""The fused optimizers of ``workbench.optim`` against the plain-numpy formulas of
``workbench.optim.reference`` (written independently, with temporaries) and closed forms.

Every variant runs 100 steps with seeded random gradients on several named blocks of
different shapes (GRU-like names, a 0-d block among them), on the ``cpu`` and ``parallel``
targets: float64 to 1e-12 relative, float32 to 1e-5 relative (float32 state and arithmetic
on both sides; the kernels and numpy round in a different order, by an ulp or so per step).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from numba.core.caching import NullCache

import workbench.targets as targets
from workbench.optim import PARALLEL_MIN_SIZE, SGD, Adam, RMSprop, _kernels
from workbench.optim.reference import NumpyAdam, NumpyRMSprop, NumpySGD

SHAPES = {"E": (7, 5), "U": (5, 5), "W": (3, 5), "V": (5, 4), "b": (5,), "c": (4,), "s": ()}
STEPS = 100
TOL = {np.float64: dict(rtol=1e-12, atol=1e-13), np.float32: dict(rtol=1e-5, atol=1e-6)}
TARGETS = ("cpu", "parallel")


def make_params(dtype, seed=0, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    return {k: np.asarray(rng.standard_normal(s), dtype=dtype) for k, s in shapes.items()}


def copies(params):
    return {k: v.copy() for k, v in params.items()}


def grad_stream(params, steps, seed=1, scale=1.0):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        yield {
            k: np.asarray(scale * rng.standard_normal(v.shape), dtype=v.dtype)
            for k, v in params.items()
        }


def assert_close(actual: dict, expected: dict, dtype):
    assert actual.keys() == expected.keys()
    for k in expected:
        np.testing.assert_allclose(actual[k], expected[k], **TOL[dtype], err_msg=k)


RMSPROP_VARIANTS = {
    "theano": {},
    "pytorch": {"eps_in_sqrt": False},
    "theano-centered": {"centered": True},
    "pytorch-centered": {"eps_in_sqrt": False, "centered": True},
    "momentum": {"momentum": 0.9},
    "pytorch-momentum": {"eps_in_sqrt": False, "momentum": 0.5},
    "weight-decay": {"weight_decay": 1e-2},
    "centered-momentum-wd": {"centered": True, "momentum": 0.9, "weight_decay": 1e-3},
    "pytorch-all": {
        "eps_in_sqrt": False,
        "centered": True,
        "momentum": 0.7,
        "weight_decay": 1e-2,
        "lr": 1e-2,
        "rho": 0.95,
        "eps": 1e-8,
    },
}
SGD_VARIANTS = {
    "plain": {"lr": 0.05},
    "momentum": {"lr": 0.05, "momentum": 0.9},
    "dampening": {"lr": 0.05, "momentum": 0.9, "dampening": 0.3},
    "nesterov": {"lr": 0.05, "momentum": 0.9, "nesterov": True},
    "weight-decay": {"lr": 0.05, "weight_decay": 1e-2},
    "all": {"lr": 0.02, "momentum": 0.8, "nesterov": True, "weight_decay": 1e-2},
}
ADAM_VARIANTS = {
    "default": {},
    "lr-betas": {"lr": 1e-2, "betas": (0.8, 0.99), "eps": 1e-6},
    "weight-decay": {"lr": 1e-2, "weight_decay": 1e-2},
    "amsgrad": {"lr": 1e-2, "amsgrad": True},
    "amsgrad-wd": {"amsgrad": True, "weight_decay": 1e-3},
}
CASES = (
    [(RMSprop, NumpyRMSprop, name, kw) for name, kw in RMSPROP_VARIANTS.items()]
    + [(SGD, NumpySGD, name, kw) for name, kw in SGD_VARIANTS.items()]
    + [(Adam, NumpyAdam, name, kw) for name, kw in ADAM_VARIANTS.items()]
)
CASE_IDS = [f"{cls.__name__}-{name}" for cls, _, name, _ in CASES]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("cls", "ref_cls", "name", "kw"), CASES, ids=CASE_IDS)
def test_matches_numpy_reference_over_100_steps(cls, ref_cls, name, kw, dtype, target):
    params = make_params(dtype)
    ref_params = copies(params)
    opt = cls(params, target=target, **kw)
    ref = ref_cls(ref_params, **kw)
    for grads in grad_stream(params, STEPS):
        opt.step(grads)
        ref.step(grads)
    assert opt.step_count == STEPS
    assert_close(params, ref_params, dtype)
    for block, state in opt.state.items():  # the state too, array by array
        assert state.keys() == ref.state[block].keys()
        for key, arr in state.items():
            assert arr.dtype == dtype and arr.shape == params[block].shape
            np.testing.assert_allclose(arr, ref.state[block][key], **TOL[dtype], err_msg=key)
    for p in params.values():
        assert p.dtype == dtype


def test_params_are_updated_in_place_and_grads_left_alone():
    params = make_params(np.float64)
    ids = {k: id(v) for k, v in params.items()}
    opt = RMSprop(params, lr=0.1, target="cpu")
    assert opt.params is not params and opt.params == params  # same arrays, by name
    grads = next(grad_stream(params, 1))
    saved = copies(grads)
    before = copies(params)
    opt.step(grads)
    assert {k: id(v) for k, v in params.items()} == ids
    for k in params:
        assert not np.array_equal(params[k], before[k])
        np.testing.assert_array_equal(grads[k], saved[k])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_theano_first_step_closed_form(dtype):
    """The accumulator starts at zero: after one step acc = (1-rho) g^2 and
    p1 = p0 - lr g / sqrt((1-rho) g^2 + eps)."""
    lr, rho, eps = 0.01, 0.9, 1e-6
    params = make_params(dtype)
    p0 = copies(params)
    opt = RMSprop(params, lr=lr, rho=rho, eps=eps, target="cpu")
    for st in opt.state.values():
        assert set(st) == {"square_avg"} and not st["square_avg"].any()
    grads = next(grad_stream(params, 1))
    opt.step(grads)
    rtol = 1e-15 if dtype == np.float64 else 1e-6
    for k, g in grads.items():
        g64 = g.astype(np.float64)
        acc = (1 - rho) * g64**2
        expected = p0[k] - lr * g64 / np.sqrt(acc + eps)
        np.testing.assert_allclose(opt.state[k]["square_avg"], acc, rtol=rtol, atol=0)
        np.testing.assert_allclose(params[k], expected, rtol=rtol, atol=0)


def test_pytorch_form_first_step_closed_form():
    lr, rho, eps = 0.01, 0.9, 1e-3
    params = make_params(np.float64)
    p0 = copies(params)
    opt = RMSprop(params, lr=lr, rho=rho, eps=eps, eps_in_sqrt=False, target="cpu")
    grads = next(grad_stream(params, 1))
    opt.step(grads)
    for k, g in grads.items():
        expected = p0[k] - lr * g / (np.sqrt((1 - rho) * g**2) + eps)
        np.testing.assert_allclose(params[k], expected, rtol=1e-15, atol=0)


@pytest.mark.parametrize("target", TARGETS)
def test_lr_and_rho_changed_between_steps_take_effect(target):
    params = make_params(np.float64)
    ref_params = copies(params)
    opt = RMSprop(params, lr=1e-3, rho=0.9, target=target)
    ref = NumpyRMSprop(ref_params, lr=1e-3, rho=0.9)
    signatures = None
    for i, grads in enumerate(grad_stream(params, 30)):
        opt.lr = ref.lr = 1e-2 / (1 + i)  # a decaying schedule
        if i == 10:
            opt.rho = ref.rho = 0.5
        opt.step(grads)
        ref.step(grads)
        kernel = _kernels.PARALLEL_KERNELS if target == "parallel" else _kernels.CPU_KERNELS
        if signatures is None:
            signatures = list(kernel["rmsprop"].signatures)
        assert list(kernel["rmsprop"].signatures) == signatures  # no recompilation
    assert_close(params, ref_params, np.float64)
    # and a schedule really changes the result: the same run at a fixed lr differs
    fixed = make_params(np.float64)
    plain = RMSprop(fixed, lr=1e-3, rho=0.9, target=target)
    for grads in grad_stream(fixed, 30):
        plain.step(grads)
    assert not np.allclose(fixed["W"], params["W"])


def test_adam_hyperparameters_changed_between_steps():
    params = make_params(np.float64)
    ref_params = copies(params)
    opt, ref = Adam(params, target="cpu"), NumpyAdam(ref_params)
    for i, grads in enumerate(grad_stream(params, 20)):
        if i == 5:
            opt.lr = ref.lr = 3e-3
            opt.betas = ref.betas = (0.5, 0.9)
        if i == 10:  # numpy values, as a schedule computes them
            opt.lr, ref.lr = np.array(2e-3), 2e-3
            opt.betas, ref.betas = np.array([0.6, 0.95]), (0.6, 0.95)
        opt.step(grads)
        ref.step(grads)
    assert_close(params, ref_params, np.float64)


@pytest.mark.parametrize("dampening", [0.0, 0.5])
def test_sgd_momentum_changed_from_zero_starts_a_buffer_as_torch(dampening):
    """A momentum buffer made by a later step starts as that step's gradient (undamped: with
    dampening, a buffer read as zeros would give another number)."""
    params = make_params(np.float64)
    ref_params = copies(params)
    opt = SGD(params, lr=0.1, dampening=dampening, target="cpu")
    ref = NumpySGD(ref_params, lr=0.1, dampening=dampening)
    for i, grads in enumerate(grad_stream(params, 10)):
        if i == 4:
            opt.momentum = ref.momentum = 0.9
        opt.step(grads)
        ref.step(grads)
    assert_close(params, ref_params, np.float64)


RESUME_CASES = [
    (RMSprop, {"lr": 1e-2, "centered": True, "momentum": 0.9, "weight_decay": 1e-3}),
    (RMSprop, {"lr": 1e-2, "eps_in_sqrt": False}),
    (SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    (SGD, {"lr": 0.05, "momentum": 0.9, "dampening": 0.5}),
    (Adam, {"lr": 1e-2, "amsgrad": True, "weight_decay": 1e-3}),
]


@pytest.mark.parametrize("split", [0, 7])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("cls", "kw"), RESUME_CASES, ids=lambda x: getattr(x, "__name__", ""))
def test_state_dict_resume_is_bit_for_bit(cls, kw, dtype, split):
    steps = 15
    grads = list(grad_stream(make_params(dtype), steps, seed=5))
    whole = make_params(dtype)
    opt = cls(whole, target="cpu", **kw)
    for g in grads:
        opt.step(g)

    part = make_params(dtype)
    opt1 = cls(part, target="cpu", **kw)
    for g in grads[:split]:
        opt1.step(g)
    snapshot = opt1.state_dict()
    at_snapshot = copies(part)
    for g in grads[split : split + 3]:  # the snapshot is a copy: later steps leave it alone
        opt1.step(g)

    resumed = copies(at_snapshot)
    other_kw = {k: v for k, v in kw.items() if k != "lr"}
    opt2 = cls(resumed, lr=0.5, target="cpu", **other_kw)  # lr is restored by the load
    opt2.load_state_dict(snapshot)
    assert opt2.lr == kw["lr"] and opt2.step_count == split
    for g in grads[split:]:
        opt2.step(g)
    for k in whole:
        np.testing.assert_array_equal(resumed[k], whole[k], err_msg=k)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("cls", "kw"), RESUME_CASES, ids=lambda x: getattr(x, "__name__", ""))
def test_cpu_and_parallel_targets_agree_bit_for_bit(cls, kw, dtype):
    """Same per-element arithmetic (IEEE, no contraction) whether vectorised or threaded."""
    shapes = {"big": (3, 1001), "small": (5,)}
    a, b = make_params(dtype, shapes=shapes), make_params(dtype, shapes=shapes)
    opt_a, opt_b = cls(a, target="cpu", **kw), cls(b, target="parallel", **kw)
    for g in grad_stream(a, 20):
        opt_a.step(g)
        opt_b.step(g)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_state_dict_contents():
    params = make_params(np.float32)
    opt = RMSprop(params, lr=0.1, centered=True, momentum=0.5, target="cpu")
    for g in grad_stream(params, 3):
        opt.step(g)
    sd = opt.state_dict()
    assert sd["optimizer"] == "RMSprop" and sd["step"] == 3
    assert sd["hyperparameters"] == {
        "lr": 0.1,
        "rho": 0.9,
        "eps": 1e-6,
        "eps_in_sqrt": True,
        "centered": True,
        "momentum": 0.5,
        "weight_decay": 0.0,
    }
    for k, st in sd["state"].items():
        assert set(st) == {"square_avg", "grad_avg", "momentum_buffer"}
        for a in st.values():
            assert a.shape == params[k].shape and a.dtype == np.float32
            assert not np.shares_memory(a, opt.state[k]["square_avg"])


def test_sgd_state_dict_has_no_buffer_before_the_first_step():
    params = make_params(np.float64)
    opt = SGD(params, lr=0.1, momentum=0.9, target="cpu")
    sd = opt.state_dict()
    assert all(st == {} for st in sd["state"].values())
    other = make_params(np.float64)
    opt2 = SGD(other, lr=0.1, momentum=0.9, target="cpu")
    opt2.load_state_dict(sd)
    for g in grad_stream(params, 4):
        opt.step(g)
        opt2.step(g)
    for k in params:
        np.testing.assert_array_equal(params[k], other[k])


def test_load_state_dict_rejects_mismatches():
    params = make_params(np.float64)
    opt = RMSprop(params, target="cpu")
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="is for 'RMSprop'"):
        Adam(make_params(np.float64), target="cpu").load_state_dict(sd)
    with pytest.raises(ValueError, match="blocks"):
        RMSprop({"W": params["W"].copy()}, target="cpu").load_state_dict(sd)
    with pytest.raises(ValueError, match=r"'square_avg' of 'E' is float64\[7, 5\]; param 'E' is"):
        RMSprop(make_params(np.float32), target="cpu").load_state_dict(sd)
    # a snapshot with a bad hyperparameter is refused before anything changes
    bad = dict(sd, hyperparameters=dict(sd["hyperparameters"], rho=0.5, lr=-1.0))
    target = RMSprop(make_params(np.float64), lr=3e-3, target="cpu")
    with pytest.raises(ValueError, match="lr"):
        target.load_state_dict(bad)
    assert (target.lr, target.rho) == (3e-3, 0.9)


@pytest.mark.parametrize("cls", [RMSprop, SGD, Adam])
def test_float32_state_stays_float32(cls):
    params = make_params(np.float32)
    opt = cls(params, lr=1e-2, momentum=0.9, target="cpu") if cls is not Adam else cls(params)
    for g in grad_stream(params, 2):
        opt.step(g)
    for st in opt.state.values():
        for a in st.values():
            assert a.dtype == np.float32


def test_auto_target_chooses_by_block_size():
    params = {
        "small": np.zeros(10, dtype=np.float32),
        "large": np.zeros(PARALLEL_MIN_SIZE, dtype=np.float32),
    }
    opt = RMSprop(params)
    assert opt.target == "auto"
    assert opt.block_targets == {"small": "cpu", "large": "parallel"}
    assert RMSprop(params, target="CPU").block_targets == {"small": "cpu", "large": "cpu"}


def test_zero_size_and_non_contiguous_grads():
    params = {"empty": np.zeros((0, 3)), "M": np.ones((4, 3))}
    opt = SGD(params, lr=0.5, target="cpu")
    g_t = np.arange(12.0).reshape(3, 4).T  # a transposed (non-contiguous) view is fine
    opt.step({"empty": np.zeros((0, 3)), "M": g_t})
    np.testing.assert_array_equal(params["M"], 1 - 0.5 * g_t)


def test_numpy_scalar_grad_for_a_0d_param():
    params = {"s": np.array(1.0, dtype=np.float32)}
    opt = SGD(params, lr=0.5, target="cpu")
    opt.step({"s": np.float32(1.0)})
    assert params["s"] == np.float32(0.5)
    with pytest.raises(ValueError, match="grad for 's' has dtype float64"):
        opt.step({"s": np.float64(1.0)})


# ----------------------------------------------------------------------------------- errors


def test_grad_errors_name_the_parameter():
    params = {"W": np.zeros((4, 3)), "b": np.zeros(3)}
    opt = RMSprop(params, target="cpu")
    with pytest.raises(ValueError) as e:
        opt.step({"W": np.zeros((3, 4)), "b": np.zeros(3)})
    assert str(e.value) == "grad for 'W' has shape (3, 4); param 'W' has shape (4, 3)"
    with pytest.raises(ValueError, match="grad for 'b' has dtype float32; param 'b' has dtype"):
        opt.step({"W": np.zeros((4, 3)), "b": np.zeros(3, dtype=np.float32)})
    with pytest.raises(ValueError, match="missing grads for 'b'"):
        opt.step({"W": np.zeros((4, 3))})
    with pytest.raises(ValueError, match="grads for unknown params 'x'"):
        opt.step({"W": np.zeros((4, 3)), "b": np.zeros(3), "x": np.zeros(1)})
    with pytest.raises(TypeError, match="grad for 'b' must be a numpy array"):
        opt.step({"W": np.zeros((4, 3)), "b": [0.0, 0.0, 0.0]})
    with pytest.raises(TypeError, match="mapping"):
        opt.step([np.zeros((4, 3)), np.zeros(3)])
    assert opt.step_count == 0
    np.testing.assert_array_equal(params["W"], 0)  # nothing was updated


def test_param_errors():
    W = np.zeros((4, 3))
    with pytest.raises(ValueError, match="param 'W' is not C-contiguous"):
        RMSprop({"W": W.T})
    with pytest.raises(ValueError, match="param 'W' is not C-contiguous"):
        RMSprop({"W": W[:, ::2]})
    with pytest.raises(ValueError, match="param 'i' has dtype int64; accepted: float32, float64"):
        RMSprop({"i": np.zeros(3, dtype=np.int64)})
    with pytest.raises(ValueError, match="param 'h' has dtype float16"):
        SGD({"h": np.zeros(3, dtype=np.float16)}, lr=0.1)
    ro = np.zeros(3)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="param 'ro' is read-only"):
        Adam({"ro": ro})
    with pytest.raises(TypeError, match="param 'l' must be a numpy array"):
        Adam({"l": [1.0, 2.0]})
    with pytest.raises(TypeError, match="mapping"):
        Adam([W])
    with pytest.raises(ValueError, match="empty"):
        Adam({})
    with pytest.raises(ValueError, match="params 'a' and 'b' share memory"):
        Adam({"a": W, "b": W[1:]})


def test_hyperparameter_and_target_errors(monkeypatch):
    p = {"w": np.zeros(3)}
    with pytest.raises(ValueError, match="invalid lr"):
        RMSprop(p, lr=-1.0)
    with pytest.raises(ValueError, match="invalid rho"):
        RMSprop(p, rho=1.5)
    with pytest.raises(ValueError, match="nesterov"):
        SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        Adam(p, betas=(0.9, 1.0))
    opt = RMSprop(p)
    opt.lr = -0.5  # checked again when stepping
    with pytest.raises(ValueError, match="invalid lr"):
        opt.step({"w": np.zeros(3)})
    with pytest.raises(targets.TargetError, match="unknown target 'gpu'"):
        RMSprop(p, target="gpu")
    monkeypatch.setattr(targets, "cuda_available", lambda: False)
    with pytest.raises(targets.TargetError, match="target 'cuda' requested"):
        RMSprop(p, target="cuda")


def test_device_grads_rejected_on_host_targets():
    class FakeDeviceArray:
        __cuda_array_interface__ = {}
        shape, dtype = (3,), np.float64

    opt = SGD({"w": np.zeros(3)}, lr=0.1, target="cpu")
    with pytest.raises(ValueError, match="grad for 'w' is a CUDA device array"):
        opt.step({"w": FakeDeviceArray()})


# ------------------------------------------------------------------------------------ cache


def test_kernels_come_from_the_on_disk_cache():
    """Every kernel dispatcher used by a step is cached on disk (``cache=True``)."""
    for target in TARGETS:
        for dtype in (np.float32, np.float64):
            params = make_params(dtype, shapes={"a": (3,), "b": (2, 2)})
            for opt in (
                RMSprop(params, momentum=0.5, centered=True, target=target),
                SGD(params, lr=0.1, momentum=0.5, target=target),
                Adam(params, amsgrad=True, target=target),
            ):
                opt.step(next(grad_stream(params, 1)))
    used = [
        d
        for table in (_kernels.CPU_KERNELS, _kernels.PARALLEL_KERNELS)
        for name, d in table.items()
        if name != "sum_squares"
    ]
    for d in used:  # (the element functions they call are compiled only on a cache miss)
        assert d.signatures, d
        assert d._cache is not None and not isinstance(d._cache, NullCache), d
        assert d.targetoptions.get("fastmath") is False


def test_importing_the_package_leaves_numba_cuda_alone():
    """numba.cuda is imported (and CUDA kernels compiled) only for target='cuda'."""
    code = (
        "import sys, numpy as np, workbench.optim as o; "
        "o.RMSprop({'w': np.zeros(3)}, target='cpu').step({'w': np.ones(3)}); "
        "assert 'numba.cuda' not in sys.modules, 'numba.cuda imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)
