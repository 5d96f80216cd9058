"""workbench: Numba-compiled numerical kernels (RK45, BFGS, RMSprop) behind a YAML-driven CLI.

The numerical core lives in :mod:`workbench.integrate`, :mod:`workbench.optimize` and
:mod:`workbench.optim`; it imports nothing from the CLI, config or run code.
"""

__version__ = "0.1.0"  # the package's one version (pyproject.toml reads it from here)
