"""Initial value problems: scipy's explicit Runge-Kutta methods (RK23, RK45, DOP853), compiled
with Numba.

``solve_ivp`` integrates one trajectory (with scipy's events and dense output);
``solve_ivp_batch`` integrates many, each with its own adaptive steps, on one core, on all
cores or on an NVIDIA GPU; ``odeint`` keeps scipy's legacy interface (on DOP853, not LSODA).
A method is data (:mod:`._methods`): one core steps them all. Functions Numba cannot compile
run as plain Python through the same kernels (with a ``PythonFallbackWarning``).
"""

from .._numba import PythonFallbackWarning
from ._ivp import DenseSolution, OdeResult, solve_ivp
from ._methods import METHODS, Method
from ._rhs import RHS_SIGNATURE, CompiledRHS

__all__ = [
    "METHODS",
    "CompiledRHS",
    "DenseSolution",
    "Method",
    "OdeResult",
    "PythonFallbackWarning",
    "RHS_SIGNATURE",
    "solve_ivp",
]

from ._batch import BatchResult, solve_ivp_batch  # noqa: E402
from ._nb import NbResult, nbsolve_ivp  # noqa: E402
from ._odeint import ODEintWarning, odeint  # noqa: E402

__all__ += ["BatchResult", "NbResult", "ODEintWarning", "nbsolve_ivp", "odeint", "solve_ivp_batch"]
