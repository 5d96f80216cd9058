"""``solve_ivp``: scipy's explicit Runge-Kutta methods (RK23, RK45, DOP853), compiled with Numba."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
from numba import njit
from numba.core.errors import NumbaError

from .._numba import F64, Bridge, arg_layout, as_dispatcher, compile_or_fallback, kernel_entry
from .._numba.interrupt import reraise, stop_for_call
from . import _records as _core
from ._callback import wrap
from ._events import (
    EventSet,
    check_event_values,
    combined_cfunc,
    combined_dispatcher,
    prepare_events,
)
from ._kernels import KERNELS, dense_table
from ._methods import METHODS, Method, get_method
from ._records import STEP_Y
from ._rhs import CompiledRHS
from ._shared import grid_problem

EPS = np.finfo(float).eps
_EMPTY = np.empty(0)


def _record_bytes() -> int:
    """The most a single solve's step record may take: a quarter of the machine's memory."""
    import os

    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4
    except (ValueError, OSError, AttributeError):
        return 1 << 34  # 16 GiB where the system does not say


RECORD_BYTES = _record_bytes()


def max_record_rows(width: int) -> int:
    """Rows of ``width`` float64 values that fit in :data:`RECORD_BYTES`."""
    return max(64, RECORD_BYTES // (8 * width))


MESSAGES = {
    _core.FINISHED: "The solver successfully reached the end of the integration interval.",
    _core.TERMINATED: "A termination event occurred.",
    _core.STEP_TOO_SMALL: "Required step size is less than spacing between numbers.",
    _core.RECORD_FULL: (
        "The record of every step would exceed a quarter of this machine's memory; pass "
        "t_eval (values at chosen times only) or a larger max_step."
    ),
}
#: scipy's ``status`` for each internal code.
STATUS = {_core.FINISHED: 0, _core.TERMINATED: 1}


def nonfinite_message(t_bad: float) -> str:
    return f"The right-hand side returned NaN or infinity at t = {t_bad!r}."


def status_message(code: int, t_bad: float) -> tuple[int, str]:
    """scipy's (status, message) for an internal status code."""
    if code == _core.NONFINITE_RHS:
        return -1, nonfinite_message(t_bad)
    return STATUS.get(code, -1), MESSAGES[code]


@dataclass(slots=True)
class OdeResult(Mapping):
    """The result of :func:`solve_ivp`, with the fields of scipy's ``OdeResult``.

    ``t`` (k,) and ``y`` (n, k): the output times and states; ``t_events`` and ``y_events``:
    with events, one array per event of its times (c,) and states (c, n), else None.
    Like scipy's (a dict whose keys are also attributes), it is a read-only mapping too:
    ``res["y"]``, ``"sol" in res``, ``res.keys()``, ``dict(res)``.
    """

    t: np.ndarray
    y: np.ndarray
    sol: DenseSolution | None
    t_events: list | None
    y_events: list | None
    nfev: int
    njev: int
    nlu: int
    status: int
    message: str
    success: bool
    naccept: int = 0
    nreject: int = 0

    def __getitem__(self, key: str):
        if key not in _ODE_FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self):
        return iter(_ODE_FIELDS)

    def __len__(self) -> int:
        return len(_ODE_FIELDS)

    __eq__ = object.__eq__  # identity, as a dataclass of arrays cannot compare by value
    __hash__ = None

    def __repr__(self) -> str:
        events = "" if self.t_events is None else f", events={[len(t) for t in self.t_events]}"
        return (
            f"OdeResult(status={self.status}, message={self.message!r}, nfev={self.nfev}, "
            f"naccept={self.naccept}, nreject={self.nreject}, t.shape={self.t.shape}, "
            f"y.shape={self.y.shape}{events})"
        )


_ODE_FIELDS = tuple(f.name for f in fields(OdeResult))


class DenseSolution:
    """The continuous solution: the method's interpolant on each accepted step (RK23's
    cubic, RK45's quartic, DOP853's seventh-degree polynomial).

    Called with a scalar it returns shape (n,), with an array of times (n, len(t)), like
    scipy's ``OdeSolution``. A time that is a step boundary uses the earlier step, as scipy's.
    """

    def __init__(self, method: Method, ts, hs, ys, Qs):
        self.method = method
        self.ts, self._hs, self._ys, self._Qs = ts, hs, ys, Qs
        self.ascending = ts[-1] >= ts[0]
        self.t_min, self.t_max = (ts[0], ts[-1]) if self.ascending else (ts[-1], ts[0])
        self.n_segments = len(ts) - 1

    @classmethod
    def from_steps(cls, method: Method, steps: np.ndarray, n: int) -> DenseSolution:
        """From the step table of the ``solve`` kernel (see :class:`._core.Output`)."""
        return cls(method, *dense_table(steps, n, method.tableau.n_dense))

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
            evaluate = KERNELS[self.method.name].eval_segments
            evaluate(self.ts, self._hs, self._ys, self._Qs, ts, self._segments(ts), out)
        return out[:, 0] if t.ndim == 0 else out


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
            problem = kernel_entry(grid_problem, values, t_eval.flags.writeable)(*values)
            check_grid(problem, t0, t1)
    return t0, t1, t_eval, rtol, atol_v, first, max_step


def check_grid(problem: int, t0: float = 0.0, t1: float = 0.0) -> None:
    """Raise scipy's error for a ``t_eval`` that :func:`._shared.grid_problem` found wrong."""
    if problem == _core.GRID_OUTSIDE_SPAN:
        lo, hi = min(t0, t1), max(t0, t1)
        raise ValueError(f"Values in `t_eval` must lie within `t_span` [{lo!r}, {hi!r}].")
    if problem == _core.GRID_OUT_OF_ORDER:
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
    except NumbaError:  # Numba cannot compile it: the caller falls back to plain Python
        raise
    except Exception as exc:  # evaluation failed: say which function
        raise ValueError(f"`{name}` failed when called as {name}(t0, y0, *args): {exc}") from exc
    shape = np.shape(out)
    if shape != y0.shape:
        raise ValueError(
            f"`{name}` returned shape {shape}; expected {y0.shape} to match y0 "
            "(return a 1-D array, e.g. dydt.ravel())."
        )


#: Keyword arguments of scipy's solve_ivp that only its implicit methods use.
_IMPLICIT_ONLY = ("jac", "jac_sparsity", "lband", "uband", "min_step")


def _check_options(options: dict) -> None:
    """scipy warns about solver options that the method ignores; unknown names are errors."""
    unknown = [k for k in options if k not in _IMPLICIT_ONLY]
    if unknown:
        raise TypeError(
            f"solve_ivp() got unexpected keyword arguments {unknown}; the solver options are "
            "rtol, atol, first_step and max_step."
        )
    names = ", ".join(f"`{k}`" for k in options)
    warnings.warn(
        f"The following arguments have no effect for a chosen solver: {names}.", stacklevel=3
    )


def _normalise_args(args) -> tuple:
    """``args`` as a tuple: None is none, a list its items, any other value one argument."""
    if isinstance(args, tuple):
        return args
    if args is None:
        return ()
    return tuple(args) if isinstance(args, list) else (args,)


def _callables(fun, events: EventSet | None, t0, y0, args):
    """``(rhs, ev, p, data, dynamic, writeable, bridge)`` for the kernels: C-callback addresses
    with their packed arguments where possible (the cached kernels run), else dispatchers.
    ``writeable`` gives the flags of ``p`` and ``data``: with the address path, all that
    changes a kernel's argument types (a key for :func:`kernel_entry`). ``bridge`` is not None
    when the functions run as plain Python (Numba cannot compile one of them): keep it until
    the kernel returns, then call its ``reraise``.

    Compiling, wrapping and checking the output's shape happen once per function, events,
    state shape and argument types (:func:`_plan`); a call then only packs its arguments."""
    if isinstance(fun, CompiledRHS):
        fun.check_args(y0.shape[0], args)
        p, data, writeable = fun.pointer_args(args)
        ev = 0
        if events is not None:
            check_event_values(events, t0, y0, args)
            kinds = (("p", 0, 0), ("d", 0, 0))[: len(args)]
            compiled = combined_cfunc(events, kinds)
            if compiled is None:
                raise ValueError(
                    "the events could not be compiled as C callbacks for a CompiledRHS: give "
                    "them args they can take, (p, data) float64 arrays."
                )
            ev = compiled.address
        return fun.address, ev, p, data, False, writeable, None
    try:
        key = (fun, id(events), y0.shape, *map(_arg_key, args))
        plan = _plans.get(key)
    except TypeError:  # unhashable arguments: plan on every call
        key, plan = None, None
    if plan is None:
        plan = _plan(fun, events, t0, y0, args)
        if key is not None:
            if len(_plans) > 256:
                _plans.clear()
            _plans[key] = plan
    kind, rhs, ev, _ = plan
    if kind == "address":
        if len(args) == 2 and key is not None and _plain(key[3]) and _plain(key[4]):
            # the usual (p, data): two writeable C-contiguous float64 vectors, passed as they
            # are (arg_layout's layout for them, without its checks)
            return rhs, ev, args[0], args[1], False, _WRITEABLE, None
        _, p, data = arg_layout(args)
        return rhs, ev, p, data, False, (p.flags.writeable, data.flags.writeable), None
    if kind == "dispatcher":
        return rhs, ev, _EMPTY, args, True, None, None
    return _python_callables(fun, events, args)


_plans: dict = {}
_WRITEABLE = (True, True)


def _plain(arg_key) -> bool:
    """An argument key of a writeable C-contiguous float64 vector."""
    dtype, shape, contiguous, writeable = arg_key
    return dtype is F64 and contiguous and writeable and len(shape) == 1


def _arg_key(value):
    """What of an argument fixes the wrapper and the check: its type, and an array's dtype,
    shape and contiguity (the output's shape may follow an argument's)."""
    if type(value) is np.ndarray:
        flags = value.flags
        return (value.dtype, value.shape, flags.c_contiguous, flags.writeable)
    return (type(value), None, None, None)


def _plan(fun, events: EventSet | None, t0, y0, args):
    """``(kind, rhs, ev, events)``: how this function (and events) reach the kernels, found
    once: ``"address"`` (C callbacks; the arguments are packed per call), ``"dispatcher"``
    (the kernel compiled for the function) or ``"python"`` (ctypes trampolines). ``events``
    is kept so that its ``id`` in the plan's key stays its own."""

    def check(compiled):
        _check_output_shape(compiled, t0, y0, args)

    disp = compile_or_fallback(fun, "fun", as_dispatcher, check, args)
    if disp is None or (events is not None and not check_event_values(events, t0, y0, args)):
        _check_output_shape(fun, t0, y0, args)
        return ("python", None, None, events)
    # Through a C callback the cached kernel runs; compiling a kernel specialised on the
    # dispatcher instead costs seconds in every process.
    wrapped = wrap(disp, args)
    if wrapped is not None:
        rhs = wrapped[0]
        if events is None:
            return ("address", rhs, 0, events)
        compiled = combined_cfunc(events, arg_layout(args)[0])
        if compiled is not None:
            return ("address", rhs, compiled.address, events)
    in_place = _in_place(disp)
    ev = combined_dispatcher(events) if events is not None else in_place  # never called
    return ("dispatcher", in_place, ev, events)


def _python_callables(fun, events: EventSet | None, args):
    """The plain-Python path: the functions behind ctypes trampolines with the C callbacks'
    signature, so the same cached kernels run them (see :mod:`workbench._numba.pyfallback`)."""
    bridge = Bridge()
    rhs = bridge.rhs(fun, args)
    ev = 0
    if events is not None:
        originals = events.originals

        def all_events(t, y, *args):
            return [event(t, y, *args) for event in originals]

        ev = bridge.rhs(all_events, args, width=len(originals))
    return rhs, ev, _EMPTY, _EMPTY, False, (True, True), bridge


def solve_ivp(
    fun,
    t_span,
    y0,
    method="RK45",
    t_eval=None,
    dense_output=False,
    events=None,
    vectorized=False,
    args=None,
    *,
    rtol=1e-3,
    atol=1e-6,
    first_step=None,
    max_step=np.inf,
    **options,
):
    """Solve an initial value problem with an explicit Runge-Kutta method, as scipy does.

    Parameters follow ``scipy.integrate.solve_ivp``.

    Parameters
    ----------
    fun : callable
        ``fun(t, y, *args)`` returning dy/dt, shape (n,): an ``@njit`` function, a plain Python
        function in Numba's subset (compiled here), or a :class:`CompiledRHS` (an in-place C
        callback; then ``args`` is ``(p, data)``, two float64 arrays, and the solver kernel
        is loaded from Numba's on-disk cache).
    t_span : (float, float)
        ``(t0, t1)``; ``t1 < t0`` integrates backward.
    y0 : array_like, shape (n,)
        The initial state.
    method : {"RK45", "RK23", "DOP853"} or Method
        Dormand-Prince 5(4) (the default), Bogacki-Shampine 3(2) or Dormand-Prince 8(5,3).
        scipy's implicit methods (Radau, BDF, LSODA) are not provided.
    t_eval : array_like, shape (k,), optional
        Output times, sorted in the direction of integration; else the solver's steps.
    dense_output : bool
        Whether to return ``sol``, the continuous solution.
    events : callable or list of callables, optional
        ``event(t, y, *args) -> float``; an event occurs where it crosses zero, located on the
        dense output by Brent's method as scipy does. Attributes ``terminal`` (bool, or the
        occurrence that stops the solve) and ``direction`` (> 0 rising, < 0 falling, 0 both)
        are read from each function as scipy reads them.
    vectorized : bool
        Accepted for scipy's signature: it only matters for the finite-difference Jacobians
        of scipy's implicit methods. ``fun`` is always called with one state, shape (n,).
    args : tuple, optional
        Extra arguments for ``fun`` and the events.
    rtol, atol : float, or atol array_like (n,)
        Relative and absolute tolerances.
    first_step, max_step : float
        The initial step (default: chosen as scipy does) and the largest step.

    Returns
    -------
    OdeResult
        ``t`` (k,), ``y`` (n, k), ``sol`` (a :class:`DenseSolution` with ``dense_output``),
        ``t_events``/``y_events`` (lists of arrays (c,) and (c, n), one per event),
        ``nfev``, ``naccept``, ``nreject``, ``status`` (0 reached the end, 1 a terminal event,
        -1 failed), ``message`` and ``success``. A right-hand side that returns NaN or
        infinity ends the solve with status -1 and a message naming the time.

    Notes
    -----
    Given the same compiled right-hand side, the steps are scipy's: the same ``nfev``,
    ``naccept`` and ``nreject``, and the steps' ``t`` and ``y`` (``t_eval=None``) bit for bit
    where numpy's BLAS is one whose rounding :mod:`._sums` reproduces (OpenBLAS on x86-64),
    else to rounding. Values at ``t_eval``, from ``sol`` and at events come from the same
    interpolants (RK23 and RK45 evaluated in Horner's form) and agree with scipy's to
    rounding.
    """
    m = get_method(method)
    kernels = KERNELS[m.name] if m.name in METHODS else None
    if kernels is None or kernels.method is not m:
        raise ValueError(f"method {m.name!r} has no compiled kernels; register it in METHODS.")
    if options:
        _check_options(options)
    y0 = validate_y0(y0)
    t0, t1, t_eval, rtol, atol_v, first, max_step = validate_common(
        t_span, y0, t_eval, rtol, atol, first_step, max_step, check_t_eval=False
    )
    args = _normalise_args(args)
    if events is None and t_eval is not None and not dense_output:
        return _solve_to_grid(kernels, fun, t0, t1, y0, t_eval, first, rtol, atol_v, max_step, args)
    event_set = prepare_events(events)
    n = y0.shape[0]
    record = t_eval is None
    grid = _EMPTY if record else t_eval
    rhs, ev, p, data, dynamic, writeable, bridge = _callables(fun, event_set, t0, y0, args)
    if event_set is None:
        ev_dir, ev_max = _EMPTY, _EMPTY
    else:
        ev_dir, ev_max = event_set.direction, event_set.max_events
    values = (rhs, ev, p, data, t0, t1, y0, grid, first, rtol, atol_v, max_step)
    stop = stop_for_call()
    keep = record or dense_output
    width = STEP_Y + n + (n * m.tableau.n_dense if dense_output else 0)
    values += (keep, bool(dense_output), ev_dir, ev_max, stop, max_record_rows(width))
    if dynamic:
        kernel = kernels.dynamic("solve")
    else:  # addresses and float64 vectors: only writeability changes the argument types
        others = (y0, grid, atol_v, ev_dir, ev_max)
        flags = (*writeable, *(a.flags.writeable for a in others))
        kernel = kernel_entry(kernels.solve, values, flags)
    code, nfev, naccept, nreject, _, t_bad, y_grid, filled, steps, count, t_at, y_at = kernel(
        *values
    )
    if bridge is not None:
        bridge.reraise()
    if code == _core.INTERRUPTED:
        reraise(stop)
    if code == _core.BAD_GRID:
        check_grid(nfev, t0, t1)
    status, message = status_message(code, t_bad)
    if record:
        t_out, y_out = steps[:, 0].copy(), np.ascontiguousarray(steps[:, STEP_Y : STEP_Y + n].T)
    else:
        t_out = t_eval if filled == t_eval.shape[0] else t_eval[:filled]
        y_out = y_grid if filled == t_eval.shape[0] else y_grid[:, :filled]
    t_events = y_events = None
    if event_set is not None:
        t_events = [t_at[k, : count[k]].copy() for k in range(len(event_set))]
        y_events = [y_at[k, : count[k]].copy() for k in range(len(event_set))]
    return OdeResult(
        t=t_out,
        y=y_out,
        sol=DenseSolution.from_steps(m, steps, n) if dense_output else None,
        t_events=t_events,
        y_events=y_events,
        nfev=int(nfev),
        njev=0,
        nlu=0,
        status=status,
        message=message,
        success=status >= 0,
        naccept=int(naccept),
        nreject=int(nreject),
    )


def _solve_to_grid(kernels, fun, t0, t1, y0, grid, first, rtol, atol_v, max_step, args):
    """The common case, values at ``t_eval`` only, with the least Python around the kernel."""
    rhs, _, p, data, dynamic, writeable, bridge = _callables(fun, None, t0, y0, args)
    y_grid = np.empty((y0.shape[0], grid.shape[0]))
    stop = stop_for_call()
    values = (rhs, p, data, t0, t1, y0, grid, first, rtol, atol_v, max_step, y_grid, stop)
    if dynamic:
        kernel = kernels.dynamic("to_grid")
    else:
        # An address and float64 vectors: only writeability changes the argument types, so
        # the compiled entry point is looked up without typing every argument on each call.
        flags = (*writeable, y0.flags.writeable, grid.flags.writeable)
        kernel = kernel_entry(kernels.to_grid, values, flags)
    code, nfev, naccept, nreject, _, t_bad, filled = kernel(*values)
    if bridge is not None:
        bridge.reraise()
    if code == _core.INTERRUPTED:
        reraise(stop)
    if code == _core.BAD_GRID:
        check_grid(nfev, t0, t1)
    status, message = status_message(code, t_bad)
    k = grid.shape[0]
    return OdeResult(
        t=grid if filled == k else grid[:filled],
        y=y_grid if filled == k else y_grid[:, :filled],
        sol=None,
        t_events=None,
        y_events=None,
        nfev=nfev,
        njev=0,
        nlu=0,
        status=status,
        message=message,
        success=status >= 0,
        naccept=naccept,
        nreject=nreject,
    )
