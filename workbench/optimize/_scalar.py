"""scipy's ``ScalarFunction``, emulated inside compiled code.

scipy evaluates the objective only at a new x (exact comparison with the last one), counts
``nfev`` per value and ``njev`` per gradient, and for finite differences first makes sure the
value at x is known, then spends one more evaluation per coordinate (2-point, forward). The
same rules here give the same counts. State lives in ``S`` (floats) and rows of the work
matrix ``W``; nothing is allocated, so this runs in a GPU thread too.
"""

from __future__ import annotations

import math

from numba import njit

from ._objective import call_objective

jit = njit(cache=True, error_model="numpy")
leaf = njit(cache=True, error_model="numpy", _nrt=False)

# rows of the work matrix W (n columns)
XK, GFK, PK, XC, GC, XT, GS, XS, GNEW, SK, YK = range(11)
W_ROWS = 11
# slots of the state vector S
F, FVALID, GVALID, NFEV, NGEV, PHI_CALLS, DERPHI_CALLS, FREADY, GREADY = range(9)
S_SLOTS = 9
# gradient modes: analytic; finite differences with an absolute or a relative step; analytic
# from an objective that computes value and gradient in one pass (scipy's jac=True, or a
# compiled objective): the gradient is computed with every value and only *counted* when
# scipy would ask for it, so counts stay scipy's while the data is read once per point.
ANALYTIC, FD_ABS, FD_REL, COMBINED = 0, 1, 2, 3

_SQRT_EPS = 1.4901161193847656e-08  # np.finfo(float).eps ** 0.5, scipy's 2-point step


@leaf
def _move(W, S, x):
    """Make ``x`` the current point; forget the value and gradient if it moved."""
    xc = W[XC]
    for i in range(x.shape[0]):
        if xc[i] != x[i]:
            for k in range(x.shape[0]):
                xc[k] = x[k]
            S[FVALID] = 0.0  # scipy's flags: evaluated (and counted) at this x
            S[GVALID] = 0.0
            S[FREADY] = 0.0  # ours: computed at this x (COMBINED computes both at once)
            S[GREADY] = 0.0
            return


@jit
def _compute(obj, args, W, S, need):
    """Evaluate at the current point; COMBINED always computes value and gradient together."""
    f = call_objective(obj, W[XC], W[GC] if need & 2 else W[GS], need, args)
    if need & 1:
        S[F] = f
        S[FREADY] = 1.0
    if need & 2:
        S[GREADY] = 1.0


@jit
def sf_value(obj, args, W, S, x, fd, step):
    """f(x), evaluated only if x is new (and counted as scipy counts it)."""
    _move(W, S, x)
    if S[FVALID] == 0.0:
        if S[FREADY] == 0.0:
            _compute(obj, args, W, S, 3 if fd == COMBINED else 1)
        S[NFEV] += 1.0
        S[FVALID] = 1.0
    return S[F]


@leaf
def fd_step(x, fd, step):
    """scipy's forward-difference step for one coordinate (``approx_derivative``)."""
    sign = 1.0 if x >= 0 else -1.0
    fallback = _SQRT_EPS * sign * max(1.0, abs(x))
    if fd == FD_ABS:
        h = step  # an absolute step (BFGS's ``eps``), unless it vanishes next to x
    elif math.isnan(step):
        return fallback  # no relative step given
    else:
        h = step * sign * abs(x)
    if (x + h) - x == 0.0:
        return fallback
    return h


@jit
def sf_grad(obj, args, W, S, x, fd, step):
    """Leave the gradient at x in ``W[GC]``, evaluated only if x is new. (Returns nothing: a
    CUDA device function may only return arrays it was given.)"""
    _move(W, S, x)
    gc = W[GC]
    if S[GVALID] == 0.0:
        if fd == ANALYTIC or fd == COMBINED:
            if S[GREADY] == 0.0:
                _compute(obj, args, W, S, 3 if fd == COMBINED else 2)
        else:
            f0 = sf_value(obj, args, W, S, W[XC], fd, step)
            xc, xt = W[XC], W[XT]
            for i in range(xc.shape[0]):
                xt[i] = xc[i]
            for i in range(xc.shape[0]):
                h = fd_step(xc[i], fd, step)
                xt[i] = xc[i] + h
                fi = call_objective(obj, xt, W[GS], 1, args)
                S[NFEV] += 1.0
                gc[i] = (fi - f0) / ((xc[i] + h) - xc[i])
                xt[i] = xc[i]
        S[NGEV] += 1.0
        S[GVALID] = 1.0
