"""Unconstrained minimisation: scipy's BFGS with Wolfe line searches, compiled with Numba.

``minimize``/``minimize_bfgs`` reproduce ``scipy.optimize.minimize(method="BFGS")`` iterate for
iterate; ``line_search`` and ``line_search_wolfe1`` mirror scipy's line searches.
"""

from ._minimize import minimize, minimize_bfgs
from ._objective import OBJECTIVE_SIGNATURE, CompiledObjective

__all__ = ["OBJECTIVE_SIGNATURE", "CompiledObjective", "minimize", "minimize_bfgs"]

from ._batch import BatchOptimizeResult, minimize_bfgs_batch  # noqa: E402

__all__ += ["BatchOptimizeResult", "minimize_bfgs_batch"]

from ._public_linesearch import line_search, line_search_wolfe1  # noqa: E402

__all__ += ["line_search", "line_search_wolfe1"]
