"""Initial value problems: scipy's explicit Runge-Kutta methods (RK23, RK45, DOP853), compiled
with Numba.

``solve_ivp`` integrates one trajectory (with scipy's events and dense output);
``solve_ivp_batch`` integrates many, each with its own adaptive steps, on one core, on all
cores or on an NVIDIA GPU. A method is data (:mod:`._methods`): one core steps them all.
"""

from ._ivp import DenseSolution, OdeResult, solve_ivp
from ._methods import METHODS, Method
from ._rhs import RHS_SIGNATURE, CompiledRHS

__all__ = [
    "METHODS",
    "CompiledRHS",
    "DenseSolution",
    "Method",
    "OdeResult",
    "RHS_SIGNATURE",
    "solve_ivp",
]

from ._batch import BatchResult, solve_ivp_batch  # noqa: E402
from ._nb import NbResult, nbsolve_ivp  # noqa: E402

__all__ += ["BatchResult", "NbResult", "nbsolve_ivp", "solve_ivp_batch"]
