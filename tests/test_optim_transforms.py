"""Gradient transforms (scale, clip_value, clip_norm) chained in front of the optimizers,
against numpy and ``torch.nn.utils.clip_grad_norm_``'s formula; and the descent-ascent
saddle, solved with ``scale(-1.0, params=["y"])``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.optim import (
    SGD,
    Adam,
    RMSprop,
    chain,
    clip_norm,
    clip_value,
    scale,
)
from workbench.optim.reference import NumpyRMSprop

SHAPES = {"W": (4, 3), "b": (3,), "y": (2,)}


def make(dtype=np.float64, seed=0, spread=(3.0, 0.1, 2.0)):
    rng = np.random.default_rng(seed)
    return {
        k: np.asarray(s * rng.standard_normal(shape), dtype=dtype)
        for (k, shape), s in zip(SHAPES.items(), spread, strict=True)
    }


def zeros(dtype=np.float64):
    return {k: np.zeros(s, dtype=dtype) for k, s in SHAPES.items()}


def torch_clip(blocks: list[np.ndarray], max_norm: float) -> list[np.ndarray]:
    """clip_grad_norm_ on a list of tensors: one norm over all of them."""
    norm = math.sqrt(sum(float(np.sum(b.astype(np.float64) ** 2)) for b in blocks))
    if norm > max_norm:
        return [b * (max_norm / (norm + 1e-6)) for b in blocks]
    return [b.copy() for b in blocks]


def transformed(transforms, grads, dtype=np.float64):
    """The gradients after the chain's transforms, in the params' shapes."""
    ch = chain(transforms, SGD(zeros(dtype), lr=1.0, target="cpu"))
    flat = ch.transformed(grads)
    return {k: v.reshape(SHAPES[k]) for k, v in flat.items()}


def assert_blocks(actual, expected, **tol):
    assert actual.keys() == expected.keys()
    for k in expected:
        np.testing.assert_allclose(actual[k], expected[k], err_msg=k, **tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_scale(dtype):
    g = make(dtype)
    out = transformed([scale(-2.5, params=["W", "y"])], g, dtype)
    assert_blocks(out, {"W": -2.5 * g["W"], "b": g["b"], "y": -2.5 * g["y"]}, rtol=0, atol=0)
    out = transformed([scale(0.5)], g, dtype)
    assert_blocks(out, {k: 0.5 * v for k, v in g.items()}, rtol=0, atol=0)
    assert all(v.dtype == dtype for v in out.values())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clip_value(dtype):
    g = make(dtype)
    g["W"][0, 0] = np.nan
    out = transformed([clip_value(0.7, params="W")], g, dtype)
    expected = {**g, "W": np.clip(g["W"], -0.7, 0.7)}
    assert np.isnan(out["W"][0, 0])
    assert_blocks(out, expected, rtol=0, atol=0)
    out = transformed([clip_value(0.05)], g, dtype)
    assert_blocks(out, {k: np.clip(v, -0.05, 0.05) for k, v in g.items()}, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clip_norm_per_block(dtype):
    g = make(dtype)  # norms: W about 7, b about 0.3, y about 1.8
    norms = {k: float(np.linalg.norm(v.astype(np.float64))) for k, v in g.items()}
    assert norms["W"] > 1 and norms["b"] < 1 and norms["y"] > 1
    out = transformed([clip_norm(1.0)], g, dtype)
    expected = {k: torch_clip([v], 1.0)[0] for k, v in g.items()}
    rtol = 1e-14 if dtype == np.float64 else 1e-6
    assert_blocks(out, expected, rtol=rtol, atol=0)
    np.testing.assert_array_equal(out["b"], g["b"])  # under max_norm: untouched
    assert np.linalg.norm(out["W"]) == pytest.approx(1.0, rel=1e-5)


def test_clip_norm_global_over_selected_blocks():
    g = make()
    out = transformed([clip_norm(2.0, params=["W", "b"], per_block=False)], g)
    w, b = torch_clip([g["W"], g["b"]], 2.0)
    assert_blocks(out, {"W": w, "b": b, "y": g["y"]}, rtol=1e-14, atol=0)
    total = math.sqrt(np.sum(out["W"] ** 2) + np.sum(out["b"] ** 2))
    assert total == pytest.approx(2.0, rel=1e-6)
    # global over all blocks
    out = transformed([clip_norm(2.0, per_block=False)], g)
    expected = dict(zip(g, torch_clip(list(g.values()), 2.0), strict=True))
    assert_blocks(out, expected, rtol=1e-14, atol=0)
    # a max_norm above the global norm changes nothing
    out = transformed([clip_norm(100.0, per_block=False)], g)
    assert_blocks(out, g, rtol=0, atol=0)


def test_transforms_apply_in_the_order_listed():
    g = make()
    a = transformed([scale(10.0), clip_value(1.0)], g)
    b = transformed([clip_value(1.0), scale(10.0)], g)
    assert_blocks(a, {k: np.clip(10.0 * v, -1, 1) for k, v in g.items()}, rtol=0, atol=0)
    assert_blocks(b, {k: 10.0 * np.clip(v, -1, 1) for k, v in g.items()}, rtol=0, atol=0)
    c = transformed([clip_norm(1.0, per_block=False), scale(-1.0, params=["y"])], g)
    clipped = dict(zip(g, torch_clip(list(g.values()), 1.0), strict=True))
    assert_blocks(c, {**clipped, "y": -clipped["y"]}, rtol=1e-14, atol=0)


@pytest.mark.parametrize(
    "transforms",
    [
        [scale(3.0)],
        [clip_value(0.1)],
        [clip_norm(0.5)],
        [clip_norm(0.5, per_block=False)],
        [scale(-1.0, params=["y"]), clip_value(0.2), clip_norm(0.3)],
    ],
    ids=["scale", "clip_value", "clip_norm", "clip_norm_global", "all"],
)
def test_callers_grads_untouched(transforms):
    params = make(seed=3)
    ch = chain(transforms, RMSprop(params, lr=0.1, target="cpu"))
    g = make(seed=4)
    saved = {k: v.copy() for k, v in g.items()}
    for _ in range(3):
        ch.step(g)
    for k in g:
        np.testing.assert_array_equal(g[k], saved[k])


def test_chained_step_equals_the_reference_on_transformed_grads():
    """chain + RMSprop == numpy transforms, then the numpy RMSprop."""
    params = make(seed=1)
    ref_params = {k: v.copy() for k, v in params.items()}
    ch = chain(
        [scale(-1.0, params=["y"]), clip_norm(1.0, per_block=False)],
        RMSprop(params, lr=1e-2, momentum=0.5, weight_decay=1e-2, target="cpu"),
    )
    ref = NumpyRMSprop(ref_params, lr=1e-2, momentum=0.5, weight_decay=1e-2)
    rng = np.random.default_rng(9)
    for _ in range(50):
        g = {k: rng.standard_normal(v.shape) for k, v in params.items()}
        ch.step(g)
        h = dict(g, y=-g["y"])
        ref.step(dict(zip(h, torch_clip(list(h.values()), 1.0), strict=True)))
    assert_blocks(params, ref_params, rtol=1e-12, atol=1e-13)


def test_chain_passes_the_optimizer_through():
    params = make()
    opt = RMSprop(params, lr=1e-3, target="cpu")
    ch = chain([scale(2.0)], opt)
    assert ch.params is opt.params
    assert ch.lr == 1e-3 and ch.rho == 0.9 and ch.step_count == 0
    ch.lr, ch.rho = 0.5, 0.8
    assert opt.lr == 0.5 and opt.rho == 0.8
    ch.step(make(seed=2))
    assert ch.step_count == 1
    sd = ch.state_dict()
    assert sd["step"] == 1 and sd["hyperparameters"]["lr"] == 0.5
    ch2 = chain([scale(2.0)], RMSprop({k: v.copy() for k, v in params.items()}, target="cpu"))
    ch2.load_state_dict(sd)
    assert ch2.lr == 0.5 and ch2.optimizer.step_count == 1
    assert ch.params_to_host() is opt.params
    assert "scale(2.0)" in repr(ch).lower()
    # a single transform is accepted too
    assert len(chain(clip_value(1.0), Adam(make(), target="cpu")).transforms) == 1


def test_chain_errors():
    opt = SGD(make(), lr=0.1, target="cpu")
    with pytest.raises(ValueError, match="unknown parameter block.*'z'"):
        chain([scale(2.0, params=["W", "z"])], opt)
    with pytest.raises(TypeError, match="transforms"):
        chain([lambda g: g], opt)
    with pytest.raises(TypeError, match=r"optimizer \(RMSprop, SGD, Adam, Adagrad\)"):
        chain([scale(2.0)], object())
    with pytest.raises(ValueError, match="limit"):
        clip_value(-1.0)
    with pytest.raises(ValueError, match="max_norm"):
        clip_norm(float("nan"))
    with pytest.raises(ValueError, match="finite"):
        scale(float("inf"))
    ch = chain([scale(2.0)], opt)
    with pytest.raises(ValueError, match="grad for 'W' has shape"):
        ch.step({**make(), "W": np.zeros((3, 4))})


# ------------------------------------------------------------------------- descent-ascent


def saddle(nx=4, ny=3, seed=0):
    """f(x, y) = x'Ax/2 + x'Cy - y'Dy/2, A and D symmetric positive definite: the unique
    stationary point (0, 0) is a saddle, a minimum in x and a maximum in y."""
    rng = np.random.default_rng(seed)
    qa = rng.standard_normal((nx, nx))
    qd = rng.standard_normal((ny, ny))
    A = qa @ qa.T / nx + np.eye(nx)
    D = qd @ qd.T / ny + np.eye(ny)
    C = rng.standard_normal((nx, ny))
    x0, y0 = rng.standard_normal(nx), rng.standard_normal(ny)
    return A, C, D, x0, y0


def saddle_grads(params, A, C, D):
    x, y = params["x"], params["y"]
    return {"x": A @ x + C @ y, "y": C.T @ x - D @ y}


def test_descent_ascent_converges_to_the_saddle():
    A, C, D, x0, y0 = saddle()
    # descent in x, ascent in y: z' = -M z with M = [[A, C], [-C', D]], whose symmetric part
    # diag(A, D) is positive definite, so every eigenvalue has a positive real part and
    # z <- (I - lr M) z contracts for lr < 2 Re(l)/|l|^2.
    M = np.block([[A, C], [-C.T, D]])
    lam = np.linalg.eigvals(M)
    assert (lam.real > 0).all()
    lr = float(np.min(lam.real / np.abs(lam) ** 2))  # half the stability bound
    rate = float(np.max(np.abs(1 - lr * lam)))
    assert rate < 1
    steps = int(math.ceil(math.log(1e-12) / math.log(rate)))
    assert steps < 20_000

    params = {"x": x0.copy(), "y": y0.copy()}
    opt = chain([scale(-1.0, params=["y"])], SGD(params, lr=lr, target="cpu"))
    for _ in range(steps):
        opt.step(saddle_grads(params, A, C, D))
    np.testing.assert_allclose(params["x"], 0, atol=1e-8)
    np.testing.assert_allclose(params["y"], 0, atol=1e-8)
    g = saddle_grads(params, A, C, D)
    assert np.linalg.norm(np.concatenate([g["x"], g["y"]])) < 1e-8


def test_plain_descent_on_both_blocks_does_not_find_the_saddle():
    """Without the sign flip y follows -grad_y = D y - C'x: the Jacobian [[A, C], [C', -D]] is
    symmetric with ny negative eigenvalues, so (0, 0) repels along them and y runs away."""
    A, C, D, x0, y0 = saddle()
    N = np.block([[A, C], [C.T, -D]])
    assert (np.linalg.eigvalsh(N) < 0).sum() == len(y0)
    M = np.block([[A, C], [-C.T, D]])
    lam = np.linalg.eigvals(M)
    lr = float(np.min(lam.real / np.abs(lam) ** 2))  # the step size that converges above

    params = {"x": x0.copy(), "y": y0.copy()}
    opt = SGD(params, lr=lr, target="cpu")
    start = np.linalg.norm(y0)
    for _ in range(500):
        opt.step(saddle_grads(params, A, C, D))
    assert np.linalg.norm(params["y"]) > 1e3 * start  # y moves away from the saddle
    assert np.linalg.norm(params["y"]) > 1e3
