"""The BFGS iteration of ``scipy.optimize._minimize_bfgs``, compiled and allocation-free.

Every floating-point operation is scipy's, in scipy's order. Its BLAS calls (``np.dot`` for
the search direction, slopes and the inverse-Hessian update, and ``np.linalg.norm``) are
loops that add in the order, and with the fused multiply-adds, of numpy's OpenBLAS kernels
where :mod:`._blas` knows them (AVX2 CPUs): then iterates agree with scipy's bit for bit,
long runs included. Elsewhere they add in index order and agree to rounding.
"""

from __future__ import annotations

import math

import numpy as np

from .._numba import inline, jit, leaf
from .._numba.interrupt import interrupted
from ._blas import dot, madd, neg_gemv
from ._linesearch import FOUND, LS_SLOTS, wolfe1, wolfe2
from ._objective import call_iteration_callback
from ._result import INTERRUPTED, MAXITER, NAN_RESULT, PR_LOSS, SUCCESS
from ._scalar import (
    GC,
    GFK,
    GNEW,
    NFEV,
    NGEV,
    NORM,
    PK,
    S_SLOTS,
    SK,
    W_ROWS,
    XK,
    YK,
    sf_grad,
    sf_value,
)


@inline
def _power(a, ord):
    """``a ** ord`` as numpy's array power gives it: numpy turns the exponents 2, 1, 0.5, -1
    and 0 into square, copy, sqrt, reciprocal and ones, which round differently from (and
    cost less than) libm's ``pow``; other exponents fall back to ``pow``."""
    if ord == 2.0:
        return a * a
    if ord == 1.0:
        return a
    if ord == 0.5:
        return math.sqrt(a)
    if ord == -1.0:
        return 1.0 / a
    if ord == 0.0:
        return 1.0
    return a**ord


@leaf
def _pow_block(x, ord, lo, n):
    """numpy's pairwise sum of ``|x|**ord`` over ``x[lo:lo+n]`` for n <= 128: a plain loop
    below 8 terms, else eight interleaved partial sums combined as a tree."""
    if n < 8:
        acc = -0.0
        for i in range(lo, lo + n):
            acc += _power(abs(x[i]), ord)
        return acc
    r0 = _power(abs(x[lo]), ord)
    r1 = _power(abs(x[lo + 1]), ord)
    r2 = _power(abs(x[lo + 2]), ord)
    r3 = _power(abs(x[lo + 3]), ord)
    r4 = _power(abs(x[lo + 4]), ord)
    r5 = _power(abs(x[lo + 5]), ord)
    r6 = _power(abs(x[lo + 6]), ord)
    r7 = _power(abs(x[lo + 7]), ord)
    i = 8
    while i < n - n % 8:
        r0 += _power(abs(x[lo + i]), ord)
        r1 += _power(abs(x[lo + i + 1]), ord)
        r2 += _power(abs(x[lo + i + 2]), ord)
        r3 += _power(abs(x[lo + i + 3]), ord)
        r4 += _power(abs(x[lo + i + 4]), ord)
        r5 += _power(abs(x[lo + i + 5]), ord)
        r6 += _power(abs(x[lo + i + 6]), ord)
        r7 += _power(abs(x[lo + i + 7]), ord)
        i += 8
    acc = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        acc += _power(abs(x[lo + i]), ord)
        i += 1
    return acc


@leaf
def _pow_sum(x, ord, stack):
    """``np.sum(np.abs(x) ** ord)`` to the last bit. numpy halves runs longer than 128 terms
    (at a multiple of 8) and adds the halves' sums; that recursion runs here on an explicit
    stack of frames (start, length, phase, left sum) kept in ``stack`` (as long as x: the tree
    is at most log2(n / 64) deep, so 4 floats a level always fit), as Numba can neither cache
    nor, on the GPU, reliably compile a recursive function."""
    n = x.shape[0]
    if n <= 128:
        return _pow_block(x, ord, 0, n)
    top = 0
    stack[0], stack[1], stack[2] = 0.0, float(n), 0.0
    result = 0.0
    while top >= 0:
        base = 4 * top
        lo, m, phase = int(stack[base]), int(stack[base + 1]), stack[base + 2]
        if m <= 128:
            result = _pow_block(x, ord, lo, m)
            top -= 1
            continue
        half = m // 2
        half -= half % 8
        if phase == 0.0:  # descend into the left half
            stack[base + 2] = 1.0
            child_lo, child_n = lo, half
        elif phase == 1.0:  # left half done: keep its sum, descend into the right half
            stack[base + 2] = 2.0
            stack[base + 3] = result
            child_lo, child_n = lo + half, m - half
        else:  # both done
            result = stack[base + 3] + result
            top -= 1
            continue
        top += 1
        stack[4 * top], stack[4 * top + 1], stack[4 * top + 2] = child_lo, child_n, 0.0
    return result


@leaf
def vecnorm(x, ord, stack):
    """scipy's ``vecnorm``: max |x| for inf, min |x| for -inf (a NaN wins, as in
    ``np.amax``), else ``np.sum(|x|**ord) ** (1 / ord)`` summed in numpy's order (``stack``:
    scratch as long as x)."""
    if ord == math.inf:
        m = 0.0
        for i in range(x.shape[0]):
            a = abs(x[i])
            if a != a:
                return a
            if a > m:
                m = a
        return m
    if ord == -math.inf:
        m = math.inf
        for i in range(x.shape[0]):
            a = abs(x[i])
            if a != a:
                return a
            if a < m:
                m = a
        return m
    return _pow_sum(x, ord, stack) ** (1.0 / ord)


@leaf
def _update_inverse_hessian(H, s, y, rho, T, A):
    """``H <- A1 H A2 + rho s s^T`` with ``A1 = I - rho s y^T``, ``A2 = I - rho y s^T``, formed
    as scipy forms them (explicit factors, products summed in index order), so the rounding
    stays close to its. ``T`` and ``A`` are n x n scratch.

    Two loop orders with the same arithmetic, term by term: for a few parameters each product
    element is summed in a register, its factor's elements computed where they are used
    (stored and reloaded, and in loops along rows, they cost more in set-up than in
    arithmetic); for more, the factors are stored and the inner loops run along rows, so
    they vectorise.
    """
    n = s.shape[0]
    if n <= _SMALL:
        for i in range(n):  # T = H @ A2
            for j in range(n):
                acc = 0.0
                for k in range(n):
                    acc = madd(H[i, k], (1.0 if k == j else 0.0) - y[k] * s[j] * rho, acc)
                T[i, j] = acc
        for i in range(n):  # H = A1 @ T + rho s s^T
            for j in range(n):
                acc = 0.0
                for k in range(n):
                    acc = madd((1.0 if i == k else 0.0) - s[i] * y[k] * rho, T[k, j], acc)
                H[i, j] = acc + rho * s[i] * s[j]
        return
    for k in range(n):  # A = A2
        for j in range(n):
            A[k, j] = (1.0 if k == j else 0.0) - y[k] * s[j] * rho
    for i in range(n):  # T = H @ A2
        for j in range(n):
            T[i, j] = 0.0
        for k in range(n):
            h = H[i, k]
            for j in range(n):
                T[i, j] = madd(h, A[k, j], T[i, j])
    for i in range(n):  # A = A1
        for k in range(n):
            A[i, k] = (1.0 if i == k else 0.0) - s[i] * y[k] * rho
    for i in range(n):  # H = A1 @ T + rho s s^T
        for j in range(n):
            H[i, j] = 0.0
        for k in range(n):
            a = A[i, k]
            for j in range(n):
                H[i, j] = madd(a, T[k, j], H[i, j])
        for j in range(n):
            H[i, j] += rho * s[i] * s[j]


#: Up to this many parameters, :func:`_update_inverse_hessian` sums in registers.
_SMALL = 8


@leaf
def bfgs(
    obj, args, W, S, L, H, T, A, x0, fd, steps, gtol, ord, maxiter, xrtol, c1, c2, allvecs, cb,
    stop,
):  # fmt: skip
    """Minimise from ``x0`` as ``scipy.optimize._minimize_bfgs`` does.

    ``H`` holds the initial inverse Hessian and ends as the last one (``T`` and ``A``, n x n,
    are scratch). ``W`` (``W_ROWS`` x n), ``S`` and ``L`` are zeroed work arrays; ``W[XK]`` and
    ``W[GFK]`` end as x and the gradient, ``S[NFEV]``/``S[NGEV]`` as scipy's counts. Iterates
    go to the rows of ``allvecs`` while it has room (pass a (0, n) array for none). ``cb`` is
    the per-iteration callback (see :func:`._objective.call_iteration_callback`: None, or an
    address, 0 for none); a nonzero answer stops the iterations where scipy's
    ``StopIteration`` does. ``stop`` is polled before every iteration and every evaluation
    (see :mod:`workbench._numba.interrupt` and :mod:`._scalar`; None on the GPU): when set,
    the status is ``INTERRUPTED``. Returns (status, nit, f)."""
    n = x0.shape[0]
    xk, gfk, pk, sk, yk, scratch = W[XK], W[GFK], W[PK], W[SK], W[YK], W[NORM]
    for i in range(n):
        xk[i] = x0[i]
    old_fval = sf_value(obj, args, W, S, xk, fd, steps, stop)
    sf_grad(obj, args, W, S, xk, fd, steps, stop)
    g = W[GC]
    for i in range(n):
        gfk[i] = g[i]
    # np.linalg.norm(gfk): so that the first step is about |dx| = 1
    old_old_fval = old_fval + math.sqrt(dot(gfk, gfk)) / 2
    if allvecs.shape[0] > 0:
        for i in range(n):
            allvecs[0, i] = xk[i]
    k = 0
    warnflag = SUCCESS
    gnorm = vecnorm(gfk, ord, scratch)
    while gnorm > gtol and k < maxiter:
        if interrupted(stop):
            return INTERRUPTED, k, old_fval
        neg_gemv(H, gfk, pk)
        derphi0 = dot(gfk, pk)
        # scipy's _line_search_wolfe12: Moré-Thuente first, the zoom search (from the same
        # old_fval/old_old_fval) if it fails; no step from either is precision loss
        alpha, new_fval = wolfe1(
            obj, args, W, S, L, old_fval, old_old_fval, derphi0, c1, c2, 1e100, 1e-100, 1e-14,
            fd, steps, stop,
        )  # fmt: skip
        outcome = FOUND
        if math.isnan(alpha):
            alpha, new_fval, outcome = wolfe2(
                obj, args, W, S, old_fval, old_old_fval, derphi0, c1, c2, 1e100, 10, fd, steps,
                stop,
            )  # fmt: skip
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
        if outcome == FOUND:
            gnew = W[GNEW]  # the gradient the line search met at the step
        else:  # the zoom search ran out of iterations: scipy evaluates the gradient itself
            sf_grad(obj, args, W, S, xk, fd, steps, stop)
            gnew = W[GC]
        for i in range(n):
            yk[i] = gnew[i] - gfk[i]
            gfk[i] = gnew[i]
        k += 1
        if call_iteration_callback(cb, xk, old_fval):
            break
        gnorm = vecnorm(gfk, ord, scratch)
        if gnorm <= gtol:
            break
        if alpha * vecnorm(pk, 2.0, scratch) <= xrtol * (xrtol + vecnorm(xk, 2.0, scratch)):
            break
        if not math.isfinite(old_fval):
            warnflag = PR_LOSS  # +-inf found as the optimum, or something went wrong
            break
        rhok_inv = dot(yk, sk)
        rhok = 1000.0 if rhok_inv == 0.0 else 1.0 / rhok_inv  # scipy's safeguard
        _update_inverse_hessian(H, sk, yk, rhok, T, A)
    if interrupted(stop):  # the evaluations answered NaN from then on: say why
        return INTERRUPTED, k, old_fval
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
def work_arrays(n):
    """The zeroed work arrays of :func:`bfgs` for n parameters, ``(W, S, L, T, A)``, as views
    of one allocation (five cost a few percent of a small fit)."""
    block = np.zeros(W_ROWS * n + S_SLOTS + LS_SLOTS + 2 * n * n)
    W = block[: W_ROWS * n].reshape((W_ROWS, n))
    at = W_ROWS * n
    S = block[at : at + S_SLOTS]
    at += S_SLOTS
    L = block[at : at + LS_SLOTS]
    at += LS_SLOTS
    T = block[at : at + n * n].reshape((n, n))
    A = block[at + n * n :].reshape((n, n))
    return W, S, L, T, A


@jit
def bfgs_one(
    obj, args, x0, H0, fd, steps, gtol, ord, maxiter, xrtol, c1, c2, H, x, jac, allvecs, cb,
    stop,
):  # fmt: skip
    """One minimisation from Python: allocates the work arrays. ``H`` (n x n) starts as the
    initial inverse Hessian ``H0`` (the identity when ``H0`` is 0 x 0) and ends as the last one,
    ``x`` and ``jac`` as the solution and its gradient; the rows of ``allvecs`` hold the first
    iterates; ``cb`` is the address of a per-iteration callback (0 for none). Returns scalars
    only, (status, nit, f, nfev, njev): each array a kernel returns costs about half a
    microsecond to box (its dtype is unpickled), and the caller's ``np.eye`` cost twice that,
    a tenth of a small fit together."""
    n = x0.shape[0]
    for i in range(n):
        for j in range(n):
            if H0.shape[0] == 0:
                H[i, j] = 1.0 if i == j else 0.0
            else:
                H[i, j] = H0[i, j]
    W, S, L, T, A = work_arrays(n)
    status, nit, f = bfgs(
        obj, args, W, S, L, H, T, A, x0, fd, steps, gtol, ord, maxiter, xrtol, c1, c2, allvecs, cb,
        stop,
    )  # fmt: skip
    for i in range(n):
        x[i] = W[XK, i]
        jac[i] = W[GFK, i]
    return status, nit, f, int(S[NFEV]), int(S[NGEV])
