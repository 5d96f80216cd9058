"""The explicit Runge-Kutta methods of scipy's ``solve_ivp``, as data.

A method is a :class:`Method`: a name and a :class:`Tableau`, the record the compiled core
(:mod:`._core`) reads. The core is compiled once per method with the tableau frozen into the
code as constants (see :mod:`._kernels`), so a coefficient that is zero costs nothing and the
loops over stages unroll, as if each method had its own hand-written step.

Adding a method of this family (an explicit embedded pair with a polynomial interpolant) is
one more :class:`Method` in :data:`METHODS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import _dop853

#: How the dense-output coefficients ``Q`` (n, n_dense) of a step are formed and evaluated.
#: ``POWER``: ``Q = K.T @ P`` and ``y(x) = y_old + h * sum_k Q[:, k] x^(k+1)`` (scipy's
#: ``RkDenseOutput``). ``DOP853``: three extra stages, then ``F`` (7, n) of
#: ``Dop853DenseOutput``, evaluated with alternating factors ``x`` and ``1 - x``.
POWER, DOP853_DENSE = 0, 1
#: How the error norm of a step is formed: ``ONE``: ``rms(h K.T @ E / scale)``;
#: ``TWO``: DOP853's blend of its 5th- and 3rd-order estimates.
ONE_ESTIMATOR, TWO_ESTIMATORS = 0, 1


class Tableau(NamedTuple):
    """What the compiled core needs of a method (a tuple of arrays and ints, so Numba freezes
    it into the code as a constant).

    ``S`` below is the number of rows of ``K``: the stages of a step, the FSAL stage
    ``f(t + h, y_new)`` and, for DOP853, the extra stages of its dense output.
    """

    A: np.ndarray  # (S, S) stage coefficients (row s: the stage's combination of K[:s])
    B: np.ndarray  # (n_stages,) weights of the solution
    C: np.ndarray  # (S,) stage times as fractions of the step
    E: np.ndarray  # (n_stages + 1,) error weights (DOP853: its E5)
    E3: np.ndarray  # (n_stages + 1,) DOP853's 3rd-order error weights; (1,) zeros otherwise
    P: np.ndarray  # POWER: (n_stages + 1, n_dense); DOP853: D (4, S)
    n_stages: int
    n_rows: int  # S
    n_dense: int  # columns of Q
    error_exponent: float  # -1 / (error estimator order + 1)
    error_estimator_order: int
    error_kind: int
    dense_kind: int


@dataclass(frozen=True)
class Method:
    """A Runge-Kutta method: its scipy name, orders and :class:`Tableau`."""

    name: str
    order: int
    tableau: Tableau
    description: str


def _power_tableau(A, B, C, E, P, error_estimator_order: int) -> Tableau:
    n_stages = len(B)
    A_full = np.zeros((n_stages + 1, n_stages + 1))
    A_full[:n_stages, :n_stages] = A
    A_full[n_stages, :n_stages] = B  # the FSAL stage is taken at y_new
    return Tableau(
        A=A_full,
        B=np.asarray(B, dtype=float),
        C=np.append(np.asarray(C, dtype=float), 1.0),
        E=np.asarray(E, dtype=float),
        E3=np.zeros(1),
        P=np.asarray(P, dtype=float),
        n_stages=n_stages,
        n_rows=n_stages + 1,
        n_dense=np.shape(P)[1],
        error_exponent=-1.0 / (error_estimator_order + 1),
        error_estimator_order=error_estimator_order,
        error_kind=ONE_ESTIMATOR,
        dense_kind=POWER,
    )


# Bogacki-Shampine 3(2), scipy's RK23: cubic Hermite dense output.
RK23 = Method(
    name="RK23",
    order=3,
    description="Bogacki-Shampine 3(2), cubic dense output",
    tableau=_power_tableau(
        A=[[0, 0, 0], [1 / 2, 0, 0], [0, 3 / 4, 0]],
        B=[2 / 9, 1 / 3, 4 / 9],
        C=[0, 1 / 2, 3 / 4],
        E=[5 / 72, -1 / 12, -1 / 9, 1 / 8],
        P=[[1, -4 / 3, 5 / 9], [0, 1, -2 / 3], [0, 4 / 3, -8 / 9], [0, -1, 1]],
        error_estimator_order=2,
    ),
)

# Dormand-Prince 5(4), scipy's RK45 (the default): Shampine's quartic dense output.
RK45 = Method(
    name="RK45",
    order=5,
    description="Dormand-Prince 5(4), quartic dense output",
    tableau=_power_tableau(
        A=[
            [0, 0, 0, 0, 0, 0],
            [1 / 5, 0, 0, 0, 0, 0],
            [3 / 40, 9 / 40, 0, 0, 0, 0],
            [44 / 45, -56 / 15, 32 / 9, 0, 0, 0],
            [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729, 0, 0],
            [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656, 0],
        ],
        B=[35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
        C=[0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1],
        E=[-71 / 57600, 0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40],
        P=[
            [1, -8048581381 / 2820520608, 8663915743 / 2820520608, -12715105075 / 11282082432],
            [0, 0, 0, 0],
            [0, 131558114200 / 32700410799, -68118460800 / 10900136933, 87487479700 / 32700410799],
            [0, -1754552775 / 470086768, 14199869525 / 1410260304, -10690763975 / 1880347072],
            [
                0,
                127303824393 / 49829197408,
                -318862633887 / 49829197408,
                701980252875 / 199316789632,
            ],
            [0, -282668133 / 205662961, 2019193451 / 616988883, -1453857185 / 822651844],
            [0, 40617522 / 29380423, -110615467 / 29380423, 69997945 / 29380423],
        ],
        error_estimator_order=4,
    ),
)

# Dormand-Prince 8(5,3), scipy's DOP853: seventh-order dense output from 3 extra stages.
DOP853 = Method(
    name="DOP853",
    order=8,
    description="Dormand-Prince 8(5,3), 7th-order dense output (3 extra stages per step)",
    tableau=Tableau(
        A=_dop853.A,
        B=_dop853.B,
        C=_dop853.C,
        E=_dop853.E5,
        E3=_dop853.E3,
        P=_dop853.D,
        n_stages=_dop853.N_STAGES,
        n_rows=_dop853.N_STAGES_EXTENDED,
        n_dense=7,
        error_exponent=-1.0 / 8,
        error_estimator_order=7,
        error_kind=TWO_ESTIMATORS,
        dense_kind=DOP853_DENSE,
    ),
)


#: The methods by scipy's name.
METHODS: dict[str, Method] = {m.name: m for m in (RK23, RK45, DOP853)}

#: scipy's implicit methods, named in the error for them.
_IMPLICIT = ("Radau", "BDF", "LSODA")


def get_method(method) -> Method:
    """The :class:`Method` for a name as scipy accepts it (``"RK45"``), or a Method itself."""
    found = METHODS.get(method) if type(method) is str else None
    if found is not None:
        return found
    if isinstance(method, Method):
        return method
    available = ", ".join(repr(name) for name in METHODS)
    if isinstance(method, str) and method in _IMPLICIT:
        raise ValueError(
            f"method={method!r} is one of scipy's implicit methods, which workbench does not "
            f"provide; the available methods are the explicit {available} (use scipy for stiff "
            "problems)."
        )
    if isinstance(method, type) or not isinstance(method, str):
        raise ValueError(f"`method` must be the name of a method ({available}), got {method!r}.")
    raise ValueError(f"Unknown method {method!r}: the available methods are {available}.")
