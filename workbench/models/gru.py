"""A GRU language model with hand-derived truncated backpropagation through time.

The model
---------
Vocabulary size ``V``, hidden size ``H``, ``L`` layers. The parameters are a dict of named
C-contiguous arrays, all float64 or all float32, named as in the classic Theano GRU tutorial::

    E  (H, V)      embedding: token k enters as x = E[:, k]
    U  (3, H, H)   input weights of the update gate, the reset gate and the candidate
    W  (3, H, H)   recurrent weights, same order
    b  (3, H)      biases, same order
    V  (V, H)      output weights
    c  (V,)        output bias

and, for ``L > 1``, ``U_l, W_l, b_l`` (same shapes) for layer ``l = 1 .. L-1``, whose input
``x`` is layer ``l-1``'s new state. One layer has exactly ``E, U, W, b, V, c``. For an input
``x`` and the layer's state ``s``::

    z  = sigmoid(U[0] x + W[0] s + b[0])          update gate
    r  = sigmoid(U[1] x + W[1] s + b[1])          reset gate
    h  = tanh(U[2] x + W[2] (s * r) + b[2])       candidate
    s' = (1 - z) * h + z * s                      new state
    o  = softmax(V s'_top + c)                    next-token distribution (top layer)

Training data comes in windows ``x, y`` (batch, num_steps) of token ids (``y[:, t]`` is the
token after ``x[:, t]``: see :func:`workbench.data.sequences.ptb_producer`) with a state
``(L, batch, H)`` carried in from the previous window. The loss is the mean cross-entropy
over the ``batch * num_steps`` predictions; its gradient is backpropagated through the
window's time steps only (truncated BPTT): nothing flows into the state carried in.

Speed
-----
One call of :func:`loss_and_grad` is one call of a compiled kernel. Work that does not
depend on the recurrence is done for the whole window at once, as one BLAS matrix product
(``np.dot``): the input projections ``U x`` of every time step, the output logits, and in
the backward pass the weight gradients and the gradient passed down to the layer below.
Only the recurrent products ``W s`` (forward) and their transposes (backward) are done step
by step, two products of ``(batch, H)`` by ``(H, 2H)`` and ``(H, H)`` per step and layer, with
the gates, the softmax and their derivatives in fused loops between them. Where the
vocabulary is smaller than the window (``V < batch * num_steps``, e.g. characters) the
embedding is folded into the first layer's input weights: ``U E`` (3H, V) is computed once
and the input projections are looked up by token, and in the backward pass the gradients by
token are summed first, so ``dU = D E^T`` and ``dE = U^T D`` are products of size ``V``
rather than of the window's size. :func:`workbench.models.reference.gru_loss_and_grad` is
the same model written plainly in numpy, one time step at a time, as the tutorial does: the
reference for the tests and the benchmark.
"""

from __future__ import annotations

import math
import threading

import numpy as np
from numba import njit

from ._elementary import exp_nonpositive, tanh

_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))

__all__ = [
    "forward_loss",
    "init_params",
    "loss_and_grad",
    "model_sizes",
    "param_names",
    "sample",
    "zero_state",
]


# ------------------------------------------------------------------------------ parameters


def _layer_names(l: int) -> tuple[str, str, str]:
    return ("U", "W", "b") if l == 0 else (f"U_{l}", f"W_{l}", f"b_{l}")


def param_names(layers: int = 1) -> list[str]:
    """The parameter names in order: ``E, U, W, b, U_1, W_1, b_1, ..., V, c``."""
    names = ["E"]
    for l in range(layers):
        names.extend(_layer_names(l))
    return [*names, "V", "c"]


def init_params(
    vocab_size: int, hidden: int, *, layers: int = 1, seed, dtype=np.float64
) -> dict[str, np.ndarray]:
    """The tutorial's initialisation: ``E`` uniform in ``+-1/sqrt(V)``, every ``U``, ``W`` and
    ``V`` uniform in ``+-1/sqrt(H)``, biases zero; drawn in the order ``E, U, W, U_1, W_1,
    ..., V`` from ``np.random.default_rng(seed)``."""
    dt = np.dtype(dtype)
    if dt not in _DTYPES:
        raise ValueError(f"dtype must be float64 or float32, got {dt}")
    V, H, L = int(vocab_size), int(hidden), int(layers)
    if V < 1 or H < 1 or L < 1:
        raise ValueError(f"vocab_size, hidden and layers must be >= 1, got {V}, {H}, {L}")
    rng = np.random.default_rng(seed)

    def uniform(n, shape):
        r = 1.0 / math.sqrt(n)
        return np.ascontiguousarray(rng.uniform(-r, r, size=shape), dtype=dt)

    params = {"E": uniform(V, (H, V))}
    for l in range(L):
        u, w, b = _layer_names(l)
        params[u] = uniform(H, (3, H, H))
        params[w] = uniform(H, (3, H, H))
        params[b] = np.zeros((3, H), dtype=dt)
    params["V"] = uniform(H, (V, H))
    params["c"] = np.zeros(V, dtype=dt)
    return params


def model_sizes(params: dict) -> tuple[int, int, int]:
    """``(vocab_size, hidden, layers)`` of a parameter dict (checked)."""
    E, Us, _, _, _, _, _ = _unpack(params)
    return E.shape[1], E.shape[0], len(Us)


def _unpack(params: dict):
    if "E" not in params:
        raise ValueError(f"parameters must be named {param_names()} (more layers: U_1, ...)")
    L = 1
    while f"U_{L}" in params:
        L += 1
    expected = param_names(L)
    if sorted(params) != sorted(expected):
        raise ValueError(f"parameters must be named {expected}; got {sorted(params)}")
    E, Vw, c = params["E"], params["V"], params["c"]
    if not isinstance(E, np.ndarray) or E.ndim != 2:
        raise ValueError("E must be a (hidden, vocab_size) array")
    H, V = E.shape
    dt = E.dtype
    if dt not in _DTYPES:
        raise ValueError(f"parameters must be float64 or float32, got {dt}")
    shapes = {"E": (H, V), "V": (V, H), "c": (V,)}
    for l in range(L):
        u, w, b = _layer_names(l)
        shapes.update({u: (3, H, H), w: (3, H, H), b: (3, H)})
    for name, shape in shapes.items():
        p = params[name]
        if not isinstance(p, np.ndarray) or p.shape != shape:
            got = getattr(p, "shape", type(p).__name__)
            raise ValueError(f"{name} must have shape {shape} (V={V}, H={H}); got {got}")
        if p.dtype != dt:
            raise ValueError(f"all parameters must have one dtype: E is {dt}, {name} {p.dtype}")
        if not p.flags.c_contiguous:
            raise ValueError(f"{name} must be C-contiguous")
    Us = tuple(params[_layer_names(l)[0]] for l in range(L))
    Ws = tuple(params[_layer_names(l)[1]] for l in range(L))
    bs = tuple(params[_layer_names(l)[2]] for l in range(L))
    return E, Us, Ws, bs, Vw, c, dt


def zero_state(params: dict, batch_size: int) -> np.ndarray:
    """The all-zero state ``(layers, batch_size, H)`` in the parameters' dtype."""
    V, H, L = model_sizes(params)
    return np.zeros((L, int(batch_size), H), dtype=params["E"].dtype)


def _tokens(name: str, a, V: int) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"{name} must be (batch, num_steps) token ids, got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name} must hold integer token ids, got dtype {a.dtype}")
    lo, hi = int(a.min()), int(a.max())
    if lo < 0 or hi >= V:
        raise ValueError(f"{name} holds token id {lo if lo < 0 else hi}; ids must be 0..{V - 1}")
    return np.ascontiguousarray(a, dtype=np.int64)


def _inputs(params, x, y, state):
    E, Us, Ws, bs, Vw, c, dt = _unpack(params)
    H, V = E.shape
    L = len(Us)
    x = _tokens("x", x, V)
    if y is not None:
        y = _tokens("y", y, V)
        if y.shape != x.shape:
            raise ValueError(f"x and y must have one shape, got {x.shape} and {y.shape}")
    B = x.shape[0]
    if state is None:
        state = np.zeros((L, B, H), dtype=dt)
    else:
        state = np.asarray(state)
        if state.shape != (L, B, H):
            raise ValueError(
                f"state must be (layers, batch, hidden) = {(L, B, H)}, got {state.shape}"
            )
        state = np.ascontiguousarray(state, dtype=dt)
    return E, Us, Ws, bs, Vw, c, dt, x, y, state


# ------------------------------------------------------------------------- compiled kernels


@njit(cache=True, error_model="numpy", inline="always")
def _sigmoid(v):
    """``1 / (1 + e**-v)`` without overflow: ``e = exp(-|v|)``, then ``1/(1+e)`` or
    ``e/(1+e)`` by the sign."""
    v = float(v)
    e = exp_nonpositive(-abs(v))
    p = 1.0 / (1.0 + e)
    return p if v >= 0.0 else e * p


@njit(cache=True, error_model="numpy")
def _input_gates(E, U, b, x_tm, below, fold, G, P, X):
    """The input pre-activations ``U x + b`` of every step of the window into ``G`` (T*B, 3H),
    rows in time-major order. Layer 0 (``below`` empty) takes ``x = E[:, token]``: with
    ``fold`` looked up in ``P = (U E)^T`` (V, 3H), else gathered into ``X`` (T*B, H) and
    multiplied; a higher layer takes the states of the layer below (T*B, H). With ``fold``,
    ``P`` holds ``(U E)^T + b`` afterwards."""
    n3 = G.shape[1]
    H = n3 // 3
    U2 = U.reshape((n3, H))
    bf = b.reshape(n3)
    if fold and below.shape[0] == 0:
        np.dot(E.T, U2.T, P)  # row k is U E[:, k]
        for k in range(P.shape[0]):
            for j in range(n3):
                P[k, j] += bf[j]
        for n in range(G.shape[0]):
            k = x_tm[n]
            for j in range(n3):
                G[n, j] = P[k, j]
        return
    if below.shape[0] > 0:
        np.dot(below, U2.T, G)
    else:
        _gather_embedding(E, x_tm, X)
        np.dot(X, U2.T, G)
    for n in range(G.shape[0]):
        for j in range(n3):
            G[n, j] += bf[j]


@njit(cache=True, error_model="numpy")
def _gather_embedding(E, x_tm, X):
    """``X[n] = E[:, x_tm[n]]``."""
    H = E.shape[0]
    for n in range(X.shape[0]):
        k = x_tm[n]
        for j in range(H):
            X[n, j] = E[j, k]


@njit(cache=True, error_model="numpy")
def _recurrence(G, W, s0, S, Z, R, SR, Hc, A, C):
    """One layer over the window: ``G`` (T, B, 3H) input pre-activations, ``s0`` (B, H) the
    state carried in. Writes the states ``S`` (T+1, B, H) (``S[0] = s0``) and the gates ``Z``,
    ``R``, ``SR = S[t] * R`` and candidates ``Hc`` (T, B, H) that the backward pass needs.
    ``A`` (B, 2H) and ``C`` (B, H) are scratch."""
    T, B, n3 = G.shape
    H = n3 // 3
    Wzr_T = W[0:2].reshape((2 * H, H)).T  # (H, 2H)
    W2_T = W[2].T
    S[0] = s0
    for t in range(T):
        s = S[t]
        g = G[t]
        z = Z[t]
        r = R[t]
        sr = SR[t]
        np.dot(s, Wzr_T, A)  # (B, 2H): W[0] s and W[1] s
        for i in range(B):
            for j in range(H):
                z[i, j] = _sigmoid(g[i, j] + A[i, j])
            for j in range(H):
                rr = _sigmoid(g[i, H + j] + A[i, H + j])
                r[i, j] = rr
                sr[i, j] = s[i, j] * rr
        np.dot(sr, W2_T, C)  # (B, H): W[2] (s * r)
        h = Hc[t]
        sn = S[t + 1]
        for i in range(B):
            for j in range(H):
                hh = tanh(g[i, 2 * H + j] + C[i, j])
                h[i, j] = hh
                zz = float(z[i, j])
                sn[i, j] = (1.0 - zz) * hh + zz * s[i, j]


@njit(cache=True, error_model="numpy")
def _softmax_xent(O, c, y_tm, want_grad):
    """Summed cross-entropy of the logits ``O + c`` (N, V) against ``y_tm``; with
    ``want_grad`` overwrites ``O`` with ``softmax - onehot`` divided by N. Row by row in
    separate passes (max, exponentials, sum) so that the exponentials vectorise."""
    N, V = O.shape
    total = 0.0
    inv_n = 1.0 / N
    for n in range(N):
        row = O[n]
        k = y_tm[n]
        omax = -np.inf
        for j in range(V):
            v = float(row[j]) + float(c[j])
            omax = v if v > omax else omax
        target = (float(row[k]) + float(c[k])) - omax
        for j in range(V):
            row[j] = exp_nonpositive((float(row[j]) + float(c[j])) - omax)
        s = 0.0
        for j in range(V):
            s += row[j]
        total += math.log(s) - target
        if want_grad:
            scale = inv_n / s
            for j in range(V):
                row[j] = row[j] * scale
            row[k] -= inv_n
    return total


@njit(cache=True, error_model="numpy")
def _layer_backward(W, S, Z, R, SR, Hc, dS, DZR, DH, carry, dSR, tmp):
    """Backpropagation through one layer's recurrence. ``dS`` (T, B, H): the gradient of the
    loss with respect to the states ``S[1..T]`` from outside the recurrence (the outputs or the
    layer above). Writes the gradients of the pre-activations: ``DZR`` (T, B, 2H) of the
    update and reset gates, ``DH`` (T, B, H) of the candidate. Nothing flows into ``S[0]``.
    ``carry``, ``dSR`` and ``tmp`` (B, H) are scratch."""
    T, B, H = dS.shape
    W2 = W[2]
    Wzr = W[0:2].reshape((2 * H, H))
    carry[:, :] = 0.0  # gradient into S[t + 1] through step t + 1
    for t in range(T - 1, -1, -1):
        z = Z[t]
        r = R[t]
        h = Hc[t]
        sp = S[t]
        d = dS[t]
        dzr = DZR[t]
        dh = DH[t]
        for i in range(B):
            for j in range(H):
                ds = d[i, j] + carry[i, j]
                zz = z[i, j]
                hh = h[i, j]
                dh[i, j] = ds * (1.0 - zz) * (1.0 - hh * hh)
                dzr[i, j] = ds * (sp[i, j] - hh) * zz * (1.0 - zz)
                carry[i, j] = ds * zz
        np.dot(dh, W2, dSR)  # (B, H): gradient of s * r
        for i in range(B):
            for j in range(H):
                rr = r[i, j]
                g = dSR[i, j]
                dzr[i, H + j] = g * sp[i, j] * rr * (1.0 - rr)
                carry[i, j] += g * rr
        if t > 0:  # the gradient into the carried-in state S[0] is not needed
            np.dot(dzr, Wzr, tmp)
            for i in range(B):
                for j in range(H):
                    carry[i, j] += tmp[i, j]


@njit(cache=True, error_model="numpy")
def _column_sums(A, out):
    for j in range(out.shape[0]):
        out[j] = 0.0
    for n in range(A.shape[0]):
        for j in range(A.shape[1]):
            out[j] += A[n, j]


@njit(cache=True, error_model="numpy")
def _run(E, Us, Ws, bs, Vw, c, x, y, state, new_state, gE, gUs, gWs, gbs, gV, gc, fold, grad, ws):
    """Forward over the window, the summed loss; with ``grad`` the gradients (overwritten).
    ``ws``: the workspace arrays of :class:`_Workspace`."""
    x_tm, y_tm, S, Z, R, SR, Hc, G, O, dS, dX, DZR, DH, P, D, X, gET, A, C, T1, T2, T3 = ws
    L = len(Us)
    B, T = x.shape
    H, V = E.shape
    N = T * B
    for t in range(T):  # time-major: row n = t * B + b
        for i in range(B):
            x_tm[t * B + i] = x[i, t]
            y_tm[t * B + i] = y[i, t]
    G3 = G.reshape((T, B, 3 * H))
    for l in range(L):
        below = X[:0] if l == 0 else S[l - 1, 1:].reshape((N, H))
        _input_gates(E, Us[l], bs[l], x_tm, below, fold, G, P, X)
        _recurrence(G3, Ws[l], state[l], S[l], Z[l], R[l], SR[l], Hc[l], A, C)
        new_state[l] = S[l, T]
    top = S[L - 1, 1:].reshape((N, H))
    np.dot(top, Vw.T, O)  # (N, V) logits less c
    loss = _softmax_xent(O, c, y_tm, grad)
    if not grad:
        return loss
    np.dot(O.T, top, gV)  # O now holds the gradient of the logits
    _column_sums(O, gc)
    np.dot(O, Vw, dS)  # (N, H): into the top layer's states
    DZR2 = DZR.reshape((N, 2 * H))
    DH2 = DH.reshape((N, H))
    for l in range(L - 1, -1, -1):
        W = Ws[l]
        U = Us[l]
        _layer_backward(
            W, S[l], Z[l], R[l], SR[l], Hc[l], dS.reshape((T, B, H)), DZR, DH, T1, T2, T3
        )
        gW = gWs[l]
        np.dot(DZR2.T, S[l, :T].reshape((N, H)), gW[0:2].reshape((2 * H, H)))
        np.dot(DH2.T, SR[l].reshape((N, H)), gW[2])
        gb = gbs[l]
        _column_sums(DZR2, gb[0:2].reshape(2 * H))
        _column_sums(DH2, gb[2])
        gU = gUs[l]
        if l > 0 or not fold:
            if l > 0:
                inp = S[l - 1, 1:].reshape((N, H))
            else:
                _gather_embedding(E, x_tm, X)
                inp = X
            np.dot(DZR2.T, inp, gU[0:2].reshape((2 * H, H)))
            np.dot(DH2.T, inp, gU[2])
            np.dot(DZR2, U[0:2].reshape((2 * H, H)), dS)  # the gradient into the input
            np.dot(DH2, U[2], dX)
            for n in range(N):
                for j in range(H):
                    dS[n, j] += dX[n, j]
            if l == 0:  # scatter into the embedding columns of the tokens
                gET[:, :] = 0.0
                for n in range(N):
                    k = x_tm[n]
                    for j in range(H):
                        gET[k, j] += dS[n, j]
                gE[:, :] = gET.T
        else:  # folded embedding: sum the pre-activation gradients by token first
            D[:, :] = 0.0
            for n in range(N):
                k = x_tm[n]
                for j in range(2 * H):
                    D[k, j] += DZR2[n, j]
                for j in range(H):
                    D[k, 2 * H + j] += DH2[n, j]
            np.dot(D.T, E.T, gU.reshape((3 * H, H)))
            np.dot(U.reshape((3 * H, H)).T, D.T, gE)
    return loss


@njit(cache=True, error_model="numpy")
def _advance(E, Us, Ws, bs, k, s):
    """One step of every layer for one sequence: token ``k``, states ``s`` (L, H) in place."""
    L = len(Us)
    H = E.shape[0]
    x = np.ascontiguousarray(E[:, k])
    for l in range(L):
        U = Us[l].reshape((3 * H, H))
        W = Ws[l]
        b = bs[l]
        sl = s[l]
        g = np.dot(U, x)
        a = np.dot(W[0:2].reshape((2 * H, H)), sl)
        z = np.empty(H)
        sr = np.empty(H, dtype=sl.dtype)
        for j in range(H):
            z[j] = _sigmoid(g[j] + a[j] + b[0, j])
            sr[j] = sl[j] * _sigmoid(g[H + j] + a[H + j] + b[1, j])
        cand = np.dot(W[2], sr)
        for j in range(H):
            hh = tanh(g[2 * H + j] + cand[j] + b[2, j])
            sl[j] = (1.0 - z[j]) * hh + z[j] * sl[j]
        x = sl.copy()


@njit(cache=True, error_model="numpy")
def _sample(E, Us, Ws, bs, Vw, c, start, s, temperature, u, out):
    """Feed ``start``, then draw ``len(out)`` tokens: each from ``softmax(logits /
    temperature)`` by inverting the cumulative distribution at ``u[i]`` (argmax when the
    temperature is 0), and fed back in."""
    L = len(Us)
    for i in range(start.shape[0]):
        _advance(E, Us, Ws, bs, start[i], s)
    V = Vw.shape[0]
    p = np.empty(V)
    for i in range(out.shape[0]):
        o = np.dot(Vw, s[L - 1])
        best = 0
        omax = -np.inf
        for j in range(V):
            v = float(o[j]) + float(c[j])
            p[j] = v
            if v > omax:
                omax = v
                best = j
        k = best
        if temperature > 0.0:
            total = 0.0
            for j in range(V):
                p[j] = exp_nonpositive((p[j] - omax) / temperature)
                total += p[j]
            target = u[i] * total
            acc = 0.0
            k = V - 1
            for j in range(V):
                acc += p[j]
                if acc > target and p[j] > 0.0:
                    k = j
                    break
        out[i] = k
        if i + 1 < out.shape[0]:
            _advance(E, Us, Ws, bs, k, s)


# ------------------------------------------------------------------------------ public API


def _fold(V: int, tokens: int) -> bool:
    """Fold the embedding into the first layer when that is the smaller product."""
    return V < tokens


class _Workspace:
    """The kernel's scratch arrays for one (layers, num_steps, batch, H, V, dtype), kept
    between calls: arrays allocated afresh on every call cost more than the forward pass's
    arithmetic (their pages are returned to the system and faulted in again)."""

    def __init__(self, L: int, T: int, B: int, H: int, V: int, dt):
        N = T * B
        e = np.empty
        self.arrays = (
            e(N, np.int64), e(N, np.int64),  # x_tm, y_tm
            e((L, T + 1, B, H), dt),  # S
            e((L, T, B, H), dt), e((L, T, B, H), dt), e((L, T, B, H), dt), e((L, T, B, H), dt),
            e((N, 3 * H), dt), e((N, V), dt), e((N, H), dt), e((N, H), dt),  # G, O, dS, dX
            e((T, B, 2 * H), dt), e((T, B, H), dt),  # DZR, DH
            e((V, 3 * H), dt), e((V, 3 * H), dt), e((N, H), dt), e((V, H), dt),  # P, D, X, gET
            e((B, 2 * H), dt), e((B, H), dt),  # A, C
            e((B, H), dt), e((B, H), dt), e((B, H), dt),  # carry, dSR, tmp
        )  # fmt: skip


_LOCAL = threading.local()
_KEEP = 4  # workspaces kept per thread (the most recently used shapes)


def _workspace(L: int, T: int, B: int, H: int, V: int, dt) -> tuple:
    cache = getattr(_LOCAL, "workspaces", None)
    if cache is None:
        cache = _LOCAL.workspaces = {}
    key = (L, T, B, H, V, np.dtype(dt).str)
    ws = cache.pop(key, None)
    if ws is None:
        ws = _Workspace(L, T, B, H, V, dt)
        while len(cache) >= _KEEP:
            cache.pop(next(iter(cache)))
    cache[key] = ws  # most recent last
    return ws.arrays


def _grad_arrays(params: dict, out: dict | None, dt) -> dict:
    if out is None:
        return {k: np.empty_like(p) for k, p in params.items()}
    if sorted(out) != sorted(params):
        raise ValueError(f"out must have the parameters' names {sorted(params)}")
    for k, p in params.items():
        g = out[k]
        if (
            not isinstance(g, np.ndarray)
            or g.shape != p.shape
            or g.dtype != dt
            or not g.flags.c_contiguous
            or not g.flags.writeable
        ):
            raise ValueError(f"out[{k!r}] must be a writable C-contiguous {dt} array {p.shape}")
    return out


def loss_and_grad(
    params: dict, x, y, state=None, *, out: dict | None = None
) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
    """``(loss, grads, new_state)`` of one window: the mean cross-entropy of predicting
    ``y`` (batch, num_steps) from ``x`` with the state ``state`` (layers, batch, H; None:
    zeros) carried in, its gradient by truncated BPTT over the window (one array per
    parameter, in ``out`` when given, else fresh), and the states after the last step
    (a fresh array: carry it into the next window)."""
    E, Us, Ws, bs, Vw, c, dt, x, y, state = _inputs(params, x, y, state)
    grads = _grad_arrays(params, out, dt)
    L = len(Us)
    names = [_layer_names(l) for l in range(L)]
    gUs = tuple(grads[n[0]] for n in names)
    gWs = tuple(grads[n[1]] for n in names)
    gbs = tuple(grads[n[2]] for n in names)
    new_state = np.empty_like(state)
    (B, T), (H, V) = x.shape, E.shape
    ws = _workspace(L, T, B, H, V, dt)
    fold = _fold(V, x.size)
    total = _run(
        E, Us, Ws, bs, Vw, c, x, y, state, new_state,
        grads["E"], gUs, gWs, gbs, grads["V"], grads["c"], fold, True, ws,
    )  # fmt: skip
    return float(total) / x.size, grads, new_state


def forward_loss(params: dict, x, y, state=None) -> tuple[float, np.ndarray]:
    """``(loss, new_state)`` of one window without gradients (e.g. validation perplexity
    ``exp(mean loss)``)."""
    E, Us, Ws, bs, Vw, c, dt, x, y, state = _inputs(params, x, y, state)
    new_state = np.empty_like(state)
    (B, T), (H, V) = x.shape, E.shape
    ws = _workspace(len(Us), T, B, H, V, dt)
    fold = _fold(V, x.size)
    total = _run(
        E, Us, Ws, bs, Vw, c, x, y, state, new_state, E, Us, Ws, bs, Vw, c, fold, False, ws
    )
    return float(total) / x.size, new_state


def sample(
    params: dict,
    start_ids,
    length: int,
    *,
    temperature: float = 1.0,
    rng=None,
    state=None,
) -> np.ndarray:
    """``length`` tokens (int64) drawn one at a time after feeding ``start_ids`` (at least one
    token) from the state ``state`` (layers, H; None: zeros). Each token is drawn from
    ``softmax(logits / temperature)``; ``temperature=0`` takes the most likely token (greedy,
    deterministic). ``rng``: a ``np.random.Generator`` or a seed for ``default_rng``; one
    uniform number is drawn per token, all before sampling starts."""
    E, Us, Ws, bs, Vw, c, dt = _unpack(params)
    H, V = E.shape
    L = len(Us)
    start = np.asarray(start_ids)
    if start.ndim != 1 or start.size < 1 or not np.issubdtype(start.dtype, np.integer):
        raise ValueError(f"start_ids must be a non-empty 1-D array of token ids, got {start!r}")
    if start.min() < 0 or start.max() >= V:
        raise ValueError(f"start_ids must be in 0..{V - 1}")
    length = int(length)
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    temperature = float(temperature)
    if not (temperature >= 0.0 and math.isfinite(temperature)):
        raise ValueError(f"temperature must be >= 0 (0: greedy), got {temperature}")
    if state is None:
        s = np.zeros((L, H), dtype=dt)
    else:
        s = np.array(state, dtype=dt, order="C")
        if s.shape != (L, H):
            raise ValueError(f"state must be (layers, hidden) = {(L, H)}, got {s.shape}")
    if temperature > 0.0:
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        u = gen.random(length)
    else:
        u = np.zeros(length)
    out = np.empty(length, dtype=np.int64)
    _sample(E, Us, Ws, bs, Vw, c, start.astype(np.int64), s, temperature, u, out)
    return out
