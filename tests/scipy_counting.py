"""scipy's Runge-Kutta methods, counting their accepted and rejected steps (scipy reports
neither), for the parity tests."""

from __future__ import annotations


def counting(base):
    """scipy's method ``base``, counting accepted and rejected step attempts (every attempt
    ends in one error-norm evaluation: below 1 accepts)."""

    class Counting(base):
        last = None

        def __init__(self, *args, **kwargs):
            self.n_accepted = 0
            self.n_rejected = 0
            super().__init__(*args, **kwargs)
            type(self).last = self

        def _estimate_error_norm(self, K, h, scale):
            err = super()._estimate_error_norm(K, h, scale)
            if err < 1:
                self.n_accepted += 1
            else:
                self.n_rejected += 1
            return err

    return Counting
