"""``solve_ivp``: scipy's RK45, compiled with Numba."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from numba import njit

from .._compiled import F64, as_dispatcher, kernel_entry
from . import _rk45
from ._callback import wrap
from ._rhs import CompiledRHS

EPS = np.finfo(float).eps
_EMPTY = np.empty(0)

MESSAGES = {
    0: "The solver successfully reached the end of the integration interval.",
    _rk45.STEP_TOO_SMALL: "Required step size is less than spacing between numbers.",
}


def nonfinite_message(t_bad: float) -> str:
    return f"The right-hand side returned NaN or infinity at t = {t_bad!r}."


def status_message(code: int, t_bad: float) -> tuple[int, str]:
    """scipy's (status, message) for an internal status code."""
    if code == _rk45.NONFINITE_RHS:
        return -1, nonfinite_message(t_bad)
    return (0 if code == _rk45.FINISHED else -1), MESSAGES[code]


@dataclass
class OdeResult:
    """The result of :func:`solve_ivp`, with the fields of scipy's ``OdeResult``."""

    t: np.ndarray
    y: np.ndarray
    sol: DenseSolution | None
    nfev: int
    njev: int
    nlu: int
    status: int
    message: str
    success: bool
    naccept: int = 0
    nreject: int = 0
    t_events: None = None
    y_events: None = None

    def __repr__(self) -> str:
        return (
            f"OdeResult(status={self.status}, message={self.message!r}, nfev={self.nfev}, "
            f"naccept={self.naccept}, nreject={self.nreject}, t.shape={self.t.shape}, "
            f"y.shape={self.y.shape})"
        )


class DenseSolution:
    """The continuous solution: Shampine's quartic on each accepted step.

    Called with a scalar it returns shape (n,), with an array of times (n, len(t)), like
    scipy's ``OdeSolution``. A time that is a step boundary uses the earlier step, as scipy's.
    """

    @classmethod
    def from_steps(cls, steps: np.ndarray, n: int) -> DenseSolution:
        """From the step table of the ``solve_one`` kernel: rows ``[t, y (n), Q (n x 4)]``."""
        nq = (steps.shape[1] - 1 - n) // n
        Qs = np.ascontiguousarray(steps[:-1, 1 + n :].reshape(-1, n, nq))
        return cls(steps[:, 0].copy(), np.ascontiguousarray(steps[:, 1 : 1 + n]), Qs)

    def __init__(self, ts: np.ndarray, ys: np.ndarray, Qs: np.ndarray):
        self.ts, self._ys, self._Qs = ts, ys, Qs
        self.ascending = ts[-1] >= ts[0]
        self.t_min, self.t_max = (ts[0], ts[-1]) if self.ascending else (ts[-1], ts[0])
        self.n_segments = len(ts) - 1

    def _segments(self, t: np.ndarray) -> np.ndarray:
        if self.ascending:
            seg = np.searchsorted(self.ts, t, side="left") - 1
        else:
            seg = np.searchsorted(self.ts[::-1], t, side="right") - 1
            seg = self.n_segments - 1 - np.clip(seg, 0, self.n_segments - 1)
        return np.clip(seg, 0, self.n_segments - 1)

    def __call__(self, t):
        t = np.asarray(t, dtype=float)
        ts = np.atleast_1d(t)
        out = np.empty((self._ys.shape[1], ts.shape[0]))
        if self.n_segments == 0:
            out[:] = self._ys[0][:, None]
        else:
            _eval_at_segments(self.ts, self._ys, self._Qs, ts, self._segments(ts), out)
        return out[:, 0] if t.ndim == 0 else out


@njit(cache=True)
def _eval_at_segments(ts, ys, Qs, t, seg, out):
    for j in range(t.shape[0]):
        s = seg[j]
        _rk45.dense_eval(ts[s], ts[s + 1] - ts[s], ys[s], Qs[s], t[j], out, j)


def _as_float(name: str, value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a real number, got {value!r}.") from None


_atol_vectors: dict = {}


def _atol_vector(n: int, atol: float) -> np.ndarray:
    """A scalar ``atol`` as the kernels' vector, made once per (n, atol): the kernels only
    read it, and a call with the usual tolerances then allocates nothing here."""
    vector = _atol_vectors.get((n, atol))
    if vector is None:
        if len(_atol_vectors) > 256:
            _atol_vectors.clear()
        vector = _atol_vectors[(n, atol)] = np.full(n, atol)
    return vector


def validate_common(t_span, y0, t_eval, rtol, atol, first_step, max_step, check_t_eval=True):
    """Check and normalise the arguments shared by the single and batch solvers.

    Returns (t0, t1, t_eval or None, rtol, atol vector, first_step (0 = automatic), max_step).
    Every violation is a ValueError that says what is accepted. Kept lean: for a small system
    these checks cost about as much as the integration itself. ``check_t_eval=False`` leaves
    the range and order of ``t_eval`` to the caller's kernel (:func:`check_grid`).
    """
    try:
        t0, t1 = t_span
        t0, t1 = float(t0), float(t1)
    except (TypeError, ValueError):
        raise ValueError(f"`t_span` must be two real numbers (t0, t1), got {t_span!r}.") from None
    if not (math.isfinite(t0) and math.isfinite(t1)):
        raise ValueError(f"`t_span` must be finite, got {(t0, t1)!r}.")
    n = y0.shape[-1]
    rtol = _as_float("rtol", rtol)
    if not (math.isfinite(rtol) and rtol > 0):
        raise ValueError(f"`rtol` must be a finite number > 0, got {rtol!r}.")
    if rtol < 100 * EPS:
        warnings.warn(
            "At least one element of `rtol` is too small. "
            f"Setting `rtol = np.maximum(rtol, {100 * EPS})`.",
            stacklevel=3,
        )
        rtol = 100 * EPS
    if isinstance(atol, (float, int)) and math.isfinite(atol) and atol >= 0:
        atol_v = _atol_vector(n, float(atol))
    else:
        atol_a = np.asarray(atol, dtype=float)
        if atol_a.ndim > 0 and atol_a.shape != (n,):
            raise ValueError(
                f"`atol` must be a scalar or have shape ({n},) to match y0, "
                f"got shape {atol_a.shape}."
            )
        if not (np.isfinite(atol_a).all() and (atol_a >= 0).all()):
            raise ValueError(f"`atol` must be finite and >= 0, got {atol!r}.")
        atol_v = np.array(np.broadcast_to(atol_a, (n,)))  # writable: one kernel signature
    max_step = _as_float("max_step", max_step)
    if not max_step > 0:
        raise ValueError(f"`max_step` must be positive, got {max_step!r}.")
    if first_step is None:
        first = 0.0
    else:
        first = _as_float("first_step", first_step)
        if not first > 0:
            raise ValueError(f"`first_step` must be positive, got {first!r}.")
        if first > abs(t1 - t0):
            raise ValueError(
                f"`first_step` exceeds bounds: {first!r} > |t1 - t0| = {abs(t1 - t0)!r}."
            )
    if t_eval is not None:
        t_eval = np.ascontiguousarray(t_eval, dtype=float)
        if t_eval.ndim != 1:
            raise ValueError(f"`t_eval` must be 1-dimensional, got shape {t_eval.shape}.")
        if check_t_eval:
            values = (t_eval, t0, t1)
            problem = kernel_entry(_rk45.grid_problem, values, t_eval.flags.writeable)(*values)
            check_grid(problem, t0, t1)
    return t0, t1, t_eval, rtol, atol_v, first, max_step


def check_grid(problem: int, t0: float = 0.0, t1: float = 0.0) -> None:
    """Raise scipy's error for a ``t_eval`` that :func:`._rk45.grid_problem` found wrong."""
    if problem == _rk45.GRID_OUTSIDE_SPAN:
        lo, hi = min(t0, t1), max(t0, t1)
        raise ValueError(f"Values in `t_eval` must lie within `t_span` [{lo!r}, {hi!r}].")
    if problem == _rk45.GRID_OUT_OF_ORDER:
        order = "increasing" if t1 >= t0 else "decreasing"
        raise ValueError(
            f"Values in `t_eval` must be strictly {order} (the direction of integration)."
        )


def validate_y0(y0, ndim: int = 1, name: str = "y0") -> np.ndarray:
    if not (type(y0) is np.ndarray and y0.dtype is F64 and y0.flags.c_contiguous):
        y0 = np.asarray(y0)
        if y0.dtype.kind not in "fiub":
            raise ValueError(f"`{name}` must be real numbers, got dtype {y0.dtype}.")
        y0 = np.ascontiguousarray(y0, dtype=float)
    if y0.ndim != ndim:
        want = "1-D, shape (n,)" if ndim == 1 else "2-D, shape (m, n)"
        raise ValueError(f"`{name}` must be {want}, got shape {y0.shape}.")
    if y0.size == 0:
        raise ValueError(f"`{name}` must not be empty.")
    # a Python loop (over Python floats) beats numpy's call overhead for the small systems
    # solved one at a time
    small = y0.size <= 32
    finite = all(map(math.isfinite, y0.ravel().tolist())) if small else np.isfinite(y0).all()
    if not finite:
        raise ValueError(f"`{name}` must be finite; it contains NaN or infinity.")
    return y0


_adapters: dict = {}


def _in_place(fun):
    """Wrap an out-of-place ``fun(t, y, *args)`` into the kernels' ``rhs(t, y, dydt, p, *args)``."""
    adapter = _adapters.get(fun)
    if adapter is None:

        @njit(error_model="numpy", _nrt=True)  # it allocates: see _rhs.with_nrt
        def adapter(t, y, dydt, p, *args):
            dydt[:] = fun(t, y, *args)

        _adapters[fun] = adapter
    return adapter


def _check_output_shape(fun, t0, y0, args, name="fun"):
    try:
        out = fun(t0, y0, *args)
    except Exception as exc:  # compilation or evaluation failed: say which function
        raise ValueError(f"`{name}` failed when called as {name}(t0, y0, *args): {exc}") from exc
    shape = np.shape(out)
    if shape != y0.shape:
        raise ValueError(
            f"`{name}` returned shape {shape}; expected {y0.shape} to match y0 "
            "(return a 1-D array, e.g. dydt.ravel())."
        )


def _kernel(name: str, dynamic: bool):
    """A kernel from :mod:`._rk45`; a non-caching twin when a dispatcher crosses its boundary."""
    kernel = getattr(_rk45, name)
    if not dynamic:
        return kernel
    twin = _dynamic_twins.get(name)
    if twin is None:
        twin = _dynamic_twins[name] = njit(error_model="numpy")(kernel.py_func)
    return twin


_dynamic_twins: dict = {}


def solve_ivp(
    fun,
    t_span,
    y0,
    *,
    t_eval=None,
    rtol=1e-3,
    atol=1e-6,
    first_step=None,
    max_step=np.inf,
    args=(),
    dense_output=False,
):
    """Solve an initial value problem with the Dormand-Prince RK45 method, as scipy does.

    Parameters follow ``scipy.integrate.solve_ivp(method="RK45")``. ``fun(t, y, *args)``
    returns dy/dt; it may be an ``@njit`` function or a plain Python function in Numba's subset
    (compiled here). ``fun`` may also be a :class:`CompiledRHS` (an in-place C callback); then
    ``args`` is ``(p, data)``, two float64 arrays, and the solver kernel is loaded from Numba's
    on-disk cache.

    Returns an :class:`OdeResult` with ``t``, ``y`` (n, len(t)), ``nfev``, ``naccept``,
    ``nreject``, ``status`` (0 reached the end, -1 failed), ``message``, ``success`` and
    ``sol`` (a :class:`DenseSolution`) when ``dense_output`` is true. A right-hand side that
    returns NaN or infinity ends the solve with status -1 and a message naming the time.

    Given the same compiled right-hand side, the steps are scipy's: the same ``nfev``,
    ``naccept`` and ``nreject``, and the steps' ``t`` and ``y`` (``t_eval=None``) bit for bit
    where numpy's BLAS is one whose rounding :mod:`._sums` reproduces (OpenBLAS on x86-64),
    else to rounding. Values at ``t_eval`` and from ``sol`` come from the same interpolant,
    evaluated in Horner's form, and agree with scipy's to rounding.
    """
    y0 = validate_y0(y0)
    t0, t1, t_eval, rtol, atol_v, first, max_step = validate_common(
        t_span, y0, t_eval, rtol, atol, first_step, max_step, check_t_eval=False
    )
    if not isinstance(args, tuple):
        args = (args,)
    if isinstance(fun, CompiledRHS):
        p, data, writeable = fun.pointer_args(args)
        rhs, dynamic = fun.address, False
    else:
        disp = as_dispatcher(fun)
        _check_output_shape(disp, t0, y0, args)
        # Through a C callback the cached kernel runs; compiling a kernel specialised on the
        # dispatcher instead costs seconds in every process.
        wrapped = wrap(disp, args)
        if wrapped is not None:
            (rhs, p, data), dynamic = wrapped, False
            writeable = (p.flags.writeable, data.flags.writeable)
        else:
            rhs, p, data, dynamic = _in_place(disp), _EMPTY, args, True
    n = y0.shape[0]
    record = t_eval is None
    grid = _EMPTY if record else t_eval
    to_grid = not (record or dense_output)  # the common case: no step table to return
    if to_grid:
        y_grid = np.empty((n, grid.shape[0]))
        name, values = "solve_to_grid", (rhs, p, data, t0, t1, y0, grid, first, rtol, atol_v)
        values += (max_step, y_grid)
    else:
        name, values = "solve_one", (rhs, p, data, t0, t1, y0, grid, first, rtol, atol_v)
        values += (max_step, record, dense_output)
    if dynamic:
        kernel = _kernel(name, True)
    else:
        # An address and float64 vectors: only writeability changes the argument types, so
        # the compiled entry point is looked up without typing every argument on each call.
        flags = (*writeable, y0.flags.writeable, grid.flags.writeable)
        kernel = kernel_entry(getattr(_rk45, name), values, flags)
    if to_grid:
        code, nfev, naccept, nreject, t_end, t_bad, filled = kernel(*values)
    else:
        code, nfev, naccept, nreject, t_end, t_bad, y_grid, filled, steps = kernel(*values)
    if code == _rk45.BAD_GRID:
        check_grid(nfev, t0, t1)
    status, message = status_message(code, t_bad)
    if record:
        t_out, y_out = steps[:, 0].copy(), np.ascontiguousarray(steps[:, 1 : 1 + n].T)
    else:
        t_out = t_eval if filled == t_eval.shape[0] else t_eval[:filled]
        y_out = y_grid if filled == t_eval.shape[0] else y_grid[:, :filled]
    sol = DenseSolution.from_steps(steps, n) if dense_output else None
    return OdeResult(
        t=t_out,
        y=y_out,
        sol=sol,
        nfev=int(nfev),
        njev=0,
        nlu=0,
        status=status,
        message=message,
        success=status >= 0,
        naccept=int(naccept),
        nreject=int(nreject),
    )
