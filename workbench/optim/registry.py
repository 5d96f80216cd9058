"""The optimizers' update rules: one :class:`UpdateRule` per optimizer kind, in :data:`RULES`.

An entry holds everything the package knows about an update rule:

* ``kind`` (its name in configs and kernel tables) and ``title`` (its class name);
* ``element``: the element function of :mod:`._kernels` (``*_at(i, p, g, ...)``), the one
  place its formulas are written; the cpu and parallel loops (:mod:`._loop`, instantiated by
  :func:`._kernels.loop`) and the CUDA kernel (:mod:`._cuda`) are made from it;
* ``options``: the constructor's hyperparameters, in order, with defaults, checks and
  descriptions (:class:`Option`), which :class:`~workbench.optim.Optimizer` (its signature
  and the numpydoc Parameters section of its docstring) and the ``train`` config sections
  are made from;
* ``states``: the state arrays (:class:`State`): names, the option that switches each on, its
  initial value;
* ``scalars(hp, t)``: the per-step scalar arguments of the element function, computed in
  Python floats from the hyperparameters ``hp`` (a mapping) and the step count t (1, 2, ...);
  ``flags(hp)``: its run-time flags (they only choose arithmetic); ``loop_flags``: its
  compile-time flags, its last arguments (each loop is specialised on them: see
  :mod:`._kernels`), named ``"<state>"`` (the state array is on) or ``"<state>:fresh"`` (on,
  and no step has written it yet);
* ``reference``: the plain-numpy class of :mod:`.reference`, with the same arguments.

The element function's arguments are ``(i, p, g, *state arrays, *scalars, *flags,
*loop flags)``; a state array that is off is passed as a zero-length placeholder.

Adding an optimizer: its element function in :mod:`._kernels`, its numpy class in
:mod:`.reference`, an entry here, and a class in :mod:`.optimizers` (``class X(Optimizer):
rule = RULES["x"]``, the docstring its summary and formulas: the Parameters and Attributes
sections are made from the options); the kernels, the ``train`` config section and ``build``
follow.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _kernels, reference

__all__ = ["REQUIRED", "RULES", "Option", "State", "UnknownOptimizer", "UpdateRule", "rule"]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""The default of an option the caller must give (SGD's ``lr``)."""


class UnknownOptimizer(ValueError):
    """An optimizer kind that is not in :data:`RULES`."""


@dataclass(frozen=True)
class Option:
    """A hyperparameter: its name, default, and the check of its value.

    ``type`` is ``float`` (a number in ``[low, high]``, or ``[low, high)`` with
    ``open_high``), ``bool`` or ``"pair"`` (two such numbers, Adam's ``betas``).
    ``config`` holds the pydantic ``Field`` bounds of its ``train`` config key (stricter than
    the constructor's: a config's ``lr`` must be > 0), ``config_default`` the config's
    default where it differs, ``in_config=False`` leaves it out of the config section.
    ``description``: what it means, one or two sentences (every option of a rule has one: the
    optimizer class's Parameters section and the config key's description are made from
    it; its type, default and bounds are added there from the other fields)."""

    name: str
    default: Any = REQUIRED
    type: Any = float
    low: float = 0.0
    high: float = math.inf
    open_high: bool = False
    config: Mapping = field(default_factory=dict)
    config_default: Any = REQUIRED
    in_config: bool = True
    description: str | None = None

    def check(self, value):
        """``value`` checked (``ValueError``/``TypeError`` naming the option) and normalised
        (bools as bool, pairs as tuples; numbers are kept as given)."""
        if self.type is bool:
            return bool(value)
        if self.type == "pair":
            try:
                pair = tuple(value)
            except TypeError:
                pair = ()
            if len(pair) != 2:
                raise ValueError(f"{self.name} must be two numbers, got {value!r}")
            for j, v in enumerate(pair):
                _real(f"{self.name}[{j}]", v, self.low, self.high, self.open_high)
            return pair
        _real(self.name, value, self.low, self.high, self.open_high)
        return value


def _real(name: str, value, low: float, high: float, open_high: bool):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if not (low <= v <= high) or (open_high and v == high) or math.isnan(v):
        upper = f"< {high:g}" if open_high else f"<= {high:g}"
        bound = f"{low:g} <= {name} {upper}" if math.isfinite(high) else f"{name} >= {low:g}"
        raise ValueError(f"invalid {name} {value!r}: need {bound}")
    return v


@dataclass(frozen=True)
class State:
    """A state array, shaped like its parameter.

    ``when``: the option that switches it on (on when the option's value is > 0, or true);
    None: always on. ``initial``: its value when made, a number or the name of an option.
    ``lazy``: torch makes it from the first step's gradient, so a step's ``"<name>:fresh"``
    loop flag says whether a step has written it yet, and :meth:`state_dict` leaves it out
    until one has (SGD's momentum buffer)."""

    name: str
    when: str | None = None
    initial: float | str = 0.0
    lazy: bool = False

    def on(self, hp: Mapping) -> bool:
        """Whether the state array exists under these hyperparameters.

        Parameters
        ----------
        hp : mapping
            The hyperparameters by name.

        Returns
        -------
        bool
            True when ``when`` is None or its option is > 0 (or true).
        """
        return self.when is None or float(hp[self.when]) > 0

    def initial_value(self, hp: Mapping) -> float:
        """The value the state array is filled with when made.

        Parameters
        ----------
        hp : mapping
            The hyperparameters by name.

        Returns
        -------
        float
            ``initial``, or the value of the option it names.
        """
        return float(hp[self.initial]) if isinstance(self.initial, str) else float(self.initial)


@dataclass(frozen=True)
class UpdateRule:
    """An optimizer's update rule (see the module's docstring)."""

    kind: str
    title: str
    element: Any
    options: tuple[Option, ...]
    states: tuple[State, ...]
    scalars: Callable[[Mapping, int], tuple[float, ...]]
    flags: Callable[[Mapping], tuple[bool, ...]]
    loop_flags: tuple[str, ...]
    reference: type
    check: Callable[[Mapping], None] | None = None

    def __post_init__(self):
        state_names = {s.name for s in self.states}
        for flag in self.loop_flags:
            state, _, what = flag.partition(":")
            if state not in state_names or what not in ("", "fresh"):
                raise ValueError(f"{self.kind}: loop flag {flag!r} names no state array")
        if len(self.loop_flags) > 2:
            raise ValueError(f"{self.kind}: at most 2 loop flags (see workbench.optim._loop)")
        for s in self.states:
            if s.when is not None and s.when not in self.option_names:
                raise ValueError(f"{self.kind}: state {s.name!r} is switched by no option")
        undescribed = [o.name for o in self.options if not o.description]
        if undescribed:
            raise ValueError(
                f"{self.kind}: options without a description (the class's docstring lists "
                f"them): {', '.join(undescribed)}"
            )

    @property
    def option_names(self) -> tuple[str, ...]:
        """The names of the options, in the constructor's order."""
        return tuple(o.name for o in self.options)

    @property
    def n_element_args(self) -> int:
        """The element function's arguments after ``(i, p, g)`` and before its loop flags."""
        py = getattr(self.element, "py_func", self.element)
        return len(inspect.signature(py).parameters) - 3 - len(self.loop_flags)

    def validate(self, hp: Mapping) -> dict:
        """The hyperparameters checked, normalised, by name (each option's check, then the
        rule's own check of their combination)."""
        out = {o.name: o.check(hp[o.name]) for o in self.options}
        if self.check is not None:
            self.check(out)
        return out

    def loop_flag_values(
        self, on: Mapping[str, bool], fresh: Callable[[str], bool]
    ) -> tuple[bool, ...]:
        """The loop flags, given which state arrays are ``on`` (by name) and ``fresh(state)``:
        whether no step has written that (lazy) state array of the block yet."""
        values = []
        for flag in self.loop_flags:
            state, _, what = flag.partition(":")
            values.append(on[state] and fresh(state) if what else on[state])
        return tuple(values)


# ------------------------------------------------------------------------------ the rules


def _nonzero(x) -> bool:
    return float(x) != 0


def _rmsprop_scalars(hp, t):
    rho, eps = float(hp["rho"]), float(hp["eps"])
    eps_in, eps_out = (eps, 0.0) if hp["eps_in_sqrt"] else (0.0, eps)
    momentum, wd = float(hp["momentum"]), float(hp["weight_decay"])
    return (float(hp["lr"]), rho, 1.0 - rho, eps_in, eps_out, momentum, wd)


def _sgd_scalars(hp, t):
    return (
        float(hp["lr"]),
        float(hp["momentum"]),
        1.0 - float(hp["dampening"]),
        float(hp["weight_decay"]),
    )


def _sgd_check(hp):
    if hp["nesterov"] and (float(hp["momentum"]) <= 0 or float(hp["dampening"]) != 0):
        raise ValueError("nesterov momentum requires a momentum > 0 and zero dampening")


def _adam_scalars(hp, t):
    beta1, beta2 = (float(b) for b in hp["betas"])
    return (
        float(hp["lr"]) / (1.0 - beta1**t),
        beta1,
        1.0 - beta1,
        beta2,
        1.0 - beta2,
        math.sqrt(1.0 - beta2**t),
        float(hp["eps"]),
        float(hp["weight_decay"]),
    )


def _adagrad_scalars(hp, t):
    clr = float(hp["lr"]) / (1.0 + (t - 1) * float(hp["lr_decay"]))
    return (clr, float(hp["eps"]), float(hp["weight_decay"]))


_LR = "The learning rate: the step size multiplying the update."
_WEIGHT_DECAY = "L2 penalty: ``weight_decay * p`` is added to the gradient before the update."
_POSITIVE = {"gt": 0}
_NONNEGATIVE = {"ge": 0}
_UNIT = {"ge": 0, "lt": 1}

RULES: dict[str, UpdateRule] = {
    r.kind: r
    for r in (
        UpdateRule(
            kind="rmsprop",
            title="RMSprop",
            element=_kernels.rmsprop_at,
            options=(
                Option("lr", 1e-3, config=_POSITIVE, description=_LR),
                Option(
                    "rho",
                    0.9,
                    high=1.0,
                    config=_UNIT,
                    description="Decay rate of the running average of squared gradients "
                    "``square_avg`` (torch's ``alpha``, Theano's ``decay``).",
                ),
                Option(
                    "eps",
                    1e-6,
                    config=_POSITIVE,
                    description="Added to the average (inside the square root) or to its "
                    "square root (see ``eps_in_sqrt``), for numerical stability.",
                ),
                Option(
                    "eps_in_sqrt",
                    True,
                    bool,
                    description="True: Theano's ``sqrt(avg + eps)``; false: PyTorch's "
                    "``sqrt(avg) + eps``.",
                ),
                Option(
                    "centered",
                    False,
                    bool,
                    description="Divide by an estimate of the gradient's variance, "
                    "``square_avg - grad_avg**2``, instead of ``square_avg`` (keeps a "
                    "``grad_avg`` state array).",
                ),
                Option(
                    "momentum",
                    0.0,
                    config=_NONNEGATIVE,
                    description="Momentum factor; > 0 keeps a ``momentum_buffer`` state array.",
                ),
                Option("weight_decay", 0.0, config=_NONNEGATIVE, description=_WEIGHT_DECAY),
            ),
            states=(
                State("square_avg"),
                State("grad_avg", when="centered"),
                State("momentum_buffer", when="momentum"),
            ),
            scalars=_rmsprop_scalars,
            flags=lambda hp: (_nonzero(hp["weight_decay"]),),
            loop_flags=("grad_avg", "momentum_buffer"),
            reference=reference.NumpyRMSprop,
        ),
        UpdateRule(
            kind="sgd",
            title="SGD",
            element=_kernels.sgd_at,
            options=(
                Option("lr", REQUIRED, config=_POSITIVE, config_default=0.01, description=_LR),
                Option(
                    "momentum",
                    0.0,
                    config=_NONNEGATIVE,
                    description="Momentum factor; > 0 keeps a ``momentum_buffer`` state "
                    "array, set to the gradient at its first step.",
                ),
                Option(
                    "dampening",
                    0.0,
                    config={"ge": 0, "le": 1},
                    description="Dampening of momentum: after the first step the buffer adds "
                    "``(1 - dampening) * g``.",
                ),
                Option(
                    "nesterov",
                    False,
                    bool,
                    description="Nesterov momentum: the step is ``g + momentum * "
                    "momentum_buffer`` (needs momentum > 0 and zero dampening).",
                ),
                Option("weight_decay", 0.0, config=_NONNEGATIVE, description=_WEIGHT_DECAY),
            ),
            states=(State("momentum_buffer", when="momentum", lazy=True),),
            scalars=_sgd_scalars,
            flags=lambda hp: (_nonzero(hp["weight_decay"]), bool(hp["nesterov"])),
            loop_flags=("momentum_buffer", "momentum_buffer:fresh"),
            reference=reference.NumpySGD,
            check=_sgd_check,
        ),
        UpdateRule(
            kind="adam",
            title="Adam",
            element=_kernels.adam_at,
            options=(
                Option("lr", 1e-3, config=_POSITIVE, description=_LR),
                Option(
                    "betas",
                    (0.9, 0.999),
                    "pair",
                    high=1.0,
                    open_high=True,
                    config=_UNIT,
                    description="``(beta1, beta2)``: decay rates of the running averages of "
                    "the gradient (``exp_avg``) and of its square (``exp_avg_sq``).",
                ),
                Option(
                    "eps",
                    1e-8,
                    config=_POSITIVE,
                    description="Added to the bias-corrected square root of the second "
                    "moment, for numerical stability.",
                ),
                Option(
                    "weight_decay",
                    0.0,
                    config=_NONNEGATIVE,
                    description="L2 penalty: ``weight_decay * p`` is added to the gradient "
                    "(as torch's Adam; not AdamW's decoupled decay).",
                ),
                Option(
                    "amsgrad",
                    False,
                    bool,
                    in_config=False,
                    description="AMSGrad: divide by the running maximum of ``exp_avg_sq`` "
                    "(keeps a ``max_exp_avg_sq`` state array).",
                ),
            ),
            states=(State("exp_avg"), State("exp_avg_sq"), State("max_exp_avg_sq", "amsgrad")),
            scalars=_adam_scalars,
            flags=lambda hp: (_nonzero(hp["weight_decay"]),),
            loop_flags=("max_exp_avg_sq",),
            reference=reference.NumpyAdam,
        ),
        UpdateRule(
            kind="adagrad",
            title="Adagrad",
            element=_kernels.adagrad_at,
            options=(
                Option("lr", 1e-2, config=_POSITIVE, description=_LR),
                Option(
                    "lr_decay",
                    0.0,
                    config=_NONNEGATIVE,
                    description="Learning-rate decay: step t (1, 2, ...) uses ``lr / (1 + "
                    "(t - 1) * lr_decay)``.",
                ),
                Option("weight_decay", 0.0, config=_NONNEGATIVE, description=_WEIGHT_DECAY),
                Option(
                    "initial_accumulator_value",
                    0.0,
                    config=_NONNEGATIVE,
                    description="The starting value of ``sum``, the accumulated squared gradients.",
                ),
                Option(
                    "eps",
                    1e-10,
                    config=_POSITIVE,
                    description="Added to ``sqrt(sum)``, for numerical stability.",
                ),
            ),
            states=(State("sum", initial="initial_accumulator_value"),),
            scalars=_adagrad_scalars,
            flags=lambda hp: (_nonzero(hp["weight_decay"]),),
            loop_flags=(),
            reference=reference.NumpyAdagrad,
        ),
    )
}
"""The registered update rules, by kind."""


def rule(kind: str) -> UpdateRule:
    """The update rule ``kind``; :class:`UnknownOptimizer` (a ``ValueError``) if none is
    registered under that name."""
    found = RULES.get(kind) if isinstance(kind, str) else None
    if found is None:
        raise UnknownOptimizer(
            f"unknown optimizer kind {kind!r}; registered: {', '.join(sorted(RULES))}"
        )
    return found
