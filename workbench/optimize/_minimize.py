"""``minimize_bfgs`` and ``minimize``: scipy's BFGS, compiled with Numba."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .._compiled import as_dispatcher
from . import _bfgs_kernel
from ._callback import wrap
from ._objective import CompiledObjective
from ._scalar import ANALYTIC, COMBINED, FD_ABS, FD_REL

_EPSILON = math.sqrt(np.finfo(float).eps)

STATUS_MESSAGES = {
    0: "Optimization terminated successfully.",
    1: "Maximum number of iterations has been exceeded.",
    2: "Desired error not necessarily achieved due to precision loss.",
    3: "NaN result encountered.",
}


def _result(**fields):
    from scipy.optimize import OptimizeResult  # scipy's own result type, as users know it

    return OptimizeResult(**fields)


_adapters: dict = {}


def objective_adapter(fun, jac, mode: str):
    """Wrap the user's functions into the kernels' ``obj(x, g, need, *args) -> f`` form.

    ``mode`` is ``"separate"`` (``fun`` and ``jac``), ``"combined"`` (``fun`` returns
    ``(f, g)``, scipy's ``jac=True``), ``"value"`` (finite differences) or ``"inplace"``
    (``fun(x, g, *args)`` returns f and writes the gradient: the batch form).
    """
    key = (fun, jac, mode)
    if key in _adapters:
        return _adapters[key]
    if mode == "separate":

        @njit(error_model="numpy")
        def adapter(x, g, need, *args):
            f = 0.0
            if need & 1:
                f = fun(x, *args)
            if need & 2:
                grad = jac(x, *args)
                for i in range(g.shape[0]):
                    g[i] = grad[i]
            return f

    elif mode == "combined":

        @njit(error_model="numpy")
        def adapter(x, g, need, *args):
            f, grad = fun(x, *args)
            if need & 2:
                for i in range(g.shape[0]):
                    g[i] = grad[i]
            return f

    elif mode == "value":

        @njit(error_model="numpy")
        def adapter(x, g, need, *args):
            return fun(x, *args)

    else:

        @njit(error_model="numpy")
        def adapter(x, g, need, *args):
            return fun(x, g, *args)

    _adapters[key] = adapter
    return adapter


def check_x0(x0) -> np.ndarray:
    x0 = np.asarray(x0)
    if x0.dtype.kind not in "fiub":
        raise ValueError(f"`x0` must be real numbers, got dtype {x0.dtype}.")
    x0 = np.ascontiguousarray(x0, dtype=float)
    if x0.ndim != 1:
        raise ValueError(
            f"`x0` must be 1-D, shape (n,), got shape {x0.shape}: pass x0.ravel() and reshape "
            "inside your function."
        )
    if x0.size == 0:
        raise ValueError("`x0` must not be empty.")
    if not np.isfinite(x0).all():
        raise ValueError("`x0` must be finite; it contains NaN or infinity.")
    return x0


def _check_outputs(fun, jac, mode, x0, args):
    """Call the user's functions once at x0 so that shape mistakes fail with a clear message
    before the first iteration (scipy answers them with 'shapes not aligned')."""
    try:
        out = fun(x0.copy(), *args)
    except Exception as exc:
        raise ValueError(f"`fun` failed when called as fun(x0, *args): {exc}") from exc
    if mode == "combined":
        if not (isinstance(out, tuple) and len(out) == 2):
            raise ValueError("with jac=True, `fun` must return (value, gradient).")
        value, grad = out
    else:
        value, grad = out, None
    if np.ndim(value) != 0:
        raise ValueError(
            f"`fun` must return a scalar, got shape {np.shape(value)}: return e.g. float(loss)."
        )
    if mode == "separate":
        try:
            grad = jac(x0.copy(), *args)
        except Exception as exc:
            raise ValueError(f"`jac` failed when called as jac(x0, *args): {exc}") from exc
    if grad is not None and np.shape(grad) != x0.shape:
        raise ValueError(
            f"jac returned shape {np.shape(grad)}; expected {x0.shape} to match x0: return a "
            "1-D array (e.g. grad.ravel())"
        )


def _check_hess_inv0(H0, n):
    if H0 is None:
        return np.eye(n)
    H0 = np.ascontiguousarray(H0, dtype=float)
    ok = H0.shape == (n, n) and np.array_equal(H0, H0.T)
    if ok:
        try:
            np.linalg.cholesky(H0)
        except np.linalg.LinAlgError:
            ok = False
    if not ok:
        raise ValueError("'hess_inv0' matrix isn't positive definite.")
    return H0


_twins: dict = {}


def _kernel(dynamic: bool):
    """The cached kernel, or an uncached twin when a dispatcher crosses its boundary."""
    if not dynamic:
        return _bfgs_kernel.bfgs_one
    if "one" not in _twins:
        _twins["one"] = njit(error_model="numpy")(_bfgs_kernel.bfgs_one.py_func)
    return _twins["one"]


def prepare(fun, x0, args, jac, eps, finite_diff_rel_step, *, check=True):
    """Resolve the objective into the kernels' form: (obj, args, fd mode, step, dynamic)."""
    if not isinstance(args, tuple):
        args = (args,)
    if isinstance(fun, CompiledObjective):
        return fun.address, fun.pointer_args(args), COMBINED, 0.0, False
    fun = as_dispatcher(fun, "fun")
    if jac is True:
        mode = "combined"
    elif callable(jac):
        mode = "separate"
        jac = as_dispatcher(jac, "jac")
    elif jac is None or jac in ("2-point",):
        mode = "value"
        jac = None
    else:
        raise ValueError(
            f"`jac` must be a callable, True (fun returns (f, g)), None or '2-point'; got {jac!r}"
        )
    if check:
        _check_outputs(fun, jac, mode, x0, args)
    if mode == "value":
        if eps is not None:
            fd, step = FD_ABS, float(eps)
        else:
            fd = FD_REL
            step = math.nan if finite_diff_rel_step is None else float(finite_diff_rel_step)
    else:  # value and gradient in one call when fun returns both
        fd, step = (COMBINED if mode == "combined" else ANALYTIC), 0.0
    # Through a C callback the cached kernel runs; a kernel specialised on the user's
    # dispatchers would be compiled afresh in every process (seconds).
    wrapped = wrap(fun, jac, mode, args)
    if wrapped is not None:
        return wrapped[0], wrapped[1], fd, step, False
    return objective_adapter(fun, jac, mode), args, fd, step, True


def check_c1_c2(c1, c2):
    if not 0 < c1 < c2 < 1:
        raise ValueError("'c1' and 'c2' do not satisfy'0 < c1 < c2 < 1'.")


def minimize_bfgs(
    fun,
    x0,
    *,
    args=(),
    jac=None,
    gtol=1e-5,
    norm=np.inf,
    maxiter=None,
    eps=_EPSILON,
    finite_diff_rel_step=None,
    xrtol=0.0,
    c1=1e-4,
    c2=0.9,
    hess_inv0=None,
    return_all=False,
    callback=None,
    disp=False,
):
    """Minimise a scalar function with BFGS, reproducing ``scipy.optimize.minimize(method=
    "BFGS")`` iterate for iterate: the same initial step, Wolfe line searches (Moré-Thuente,
    then the zoom search if it fails), inverse-Hessian update and stopping rules.

    ``fun(x, *args)`` returns a float; ``jac`` is a function returning the gradient (shape
    (n,)), ``True`` if ``fun`` returns ``(f, g)``, or None for scipy's forward differences
    (step ``eps``). Functions may be ``@njit`` or plain Python in Numba's subset. ``fun`` may
    also be a :class:`CompiledObjective` (then ``args=(p, data)``); its kernels load from cache.

    Returns scipy's ``OptimizeResult`` with ``x``, ``fun``, ``jac``, ``hess_inv``, ``nit``,
    ``nfev``, ``njev``, ``status``, ``success`` and ``message`` (and ``allvecs`` with
    ``return_all``); the status codes and messages are scipy's.
    """
    if callback is not None:
        raise ValueError(
            "`callback` is not supported: the whole minimisation runs compiled; use "
            "return_all=True to get every iterate."
        )
    x0 = check_x0(x0)
    n = x0.size
    check_c1_c2(c1, c2)
    H0 = _check_hess_inv0(hess_inv0, n)
    maxiter = 200 * n if maxiter is None else int(maxiter)
    obj, args, fd, step, dynamic = prepare(fun, x0, args, jac, eps, finite_diff_rel_step)
    status, nit, f, x, g, H, nfev, njev, allvecs = _kernel(dynamic)(
        obj,
        args,
        x0,
        H0,
        fd,
        step,
        float(gtol),
        float(norm),
        maxiter,
        float(xrtol),
        float(c1),
        float(c2),
        bool(return_all),
    )
    res = _result(
        fun=f,
        jac=g,
        hess_inv=H,
        nfev=nfev,
        njev=njev,
        status=int(status),
        success=status == 0,
        message=STATUS_MESSAGES[int(status)],
        x=x,
        nit=int(nit),
    )
    if return_all:
        res["allvecs"] = list(allvecs)
    return res


def minimize(fun, x0, args=(), method="BFGS", jac=None, options=None, callback=None):
    """``scipy.optimize.minimize`` for the methods workbench compiles (BFGS)."""
    if str(method).lower() != "bfgs":
        raise ValueError(f"method {method!r} is not available; accepted: 'BFGS'")
    options = dict(options or {})
    known = {
        "gtol",
        "norm",
        "maxiter",
        "eps",
        "finite_diff_rel_step",
        "xrtol",
        "c1",
        "c2",
        "hess_inv0",
        "return_all",
        "disp",
    }
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"unknown options {unknown}; accepted: {sorted(known)}")
    return minimize_bfgs(fun, x0, args=args, jac=jac, callback=callback, **options)
