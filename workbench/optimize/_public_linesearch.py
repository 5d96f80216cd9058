"""``line_search`` and ``line_search_wolfe1``: scipy's public line searches, compiled.

They run the compiled searches BFGS uses (:mod:`._linesearch`) on the user's ``f`` and
``fprime`` and return scipy's tuples, failures included: ``(alpha, fc, gc, new_fval,
old_fval, new_slope)``, where ``fc``/``gc`` count calls of phi and phi' and the last entry is,
as in scipy despite its documented name, the gradient at the new point (or None).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._linesearch import FOUND, LS_SLOTS, NO_SLOPE, STALLED, phi, wolfe1, wolfe2
from ._minimize import check_c1_c2, dispatcher, objective_adapter
from ._objective import first_class, kernel_entry
from ._scalar import ANALYTIC, DERPHI_CALLS, GNEW, PHI_CALLS, PK, S_SLOTS, W_ROWS, XK

__all__ = ["line_search", "line_search_wolfe1"]

MORE_THUENTE, ZOOM = 1, 2


@njit(cache=True, error_model="numpy")
def _run(obj, args, xk, pk, gfk, phi0, old_phi0, c1, c2, amax, amin, xtol, maxiter, which):
    """One search along ``pk`` from ``xk``; NaN ``phi0``/``old_phi0`` stand for None."""
    n = xk.shape[0]
    W = np.zeros((W_ROWS, n))
    S = np.zeros(S_SLOTS)
    L = np.zeros(LS_SLOTS)
    steps = np.full(n, np.nan)
    W[XK, :] = xk
    W[PK, :] = pk
    W[GNEW, :] = gfk  # scipy's gval starts as gfk
    derphi0 = 0.0
    for i in range(n):
        derphi0 += gfk[i] * pk[i]
    if math.isnan(phi0):
        phi0 = phi(obj, args, W, S, 0.0, ANALYTIC, steps, None)
    outcome = FOUND
    if which == MORE_THUENTE:
        alpha, fval = wolfe1(
            obj, args, W, S, L, phi0, old_phi0, derphi0, c1, c2, amax, amin, xtol, ANALYTIC, steps,
            None,
        )  # fmt: skip
    else:
        alpha, fval, outcome = wolfe2(
            obj, args, W, S, phi0, old_phi0, derphi0, c1, c2, amax, maxiter, ANALYTIC, steps,
            None,
        )  # fmt: skip
    fc, gc = int(S[PHI_CALLS]), int(S[DERPHI_CALLS])
    return alpha, fc, gc, fval, phi0, W[GNEW].copy(), outcome


def _prepare(f, fprime, xk, pk, gfk, old_fval, old_old_fval, args, c1, c2):
    check_c1_c2(c1, c2)
    if not isinstance(args, tuple):
        args = (args,)
    f, fprime = dispatcher(f, "f"), dispatcher(fprime, "fprime")
    xk = np.ascontiguousarray(xk, dtype=float)
    pk = np.ascontiguousarray(pk, dtype=float)
    if xk.ndim != 1 or pk.shape != xk.shape:
        raise ValueError(
            f"`xk` and `pk` must be 1-D arrays of the same length, got shapes {xk.shape} "
            f"and {pk.shape}."
        )
    gfk = fprime(xk, *args) if gfk is None else gfk
    gfk = np.ascontiguousarray(gfk, dtype=float)
    if gfk.shape != xk.shape:
        raise ValueError(
            f"the gradient has shape {gfk.shape}; expected {xk.shape} to match xk: return a "
            "1-D array (e.g. grad.ravel())"
        )
    phi0 = math.nan if old_fval is None else float(old_fval)
    old_phi0 = math.nan if old_old_fval is None else float(old_old_fval)
    obj, args_type = first_class(objective_adapter(f, fprime, "separate"), args)
    return obj, (obj.signature(), args_type), args, xk, pk, gfk, phi0, old_phi0


def _search(obj, key, *values):
    values = (obj, *values)
    return kernel_entry(_run, values, key)(*values)


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
    extra_condition=None,
    maxiter=10,
):
    """Find a step satisfying the strong Wolfe conditions: ``scipy.optimize.line_search``
    (``line_search_wolfe2``), bracketing and zoom (Nocedal & Wright, Algorithms 3.5 and 3.6).

    Parameters
    ----------
    f : callable
        Objective ``f(x, *args) -> float``, x of shape (n,); compiled with Numba.
    myfprime : callable
        Gradient ``myfprime(x, *args) -> ndarray, shape (n,)``; compiled with Numba.
    xk : array_like, shape (n,)
        Current point.
    pk : array_like, shape (n,)
        Search direction (a descent direction, ``gfk @ pk < 0``, for the search to succeed).
    gfk : array_like, shape (n,), optional
        Gradient at ``xk``; computed with ``myfprime`` when None (that call is not counted in
        ``gc``).
    old_fval : float, optional
        Value of ``f`` at ``xk``; computed (and counted in ``fc``) when None.
    old_old_fval : float, optional
        Value of ``f`` at the point before ``xk``; when given (with a nonzero slope
        ``gfk @ pk``) it sets the first trial step, ``min(1, 2.02 * (old_fval - old_old_fval)
        / (gfk @ pk))`` (1 if that is negative); else the first trial step is 1.
    args : tuple, optional
        Extra arguments of ``f`` and ``myfprime`` (a value that is not a tuple is one argument).
    c1 : float, optional
        Armijo (sufficient decrease) constant (default 1e-4).
    c2 : float, optional
        Curvature constant, ``0 < c1 < c2 < 1`` (default 0.9).
    amax : float, optional
        Largest step allowed (default None: no limit).
    extra_condition : None
        scipy's extra acceptance test ``extra_condition(alpha, x, f, g)``: not supported
        (the search is compiled); anything but None raises ValueError. It is here so that
        scipy's positional order holds (``maxiter`` after it).
    maxiter : int, optional
        Maximum bracketing iterations (default 10).

    Returns
    -------
    alpha : float or None
        The step, ``x_new = xk + alpha * pk``; None if the search failed.
    fc : int
        Number of evaluations of ``f`` (calls of phi).
    gc : int
        Number of evaluations of ``myfprime`` (calls of phi').
    new_fval : float or None
        ``f(x_new)``; None when the zoom fails.
    old_fval : float
        ``f(xk)`` (``old_fval`` as given, or as computed).
    new_slope : ndarray, shape (n,), or None
        As in scipy despite its name, the gradient at ``x_new`` (None on failure, or when out
        of iterations).

    Raises
    ------
    ValueError
        If ``c1``/``c2`` do not satisfy ``0 < c1 < c2 < 1``, ``xk`` and ``pk`` are not 1-D
        of one length, the gradient's shape is not ``xk``'s, or ``extra_condition`` is given.

    Notes
    -----
    The outcomes are scipy's, failures included: when the zoom fails, ``alpha``,
    ``new_fval`` and ``new_slope`` are None; when the step stalls at 0 or passes ``amax``,
    ``alpha`` is None, ``new_fval`` is ``f(xk)`` and ``old_fval`` is ``old_old_fval`` as given;
    out of iterations, the last step and its value are returned with ``new_slope`` None.
    scipy's ``LineSearchWarning`` is not emitted.
    """
    if extra_condition is not None:
        raise ValueError(
            "extra_condition is not supported: the search runs compiled and cannot call a "
            "Python test at each trial step (use scipy.optimize.line_search for it)."
        )
    obj, key, args, xk, pk, gfk, phi0, old_phi0 = _prepare(
        f, myfprime, xk, pk, gfk, old_fval, old_old_fval, args, c1, c2
    )
    amax = math.inf if amax is None else float(amax)  # no limit behaves as an infinite one
    c1, c2 = float(c1), float(c2)
    alpha, fc, gc, fval, phi0, g, outcome = _search(
        obj, key, args, xk, pk, gfk, phi0, old_phi0, c1, c2, amax, 0.0, 0.0, int(maxiter), ZOOM
    )
    if outcome == FOUND:
        return float(alpha), fc, gc, float(fval), float(phi0), g
    if outcome == NO_SLOPE:
        return float(alpha), fc, gc, float(fval), float(phi0), None
    if outcome == STALLED:
        return None, fc, gc, float(phi0), old_old_fval, None
    return None, fc, gc, None, float(phi0), None


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
    """Find a step satisfying the strong Wolfe conditions with Moré and Thuente's search
    (MINPACK-2 DCSRCH): ``scipy.optimize.line_search_wolfe1``.

    Parameters
    ----------
    f : callable
        Objective ``f(x, *args) -> float``, x of shape (n,); compiled with Numba.
    fprime : callable
        Gradient ``fprime(x, *args) -> ndarray, shape (n,)``; compiled with Numba.
    xk : array_like, shape (n,)
        Current point.
    pk : array_like, shape (n,)
        Search direction (a descent direction, ``gfk @ pk < 0``, for the search to succeed).
    gfk : array_like, shape (n,), optional
        Gradient at ``xk``; computed with ``fprime`` when None (that call is not counted in
        ``gc``).
    old_fval : float, optional
        Value of ``f`` at ``xk``; computed (and counted in ``fc``) when None.
    old_old_fval : float, optional
        Value of ``f`` at the point before ``xk``; when given (with a nonzero slope
        ``gfk @ pk``) it sets the first trial step, ``min(1, 2.02 * (old_fval - old_old_fval)
        / (gfk @ pk))`` (1 if that is negative); else the first trial step is 1.
    args : tuple, optional
        Extra arguments of ``f`` and ``fprime`` (a value that is not a tuple is one argument).
    c1 : float, optional
        Armijo (sufficient decrease) constant (default 1e-4).
    c2 : float, optional
        Curvature constant, ``0 < c1 < c2 < 1`` (default 0.9).
    amax : float, optional
        Largest step (default 50).
    amin : float, optional
        Smallest step (default 1e-8).
    xtol : float, optional
        Relative tolerance for an acceptable step (default 1e-14).

    Returns
    -------
    alpha : float or None
        The step, ``x_new = xk + alpha * pk``; None if the search failed (no convergence in
        100 iterations, a warning or error from DCSRCH, or a non-finite step).
    fc : int
        Number of evaluations of ``f``.
    gc : int
        Number of evaluations of ``fprime``.
    new_fval : float
        ``f`` at the last trial point (``old_fval`` if none was tried).
    old_fval : float
        ``f(xk)``.
    new_gradient : ndarray, shape (n,)
        The gradient at the last trial point (``gfk`` if none was tried).

    Raises
    ------
    ValueError
        If ``c1``/``c2`` do not satisfy ``0 < c1 < c2 < 1``, ``xk`` and ``pk`` are not 1-D
        of one length, or the gradient's shape is not ``xk``'s.

    Notes
    -----
    As in scipy, on failure ``new_fval`` and ``new_gradient`` still report the last trial
    point.
    """
    obj, key, args, xk, pk, gfk, phi0, old_phi0 = _prepare(
        f, fprime, xk, pk, gfk, old_fval, old_old_fval, args, c1, c2
    )
    alpha, fc, gc, fval, phi0, g, _ = _search(
        obj,
        key,
        args,
        xk,
        pk,
        gfk,
        phi0,
        old_phi0,
        float(c1),
        float(c2),
        float(amax),
        float(amin),
        float(xtol),
        100,
        MORE_THUENTE,
    )
    return (None if math.isnan(alpha) else float(alpha)), fc, gc, float(fval), float(phi0), g
