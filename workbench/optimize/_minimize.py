"""``minimize_bfgs`` and ``minimize``: scipy's BFGS, compiled with Numba.

The Python layer validates arguments, wraps the user's functions into the kernels' objective
form (:mod:`._objective`) and runs one compiled kernel (:func:`._bfgs_kernel.bfgs_one`); the
whole minimisation, line searches and finite differences included, runs compiled. The kernel
is specialised on the objective's type, not on the objective, so it is compiled once per
argument types and then loads from Numba's cache: a new objective costs only its own
compilation.
"""

from __future__ import annotations

import functools
import inspect
import math
import warnings

import numpy as np
from numba import njit
from numba.core.errors import NumbaError

from .._numba import F64, Bridge, arg_layout, as_dispatcher, compile_or_fallback
from .._numba.interrupt import reraise, stop_for_call
from . import _bfgs_kernel
from ._objective import CompiledObjective, first_class, kernel_entry
from ._result import INTERRUPTED, STATUS_MESSAGES, OptimizeResult, OptimizeWarning
from ._scalar import ANALYTIC, COMBINED, FD3_REL, FD_ABS, FD_REL
from ._wrapper import wrap_objective

__all__ = ["fmin_bfgs", "minimize", "minimize_bfgs"]

_EPSILON = math.sqrt(np.finfo(float).eps)  # scipy's default absolute step for jac=None

BFGS_OPTIONS = (
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
)


@functools.lru_cache(maxsize=256)
def dispatcher(fun, name: str):
    """``fun`` as a Numba dispatcher, compiled once per Python function."""
    return as_dispatcher(fun, name)


@functools.lru_cache(maxsize=256)
def objective_adapter(fun, jac, mode: str):
    """Wrap the user's functions into the kernels' ``obj(x, g, need, *args) -> f`` form.

    ``mode`` is ``"separate"`` (``fun`` and ``jac``), ``"combined"`` (``fun`` returns
    ``(f, g)``, scipy's ``jac=True``), ``"value"`` (finite differences) or ``"inplace"``
    (``fun(x, g, *args)`` returns f and writes the gradient: the batch form).
    """
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
            for i in range(g.shape[0]):
                g[i] = grad[i]
            return f

    elif mode == "value":

        @njit(error_model="numpy")
        def adapter(x, g, need, *args):
            return fun(x, *args)

    elif mode == "inplace":

        @njit(error_model="numpy")
        def adapter(x, g, need, *args):
            return fun(x, g, *args)

    else:
        raise ValueError(f"unknown objective mode {mode!r}")
    return adapter


def check_x0(x0, name: str = "x0") -> np.ndarray:
    """``x0`` as a contiguous float64 vector, or a ValueError that says what to pass."""
    if not (type(x0) is np.ndarray and x0.dtype is F64 and x0.flags.c_contiguous):
        x0 = np.asarray(x0)
        if x0.dtype.kind not in "fiub":
            raise ValueError(f"`{name}` must hold real numbers, got dtype {x0.dtype}.")
        x0 = np.ascontiguousarray(x0, dtype=float)
    if x0.ndim != 1:
        raise ValueError(
            f"`{name}` must be 1-D, shape (n,), got shape {x0.shape}: pass x0.ravel() (or "
            "np.atleast_1d(x0)) and reshape inside your function."
        )
    if x0.size == 0:
        raise ValueError(f"`{name}` must not be empty.")
    # a Python loop beats numpy's call overhead for the small problems fitted one at a time
    finite = all(map(math.isfinite, x0.tolist())) if x0.size <= 32 else np.isfinite(x0).all()
    if not finite:
        raise ValueError(f"`{name}` must be finite; it contains NaN or infinity.")
    return x0


def _shape_error(shape, x0_shape) -> ValueError:
    return ValueError(
        f"jac returned shape {shape}; expected {x0_shape} to match x0: return a 1-D array "
        "(e.g. grad.ravel())"
    )


def _call(fn, name: str, x, args):
    """``fn(x, *args)``; its failure a ValueError that names it. Numba's compilation errors go
    through unchanged: they choose the plain-Python path (:func:`_compiled_functions`)."""
    try:
        return fn(x, *args)
    except NumbaError:
        raise
    except Exception as exc:
        raise ValueError(f"`{name}` failed when called as {name}(x0, *args): {exc}") from exc


def check_outputs(fun, jac, mode: str, x0: np.ndarray, args: tuple) -> None:
    """Call the user's functions once at x0, so that shape mistakes fail before the first
    iteration with a message that says what to return (scipy answers most of them with
    'shapes not aligned' from deep inside the line search)."""
    if mode == "inplace":
        value, grad = _call(fun, "fun", x0.copy(), (np.zeros_like(x0),) + args), None
    else:
        out = _call(fun, "fun", x0.copy(), args)
        value, grad = out, None
        if mode == "combined":
            if not (isinstance(out, tuple) and len(out) == 2):
                raise ValueError(
                    f"with jac=True, `fun` must return (value, gradient); got {type(out).__name__}."
                )
            value, grad = out
    if np.ndim(value) != 0:
        raise ValueError(
            f"`fun` must return a scalar, got an array of shape {np.shape(value)}: return a "
            "float (e.g. loss.sum(), or loss[0] for a one-element array)."
        )
    if mode == "separate":
        grad = _call(jac, "jac", x0.copy(), args)
    if grad is not None and np.shape(grad) != x0.shape:
        raise _shape_error(np.shape(grad), x0.shape)


def check_hess_inv0(H0, n: int) -> np.ndarray:
    """The initial inverse Hessian (identity by default), checked as scipy checks it."""
    if H0 is None:
        return np.eye(n)
    H0 = np.asarray(H0, dtype=float)
    if H0.shape != (n, n):
        raise ValueError(f"'hess_inv0' must have shape ({n}, {n}) to match x0, got {H0.shape}.")
    ok = bool(np.isfinite(H0).all() and np.array_equal(H0, H0.T))
    if ok:
        try:
            np.linalg.cholesky(H0)
        except np.linalg.LinAlgError:
            ok = False
    if not ok:
        raise ValueError("'hess_inv0' matrix isn't positive definite.")
    return np.ascontiguousarray(H0)


def check_c1_c2(c1, c2) -> None:
    if not 0 < c1 < c2 < 1:
        raise ValueError("'c1' and 'c2' do not satisfy'0 < c1 < c2 < 1'.")


def _steps(value, n: int, name: str) -> np.ndarray:
    steps = np.asarray(value, dtype=float)
    if steps.ndim > 1 or steps.size not in (1, n):
        raise ValueError(f"`{name}` must be a number or an array of n = {n} numbers.")
    return np.array(np.broadcast_to(steps.ravel(), (n,)), dtype=float)  # a writable copy


def gradient_mode(jac, eps, finite_diff_rel_step, n: int) -> tuple[str, int, np.ndarray]:
    """(objective mode, gradient mode, steps) for scipy's ``jac``/``eps``/``finite_diff_rel_step``.

    As in scipy, ``jac=None`` takes forward differences with the absolute step ``eps``
    (relative steps if ``eps`` is None); ``jac="2-point"``/``"3-point"`` take relative steps
    (``finite_diff_rel_step``, scipy's default when None) and ignore ``eps``.
    """
    nan_steps = _nan_steps(n)  # read only by the kernels: made once per size
    if jac is True:
        return "combined", COMBINED, nan_steps
    if callable(jac):
        return "separate", ANALYTIC, nan_steps
    if jac is None or jac is False:
        if eps is not None:
            return "value", FD_ABS, _steps(eps, n, "eps")
        jac = "2-point"
    if isinstance(jac, str) and jac in ("2-point", "3-point"):
        rel = nan_steps if finite_diff_rel_step is None else None
        if rel is None:
            rel = _steps(finite_diff_rel_step, n, "finite_diff_rel_step")
        return "value", (FD_REL if jac == "2-point" else FD3_REL), rel
    raise ValueError(
        "`jac` must be a callable returning the gradient, True (fun returns (f, g)), None "
        f"(forward differences), '2-point' or '3-point'; got {jac!r}."
    )


_unused_steps: dict = {}
_no_rows: dict = {}
#: ``hess_inv0=None`` for the kernel: it starts from the identity (np.eye costs 1 us)
_IDENTITY = np.empty((0, 0))


def _no_iterates(n: int) -> np.ndarray:
    """A (0, n) block for the iterates when none are kept (never written), made once per n."""
    rows = _no_rows.get(n)
    if rows is None:
        rows = _no_rows[n] = np.empty((0, n))
    return rows


def _nan_steps(n: int) -> np.ndarray:
    """The unused finite-difference steps of a compiled objective (read only by the kernels),
    made once per size."""
    steps = _unused_steps.get(n)
    if steps is None:
        steps = _unused_steps[n] = np.full(n, math.nan)
    return steps


_compiled: dict = {}


def _compiled_functions(fun, jac, mode: str, x0: np.ndarray, args: tuple):
    """The user's ``fun`` (and ``jac``) as dispatchers, compiled for these arguments and
    checked once (:func:`check_outputs`), or None when Numba cannot compile one of them."""
    try:
        key = (fun, jac, mode, x0.shape[0], tuple(map(_type_key, args)))
        found = _compiled.get(key)
    except TypeError:  # unhashable: compile and check on every call
        key, found = None, None
    if found is not None:
        return found

    def compiled(fn, name: str):
        return compile_or_fallback(
            fn, name, lambda f: dispatcher(f, name), lambda c: _call(c, name, x0.copy(), args),
            args,
        )  # fmt: skip

    jac_c = compiled(jac, "jac") if mode == "separate" else None
    if mode == "separate" and jac_c is None:
        return None
    fun_c = compiled(fun, "fun")
    if fun_c is None:
        return None
    check_outputs(fun_c, jac_c, mode, x0, args)
    layout = arg_layout(args)
    wrapped = None if layout is None else wrap_objective(fun_c, jac_c, mode, layout[0])
    if wrapped is not None:  # an address: the cached kernel, its arguments packed per call
        found = (wrapped.address, None)
    else:
        try:
            obj, args_type = first_class(objective_adapter(fun_c, jac_c, mode), args)
        except (NumbaError, ValueError):  # args Numba cannot type: plain Python
            return None
        found = (obj, (obj.signature(), args_type))
    if key is not None:
        if len(_compiled) > 256:
            _compiled.clear()
        _compiled[key] = found
    return found


def _type_key(value):
    if isinstance(value, np.ndarray):
        return (np.ndarray, value.dtype, value.ndim, value.shape[-1:])
    if isinstance(value, tuple):
        return tuple(map(_type_key, value))
    return type(value)


def normalise_args(args) -> tuple:
    """scipy's ``args``: a tuple, or one extra argument (as ``(args,)``)."""
    return args if isinstance(args, tuple) else (args,)


def prepare(fun, x0, args, jac, eps, finite_diff_rel_step):
    """Resolve the objective into the kernels' form: (obj, args, fd mode, steps, key,
    bridge). ``obj`` is a first-class function or the address of a C callback (a
    CompiledObjective's, or a ctypes trampoline into the user's Python functions when Numba
    cannot compile them: then ``bridge`` owns it, see :mod:`workbench._numba.pyfallback`);
    ``key`` fixes the kernels' argument types (see :func:`._objective.kernel_entry`)."""
    args = normalise_args(args)
    n = x0.size
    if isinstance(fun, CompiledObjective):
        if jac not in (None, True):
            raise ValueError(
                "a CompiledObjective computes its own gradient: leave `jac` None (or True)."
            )
        fun.check_args(n, args, "x0")
        p, data, writeable = fun.pointer_args(args)
        # Two contiguous float64 vectors: only their writeability changes the argument types
        # (typeof on every call would cost more than a small fit).
        return fun.address, (p, data), COMBINED, _nan_steps(n), ("address", *writeable), None
    if not callable(fun):
        raise ValueError(f"`fun` must be callable, got {type(fun).__name__}.")
    mode, fd, steps = gradient_mode(jac, eps, finite_diff_rel_step, n)
    if mode == "separate" and not callable(jac):
        raise ValueError(f"`jac` must be callable, got {type(jac).__name__}.")
    found = _compiled_functions(fun, jac if mode == "separate" else None, mode, x0, args)
    if found is not None:
        obj, key = found
        if key is None:  # a C callback: args travel as (p, data), packed as the wrapper reads
            _, p, data = arg_layout(args)
            key = ("address", p.flags.writeable, data.flags.writeable)
            return obj, (p, data), fd, steps, key, None
        return obj, args, fd, steps, key, None
    check_outputs(fun, jac, mode, x0, args)
    bridge = Bridge()
    address = bridge.objective(fun, jac, args, combined=mode == "combined")
    return address, (_EMPTY, _EMPTY), fd, steps, ("address", True, True), bridge


_EMPTY = np.empty(0)


def _print_summary(res: OptimizeResult) -> None:
    """What scipy prints with ``disp=True``; a failure is a warning, as in scipy."""
    if res.status == 0:
        print(res.message)
    else:
        warnings.warn(res.message, OptimizeWarning, stacklevel=3)
    print(f"         Current function value: {res.fun:f}")
    print(f"         Iterations: {res.nit:d}")
    print(f"         Function evaluations: {res.nfev:d}")
    print(f"         Gradient evaluations: {res.njev:d}")


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
    disp=False,
    callback=None,
):
    """Minimise a scalar function with BFGS, reproducing ``scipy.optimize.minimize(fun, x0,
    method="BFGS")`` iterate for iterate: the same first step, Wolfe line searches
    (Moré-Thuente, then the zoom search if it fails), inverse-Hessian update, stopping rules,
    evaluation counts, status codes and messages.

    Parameters
    ----------
    fun : callable
        ``fun(x, *args) -> float`` with ``x`` of shape (n,): an ``@njit`` function, a plain
        Python function (compiled here once if Numba can; otherwise it runs as Python
        through the same compiled iteration, with one :class:`PythonFallbackWarning`), a
        bound method, or a :class:`CompiledObjective` (then ``args=(p, data)``, two float64
        arrays, and the kernel loads from Numba's cache).
    x0 : array_like, shape (n,)
        The starting point.
    args : tuple
        Extra arguments of ``fun`` and ``jac`` (a value that is not a tuple is one argument).
    jac : callable, True, None, "2-point" or "3-point"
        ``jac(x, *args)`` returning the gradient (n,); True if ``fun`` returns ``(f, g)``;
        None for forward differences with the absolute step ``eps`` (scipy's default);
        ``"2-point"``/``"3-point"`` for differences with relative steps
        (``finite_diff_rel_step``), taken as scipy's ``approx_derivative`` takes them.
    gtol, norm : float
        Stop when the ``norm``-norm of the gradient is at most ``gtol``.
    maxiter : int, optional
        Iterations at most (default ``200 * n``).
    eps, finite_diff_rel_step : float or array_like (n,)
        Finite-difference steps, absolute and relative.
    xrtol : float
        Stop when a step is at most ``xrtol * (xrtol + |x|)``.
    c1, c2 : float
        The Wolfe conditions' constants, ``0 < c1 < c2 < 1``.
    hess_inv0 : array_like, shape (n, n), optional
        The initial inverse Hessian (symmetric positive definite; default the identity).
    return_all : bool
        Whether to return every iterate in ``allvecs``.
    disp : bool
        Print scipy's summary (a failure is an :class:`OptimizeWarning`).
    callback : callable, optional
        Called after each iteration as ``callback(xk)`` (a copy of the iterate), or as
        ``callback(intermediate_result=OptimizeResult(x=xk, fun=fk))`` when its only
        parameter has that name, as scipy calls it. Raising ``StopIteration`` stops the
        iterations: ``status`` 99, ``success`` False, as in scipy.

    Returns
    -------
    OptimizeResult
        ``x`` (n,), ``fun``, ``jac`` (n,), ``hess_inv`` (n, n), ``nit``, ``nfev``, ``njev``,
        ``status``, ``success``, ``message`` (and ``allvecs``, a list of (n,) arrays, with
        ``return_all``). Given the same functions, the counts, status and message equal
        scipy's and x agrees to rounding: scipy's BLAS sums its dot products in another order.

    Raises
    ------
    ValueError
        Before any iteration, for a non-1-D, empty or non-finite ``x0``, a ``fun`` that does
        not return a scalar, a gradient whose shape is not x0's, and options scipy rejects
        (``c1``/``c2``, a ``hess_inv0`` that is not positive definite).
    """
    res, halted = _run_bfgs(
        fun, x0, args, jac, gtol, norm, maxiter, eps, finite_diff_rel_step, xrtol, c1, c2,
        hess_inv0, return_all, disp, callback,
    )  # fmt: skip
    if halted:  # what scipy's minimize reports after a StopIteration
        res.update(success=False, status=99, message="`callback` raised `StopIteration`.")
    return res


def _run_bfgs(
    fun, x0, args, jac, gtol, norm, maxiter, eps, finite_diff_rel_step, xrtol, c1, c2,
    hess_inv0, return_all, disp, callback,
):  # fmt: skip
    """scipy's ``_minimize_bfgs``: the result, and whether the callback stopped the run."""
    x0 = check_x0(x0)
    n = x0.size
    check_c1_c2(c1, c2)
    H0 = _IDENTITY if hess_inv0 is None else check_hess_inv0(hess_inv0, n)
    maxiter = 200 * n if maxiter is None else int(maxiter)
    if maxiter < 0:
        raise ValueError(f"`maxiter` must be >= 0, got {maxiter}.")
    obj, args, fd, steps, key, bridge = prepare(fun, x0, args, jac, eps, finite_diff_rel_step)
    halted: list = []
    iterates: list | None = None
    cb = 0
    if callback is not None:
        # the callback sees every iterate: keep them here rather than in a block that might
        # overflow and need a second run (which would call the callback twice)
        iterates = [x0.copy()] if return_all else None
        bridge = bridge or Bridge()
        cb = bridge.iteration(_iteration_callback(callback, halted, iterates))
    settings = (float(gtol), float(norm), maxiter, float(xrtol), float(c1), float(c2))
    # iterates are kept in a preallocated block; in the rare run that outgrows it, run again
    # (deterministic) with room for exactly all of them
    n_keep = min(maxiter + 1, 1001) if return_all and iterates is None else 0
    while True:
        H, x, g = np.empty((n, n)), np.empty(n), np.empty(n)
        allvecs = np.empty((n_keep, n)) if n_keep else _no_iterates(n)
        stop = stop_for_call()
        values = (obj, args, x0, H0, fd, steps, *settings, H, x, g, allvecs, cb, stop)
        kernel = kernel_entry(_bfgs_kernel.bfgs_one, values, key)
        status, nit, f, nfev, njev = kernel(*values)
        if bridge is not None:
            bridge.reraise()
        if status == INTERRUPTED:
            reraise(stop)
        if nit + 1 <= n_keep or not return_all or iterates is not None:
            break
        n_keep = nit + 1
    # the kernel returns Python ints and floats already (Numba boxes int64 and float64 so)
    res = OptimizeResult(
        fun=f,
        jac=g,
        hess_inv=H,
        nfev=nfev,
        njev=njev,
        status=status,
        success=status == 0,
        message=STATUS_MESSAGES[status],
        x=x,
        nit=nit,
    )
    if return_all:
        res["allvecs"] = iterates if iterates is not None else list(allvecs[: nit + 1])
    if disp:
        _print_summary(res)
    return res, bool(halted)


def _iteration_callback(callback, halted: list, iterates: list | None):
    """scipy's two callback forms as the kernel's ``(x, f) -> stop``: ``callback(xk)`` or,
    when its only parameter is named ``intermediate_result``, ``callback(intermediate_result=
    OptimizeResult(x=xk, fun=f))``; ``StopIteration`` stops (and is noted in ``halted``).
    ``iterates``, if a list, receives each iterate."""
    try:
        parameters = set(inspect.signature(callback).parameters)
    except (TypeError, ValueError):  # builtins without a signature
        parameters = set()
    new_form = parameters == {"intermediate_result"}

    def on_iteration(x, f):
        if iterates is not None:
            iterates.append(x.copy())
        try:
            if new_form:
                callback(intermediate_result=OptimizeResult(x=x, fun=f))
            else:
                callback(x)
        except StopIteration:
            halted.append(True)
            return True
        return False

    return on_iteration


def fmin_bfgs(
    f,
    x0,
    fprime=None,
    args=(),
    gtol=1e-5,
    norm=np.inf,
    epsilon=_EPSILON,
    maxiter=None,
    full_output=0,
    disp=1,
    retall=0,
    callback=None,
    xrtol=0,
    c1=1e-4,
    c2=0.9,
    hess_inv0=None,
):
    """``scipy.optimize.fmin_bfgs``: the legacy interface to :func:`minimize_bfgs`, with
    scipy's signature and return conventions.

    Parameters
    ----------
    f : callable
        ``f(x, *args) -> float``, x of shape (n,) (``@njit``, plain Python or a bound method).
    x0 : array_like, shape (n,)
        The starting point.
    fprime : callable, optional
        ``fprime(x, *args)`` returning the gradient (n,); forward differences with the
        absolute step ``epsilon`` when None.
    args : tuple
        Extra arguments of ``f`` and ``fprime``.
    gtol, norm, epsilon, maxiter, xrtol, c1, c2, hess_inv0
        As in :func:`minimize_bfgs` (``epsilon`` is its ``eps``).
    full_output : bool
        Return the tuple below rather than ``xopt`` alone.
    disp : bool
        Print the convergence message (default True, as in scipy).
    retall : bool
        Also return the list of iterates.
    callback : callable, optional
        ``callback(xk)`` after each iteration; ``StopIteration`` stops the iterations.

    Returns
    -------
    xopt : ndarray, shape (n,)
        Alone, or ``(xopt, allvecs)`` with ``retall``, or with ``full_output``
        ``(xopt, fopt, gopt, Bopt, func_calls, grad_calls, warnflag)`` (``+ (allvecs,)`` with
        ``retall``): the value, gradient (n,) and inverse Hessian (n, n) at ``xopt``, the
        evaluation counts and the status (1 iteration limit, 2 precision loss, 3 NaN).
    """
    res, _ = _run_bfgs(
        f, x0, args, fprime, gtol, norm, maxiter, epsilon, None, xrtol, c1, c2, hess_inv0,
        bool(retall), bool(disp), callback,
    )  # fmt: skip
    if full_output:
        out = (res.x, res.fun, res.jac, res.hess_inv, res.nfev, res.njev, res.status)
        return out + (res.allvecs,) if retall else out
    return (res.x, res.allvecs) if retall else res.x


def minimize(
    fun, x0, args=(), method=None, jac=None, hess=None, hessp=None, bounds=None, constraints=(),
    tol=None, callback=None, options=None,
):  # fmt: skip
    """Minimise a scalar function of one or more variables: ``scipy.optimize.minimize`` for
    the methods workbench compiles (BFGS only).

    Parameters
    ----------
    fun : callable or CompiledObjective
        The objective, ``fun(x, *args) -> float`` with ``x`` an ndarray of shape (n,): an
        ``@njit`` function, a plain Python function (compiled here once if Numba can; else run
        as Python with a :class:`PythonFallbackWarning`), a bound method, or a
        :class:`CompiledObjective` (which computes its own gradient; ``args=(p, data)``).
    x0 : array_like, shape (n,)
        Initial guess: a 1-D, non-empty, finite array of real numbers.
    args : tuple, optional
        Extra arguments passed to ``fun`` and ``jac``. A value that is not a tuple is taken
        as one argument.
    method : str, optional
        ``"BFGS"`` (case-insensitive). None (the default) chooses as scipy does: BFGS, unless
        ``bounds`` or ``constraints`` ask for L-BFGS-B or SLSQP, which workbench does not
        provide (ValueError). Any other method raises ValueError.
    jac : {callable, True, None, '2-point', '3-point'}, optional
        How the gradient is obtained:

        * callable: ``jac(x, *args) -> ndarray, shape (n,)``;
        * ``True``: ``fun`` returns ``(f, g)``, the value and the gradient (n,);
        * ``None`` (default; ``False`` is taken as None): forward differences with the
          absolute step ``options["eps"]``;
        * ``'2-point'`` / ``'3-point'``: forward / central differences with relative steps
          ``options["finite_diff_rel_step"]`` (``eps`` is then ignored).
    hess, hessp : callable, optional
        Not used by BFGS: as in scipy, a ``RuntimeWarning`` says so.
    bounds : sequence or Bounds, optional
        BFGS cannot handle bounds: with ``method="BFGS"`` they are ignored with scipy's
        ``RuntimeWarning`` (scipy's numbers); with ``method=None`` scipy would choose
        L-BFGS-B, so this raises ValueError.
    constraints : dict or sequence of dict, optional
        As ``bounds`` (scipy would choose SLSQP).
    options : dict, optional
        BFGS options (:data:`BFGS_OPTIONS`); unknown names raise ValueError.

        gtol : float
            Stop when the ``norm``-norm of the gradient is at most ``gtol``
            (default 1e-5).
        norm : float
            Order of the gradient norm (default ``np.inf``).
        maxiter : int
            Maximum number of iterations (default ``200 * n``; must be >= 0).
        eps : float or array_like, shape (n,)
            Absolute finite-difference step for ``jac=None`` (default
            ``sqrt(machine epsilon)``, about 1.49e-8).
        finite_diff_rel_step : float or array_like, shape (n,), optional
            Relative step for ``jac='2-point'``/``'3-point'`` (and for ``jac=None`` when
            ``eps`` is None); None selects scipy's default.
        xrtol : float
            Relative tolerance on x: stop when a step is at most ``xrtol * (xrtol + |x|)``
            (default 0).
        c1, c2 : float
            Armijo and curvature constants of the Wolfe line search, ``0 < c1 < c2 < 1``
            (defaults 1e-4 and 0.9).
        hess_inv0 : array_like, shape (n, n), optional
            Initial inverse Hessian, symmetric positive definite (default the identity).
        return_all : bool
            Also return every iterate as ``allvecs`` (default False).
        disp : bool
            Print scipy's convergence summary (default False); a failure is then also
            reported as an :class:`OptimizeWarning`.
    tol : float, optional
        Sets ``gtol`` unless ``options`` gives it.
    callback : callable, optional
        Called after each iteration, in either of scipy's forms:

        * ``callback(intermediate_result)`` when its only parameter is named
          ``intermediate_result``: it receives an :class:`OptimizeResult` with ``x`` (n,)
          and ``fun``;
        * ``callback(xk)`` otherwise, with a copy of the current iterate (n,).

        Raising ``StopIteration`` ends the minimisation: the result has ``status`` 99,
        ``success`` False and the message "`callback` raised `StopIteration`.".

    Returns
    -------
    res : OptimizeResult
        With attributes

        x : ndarray, shape (n,)
            The solution.
        fun : float
            The objective's value at ``x``.
        jac : ndarray, shape (n,)
            The gradient at ``x``.
        hess_inv : ndarray, shape (n, n)
            The BFGS approximation of the inverse Hessian.
        nit, nfev, njev : int
            Iterations, objective and gradient evaluations (counted as scipy counts them).
        status : int
            0 success, 1 iteration limit, 2 precision loss, 3 NaN, 99 stopped by the callback
            (:data:`STATUS_MESSAGES`).
        success : bool
            ``status == 0``.
        message : str
            scipy's message for ``status``.
        allvecs : list of ndarray, shape (n,)
            Every iterate, ``x0`` first; only with ``return_all``.

    Raises
    ------
    ValueError
        For a method other than BFGS, an unknown option, and the errors of
        :func:`minimize_bfgs` (raised before the first iteration).

    See Also
    --------
    minimize_bfgs : the same minimisation with the options as keyword arguments.
    minimize_bfgs_batch : many independent fits at once.

    Notes
    -----
    Given the same functions, the iterates, evaluation counts, status and message are
    scipy's; ``x`` agrees with scipy's to rounding. scipy's ``workers`` option is not
    supported.

    Examples
    --------
    >>> import numpy as np
    >>> from workbench.optimize import minimize
    >>> def fun(x):  # value and gradient, for jac=True
    ...     return np.sum((x - 1.0) ** 2), 2.0 * (x - 1.0)
    >>> res = minimize(fun, np.zeros(3), jac=True)
    >>> res.success, res.message
    (True, 'Optimization terminated successfully.')
    >>> res.x
    array([1., 1., 1.])
    """
    constrained = bool(np.any(constraints)) if constraints is not None else False
    if method is None:
        # scipy's automatic choice: BFGS only for an unconstrained problem without bounds
        if constrained or bounds is not None:
            chosen = "SLSQP" if constrained else "L-BFGS-B"
            raise ValueError(
                f"with {'constraints' if constrained else 'bounds'}, scipy's minimize chooses "
                f"{chosen}, which workbench does not provide (it compiles BFGS only): use "
                "scipy.optimize.minimize, or pass method='BFGS' to minimize without them (as "
                "scipy's BFGS does)."
            )
        method = "BFGS"
    if not isinstance(method, str) or method.lower() != "bfgs":
        raise ValueError(f"method {method!r} is not available; accepted: 'BFGS'.")
    # what scipy's minimize says of arguments BFGS does not use, in its words
    if hess is not None:
        warnings.warn(
            f"Method {method} does not use Hessian information (hess).", RuntimeWarning, 2
        )
    if hessp is not None:
        warnings.warn(
            f"Method {method} does not use Hessian-vector product information (hessp).",
            RuntimeWarning,
            2,
        )
    if constrained:
        warnings.warn(f"Method {method} cannot handle constraints.", RuntimeWarning, 2)
    if bounds is not None:
        warnings.warn(f"Method {method} cannot handle bounds.", RuntimeWarning, 2)
    options = dict(options) if options else {}
    unknown = sorted(set(options).difference(BFGS_OPTIONS)) if options else None
    if unknown:
        raise ValueError(
            f"unknown BFGS options {unknown}; accepted: {', '.join(BFGS_OPTIONS)} "
            "(workers is not supported: the gradient is computed compiled)."
        )
    if tol is not None:
        options.setdefault("gtol", tol)
    return minimize_bfgs(fun, x0, args=args, jac=jac, callback=callback, **options)
