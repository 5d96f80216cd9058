"""``minimize_bfgs_batch``: many independent BFGS fits (bootstrap resamples, random starts) at
once, each exactly the fit :func:`minimize_bfgs` would make.

Member i minimises ``fun(x, g, *[a[i] for a in member_args], *args)`` (the in-place form:
the value is returned, the gradient written into ``g``) from ``x0s[i]``. The per-member
arguments are rows of arrays (e.g. each resample's sample weights or row indices); ``args``
are shared (the data, stored once). ``cpu`` loops over members, ``parallel`` spreads them over
cores with ``prange``, ``cuda`` runs one member per GPU thread (:mod:`._cuda`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np
from numba import njit, prange, typeof, types
from numba.extending import overload

from .._numba import require_compiled
from .._numba.interrupt import new_stop, progress_poll, run_released
from ._bfgs_kernel import bfgs, work_arrays
from ._minimize import (
    _EPSILON,
    check_c1_c2,
    check_hess_inv0,
    check_outputs,
    dispatcher,
    gradient_mode,
    objective_adapter,
)
from ._objective import CompiledObjective, first_class, kernel_entry
from ._result import STATUS_MESSAGES
from ._scalar import COMBINED, NFEV, NGEV, XK

__all__ = ["BatchOptimizeResult", "minimize_bfgs_batch"]

# columns of the per-member statistics
STATUS, NIT, NFEV_COL, NJEV_COL = range(4)


def member_args_of(members, i):
    """Member ``i``'s arguments: row ``i`` of each per-member array (a 2-D array stands for
    the one-tuple of itself). Python body for the CUDA simulator; compiled code uses the
    overload below, which unrolls the tuple."""
    if isinstance(members, tuple):
        return tuple(a[i] for a in members)
    return (members[i],)


@overload(member_args_of, target="generic")
def _member_args_of_overload(members, i):
    if isinstance(members, types.Array):
        return lambda members, i: (members[i],)
    if not isinstance(members, types.BaseTuple):
        return None
    items = "".join(f"members[{k}][i], " for k in range(len(members)))
    namespace: dict = {}
    exec(f"def impl(members, i):\n    return ({items})\n", namespace)
    return namespace["impl"]


@njit(cache=True, error_model="numpy")
def fit_member(
    obj, args, x0, H0, fd, steps, gtol, ord, maxiter, xrtol, c1, c2, x, f, st, i, stop
):  # fmt: skip
    """Fit member ``i`` on the CPU (allocating its own work arrays) and store its results."""
    n = x0.shape[0]
    W, S, L, T, A = work_arrays(n)
    H = H0.copy()
    status, nit, fval = bfgs(
        obj, args, W, S, L, H, T, A, x0, fd, steps, gtol, ord, maxiter, xrtol, c1, c2,
        np.empty((0, n)), None, stop,
    )  # fmt: skip
    for k in range(n):
        x[i, k] = W[XK, k]
    f[i] = fval
    st[i, STATUS] = status
    st[i, NIT] = nit
    st[i, NFEV_COL] = S[NFEV]
    st[i, NJEV_COL] = S[NGEV]


@njit(cache=True, error_model="numpy", nogil=True)
def batch_serial(
    obj, shared, members, x0s, H0, fd, steps, gtol, ord, maxiter, xrtol, c1, c2, lo, hi, x, f, st,
    stop,
):  # fmt: skip
    for i in range(lo, hi):
        args = member_args_of(members, i) + shared
        fit_member(
            obj, args, x0s[i], H0, fd, steps, gtol, ord, maxiter, xrtol, c1, c2, x, f, st, i, stop
        )  # fmt: skip


@njit(cache=True, error_model="numpy", parallel=True, nogil=True)
def batch_parallel(
    obj, shared, members, x0s, H0, fd, steps, gtol, ord, maxiter, xrtol, c1, c2, lo, hi, x, f, st,
    stop,
):  # fmt: skip
    for i in prange(lo, hi):
        args = member_args_of(members, i) + shared
        fit_member(
            obj, args, x0s[i], H0, fd, steps, gtol, ord, maxiter, xrtol, c1, c2, x, f, st, i, stop
        )  # fmt: skip


_KERNELS = {"cpu": batch_serial, "parallel": batch_parallel}


@dataclass
class BatchOptimizeResult:
    """Results of :func:`minimize_bfgs_batch`, one row per member, with scipy's meanings."""

    x: np.ndarray  # (m, n) solutions
    fun: np.ndarray  # (m,) objective values there
    nit: np.ndarray  # (m,) iterations
    nfev: np.ndarray  # (m,) objective evaluations, counted as scipy counts them
    njev: np.ndarray  # (m,) gradient evaluations
    status: np.ndarray  # (m,) scipy's status codes (0 success)
    target: str  # where the fits ran

    @property
    def success(self) -> np.ndarray:
        return self.status == 0

    def message(self, i: int) -> str:
        """scipy's message for member ``i``'s status."""
        return STATUS_MESSAGES[int(self.status[i])]


def _member_arrays(member_args, member_data, m: int) -> tuple:
    if member_data is not None:
        if member_args is not None:
            raise ValueError("pass `member_args` or `member_data`, not both.")
        rows = np.ascontiguousarray(member_data)
        rows = rows[:, None] if rows.ndim == 1 else rows
        member_args = (rows,)
    if member_args is None:
        return ()
    if not isinstance(member_args, tuple):
        member_args = (member_args,)
    arrays = []
    for k, a in enumerate(member_args):
        a = np.ascontiguousarray(a)
        if a.ndim == 0 or a.shape[0] != m:
            raise ValueError(
                f"member_args[{k}] must have one row per member (first axis m = {m}), got "
                f"shape {a.shape}."
            )
        arrays.append(a)
    return tuple(arrays)


def _compiled_args(members: tuple, args: tuple) -> tuple[tuple, tuple]:
    """A CompiledObjective's ``(p, data)``: p = row i of one (m, k) float array, data = one
    shared float array."""
    if len(members) > 1 or len(args) > 1:
        raise ValueError(
            "a CompiledObjective batch takes member_args=(P,) with P of shape (m, k) (row i "
            "is member i's p) and args=(data,): at most one array each."
        )
    if members:
        P = np.ascontiguousarray(members[0], dtype=float)
        members = (P.reshape(P.shape[0], -1),)
    else:
        members = (np.empty((0, 0)),)
    data = np.ascontiguousarray(args[0], dtype=float).ravel() if args else np.empty(0)
    return members, (data,)


def minimize_bfgs_batch(
    fun,
    x0s,
    *,
    args=(),
    member_args=None,
    member_data=None,
    jac="inplace",
    target: str = "auto",
    gtol=1e-5,
    norm=np.inf,
    maxiter=None,
    eps=_EPSILON,
    finite_diff_rel_step=None,
    xrtol=0.0,
    c1=1e-4,
    c2=0.9,
    hess_inv0=None,
    chunk_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BatchOptimizeResult:
    """Minimise m independent problems with BFGS, each exactly as :func:`minimize_bfgs` would.

    Parameters
    ----------
    fun : callable or CompiledObjective
        The objective, run compiled (a plain Python function is compiled here; one Numba
        cannot compile raises ValueError: the batch has no plain-Python path). Its form
        depends on ``jac``: with ``jac="inplace"`` ``fun(x, g, *member_i, *args) -> float`` returns
        the value and writes the gradient into ``g`` (shape (n,)); otherwise
        ``fun(x, *member_i, *args)`` as in :func:`minimize_bfgs`. ``member_i`` is row i of
        each array of ``member_args``. A :class:`CompiledObjective` takes
        ``member_args=(P,)`` (member i gets ``p = P[i]``) and ``args=(data,)`` (the shared
        ``data``), and its CPU kernels load from Numba's cache.
    x0s : array_like, shape (m, n)
        One finite starting point per row.
    args : tuple, optional
        Extra arguments shared by all members (e.g. the data, stored once), passed after the
        member's own. A value that is not a tuple is one argument.
    member_args : tuple of array_like, optional
        Per-member arguments: arrays whose first axis has length m (e.g. each resample's
        sample weights or row indices); member i is called with row i of each. A single
        array stands for the one-tuple of itself.
    member_data : array_like, shape (m, k) or (m,), optional
        Shorthand for ``member_args=(member_data,)`` (a 1-D array is taken as (m, 1)). Give
        ``member_args`` or ``member_data``, not both.
    jac : {"inplace", None, '2-point', '3-point', True, callable}, optional
        ``"inplace"`` (default, the form every target accepts): ``fun`` writes the gradient
        into ``g``, and the fit is ``minimize_bfgs`` with ``jac=True`` on a function returning
        the same numbers as ``(value, gradient)``. ``None``/``'2-point'``/``'3-point'``:
        finite differences as in scipy (``eps``, ``finite_diff_rel_step``). ``True`` or a
        callable, as in :func:`minimize_bfgs`: CPU targets only. A CompiledObjective takes
        ``"inplace"``, None or True (it computes its own gradient).
    target : {"auto", "cpu", "parallel", "cuda"}, optional
        ``"cpu"`` loops over members; ``"parallel"`` spreads them over cores (``prange``);
        ``"cuda"`` runs one member per GPU thread (n <= 32); ``"auto"`` (default) picks
        one (:func:`workbench.targets.choose_target`).
    gtol : float, optional
        Stop a member when the ``norm``-norm of its gradient is at most ``gtol`` (default
        1e-5).
    norm : float, optional
        Order of the gradient norm (default ``np.inf``).
    maxiter : int, optional
        Maximum iterations per member (default ``200 * n``; must be >= 0).
    eps : float or array_like, shape (n,), optional
        Absolute finite-difference step for ``jac=None`` (default about 1.49e-8).
    finite_diff_rel_step : float or array_like, shape (n,), optional
        Relative finite-difference step for ``'2-point'``/``'3-point'`` (scipy's default
        when None).
    xrtol : float, optional
        Stop when a step is at most ``xrtol * (xrtol + |x|)`` (default 0).
    c1, c2 : float, optional
        The Wolfe conditions' constants, ``0 < c1 < c2 < 1`` (defaults 1e-4, 0.9).
    hess_inv0 : array_like, shape (n, n), optional
        Initial inverse Hessian shared by all members, symmetric positive definite (default
        the identity).
    chunk_size : int, optional
        Members a core takes at a time (``parallel``, dynamic scheduling) or per launch
        (``cuda``); chosen from m and the thread count when None.
    progress : callable, optional
        ``progress(done, total)``, called about ten times a second while the fits run (CPU
        targets; per launch on ``cuda``).

    Returns
    -------
    BatchOptimizeResult
        One row per member, with scipy's meanings:

        x : ndarray, shape (m, n)
            The solutions.
        fun : ndarray, shape (m,)
            The objective's value at each solution.
        nit, nfev, njev : ndarray of int64, shape (m,)
            Iterations, objective and gradient evaluations, counted as scipy counts them.
        status : ndarray of int64, shape (m,)
            scipy's status codes (0 success); ``success`` is ``status == 0`` and
            ``message(i)`` gives member i's message.
        target : str
            Where the fits ran (``"cpu"``, ``"parallel"`` or ``"cuda"``).

    Raises
    ------
    ValueError
        For ``x0s`` that is not a finite, non-empty (m, n) array, ``member_args`` without m
        rows, both ``member_args`` and ``member_data``, invalid ``c1``/``c2``/``hess_inv0``/
        ``maxiter``, a ``jac`` the target does not take, or a function whose value or
        gradient has the wrong shape (checked on member 0).

    See Also
    --------
    minimize_bfgs : one fit.

    Notes
    -----
    On ``cpu`` and ``parallel`` every member's numbers equal the single fit's bit for bit; on
    ``cuda`` they agree to rounding (the GPU's ``exp``/``log``/``pow`` may differ from the
    CPU's in the last bit). On the CPU the kernel runs with the GIL released while the calling
    thread waits, and Ctrl-C stops every member within an iteration. The options other than
    ``member_args``, ``member_data``, ``target``, ``chunk_size`` and ``progress`` are
    :func:`minimize_bfgs`'s, shared by all members.
    """
    from ..targets import choose_target

    x0s = np.ascontiguousarray(x0s, dtype=float)
    if x0s.ndim != 2 or x0s.size == 0:
        raise ValueError(
            f"`x0s` must be 2-D, shape (m, n): one starting point per row; got shape {x0s.shape}."
        )
    if not np.isfinite(x0s).all():
        raise ValueError("`x0s` must be finite; it contains NaN or infinity.")
    m, n = x0s.shape
    members = _member_arrays(member_args, member_data, m)
    if not isinstance(args, tuple):
        args = (args,)
    check_c1_c2(c1, c2)
    H0 = check_hess_inv0(hess_inv0, n)
    maxiter = 200 * n if maxiter is None else int(maxiter)
    if maxiter < 0:
        raise ValueError(f"`maxiter` must be >= 0, got {maxiter}.")
    choice = choose_target(target, batched=True).name

    if isinstance(fun, CompiledObjective):
        if jac not in ("inplace", None, True):
            raise ValueError("a CompiledObjective computes its own gradient: leave `jac` as is.")
        if members:
            fun.check_args(n, (np.asarray(members[0]), *args), "x0s[i]")
        elif args:
            fun.check_args(n, ((), *args), "x0s[i]")
        members, shared = _compiled_args(members, args)
        obj, mode, fd = fun.address, "compiled", COMBINED
        steps = np.full(n, math.nan)
        key = ("address", typeof(shared), typeof(members))
    else:
        original = fun
        fun = require_compiled(
            original, "fun", "minimize_bfgs_batch", lambda: dispatcher(original, "fun"),
            "minimize for each member",
        )  # fmt: skip
        if jac == "inplace":
            mode, fd, steps = "inplace", COMBINED, np.full(n, math.nan)
        else:
            mode, fd, steps = gradient_mode(jac, eps, finite_diff_rel_step, n)
        if choice == "cuda" and mode not in ("inplace", "value"):
            raise ValueError(
                "target 'cuda' takes jac='inplace' (fun(x, g, ...) writes the gradient) or "
                "finite differences (jac=None); a gradient function that returns an array "
                "would allocate in every GPU thread."
            )
        jac_fn = None
        if mode == "separate":
            jac_fn = require_compiled(
                jac, "jac", "minimize_bfgs_batch", lambda: dispatcher(jac, "jac"),
                "minimize for each member",
            )  # fmt: skip
        first = tuple(a[0] for a in members) + args  # member 0's arguments
        require_compiled(
            original, "fun", "minimize_bfgs_batch",
            lambda: check_outputs(fun, jac_fn, mode, x0s[0], first), "minimize for each member",
        )  # fmt: skip
        shared = args
        if choice != "cuda":
            obj, _ = first_class(objective_adapter(fun, jac_fn, mode), first)
            key = (obj.signature(), typeof(shared), typeof(members))

    x = np.empty((m, n))
    f = np.empty(m)
    st = np.zeros((m, 4))
    st[:, STATUS] = -1.0  # unfinished, for the progress poll
    chunk = int(chunk_size) if chunk_size else max(16, -(-m // 50))
    settings = (float(gtol), float(norm), maxiter, float(xrtol), float(c1), float(c2))
    if choice == "cuda":
        from ._cuda import run_batch_cuda

        run_batch_cuda(
            fun, shared, members, x0s, H0, fd, steps, settings, x, f, st, chunk, progress
        )
    else:
        stop = new_stop(signals=False)
        values = (obj, shared, members, x0s, H0, fd, steps, *settings, 0, m, x, f, st, stop)
        kernel = kernel_entry(_KERNELS[choice], values, key)
        per_core = -(-m // numba.get_num_threads())
        dynamic = int(chunk_size) if chunk_size else max(1, per_core // 16)

        def launch():
            with numba.parallel_chunksize(dynamic if choice == "parallel" else 0):
                kernel(*values)

        def finished() -> int:
            return int(np.count_nonzero(st[:, STATUS] >= 0))

        run_released(launch, (), stop, progress_poll(progress, finished, m))
    return BatchOptimizeResult(
        x=x,
        fun=f,
        nit=st[:, NIT].astype(np.int64),
        nfev=st[:, NFEV_COL].astype(np.int64),
        njev=st[:, NJEV_COL].astype(np.int64),
        status=st[:, STATUS].astype(np.int64),
        target=choice,
    )
