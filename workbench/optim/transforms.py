"""Gradient transforms per parameter block, chained in front of an optimizer.

``chain([scale(-1.0, params=["y"]), clip_norm(1.0)], SGD(params, lr=0.1))`` returns an object
with the optimizer's interface (``step``, ``state_dict``, ``load_state_dict``, ``params``,
``lr`` and the other attributes, read and written through). Each step checks the gradients
against the parameters, applies the transforms in the order listed, then hands the result to
the optimizer, which adds weight decay and updates. The caller's gradient arrays are never
modified: a block is copied the first time a transform changes it, and transformed in place
from then on.

* :func:`scale` multiplies by a factor (``-1`` turns descent into ascent for those blocks);
* :func:`clip_value` clips each element to ``[-limit, limit]``;
* :func:`clip_norm` rescales so the L2 norm is at most ``max_norm``, as
  ``torch.nn.utils.clip_grad_norm_``: ``g *= max_norm / (norm + 1e-6)`` when
  ``norm > max_norm``; per block, or one global norm over the selected blocks.

``params=None`` selects every block. Host gradients are transformed with numpy and the
sum-of-squares kernels of :mod:`._kernels` (norms are accumulated in float64; the factors
are cast to each block's dtype); device gradients on the cuda target with the kernels of
:mod:`._cuda`, without leaving the GPU.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from . import _kernels
from .optimizers import Optimizer
from .registry import RULES

__all__ = [
    "Chain",
    "ClipNorm",
    "ClipValue",
    "Scale",
    "Transform",
    "chain",
    "clip_norm",
    "clip_value",
    "scale",
]

CLIP_NORM_EPS = 1e-6  # as torch.nn.utils.clip_grad_norm_


def _names(params) -> tuple[str, ...] | None:
    if params is None:
        return None
    if isinstance(params, str):
        return (params,)
    names = tuple(params)
    for n in names:
        if not isinstance(n, str):
            raise TypeError(f"transform params must be parameter names (strings), got {n!r}")
    if not names:
        raise ValueError("transform params is empty; use None for all blocks")
    return names


def _nonnegative(name: str, value) -> float:
    v = float(value)
    if not v >= 0:
        raise ValueError(f"invalid {name} {value!r}: need {name} >= 0")
    return v


class _Work:
    """The gradients of one step as the transforms see them: flat arrays by name (host or
    device), copied from the caller's on first change."""

    def __init__(self, grads: dict, cuda_module, block_targets: dict):
        self.grads = grads
        self._owned: set[str] = set()
        self._cuda = cuda_module
        self._targets = block_targets

    def is_device(self, name: str) -> bool:
        return self._cuda is not None and not isinstance(self.grads[name], np.ndarray)

    def own(self, name: str):
        """The block's gradient as this step's private array (a copy on first use)."""
        if name not in self._owned:
            g = self.grads[name]
            self.grads[name] = self._cuda.copy(g) if self.is_device(name) else g.copy()
            self._owned.add(name)
        return self.grads[name]

    def scale(self, name: str, factor: float) -> None:
        g = self.grads[name]
        f = g.dtype.type(factor)
        if self.is_device(name):
            g = self.own(name)
            self._cuda.launch("scale", g.size, g, f)
        elif name in self._owned:
            np.multiply(g, f, out=g)
        else:  # copy and scale in one pass
            self.grads[name] = np.multiply(g, f)
            self._owned.add(name)

    def clip(self, name: str, limit: float) -> None:
        g = self.grads[name]
        lim = g.dtype.type(limit)
        if self.is_device(name):
            g = self.own(name)
            self._cuda.launch("clip", g.size, g, lim)
        elif name in self._owned:
            np.clip(g, -lim, lim, out=g)
        else:
            self.grads[name] = np.clip(g, -lim, lim)
            self._owned.add(name)

    def sum_squares(self, name: str) -> float:
        g = self.grads[name]
        if self.is_device(name):
            return self._cuda.sum_squares(g)
        parallel = self._targets.get(name) == "parallel"  # auto has chosen by size already
        kernels = _kernels.PARALLEL_KERNELS if parallel else _kernels.CPU_KERNELS
        return float(kernels["sum_squares"](g))


class Transform:
    """A gradient transform on the blocks ``params`` (None: all). Subclasses implement
    :meth:`apply`."""

    kind = ""

    def __init__(self, params=None):
        self.params = _names(params)

    def blocks(self, names: Iterable[str]) -> list[str]:
        """The blocks this transform applies to.

        Parameters
        ----------
        names : iterable of str
            Every parameter block's name.

        Returns
        -------
        list of str
            ``params`` when set, else all of ``names``.
        """
        return list(names) if self.params is None else list(self.params)

    def apply(self, work: _Work) -> None:
        """Transform one step's gradients in place (subclasses implement it).

        Parameters
        ----------
        work : _Work
            The step's gradients by block, flat; a block is copied before its first change.

        Returns
        -------
        None
        """
        raise NotImplementedError

    def _args(self) -> str:
        return ""

    def __repr__(self) -> str:
        extra = "" if self.params is None else f", params={list(self.params)!r}"
        return f"{type(self).__name__}({self._args()}{extra})"


class Scale(Transform):
    """g *= factor on the selected blocks."""

    kind = "scale"

    def __init__(self, factor, params=None):
        super().__init__(params)
        self.factor = float(factor)
        if not math.isfinite(self.factor):
            raise ValueError(f"invalid scale factor {factor!r}: need a finite number")

    def apply(self, work: _Work) -> None:
        """Multiply the selected blocks' gradients by ``factor``."""
        for name in self.blocks(work.grads):
            work.scale(name, self.factor)

    def _args(self) -> str:
        return f"{self.factor!r}"


class ClipValue(Transform):
    """Each element of the selected blocks clipped to [-limit, limit] (NaN stays NaN)."""

    kind = "clip_value"

    def __init__(self, limit, params=None):
        super().__init__(params)
        self.limit = _nonnegative("limit", limit)

    def apply(self, work: _Work) -> None:
        """Clip each element of the selected blocks' gradients to ``[-limit, limit]``."""
        for name in self.blocks(work.grads):
            work.clip(name, self.limit)

    def _args(self) -> str:
        return f"{self.limit!r}"


class ClipNorm(Transform):
    """L2-norm clipping as ``torch.nn.utils.clip_grad_norm_``: when norm > max_norm,
    g *= max_norm / (norm + 1e-6). ``per_block=True``: each block's own norm; False: one
    norm over all the selected blocks, all scaled by the same factor."""

    kind = "clip_norm"

    def __init__(self, max_norm, params=None, per_block=True):
        super().__init__(params)
        self.max_norm = _nonnegative("max_norm", max_norm)
        self.per_block = bool(per_block)

    def factor(self, norm: float) -> float | None:
        """The factor for a norm, or None when the norm is within max_norm."""
        if norm > self.max_norm:
            return self.max_norm / (norm + CLIP_NORM_EPS)
        return None

    def apply(self, work: _Work) -> None:
        """Rescale the selected gradients whose norm (per block or joint) exceeds ``max_norm``."""
        names = self.blocks(work.grads)
        groups = [[n] for n in names] if self.per_block else [names]
        for group in groups:
            norm = math.sqrt(sum(work.sum_squares(n) for n in group))
            f = self.factor(norm)
            if f is not None:
                for n in group:
                    work.scale(n, f)

    def _args(self) -> str:
        return f"{self.max_norm!r}, per_block={self.per_block!r}"


def scale(factor, params=None) -> Scale:
    """Multiply gradients by a constant before the optimizer's step.

    Parameters
    ----------
    factor : float
        The multiplier, finite; negative turns descent into ascent for those blocks.
    params : list of str, optional
        The parameter blocks it applies to (None: all).

    Returns
    -------
    Scale
        A transform for :func:`chain`; each selected gradient ``g`` (any shape) becomes
        ``factor * g``.
    """
    return Scale(factor, params)


def clip_value(limit, params=None) -> ClipValue:
    """Clip every gradient element to ``[-limit, limit]``, as
    ``torch.nn.utils.clip_grad_value_``.

    Parameters
    ----------
    limit : float
        The bound (>= 0).
    params : list of str, optional
        The parameter blocks it applies to (None: all).

    Returns
    -------
    ClipValue
        A transform for :func:`chain`.
    """
    return ClipValue(limit, params)


def clip_norm(max_norm, params=None, per_block=True) -> ClipNorm:
    """Clip the L2 norm of gradients, as ``torch.nn.utils.clip_grad_norm_``: when the norm
    exceeds ``max_norm`` the gradients are scaled by ``max_norm / (norm + 1e-6)``.

    Parameters
    ----------
    max_norm : float
        The largest norm kept (>= 0).
    params : list of str, optional
        The parameter blocks it applies to (None: all).
    per_block : bool
        True: each block's own norm; False: one norm over all the selected blocks, which are
        then scaled by the same factor (a global norm, as the language model clips).

    Returns
    -------
    ClipNorm
        A transform for :func:`chain`.
    """
    return ClipNorm(max_norm, params, per_block)


class Chain:
    """Transforms in front of an optimizer, with the optimizer's interface.

    Attributes other than ``transforms`` and ``optimizer`` are the optimizer's, read and
    written through (``chain.lr = 0.01`` changes the optimizer's learning rate)."""

    def __init__(self, transforms, optimizer: Optimizer):
        if isinstance(transforms, Transform):
            transforms = [transforms]
        transforms = tuple(transforms)
        for t in transforms:
            if not isinstance(t, Transform):
                raise TypeError(f"chain takes transforms (scale, clip_value, clip_norm), got {t!r}")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"chain needs an optimizer ({', '.join(r.title for r in RULES.values())}), "
                f"got {type(optimizer).__name__}"
            )
        for i, t in enumerate(transforms):
            unknown = [n for n in t.params or () if n not in optimizer.params]
            if unknown:
                raise ValueError(
                    f"transform {i} ({t!r}) names unknown parameter block(s) "
                    f"{', '.join(map(repr, unknown))}; the params are {list(optimizer.params)}"
                )
        object.__setattr__(self, "transforms", transforms)
        object.__setattr__(self, "optimizer", optimizer)

    def transformed(self, grads: Mapping) -> dict:
        """The gradients after the transforms, flat (1-D) by name; the caller's untouched."""
        opt = self.optimizer
        work = _Work(opt.check_grads(grads), opt._cuda, opt.block_targets)
        for t in self.transforms:
            t.apply(work)
        return work.grads

    def step(self, grads: Mapping) -> None:
        """Transform the gradients (on private copies), then step the optimizer."""
        flat = self.transformed(grads)
        shaped = {n: g.reshape(self.optimizer.params[n].shape) for n, g in flat.items()}
        self.optimizer.step(shaped)

    @property
    def params(self):
        """The optimizer's parameters (name to array)."""
        return self.optimizer.params

    def state_dict(self) -> dict:
        """The optimizer's snapshot (the transforms hold no state).

        Returns
        -------
        dict
            As :meth:`workbench.optim.Optimizer.state_dict`.
        """
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict) -> None:
        """Restore the optimizer from a :meth:`state_dict` snapshot.

        Parameters
        ----------
        state_dict : mapping
            As :meth:`workbench.optim.Optimizer.state_dict` returns it.

        Returns
        -------
        None
        """
        self.optimizer.load_state_dict(state_dict)

    def __getattr__(self, name):
        if name in ("transforms", "optimizer"):  # not yet set (during unpickling)
            raise AttributeError(name)
        return getattr(self.optimizer, name)

    def __setattr__(self, name, value):
        if name in ("transforms", "optimizer"):
            object.__setattr__(self, name, value)
        else:
            setattr(self.optimizer, name, value)

    def __repr__(self) -> str:
        return f"chain({list(self.transforms)!r}, {self.optimizer!r})"


def chain(transforms, optimizer: Optimizer) -> Chain:
    """An optimizer whose gradients pass through ``transforms``, in order, before each step.

    Parameters
    ----------
    transforms : list of Transform
        Made by :func:`scale`, :func:`clip_value`, :func:`clip_norm`.
    optimizer : Optimizer
        Any registered optimizer (``RMSprop``, ``SGD``, ``Adam``, ``Adagrad``); the
        transforms run on its target.

    Returns
    -------
    Chain
        With the optimizer's interface: ``step(grads)``, ``state_dict()``,
        ``load_state_dict()``, and its hyperparameters read and written through.
    """
    return Chain(transforms, optimizer)
