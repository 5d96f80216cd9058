"""The optimizer registry (``workbench.optim.registry``) and Adagrad, the rule added through it.

Adagrad is checked against torch.optim.Adagrad's single-tensor formula written out here in
numpy (step by step, in the parameter's dtype), against its numpy reference class, cpu
against parallel bit for bit, and through a ``state_dict`` resume; then the registry itself:
every rule has its class, reference, kernels (one loop template, cached) and config section,
and a kind that is not registered is an error wherever a kind is looked up.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from numba.core.caching import NullCache

from workbench.optim import (
    RULES,
    SGD,
    Adagrad,
    Adam,
    RMSprop,
    UnknownOptimizer,
    _kernels,
    optimizer_class,
)
from workbench.optim.reference import NumpyAdagrad
from workbench.optim.registry import rule

SHAPES = {"W": (7, 5), "b": (5,), "s": ()}
TARGETS = ("cpu", "parallel")
OPTIONS = {"lr": 0.05, "lr_decay": 0.1, "weight_decay": 0.02, "initial_accumulator_value": 0.3}


def make_params(dtype, seed=0, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    return {k: np.asarray(rng.standard_normal(s), dtype=dtype) for k, s in shapes.items()}


def grad_stream(params, steps, seed=1):
    rng = np.random.default_rng(seed)
    return [
        {k: np.asarray(rng.standard_normal(v.shape), dtype=v.dtype) for k, v in params.items()}
        for _ in range(steps)
    ]


def torch_adagrad(p, grads, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                  eps=1e-10):  # fmt: skip
    """torch.optim.Adagrad's single-tensor update, written out in p's dtype: (p, sum)."""
    dt = p.dtype.type
    p = p.copy()
    s = np.full_like(p, initial_accumulator_value)
    for t, g in enumerate(grads, start=1):
        g = g.copy()
        if weight_decay != 0:
            g = g + dt(weight_decay) * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g
        std = np.sqrt(s) + dt(eps)
        p = p - dt(clr) * (g / std)
    return p, s


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(
    ("dtype", "rtol"), [(np.float64, 1e-14), (np.float32, 1e-6)], ids=["float64", "float32"]
)
def test_adagrad_is_torchs_formula(dtype, rtol, target):
    params = make_params(dtype)
    start = {k: v.copy() for k, v in params.items()}
    grads = grad_stream(params, 12)
    opt = Adagrad(params, eps=1e-8, target=target, **OPTIONS)
    for g in grads:
        opt.step(g)
    assert opt.step_count == 12
    for k in params:
        p, s = torch_adagrad(start[k], [g[k] for g in grads], eps=1e-8, **OPTIONS)
        assert params[k].dtype == dtype and opt.state[k]["sum"].dtype == dtype
        np.testing.assert_allclose(params[k], p, rtol=rtol, atol=0, err_msg=k)
        np.testing.assert_allclose(opt.state[k]["sum"], s, rtol=rtol, atol=0, err_msg=k)
    # and the options matter: the same steps with the defaults end elsewhere
    plain = {k: v.copy() for k, v in start.items()}
    default = Adagrad(plain, target=target)
    for g in grads:
        default.step(g)
    assert not np.allclose(plain["W"], params["W"])


def test_adagrad_defaults_are_torchs():
    sig = inspect.signature(Adagrad)
    assert list(sig.parameters) == [
        "params",
        "lr",
        "lr_decay",
        "weight_decay",
        "initial_accumulator_value",
        "eps",
        "target",
    ]
    defaults = {k: v.default for k, v in sig.parameters.items() if k != "params"}
    assert defaults == {
        "lr": 1e-2,
        "lr_decay": 0.0,
        "weight_decay": 0.0,
        "initial_accumulator_value": 0.0,
        "eps": 1e-10,
        "target": "auto",
    }
    opt = Adagrad({"w": np.zeros(3)}, 0.5)  # positional, as the signature says
    assert opt.lr == 0.5 and opt.eps == 1e-10
    assert set(opt.state["w"]) == {"sum"} and not opt.state["w"]["sum"].any()
    filled = Adagrad({"w": np.zeros(3)}, initial_accumulator_value=0.25)
    np.testing.assert_array_equal(filled.state["w"]["sum"], 0.25)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adagrad_matches_its_numpy_reference(dtype, target):
    params = make_params(dtype)
    ref_params = {k: v.copy() for k, v in params.items()}
    opt = Adagrad(params, target=target, **OPTIONS)
    ref = NumpyAdagrad(ref_params, **OPTIONS)
    for g in grad_stream(params, 50):
        opt.step(g)
        ref.step(g)
    tol = dict(rtol=1e-12, atol=1e-13) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    for k in params:
        np.testing.assert_allclose(params[k], ref_params[k], **tol, err_msg=k)
        np.testing.assert_allclose(opt.state[k]["sum"], ref.state[k]["sum"], **tol, err_msg=k)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adagrad_cpu_and_parallel_agree_bit_for_bit(dtype):
    shapes = {"big": (3, 1001), "small": (5,)}
    a, b = make_params(dtype, shapes=shapes), make_params(dtype, shapes=shapes)
    opt_a = Adagrad(a, target="cpu", **OPTIONS)
    opt_b = Adagrad(b, target="parallel", **OPTIONS)
    for g in grad_stream(a, 20):
        opt_a.step(g)
        opt_b.step(g)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.mark.parametrize("split", [0, 7])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adagrad_state_dict_resume_is_bit_for_bit(dtype, split):
    grads = grad_stream(make_params(dtype), 15, seed=5)
    whole = make_params(dtype)
    opt = Adagrad(whole, target="cpu", **OPTIONS)
    for g in grads:
        opt.step(g)

    part = make_params(dtype)
    opt1 = Adagrad(part, target="cpu", **OPTIONS)
    for g in grads[:split]:
        opt1.step(g)
    snapshot = opt1.state_dict()
    assert snapshot["optimizer"] == "Adagrad" and snapshot["step"] == split
    assert snapshot["hyperparameters"] == {"eps": 1e-10, **OPTIONS}
    assert all(set(st) == {"sum"} for st in snapshot["state"].values())
    resumed = {k: v.copy() for k, v in part.items()}
    opt2 = Adagrad(resumed, lr=0.5, target="cpu")  # the load restores every option
    opt2.load_state_dict(snapshot)
    assert opt2.hyperparameter_values() == {"eps": 1e-10, **OPTIONS}
    for g in grads[split:]:
        opt2.step(g)
    for k in whole:
        np.testing.assert_array_equal(resumed[k], whole[k], err_msg=k)


def test_adagrad_option_errors():
    p = {"w": np.zeros(3)}
    for name in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
        with pytest.raises(ValueError, match=f"invalid {name} -1"):
            Adagrad(p, **{name: -1.0})
    with pytest.raises(TypeError, match="lr must be a number"):
        Adagrad(p, lr="fast")
    with pytest.raises(TypeError, match="unexpected keyword argument 'rho'"):
        Adagrad(p, rho=0.9)
    opt = Adagrad(p)
    opt.lr_decay = -0.5  # checked again when stepping
    with pytest.raises(ValueError, match="invalid lr_decay"):
        opt.step({"w": np.ones(3)})


# ----------------------------------------------------------------------------- the registry


def test_every_rule_has_its_class_reference_kernels_and_config_section():
    from workbench.experiments import train

    assert set(RULES) >= {"rmsprop", "sgd", "adam", "adagrad"}
    classes = {"rmsprop": RMSprop, "sgd": SGD, "adam": Adam, "adagrad": Adagrad}
    for kind, r in RULES.items():
        cls = optimizer_class(kind)
        if kind in classes:
            assert cls is classes[kind]
        assert cls.rule is r and cls.kind == kind and cls.__name__ == r.title
        assert cls.hyperparameters == r.option_names
        params = [p for p in inspect.signature(r.reference).parameters if p != "target"]
        assert params == ["params", *r.option_names], kind
        section = train.OPTIMIZER_SECTIONS[kind]
        assert section.__name__ == f"{r.title}Optimizer"
        config_keys = {o.name for o in r.options if o.in_config}
        assert set(section.model_fields) == {"kind", *config_keys}


def test_cpu_and_parallel_loops_are_one_cached_template():
    params = make_params(np.float64, shapes={"a": (3,)})
    for target in TARGETS:
        Adagrad(params, target=target).step(grad_stream(params, 1)[0])
    cpu, par = _kernels.CPU_KERNELS["adagrad"], _kernels.PARALLEL_KERNELS["adagrad"]
    assert cpu is not par
    for d in (cpu, par):
        assert d.py_func.__code__.co_filename.endswith("_loop.py")
        assert d.py_func.__module__.endswith(f"_loop_adagrad_{'cpu' if d is cpu else 'parallel'}")
        assert d.signatures
        assert d._cache is not None and not isinstance(d._cache, NullCache)
        assert d.targetoptions.get("fastmath") is False
    assert par.targetoptions.get("parallel") and not cpu.targetoptions.get("parallel")


def test_an_unregistered_kind_is_an_error():
    from workbench.experiments import train

    with pytest.raises(UnknownOptimizer, match="unknown optimizer kind 'nadam'; registered: "):
        rule("nadam")
    with pytest.raises(ValueError, match="unknown optimizer kind 'nadam'"):
        optimizer_class("nadam")
    with pytest.raises(KeyError):
        _kernels.CPU_KERNELS["nadam"]
    spec = SimpleNamespace(kind="nadam", model_dump=lambda exclude=None: {"lr": 0.1})
    params = {"w": np.zeros(3)}
    for numpy in (False, True):  # never a silent stand-in (the reference path used Adam)
        with pytest.raises(UnknownOptimizer, match="nadam"):
            train.build_optimizer(spec, params, "cpu", numpy=numpy)
    with pytest.raises(ValueError, match="nadam"):
        train.TrainConfig.model_validate({"optimizer": {"kind": "nadam"}})


def test_every_loop_loads_from_the_cache_in_a_new_process():
    """The loop instances share one source file: each must find its own cache entries."""
    code = (
        "import numpy as np\n"
        "from workbench.optim import RULES, _kernels, optimizer_class\n"
        "p = {'w': np.zeros(5)}\n"
        "for kind in RULES:\n"
        "    kw = {'lr': 0.1} if kind == 'sgd' else {}\n"
        "    for target in ('cpu', 'parallel'):\n"
        "        for dt in (np.float32, np.float64):\n"
        "            q = {'w': p['w'].astype(dt)}\n"
        "            optimizer_class(kind)(q, target=target, **kw).step({'w': q['w'] + 1})\n"
        "tables = (_kernels.CPU_KERNELS, _kernels.PARALLEL_KERNELS)\n"
        "print(sum(sum(d.stats.cache_misses.values()) for t in tables for k, d in t.items()\n"
        "          if k != 'sum_squares'))\n"
    )
    run = [sys.executable, "-c", code]
    subprocess.run(run, check=True, capture_output=True, timeout=300)  # fills the cache
    again = subprocess.run(run, check=True, capture_output=True, text=True, timeout=300)
    assert again.stdout.strip() == "0"
