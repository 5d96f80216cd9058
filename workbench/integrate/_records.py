"""The records the Runge-Kutta core passes around, and its status codes.

Options, work arrays, event state and outputs travel as named tuples (Numba types them as
records), so adding an option or a work array edits one type, not every signature.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

#: Internal status codes; the Python layer turns them into scipy's status and messages.
RUNNING = 1
FINISHED = 0
TERMINATED = 2  # a terminal event: scipy's status 1
NEED_ROOM = 3  # the step record or an event list is full: grow it and call again
NOT_STARTED = 4
STEP_TOO_SMALL = -1
NONFINITE_RHS = -2
BAD_GRID = -3  # t_eval rejected before integrating
INTERRUPTED = -4  # Ctrl-C or a time limit (see workbench._numba.interrupt)
RECORD_FULL = -5  # the step record reached its bound (a quarter of the machine's memory)

#: What :func:`grid_problem` finds wrong with output times.
GRID_OK = 0
GRID_OUTSIDE_SPAN = 1
GRID_OUT_OF_ORDER = 2

#: Slots of the run state ``st`` (float64; counts are exact below 2**53).
S_STATUS, S_T, S_H_ABS, S_NFEV, S_NACCEPT, S_NREJECT, S_NGRID, S_NREC, S_T_BAD = range(9)
N_STATE = 9


class Options(NamedTuple):
    """The solver options of one trajectory."""

    t0: float
    t1: float
    rtol: float
    atol: np.ndarray  # (n,)
    first_step: float  # 0: chosen automatically
    max_step: float
    direction: float  # +1 forward, -1 backward


class Work(NamedTuple):
    """Work arrays of one trajectory (``S`` = the method's ``n_rows``)."""

    K: np.ndarray  # (S, n) stages; K[0] = f(t, y)
    y: np.ndarray  # (n,) the current state
    y_new: np.ndarray  # (n,)
    tmp: np.ndarray  # (n,)
    Q: np.ndarray  # (n, n_dense) dense-output coefficients of the last step


class Events(NamedTuple):
    """Event functions' state and where their occurrences go (``e`` events, 0 for none).

    ``t_at[k, :]`` and ``y_at[k, :, :]`` keep the first ``cap`` occurrences of event ``k``;
    ``count[k]`` counts them all. With ``grow``, a full list makes :func:`integrate` return
    ``NEED_ROOM`` (single solves keep every occurrence); without, later ones are only counted.
    """

    direction: np.ndarray  # (e,) > 0 rising only, < 0 falling only, 0 both
    max_events: np.ndarray  # (e,) terminal after this many occurrences (inf: never)
    g: np.ndarray  # (e,) values at the current point
    g_new: np.ndarray  # (e,) values at the end of the step; scratch while root-finding
    count: np.ndarray  # (e,) int64 occurrences so far
    order: np.ndarray  # (e,) int64 scratch: the active events
    roots: np.ndarray  # (e,) scratch: their roots
    t_at: np.ndarray  # (e, cap)
    y_at: np.ndarray  # (e, cap, n)
    grow: bool


#: The column of a step row where the state starts (after t, h and nfev).
STEP_Y = 3


class Output(NamedTuple):
    """What a trajectory writes: values at ``t_eval``, and with ``record`` the steps.

    ``steps`` row ``i`` holds ``[t_i, h_i, nfev_i, y_i (n), Q_i (n * n_dense)]``: the state
    after step ``i``, the evaluations spent until then (rejected steps and dense output
    included: odeint's ``nfe``) and, with ``dense``, step ``i + 1``'s size and dense-output
    coefficients. The state starts at column :data:`STEP_Y`.
    """

    t_eval: np.ndarray  # (k,) sorted in the direction of integration
    y: np.ndarray  # (n, k)
    steps: np.ndarray  # (cap, 3 + n + n * n_dense) or (cap, 3 + n); (0, 1) when unused
    record: bool
    dense: bool
