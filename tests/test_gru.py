"""The GRU language model: BPTT gradients against finite differences, the compiled kernel against
its numpy reference, the carried state, sampling, and a short training run."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gradcheck import assert_close_blocks, central_differences

from workbench.data.sequences import ptb_producer
from workbench.models import gru, reference
from workbench.optim import RMSprop, chain, clip_norm


def problem(V, H, B, T, layers=1, seed=0, dtype=np.float64):
    """Parameters with non-zero biases, a window of tokens and a non-zero carried state."""
    rng = np.random.default_rng(seed)
    params = gru.init_params(V, H, layers=layers, seed=seed, dtype=dtype)
    for k, p in params.items():
        if k.startswith("b") or k == "c":
            p[...] = 0.3 * rng.standard_normal(p.shape)
    x = rng.integers(0, V, (B, T))
    y = rng.integers(0, V, (B, T))
    state = (0.5 * rng.standard_normal((layers, B, H))).astype(dtype)
    return params, x, y, state


def finite_differences(params, x, y, state, h=1e-6):
    return central_differences(lambda: gru.forward_loss(params, x, y, state)[0], params, h)


# ------------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("V", [5, 8], ids=["folded-embedding", "gathered-embedding"])
def test_bptt_gradients_match_central_differences(layers, V):
    # batch 2 x 3 steps = 6 tokens: V = 5 folds the embedding into U, V = 8 gathers it
    params, x, y, state = problem(V, 4, 2, 3, layers=layers)
    assert gru._fold(V, x.size) == (V < 6)
    loss, grads, _ = gru.loss_and_grad(params, x, y, state)
    assert loss == pytest.approx(gru.forward_loss(params, x, y, state)[0], rel=1e-14)
    assert_close_blocks(grads, finite_differences(params, x, y, state), rtol=1e-6)


@pytest.mark.parametrize(
    ("V", "H", "B", "T", "layers"),
    [
        (5, 4, 2, 3, 1),
        (8, 4, 2, 3, 2),
        (11, 6, 3, 7, 1),
        (11, 6, 3, 7, 3),
        (30, 16, 4, 5, 2),  # V > tokens: gathered embedding
        (30, 16, 8, 9, 1),  # V < tokens: folded embedding
        (3, 5, 1, 1, 1),
    ],
)
def test_compiled_matches_numpy_reference(V, H, B, T, layers):
    params, x, y, state = problem(V, H, B, T, layers=layers, seed=V + H)
    loss, grads, new_state = gru.loss_and_grad(params, x, y, state)
    ref_loss, ref_grads, ref_state = reference.gru_loss_and_grad(params, x, y, state)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert_close_blocks(grads, ref_grads, rtol=1e-12)
    for name in params:
        np.testing.assert_allclose(grads[name], ref_grads[name], rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(new_state, ref_state, rtol=1e-12, atol=1e-15)
    f_loss, f_state = gru.forward_loss(params, x, y, state)
    assert f_loss == pytest.approx(ref_loss, rel=1e-12)
    np.testing.assert_array_equal(f_state, new_state)


def test_both_embedding_paths_agree():
    params, x, y, state = problem(9, 6, 2, 4)
    a = gru.loss_and_grad(params, x, y, state)  # 9 > 8 tokens: gathered
    folded = gru._fold
    try:
        gru._fold = lambda V, tokens: True
        b = gru.loss_and_grad(params, x, y, state)
    finally:
        gru._fold = folded
    assert a[0] == pytest.approx(b[0], rel=1e-13)
    assert_close_blocks(a[1], b[1], rtol=1e-13)


def test_float32():
    params, x, y, state = problem(12, 8, 3, 5, layers=2, dtype=np.float32)
    loss, grads, new_state = gru.loss_and_grad(params, x, y, state)
    assert new_state.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    p64 = {k: p.astype(np.float64) for k, p in params.items()}
    ref_loss, ref_grads, ref_state = reference.gru_loss_and_grad(
        p64, x, y, state.astype(np.float64)
    )
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    assert_close_blocks(grads, ref_grads, rtol=1e-4)
    np.testing.assert_allclose(new_state, ref_state, atol=1e-5)


def test_out_is_filled_and_returned():
    params, x, y, state = problem(7, 5, 2, 4, layers=2)
    out = {k: np.full_like(p, np.nan) for k, p in params.items()}
    loss, grads, _ = gru.loss_and_grad(params, x, y, state, out=out)
    assert grads is out
    _, fresh, _ = gru.loss_and_grad(params, x, y, state)
    for k in params:
        np.testing.assert_array_equal(out[k], fresh[k])
    ref = {k: np.zeros_like(p) for k, p in params.items()}
    _, ref_out, _ = reference.gru_loss_and_grad(params, x, y, state, out=ref)
    assert ref_out is ref
    assert_close_blocks(out, ref, rtol=1e-12)


def test_workspaces_for_several_shapes():
    """Results do not depend on which shapes ran before (the scratch arrays are reused)."""
    cases = [problem(6, 5, B, T, layers=L, seed=B + T) for B, T, L in [(2, 3, 1), (4, 2, 2)]]
    first = [gru.loss_and_grad(*c) for c in cases]
    for _ in range(2):
        for case, want in zip(cases + cases[::-1], first + first[::-1], strict=True):
            got = gru.loss_and_grad(*case)
            assert got[0] == want[0]
            for k in want[1]:
                np.testing.assert_array_equal(got[1][k], want[1][k])
            np.testing.assert_array_equal(got[2], want[2])


# ------------------------------------------------------------------------------ the state


def test_carried_state_equals_one_long_pass():
    V, H, B = 9, 6, 3
    params, _, _, state = problem(V, H, B, 1, layers=2)
    rng = np.random.default_rng(5)
    x = rng.integers(0, V, (B, 11))
    y = rng.integers(0, V, (B, 11))
    whole, s_whole = gru.forward_loss(params, x, y, state)
    first, s1 = gru.forward_loss(params, x[:, :4], y[:, :4], state)
    second, s2 = gru.forward_loss(params, x[:, 4:], y[:, 4:], s1)
    assert (4 * first + 7 * second) / 11 == pytest.approx(whole, rel=1e-13)
    np.testing.assert_allclose(s2, s_whole, rtol=0, atol=1e-15)
    # the training pass carries the same state
    l1, _, t1 = gru.loss_and_grad(params, x[:, :4], y[:, :4], state)
    l2, _, t2 = gru.loss_and_grad(params, x[:, 4:], y[:, 4:], t1)
    assert (l1, l2) == pytest.approx((first, second), rel=1e-14)
    np.testing.assert_allclose(t2, s_whole, atol=1e-15)
    # and so does the reference
    r1, _, u1 = reference.gru_loss_and_grad(params, x[:, :4], y[:, :4], state)
    r2, _, u2 = reference.gru_loss_and_grad(params, x[:, 4:], y[:, 4:], u1)
    assert (4 * r1 + 7 * r2) / 11 == pytest.approx(whole, rel=1e-12)


def test_state_defaults_to_zeros_and_is_not_modified():
    params, x, y, state = problem(6, 4, 2, 3, layers=2)
    zero = gru.zero_state(params, 2)
    assert zero.shape == (2, 2, 4) and not zero.any()
    assert gru.forward_loss(params, x, y)[0] == gru.forward_loss(params, x, y, zero)[0]
    saved = state.copy()
    gru.loss_and_grad(params, x, y, state)
    np.testing.assert_array_equal(state, saved)


def test_gradient_does_not_flow_into_the_carried_state():
    """Truncated BPTT: the gradient of window 2 is the same whether its state is treated as a
    constant (it is) or came out of window 1 with the same parameters."""
    params, x, y, state = problem(7, 5, 2, 6)
    _, _, s1 = gru.loss_and_grad(params, x[:, :3], y[:, :3], state)
    _, g_carried, _ = gru.loss_and_grad(params, x[:, 3:], y[:, 3:], s1)
    fd = finite_differences(params, x[:, 3:], y[:, 3:], s1.copy())
    assert_close_blocks(g_carried, fd, rtol=1e-6)


def test_loss_at_init_is_log_vocab_size():
    V = 65
    params = gru.init_params(V, 64, seed=1)
    rng = np.random.default_rng(0)
    x = rng.integers(0, V, (8, 20))
    y = rng.integers(0, V, (8, 20))
    loss, _ = gru.forward_loss(params, x, y)
    assert abs(loss - math.log(V)) < 0.05


# ------------------------------------------------------------------------------ parameters


def test_init_params_names_shapes_and_ranges():
    p = gru.init_params(10, 6, seed=3)
    assert list(p) == ["E", "U", "W", "b", "V", "c"] == gru.param_names()
    shapes = {"E": (6, 10), "U": (3, 6, 6), "W": (3, 6, 6), "b": (3, 6), "V": (10, 6), "c": (10,)}
    assert {k: v.shape for k, v in p.items()} == shapes
    assert np.abs(p["E"]).max() <= 1 / math.sqrt(10)
    for k in ("U", "W", "V"):
        assert np.abs(p[k]).max() <= 1 / math.sqrt(6)
        assert np.abs(p[k]).max() > 0.5 / math.sqrt(6)
    assert not p["b"].any() and not p["c"].any()
    again = gru.init_params(10, 6, seed=3)
    assert all(np.array_equal(p[k], again[k]) for k in p)
    p3 = gru.init_params(10, 6, layers=3, seed=3, dtype=np.float32)
    assert list(p3) == ["E", "U", "W", "b", "U_1", "W_1", "b_1", "U_2", "W_2", "b_2", "V", "c"]
    assert all(v.dtype == np.float32 and v.flags.c_contiguous for v in p3.values())
    assert p3["U_2"].shape == (3, 6, 6)
    assert gru.model_sizes(p3) == (10, 6, 3)
    with pytest.raises(ValueError, match="float64 or float32"):
        gru.init_params(10, 6, seed=0, dtype=np.int64)
    with pytest.raises(ValueError, match=">= 1"):
        gru.init_params(10, 0, seed=0)


def test_bad_parameters_and_inputs():
    params, x, y, state = problem(6, 4, 2, 3)
    bad = dict(params)
    del bad["c"]
    with pytest.raises(ValueError, match="named"):
        gru.loss_and_grad(bad, x, y, state)
    bad = dict(params, U_2=params["U"])
    with pytest.raises(ValueError, match="named"):
        gru.loss_and_grad(bad, x, y, state)
    bad = dict(params, W=params["W"][:2])
    with pytest.raises(ValueError, match="W must have shape"):
        gru.loss_and_grad(bad, x, y, state)
    bad = dict(params, V=params["V"].astype(np.float32))
    with pytest.raises(ValueError, match="one dtype"):
        gru.loss_and_grad(bad, x, y, state)
    bad = dict(params, V=np.asfortranarray(params["V"]))
    with pytest.raises(ValueError, match="C-contiguous"):
        gru.loss_and_grad(bad, x, y, state)
    with pytest.raises(ValueError, match="token id 6"):
        gru.loss_and_grad(params, x, np.full_like(y, 6), state)
    with pytest.raises(ValueError, match="token id -1"):
        gru.loss_and_grad(params, np.full_like(x, -1), y, state)
    with pytest.raises(ValueError, match="integer"):
        gru.loss_and_grad(params, x.astype(float), y, state)
    with pytest.raises(ValueError, match="one shape"):
        gru.loss_and_grad(params, x, y[:, :2], state)
    with pytest.raises(ValueError, match=r"\(batch, num_steps\)"):
        gru.loss_and_grad(params, x[0], y[0], state)
    with pytest.raises(ValueError, match="state must be"):
        gru.loss_and_grad(params, x, y, state[:, :1])
    out = {k: np.empty_like(p) for k, p in params.items()}
    out["E"] = out["E"].astype(np.float32)
    with pytest.raises(ValueError, match="out"):
        gru.loss_and_grad(params, x, y, state, out=out)


# -------------------------------------------------------------------------------- sampling


def next_token_losses(params, context):
    """``-log p(k | context)`` for every token k, from the model's loss (independent of the
    sampler): only the last prediction differs between the candidates."""
    V = params["c"].shape[0]
    x = np.asarray(context)[None, :]
    T = x.shape[1]
    base = np.append(x[0, 1:], 0)
    out = np.empty(V)
    for k in range(V):
        y = base.copy()
        y[-1] = k
        out[k] = gru.forward_loss(params, x, y[None, :])[0] * T
    d = out - out.min()
    return d + np.log(np.sum(np.exp(-d)))


@pytest.mark.parametrize("layers", [1, 2])
def test_greedy_sampling_is_deterministic_and_takes_the_most_likely_token(layers):
    params, _, _, _ = problem(7, 6, 1, 1, layers=layers, seed=4)
    start = [1, 4, 2]
    a = gru.sample(params, start, 12, temperature=0)
    b = gru.sample(params, start, 12, temperature=0.0, rng=99)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.int64 and a.shape == (12,)
    context = list(start)
    for token in a[:6]:
        assert token == np.argmin(next_token_losses(params, context))
        context.append(int(token))


def test_sampling_follows_the_model_distribution():
    params, _, _, _ = problem(5, 4, 1, 1, seed=8)
    params["c"][...] = [1.0, 0.0, -0.5, 0.5, -1.0]
    start = [2, 3]
    nll = next_token_losses(params, start)
    rng = np.random.default_rng(0)
    n = 4000
    for temperature in (1.0, 0.5):
        p = np.exp(-nll / temperature)
        p /= p.sum()
        draws = np.array(
            [gru.sample(params, start, 1, temperature=temperature, rng=rng)[0] for _ in range(n)]
        )
        freq = np.bincount(draws, minlength=5) / n
        tol = 4 * np.sqrt(p * (1 - p) / n) + 1e-3  # four standard errors
        assert np.all(np.abs(freq - p) <= tol), (temperature, freq, p)


def test_sampling_is_reproducible_and_checked():
    params, _, _, _ = problem(6, 5, 1, 1, layers=2, seed=2)
    a = gru.sample(params, [0], 50, rng=7)
    b = gru.sample(params, [0], 50, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 0 and a.max() < 6
    assert len(set(a.tolist())) > 1
    assert gru.sample(params, [0], 0).shape == (0,)
    state = np.zeros((2, 5))
    np.testing.assert_array_equal(gru.sample(params, [0], 50, rng=7, state=state), a)
    with pytest.raises(ValueError, match="start_ids"):
        gru.sample(params, [], 5)
    with pytest.raises(ValueError, match="start_ids"):
        gru.sample(params, [6], 5)
    with pytest.raises(ValueError, match="temperature"):
        gru.sample(params, [0], 5, temperature=-1)
    with pytest.raises(ValueError, match="length"):
        gru.sample(params, [0], -1)
    with pytest.raises(ValueError, match="state"):
        gru.sample(params, [0], 5, state=np.zeros((1, 5)))


# -------------------------------------------------------------------------------- training


def test_training_reduces_the_loss():
    """RMSprop with global-norm clipping on a repetitive sequence, carrying the state."""
    pattern = [0, 1, 2, 3, 1, 2, 4, 0, 3, 3]
    data = np.array(pattern * 200)
    V = 5
    producer = ptb_producer(data, 4, 10)
    params = gru.init_params(V, 16, seed=0)
    opt = chain([clip_norm(5.0, per_block=False)], RMSprop(params, lr=2e-3))
    state = gru.zero_state(params, 4)
    losses = []
    for _ in range(6):
        state = gru.zero_state(params, 4)
        for x, y in producer:
            loss, grads, state = gru.loss_and_grad(params, x, y, state)
            opt.step(grads)
            losses.append(loss)
    assert losses[0] == pytest.approx(math.log(V), abs=0.1)
    assert np.mean(losses[-10:]) < 0.05 * losses[0]  # 1.61 -> about 0.01
    x, y = producer[0]
    val, _ = gru.forward_loss(params, x, y, gru.zero_state(params, 4))
    assert val < 0.1
    # greedy sampling continues the pattern
    following = gru.sample(params, pattern[:3], 17, temperature=0)
    np.testing.assert_array_equal(following, (pattern * 3)[3:20])
