"""``odeint``: scipy's legacy interface, on the compiled Runge-Kutta core.

scipy's ``odeint`` wraps ODEPACK's LSODA, which switches between Adams (non-stiff) and BDF
(stiff) multistep methods. This one keeps ``odeint``'s arguments, argument order
(``func(y, t, ...)``), output shape and ``full_output`` dictionary, and integrates with RK45
(Dormand-Prince 5(4), ``solve_ivp``'s default) at odeint's tolerances.

Why RK45: measured against a tight reference (1001 outputs, tolerances 1.49012e-8), its
error stays within twice LSODA's on smooth problems (a damped pendulum, van der Pol) and on
the arm driven by a tabulated torque, ``np.interp`` of samples (the first use of odeint in
``shared/context``). DOP853 takes 20-30% fewer evaluations on the smooth problems but 14
times as many on the tabulated one, whose kinks every sample its error estimate sees, and
ends less accurate there. Neither is meant for stiff problems, where LSODA switches to BDF.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from numba import njit

from .._numba import as_dispatcher, compile_or_fallback, kernel_entry, run_as_python
from .._numba.interrupt import reraise, stop_for_call
from ._ivp import (
    _callables,
    _check_output_shape,
    _normalise_args,
    check_grid,
    max_record_rows,
    status_message,
    validate_common,
    validate_y0,
)
from ._kernels import KERNELS
from ._records import BAD_GRID, INTERRUPTED, STEP_Y

__all__ = ["ODEintWarning", "odeint"]

#: The method odeint runs (see the module docstring for why).
METHOD = "RK45"
_DEFAULT_TOL = 1.49012e-8  # odeint's rtol and atol
_EMPTY = np.empty(0)


class ODEintWarning(Warning):
    """The integration did not reach every requested time (as scipy's ``ODEintWarning``)."""


_swapped: dict = {}


def _rhs_in_solve_ivp_order(func, y0, t0, args):
    """``func(y, t, *args)`` as ``fun(t, y, *args)``: compiled if Numba compiles ``func``,
    else a plain-Python adapter (with one warning naming ``func``)."""

    def check(compiled):
        _check_output_shape(lambda t, y, *a: compiled(y, t, *a), t0, y0, args, name="func")

    compiled = compile_or_fallback(func, "func", as_dispatcher, check, args)
    if compiled is None:
        return run_as_python(lambda t, y, *a: func(y, t, *a))
    adapter = _swapped.get(compiled)
    if adapter is None:

        @njit(error_model="numpy")
        def adapter(t, y, *a):
            return compiled(y, t, *a)

        if len(_swapped) > 256:
            _swapped.clear()
        _swapped[compiled] = adapter
    return adapter


_NO_EFFECT = {
    "Dfun": None,
    "col_deriv": 0,
    "ml": None,
    "mu": None,
    "tcrit": None,
    "hmin": 0.0,
    "ixpr": 0,
    "mxstep": 0,
    "mxhnil": 0,
    "mxordn": 12,
    "mxords": 5,
}


def odeint(
    func,
    y0,
    t,
    args=(),
    Dfun=None,
    col_deriv=0,
    full_output=0,
    ml=None,
    mu=None,
    rtol=None,
    atol=None,
    tcrit=None,
    h0=0.0,
    hmax=0.0,
    hmin=0.0,
    ixpr=0,
    mxstep=0,
    mxhnil=0,
    mxordn=12,
    mxords=5,
    printmessg=0,
    tfirst=False,
):
    """Integrate a system of ordinary differential equations, with the interface of
    ``scipy.integrate.odeint``.

    **Not LSODA.** The integration uses RK45 (explicit Dormand-Prince 5(4), scipy's
    ``solve_ivp(method="RK45")`` step for step; see the module docstring for why), with
    odeint's tolerances: values agree with scipy's ``odeint`` to about ``rtol`` (not bit for
    bit), and stiff problems (where LSODA switches to BDF) take many small steps. For other
    methods, or scipy's exact steps, call :func:`solve_ivp`.

    Parameters
    ----------
    func : callable
        ``func(y, t, *args)`` returning dy/dt, shape (n,) (``func(t, y, *args)`` with
        ``tfirst=True``): ``@njit``, plain Python (compiled here when Numba can; otherwise
        run as Python through the same compiled solver, with one warning), a bound method.
    y0 : array_like, shape (n,)
        The initial state, at ``t[0]``.
    t : array_like, shape (k,)
        The output times, strictly monotonic; the first is the initial time.
    args : tuple
        Extra arguments of ``func``.
    rtol, atol : float or atol array_like (n,), optional
        Tolerances (default 1.49012e-8 each, as odeint's).
    h0, hmax : float
        The first step and the largest step (0: chosen by the solver / unbounded).
    full_output : bool
        Also return the information dictionary.
    printmessg : bool
        Print the message when the integration fails.
    tfirst : bool
        Whether ``func`` takes ``t`` first.
    Dfun, col_deriv, ml, mu, tcrit, hmin, ixpr, mxstep, mxhnil, mxordn, mxords
        LSODA's options: accepted for odeint's signature; an explicit method has no use for
        a Jacobian or method orders, and these have no effect (a warning says so when one
        is set).

    Returns
    -------
    y : ndarray, shape (k, n)
        The state at each time of ``t`` (rows not reached after a failure are NaN, with an
        :class:`ODEintWarning`).
    infodict : dict, with ``full_output``
        ``nst`` (k - 1,): steps taken until each time; ``nfe`` (k - 1,): function
        evaluations until each time; ``hu`` (k - 1,): the size of the step that reached it;
        ``tcur`` (k - 1,): where that step ended; ``nje`` (k - 1,) zeros and ``nqu`` (k - 1,)
        the method's order, 5; ``message``.
    """
    given = locals()
    unused = [k for k, default in _NO_EFFECT.items() if _is_set(given[k], default)]
    if unused:
        warnings.warn(
            f"odeint integrates with {METHOD} (explicit); these LSODA options have no effect: "
            f"{', '.join(unused)}.",
            stacklevel=2,
        )
    y0 = validate_y0(y0)
    t = np.ascontiguousarray(t, dtype=float)
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"`t` must be a 1-D sequence of times, got shape {t.shape}.")
    n = y0.shape[0]
    if t.size == 1:
        y = y0[None, :].copy()
        return (y, _info(*(np.empty(0),) * 4, "Integration successful.")) if full_output else y
    args = _normalise_args(args)
    rtol = _DEFAULT_TOL if rtol is None else rtol
    atol = _DEFAULT_TOL if atol is None else atol
    t0, t1, grid, rtol, atol_v, first, max_step = validate_common(
        (t[0], t[-1]), y0, t[1:], rtol, atol, h0 if h0 else None, hmax if hmax else math.inf
    )
    fun = func if tfirst else _rhs_in_solve_ivp_order(func, y0, t0, args)
    rhs, ev, p, data, dynamic, writeable, bridge = _callables(fun, None, t0, y0, args)
    kernels = KERNELS[METHOD]
    values = (rhs, ev, p, data, t0, t1, y0, grid, first, rtol, atol_v, max_step, True, False)
    stop = stop_for_call()
    values += (_EMPTY, _EMPTY, stop, max_record_rows(STEP_Y + y0.shape[0]))
    if dynamic:
        kernel = kernels.dynamic("solve")
    else:
        others = (y0, grid, atol_v, _EMPTY, _EMPTY)
        kernel = kernel_entry(
            kernels.solve, values, (*writeable, *(a.flags.writeable for a in others))
        )
    code, nfev, _, _, _, t_bad, y_grid, filled, steps, *_ = kernel(*values)
    if bridge is not None:
        bridge.reraise()
    if code == INTERRUPTED:
        reraise(stop)
    if code == BAD_GRID:
        check_grid(nfev, t0, t1)
    status, message = status_message(code, t_bad)
    y = np.full((t.size, n), math.nan)
    y[0] = y0
    y[1 : 1 + filled] = y_grid[:, :filled].T
    if filled < grid.size:
        text = f"{message} Run with full_output = 1 to get quantitative information."
        if printmessg:
            print(message)
        warnings.warn(text, ODEintWarning, stacklevel=2)
    else:
        message = "Integration successful."
    if not full_output:
        return y
    return y, _per_time(steps, t[1 : 1 + filled], t0 <= t1, grid.size, message)


def _is_set(value, default) -> bool:
    if value is default:
        return False
    return not (isinstance(value, (int, float)) and value == default)


def _per_time(steps, reached, ascending, k, message):
    """odeint's per-time counts from the step table (columns t, h, nfev, y): for each output
    time, the first step that reached it. Times not reached get the last step's values."""
    ts = steps[:, 0]
    nfe_at = steps[:, 2]
    search = ts if ascending else -ts
    j = np.searchsorted(search, reached if ascending else -reached, side="left")
    j = np.clip(j, 1, len(ts) - 1)
    pad = k - j.size
    last = np.full(pad, len(ts) - 1, dtype=int)
    j = np.concatenate([j, last])
    hu = np.abs(ts[j] - ts[j - 1])
    return _info(hu, ts[j].copy(), j.astype(np.int32), nfe_at[j].astype(np.int32), message)


def _info(hu, tcur, nst, nfe, message) -> dict:
    return {
        "hu": hu,
        "tcur": tcur,
        "nst": nst,
        "nfe": nfe,
        "nje": np.zeros(len(nst), dtype=np.int32),
        "nqu": np.full(len(nst), KERNELS[METHOD].method.order, dtype=np.int32),
        "message": message,
    }
