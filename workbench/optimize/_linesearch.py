"""Scipy's line searches for BFGS, compiled: Moré-Thuente (``line_search_wolfe1``, the MINPACK-2
DCSRCH port) and the zoom search (``line_search_wolfe2``), each mirroring
``scipy/optimize/_linesearch.py`` and ``_dcsrch.py`` decision for decision.

Everything here is allocation-free, so it runs inside a GPU thread too: the search direction,
the current point and the gradient met at a trial step live in rows of the work matrix ``W``,
the DCSRCH state in ``L``. Where scipy returns None a step is NaN here. The objective is seen
through :mod:`._scalar`, which emulates scipy's ``ScalarFunction`` (it evaluates only at a new
x, and counts evaluations exactly as scipy does), so evaluation counts match scipy's.
"""

from __future__ import annotations

import math

from .._numba import leaf
from ._blas import dot
from ._scalar import DERPHI_CALLS, GC, GNEW, PHI_CALLS, PK, XK, XS, sf_grad, sf_value

# DCSRCH tasks
START, FG, CONVERGENCE, WARNING, ERROR = 0, 1, 2, 3, 4
# slots of the DCSRCH state vector
BRACKT, STAGE, GINIT, GTEST, GX, GY, FINIT, FX, FY = range(9)
STX, STY, STMIN, STMAX, WIDTH, WIDTH1 = range(9, 15)
LS_SLOTS = 15
# outcomes of the zoom search (wolfe2)
FOUND, NO_SLOPE, ZOOM_FAILED, STALLED = 0, 1, 2, 3


@leaf
def phi(obj, args, W, S, s, fd, steps, stop):
    """f(xk + s pk)."""
    S[PHI_CALLS] += 1.0  # scipy's line searches count calls (fc), not evaluations
    xk, pk, xs = W[XK], W[PK], W[XS]
    for i in range(xs.shape[0]):
        xs[i] = xk[i] + s * pk[i]
    return sf_value(obj, args, W, S, xs, fd, steps, stop)


@leaf
def derphi(obj, args, W, S, s, fd, steps, stop):
    """grad f(xk + s pk) . pk; the gradient is kept in ``W[GNEW]`` (scipy's ``gval``)."""
    S[DERPHI_CALLS] += 1.0
    xk, pk, xs = W[XK], W[PK], W[XS]
    for i in range(xs.shape[0]):
        xs[i] = xk[i] + s * pk[i]
    sf_grad(obj, args, W, S, xs, fd, steps, stop)
    g = W[GC]
    gnew = W[GNEW]
    for i in range(g.shape[0]):
        gnew[i] = g[i]
    return dot(gnew, pk)  # np.dot(gval, pk)


@leaf
def _sign(x):
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    if x == 0.0:
        return 0.0
    return x  # NaN, as np.sign


@leaf
def _max3(a, b, c):  # Python's max(): keeps the first unless a later one is greater
    m = a
    if b > m:
        m = b
    if c > m:
        m = c
    return m


@leaf
def _clip(x, lo, hi):  # np.clip, NaN passes through
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


@leaf
def dcstep(stx, fx, dx, sty, fy, dy, stp, fp, dp, brackt, stpmin, stpmax):
    """The safeguarded cubic/quadratic step of Moré and Thuente (MINPACK-2 dcstep)."""
    sgnd = _sign(dp) * _sign(dx)
    if fp > fx:
        theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
        s = _max3(abs(theta), abs(dx), abs(dp))
        gamma = s * math.sqrt((theta / s) ** 2 - dx / s * (dp / s))
        if stp < stx:
            gamma *= -1
        p = gamma - dx + theta
        q = gamma - dx + gamma + dp
        r = p / q
        stpc = stx + r * (stp - stx)
        stpq = stx + dx / ((fx - fp) / (stp - stx) + dx) / 2.0 * (stp - stx)
        if abs(stpc - stx) <= abs(stpq - stx):
            stpf = stpc
        else:
            stpf = stpc + (stpq - stpc) / 2.0
        brackt = True
    elif sgnd < 0.0:
        theta = 3 * (fx - fp) / (stp - stx) + dx + dp
        s = _max3(abs(theta), abs(dx), abs(dp))
        gamma = s * math.sqrt((theta / s) ** 2 - dx / s * (dp / s))
        if stp > stx:
            gamma *= -1
        p = gamma - dp + theta
        q = gamma - dp + gamma + dx
        r = p / q
        stpc = stp + r * (stx - stp)
        stpq = stp + dp / (dp - dx) * (stx - stp)
        if abs(stpc - stp) > abs(stpq - stp):
            stpf = stpc
        else:
            stpf = stpq
        brackt = True
    elif abs(dp) < abs(dx):
        theta = 3 * (fx - fp) / (stp - stx) + dx + dp
        s = _max3(abs(theta), abs(dx), abs(dp))
        radicand = (theta / s) ** 2 - dx / s * (dp / s)
        gamma = s * math.sqrt(radicand if radicand > 0.0 else 0.0)
        if stp > stx:
            gamma = -gamma
        p = gamma - dp + theta
        q = gamma + (dx - dp) + gamma
        r = p / q
        if r < 0 and gamma != 0:
            stpc = stp + r * (stx - stp)
        elif stp > stx:
            stpc = stpmax
        else:
            stpc = stpmin
        stpq = stp + dp / (dp - dx) * (stx - stp)
        if brackt:
            if abs(stpc - stp) < abs(stpq - stp):
                stpf = stpc
            else:
                stpf = stpq
            if stp > stx:
                stpf = min(stp + 0.66 * (sty - stp), stpf)
            else:
                stpf = max(stp + 0.66 * (sty - stp), stpf)
        else:
            if abs(stpc - stp) > abs(stpq - stp):
                stpf = stpc
            else:
                stpf = stpq
            stpf = _clip(stpf, stpmin, stpmax)
    elif brackt:
        theta = 3.0 * (fp - fy) / (sty - stp) + dy + dp
        s = _max3(abs(theta), abs(dy), abs(dp))
        gamma = s * math.sqrt((theta / s) ** 2 - dy / s * (dp / s))
        if stp > sty:
            gamma = -gamma
        p = gamma - dp + theta
        q = gamma - dp + gamma + dy
        r = p / q
        stpf = stp + r * (sty - stp)
    elif stp > stx:
        stpf = stpmax
    else:
        stpf = stpmin
    if fp > fx:
        sty, fy, dy = stp, fp, dp
    else:
        if sgnd < 0:
            sty, fy, dy = stx, fx, dx
        stx, fx, dx = stp, fp, dp
    return stx, fx, dx, sty, fy, dy, stpf, brackt


@leaf
def dcsrch_iterate(L, stp, f, g, task, ftol, gtol, xtol, stpmin, stpmax):
    """One call of DCSRCH: returns (next step, task). ``L`` holds the search's state."""
    p5, p66, xtrapl, xtrapu = 0.5, 0.66, 1.1, 4.0
    if task == START:
        if stp < stpmin or stp > stpmax or g >= 0 or ftol < 0 or gtol < 0 or xtol < 0:
            return stp, ERROR
        if stpmin < 0 or stpmax < stpmin:
            return stp, ERROR
        L[BRACKT] = 0.0
        L[STAGE] = 1.0
        L[FINIT] = f
        L[GINIT] = g
        L[GTEST] = ftol * g
        L[WIDTH] = stpmax - stpmin
        L[WIDTH1] = L[WIDTH] / p5
        L[STX] = 0.0
        L[FX] = f
        L[GX] = g
        L[STY] = 0.0
        L[FY] = f
        L[GY] = g
        L[STMIN] = 0.0
        L[STMAX] = stp + xtrapu * stp
        return stp, FG
    brackt = L[BRACKT] != 0.0
    ftest = L[FINIT] + stp * L[GTEST]
    if L[STAGE] == 1.0 and f <= ftest and g >= 0:
        L[STAGE] = 2.0
    task = FG
    if brackt and (stp <= L[STMIN] or stp >= L[STMAX]):
        task = WARNING  # rounding errors prevent progress
    if brackt and L[STMAX] - L[STMIN] <= xtol * L[STMAX]:
        task = WARNING  # xtol test satisfied
    if stp == stpmax and f <= ftest and g <= L[GTEST]:
        task = WARNING  # stp = stpmax
    if stp == stpmin and (f > ftest or g >= L[GTEST]):
        task = WARNING  # stp = stpmin
    if f <= ftest and abs(g) <= gtol * -L[GINIT]:
        task = CONVERGENCE
    if task != FG:
        return stp, task
    gtest = L[GTEST]
    if L[STAGE] == 1.0 and f <= L[FX] and f > ftest:
        # the modified function (f - stp gtest) keeps the step from stalling in stage 1
        fm = f - stp * gtest
        fxm = L[FX] - L[STX] * gtest
        fym = L[FY] - L[STY] * gtest
        gm = g - gtest
        gxm = L[GX] - gtest
        gym = L[GY] - gtest
        stx, fxm, gxm, sty, fym, gym, stp, brackt = dcstep(
            L[STX], fxm, gxm, L[STY], fym, gym, stp, fm, gm, brackt, L[STMIN], L[STMAX]
        )
        L[STX], L[STY] = stx, sty
        L[FX] = fxm + stx * gtest
        L[FY] = fym + sty * gtest
        L[GX] = gxm + gtest
        L[GY] = gym + gtest
    else:
        stx, fx, gx, sty, fy, gy, stp, brackt = dcstep(
            L[STX], L[FX], L[GX], L[STY], L[FY], L[GY], stp, f, g, brackt, L[STMIN], L[STMAX]
        )
        L[STX], L[FX], L[GX], L[STY], L[FY], L[GY] = stx, fx, gx, sty, fy, gy
    L[BRACKT] = 1.0 if brackt else 0.0
    if brackt:
        if abs(L[STY] - L[STX]) >= p66 * L[WIDTH1]:
            stp = L[STX] + p5 * (L[STY] - L[STX])
        L[WIDTH1] = L[WIDTH]
        L[WIDTH] = abs(L[STY] - L[STX])
        L[STMIN] = min(L[STX], L[STY])
        L[STMAX] = max(L[STX], L[STY])
    else:
        L[STMIN] = stp + xtrapl * (stp - L[STX])
        L[STMAX] = stp + xtrapu * (stp - L[STX])
    stp = _clip(stp, stpmin, stpmax)
    if (brackt and (stp <= L[STMIN] or stp >= L[STMAX])) or (
        brackt and L[STMAX] - L[STMIN] <= xtol * L[STMAX]
    ):
        stp = L[STX]
    return stp, FG


@leaf
def wolfe1(obj, args, W, S, L, phi0, old_phi0, derphi0, c1, c2, amax, amin, xtol, fd, steps, stop):
    """``scalar_search_wolfe1``: returns (step or NaN on failure, f at the step)."""
    if derphi0 != 0 and not math.isnan(old_phi0):
        alpha1 = min(1.0, 1.01 * 2 * (phi0 - old_phi0) / derphi0)
        if alpha1 < 0:
            alpha1 = 1.0
    else:
        alpha1 = 1.0
    phi1 = phi0
    derphi1 = derphi0
    task = START
    stp = alpha1
    for _ in range(100):
        stp, task = dcsrch_iterate(L, alpha1, phi1, derphi1, task, c1, c2, xtol, amin, amax)
        if not math.isfinite(stp):
            return math.nan, phi1
        if task == FG:
            alpha1 = stp
            phi1 = phi(obj, args, W, S, stp, fd, steps, stop)
            derphi1 = derphi(obj, args, W, S, stp, fd, steps, stop)
        else:
            break
    else:
        return math.nan, phi1
    if task != CONVERGENCE:
        return math.nan, phi1
    return stp, phi1


@leaf
def _raises(r, a, b):
    """Whether numpy, under ``errstate(divide/over/invalid="raise")``, raises for the result
    ``r`` of an operation on ``a`` and ``b``: IEEE flags invalid when a NaN comes from non-NaN
    operands (inf - inf, 0 * inf, 0 / 0, sqrt(-1)), and overflow or divide-by-zero when an
    infinity comes from finite ones (inf / 0 and NaN operands flag nothing)."""
    if r != r:
        return a == a and b == b
    if math.isinf(r):
        return math.isfinite(a) and math.isfinite(b)
    return False


@leaf
def cubicmin(a, fa, fpa, b, fb, c, fc):
    """Minimiser of the cubic through (a, fa) with slope fpa, (b, fb) and (c, fc), as scipy's
    ``_cubicmin`` computes it; NaN where scipy returns None, i.e. where one of its operations
    raises a floating-point error (checked operation by operation) or the result is not
    finite. Infinite inputs therefore behave as in scipy too.

    scipy meets the values fa, fb, fc as Python floats (what an ``@njit`` objective returns),
    whose differences never raise; everything that touches the slope fpa (a numpy float) is
    numpy arithmetic. The 2 x 2 product is summed plainly where scipy's BLAS may fuse it."""
    C = fpa
    db = b - a
    dc = c - a
    bad = _raises(db, b, a) or _raises(dc, c, a)
    t = db * dc
    bad = bad or _raises(t, db, dc)
    t2 = t**2.0
    bad = bad or _raises(t2, t, t)
    e = db - dc
    bad = bad or _raises(e, db, dc)
    denom = t2 * e
    bad = bad or _raises(denom, t2, e)
    # the 2 x 2 matrix, powers as C's pow() (Python's and numpy's float **)
    d00 = dc**2.0
    d01 = -(db**2.0)
    d10 = -(dc**3.0)
    d11 = db**3.0
    bad = bad or _raises(d00, dc, dc) or _raises(d01, db, db)
    bad = bad or _raises(d10, dc, dc) or _raises(d11, db, db)
    u1 = fb - fa  # Python floats: no error
    u2 = C * db
    u = u1 - u2
    bad = bad or _raises(u2, C, db) or _raises(u, u1, u2)
    v1 = fc - fa
    v2 = C * dc
    v = v1 - v2
    bad = bad or _raises(v2, C, dc) or _raises(v, v1, v2)
    a1 = d00 * u
    a2 = d01 * v
    A = a1 + a2
    bad = bad or _raises(a1, d00, u) or _raises(a2, d01, v) or _raises(A, a1, a2)
    b1 = d10 * u
    b2 = d11 * v
    B = b1 + b2
    bad = bad or _raises(b1, d10, u) or _raises(b2, d11, v) or _raises(B, b1, b2)
    A2 = A / denom
    B2 = B / denom
    bad = bad or _raises(A2, A, denom) or _raises(B2, B, denom)
    r1 = B2 * B2
    r2 = 3 * A2
    r3 = r2 * C
    radical = r1 - r3
    bad = bad or _raises(r1, B2, B2) or _raises(r2, A2, A2) or _raises(r3, r2, C)
    bad = bad or _raises(radical, r1, r3)
    root = math.sqrt(radical)
    num = -B2 + root
    q = num / r2
    xmin = a + q
    bad = bad or _raises(root, radical, radical) or _raises(num, B2, root)
    bad = bad or _raises(q, num, r2) or _raises(xmin, a, q)
    if bad or not math.isfinite(xmin):
        return math.nan
    return xmin


@leaf
def quadmin(a, fa, fpa, b, fb):
    """Minimiser of the quadratic through (a, fa) with slope fpa and (b, fb), as scipy's
    ``_quadmin`` computes it; NaN where scipy returns None (see :func:`cubicmin`)."""
    D = fa
    C = fpa
    db = b - a * 1.0
    t1 = fb - D  # Python floats: no error
    t2 = C * db
    num = t1 - t2
    den = db * db
    B = num / den
    bad = _raises(db, b, a) or _raises(t2, C, db)
    bad = bad or _raises(num, t1, t2) or _raises(den, db, db) or _raises(B, num, den)
    B2 = 2.0 * B
    q = C / B2
    xmin = a - q
    bad = bad or _raises(B2, B, B) or _raises(q, C, B2) or _raises(xmin, a, q)
    if bad or not math.isfinite(xmin):
        return math.nan
    return xmin


@leaf
def zoom(
    obj, args, W, S, a_lo, a_hi, phi_lo, phi_hi, derphi_lo, phi0, derphi0, c1, c2, fd, steps, stop
):
    """scipy's ``_zoom``: returns (step or NaN, f there, slope there)."""
    delta1, delta2 = 0.2, 0.1
    phi_rec = phi0
    a_rec = 0.0
    i = 0
    while True:
        dalpha = a_hi - a_lo
        if dalpha < 0:
            a, b = a_hi, a_lo
        else:
            a, b = a_lo, a_hi
        a_j = math.nan
        cchk = 0.0
        if i > 0:
            cchk = delta1 * dalpha
            a_j = cubicmin(a_lo, phi_lo, derphi_lo, a_hi, phi_hi, a_rec, phi_rec)
        if i == 0 or math.isnan(a_j) or a_j > b - cchk or a_j < a + cchk:
            qchk = delta2 * dalpha
            a_j = quadmin(a_lo, phi_lo, derphi_lo, a_hi, phi_hi)
            if math.isnan(a_j) or a_j > b - qchk or a_j < a + qchk:
                a_j = a_lo + 0.5 * dalpha
        phi_aj = phi(obj, args, W, S, a_j, fd, steps, stop)
        if phi_aj > phi0 + c1 * a_j * derphi0 or phi_aj >= phi_lo:
            phi_rec = phi_hi
            a_rec = a_hi
            a_hi = a_j
            phi_hi = phi_aj
        else:
            derphi_aj = derphi(obj, args, W, S, a_j, fd, steps, stop)
            if abs(derphi_aj) <= -c2 * derphi0:
                return a_j, phi_aj, derphi_aj
            if derphi_aj * (a_hi - a_lo) >= 0:
                phi_rec = phi_hi
                a_rec = a_hi
                a_hi = a_lo
                phi_hi = phi_lo
            else:
                phi_rec = phi_lo
                a_rec = a_lo
            a_lo = a_j
            phi_lo = phi_aj
            derphi_lo = derphi_aj
        i += 1
        if i > 10:
            return math.nan, math.nan, math.nan


@leaf
def wolfe2(obj, args, W, S, phi0, old_phi0, derphi0, c1, c2, amax, maxiter, fd, steps, stop):
    """``scalar_search_wolfe2``: returns (step, f at the step, outcome). The step is NaN on
    failure. The outcome says what scipy returns:

    * ``FOUND``: a step and the gradient there (left in ``W[GNEW]``);
    * ``NO_SLOPE``: out of iterations, scipy still returns the last step but no gradient (BFGS
      then evaluates it itself);
    * ``ZOOM_FAILED``: no step, no value;
    * ``STALLED``: the step became 0 or passed ``amax``; scipy then returns phi0 as the new
      value and ``old_phi0`` as the old one.
    """
    alpha0 = 0.0
    if not math.isnan(old_phi0) and derphi0 != 0:
        alpha1 = min(1.0, 1.01 * 2 * (phi0 - old_phi0) / derphi0)
    else:
        alpha1 = 1.0
    if alpha1 < 0:
        alpha1 = 1.0
    alpha1 = min(alpha1, amax)
    phi_a1 = phi(obj, args, W, S, alpha1, fd, steps, stop)
    phi_a0 = phi0
    derphi_a0 = derphi0
    lo = hi = f_lo = f_hi = d_lo = 0.0  # the bracket handed to the zoom
    for i in range(maxiter):
        if alpha1 == 0 or alpha0 > amax:
            return math.nan, phi0, STALLED
        if phi_a1 > phi0 + c1 * alpha1 * derphi0 or (phi_a1 >= phi_a0 and i > 0):
            lo, hi, f_lo, f_hi, d_lo = alpha0, alpha1, phi_a0, phi_a1, derphi_a0
            break
        derphi_a1 = derphi(obj, args, W, S, alpha1, fd, steps, stop)
        if abs(derphi_a1) <= -c2 * derphi0:
            return alpha1, phi_a1, FOUND
        if derphi_a1 >= 0:
            lo, hi, f_lo, f_hi, d_lo = alpha1, alpha0, phi_a1, phi_a0, derphi_a1
            break
        alpha2 = min(2 * alpha1, amax)
        alpha0 = alpha1
        alpha1 = alpha2
        phi_a0 = phi_a1
        phi_a1 = phi(obj, args, W, S, alpha1, fd, steps, stop)
        derphi_a0 = derphi_a1
    else:
        return alpha1, phi_a1, NO_SLOPE
    a, f, _ = zoom(
        obj, args, W, S, lo, hi, f_lo, f_hi, d_lo, phi0, derphi0, c1, c2, fd, steps, stop
    )
    return a, f, (ZOOM_FAILED if math.isnan(a) else FOUND)
