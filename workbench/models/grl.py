"""The gradient-reversal layer (GRL), and why it is not "negate the gradient of a block".

A GRL is the identity going forward and multiplies the gradient flowing back through it by
``-lam``::

    grl_forward(x) = x            grl_backward(g, lam) = -lam * g

It reverses the gradient of one *path* through the graph: everything upstream of it receives
``-lam`` times the gradient that arrives along that path, while gradients that reach the same
parameters along other paths are untouched. That is what PyTorch users get from
``x.register_hook(lambda t: -t)`` on an intermediate value ``x``. Negating the gradient of a
whole parameter block is a different operation as soon as a parameter is shared by paths
through and around the GRL.

:func:`shared_weight_example` works this out on the smallest such graph: one weight ``w``
shared by ``x = w*a`` and ``y = w*b``, loss ``|x - y|``. With ``w = 1, a = 1, b = 2``:

=====================  ==========================================  ======
gradient               how                                         dL/dw
=====================  ==========================================  ======
plain                  ordinary backprop                            1
reversed through x     GRL on x (``lam = 1``)                       3
negated block          minus the plain gradient                    -1
two-pass               x-path (y detached) reversed + y-path        3
=====================  ==========================================  ======

The two-pass computation (one backward pass with ``y`` detached, one with ``x`` detached, the
first multiplied by ``-lam``) is how one checks a GRL by hand; it agrees with the GRL, not
with the negated block. The MLP in :mod:`workbench.models.nets` puts a GRL after a hidden layer
(``grl_lambda``, ``grl_layer``).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "Var",
    "backward",
    "grl",
    "grl_backward",
    "grl_forward",
    "shared_weight_example",
    "two_pass_example",
]


def grl_forward(x):
    """The identity: a GRL does not change the forward value."""
    return x


def grl_backward(g, lam: float = 1.0):
    """The gradient flowing back through a GRL: ``-lam * g`` (a number or an array)."""
    return -lam * g


# ------------------------------------------------------- a minimal scalar reverse mode


class Var:
    """A scalar node of a computation graph for reverse-mode differentiation.

    ``parents`` is a list of ``(parent, backward)`` pairs: ``backward(g)`` maps the gradient
    arriving at this node to the contribution it sends to ``parent`` (the chain rule's local
    factor). A node with no parents is a leaf (a parameter, an input or a detached value)."""

    __slots__ = ("value", "parents", "grad")

    def __init__(self, value: float, parents=()):
        self.value = float(value)
        self.parents = list(parents)
        self.grad = 0.0

    def __mul__(self, other: Var) -> Var:
        return Var(
            self.value * other.value,
            [(self, lambda g, o=other: g * o.value), (other, lambda g, s=self: g * s.value)],
        )

    def __sub__(self, other: Var) -> Var:
        return Var(self.value - other.value, [(self, lambda g: g), (other, lambda g: -g)])

    def __abs__(self) -> Var:
        sign = float(np.sign(self.value))  # the subgradient, 0 at 0
        return Var(abs(self.value), [(self, lambda g: g * sign)])

    def detach(self) -> Var:
        """The same value with no path back: no gradient flows through it."""
        return Var(self.value)


def grl(v: Var, lam: float = 1.0) -> Var:
    """A gradient-reversal node: value of ``v``; sends ``grl_backward(g, lam)`` back to ``v``."""
    return Var(grl_forward(v.value), [(v, lambda g: grl_backward(g, lam))])


def backward(out: Var) -> None:
    """Accumulate ``d out / d node`` into ``node.grad`` for every node ``out`` depends on."""
    order: list[Var] = []
    seen: set[int] = set()

    def visit(v: Var) -> None:  # depth-first topological order
        if id(v) in seen:
            return
        seen.add(id(v))
        for p, _ in v.parents:
            visit(p)
        order.append(v)

    visit(out)
    for v in order:
        v.grad = 0.0
    out.grad = 1.0
    for v in reversed(order):
        for p, local in v.parents:
            p.grad += local(v.grad)


# ------------------------------------------------------------------------- the example


def _loss(w: Var, a: float, b: float, lam: float | None, detach: str | None = None) -> Var:
    """``|x - y|`` with ``x = w*a`` (through a GRL when ``lam`` is given) and ``y = w*b``;
    ``detach`` = "x" or "y" cuts that path."""
    x = w * Var(a)
    y = w * Var(b)
    if lam is not None:
        x = grl(x, lam)
    if detach == "x":
        x = x.detach()
    elif detach == "y":
        y = y.detach()
    return abs(x - y)


def _grad_w(w: float, a: float, b: float, lam: float | None, detach: str | None = None):
    wv = Var(w)
    backward(_loss(wv, a, b, lam, detach))
    return wv.grad


def two_pass_example(w: float = 1.0, a: float = 1.0, b: float = 2.0, lam: float = 1.0) -> float:
    """dL/dw by two passes: through x with y detached, reversed (times ``-lam``), plus
    through y with x detached."""
    through_x = _grad_w(w, a, b, None, detach="y")
    through_y = _grad_w(w, a, b, None, detach="x")
    return grl_backward(through_x, lam) + through_y


def shared_weight_example(
    w: float = 1.0, a: float = 1.0, b: float = 2.0, lam: float = 1.0
) -> dict[str, float]:
    """The four gradients of the module docstring's table, by backprop through the graph.

    ``plain``: dL/dw; ``reversed_through_x``: with a GRL on ``x``; ``negated_block``: minus
    the plain gradient (what negating the parameter's whole gradient gives); ``two_pass``:
    :func:`two_pass_example`. At the defaults: 1, 3, -1, 3."""
    plain = _grad_w(w, a, b, None)
    return {
        "plain": plain,
        "reversed_through_x": _grad_w(w, a, b, lam),
        "negated_block": -plain,
        "two_pass": two_pass_example(w, a, b, lam),
    }
