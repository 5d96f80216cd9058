"""The BFGS iteration of ``scipy.optimize._minimize_bfgs``, compiled and allocation-free."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._linesearch import LS_SLOTS, wolfe1, wolfe2
from ._scalar import (
    GC,
    GFK,
    GNEW,
    NFEV,
    NGEV,
    PK,
    S_SLOTS,
    SK,
    W_ROWS,
    XK,
    YK,
    sf_grad,
    sf_value,
)

jit = njit(cache=True, error_model="numpy")
leaf = njit(cache=True, error_model="numpy", _nrt=False)

SUCCESS, MAXITER, PR_LOSS, NAN_RESULT = 0, 1, 2, 3


@leaf
def vecnorm(x, ord):
    """scipy's ``vecnorm``: max |x| for inf, min |x| for -inf, else the ord-norm."""
    if ord == math.inf:
        m = 0.0
        for i in range(x.shape[0]):
            a = abs(x[i])
            if a > m or a != a:
                m = a
        return m
    if ord == -math.inf:
        m = math.inf
        for i in range(x.shape[0]):
            a = abs(x[i])
            if a < m or a != a:
                m = a
        return m
    acc = 0.0
    for i in range(x.shape[0]):
        acc += abs(x[i]) ** ord
    return acc ** (1.0 / ord)


@leaf
def _update_inverse_hessian(H, s, y, rho, T, A):
    """``H <- A1 H A2 + rho s s^T`` with ``A1 = I - rho s y^T``, ``A2 = I - rho y s^T``, formed
    as scipy forms them (explicit factors, products summed in index order), so the rounding
    stays close to its. ``T`` and ``A`` are n x n scratch. The inner loops run along rows, so
    they vectorise."""
    n = s.shape[0]
    for k in range(n):  # A = A2
        for j in range(n):
            A[k, j] = (1.0 if k == j else 0.0) - y[k] * s[j] * rho
    for i in range(n):  # T = H @ A2
        for j in range(n):
            T[i, j] = 0.0
        for k in range(n):
            h = H[i, k]
            for j in range(n):
                T[i, j] += h * A[k, j]
    for i in range(n):  # A = A1
        for k in range(n):
            A[i, k] = (1.0 if i == k else 0.0) - s[i] * y[k] * rho
    for i in range(n):  # H = A1 @ T + rho s s^T
        for j in range(n):
            H[i, j] = 0.0
        for k in range(n):
            a = A[i, k]
            for j in range(n):
                H[i, j] += a * T[k, j]
        for j in range(n):
            H[i, j] += rho * s[i] * s[j]


@jit
def bfgs(obj, args, W, S, L, H, T, A, x0, fd, step, gtol, ord, maxiter, xrtol, c1, c2, allvecs):
    """Minimise from ``x0``. ``H`` holds the initial inverse Hessian and ends as the last one
    (``T`` and ``A``, n x n, are scratch);
    ``W[XK]``, ``W[GFK]`` end as x and the gradient. Iterates go to ``allvecs`` rows while it
    has room (pass a (0, n) array for none). Returns (status, nit, f)."""
    n = x0.shape[0]
    xk, gfk, pk, sk, yk = W[XK], W[GFK], W[PK], W[SK], W[YK]
    for i in range(n):
        xk[i] = x0[i]
    old_fval = sf_value(obj, args, W, S, xk, fd, step)
    sf_grad(obj, args, W, S, xk, fd, step)
    g = W[GC]
    acc = 0.0
    for i in range(n):
        gfk[i] = g[i]
        acc += g[i] * g[i]
    old_old_fval = old_fval + math.sqrt(acc) / 2  # the first step is then about |dx| = 1
    if allvecs.shape[0] > 0:
        for i in range(n):
            allvecs[0, i] = xk[i]
    k = 0
    warnflag = SUCCESS
    gnorm = vecnorm(gfk, ord)
    while gnorm > gtol and k < maxiter:
        derphi0 = 0.0
        for i in range(n):
            acc = 0.0
            for j in range(n):
                acc += H[i, j] * gfk[j]
            pk[i] = -acc
            derphi0 += gfk[i] * pk[i]
        # Moré-Thuente first; the zoom search when it fails (scipy's _line_search_wolfe12)
        alpha, new_fval = wolfe1(
            obj,
            args,
            W,
            S,
            L,
            old_fval,
            old_old_fval,
            derphi0,
            c1,
            c2,
            1e100,
            1e-100,
            1e-14,
            fd,
            step,
        )
        have_grad = True
        if math.isnan(alpha):
            alpha, new_fval, have_grad = wolfe2(
                obj, args, W, S, old_fval, old_old_fval, derphi0, c1, c2, 1e100, 10, fd, step
            )
        if math.isnan(alpha):
            warnflag = PR_LOSS
            break
        old_old_fval = old_fval
        old_fval = new_fval
        for i in range(n):
            sk[i] = alpha * pk[i]
            xk[i] = xk[i] + sk[i]
        if k + 1 < allvecs.shape[0]:
            for i in range(n):
                allvecs[k + 1, i] = xk[i]
        if have_grad:
            gnew = W[GNEW]
        else:  # the zoom search ran out of iterations: scipy evaluates the gradient itself
            sf_grad(obj, args, W, S, xk, fd, step)
            gnew = W[GC]
        for i in range(n):
            yk[i] = gnew[i] - gfk[i]
            gfk[i] = gnew[i]
        k += 1
        gnorm = vecnorm(gfk, ord)
        if gnorm <= gtol:
            break
        if alpha * vecnorm(pk, 2.0) <= xrtol * (xrtol + vecnorm(xk, 2.0)):
            break
        if not math.isfinite(old_fval):
            warnflag = PR_LOSS  # +-inf found as the optimum, or something went wrong
            break
        rhok_inv = 0.0
        for i in range(n):
            rhok_inv += yk[i] * sk[i]
        rhok = 1000.0 if rhok_inv == 0.0 else 1.0 / rhok_inv
        _update_inverse_hessian(H, sk, yk, rhok, T, A)
    if warnflag != PR_LOSS:
        if k >= maxiter:
            warnflag = MAXITER
        else:
            bad = math.isnan(gnorm) or math.isnan(old_fval)
            for i in range(n):
                bad = bad or math.isnan(xk[i])
            if bad:
                warnflag = NAN_RESULT
    return warnflag, k, old_fval


@jit
def bfgs_one(obj, args, x0, H0, fd, step, gtol, ord, maxiter, xrtol, c1, c2, keep_all):
    """One minimisation from Python: allocates the work arrays, returns everything."""
    n = x0.shape[0]
    W = np.zeros((W_ROWS, n))
    S = np.zeros(S_SLOTS)
    L = np.zeros(LS_SLOTS)
    H = H0.copy()
    T = np.empty_like(H)
    A = np.empty_like(H)
    allvecs = np.empty((maxiter + 1 if keep_all else 0, n))
    status, nit, f = bfgs(
        obj, args, W, S, L, H, T, A, x0, fd, step, gtol, ord, maxiter, xrtol, c1, c2, allvecs
    )
    return (
        status,
        nit,
        f,
        W[XK].copy(),
        W[GFK].copy(),
        H,
        int(S[NFEV]),
        int(S[NGEV]),
        allvecs[: min(nit + 1, allvecs.shape[0])],
    )
