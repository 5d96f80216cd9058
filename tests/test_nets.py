"""Softmax regression and the MLP: gradients against finite differences, the compiled model
against its numpy reference, dropout, gradient reversal, shapes and dtypes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gradcheck import assert_close_blocks, central_differences

from workbench.models import nets, reference

RNG = np.random.default_rng(20240601)


def problem(sizes, n=13, seed=0, bias_scale=0.1):
    """Parameters with non-zero biases, a batch and its labels."""
    rng = np.random.default_rng(seed)
    params = nets.init_params(sizes, seed=seed)
    for k in params:
        if k.startswith("b"):
            params[k] = bias_scale * rng.standard_normal(params[k].shape)
    X = rng.standard_normal((n, sizes[0]))
    y = rng.integers(0, sizes[-1], n)
    return params, X, y


def finite_differences(params, X, y, h=1e-6, **kw):
    """Central differences of the loss, one parameter entry at a time."""
    return central_differences(lambda: nets.loss_and_grad(params, X, y, **kw)[0], params, h)


CASES = [
    pytest.param([4, 3], {}, id="softmax"),
    pytest.param([4, 3], {"l2": 0.3}, id="softmax-l2"),
    pytest.param([4, 3], {"dropout_input": 0.3, "rng_seed": 7}, id="softmax-dropout"),
    pytest.param([4, 6, 3], {"activation": "relu"}, id="mlp-relu"),
    pytest.param([4, 6, 3], {"activation": "tanh"}, id="mlp-tanh"),
    pytest.param([4, 6, 5, 3], {"activation": "tanh", "l2": 0.05}, id="mlp2-tanh-l2"),
    pytest.param([4, 6, 5, 3], {"activation": "relu", "l2": 0.05}, id="mlp2-relu-l2"),
    pytest.param(
        [4, 6, 5, 3],
        {"activation": "tanh", "dropout_input": 0.2, "dropout_hidden": 0.4, "rng_seed": 3},
        id="mlp2-tanh-dropout",
    ),
    pytest.param(
        [4, 7, 3],
        {"activation": "relu", "dropout_input": 0.1, "dropout_hidden": 0.5, "rng_seed": 11},
        id="mlp-relu-dropout",
    ),
]


@pytest.mark.parametrize(("sizes", "kw"), CASES)
def test_gradients_match_central_differences(sizes, kw):
    params, X, y = problem(sizes)
    _, grads = nets.loss_and_grad(params, X, y, **kw)
    assert_close_blocks(grads, finite_differences(params, X, y, **kw), rtol=1e-6)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("grl_layer", [0, 1])
def test_gradient_reversal_reverses_the_layers_before_it(activation, grl_layer):
    sizes = [4, 6, 5, 3]
    lam, l2 = 0.7, 0.02
    params, X, y = problem(sizes, seed=5)
    kw = dict(activation=activation, dropout_hidden=0.2, rng_seed=9)
    plain = finite_differences(params, X, y, **kw)  # the data loss alone, no penalty
    _, grads = nets.loss_and_grad(params, X, y, grl_lambda=lam, grl_layer=grl_layer, l2=l2, **kw)
    want = {}
    for l in range(3):
        factor = -lam if l <= grl_layer else 1.0
        want[f"W{l}"] = factor * plain[f"W{l}"] + l2 * params[f"W{l}"]
        want[f"b{l}"] = factor * plain[f"b{l}"]
    assert_close_blocks(grads, want, rtol=1e-6)
    # the forward pass, and so the loss, does not see the GRL
    with_grl, _ = nets.loss_and_grad(params, X, y, grl_lambda=lam, grl_layer=grl_layer, **kw)
    assert with_grl == nets.loss_and_grad(params, X, y, **kw)[0]


REFERENCE_CASES = [
    *CASES,
    pytest.param(
        [5, 8, 6, 4],
        {
            "activation": "relu",
            "dropout_input": 0.25,
            "dropout_hidden": 0.5,
            "rng_seed": 123,
            "grl_lambda": 0.5,
            "grl_layer": 1,
            "l2": 0.01,
        },
        id="everything",
    ),
    pytest.param([5, 8, 6, 4], {"activation": "tanh", "grl_lambda": 2.0}, id="grl-0"),
]


@pytest.mark.parametrize(("sizes", "kw"), REFERENCE_CASES)
def test_compiled_model_matches_the_numpy_reference(sizes, kw):
    params, X, y = problem(sizes, n=40, seed=2)
    loss, grads = nets.loss_and_grad(params, X, y, **kw)
    ref_loss, ref_grads = reference.net_loss_and_grad(params, X, y, **kw)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert set(grads) == set(ref_grads)
    for k in grads:
        scale = np.max(np.abs(ref_grads[k]))
        np.testing.assert_allclose(grads[k], ref_grads[k], rtol=1e-12, atol=1e-12 * scale)


def test_float32_matches_the_float32_reference_and_float64():
    sizes = [6, 10, 4]
    p64, X, y = problem(sizes, n=50, seed=4)
    p32 = {k: v.astype(np.float32) for k, v in p64.items()}
    kw = dict(activation="tanh", dropout_input=0.1, dropout_hidden=0.2, rng_seed=1, l2=0.01)
    loss32, g32 = nets.loss_and_grad(p32, X.astype(np.float32), y, **kw)
    ref32, r32 = reference.net_loss_and_grad(p32, X.astype(np.float32), y, **kw)
    loss64, g64 = nets.loss_and_grad(p64, X, y, **kw)
    assert isinstance(loss32, float)
    assert loss32 == pytest.approx(ref32, rel=1e-6)
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    for k in g32:
        assert g32[k].dtype == np.float32 and r32[k].dtype == np.float32
        np.testing.assert_allclose(g32[k], r32[k], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(g32[k], g64[k], rtol=1e-4, atol=1e-6)


def test_loss_of_a_hand_computed_case():
    # one hidden tanh unit: h = tanh(x . w0 + b0), z = h * W1 + b1
    params = {
        "W0": np.array([[0.5], [-1.0]]),
        "b0": np.array([0.25]),
        "W1": np.array([[2.0, -1.0, 0.0]]),
        "b1": np.array([0.0, 0.5, -0.5]),
    }
    X = np.array([[1.0, 2.0], [0.0, -1.0]])
    y = np.array([0, 2])
    want = 0.0
    for x, c in zip(X, y, strict=True):
        h = math.tanh(0.5 * x[0] - x[1] + 0.25)
        z = [2.0 * h, -h + 0.5, -0.5]
        want += math.log(sum(math.exp(v) for v in z)) - z[c]
    want /= 2
    for act_params in (params, {k: v.astype(np.float32) for k, v in params.items()}):
        loss, _ = nets.loss_and_grad(act_params, X, y, activation="tanh")
        assert loss == pytest.approx(want, rel=1e-6 if act_params is not params else 1e-15)
    # softmax regression with zero weights: every class equally likely, loss log k
    zero = {"W0": np.zeros((2, 5)), "b0": np.zeros(5)}
    assert nets.loss_and_grad(zero, X, y)[0] == pytest.approx(math.log(5), rel=1e-15)
    # its gradient: (1/k - onehot) x, averaged
    _, g = nets.loss_and_grad(zero, X, y)
    onehot = np.eye(5)[y]
    np.testing.assert_allclose(g["W0"], X.T @ (0.2 - onehot) / 2, rtol=1e-15, atol=1e-16)
    np.testing.assert_allclose(g["b0"], (0.2 - onehot).mean(axis=0), rtol=1e-15, atol=1e-16)


def test_huge_logits_stay_finite():
    params, X, y = problem([3, 4, 5], n=8)
    big = {k: v * 1e3 for k, v in params.items()}
    loss, grads = nets.loss_and_grad(big, X * 100, y)
    ref, _ = reference.net_loss_and_grad(big, X * 100, y)
    assert np.isfinite(loss) and loss > 100
    assert loss == pytest.approx(ref, rel=1e-12)
    assert all(np.all(np.isfinite(g)) for g in grads.values())


@pytest.mark.parametrize("dtype", [np.float64, np.float32, "float32"])
def test_init_params_names_shapes_dtypes_and_glorot_bounds(dtype):
    sizes = [64, 32, 16, 10]
    params = nets.init_params(sizes, seed=0, dtype=dtype)
    assert list(params) == ["W0", "b0", "W1", "b1", "W2", "b2"]
    for l, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        W, bias = params[f"W{l}"], params[f"b{l}"]
        assert W.shape == (a, b) and bias.shape == (b,)
        assert W.dtype == np.dtype(dtype) and bias.dtype == np.dtype(dtype)
        assert W.flags.c_contiguous and bias.flags.c_contiguous
        r = math.sqrt(6 / (a + b))
        assert np.all(np.abs(W) <= r) and np.abs(W).max() > 0.9 * r
        assert abs(W.mean()) < 0.1 * r
        assert np.all(bias == 0)
    again = nets.init_params(sizes, seed=0, dtype=dtype)
    other = nets.init_params(sizes, seed=1, dtype=dtype)
    assert all(np.array_equal(params[k], again[k]) for k in params)
    assert not np.array_equal(params["W0"], other["W0"])
    assert nets.layer_sizes(params) == sizes
    assert list(nets.init_params([5, 3], seed=0)) == ["W0", "b0"]


def test_gradients_are_shaped_like_params_and_out_is_filled_in_place():
    params, X, y = problem([4, 6, 3])
    loss, fresh = nets.loss_and_grad(params, X, y, activation="tanh")
    out = {k: np.full_like(v, np.nan) for k, v in params.items()}
    ids = {k: id(v) for k, v in out.items()}
    loss2, got = nets.loss_and_grad(params, X, y, activation="tanh", out=out)
    assert got is out and {k: id(v) for k, v in got.items()} == ids
    assert loss2 == loss
    for k in params:
        assert got[k].shape == params[k].shape and got[k].dtype == params[k].dtype
        np.testing.assert_array_equal(got[k], fresh[k])
    with pytest.raises(ValueError, match="out must"):
        nets.loss_and_grad(params, X, y, out={k: v.astype(np.float32) for k, v in out.items()})


def test_dropout_masks_are_inverted_seeded_and_shared():
    masks = nets.dropout_masks([(200, 50), (200, 30), (200, 20)], [0.2, 0.0, 0.5], 42)
    assert masks[1] is None
    for m, p in ((masks[0], 0.2), (masks[2], 0.5)):
        assert set(np.unique(m)) <= {0.0, 1 / (1 - p)}
        assert abs(np.mean(m != 0) - (1 - p)) < 0.03
        assert abs(m.mean() - 1.0) < 0.05  # inverted dropout keeps the expectation
    again = nets.dropout_masks([(200, 50), (200, 30), (200, 20)], [0.2, 0.0, 0.5], 42)
    assert np.array_equal(masks[0], again[0]) and np.array_equal(masks[2], again[2])
    other = nets.dropout_masks([(200, 50)], 0.2, 43)
    assert not np.array_equal(masks[0], other[0])
    m32 = nets.dropout_masks([(4, 4)], 0.5, 42, np.float32)[0]
    assert m32.dtype == np.float32
    with pytest.raises(ValueError):
        nets.dropout_masks([(2, 2)], 1.0, 0)


def test_dropout_is_reproducible_by_seed_and_off_when_zero():
    params, X, y = problem([4, 6, 5, 3], n=30)
    kw = dict(dropout_input=0.3, dropout_hidden=0.3)
    a, ga = nets.loss_and_grad(params, X, y, rng_seed=5, **kw)
    b, gb = nets.loss_and_grad(params, X, y, rng_seed=5, **kw)
    c, _ = nets.loss_and_grad(params, X, y, rng_seed=6, **kw)
    plain, _ = nets.loss_and_grad(params, X, y)
    assert a == b and all(np.array_equal(ga[k], gb[k]) for k in ga)
    assert a != c and a != plain
    zero, _ = nets.loss_and_grad(params, X, y, dropout_input=0.0, dropout_hidden=0.0, rng_seed=5)
    assert zero == plain


def test_predict_accuracy_and_logits():
    params, X, y = problem([4, 6, 3], n=25)
    z = nets.logits(params, X, "tanh")
    h = np.tanh(X @ params["W0"] + params["b0"])
    np.testing.assert_allclose(z, h @ params["W1"] + params["b1"], rtol=1e-13, atol=1e-15)
    pred = nets.predict(params, X, "tanh")
    assert pred.dtype == np.int64 and pred.shape == (25,)
    np.testing.assert_array_equal(pred, np.argmax(z, axis=1))
    assert nets.accuracy(params, X, y, "tanh") == pytest.approx(np.mean(pred == y))
    assert (
        nets.loss(params, X, y, activation="tanh")
        == nets.loss_and_grad(params, X, y, activation="tanh")[0]
    )


def test_gradient_descent_learns_separable_blobs():
    rng = np.random.default_rng(0)
    centres = np.array([[3.0, 0.0], [-3.0, 0.0], [0.0, 3.0]])
    y = rng.integers(0, 3, 300)
    X = centres[y] + 0.5 * rng.standard_normal((300, 2))
    params = nets.init_params([2, 16, 3], seed=0)
    grads = {k: np.empty_like(v) for k, v in params.items()}
    first = None
    for _ in range(200):
        loss, _ = nets.loss_and_grad(params, X, y, out=grads)
        first = loss if first is None else first
        for k in params:
            params[k] -= 0.5 * grads[k]
    assert loss < 0.1 * first
    assert nets.accuracy(params, X, y) > 0.98


def test_bad_inputs_raise():
    params, X, y = problem([4, 6, 3])
    with pytest.raises(ValueError, match="activation"):
        nets.loss_and_grad(params, X, y, activation="sigmoid")
    with pytest.raises(ValueError, match="labels"):
        nets.loss_and_grad(params, X, np.full(len(y), 3))
    with pytest.raises(ValueError, match="labels"):
        nets.loss_and_grad(params, X, np.full(len(y), -1))
    with pytest.raises(ValueError, match="X must be"):
        nets.loss_and_grad(params, X[:, :3], y)
    with pytest.raises(ValueError, match="y must be"):
        nets.loss_and_grad(params, X, y[:-1])
    with pytest.raises(ValueError, match="empty"):
        nets.loss_and_grad(params, X[:0], y[:0])
    assert nets.predict(params, X[:0]).shape == (0,)
    with pytest.raises(ValueError, match="grl_layer"):
        nets.loss_and_grad(params, X, y, grl_lambda=1.0, grl_layer=1)
    soft, X2, y2 = problem([4, 3])
    with pytest.raises(ValueError, match="hidden layer"):
        nets.loss_and_grad(soft, X2, y2, grl_lambda=1.0)
    with pytest.raises(ValueError, match="W0, b0"):
        nets.loss_and_grad({"W0": params["W0"]}, X, y)
    with pytest.raises(ValueError, match="dtype"):
        nets.init_params([3, 2], seed=0, dtype=np.int32)
