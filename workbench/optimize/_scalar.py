"""scipy's ``ScalarFunction``, emulated inside compiled code.

scipy evaluates the objective only at a new x (exact comparison with the last x), counts
``nfev`` per value and ``njev`` per gradient, and for finite differences first makes sure the
value at x is known, then spends one more evaluation per coordinate (``approx_derivative``,
2-point, forward). The same rules here give the same counts. State lives in ``S`` (floats) and
rows of the work matrix ``W``; nothing is allocated, so this runs in a GPU thread too.

Every evaluation first polls ``stop`` (see :mod:`workbench._numba.interrupt`; None compiles
the poll away): once it is set, the evaluations answer NaN without calling the objective, so
the line search in progress ends at once and BFGS returns ``INTERRUPTED``. Ctrl-C thus waits
for one evaluation, not for an iteration (a finite-difference gradient is n evaluations).
"""

from __future__ import annotations

import math

from .._numba import leaf
from .._numba.interrupt import interrupted
from ._objective import call_objective

# rows of the work matrix W (n columns each)
XK, GFK, PK, XC, GC, XT, GS, XS, GNEW, SK, YK, NORM = range(12)
W_ROWS = 12
# slots of the state vector S
F, FVALID, GVALID, NFEV, NGEV, PHI_CALLS, DERPHI_CALLS, FREADY, GREADY = range(9)
S_SLOTS = 9

# How the gradient is obtained:
# ANALYTIC  separate ``fun`` and ``jac`` (need 1 or 2);
# FD_ABS    forward differences with absolute steps ``steps`` (BFGS's ``eps``, jac=None);
# FD_REL    forward differences with relative steps ``steps`` (NaN: scipy's default),
#           ``jac="2-point"``;
# FD3_REL   central differences with relative steps, ``jac="3-point"`` (2 evaluations each);
# COMBINED  one call computes value and gradient (scipy's ``jac=True``, in-place objectives,
#           compiled objectives): both are computed at every new x and only *counted* when scipy
#           would ask for them, so the counts stay scipy's while data is read once per point.
ANALYTIC, FD_ABS, FD_REL, COMBINED, FD3_REL = 0, 1, 2, 3, 4

# scipy's relative steps: EPS ** 0.5 for 2-point (exactly 2**-26), EPS ** (1/3) for 3-point
_SQRT_EPS = 1.4901161193847656e-08
_CBRT_EPS = 6.055454452393343e-06


@leaf
def _move(W, S, x):
    """Make ``x`` the current point; forget the value and gradient if it moved. Like scipy's
    ``np.array_equal`` test, a NaN never equals itself, so such a point is always new."""
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


@leaf
def _compute(obj, args, W, S, need):
    """Evaluate at the current point ``W[XC]``; the gradient goes to ``W[GC]``."""
    f = call_objective(obj, W[XC], W[GC] if need & 2 else W[GS], need, args)
    if need & 1:
        S[F] = f
        S[FREADY] = 1.0
    if need & 2:
        S[GREADY] = 1.0


@leaf
def sf_value(obj, args, W, S, x, fd, steps, stop):
    """f(x), evaluated only if x is new (and counted as scipy counts it); NaN once ``stop``
    is set."""
    if interrupted(stop):
        return math.nan
    _move(W, S, x)
    if S[FVALID] == 0.0:
        if S[FREADY] == 0.0:
            _compute(obj, args, W, S, 3 if fd == COMBINED else 1)
        S[NFEV] += 1.0
        S[FVALID] = 1.0
    return S[F]


@leaf
def _fill_nan(v):
    for i in range(v.shape[0]):
        v[i] = math.nan


@leaf
def _default_step(x, fd):
    """scipy's relative step ``EPS**(1/2 or 1/3) * sign(x) * max(1, |x|)``; sign(0) is +1
    and, as with ``np.maximum``, a NaN coordinate gives a NaN step."""
    sign = 1.0 if x >= 0 else -1.0
    ax = abs(x)
    rstep = _CBRT_EPS if fd == FD3_REL else _SQRT_EPS
    return rstep * sign * (ax if (ax > 1.0 or ax != ax) else 1.0)


@leaf
def fd_step(x, fd, step):
    """The difference step for one coordinate at ``x``, as ``approx_derivative`` computes
    it: an absolute step, or a relative one, replaced by the default relative step where it
    would vanish next to ``x``. Central differences use its magnitude."""
    if fd == FD_ABS:
        h = step
    elif math.isnan(step):
        h = _default_step(x, fd)
        return abs(h) if fd == FD3_REL else h
    else:
        sign = 1.0 if x >= 0 else -1.0
        h = step * sign * abs(x)
    if (x + h) - x == 0.0:
        h = _default_step(x, fd)
    return abs(h) if fd == FD3_REL else h


@leaf
def sf_grad(obj, args, W, S, x, fd, steps, stop):
    """Leave the gradient at x in ``W[GC]``, evaluated only if x is new; NaN once ``stop`` is
    set. (Returns nothing: a CUDA device function may only return arrays it was given.)"""
    gc = W[GC]
    if interrupted(stop):
        _fill_nan(gc)
        return
    _move(W, S, x)
    if S[GVALID] == 0.0:
        if fd == ANALYTIC or fd == COMBINED:
            if S[GREADY] == 0.0:
                _compute(obj, args, W, S, 3 if fd == COMBINED else 2)
        else:
            f0 = sf_value(obj, args, W, S, W[XC], fd, steps, stop)
            xc, xt = W[XC], W[XT]
            for i in range(xc.shape[0]):
                xt[i] = xc[i]
            for i in range(xc.shape[0]):
                if interrupted(stop):
                    _fill_nan(gc)
                    return
                h = fd_step(xc[i], fd, steps[i])
                if fd == FD3_REL:  # f(x + h) - f(x - h) over the distance between the points
                    xt[i] = xc[i] - h
                    f_lo = call_objective(obj, xt, W[GS], 1, args)
                    xt[i] = xc[i] + h
                    f_hi = call_objective(obj, xt, W[GS], 1, args)
                    S[NFEV] += 2.0
                    gc[i] = (f_hi - f_lo) / ((xc[i] + h) - (xc[i] - h))
                else:
                    xt[i] = xc[i] + h
                    fi = call_objective(obj, xt, W[GS], 1, args)
                    S[NFEV] += 1.0
                    gc[i] = (fi - f0) / ((xc[i] + h) - xc[i])
                xt[i] = xc[i]
        S[NGEV] += 1.0
        S[GVALID] = 1.0
