"""The two-link arm: one trajectory, or an ensemble, integrated by a Runge-Kutta method.

Config sections: ``arm`` (physical parameters, SI units), ``initial`` (degrees), ``torque``
(a file, an inline table or a generator sampled onto a table; interpolated linearly or by a
cubic spline), ``solver`` (with ``method``: RK45, RK23 or DOP853), the optional ``events``
(thresholds on a joint angle or velocity or the end effector's position) and the optional
``ensemble``. The reference for ``compare`` is ``scipy.integrate.solve_ivp`` with the same
method and events on the seed question's numpy right-hand side.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from ..data import torques
from ..integrate import solve_ivp, solve_ivp_batch
from ..interpolate import TableError, pack_table, table_range
from ..models import arm as model
from .base import (
    MAX_SAMPLES,
    Comparison,
    ComparisonRow,
    Experiment,
    ExperimentConfig,
    Outcome,
    ProblemError,
    Section,
    check_memory,
    median_time,
)

#: Two finite numbers (a value per joint, a range, a span): NaN or infinity is refused when
#: the file is read, not met by the solver.
Pair = tuple[
    Annotated[float, Field(allow_inf_nan=False)], Annotated[float, Field(allow_inf_nan=False)]
]
#: The largest length (m), inertia (kg m^2) or mass (kg) a config may give the arm.
PHYSICAL_MAX = 1e6


class ArmParams(Section):
    """Link lengths (m), inertias (kg m^2), masses (kg), centre of mass of link 2 (m), damping.

    ``M1`` is the upper arm's mass, kept with the arm's description; the dynamics do not use
    it, since ``I1`` is link 1's inertia about the shoulder, which already includes it (the
    arm moves in a horizontal plane: no gravity).
    """

    # Bounded far beyond any arm, so that the inertia terms (M2 * L1**2, ...) stay finite.
    L1: float = Field(0.3, gt=0, le=PHYSICAL_MAX)
    L2: float = Field(0.33, gt=0, le=PHYSICAL_MAX)
    I1: float = Field(0.025, gt=0, le=PHYSICAL_MAX)
    I2: float = Field(0.045, gt=0, le=PHYSICAL_MAX)
    M1: float = Field(1.4, gt=0, le=PHYSICAL_MAX)
    M2: float = Field(1.0, gt=0, le=PHYSICAL_MAX)
    D2: float = Field(0.16, ge=0, le=PHYSICAL_MAX)
    B: tuple[Pair, Pair] = ((0.05, 0.025), (0.025, 0.05))

    def vector(self) -> np.ndarray:
        """The dynamics' parameter vector ``p`` (:func:`workbench.models.arm.param_vector`).

        Returns
        -------
        ndarray of float64, shape (7,)
            ``[a1, a2, a3, b11, b12, b21, b22]``: the inertia combinations of
            :func:`workbench.models.arm.inertia_params` and the damping matrix ``B`` row by row.
        """
        return model.param_vector(self.I1, self.I2, self.M2, self.L1, self.D2, self.B)

    @model_validator(mode="after")
    def _positive_definite(self):
        if not model.mass_matrix_ok(self.I1, self.I2, self.M2, self.L1, self.D2):
            raise ValueError(model.MASS_MATRIX_RULE)
        return self


class Initial(Section):
    """The ``initial:`` section of an arm experiment: the state the solve starts from.

    Attributes
    ----------
    q_deg : tuple of float
        Joint angles ``(q1, q2)`` in degrees (``q2`` measured from link 1).
    qdot_deg_s : tuple of float
        Angular velocities ``(q1', q2')`` in deg/s.
    """

    q_deg: Pair = (10.0, 143.54)
    qdot_deg_s: Pair = (0.0, 0.0)


class _TorqueBase(Section):
    interpolation: Literal["linear", "cubic"] = "linear"
    extrapolate: Literal["error", "hold"] = "error"


class _Generated(_TorqueBase):
    """Generators are sampled onto a table (like a measured torque) and then interpolated."""

    samples: int = Field(1001, ge=2, le=MAX_SAMPLES)
    t_start: float | None = None
    t_stop: float | None = None


class FileTorque(_TorqueBase):
    """The ``torque:`` section with ``kind: file``: joint torques read from a table file.

    Attributes
    ----------
    kind : {"file"}
        Selects this form.
    path : str
        The table (:func:`workbench.data.torques.read_torque`): two channels in N m. A relative
        path that does not exist as given is looked up in the config file's folder.
    time : tuple of float, optional
        ``(t_start, t_stop)`` in seconds, for a file that holds only the torques.
    interpolation : {"linear", "cubic"}
        Between the samples: straight lines, or a cubic spline.
    extrapolate : {"error", "hold"}
        A ``solver.t_span`` beyond the table is refused (``error``), or the end values are held.
    """

    kind: Literal["file"]
    path: str
    time: Pair | None = Field(None, description="(t_start, t_stop) when the file has no time")


class TableTorque(_TorqueBase):
    """The ``torque:`` section with ``kind: table``: the torques written out in the config.

    Attributes
    ----------
    kind : {"table"}
        Selects this form.
    t : list of float
        The time grid in seconds, N points (checked when the table is packed).
    values : tuple of two lists of float
        Joint 1's and joint 2's torques in N m at the times ``t`` (N values each).
    interpolation, extrapolate : str
        As for ``kind: file``.
    """

    kind: Literal["table"]
    t: list[float]
    values: tuple[list[float], list[float]]


class ZeroTorque(_Generated):
    """The ``torque:`` section with ``kind: zero``: no torque (the arm coasts, slowed by damping).

    Attributes
    ----------
    kind : {"zero"}
        Selects this form.
    samples : int
        Points of the table the generator is sampled onto (default 2).
    t_start, t_stop : float, optional
        The table's time range in seconds (None: that end of ``solver.t_span``).
    interpolation, extrapolate : str
        As for ``kind: file``.
    """

    kind: Literal["zero"]
    samples: int = Field(2, ge=2, le=MAX_SAMPLES)


class ConstantTorque(_Generated):
    """The ``torque:`` section with ``kind: constant``: the same torque at every time.

    Attributes
    ----------
    kind : {"constant"}
        Selects this form.
    value : tuple of float
        Joint 1's and joint 2's torque in N m.
    samples : int
        Points of the table the generator is sampled onto (default 2).
    t_start, t_stop : float, optional
        The table's time range in seconds (None: that end of ``solver.t_span``).
    interpolation, extrapolate : str
        As for ``kind: file``.
    """

    kind: Literal["constant"]
    value: Pair = (0.0, 0.0)
    samples: int = Field(2, ge=2, le=MAX_SAMPLES)


class SinesTorque(_Generated):
    """The ``torque:`` section with ``kind: sines``: ``offsets + amplitudes sin(2 pi f t + ph)``.

    Attributes
    ----------
    kind : {"sines"}
        Selects this form.
    amplitudes : tuple of float
        Per joint, in N m.
    frequencies : tuple of float
        Per joint, in Hz.
    phases : tuple of float
        Per joint, in radians.
    offsets : tuple of float
        Per joint, in N m.
    samples : int
        Points of the table the generator is sampled onto (default 1001).
    t_start, t_stop : float, optional
        The table's time range in seconds (None: that end of ``solver.t_span``).
    interpolation, extrapolate : str
        As for ``kind: file``.
    """

    kind: Literal["sines"]
    amplitudes: Pair = (0.5, 0.25)
    frequencies: Pair = Field((1.0, 2.0), description="Hz")
    phases: Pair = Field((0.0, 0.0), description="rad")
    offsets: Pair = (0.0, 0.0)


class StepTorque(_Generated):
    """The ``torque:`` section with ``kind: step``: one torque before ``time``, another from it on.

    Attributes
    ----------
    kind : {"step"}
        Selects this form.
    time : float
        When the step happens, in seconds.
    before, after : tuple of float
        Per joint, the torque in N m before and from ``time``.
    samples : int
        Points of the table the generator is sampled onto (default 1001; the step is as sharp
        as the grid allows).
    t_start, t_stop : float, optional
        The table's time range in seconds (None: that end of ``solver.t_span``).
    interpolation, extrapolate : str
        As for ``kind: file``.
    """

    kind: Literal["step"]
    time: float = 0.5
    before: Pair = (0.0, 0.0)
    after: Pair = (0.2, 0.1)


class ChirpTorque(_Generated):
    """The ``torque:`` section with ``kind: chirp``: sines whose frequency sweeps linearly in time.

    Attributes
    ----------
    kind : {"chirp"}
        Selects this form.
    amplitudes : tuple of float
        Per joint, in N m.
    f0, f1 : float
        The frequency in Hz at the earlier and at the later end of the table's time range.
    samples : int
        Points of the table the generator is sampled onto (default 1001).
    t_start, t_stop : float, optional
        The table's time range in seconds (None: that end of ``solver.t_span``).
    interpolation, extrapolate : str
        As for ``kind: file``.
    """

    kind: Literal["chirp"]
    amplitudes: Pair = (0.3, 0.15)
    f0: float = Field(0.5, ge=0, description="Hz at the earlier end of the time range")
    f1: float = Field(5.0, ge=0, description="Hz at the later end of the time range")


Torque = Annotated[
    FileTorque | TableTorque | ZeroTorque | ConstantTorque | SinesTorque | StepTorque | ChirpTorque,
    Field(discriminator="kind"),
]


def _check_times(t_eval: list[float], t_span, key: str) -> None:
    """A list of output times: finite, not empty, within ``t_span`` and strictly ordered as
    it runs (what ``solve_ivp`` demands, checked when the file is read)."""
    t0, t1 = t_span
    times = np.asarray(t_eval, dtype=float)
    if times.size == 0 or not np.isfinite(times).all():
        raise ValueError(f"{key}: a list of times must be finite and not empty")
    if times.min() < min(t0, t1) or times.max() > max(t0, t1):
        raise ValueError(f"{key}: every time must lie within t_span [{t0}, {t1}]")
    if np.any(np.diff(times) * (1.0 if t1 > t0 else -1.0) <= 0):
        order = "increasing" if t1 > t0 else "decreasing"
        raise ValueError(f"{key}: the times must be strictly {order} (as t_span runs)")


class Solver(Section):
    """The ``solver:`` section of an arm experiment: the Runge-Kutta method and its settings.

    Attributes
    ----------
    method : {"RK45", "RK23", "DOP853"}
        The embedded Runge-Kutta pair, as in ``scipy.integrate.solve_ivp``.
    rtol : float
        Relative tolerance (> 0).
    atol : float or list of float
        Absolute tolerance (>= 0): one value, or one per state (4: the angles and velocities,
        the work taking the last velocity's; or 5).
    t_span : tuple of float
        ``(t0, t1)`` in seconds; ``t1 < t0`` integrates backwards.
    t_eval : int or list of float or None
        The output times: a count, equally spaced over ``t_span``; a list of times within it,
        ordered as ``t_span`` runs; or null, the solver's own steps.
    first_step : float, optional
        The first step in seconds, at most ``|t1 - t0|`` (None: the solver chooses).
    max_step : float
        The largest step in seconds (default inf).
    """

    method: Literal["RK45", "RK23", "DOP853"] = "RK45"
    rtol: float = Field(1e-6, gt=0, allow_inf_nan=False)
    atol: float | list[float] = 1e-9
    t_span: Pair = (0.0, 1.0)
    t_eval: Annotated[int, Field(ge=1, le=MAX_SAMPLES)] | list[float] | None = Field(
        1001, description="a count (equally spaced on t_span), a list of times, or null (steps)"
    )
    first_step: float | None = Field(None, gt=0, allow_inf_nan=False)
    max_step: float = Field(float("inf"), gt=0)

    @field_validator("atol")
    @classmethod
    def _atol(cls, v):
        values = v if isinstance(v, list) else [v]
        if any(not np.isfinite(a) or a < 0 for a in values):
            raise ValueError(f"must be finite and >= 0, got {v}")
        if isinstance(v, list) and len(v) not in (4, 5):
            raise ValueError(f"a list needs one value per state (4 or 5), got {len(v)}")
        return v

    @field_validator("t_eval")
    @classmethod
    def _t_eval(cls, v):
        if isinstance(v, int) and v < 1:
            raise ValueError(f"a count must be >= 1, got {v}")
        return v

    @model_validator(mode="after")
    def _span(self):
        t0, t1 = self.t_span
        if t0 == t1:
            raise ValueError("t_span: start and end must differ")
        if isinstance(self.t_eval, list):
            _check_times(self.t_eval, self.t_span, "t_eval")
        if self.first_step is not None and self.first_step > abs(t1 - t0):
            raise ValueError(f"first_step: {self.first_step} exceeds |t1 - t0| = {abs(t1 - t0)}")
        return self

    def output_times(self, count: int | list[float] | None = None) -> np.ndarray | None:
        """The output times of a solve.

        Parameters
        ----------
        count : int or list of float, optional
            In place of ``t_eval`` (an ensemble passes its own): a count of times equally
            spaced over ``t_span``, or the times themselves.

        Returns
        -------
        ndarray of float64, shape (k,), or None
            The times, or None when the spec is null (output at the solver's steps).
        """
        spec = self.t_eval if count is None else count
        if spec is None:
            return None
        if isinstance(spec, int):
            return np.linspace(self.t_span[0], self.t_span[1], spec)
        return np.asarray(spec, dtype=float)


class Event(Section):
    """Stop or mark the solve where a quantity crosses a threshold (scipy's events)."""

    quantity: Literal["q1", "q2", "q1dot", "q2dot", "x", "y"]
    threshold: float = Field(
        allow_inf_nan=False, description="degrees for angles, deg/s for velocities, m for x/y"
    )
    direction: Literal["rising", "falling", "both"] = "both"
    terminal: bool | int = Field(
        False, description="true: stop at the first crossing; a count: stop at that one"
    )
    name: str | None = Field(None, description="a label; default '<quantity>_<direction>'")

    @field_validator("terminal")
    @classmethod
    def _terminal(cls, v):
        if not isinstance(v, bool) and v < 0:
            raise ValueError(f"a count must be >= 0, got {v}")
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v):
        if v is not None and not (v and v.replace("_", "").isalnum() and len(v) <= 40):
            raise ValueError(f"use up to 40 letters, digits and underscores, got {v!r}")
        return v

    def label(self) -> str:
        """The event's name in figures and array names.

        Returns
        -------
        str
            ``name``, or ``<quantity>_<direction>`` when it has none.
        """
        return self.name or f"{self.quantity}_{self.direction}"

    def threshold_si(self) -> float:
        """The threshold in the state's units (radians for angles)."""
        if self.quantity in ("x", "y"):
            return self.threshold
        return float(np.deg2rad(self.threshold))

    def function(self, L1: float, L2: float):
        """The compiled ``event(t, y, p, torque)`` with scipy's attributes set."""
        fn = model.event_function(self.quantity, self.threshold_si(), L1, L2)
        return fn, {"rising": 1.0, "falling": -1.0, "both": 0.0}[self.direction], self.terminal

    def reference(self, L1: float, L2: float):
        """The same event as scipy users write it: a plain function of (t, y)."""
        i = ("q1", "q2", "q1dot", "q2dot").index(self.quantity) if self.quantity[0] == "q" else 0
        thr = self.threshold_si()
        if self.quantity == "x":

            def event(t, y):
                return L1 * np.cos(y[0]) + L2 * np.cos(y[0] + y[1]) - thr

        elif self.quantity == "y":

            def event(t, y):
                return L1 * np.sin(y[0]) + L2 * np.sin(y[0] + y[1]) - thr

        else:

            def event(t, y):
                return y[i] - thr

        _, event.direction, event.terminal = self.function(L1, L2)
        return event


class Range(Section):
    """A range per joint that an ensemble draws from (in ``ensemble.q_deg`` and ``qdot_deg_s``).

    Attributes
    ----------
    low, high : tuple of float
        The lower and upper ends for joint 1 and joint 2, in the unit of the key holding the
        range (degrees, or deg/s).
    """

    low: Pair
    high: Pair

    @model_validator(mode="after")
    def _ordered(self):
        for joint, (low, high) in enumerate(zip(self.low, self.high, strict=True), start=1):
            if low > high:
                raise ValueError(f"low must not exceed high (joint {joint}: {low} > {high})")
        return self


class Ensemble(Section):
    """The ``ensemble:`` section of an arm experiment: many trajectories solved as one batch.

    Each member starts from ``initial`` and ``arm``, with the values named here drawn from their
    ranges; the other settings are shared.

    Attributes
    ----------
    size : int
        Members. With ``sampling: grid`` and d varied values, ``k = round(size ** (1/d))``
        points per value, so ``k ** d`` members.
    sampling : {"uniform", "grid"}
        Uniform random draws (seeded by ``seed``), or an evenly spaced grid over the ranges.
    q_deg : Range, optional
        Ranges of the initial joint angles (degrees).
    qdot_deg_s : Range, optional
        Ranges of the initial angular velocities (deg/s).
    params : dict
        Physical parameters varied per member, ``{name: [low, high]}`` for ``L1``, ``I1``,
        ``I2``, ``M2`` or ``D2``, in the units of ``arm``.
    t_eval : int or list of float
        Every member's output times: a count, equally spaced over ``solver.t_span``, or a list.
    """

    size: int = Field(10_000, ge=1, le=MAX_SAMPLES)
    sampling: Literal["uniform", "grid"] = "uniform"
    q_deg: Range | None = None
    qdot_deg_s: Range | None = None
    params: dict[Literal["L1", "I1", "I2", "M2", "D2"], Pair] = Field(default_factory=dict)
    t_eval: Annotated[int, Field(ge=1, le=MAX_SAMPLES)] | list[float] = 11

    @field_validator("params")
    @classmethod
    def _ordered(cls, v):
        for name, (low, high) in v.items():
            if low > high:
                raise ValueError(f"low must not exceed high for {name}, got [{low}, {high}]")
            # the values arm: accepts (D2 may be 0, the others must be positive)
            positive = name != "D2"
            if (low <= 0 if positive else low < 0) or not high <= PHYSICAL_MAX:
                accepted = f"{'(0' if positive else '[0'}, {PHYSICAL_MAX:g}]"
                raise ValueError(
                    f"the range of {name} must lie within {accepted}, as arm.{name} does, "
                    f"got [{low}, {high}]"
                )
        return v


class ArmConfig(ExperimentConfig):
    """A whole arm experiment file (``experiment: arm``).

    Attributes
    ----------
    experiment : {"arm"}
        The kind.
    arm : ArmParams
        The ``arm:`` section: lengths, inertias, masses and damping.
    initial : Initial
        The ``initial:`` section: starting angles and velocities.
    torque : FileTorque, TableTorque or a generator section
        The ``torque:`` section, its form chosen by ``kind`` (default: ``kind: sines``).
    solver : Solver
        The ``solver:`` section.
    events : list of Event
        Up to 16 thresholds to mark or stop at; their labels must differ, and ``x``/``y``
        events do not combine with an ensemble that varies ``L1``.
    ensemble : Ensemble, optional
        The ``ensemble:`` section; None: one trajectory.
    name, target, seed, output
        The keys every experiment has (:class:`~workbench.experiments.base.ExperimentConfig`).
    """

    experiment: Literal["arm"] = "arm"
    arm: ArmParams = Field(default_factory=ArmParams)
    initial: Initial = Field(default_factory=Initial)
    torque: Torque = Field(default_factory=lambda: SinesTorque(kind="sines"))
    solver: Solver = Field(default_factory=Solver)
    events: list[Event] = Field(default_factory=list, max_length=16)
    ensemble: Ensemble | None = None

    @model_validator(mode="after")
    def _events(self):
        labels = [e.label() for e in self.events]
        for label in labels:
            if labels.count(label) > 1:
                raise ValueError(f"events: two events are labelled {label!r}; give each a name")
        varied = self.ensemble.params if self.ensemble is not None else {}
        for i, event in enumerate(self.events):
            if event.quantity in ("x", "y") and "L1" in varied:
                raise ValueError(
                    f"events.{i}.quantity: {event.quantity!r} uses the link lengths, which "
                    "ensemble.params varies per member; watch a joint angle instead"
                )
        if self.ensemble is not None and isinstance(self.ensemble.t_eval, list):
            _check_times(self.ensemble.t_eval, self.solver.t_span, "ensemble.t_eval")
        return self


# --- building the problem -------------------------------------------------------------------


def torque_table(cfg: ArmConfig, base_dir: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The torque as a time grid (N,) and a 2 x N table (:mod:`workbench.data.torques`)."""
    try:
        return torques.torque_table(cfg.torque, cfg.solver.t_span, base_dir)
    except TableError as exc:  # only a torque file raises here; a table is checked when packed
        raise ProblemError("torque.path", str(exc)) from None


def packed_torque(cfg: ArmConfig, base_dir: Path | None = None) -> np.ndarray:
    """The configured torque as a packed interpolation table, checked against ``solver.t_span``.

    Parameters
    ----------
    cfg : ArmConfig
        The experiment.
    base_dir : Path, optional
        The config file's folder, for a relative ``torque.path``.

    Returns
    -------
    ndarray of float64, 1-D
        The table as :func:`workbench.interpolate.pack_table` packs it, the form the compiled
        right-hand side reads.

    Raises
    ------
    ProblemError
        On ``torque.path`` for a file that is not a two-channel table; on ``torque`` for a table
        that cannot be packed, or (with ``extrapolate: error``) that does not cover the span.
    """
    t, values = torque_table(cfg, base_dir)
    try:
        packed = pack_table(t, values, kind=cfg.torque.interpolation)
    except TableError as exc:
        raise ProblemError("torque", str(exc)) from None
    lo, hi = table_range(packed)
    a, b = sorted(cfg.solver.t_span)
    if cfg.torque.extrapolate == "error" and (a < lo or b > hi):
        raise ProblemError(
            "torque",
            f"the table covers [{lo:g}, {hi:g}] s but solver.t_span is [{a:g}, {b:g}] s; "
            "extend the table or set torque.extrapolate: hold to hold its end values",
        )
    return packed


def initial_state(q_deg, qdot_deg_s) -> np.ndarray:
    """The state vector a solve starts from.

    Parameters
    ----------
    q_deg : array_like, shape (2,)
        Joint angles in degrees.
    qdot_deg_s : array_like, shape (2,)
        Angular velocities in deg/s.

    Returns
    -------
    ndarray of float64, shape (5,)
        ``[q1, q2, q1', q2', W]`` in rad and rad/s, the work ``W`` starting at 0.
    """
    q = np.deg2rad(np.asarray(q_deg, dtype=float))
    qd = np.deg2rad(np.asarray(qdot_deg_s, dtype=float))
    return np.concatenate([q, qd, [0.0]])


def _atol(cfg: ArmConfig):
    atol = cfg.solver.atol
    if isinstance(atol, list) and len(atol) == 4:
        return np.append(atol, atol[-1])  # the work state takes the last velocity's tolerance
    return atol


def event_functions(cfg: ArmConfig) -> list | None:
    """The configured events as compiled functions with scipy's ``direction`` and
    ``terminal`` attributes set (the same functions serve every run with these values)."""
    if not cfg.events:
        return None
    functions = []
    for event in cfg.events:
        fn, direction, terminal = event.function(cfg.arm.L1, cfg.arm.L2)
        fn.direction, fn.terminal = direction, terminal
        functions.append(fn)
    return functions


def check(cfg: ArmConfig, base_dir: Path | None = None) -> None:
    """Refuse a run whose arrays would not fit in memory, then build the torque table once,
    so that file and range problems surface before a run."""
    _check_memory(cfg)
    packed_torque(cfg, base_dir)


def _count(spec) -> int:
    return spec if isinstance(spec, int) else len(spec)


def _check_memory(cfg: ArmConfig) -> None:
    """The big arrays of an arm run, estimated before any is made: the torque table (grid,
    values and slopes or spline coefficients), and the outputs (an ensemble's states at its
    output times, its members and events; a single solve's samples)."""
    n, e = model.N_STATE, len(cfg.events)
    tq = cfg.torque
    samples = getattr(tq, "samples", 0) or 0
    torque = 8.0 * samples * (1 + 2 * 4 + 2)  # grid, cubic coefficients, the table itself
    if cfg.ensemble is not None:
        m, k = cfg.ensemble.size, _count(cfg.ensemble.t_eval)
        per_member = n * k + n + model.N_PARAMS + 4 + e * (1 + 2 * (1 + n))
        check_memory(
            "ensemble.size", torque + 8.0 * m * per_member,
            f"{m:,} members x {k:,} output times of {n} states",
        )  # fmt: skip
    elif cfg.solver.t_eval is not None:
        k = _count(cfg.solver.t_eval)
        check_memory("solver.t_eval", torque + 8.0 * 3 * n * k, f"{k:,} output times of {n} states")
    elif torque:
        check_memory("torque.samples", torque, f"a torque table of {samples:,} samples")


def is_batched(cfg: ArmConfig) -> bool:
    """Whether a run is an ensemble (solved as a batch, with a progress bar).

    Parameters
    ----------
    cfg : ArmConfig
        The experiment.

    Returns
    -------
    bool
        True when the config has an ``ensemble:`` section.
    """
    return cfg.ensemble is not None


# --- running -----------------------------------------------------------------------------------


def run(cfg: ArmConfig, target: str, progress=None, base_dir: Path | None = None) -> Outcome:
    """Run an arm experiment: one trajectory, or the ensemble.

    Parameters
    ----------
    cfg : ArmConfig
        The experiment.
    target : str
        Where an ensemble runs (as :func:`workbench.integrate.solve_ivp_batch` takes it); one
        trajectory always runs on the CPU.
    progress : callable, optional
        ``progress(done, total, note=None)``, called between an ensemble's chunks.
    base_dir : Path, optional
        The config file's folder, for a relative ``torque.path``.

    Returns
    -------
    Outcome
        Status 0 when the solve (every member) reached the end or a terminal event; the figures
        (final angles, step counts, energy error, or the ensemble's statistics; the events'),
        the arrays for ``arrays.npz`` and the solve's time.
    """
    if cfg.ensemble is not None:
        return _run_ensemble(cfg, target, progress, base_dir)
    return _run_single(cfg, base_dir)


def solve_single(cfg: ArmConfig, base_dir: Path | None = None):
    """Integrate the configured trajectory; returns (result, params, packed torque)."""
    p = cfg.arm.vector()
    torque = packed_torque(cfg, base_dir)
    s = cfg.solver
    res = solve_ivp(
        model.ARM_RHS,
        s.t_span,
        initial_state(cfg.initial.q_deg, cfg.initial.qdot_deg_s),
        method=s.method,
        events=event_functions(cfg),
        t_eval=s.output_times(),
        rtol=s.rtol,
        atol=_atol(cfg),
        first_step=s.first_step,
        max_step=s.max_step,
        args=(p, torque),
    )
    return res, p, torque


def _run_single(cfg: ArmConfig, base_dir: Path | None) -> Outcome:
    from ..interpolate import evaluate

    t_start = time.perf_counter()
    res, p, torque = solve_single(cfg, base_dir)
    wall = time.perf_counter() - t_start
    y = res.y
    x, yy = model.end_effector(y[0], y[1], cfg.arm.L1, cfg.arm.L2)
    figures = {
        "q_final_deg": np.rad2deg(y[0:2, -1]).tolist() if y.shape[1] else None,
        "qdot_final_deg_s": np.rad2deg(y[2:4, -1]).tolist() if y.shape[1] else None,
        "nfev": res.nfev,
        "accepted_steps": res.naccept,
        "rejected_steps": res.nreject,
        "energy_error": model.energy_error(y, p) if y.shape[1] > 1 else 0.0,
        "samples": int(res.t.size),
    }
    arrays = {
        "t": res.t,
        "q": y[0:2],
        "qdot": y[2:4],
        "work": y[4],
        "tau": evaluate(torque, res.t),
        "end_effector": np.vstack([x, yy]),
    }
    if cfg.events:
        figures["method"] = cfg.solver.method
        figures["events"] = {}
        for k, event in enumerate(cfg.events):
            times = res.t_events[k]
            figures["events"][event.label()] = {
                "count": int(times.size),
                "first_t": float(times[0]) if times.size else None,
                "times": times[:20].tolist(),
            }
            arrays[f"event_{event.label()}_t"] = times
            arrays[f"event_{event.label()}_y"] = res.y_events[k][:, :4]
        figures["stopped_by_event"] = _stopping_event(cfg, res) if res.status == 1 else None
    warnings = []
    if res.success and figures["energy_error"] > 100 * cfg.solver.rtol:
        warnings.append(
            f"energy error {figures['energy_error']:.3g} exceeds 100 x rtol; tighten the tolerances"
        )
    return Outcome(
        status=0 if res.status == 1 else res.status,  # a terminal event is a success
        message=res.message,
        figures=figures,
        arrays=arrays,
        target="cpu",
        timings={"solve_s": wall},
        warnings=warnings,
    )


def _stopping_event(cfg: ArmConfig, res) -> str | None:
    """The label of the terminal event that ended the solve: of those that reached their
    count, the one whose last occurrence came last in the direction of time."""
    forward = cfg.solver.t_span[1] > cfg.solver.t_span[0]
    best, best_t = None, None
    for k, event in enumerate(cfg.events):
        times = res.t_events[k]
        if event.terminal and times.size >= int(event.terminal):
            t = times[-1] if forward else -times[-1]
            if best_t is None or t > best_t:
                best, best_t = event.label(), t
    return best


def ensemble_members(cfg: ArmConfig) -> tuple[np.ndarray, np.ndarray]:
    """Initial states (m, 5) and parameter rows (m, 7) of the ensemble, seeded."""
    ens = cfg.ensemble
    assert ens is not None
    dims = []  # (name, index, low, high)
    for name in ("q_deg", "qdot_deg_s"):
        r = getattr(ens, name)
        if r is not None:
            dims += [(name, i, r.low[i], r.high[i]) for i in range(2)]
    dims += [("params", key, lo, hi) for key, (lo, hi) in ens.params.items()]
    if ens.sampling == "grid" and dims:
        k = max(1, round(ens.size ** (1 / len(dims))))
        axes = [np.linspace(lo, hi, k) for (_, _, lo, hi) in dims]
        samples = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(dims))
    else:
        rng = np.random.default_rng(cfg.seed)
        lows = np.array([d[2] for d in dims])
        highs = np.array([d[3] for d in dims])
        samples = rng.uniform(lows, highs, size=(ens.size, len(dims)))
    m = samples.shape[0] if dims else ens.size
    q = np.tile(np.asarray(cfg.initial.q_deg, dtype=float), (m, 1))
    qd = np.tile(np.asarray(cfg.initial.qdot_deg_s, dtype=float), (m, 1))
    phys = {k: np.full(m, getattr(cfg.arm, k)) for k in ("L1", "I1", "I2", "M2", "D2")}
    for j, (name, idx, _, _) in enumerate(dims):
        if name == "q_deg":
            q[:, idx] = samples[:, j]
        elif name == "qdot_deg_s":
            qd[:, idx] = samples[:, j]
        else:
            phys[idx] = samples[:, j]
    y0s = np.column_stack([np.deg2rad(q), np.deg2rad(qd), np.zeros(m)])
    a1, a2, a3 = model.inertia_params(phys["I1"], phys["I2"], phys["M2"], phys["L1"], phys["D2"])
    bad = ~model.mass_matrix_ok(phys["I1"], phys["I2"], phys["M2"], phys["L1"], phys["D2"])
    if bad.any():
        raise ProblemError(
            "ensemble.params",
            f"{int(bad.sum())} of {m} members have a mass matrix that is not positive definite "
            f"(first: member {int(np.argmax(bad))}); {model.MASS_MATRIX_RULE}: narrow the ranges",
        )
    B = np.asarray(cfg.arm.B, dtype=float)
    params = np.column_stack([a1, a2, a3] + [np.full(m, b) for b in B.ravel()])
    return y0s, params


def _run_ensemble(cfg: ArmConfig, target: str, progress, base_dir: Path | None) -> Outcome:
    ens = cfg.ensemble
    torque = packed_torque(cfg, base_dir)
    y0s, params = ensemble_members(cfg)
    t_eval = cfg.solver.output_times(ens.t_eval)
    s = cfg.solver
    t_start = time.perf_counter()
    res = solve_ivp_batch(
        model.ARM_RHS,
        s.t_span,
        y0s,
        params=params,
        args=(torque,),
        t_eval=t_eval,
        rtol=s.rtol,
        atol=_atol(cfg),
        first_step=s.first_step,
        max_step=s.max_step,
        method=s.method,
        events=event_functions(cfg),
        target=target,
        progress=progress,
    )
    wall = time.perf_counter() - t_start
    ok = res.status == 0  # reached the end (a terminal event stops a member early)
    failed = res.failed
    q_final = np.rad2deg(res.y[ok, 0:2, -1])
    figures = {
        "members": int(y0s.shape[0]),
        "failed": int(failed.size),
        "failed_members": failed[:100].tolist(),
        "nfev_mean": float(res.nfev.mean()),
        "nfev_max": int(res.nfev.max()),
        "rejected_steps_mean": float(res.nreject.mean()),
        "q_final_mean_deg": q_final.mean(axis=0).tolist() if q_final.size else None,
        "q_final_std_deg": q_final.std(axis=0).tolist() if q_final.size else None,
        "members_per_s": float(y0s.shape[0] / wall) if wall > 0 else None,
    }
    if cfg.events:
        figures["method"] = s.method
        figures["events"] = {}
        for k, event in enumerate(cfg.events):
            first = res.t_events[:, k, 0]
            reached = np.isfinite(first)
            times = first[reached]
            figures["events"][event.label()] = {
                "members_reached": int(reached.sum()),
                "first_t_min": float(times.min()) if times.size else None,
                "first_t_median": float(np.median(times)) if times.size else None,
                "first_t_mean": float(times.mean()) if times.size else None,
                "first_t_max": float(times.max()) if times.size else None,
            }
        figures["stopped_by_events"] = int((res.status == 1).sum())
    status = 0 if failed.size == 0 else 1
    message = (
        f"all {y0s.shape[0]} members reached the end of the interval or a terminal event"
        if status == 0 and cfg.events
        else f"all {y0s.shape[0]} members reached the end of the interval"
        if status == 0
        else f"{failed.size} of {y0s.shape[0]} members failed (first: member {failed[0]}: "
        f"{res.messages[failed[0]]})"
    )
    arrays = {
        "t": t_eval,
        "y0": y0s[:, :4],
        "params": params,
        "q": res.y[:, 0:2, :],
        "qdot": res.y[:, 2:4, :],
        "status": res.status,
        "nfev": res.nfev,
        "naccept": res.naccept,
        "nreject": res.nreject,
    }
    for k, event in enumerate(cfg.events):
        arrays[f"event_{event.label()}_first_t"] = res.t_events[:, k, 0]
        arrays[f"event_{event.label()}_count"] = res.event_counts[:, k]
    return Outcome(
        status=status,
        message=message,
        figures=figures,
        arrays=arrays,
        target=res.target,
        timings={"solve_s": wall},
    )


# --- compare and plot ---------------------------------------------------------------------------


def reference_rhs(cfg: ArmConfig, base_dir: Path | None = None):
    """The numpy right-hand side ``f(t, y)`` that scipy users would write for this config:
    ``np.interp`` for a linear table (the seed's form), scipy's ``CubicSpline`` for a cubic one.
    With ``extrapolate: hold`` the time is clamped to the table, as our kernel does."""
    from ..models import reference

    t_grid, table = torque_table(cfg, base_dir)
    p = cfg.arm.vector()
    if cfg.torque.interpolation == "linear":
        return lambda t, y: reference.arm_rhs_interp(t, y, t_grid, table, p)
    from scipy.interpolate import CubicSpline

    spline = CubicSpline(t_grid, table, axis=1)
    lo, hi = t_grid[0], t_grid[-1]
    return lambda t, y: reference.arm_dynamics(y, spline(min(max(t, lo), hi)), p)


def compare(cfg: ArmConfig, base_dir: Path | None = None, repeats: int = 5) -> Comparison:
    """Our solver against ``scipy.integrate.solve_ivp`` with the same method and events, on a
    numpy right-hand side and events written as scipy users write them.

    Both are timed on the same prepared inputs (the torque table already built), medians after
    warm-up. Differences are reported per state relative to that state's largest magnitude.
    """
    from scipy.integrate import solve_ivp as scipy_solve_ivp

    if cfg.ensemble is not None:
        cfg = cfg.model_copy(update={"ensemble": None})
    p, torque = cfg.arm.vector(), packed_torque(cfg, base_dir)
    s = cfg.solver
    y0 = initial_state(cfg.initial.q_deg, cfg.initial.qdot_deg_s)
    kw = dict(rtol=s.rtol, atol=_atol(cfg), first_step=s.first_step, max_step=s.max_step)
    t_eval = s.output_times()
    fun = reference_rhs(cfg, base_dir)
    events = event_functions(cfg)
    ref_events = [e.reference(cfg.arm.L1, cfg.arm.L2) for e in cfg.events] or None

    def ours():
        return solve_ivp(
            model.ARM_RHS, s.t_span, y0, method=s.method, t_eval=t_eval, args=(p, torque),
            events=events, **kw,
        )  # fmt: skip

    def reference():
        return scipy_solve_ivp(
            fun, s.t_span, y0, method=s.method, t_eval=t_eval, events=ref_events, **kw
        )

    mine, ref = ours(), reference()
    t_ours = median_time(ours, repeats)
    t_ref = median_time(reference, max(1, repeats // 2))
    # scipy reports no step counts: its dense output has one piece per accepted step
    dense = scipy_solve_ivp(
        fun, s.t_span, y0, method=s.method, dense_output=True, events=ref_events, **kw
    )
    ref_steps = len(dense.sol.interpolants)
    k = min(mine.y.shape[1], ref.y.shape[1])
    diff = np.abs(mine.y[:, :k] - ref.y[:, :k])
    scale = np.maximum(np.abs(ref.y[:, :k]).max(axis=1, keepdims=True), 1e-300)
    rows = [
        ComparisonRow("method", s.method, s.method),
        ComparisonRow("status", mine.status, ref.status),
        ComparisonRow("nfev", mine.nfev, ref.nfev),
        ComparisonRow("accepted steps", mine.naccept, ref_steps),
        ComparisonRow("output samples", mine.t.size, ref.t.size),
        ComparisonRow(
            "final q (deg)",
            np.rad2deg(mine.y[:2, -1]).round(6).tolist(),
            np.rad2deg(ref.y[:2, -1]).round(6).tolist(),
        ),
    ]
    for j, event in enumerate(cfg.events):
        ours_t, ref_t = mine.t_events[j], ref.t_events[j]
        rows.append(ComparisonRow(f"{event.label()}: count", ours_t.size, ref_t.size))
        rows.append(
            ComparisonRow(
                f"{event.label()}: first t (s)",
                round(float(ours_t[0]), 12) if ours_t.size else None,
                round(float(ref_t[0]), 12) if ref_t.size else None,
            )
        )
    return Comparison(
        rows=rows,
        max_abs_diff=float(diff.max()) if diff.size else 0.0,
        max_rel_diff=float((diff / scale).max()) if diff.size else 0.0,
        ours_seconds=t_ours,
        reference_seconds=t_ref,
    )


def plot(run, path: Path) -> None:
    """Joint angles, velocities and torques against time, and the end-effector path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a = run.arrays
    t = a["t"]
    firsts = {k[6:-8]: v for k, v in a.items() if k.startswith("event_") and k.endswith("_first_t")}
    if a["q"].ndim == 3:  # ensemble: show every member's angles on its coarse grid
        fig, axes = plt.subplots(1, 3 if firsts else 2, figsize=(16 if firsts else 11, 4))
        shown = a["q"][:200]
        for i, ax in enumerate(axes[:2]):
            ax.plot(t, np.rad2deg(shown[:, i, :]).T, color="C0", alpha=0.15, lw=0.8)
            ax.set(
                xlabel="t (s)",
                ylabel=f"q{i + 1} (deg)",
                title=f"joint {i + 1}, {len(shown)} of {a['q'].shape[0]} members",
            )
        if firsts:  # when each member first met each event
            for c, (label, first) in enumerate(firsts.items()):
                reached = first[np.isfinite(first)]
                axes[2].hist(reached, bins=30, color=f"C{c}", alpha=0.6,
                             label=f"{label} ({reached.size} of {first.size})")  # fmt: skip
            axes[2].set(xlabel="first event time (s)", ylabel="members", title="events")
            axes[2].legend(loc="best", fontsize=8)
    else:
        fig, axes = plt.subplots(2, 2, figsize=(11, 7))
        for i in range(2):
            axes[0, 0].plot(t, np.rad2deg(a["q"][i]), label=f"q{i + 1}")
            axes[0, 1].plot(t, np.rad2deg(a["qdot"][i]), label=f"q{i + 1}'")
            axes[1, 0].plot(t, a["tau"][i], label=f"tau{i + 1}")
        axes[0, 0].set(xlabel="t (s)", ylabel="angle (deg)")
        axes[0, 1].set(xlabel="t (s)", ylabel="angular velocity (deg/s)")
        axes[1, 0].set(xlabel="t (s)", ylabel="torque (N m)")
        ee = a["end_effector"]
        axes[1, 1].plot(ee[0], ee[1])
        axes[1, 1].plot(ee[0, 0], ee[1, 0], "o", label="start")
        axes[1, 1].set(xlabel="x (m)", ylabel="y (m)", aspect="equal", title="end effector")
        for c, key in enumerate(k for k in a if k.startswith("event_") and k.endswith("_t")):
            times, states = a[key], a[key[:-2] + "_y"]
            label = key[6:-2]
            for i in range(2):  # the crossings, marked on the angles and velocities
                axes[0, 0].plot(times, np.rad2deg(states[:, i]), "x", color=f"C{c + 3}",
                                label=label if i == 0 else None)  # fmt: skip
                axes[0, 1].plot(times, np.rad2deg(states[:, 2 + i]), "x", color=f"C{c + 3}")
            for ax in (axes[0, 0], axes[0, 1], axes[1, 0]):
                for te in times:
                    ax.axvline(te, color=f"C{c + 3}", lw=0.6, ls=":")
        for ax in axes.flat:
            ax.legend(loc="best", fontsize=8)
    fig.suptitle(run.config.get("name", "arm"))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def shrink(c: dict) -> None:
    """A warm-up run: a thousandth of the time span, two outputs, at most 8 members; float
    options only (the same kernels), so that no combination makes the warm-up long."""
    s = c["solver"]
    t0, t1 = s["t_span"]
    s["t_span"] = [t0, t0 + (t1 - t0) * 1e-3]
    s["t_eval"] = 2
    s["first_step"] = None
    s.update(rtol=1e-3, atol=1e-6, max_step=float("inf"))
    if c.get("ensemble"):
        c["ensemble"]["size"] = min(int(c["ensemble"]["size"]), 8)


EXPERIMENT = Experiment(
    kind="arm",
    summary="two-link arm driven by a tabulated torque (RK45, RK23 or DOP853; events; ensembles)",
    config_model=ArmConfig,
    run=run,
    compare=compare,
    plot=plot,
    is_batched=is_batched,
    check=check,
    shrink=shrink,
)
