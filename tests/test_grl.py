"""The gradient-reversal layer and the shared-weight example: a GRL reverses one path's
gradient, which is not the same as negating a shared parameter's whole gradient."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from workbench.models import grl


def test_grl_is_the_identity_forward_and_reverses_backward():
    x = np.array([1.0, -2.0, 3.5])
    assert grl.grl_forward(x) is x
    np.testing.assert_array_equal(grl.grl_backward(x, 0.5), [-0.5, 1.0, -1.75])
    assert grl.grl_backward(2.0) == -2.0
    assert grl.grl_backward(2.0, 0.0) == 0.0


def test_the_seed_example_gives_1_3_minus1_3():
    out = grl.shared_weight_example()
    assert out == {"plain": 1.0, "reversed_through_x": 3.0, "negated_block": -1.0, "two_pass": 3.0}
    # reversing the path through x is not negating the block
    assert out["reversed_through_x"] != out["negated_block"]


finite = st.floats(-5, 5, allow_nan=False).filter(lambda v: abs(v) > 1e-3)


@settings(max_examples=200, deadline=None)
@given(w=finite, a=finite, b=finite, lam=st.floats(0, 3))
def test_backprop_with_grl_matches_two_passes_and_the_closed_form(w, a, b, lam):
    d = w * a - w * b
    assume(abs(d) >= 1e-9)  # |d| has no derivative at 0
    s = np.sign(d)
    out = grl.shared_weight_example(w, a, b, lam)
    assert out["plain"] == pytest.approx(s * (a - b), rel=1e-12)
    assert out["reversed_through_x"] == pytest.approx(s * (-lam * a - b), rel=1e-12, abs=1e-12)
    assert out["reversed_through_x"] == pytest.approx(out["two_pass"], rel=1e-12, abs=1e-12)
    # negating the shared weight's whole gradient: the closed form, not the code's own sum
    assert out["negated_block"] == pytest.approx(-s * (a - b), rel=1e-12)


@pytest.mark.parametrize(("w", "a", "b"), [(1.0, 1.0, 2.0), (0.3, 1.5, -2.0), (-2.0, 0.5, 4.0)])
def test_plain_gradient_matches_finite_differences(w, a, b):
    def loss(v):
        return abs(v * a - v * b)

    h = 1e-6
    fd = (loss(w + h) - loss(w - h)) / (2 * h)
    assert grl.shared_weight_example(w, a, b)["plain"] == pytest.approx(fd, rel=1e-8)


def test_two_pass_by_hand_at_the_seed_values():
    # x = w a = 1, y = w b = 2, L = |x - y|: dL/dx = -1, dL/dy = +1
    through_x = -1.0 * 1.0  # y detached: dL/dx * dx/dw
    through_y = +1.0 * 2.0  # x detached: dL/dy * dy/dw
    assert grl.two_pass_example() == -through_x + through_y == 3.0


def test_reverse_mode_accumulates_shared_uses():
    w = grl.Var(3.0)
    loss = w * w  # d/dw w^2 = 2w
    grl.backward(loss)
    assert w.grad == 6.0
    w2 = grl.Var(3.0)
    grl.backward(grl.grl(w2 * w2, 0.5))
    assert w2.grad == -3.0
