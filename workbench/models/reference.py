"""The models in plain numpy: independent twins of the compiled models in :mod:`workbench.models`.

Tests assert the kernels' numbers against these, the benchmarks time the kernels against
them, and the experiments' ``compare`` runs its reference side with them (scipy's solver or
BFGS on :func:`arm_rhs_interp` or :func:`logistic_loss`, training with
:func:`net_loss_and_grad` or :func:`gru_loss_and_grad`). They are written the straightforward
way, one time step or one formula at a time with temporaries, as numpy users write them, so
that they share no arithmetic with the kernels they check: only small helpers that decide
*what* is computed (the GRU's parameter names, the nets' dropout masks and gradient-reversal
settings) are taken from the model modules. No model module imports this one.

* the arm (:mod:`workbench.models.arm`): :func:`arm_rhs_interp`, :func:`arm_dynamics`;
* logistic regression (:mod:`workbench.models.logistic`): :func:`logistic_loss`,
  :func:`logistic_grad`;
* softmax regression and the MLP (:mod:`workbench.models.nets`): :func:`net_loss_and_grad`;
* the GRU language model (:mod:`workbench.models.gru`): :func:`gru_loss_and_grad`;
* the test functions (:mod:`workbench.models.testfuncs`): :func:`rosenbrock`,
  :func:`saddle_value_grad`, :func:`beale`, :func:`booth`, named as their compiled twins and
  called the same way.

The optimizers' references live apart, in :mod:`workbench.optim.reference`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from .gru import _layer_names
from .nets import _grl, model_masks

__all__ = [
    "arm_dynamics",
    "arm_rhs_interp",
    "beale",
    "booth",
    "gru_loss_and_grad",
    "logistic_grad",
    "logistic_loss",
    "net_loss_and_grad",
    "rosenbrock",
    "saddle_value_grad",
]


# ------------------------------------------------------------------------------------ arm


def arm_rhs_interp(t, y, t_grid, table, p):
    """The arm's right-hand side in the seed question's form, as scipy users write it:
    ``np.interp`` of the torque table and a matrix inverse.

    Parameters
    ----------
    t : float
        Time (s).
    y : ndarray, shape (5,)
        The state ``[q1, q2, q1', q2', W]``.
    t_grid : ndarray, shape (n,)
        The torque table's times, increasing.
    table : ndarray, shape (2, n)
        The two joints' torques at ``t_grid``, interpolated linearly (``np.interp`` holds the
        end values outside the grid).
    p : ndarray, shape (7,)
        The parameter vector ``[a1, a2, a3, b11, b12, b21, b22]``
        (:func:`workbench.models.arm.param_vector`).

    Returns
    -------
    ndarray, shape (5,)
        ``dy/dt`` (:func:`arm_dynamics` at the interpolated torque).
    """
    tau = np.array([np.interp(t, t_grid, table[0]), np.interp(t, t_grid, table[1])])
    return arm_dynamics(y, tau, p)


def arm_dynamics(y, tau, p):
    """The arm's ``dy/dt`` for a given torque: ``q'' = M(q)^-1 (tau - C(q, q') - B q')``.

    Parameters
    ----------
    y : ndarray, shape (5,)
        The state ``[q1, q2, q1', q2', W]``.
    tau : ndarray, shape (2,)
        The joint torques at this time.
    p : ndarray, shape (7,)
        The parameter vector ``[a1, a2, a3, b11, b12, b21, b22]``
        (:func:`workbench.models.arm.param_vector`).

    Returns
    -------
    ndarray, shape (5,)
        ``[q1', q2', q1'', q2'', W']`` with ``W' = q'^T (tau - B q')``, the power of the torque
        and the damping.
    """
    a1, a2, a3 = p[0], p[1], p[2]
    B = np.array([[p[3], p[4]], [p[5], p[6]]])
    q, qd = y[0:2], y[2:4]
    c, s = np.cos(q[1]), np.sin(q[1])
    M = np.array([[a1 + 2.0 * a2 * c, a3 + a2 * c], [a3 + a2 * c, a3]])
    C = a2 * s * np.array([-qd[1] * (2.0 * qd[0] + qd[1]), qd[0] ** 2])
    qdd = np.linalg.inv(M) @ (tau - C - B @ qd)
    return np.concatenate((qd, qdd, [qd @ (tau - B @ qd)]))


# ------------------------------------------------------------------------------- logistic


def logistic_loss(w, X, y, l2=0.0, first_penalised=0):
    """The logistic loss as numpy users write it for ``fmin_bfgs`` (with a stable
    ``log(1 + e^z)``), unweighted: ``mean(softplus(X w) - y X w) + l2/2 |w[first_penalised:]|^2``.

    Parameters
    ----------
    w : ndarray, shape (n,)
        The coefficients.
    X : ndarray, shape (m, n)
        The design matrix, one row per sample.
    y : ndarray, shape (m,)
        The labels, 0 or 1.
    l2 : float
        The ridge penalty's weight.
    first_penalised : int
        The first penalised coefficient (1 leaves an intercept column 0 unpenalised).

    Returns
    -------
    float
        The loss.
    """
    z = X @ w
    return np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * np.sum(w[first_penalised:] ** 2)


def logistic_grad(w, X, y, l2=0.0, first_penalised=0):
    """The gradient of :func:`logistic_loss` as numpy users write it:
    ``X.T @ (sigmoid(X w) - y) / m`` plus the penalty's.

    Parameters
    ----------
    w : ndarray, shape (n,)
        The coefficients.
    X : ndarray, shape (m, n)
        The design matrix, one row per sample.
    y : ndarray, shape (m,)
        The labels, 0 or 1.
    l2 : float
        The ridge penalty's weight.
    first_penalised : int
        The first penalised coefficient (1 leaves an intercept column 0 unpenalised).

    Returns
    -------
    ndarray, shape (n,)
        The gradient (a fresh array).
    """
    h = 1.0 / (1.0 + np.exp(-(X @ w)))
    g = X.T @ (h - y) / X.shape[0]
    g[first_penalised:] += l2 * w[first_penalised:]
    return g


# ----------------------------------------------------------------------------------- nets


def net_loss_and_grad(
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
    """Softmax regression or the MLP of :mod:`workbench.models.nets` written plainly in numpy,
    layer by layer with temporaries: the loss and gradient of
    :func:`workbench.models.nets.loss_and_grad`, with the same dropout masks
    (:func:`workbench.models.nets.model_masks`) given the same ``rng_seed``.

    Parameters
    ----------
    params : dict of ndarray
        ``W0, b0, ..., W{L-1}, b{L-1}``: ``W_l`` (in, out), ``b_l`` (out,), all float64 or all
        float32.
    X : ndarray, shape (n, d)
        The inputs, one row per sample.
    y : ndarray, shape (n,)
        The class indices 0..k-1.
    activation : {"relu", "tanh"}
        The hidden layers' activation.
    dropout_input : float
        The drop probability of the inputs.
    dropout_hidden : float
        The drop probability of each hidden layer's output.
    grl_lambda : float or None
        The gradient-reversal factor; None: no reversal.
    grl_layer : int
        The hidden layer (0-based) after which the gradient is reversed.
    rng_seed : int, sequence of int, SeedSequence, Generator or None
        The seed of the dropout masks (``np.random.default_rng``).
    l2 : float
        The weight penalty ``l2/2 sum_l |W_l|^2`` (not on the biases).
    out : dict of ndarray or None
        Arrays shaped like ``params`` that receive copies of the gradients (they are computed
        fresh either way).

    Returns
    -------
    loss : float
        The mean cross-entropy plus the penalty.
    grads : dict of ndarray
        One gradient per parameter, shaped and typed like it (``out`` when given).
    """
    L = len(params) // 2
    Ws = [params[f"W{l}"] for l in range(L)]
    bs = [params[f"b{l}"] for l in range(L)]
    dt = Ws[0].dtype
    X = np.asarray(X, dtype=dt)
    y = np.asarray(y, dtype=np.int64)
    n = X.shape[0]
    if activation == "relu":

        def f(z):
            return np.maximum(z, 0)

        def df(a):
            return (a > 0).astype(dt)
    elif activation == "tanh":
        f = np.tanh

        def df(a):
            return 1 - a * a
    else:
        raise ValueError(f"activation must be 'relu' or 'tanh', got {activation!r}")
    reverse_at, scale = _grl(grl_lambda, grl_layer, L)
    sizes = [Ws[0].shape[0]] + [W.shape[1] for W in Ws]
    masks = model_masks(sizes, n, dropout_input, dropout_hidden, rng_seed, dt)

    h = X if masks[0] is None else X * masks[0]
    inputs, acts = [h], [None]
    for l in range(L - 1):
        a = f(h @ Ws[l] + bs[l])
        h = a if masks[l + 1] is None else a * masks[l + 1]
        acts.append(a)
        inputs.append(h)
    z = h @ Ws[-1] + bs[-1]
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z.astype(float)).sum(axis=1, keepdims=True))
    rows = np.arange(n)
    value = -np.mean(logp[rows, y]) + 0.5 * l2 * sum(np.sum(W.astype(float) ** 2) for W in Ws)

    grads = {}
    delta = np.exp(logp)
    delta[rows, y] -= 1
    delta = (delta / n).astype(dt)
    for l in range(L - 1, -1, -1):
        grads[f"W{l}"] = inputs[l].T @ delta + l2 * Ws[l]
        grads[f"b{l}"] = delta.sum(axis=0)
        if l > 0:
            dh = delta @ Ws[l].T
            if l - 1 == reverse_at:
                dh = scale * dh
            if masks[l] is not None:
                dh = dh * masks[l]
            delta = dh * df(acts[l])
    grads = {k: np.ascontiguousarray(grads[k], dtype=dt) for k in params}
    if out is not None:
        for k, g in grads.items():
            out[k][...] = g
        return float(value), out
    return float(value), grads


# ------------------------------------------------------------------------------------ GRU


def _sigmoid(a):
    return expit(a)


def gru_loss_and_grad(
    params: dict, x, y, state=None, *, out: dict | None = None
) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
    """The GRU language model of :mod:`workbench.models.gru` and its truncated BPTT written
    plainly in numpy, one time step at a time as the Theano tutorial does: the results of
    :func:`workbench.models.gru.loss_and_grad`.

    Parameters
    ----------
    params : dict of ndarray
        ``E`` (H, V), ``U``, ``W`` (3, H, H), ``b`` (3, H), ``U_l, W_l, b_l`` for the layers
        ``l = 1 .. L-1``, ``V`` (V, H), ``c`` (V,), all float64 or all float32.
    x : ndarray of int, shape (batch, num_steps)
        The window's input tokens.
    y : ndarray of int, shape (batch, num_steps)
        The tokens to predict (``y[:, t]`` follows ``x[:, t]``).
    state : ndarray, shape (L, batch, H), or None
        The states carried in from the previous window; None: zeros.
    out : dict of ndarray or None
        Arrays shaped like ``params`` that receive copies of the gradients.

    Returns
    -------
    loss : float
        The mean cross-entropy over the ``batch * num_steps`` predictions.
    grads : dict of ndarray
        One gradient per parameter (``out`` when given).
    new_state : ndarray, shape (L, batch, H)
        The states after the window's last step.
    """
    L = 1
    while f"U_{L}" in params:
        L += 1
    E, V, c = params["E"], params["V"], params["c"]
    layers = [tuple(params[n] for n in _layer_names(l)) for l in range(L)]
    dt = E.dtype
    x = np.asarray(x, dtype=np.int64)
    y = np.asarray(y, dtype=np.int64)
    B, T = x.shape
    H = E.shape[0]
    N = B * T
    s = [np.zeros((B, H), dt) if state is None else np.array(state[l], dt) for l in range(L)]
    rows = np.arange(B)

    loss = 0.0
    steps = []
    for t in range(T):
        inp = E[:, x[:, t]].T  # (B, H)
        cache = []
        for l, (U, W, b) in enumerate(layers):
            prev = s[l]
            z = _sigmoid(inp @ U[0].T + prev @ W[0].T + b[0])
            r = _sigmoid(inp @ U[1].T + prev @ W[1].T + b[1])
            h = np.tanh(inp @ U[2].T + (prev * r) @ W[2].T + b[2])
            s[l] = (1 - z) * h + z * prev
            cache.append((inp, prev, z, r, h))
            inp = s[l]
        o = inp @ V.T + c
        o = o - o.max(axis=1, keepdims=True)
        logp = o - np.log(np.exp(o).sum(axis=1, keepdims=True))
        loss -= logp[rows, y[:, t]].sum()
        steps.append((cache, inp, np.exp(logp)))

    grads = {k: np.zeros_like(p) for k, p in params.items()}
    dnext = [np.zeros((B, H), dt) for _ in range(L)]  # gradient into s_t from step t + 1
    for t in range(T - 1, -1, -1):
        cache, top, p = steps[t]
        do = p.copy()
        do[rows, y[:, t]] -= 1
        do /= N
        grads["V"] += do.T @ top
        grads["c"] += do.sum(axis=0)
        dinp = do @ V
        for l in range(L - 1, -1, -1):
            U, W, b = layers[l]
            gU, gW, gb = (grads[n] for n in _layer_names(l))
            inp, prev, z, r, h = cache[l]
            ds = dinp + dnext[l]
            dh = ds * (1 - z) * (1 - h * h)
            dz = ds * (prev - h) * z * (1 - z)
            dsr = dh @ W[2]
            dr = dsr * prev * r * (1 - r)
            gU[0] += dz.T @ inp
            gU[1] += dr.T @ inp
            gU[2] += dh.T @ inp
            gW[0] += dz.T @ prev
            gW[1] += dr.T @ prev
            gW[2] += dh.T @ (prev * r)
            gb[0] += dz.sum(axis=0)
            gb[1] += dr.sum(axis=0)
            gb[2] += dh.sum(axis=0)
            dnext[l] = ds * z + dsr * r + dz @ W[0] + dr @ W[1]
            dinp = dz @ U[0] + dr @ U[1] + dh @ U[2]
        np.add.at(grads["E"].T, x[:, t], dinp)
    new_state = np.stack(s)
    if out is not None:
        for k, g in grads.items():
            out[k][...] = g
        grads = out
    return float(loss / N), grads, new_state


# ------------------------------------------------------------------------- test functions


def rosenbrock(x):
    """The Rosenbrock function ``sum_i 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2`` and its
    gradient, whole arrays at a time.

    Parameters
    ----------
    x : array_like, shape (n,)
        The point, ``n >= 2``.

    Returns
    -------
    f : float
        The value.
    g : ndarray, shape (n,)
        The gradient.
    """
    x = np.asarray(x, dtype=float)
    u = x[1:] - x[:-1] ** 2
    f = np.sum(100.0 * u**2 + (1.0 - x[:-1]) ** 2)
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * u - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * u
    return float(f), g


def saddle_value_grad(x, y, A, C, D):
    """The saddle ``f = x^T A x / 2 + x^T C y - y^T D y / 2`` and its two gradients, as matrix
    products.

    Parameters
    ----------
    x : ndarray, shape (nx,)
        The minimising variables.
    y : ndarray, shape (ny,)
        The maximising variables.
    A : ndarray, shape (nx, nx)
        Symmetric positive definite.
    C : ndarray, shape (nx, ny)
        The coupling.
    D : ndarray, shape (ny, ny)
        Symmetric positive definite.

    Returns
    -------
    f : float
        The value.
    gx : ndarray, shape (nx,)
        ``A x + C y``.
    gy : ndarray, shape (ny,)
        ``C^T x - D y``.
    """
    f = x @ A @ x / 2 + x @ C @ y - y @ D @ y / 2
    return float(f), A @ x + C @ y, C.T @ x - D @ y


def beale(x):
    """Beale's function ``sum_k (c_k - x0 + x0 x1^k)^2`` (``c = 1.5, 2.25, 2.625``,
    ``k = 1, 2, 3``) and its gradient, the three terms as one array.

    Parameters
    ----------
    x : array_like, shape (2,)
        The point ``(x0, x1)``.

    Returns
    -------
    f : float
        The value.
    g : ndarray, shape (2,)
        The gradient.
    """
    a, b = float(x[0]), float(x[1])
    terms = np.array([1.5, 2.25, 2.625]) - a + a * b ** np.arange(1, 4)
    f = float(np.sum(terms**2))
    da = b ** np.arange(1, 4) - 1.0
    db = a * np.arange(1, 4) * b ** np.arange(0, 3)
    return f, np.array([2 * terms @ da, 2 * terms @ db])


def booth(x):
    """Booth's function ``(x0 + 2 x1 - 7)^2 + (2 x0 + x1 - 5)^2`` and its gradient, as the
    squared norm of a linear residual ``M x - v``.

    Parameters
    ----------
    x : array_like, shape (2,)
        The point ``(x0, x1)``.

    Returns
    -------
    f : float
        The value.
    g : ndarray, shape (2,)
        The gradient ``2 M^T (M x - v)``.
    """
    M = np.array([[1.0, 2.0], [2.0, 1.0]])
    r = M @ np.asarray(x, dtype=float) - np.array([7.0, 5.0])
    return float(r @ r), 2 * M.T @ r
