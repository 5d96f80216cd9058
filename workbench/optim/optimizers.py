"""Fused optimizers with persistent state: RMSprop (Theano's and PyTorch's forms), SGD, Adam,
Adagrad.

An optimizer owns named parameter blocks (the caller's numpy arrays, updated in place) and,
per block, its state arrays (zero-filled once, shaped like the block, carried across steps).
``step(grads)`` updates every block in one call: one kernel launch per block, each reading
every element of the parameter, gradient and state once and writing parameter and state once
(:mod:`._kernels`).

Each class is its update rule of :mod:`.registry` (``rule``): the constructor's arguments
are the rule's options, the state arrays its states, and a step launches the rule's kernel
with the arguments the rule computes. :func:`optimizer_class` finds a class by its kind.

Arithmetic: hyperparameters (and derived constants such as ``1 - rho``, ``lr / (1 -
beta1**t)``, computed in Python floats) are cast to the parameter's dtype before the kernel
runs, and all the arithmetic is in that dtype: float32 parameters keep float32 state and are
updated in float32, float64 in float64. The formulas, and the order of operations, are
torch.optim's (single-tensor path); Theano's RMSprop puts ``eps`` inside the square root.

Targets: ``cpu`` (one core), ``parallel`` (``prange`` over numba's threads), ``auto`` (per
block: parallel from :data:`PARALLEL_MIN_SIZE` elements, else cpu) and ``cuda`` (only when
asked: parameters and state live on the GPU between steps; :meth:`Optimizer.params_to_host`
copies the parameters back into the caller's arrays).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping

import numpy as np

from ..targets import TARGETS, TargetError, choose_target
from . import _kernels
from .registry import REQUIRED, RULES, Option, UpdateRule, rule

__all__ = [
    "PARALLEL_MIN_SIZE",
    "SGD",
    "Adagrad",
    "Adam",
    "Optimizer",
    "RMSprop",
    "optimizer_class",
]

PARALLEL_MIN_SIZE = 100_000
"""Under ``target="auto"``, blocks with at least this many elements use the parallel kernels."""

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_EMPTY = {dt: np.zeros(0, dtype=dt) for dt in _DTYPES}  # placeholders for unused state


def _resolve_target(target) -> str:
    name = str(target).strip().lower()
    if name not in TARGETS:
        raise TargetError(f"unknown target {target!r}; accepted: {', '.join(TARGETS)}")
    if name == "cuda":
        choose_target("cuda", batched=True)  # raises TargetError when no GPU is usable
    return name


def _looks_like_device_array(obj) -> bool:
    """A CUDA device array, recognised without importing numba.cuda."""
    if isinstance(obj, np.ndarray):
        return False
    return hasattr(obj, "__cuda_array_interface__") or type(obj).__name__ == "FakeCUDAArray"


def _check_params(params) -> dict[str, np.ndarray]:
    if not isinstance(params, Mapping):
        raise TypeError(
            "params must be a mapping of names to numpy arrays (e.g. {'W': W, 'b': b}), "
            f"got {type(params).__name__}"
        )
    if not params:
        raise ValueError("params is empty: give at least one named array")
    out: dict[str, np.ndarray] = {}
    for name, p in params.items():
        if not isinstance(name, str):
            raise TypeError(f"parameter names must be strings, got {name!r}")
        if not isinstance(p, np.ndarray):
            raise TypeError(f"param {name!r} must be a numpy array, got {type(p).__name__}")
        if p.dtype not in _DTYPES:
            raise ValueError(f"param {name!r} has dtype {p.dtype}; accepted: float32, float64")
        if not p.flags.c_contiguous:
            raise ValueError(
                f"param {name!r} is not C-contiguous (a transposed or sliced view?); the "
                "optimizer updates its arrays in place, so give it np.ascontiguousarray(...) "
                "and keep using that array"
            )
        if not p.flags.writeable:
            raise ValueError(f"param {name!r} is read-only; the optimizer updates it in place")
        for other, q in out.items():
            if p.size and q.size and np.may_share_memory(p, q):
                raise ValueError(f"params {other!r} and {name!r} share memory")
        out[name] = p
    return out


def _option_type(o: Option) -> str:
    """An option's numpydoc type, with its default (none for a required one)."""
    kind = {bool: "bool", float: "float", "pair": "tuple of float"}[o.type]
    if o.default is REQUIRED:
        return kind
    return f"{kind}, default {o.default!r}"


def _bounds(o: Option) -> list[str]:
    """The values the constructor accepts, as the words of a sentence (none for a bool); a
    bound is one word, never broken across lines."""
    if o.type is bool:
        return []
    if math.isfinite(o.high):
        values = ["in", f"[{o.low:g}, {o.high:g}{')' if o.open_high else ']'}."]
    else:
        values = [f">= {o.low:g}."]
    return ["Each", "must", "be", *values] if o.type == "pair" else ["Must", "be", *values]


def _wrap(words: list[str], width: int = 92, indent: str = "    ") -> list[str]:
    """``words`` as indented lines of at most ``width`` characters (a word is never split)."""
    lines, line = [], indent
    for word in words:
        if line.strip() and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = indent
        line += (" " if line.strip() else "") + word
    return [*lines, line]


def _numpydoc(summary: str | None, r: UpdateRule) -> str:
    """A class docstring for update rule ``r``: ``summary`` (the class's own docstring: its
    summary line and formulas) followed by numpydoc Parameters and Attributes sections made
    from the rule's options, so that they list exactly the constructor's arguments."""
    summary = inspect.cleandoc(summary) if summary else f"The {r.title} optimizer."
    if "\nParameters\n---" in summary or "\nAttributes\n---" in summary:
        raise TypeError(
            f"{r.title}: write only the summary and formulas in the docstring; the Parameters "
            "and Attributes sections are made from the update rule's options"
        )
    lines = [
        summary,
        "",
        "Parameters",
        "----------",
        "params : mapping of str to numpy.ndarray",
        "    The parameter blocks by name: float32 or float64 arrays of any shape (0-d and",
        "    empty included; the blocks may mix the two dtypes), C-contiguous, writeable and",
        "    not sharing memory. They are updated in place by :meth:`step` (on the cuda target",
        "    the copies on the GPU are; :meth:`params_to_host` copies them back).",
    ]
    for o in r.options:
        text = o.description.strip()
        if o.default is REQUIRED:
            text = "Required. " + text
        lines.append(f"{o.name} : {_option_type(o)}")
        lines += _wrap(text.split() + _bounds(o))
    lines += [
        "target : {'auto', 'cpu', 'parallel', 'cuda'}, default 'auto'",
        "    Where the kernels run: ``'cpu'`` (one core), ``'parallel'`` (numba's threads),",
        "    ``'auto'`` (per block: parallel from :data:`PARALLEL_MIN_SIZE` elements, else cpu)",
        "    or ``'cuda'`` (parameters and state stay on the GPU; a ``TargetError`` when no GPU",
        "    is usable).",
        "",
        "Attributes",
        "----------",
        "params : dict of str to numpy.ndarray",
        "    The caller's arrays, by name.",
        "target : str",
        "    The target asked for (lower case).",
        "block_targets : dict of str to str",
        "    The kernel each block runs on (``'cpu'``, ``'parallel'`` or ``'cuda'``).",
        "step_count : int",
        "    The steps taken.",
        "state : dict of str to dict of str to array",
        "    The state arrays by block and name, shaped like the params (live views: numpy",
        "    arrays, or device arrays on the cuda target).",
        f"{', '.join(r.option_names)}",
        "    The hyperparameters (as in Parameters); they may be changed between steps and are",
        "    checked again at the next :meth:`step`.",
    ]
    return "\n".join(lines) + "\n"


class Optimizer:
    """The machinery shared by the optimizers: a subclass is its update rule (``rule``, an
    entry of :data:`.registry.RULES`) and a docstring (its summary and formulas; the numpydoc
    Parameters and Attributes sections are added from the rule's options).

    ``Cls(params, *options, target="auto")``: the options are the rule's, in its order, with
    its defaults (``inspect.signature(Cls)`` shows them).

    Attributes: ``params`` (the caller's arrays, by name), ``target``, ``block_targets`` (the
    kernel each block runs on), ``step_count`` (steps taken), ``state`` (the state arrays by
    block and name: numpy arrays, or device arrays on the cuda target) and the
    hyperparameters, which may be changed between steps.
    """

    rule: UpdateRule | None = None
    kind = ""  # the kernel family: the rule's kind
    hyperparameters: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        r = cls.__dict__.get("rule")
        if r is None:
            return
        cls.kind = r.kind
        cls.hyperparameters = r.option_names
        P = inspect.Parameter
        parameters = [P("params", P.POSITIONAL_OR_KEYWORD)]
        parameters += [
            P(
                o.name,
                P.POSITIONAL_OR_KEYWORD,
                default=P.empty if o.default is REQUIRED else o.default,
            )
            for o in r.options
        ]
        parameters.append(P("target", P.POSITIONAL_OR_KEYWORD, default="auto"))
        cls.__signature__ = inspect.Signature(parameters)
        cls.__doc__ = _numpydoc(cls.__dict__.get("__doc__"), r)
        _CLASSES[r.kind] = cls

    def __init__(self, *args, **kwargs):
        if self.rule is None:
            raise TypeError("Optimizer is abstract: use RMSprop, SGD, Adam, Adagrad, ...")
        try:
            bound = inspect.signature(type(self)).bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{type(self).__name__}(): {exc}") from None
        bound.apply_defaults()
        values = dict(bound.arguments)
        params, target = values.pop("params"), values.pop("target")
        for h, v in self.rule.validate(values).items():
            setattr(self, h, v)
        self._fresh: set[tuple[str, str]] = set()  # (block, lazy state) no step has written
        self.params = _check_params(params)
        self.target = _resolve_target(target)
        self.block_targets = {name: self._block_target(p.size) for name, p in self.params.items()}
        self.step_count = 0
        self._cuda = None
        if self.target == "cuda":
            from . import _cuda

            self._cuda = _cuda
            self._d_params = {n: _cuda.to_device(p.reshape(-1)) for n, p in self.params.items()}
            self._d_grads: dict = {}
        self._state: dict[str, dict] = {name: {} for name in self.params}
        self._kernels = {name: self._kernel(name) for name in self.params}
        self._dtypes = {p.dtype for p in self.params.values()}
        self._flat_params = {
            n: self._d_params[n] if self._cuda is not None else p.reshape(-1)
            for n, p in self.params.items()
        }
        self._configure()

    # ------------------------------------------------------------------ the update rule
    def _configure(self) -> None:
        """What the hyperparameters decide: they are checked, the state arrays they need are
        made, and the flags and the arrays each block passes are chosen. Runs when they have
        changed since the last step (the key is their objects), not at every step."""
        for h, v in self.rule.validate(self.hyperparameter_values()).items():
            setattr(self, h, v)  # checked and normalised (pairs as tuples, bools as bool)
        self._ensure_state()
        hp = self.hyperparameter_values()
        rule = self.rule
        self._hp = hp
        self._flags = rule.flags(hp)
        self._on = {s.name: s.on(hp) for s in rule.states}
        self._arrays = [s.name if self._on[s.name] else None for s in rule.states]  # None: off
        self._lazy_on = [s.name for s in rule.states if s.lazy and self._on[s.name]]
        # the loop flags once no lazy state array is fresh (always, past the first step)
        self._settled_loop_flags = rule.loop_flag_values(self._on, lambda state: False)
        # each block's kernel, parameter and state arguments (a placeholder for a state
        # array that is off), ready for the steps until the hyperparameters change
        self._blocks = {}
        for name, p in self._flat_params.items():
            st, empty = self._state[name], self._empty(name, p)
            arrays = tuple(st[key] if key else empty for key in self._arrays)
            self._blocks[name] = (self._kernels[name], p, arrays, p.dtype)

    def _before_step(self) -> tuple[dict, dict | None]:
        """This step's scalars, cast to each dtype of the blocks, and the loop flags by block
        (None: every block takes the settled ones)."""
        # unchanged means the very objects _configure left (any assignment, even of an equal
        # value or of an array, configures again: cheap, and never compares arrays)
        if any(getattr(self, h) is not v for h, v in self._hp.items()):
            self._configure()
        scalars = self.rule.scalars(self._hp, self.step_count + 1)
        cast = {dtype: _cast(dtype, *scalars) for dtype in self._dtypes}
        fresh = self._fresh
        if not (self._lazy_on and fresh):
            return cast, None
        per_block = {
            name: self.rule.loop_flag_values(self._on, lambda state, n=name: (n, state) in fresh)
            for name in self.params
        }
        return cast, per_block

    # ---------------------------------------------------------------------- machinery
    def _block_target(self, size: int) -> str:
        if self.target == "auto":
            return "parallel" if size >= PARALLEL_MIN_SIZE else "cpu"
        return self.target

    def _full(self, name: str, value: float):
        p = self.params[name]
        if self._cuda is not None:
            d = self._cuda.zeros(p.size, p.dtype)
            if value != 0 and p.size:
                d.copy_to_device(np.full(p.size, value, dtype=p.dtype))
            return d
        return np.full(p.size, value, dtype=p.dtype)

    def _ensure_state(self) -> None:
        """Create any state array the hyperparameters now need, filled with its initial value
        (zeros, or Adagrad's ``initial_accumulator_value``): all of them at construction, or
        one a changed hyperparameter (momentum from 0) asks for later."""
        hp = self.hyperparameter_values()
        for s in self.rule.states:
            if not s.on(hp):
                continue
            for name, st in self._state.items():
                if s.name not in st:
                    st[s.name] = self._full(name, s.initial_value(hp))
                    if s.lazy:
                        self._fresh.add((name, s.name))

    def _empty(self, name: str, p):
        """A placeholder for a state array the variant does not use (never read)."""
        if self._cuda is not None:
            return p  # device: any array of the dtype will do
        return _EMPTY[p.dtype]

    def _kernel(self, name: str):
        """The function that runs block ``name``'s update: ``kernel(p, g, *arguments)``."""
        target = self.block_targets[name]
        if target == "cuda":
            cuda, kind, size = self._cuda, self.kind, self.params[name].size

            def launch(*args):
                cuda.launch(kind, size, *args)

            return launch
        kernels = _kernels.PARALLEL_KERNELS if target == "parallel" else _kernels.CPU_KERNELS
        return kernels[self.kind]

    def check_grads(self, grads) -> dict:
        """``grads`` checked against the params (names, shapes, dtypes) and returned as 1-D
        contiguous arrays by name, in the params' order: numpy arrays, or on the cuda target
        device arrays (host gradients are copied to the device). Raises ``ValueError`` (or
        ``TypeError`` for something that is not an array) naming the parameter."""
        if not isinstance(grads, Mapping):
            raise TypeError(
                f"grads must be a mapping of parameter names to arrays, got {type(grads).__name__}"
            )
        missing = [n for n in self.params if n not in grads]
        extra = [n for n in grads if n not in self.params]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing grads for {', '.join(map(repr, missing))}")
            if extra:
                parts.append(f"grads for unknown params {', '.join(map(repr, extra))}")
            raise ValueError(f"{'; '.join(parts)}; the params are {list(self.params)}")
        out = {}
        for name, p in self.params.items():
            out[name] = self._check_grad(name, p, grads[name])
        return out

    def _check_grad(self, name: str, p: np.ndarray, g):
        if (
            self._cuda is None
            and type(g) is np.ndarray
            and g.shape == p.shape
            and g.dtype == p.dtype
            and g.flags.c_contiguous
        ):
            return g.reshape(-1)  # the common case, checked in a few hundred nanoseconds
        device = _looks_like_device_array(g)
        if device and self._cuda is None:
            raise ValueError(
                f"grad for {name!r} is a CUDA device array; target {self.target!r} needs "
                "numpy arrays (copy_to_host() it, or use target='cuda')"
            )
        if isinstance(g, np.generic):  # a numpy scalar, for a 0-d parameter
            g = np.asarray(g)
        if not device and not isinstance(g, np.ndarray):
            raise TypeError(f"grad for {name!r} must be a numpy array, got {type(g).__name__}")
        if tuple(g.shape) != p.shape:
            raise ValueError(
                f"grad for {name!r} has shape {tuple(g.shape)}; param {name!r} has shape {p.shape}"
            )
        if np.dtype(g.dtype) != p.dtype:
            raise ValueError(
                f"grad for {name!r} has dtype {np.dtype(g.dtype)}; param {name!r} has dtype "
                f"{p.dtype}"
            )
        if device:
            flat = self._cuda.as_flat_device(g)
            if flat is None:
                raise ValueError(f"grad for {name!r} is a device array that is not C-contiguous")
            return flat
        flat = np.ascontiguousarray(g).reshape(-1)
        if self._cuda is not None:
            staging = self._d_grads.get(name)
            if staging is None:
                staging = self._d_grads[name] = self._cuda.zeros(p.size, p.dtype)
            if p.size:
                staging.copy_to_device(flat)
            return staging
        return flat

    def step(self, grads) -> None:
        """Update every parameter block in place with its gradient (a mapping name -> array,
        the same names, shapes and dtypes as the params; on the cuda target host or device
        arrays)."""
        flat_grads = self.check_grads(grads)
        scalars, per_block = self._before_step()  # checks changed hyperparameters again
        flags = self._flags
        for name, g in flat_grads.items():
            kernel, p, arrays, dtype = self._blocks[name]
            loop_flags = self._settled_loop_flags if per_block is None else per_block[name]
            kernel(p, g, *arrays, *scalars[dtype], *flags, *loop_flags)
        if per_block is not None:  # the lazy state arrays in use have now been written
            self._fresh.difference_update((n, s) for n in self._blocks for s in self._lazy_on)
        self.step_count += 1

    # --------------------------------------------------------------------- cuda target
    def params_to_host(self) -> dict[str, np.ndarray]:
        """Copy the parameters from the GPU into the caller's arrays (the cuda target; other
        targets update those arrays directly, and this does nothing); returns ``params``."""
        if self._cuda is not None:
            for name, p in self.params.items():
                if p.size:
                    self._d_params[name].copy_to_host(p.reshape(-1))
        return self.params

    def params_to_device(self) -> None:
        """Copy the caller's arrays to the GPU, after changing them on the host (the cuda
        target; nothing elsewhere)."""
        if self._cuda is not None:
            for name, p in self.params.items():
                if p.size:
                    self._d_params[name].copy_to_device(p.reshape(-1))

    @property
    def device_params(self) -> dict:
        """The parameters on the GPU (the cuda target), shaped like the params: compute
        gradients from these and pass device gradients to :meth:`step`."""
        if self._cuda is None:
            raise AttributeError(f"device_params: target is {self.target!r}, not 'cuda'")
        return {n: d.reshape(self.params[n].shape) for n, d in self._d_params.items()}

    # --------------------------------------------------------------------------- state
    @property
    def state(self) -> dict[str, dict]:
        """The state arrays by block and name, shaped like the params (live views of the
        optimizer's arrays; device arrays on the cuda target)."""
        return {
            name: {k: a.reshape(self.params[name].shape) for k, a in st.items()}
            for name, st in self._state.items()
        }

    def hyperparameter_values(self) -> dict:
        """The current hyperparameters, read from the attributes.

        Returns
        -------
        dict
            Option name to value, in the update rule's order.
        """
        return {h: getattr(self, h) for h in self.hyperparameters}

    def state_dict(self) -> dict:
        """A snapshot that :meth:`load_state_dict` restores: the optimizer's type, step count,
        hyperparameters, and copies of the state arrays (numpy, shaped like the params; a
        lazy state array, SGD's momentum buffer, only once a step has set it)."""
        state = {}
        for name, st in self._state.items():
            shape = self.params[name].shape
            state[name] = {}
            for key, a in st.items():
                if (name, key) in self._fresh:  # as torch: not there until a step sets it
                    continue
                host = a.copy_to_host() if self._cuda is not None else a.copy()
                state[name][key] = host.reshape(shape)
        return {
            "optimizer": type(self).__name__,
            "step": self.step_count,
            "hyperparameters": self.hyperparameter_values(),
            "state": state,
        }

    def load_state_dict(self, state_dict: Mapping) -> None:
        """Restore a :meth:`state_dict` (of an optimizer of the same type over parameters of
        the same names, shapes and dtypes): hyperparameters, step count and state arrays
        (copied), so that training resumes exactly where the snapshot was taken."""
        kind = state_dict.get("optimizer")
        if kind != type(self).__name__:
            raise ValueError(f"state_dict is for {kind!r}; this optimizer is {type(self).__name__}")
        state = state_dict["state"]
        if set(state) != set(self.params):
            raise ValueError(
                f"state_dict has blocks {sorted(state)}; the params are {sorted(self.params)}"
            )
        new_state: dict[str, dict] = {}
        for name, st in state.items():
            p = self.params[name]
            new_state[name] = {}
            for key, a in st.items():
                a = np.asarray(a)
                if a.shape != p.shape or a.dtype != p.dtype:
                    raise ValueError(
                        f"state_dict {key!r} of {name!r} is {a.dtype}{list(a.shape)}; param "
                        f"{name!r} is {p.dtype}{list(p.shape)}"
                    )
                flat = np.array(a, order="C").reshape(-1)
                new_state[name][key] = (
                    self._cuda.to_device(flat) if self._cuda is not None else flat
                )
        hyper = dict(state_dict["hyperparameters"])
        unknown = set(hyper) - set(self.hyperparameters)
        if unknown:
            raise ValueError(f"state_dict has unknown hyperparameters {sorted(unknown)}")
        checked = self.rule.validate({**self.hyperparameter_values(), **hyper})  # before any change
        for h, v in checked.items():
            setattr(self, h, v)
        self.step_count = int(state_dict["step"])
        self._state = new_state
        self._fresh = set()
        self._configure()

    def __repr__(self) -> str:
        hp = ", ".join(f"{h}={v!r}" for h, v in self.hyperparameter_values().items())
        return (
            f"{type(self).__name__}({hp}, blocks={list(self.params)}, target={self.target!r}, "
            f"step_count={self.step_count})"
        )


def _cast(dtype, *values):
    t = np.dtype(dtype).type
    return tuple(t(v) for v in values)


_CLASSES: dict[str, type[Optimizer]] = {}


def optimizer_class(kind: str) -> type[Optimizer]:
    """The optimizer class of update rule ``kind``
    (:class:`~workbench.optim.registry.UnknownOptimizer`, a ``ValueError``, for a kind that is
    not registered)."""
    return _CLASSES[rule(kind).kind]


class RMSprop(Optimizer):
    """RMSprop with persistent state: Theano's form, or PyTorch's with ``eps_in_sqrt=False``.

    Per element, in the parameter's dtype (hyperparameters cast to it; float32 parameters get
    float32 state and arithmetic)::

        g = g + weight_decay * p                       (when weight_decay != 0)
        square_avg = rho * square_avg + (1 - rho) * g * g
        avg = square_avg - grad_avg**2, with grad_avg = rho * grad_avg + (1 - rho) * g
                                                       (centered; else avg = square_avg)
        denom = sqrt(avg + eps)   (eps_in_sqrt=True, Theano)   or   sqrt(avg) + eps (PyTorch)
        momentum_buffer = momentum * momentum_buffer + g / denom;  p -= lr * momentum_buffer
                                                       (momentum > 0)
        p -= lr * (g / denom)                          (otherwise)

    ``centered``, ``momentum`` and ``weight_decay`` follow ``torch.optim.RMSprop`` (its
    ``alpha`` is ``rho``, Theano's ``decay``). ``lr`` and ``rho`` (and the other
    hyperparameters) are attributes that may change between steps. State (zero-filled, shaped
    like each parameter): ``square_avg``; ``grad_avg`` when centered; ``momentum_buffer`` when
    momentum > 0.
    """

    rule = RULES["rmsprop"]


class SGD(Optimizer):
    """Stochastic gradient descent, as ``torch.optim.SGD``.

    Per element, in the parameter's dtype (hyperparameters cast to it)::

        g = g + weight_decay * p                               (when weight_decay != 0)
        momentum_buffer = g                                    (momentum > 0, first step)
        momentum_buffer = momentum * momentum_buffer + (1 - dampening) * g   (later steps)
        g = g + momentum * momentum_buffer (nesterov)   or   g = momentum_buffer
        p -= lr * g

    State: ``momentum_buffer`` when momentum > 0; it is left out of :meth:`state_dict` until a
    step has set it, as torch does.
    """

    rule = RULES["sgd"]


class Adam(Optimizer):
    """Adam, as torch's single-tensor, non-capturable ``torch.optim.Adam``.

    With L2 weight decay and optional AMSGrad. At step t (1, 2, ...), per element, in the
    parameter's dtype (the scalars computed in Python floats, then cast)::

        g = g + weight_decay * p                               (when weight_decay != 0)
        exp_avg = beta1 * exp_avg + (1 - beta1) * g
        exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g
        v = max(max_exp_avg_sq, exp_avg_sq) -> max_exp_avg_sq   (amsgrad; else v = exp_avg_sq)
        step_size = lr / (1 - beta1**t);  bias_correction2_sqrt = sqrt(1 - beta2**t)
        denom = sqrt(v) / bias_correction2_sqrt + eps
        p -= step_size * (exp_avg / denom)

    (torch >= 2 writes the first moment as ``exp_avg.lerp_(g, 1 - beta1)``, the same value up
    to rounding.) State: ``exp_avg``, ``exp_avg_sq``; ``max_exp_avg_sq`` with amsgrad.
    """

    rule = RULES["adam"]


class Adagrad(Optimizer):
    """Adagrad, as torch's single-tensor ``torch.optim.Adagrad``.

    At step t (1, 2, ...), per element, in the parameter's dtype (``clr`` computed in Python
    floats, then cast)::

        g = g + weight_decay * p                               (when weight_decay != 0)
        clr = lr / (1 + (t - 1) * lr_decay)
        sum = sum + g * g
        p -= clr * (g / (sqrt(sum) + eps))

    State: ``sum``, shaped like each parameter, starting at ``initial_accumulator_value``.
    """

    rule = RULES["adagrad"]
