"""Softmax regression and a multilayer perceptron with hand-derived gradients.

The model
---------
Parameters are a dict of named C-contiguous arrays, all float64 or all float32:
``W0, b0, W1, b1, ..., W{L-1}, b{L-1}`` with ``W_l`` of shape (in, out) and ``b_l`` of shape
(out,). ``sizes = [d, k]`` is softmax regression; ``sizes = [d, h_1, ..., h_m, k]`` an MLP
with m hidden layers::

    h_0 = X * mask_0                                   (input dropout)
    h_l = act(h_{l-1} W_{l-1} + b_{l-1}) * mask_l      (hidden layer l = 1..L-1, dropout)
    z   = h_{L-1} W_{L-1} + b_{L-1}                    (logits)
    loss = mean_i [logsumexp(z_i) - z_i[y_i]] + l2/2 * sum_l |W_l|^2

``act`` is ``relu`` or ``tanh``; labels ``y`` are int64 class indices 0..k-1; the penalty is on
the weights, not the biases. Both the log-sum-exp and the softmax are evaluated after
subtracting each row's maximum, so no logit overflows.

Dropout
-------
Inverted dropout as in the Theano "modern net" tutorial: inputs are dropped with probability
``dropout_input``, each hidden layer's output with ``dropout_hidden``, and the kept values are
scaled by ``1/(1-p)`` so that :func:`predict` (no dropout) needs no rescaling. The masks are
drawn in Python by :func:`dropout_masks` from ``np.random.default_rng(rng_seed)``: the same
``rng_seed`` gives the same masks, in the compiled path and in the numpy reference
(:func:`workbench.models.reference.net_loss_and_grad`) alike, so a training run that passes
one seed per step (derived from its own seed) is reproducible.
``rng_seed`` is anything ``default_rng`` accepts: an int, a sequence of ints or a
``SeedSequence`` (a ``Generator`` is used as it is and advanced, so the two paths would then
see different masks); ``rng_seed=None`` draws fresh masks from the operating system's
entropy (not reproducible).
The masks are fixed for one call, so the loss is a smooth function of the parameters there
and the gradients are exact for it.

Gradient reversal
-----------------
``grl_lambda=lam`` puts a gradient-reversal layer after hidden layer ``grl_layer`` (0-based:
0 is the first hidden layer). Forward it is the identity; backward it multiplies the gradient
flowing through it by ``-lam``. The layers after it (``W_{g+1}, b_{g+1}, ...``) receive their
ordinary gradients; the layers up to and including hidden layer ``g`` (``W_0, b_0, ...,
W_g, b_g``) receive ``-lam`` times the gradient of the data loss, so an optimizer that descends
on the later layers ascends on the earlier ones (the domain-adversarial trick). The weight
penalty does not pass through the reversal: its gradient ``l2 * W`` is added unreversed. The
result is then no longer the gradient of one function; see :mod:`workbench.models.grl`.

Speed
-----
One call of :func:`loss_and_grad` is one call of a compiled kernel that runs the whole batch:
matmuls through BLAS (``np.dot``), bias, activation, dropout and softmax in fused loops. The
weights travel as tuples of arrays, so a kernel is compiled (and cached on disk) once per
number of layers and dtype. Pass ``out=`` (a dict shaped like the parameters) to have the
gradients written into it rather than into new arrays (the kernel's per-batch activations are
still its own temporaries).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numba import njit

from ._elementary import exp_nonpositive, tanh

_ACTIVATIONS = {"relu": 0, "tanh": 1}
_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


# ------------------------------------------------------------------------------ parameters


def init_params(sizes: Sequence[int], *, seed: int, dtype=np.float64) -> dict[str, np.ndarray]:
    """Glorot-uniform weights (``U(-r, r)``, ``r = sqrt(6 / (in + out))``, drawn layer by layer
    from ``np.random.default_rng(seed)``) and zero biases: ``{"W0", "b0", "W1", "b1", ...}``."""
    dt = np.dtype(dtype)
    if dt not in _DTYPES:
        raise ValueError(f"dtype must be float64 or float32, got {dt}")
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must be at least [inputs, classes], all >= 1; got {sizes}")
    rng = np.random.default_rng(seed)
    params = {}
    for l, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        r = math.sqrt(6.0 / (fan_in + fan_out))
        params[f"W{l}"] = np.ascontiguousarray(rng.uniform(-r, r, size=(fan_in, fan_out)), dt)
        params[f"b{l}"] = np.zeros(fan_out, dtype=dt)
    return params


def layer_sizes(params: dict) -> list[int]:
    """``[d, h_1, ..., k]`` of a parameter dict."""
    Ws, _, _ = _unpack(params)
    return [Ws[0].shape[0], *(W.shape[1] for W in Ws)]


def _unpack(params: dict):
    n = len(params) // 2
    try:
        Ws = tuple(params[f"W{l}"] for l in range(n))
        bs = tuple(params[f"b{l}"] for l in range(n))
    except KeyError as exc:
        raise ValueError(
            f"parameters must be named W0, b0, W1, b1, ...; got {sorted(params)}"
        ) from exc
    if n == 0 or len(params) != 2 * n:
        raise ValueError(f"parameters must be named W0, b0, W1, b1, ...; got {sorted(params)}")
    dt = Ws[0].dtype
    if dt not in _DTYPES:
        raise ValueError(f"parameters must be float64 or float32, got {dt}")
    for l in range(n):
        W, b = Ws[l], bs[l]
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ValueError(f"W{l} must be (in, out) and b{l} (out,); got {W.shape}, {b.shape}")
        if l and W.shape[0] != Ws[l - 1].shape[1]:
            raise ValueError(f"W{l} has {W.shape[0]} rows, layer {l - 1} has {Ws[l - 1].shape[1]}")
        if W.dtype != dt or b.dtype != dt:
            raise ValueError("all parameters must have one dtype")
        if not (W.flags.c_contiguous and b.flags.c_contiguous):
            raise ValueError(f"W{l} and b{l} must be C-contiguous")
    return Ws, bs, dt


def _inputs(X, y, d: int, dt):
    X = np.ascontiguousarray(X, dtype=dt)
    if X.ndim != 2 or X.shape[1] != d:
        raise ValueError(f"X must be (samples, {d}), got {X.shape}")
    if y is not None:
        y = np.ascontiguousarray(y, dtype=np.int64)
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must be ({X.shape[0]},) class indices, got {y.shape}")
        if X.shape[0] == 0:
            raise ValueError("the batch is empty: the mean loss needs at least one sample")
    return X, y


def _activation(name: str) -> int:
    try:
        return _ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"activation must be 'relu' or 'tanh', got {name!r}") from None


# --------------------------------------------------------------------------------- dropout


def dropout_masks(shapes, probs, rng_seed, dtype=np.float64) -> list[np.ndarray | None]:
    """Inverted-dropout masks: for each shape with drop probability ``p > 0`` (in order), an
    array that is ``1/(1-p)`` where ``rng.random(shape) >= p`` (kept) and 0 where dropped;
    ``None`` where ``p == 0`` (nothing drawn). ``probs`` is one probability per shape or one
    for all; ``rng = np.random.default_rng(rng_seed)``. The compiled model and the numpy
    reference both take their masks from here, so they agree exactly."""
    shapes = list(shapes)
    if np.ndim(probs) == 0:
        probs = [float(probs)] * len(shapes)
    if len(probs) != len(shapes):
        raise ValueError("one dropout probability per shape")
    dt = np.dtype(dtype)
    rng = None
    masks: list[np.ndarray | None] = []
    for shape, p in zip(shapes, probs, strict=True):
        p = float(p)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probabilities must be in [0, 1), got {p}")
        if p == 0.0:
            masks.append(None)
            continue
        if rng is None:
            rng = np.random.default_rng(rng_seed)
        keep = rng.random(shape) >= p
        masks.append(np.where(keep, dt.type(1.0 / (1.0 - p)), dt.type(0.0)))
    return masks


def model_masks(sizes, batch: int, dropout_input: float, dropout_hidden: float, rng_seed, dtype):
    """The masks of one forward pass: the input (batch, d) with ``dropout_input``, then each
    hidden layer's output (batch, h_l) with ``dropout_hidden``, drawn in that order."""
    shapes = [(batch, sizes[l]) for l in range(len(sizes) - 1)]
    probs = [dropout_input] + [dropout_hidden] * (len(shapes) - 1)
    return dropout_masks(shapes, probs, rng_seed, dtype)


def _grl(grl_lambda, grl_layer: int, n_layers: int) -> tuple[int, float]:
    """(index of the hidden layer after which the gradient is reversed, or -1; the factor)."""
    if grl_lambda is None:
        return -1, 1.0
    if n_layers < 2:
        raise ValueError("a gradient-reversal layer needs a hidden layer (softmax has none)")
    if not 0 <= grl_layer < n_layers - 1:
        raise ValueError(
            f"grl_layer must index a hidden layer (0..{n_layers - 2}), got {grl_layer}"
        )
    return int(grl_layer), -float(grl_lambda)


# ------------------------------------------------------------------------- compiled kernels


@njit(cache=True, error_model="numpy")
def _bias_act(Z, b, act, A):
    """``A = act(Z + b)``. A may be Z, but the loop is vectorised only when it is not."""
    n, m = Z.shape
    if act == 0:
        for i in range(n):
            for j in range(m):
                v = Z[i, j] + b[j]
                A[i, j] = v if v > 0 else 0.0 * v
    else:
        for i in range(n):
            for j in range(m):
                A[i, j] = tanh(Z[i, j] + b[j])


@njit(cache=True, error_model="numpy")
def _softmax_xent(Z, b, y, dZ, want_grad):
    """Mean cross-entropy of logits ``Z + b``; with ``want_grad`` writes
    ``(softmax - onehot) / n`` into dZ (which also serves as scratch)."""
    n, k = Z.shape
    total = 0.0
    inv_n = 1.0 / n
    for i in range(n):
        c = y[i]
        if c < 0 or c >= k:
            raise ValueError("labels must be class indices 0..k-1")
        zmax = -np.inf
        for j in range(k):
            v = float(Z[i, j]) + float(b[j])
            if v > zmax:
                zmax = v
        s = 0.0
        for j in range(k):
            e = exp_nonpositive((float(Z[i, j]) + float(b[j])) - zmax)
            dZ[i, j] = e
            s += e
        total += math.log(s) - ((float(Z[i, c]) + float(b[c])) - zmax)
        if want_grad:
            scale = inv_n / s
            for j in range(k):
                dZ[i, j] = dZ[i, j] * scale
            dZ[i, c] -= inv_n
    return total * inv_n


@njit(cache=True, error_model="numpy")
def _act_backward(dH, A, mask, act):
    """Gradient w.r.t. the pre-activation, in place of dH: ``dH * mask * act'(A)``."""
    n, m = dH.shape
    if mask.shape[0] > 0:
        for i in range(n):
            for j in range(m):
                dH[i, j] *= mask[i, j]
    if act == 0:
        for i in range(n):
            for j in range(m):
                dH[i, j] = dH[i, j] if A[i, j] > 0 else 0.0 * dH[i, j]
    else:
        for i in range(n):
            for j in range(m):
                a = A[i, j]
                dH[i, j] *= 1 - a * a


@njit(cache=True, error_model="numpy")
def _forward_backward(Ws, bs, gWs, gbs, X, y, masks, act, grl_layer, grl_scale, l2, want_grad):
    """Loss of one batch; with ``want_grad`` the gradients into ``gWs``, ``gbs`` (tuples)."""
    L = len(Ws)
    n = X.shape[0]
    # forward: hs[l] is the input of layer l (after dropout), As[l] the activation before it
    m0 = masks[0]
    H = X * m0 if m0.shape[0] > 0 else X
    hs = [H]
    As = [H]
    for l in range(L - 1):
        Z = np.dot(hs[l], Ws[l])
        A = np.empty_like(Z)  # not in place: LLVM vectorises only loops that write elsewhere
        _bias_act(Z, bs[l], act, A)
        mask = masks[l + 1]
        Hn = A * mask if mask.shape[0] > 0 else A
        As.append(A)
        hs.append(Hn)
    Z = np.dot(hs[L - 1], Ws[L - 1])
    dZ = np.empty_like(Z)
    loss = _softmax_xent(Z, bs[L - 1], y, dZ, want_grad)
    penalty = 0.0
    if l2 != 0.0:
        for l in range(L):
            W = Ws[l]
            for i in range(W.shape[0]):
                for j in range(W.shape[1]):
                    penalty += float(W[i, j]) * float(W[i, j])
    loss += 0.5 * l2 * penalty
    if not want_grad:
        return loss
    # backward
    for l in range(L - 1, -1, -1):
        W = Ws[l]
        gW = gWs[l]
        gb = gbs[l]
        gW[:, :] = np.dot(hs[l].T, dZ)
        if l2 != 0.0:
            for i in range(W.shape[0]):
                for j in range(W.shape[1]):
                    gW[i, j] += l2 * W[i, j]
        for j in range(gb.shape[0]):
            gb[j] = 0.0
        for i in range(n):
            for j in range(gb.shape[0]):
                gb[j] += dZ[i, j]
        if l > 0:
            dH = np.dot(dZ, W.T)
            if grl_layer == l - 1:
                for i in range(dH.shape[0]):
                    for j in range(dH.shape[1]):
                        dH[i, j] *= grl_scale
            _act_backward(dH, As[l], masks[l], act)
            dZ = dH
    return loss


@njit(cache=True, error_model="numpy")
def _logits(Ws, bs, X, act):
    L = len(Ws)
    H = X
    for l in range(L - 1):
        Z = np.dot(H, Ws[l])
        H = np.empty_like(Z)
        _bias_act(Z, bs[l], act, H)
    Z = np.dot(H, Ws[L - 1])
    b = bs[L - 1]
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            Z[i, j] += b[j]
    return Z


# ------------------------------------------------------------------------------ public API

_EMPTY = {dt: np.empty((0, 0), dtype=dt) for dt in _DTYPES}


def loss_and_grad(
    params: dict,
    X,
    y,
    *,
    activation: str = "relu",
    dropout_input: float = 0.0,
    dropout_hidden: float = 0.0,
    grl_lambda: float | None = None,
    grl_layer: int = 0,
    rng_seed=None,
    l2: float = 0.0,
    out: dict | None = None,
) -> tuple[float, dict[str, np.ndarray]]:
    """Mean softmax cross-entropy of the batch ``(X, y)`` and its gradient, one dict entry per
    parameter. ``out``: a dict of C-contiguous arrays shaped like ``params`` to fill in place
    (and return); otherwise fresh arrays. See the module docstring for dropout and GRL."""
    Ws, bs, dt = _unpack(params)
    X, y = _inputs(X, y, Ws[0].shape[0], dt)
    act = _activation(activation)
    L = len(Ws)
    g_layer, g_scale = _grl(grl_lambda, grl_layer, L)
    empty = _EMPTY[dt]
    if dropout_input or dropout_hidden:
        sizes = [Ws[0].shape[0], *(W.shape[1] for W in Ws)]
        drawn = model_masks(sizes, X.shape[0], dropout_input, dropout_hidden, rng_seed, dt)
        masks = tuple(empty if m is None else m for m in drawn)
    else:
        masks = (empty,) * L
    if out is None:
        out = {}
        for l in range(L):
            out[f"W{l}"] = np.empty_like(Ws[l])
            out[f"b{l}"] = np.empty_like(bs[l])
    gWs = tuple(out[f"W{l}"] for l in range(L))
    gbs = tuple(out[f"b{l}"] for l in range(L))
    for g, p in zip(gWs + gbs, Ws + bs, strict=True):
        if g.shape != p.shape or g.dtype != dt or not g.flags.c_contiguous:
            raise ValueError("out must hold C-contiguous arrays shaped and typed like params")
    value = _forward_backward(Ws, bs, gWs, gbs, X, y, masks, act, g_layer, g_scale, float(l2), True)
    return float(value), out


def loss(params: dict, X, y, *, activation: str = "relu", l2: float = 0.0) -> float:
    """The loss alone (no dropout, no gradient)."""
    Ws, bs, dt = _unpack(params)
    X, y = _inputs(X, y, Ws[0].shape[0], dt)
    masks = (_EMPTY[dt],) * len(Ws)
    return float(
        _forward_backward(
            Ws, bs, Ws, bs, X, y, masks, _activation(activation), -1, 1.0, float(l2), False
        )
    )


def logits(params: dict, X, activation: str = "relu") -> np.ndarray:
    """The logits ``z`` (samples, k) without dropout."""
    Ws, bs, dt = _unpack(params)
    X, _ = _inputs(X, None, Ws[0].shape[0], dt)
    return _logits(Ws, bs, X, _activation(activation))


def predict(params: dict, X, activation: str = "relu") -> np.ndarray:
    """Predicted class indices (int64), without dropout."""
    return np.argmax(logits(params, X, activation), axis=1).astype(np.int64)


def accuracy(params: dict, X, y, activation: str = "relu") -> float:
    """Fraction of samples whose predicted class is the label."""
    y = np.asarray(y)
    if len(y) == 0:
        return float("nan")
    return float(np.mean(predict(params, X, activation) == y))
