"""Unconstrained minimisation: scipy's BFGS and its Wolfe line searches, compiled with Numba.

* :func:`minimize` / :func:`minimize_bfgs` (and the legacy :func:`fmin_bfgs`) reproduce
  ``scipy.optimize.minimize(method="BFGS")`` iterate for iterate (counts, status codes and
  messages included);
* :func:`minimize_bfgs_batch` runs many independent fits (bootstrap resamples) on CPU cores or
  one per GPU thread;
* :func:`line_search` and :func:`line_search_wolfe1` mirror scipy's public line searches.

Objectives are ``@njit`` functions, plain Python functions (compiled here when Numba can,
else run as Python through the same compiled iteration, with a
:class:`PythonFallbackWarning`), bound methods, or a
:class:`CompiledObjective`: a module-level C callback with the signature
:data:`OBJECTIVE_SIGNATURE`, whose kernels load from Numba's on-disk cache (see
:mod:`workbench.optimize._objective` for how to write one).
"""

from .._numba import PythonFallbackWarning
from ._batch import BatchOptimizeResult, minimize_bfgs_batch
from ._minimize import fmin_bfgs, minimize, minimize_bfgs
from ._objective import OBJECTIVE_SIGNATURE, CompiledObjective
from ._public_linesearch import line_search, line_search_wolfe1
from ._result import STATUS_MESSAGES, OptimizeResult, OptimizeWarning

__all__ = [
    "OBJECTIVE_SIGNATURE",
    "STATUS_MESSAGES",
    "BatchOptimizeResult",
    "CompiledObjective",
    "OptimizeResult",
    "OptimizeWarning",
    "PythonFallbackWarning",
    "fmin_bfgs",
    "line_search",
    "line_search_wolfe1",
    "minimize",
    "minimize_bfgs",
    "minimize_bfgs_batch",
]
