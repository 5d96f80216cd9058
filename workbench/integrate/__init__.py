"""Initial value problems: scipy's RK45 (Dormand-Prince), compiled with Numba.

``solve_ivp`` integrates one trajectory; ``solve_ivp_batch`` integrates many, each with its own
adaptive steps, on one core, on all cores or on an NVIDIA GPU.
"""

from ._ivp import DenseSolution, OdeResult, solve_ivp
from ._rhs import RHS_SIGNATURE, CompiledRHS

__all__ = ["CompiledRHS", "DenseSolution", "OdeResult", "RHS_SIGNATURE", "solve_ivp"]

from ._batch import BatchResult, solve_ivp_batch  # noqa: E402

__all__ += ["BatchResult", "solve_ivp_batch"]
