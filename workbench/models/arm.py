"""A planar two-link arm, ``M(q) q'' + C(q, q') + B q' = tau(t)``, driven by a tabulated torque.

The state is ``y = [q1, q2, q1', q2', W]``: joint angles (rad), angular velocities (rad/s) and
``W``, the work done on the arm by the torque and the damping, integrated alongside so that the
energy balance ``E(T) - E(0) = W(T)`` checks the solution (``E = q'^T M(q) q' / 2``).

Parameters travel as one float64 vector ``p = [a1, a2, a3, b11, b12, b21, b22]`` (one row per
ensemble member) and the torque as a packed table (:mod:`workbench.interpolate`).
"""

from __future__ import annotations

import math
import weakref

import numpy as np
from numba import carray, cfunc, njit

from ..integrate import RHS_SIGNATURE, CompiledRHS
from ..interpolate import TableError, table_channels, table_eval_into

N_STATE = 5
N_PARAMS = 7


def inertia_params(I1, I2, M2, L1, D2) -> tuple[float, float, float]:
    """``a1 = I1 + I2 + M2 L1^2``, ``a2 = M2 L1 D2``, ``a3 = I2``."""
    return I1 + I2 + M2 * L1**2, M2 * L1 * D2, I2


#: det M(q) = a3 (a1 - a3) - a2^2 cos^2 q2 must stay positive for every q2.
MASS_MATRIX_RULE = "M(q) must be positive definite: need I2 (I1 + M2 L1^2) > (M2 L1 D2)^2"


def mass_matrix_ok(I1, I2, M2, L1, D2):
    """Whether ``M(q)`` is positive definite for every angle (elementwise for arrays)."""
    a1, a2, a3 = inertia_params(I1, I2, M2, L1, D2)
    return a3 * (a1 - a3) > a2**2


def param_vector(I1, I2, M2, L1, D2, B) -> np.ndarray:
    """The parameter vector ``p`` of the dynamics from the physical parameters.

    Parameters
    ----------
    I1, I2 : float
        Each link's moment of inertia about its own joint (kg m^2).
    M2 : float
        The mass of link 2 (kg).
    L1 : float
        The length of link 1 (m).
    D2 : float
        The distance from joint 2 to link 2's centre of mass (m).
    B : array_like, shape (2, 2)
        The damping matrix (N m s/rad).

    Returns
    -------
    ndarray of float64, shape (7,)
        ``[a1, a2, a3, b11, b12, b21, b22]`` (:func:`inertia_params` and ``B`` row by row).
    """
    a1, a2, a3 = inertia_params(I1, I2, M2, L1, D2)
    B = np.asarray(B, dtype=float)
    return np.array([a1, a2, a3, B[0, 0], B[0, 1], B[1, 0], B[1, 1]])


@njit(cache=True, error_model="numpy", _nrt=False)
def arm_rhs(t, y, dydt, p, torque):
    """In-place dynamics; no allocation, so it also compiles as a CUDA device function."""
    # The torque is written into dydt[2:4] first: scratch space that is overwritten below.
    table_eval_into(torque, t, dydt, 2)
    tau1 = dydt[2]
    tau2 = dydt[3]
    a1, a2, a3 = p[0], p[1], p[2]
    w1, w2 = y[2], y[3]
    c = math.cos(y[1])
    s = math.sin(y[1])
    m11 = a1 + 2.0 * a2 * c
    m12 = a3 + a2 * c
    m22 = a3
    # Generalised forces left for the accelerations: tau - C(q, q') - B q'.
    d1 = tau1 - p[3] * w1 - p[4] * w2
    d2 = tau2 - p[5] * w1 - p[6] * w2
    r1 = d1 + a2 * s * w2 * (2.0 * w1 + w2)
    r2 = d2 - a2 * s * w1 * w1
    # M is 2x2 symmetric: Cramer's rule, no inverse.
    det = m11 * m22 - m12 * m12
    dydt[0] = w1
    dydt[1] = w2
    dydt[2] = (m22 * r1 - m12 * r2) / det
    dydt[3] = (m11 * r2 - m12 * r1) / det
    # Power of torque and damping; the Coriolis forces do no work.
    dydt[4] = w1 * d1 + w2 * d2


@cfunc(RHS_SIGNATURE, cache=True, error_model="numpy")
def _arm_rhs_c(t, y, dydt, n, p, n_p, d, n_d):
    arm_rhs(t, carray(y, (n,)), carray(dydt, (n,)), carray(p, (n_p,)), carray(d, (n_d,)))


def check_torque_table(torque, n=None) -> None:
    """Raise ValueError unless ``torque`` is a packed table of two channels (the arm's
    ``data``): a raw (2, N) table or anything else would be read as garbage. A table that
    passed is remembered (by a weak reference) and not checked again: a loop of solves over
    one table pays for the check once."""
    known = _checked_tables.get(id(torque))
    if known is not None and known() is torque:
        return
    try:
        channels = table_channels(torque)
    except TableError:
        raise ValueError(
            f"arm_rhs reads its torque as a packed table, args=(p, torque); got an array of "
            f"shape {np.shape(torque)} that is not one: build it with "
            "workbench.interpolate.pack_table(t, values), values of shape (2, N)."
        ) from None
    if channels != 2:
        raise ValueError(f"arm_rhs needs a torque table with 2 channels; this one has {channels}.")
    if len(_checked_tables) > 64:
        _checked_tables.clear()
    _checked_tables[id(torque)] = weakref.ref(torque)


_checked_tables: dict = {}


#: The arm's right-hand side as a cached C callback, for ``solve_ivp``/``solve_ivp_batch``:
#: 5 states, p of length 7, a packed torque table of 2 channels (checked before any step).
ARM_RHS = CompiledRHS(
    _arm_rhs_c,
    arm_rhs.py_func,
    n=N_STATE,
    p=N_PARAMS,
    data=check_torque_table,
    state="q1, q2, q1', q2' and W, the work done, integrated alongside: append 0.0 for it",
)


@njit(cache=True, error_model="numpy")
def arm_rhs_out(t, y, p, torque):
    """Out-of-place form ``f(t, y, p, torque)`` of the same arithmetic (for scipy parity)."""
    dydt = np.empty(N_STATE)
    arm_rhs(t, y, dydt, p, torque)
    return dydt


def kinetic_energy(q2, qd1, qd2, p) -> np.ndarray:
    """``E = q'^T M(q) q' / 2`` (vectorised over samples)."""
    a1, a2, a3 = p[0], p[1], p[2]
    c = np.cos(q2)
    return 0.5 * ((a1 + 2 * a2 * c) * qd1**2 + 2 * (a3 + a2 * c) * qd1 * qd2 + a3 * qd2**2)


def energy_error(y: np.ndarray, p) -> float:
    """``|E(T) - E(0) - W(T)| / max(E)`` over the samples ``y`` (5, k)."""
    E = kinetic_energy(y[1], y[2], y[3], p)
    scale = float(np.max(np.abs(E)))
    if scale == 0.0:
        return float(abs(y[4, -1] - y[4, 0]))
    return float(abs(E[-1] - E[0] - (y[4, -1] - y[4, 0])) / scale)


def end_effector(q1, q2, L1, L2) -> tuple[np.ndarray, np.ndarray]:
    """Forward kinematics: the tip of the second link in the plane."""
    x = L1 * np.cos(q1) + L2 * np.cos(q1 + q2)
    y = L1 * np.sin(q1) + L2 * np.sin(q1 + q2)
    return x, y


#: Quantities an event can watch, and their unit in configs (angles in degrees).
EVENT_QUANTITIES = {
    "q1": "deg",
    "q2": "deg",
    "q1dot": "deg/s",
    "q2dot": "deg/s",
    "x": "m",
    "y": "m",
}
_STATE_INDEX = {"q1": 0, "q2": 1, "q1dot": 2, "q2dot": 3}
_events: dict = {}


def event_function(quantity: str, threshold: float, L1: float, L2: float):
    """``event(t, y, p, torque) = quantity(y) - threshold`` as an ``@njit`` function, in SI
    units (radians for angles): a joint angle or velocity, or the end effector's ``x``/``y``
    (:func:`end_effector` with these link lengths). Made once per process for each set of
    values; it fits both ``solve_ivp``'s ``args=(p, torque)`` and a batch's member ``p``."""
    key = (quantity, float(threshold), float(L1), float(L2))
    fn = _events.get(key)
    if fn is not None:
        return fn
    threshold = float(threshold)
    if quantity in _STATE_INDEX:
        i = _STATE_INDEX[quantity]

        @njit(error_model="numpy")
        def fn(t, y, p, torque):
            return y[i] - threshold

    elif quantity in ("x", "y"):
        use_cos = quantity == "x"
        l1, l2 = float(L1), float(L2)

        @njit(error_model="numpy")
        def fn(t, y, p, torque):
            if use_cos:
                return l1 * math.cos(y[0]) + l2 * math.cos(y[0] + y[1]) - threshold
            return l1 * math.sin(y[0]) + l2 * math.sin(y[0] + y[1]) - threshold

    else:
        raise ValueError(f"unknown quantity {quantity!r}; use one of {list(EVENT_QUANTITIES)}")
    _events[key] = fn
    return fn
