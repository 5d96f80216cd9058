"""``line_search`` and ``line_search_wolfe1``: scipy's public line searches, compiled.

They run the same jitted searches that BFGS uses, on the user's ``f`` and ``fprime``; the
returned tuples are scipy's: ``(alpha, fc, gc, new_fval, old_fval, new_gradient)``, with
``alpha`` None when the search fails (scipy's last entry is the gradient at the new point,
despite its documented name ``new_slope``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .._compiled import as_dispatcher
from ._linesearch import LS_SLOTS, phi, wolfe1, wolfe2
from ._minimize import check_c1_c2, objective_adapter
from ._scalar import ANALYTIC, DERPHI_CALLS, GNEW, PHI_CALLS, PK, S_SLOTS, W_ROWS, XK


@njit(error_model="numpy")
def _run(obj, args, xk, pk, gfk, phi0, old_phi0, c1, c2, amax, amin, xtol, maxiter, which):
    n = xk.shape[0]
    W = np.zeros((W_ROWS, n))
    S = np.zeros(S_SLOTS)
    L = np.zeros(LS_SLOTS)
    W[XK, :] = xk
    W[PK, :] = pk
    W[GNEW, :] = gfk  # scipy's gval starts as gfk
    derphi0 = 0.0
    for i in range(n):
        derphi0 += gfk[i] * pk[i]
    if math.isnan(phi0):
        phi0 = phi(obj, args, W, S, 0.0, ANALYTIC, 0.0)
    have_grad = True
    if which == 1:
        alpha, fval = wolfe1(
            obj, args, W, S, L, phi0, old_phi0, derphi0, c1, c2, amax, amin, xtol, ANALYTIC, 0.0
        )
    else:
        alpha, fval, have_grad = wolfe2(
            obj, args, W, S, phi0, old_phi0, derphi0, c1, c2, amax, maxiter, ANALYTIC, 0.0
        )
    return alpha, int(S[PHI_CALLS]), int(S[DERPHI_CALLS]), fval, phi0, W[GNEW].copy(), have_grad


def _prepare(f, fprime, xk, pk, gfk, old_fval, old_old_fval, args, c1, c2):
    check_c1_c2(c1, c2)
    if not isinstance(args, tuple):
        args = (args,)
    f, fprime = as_dispatcher(f, "f"), as_dispatcher(fprime, "myfprime")
    xk = np.ascontiguousarray(xk, dtype=float)
    pk = np.ascontiguousarray(pk, dtype=float)
    gfk = np.asarray(fprime(xk, *args) if gfk is None else gfk, dtype=float)
    phi0 = math.nan if old_fval is None else float(old_fval)
    old_phi0 = math.nan if old_old_fval is None else float(old_old_fval)
    return objective_adapter(f, fprime, "separate"), args, xk, pk, gfk, phi0, old_phi0


def line_search(
    f,
    myfprime,
    xk,
    pk,
    gfk=None,
    old_fval=None,
    old_old_fval=None,
    args=(),
    c1=1e-4,
    c2=0.9,
    amax=None,
    maxiter=10,
):
    """``scipy.optimize.line_search``: the zoom search for the strong Wolfe conditions."""
    obj, args, xk, pk, gfk, phi0, old_phi0 = _prepare(
        f, myfprime, xk, pk, gfk, old_fval, old_old_fval, args, c1, c2
    )
    amax = math.inf if amax is None else float(amax)
    alpha, fc, gc, fval, phi0, g, have_grad = _run(
        obj, args, xk, pk, gfk, phi0, old_phi0, c1, c2, amax, 0.0, 0.0, maxiter, 2
    )
    if math.isnan(alpha):
        return None, fc, gc, None, phi0, None
    return alpha, fc, gc, fval, phi0, (g if have_grad else None)


def line_search_wolfe1(
    f,
    fprime,
    xk,
    pk,
    gfk=None,
    old_fval=None,
    old_old_fval=None,
    args=(),
    c1=1e-4,
    c2=0.9,
    amax=50,
    amin=1e-8,
    xtol=1e-14,
):
    """``scipy.optimize.line_search_wolfe1``: Moré-Thuente (MINPACK-2 DCSRCH)."""
    obj, args, xk, pk, gfk, phi0, old_phi0 = _prepare(
        f, fprime, xk, pk, gfk, old_fval, old_old_fval, args, c1, c2
    )
    alpha, fc, gc, fval, phi0, g, _ = _run(
        obj,
        args,
        xk,
        pk,
        gfk,
        phi0,
        old_phi0,
        c1,
        c2,
        float(amax),
        float(amin),
        float(xtol),
        100,
        1,
    )
    return (None if math.isnan(alpha) else alpha), fc, gc, fval, phi0, g
