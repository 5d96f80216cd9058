"""The result type and status messages of :mod:`workbench.optimize`, as scipy users know them.

:class:`OptimizeResult` behaves like ``scipy.optimize.OptimizeResult`` (a dict whose keys are
also attributes) without importing scipy, which takes longer than a small fit.
"""

from __future__ import annotations

import numpy as np

__all__ = ["STATUS_MESSAGES", "OptimizeResult", "OptimizeWarning"]

SUCCESS, MAXITER, PR_LOSS, NAN_RESULT = 0, 1, 2, 3
#: Stopped by Ctrl-C or a time limit: never reported, the caller raises what stopped it.
INTERRUPTED = 4

#: scipy's ``_status_message`` texts for the codes BFGS returns, word for word.
STATUS_MESSAGES = {
    SUCCESS: "Optimization terminated successfully.",
    MAXITER: "Maximum number of iterations has been exceeded.",
    PR_LOSS: "Desired error not necessarily achieved due to precision loss.",
    NAN_RESULT: "NaN result encountered.",
}


class OptimizeWarning(UserWarning):
    """Warned with ``disp=True`` when a minimisation does not succeed (as scipy does)."""


class OptimizeResult(dict):
    """The outcome of a minimisation: a dict whose keys are also attributes.

    BFGS fills ``x``, ``fun``, ``jac``, ``hess_inv``, ``nit``, ``nfev``, ``njev``, ``status``,
    ``success`` and ``message`` (and ``allvecs`` with ``return_all=True``), with scipy's
    meanings.
    """

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    __setattr__ = dict.__setitem__
    __delattr__ = dict.__delitem__

    def __dir__(self):
        return list(self.keys())

    def __repr__(self) -> str:
        if not self:
            return f"{type(self).__name__}()"
        width = max(map(len, self.keys())) + 1
        lines = []
        for key, value in self.items():
            if isinstance(value, np.ndarray):
                text = np.array2string(value)
            else:
                text = value if isinstance(value, str) else repr(value)
            text = text.replace("\n", "\n" + " " * (width + 2))
            lines.append(f"{key.rjust(width)}: {text}")
        return "\n".join(lines)
