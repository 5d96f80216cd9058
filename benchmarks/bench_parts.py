"""Where the time of one small solve or fit goes: the parts behind the single-call ratios.

For the bundled arm (configs/arm.yaml) at rtol 1e-3 and 1e-6, best times of:
- the whole ``solve_ivp`` call with the 1001 output samples, and with 2 (the difference is
  the dense output);
- the same call on an empty interval (t0 == t1): the fixed cost of a call (argument checks,
  the call into compiled code, one right-hand-side evaluation, the result object);
- one right-hand-side evaluation through its C callback, from compiled code;
- what is left for the steps themselves: (2-sample call) - (fixed) - nfev x (one evaluation);
and the budget a 300x ratio against scipy's own call leaves. Then where one member of the
ensemble (configs/arm_ensemble.yaml, on one core) spends its time: right-hand side, steps (at
the single solve's cost per step) and the rest (a member's set-up and its 11 outputs). Then one
evaluation of the logistic loss and gradient on the seed data (configs/logreg.yaml, 100 x 3).

The users' path: the arm at rtol 1e-6 with a user's ``@njit`` right-hand side that returns a
new array, against its compute floor (its evaluations in a compiled loop, plus the steps and
the dense output); the fixed cost of ``solve_ivp`` with that function and with ``ARM_RHS``;
and of ``minimize`` (``maxiter=0``) with a user's ``@njit`` logistic loss and gradient and
with the compiled objective.

What polling for Ctrl-C costs (:mod:`workbench._numba.interrupt`): the arm's ``to_grid`` kernel
at rtol 1e-6 with its stop array against the same kernel compiled without the check
(``stop=None``), timed alternately in rounds (median of the per-round ratios).

Absolute times (this is a breakdown, not a ratio): minimums over repeats, which are the least
disturbed by other load on a shared machine.

Run: ``python benchmarks/bench_parts.py``.
"""

from __future__ import annotations

import timeit
from pathlib import Path

import numpy as np
from numba import njit
from scipy.integrate import solve_ivp as scipy_solve_ivp

from workbench.config import resolve
from workbench.experiments import arm as exp
from workbench.experiments.logreg import Problem
from workbench.integrate import solve_ivp, solve_ivp_batch
from workbench.integrate._rhs import call_rhs
from workbench.models import arm as model
from workbench.models import logistic
from workbench.models.reference import arm_rhs_interp
from workbench.optimize import minimize

ROOT = Path(__file__).resolve().parents[1]


def best(fn, number: int, repeats: int = 15) -> float:
    """Least seconds per call over ``repeats`` rounds of ``number`` calls, after one call."""
    fn()
    return min(timeit.repeat(fn, number=number, repeat=repeats)) / number


@njit
def _rhs_loop(address, count, y, dydt, p, torque):
    acc = 0.0
    for i in range(count):  # times spread over [0, 1) as a solve would ask for them
        call_rhs(address, (i % 1000) * 1e-3, y, dydt, p, torque)  # (p, data) for a callback
        acc += dydt[2]
    return acc


def arm(rtol: float) -> float:
    cfg = resolve(ROOT / "configs/arm.yaml", [f"solver.rtol={rtol}", f"solver.atol={rtol * 1e-3}"])
    p, torque = cfg.arm.vector(), exp.packed_torque(cfg)
    t_grid, table = exp.torque_table(cfg)
    y0 = exp.initial_state(cfg.initial.q_deg, cfg.initial.qdot_deg_s)
    s = cfg.solver
    t_eval = s.output_times()

    def ours(span, grid):
        return lambda: solve_ivp(
            model.ARM_RHS, span, y0, args=(p, torque), t_eval=grid, rtol=s.rtol, atol=s.atol
        )

    full = ours(s.t_span, t_eval)
    res = full()
    t_full = best(full, 300)
    t_two = best(ours(s.t_span, t_eval[[0, -1]]), 300)
    t_fixed = best(ours((0.0, 0.0), t_eval[:1]), 2000)
    count = 1_000_000
    dydt = np.empty_like(y0)
    loop = lambda: _rhs_loop(model.ARM_RHS.address, count, y0, dydt, p, torque)  # noqa: E731
    t_rhs = best(loop, 1, repeats=5) / count
    t_scipy = best(
        lambda: scipy_solve_ivp(
            arm_rhs_interp, s.t_span, y0, args=(t_grid, table, p), t_eval=t_eval, rtol=s.rtol,
            atol=s.atol,
        ),
        3,
        repeats=5,
    )  # fmt: skip
    steps = res.naccept + res.nreject
    t_steps = t_two - t_fixed - res.nfev * t_rhs
    us = 1e6
    print(f"arm, rtol {rtol:g}: {res.nfev} evaluations, {steps} steps ({res.nreject} rejected)")
    print(f"  whole call, 1001 samples            {t_full * us:7.2f} us")
    print(f"    dense output (1001 - 2 samples)   {(t_full - t_two) * us:7.2f} us")
    print(f"    fixed cost (empty interval)       {t_fixed * us:7.2f} us")
    print(
        f"    right-hand side                   {res.nfev * t_rhs * us:7.2f} us"
        f"   ({t_rhs * 1e9:.1f} ns per evaluation)"
    )
    print(
        f"    steps, the rest                   {t_steps * us:7.2f} us"
        f"   ({t_steps / steps * 1e9:.0f} ns per step)"
    )
    print(
        f"  scipy with the numpy rhs {t_scipy * 1e3:.2f} ms: a 300x ratio leaves"
        f" {t_scipy / 300 * us:.2f} us (ratio now {t_scipy / t_full:.0f}x)"
    )
    return t_steps / steps, t_full - t_two


@njit
def user_arm_rhs(t, y, p, torque):
    """A user's own ``@njit`` right-hand side in scipy's form: it returns a new array."""
    dydt = np.empty(5)
    model.arm_rhs(t, y, dydt, p, torque)
    return dydt


@njit
def _user_loop(fn, count, y, p, torque):
    acc = 0.0
    for i in range(count):
        acc += fn((i % 1000) * 1e-3, y, p, torque)[2]
    return acc


def user_functions(rtol: float, step_cost: float, dense_cost: float) -> None:
    """The arm through ``solve_ivp`` with a user's out-of-place ``@njit`` function, against
    its compute floor: its evaluations in a compiled loop, the steps (at the bundled solve's
    cost per step) and the dense output. And the fixed cost of a call, user function against
    the compiled form."""
    cfg = resolve(ROOT / "configs/arm.yaml", [f"solver.rtol={rtol}", f"solver.atol={rtol * 1e-3}"])
    p, torque = cfg.arm.vector(), exp.packed_torque(cfg)
    y0 = exp.initial_state(cfg.initial.q_deg, cfg.initial.qdot_deg_s)
    s = cfg.solver
    t_eval = s.output_times()

    def call(fun, span, grid):
        return lambda: solve_ivp(
            fun, span, y0, args=(p, torque), t_eval=grid, rtol=s.rtol, atol=s.atol
        )

    res = call(user_arm_rhs, s.t_span, t_eval)()
    t_whole = best(call(user_arm_rhs, s.t_span, t_eval), 300)
    count = 1_000_000
    t_call = best(lambda: _user_loop(user_arm_rhs, count, y0, p, torque), 1, repeats=5) / count
    steps = res.naccept + res.nreject
    floor = res.nfev * t_call + steps * step_cost + dense_cost
    fixed_user = best(call(user_arm_rhs, (0.0, 0.0), t_eval[:1]), 2000)
    fixed_compiled = best(call(model.ARM_RHS, (0.0, 0.0), t_eval[:1]), 2000)
    us = 1e6
    print(f"arm with a user @njit rhs returning a new array, rtol {rtol:g}: {res.nfev} evaluations")
    print(f"  whole call, 1001 samples            {t_whole * us:7.2f} us")
    print(f"  compute floor                       {floor * us:7.2f} us   (whole / floor "
          f"{t_whole / floor:.2f})")  # fmt: skip
    print(f"    {res.nfev} evaluations in a compiled loop {res.nfev * t_call * us:7.2f} us"
          f"   ({t_call * 1e9:.1f} ns each)")  # fmt: skip
    print(f"    steps and dense output            {(steps * step_cost + dense_cost) * us:7.2f} us")
    print(f"  fixed cost, user function           {fixed_user * us:7.2f} us")
    print(f"  fixed cost, CompiledRHS             {fixed_compiled * us:7.2f} us")


@njit
def user_loss(w, X, y):
    """A user's own ``@njit`` logistic loss (mean log-loss, stable form) and gradient."""
    z = X @ w
    return np.mean(np.logaddexp(0.0, z) - y * z)


@njit
def user_grad(w, X, y):
    h = 1.0 / (1.0 + np.exp(-(X @ w)))
    return X.T @ (h - y) / X.shape[0]


@njit
def _loss_and_grad_loop(count, w, X, y):
    acc = 0.0
    for _ in range(count):
        acc += user_loss(w, X, y) + user_grad(w, X, y)[0]
    return acc


def minimize_fixed_cost() -> None:
    """``minimize`` with ``maxiter=0`` (one value and gradient, then the result): the fixed
    cost of a call with a user's ``@njit`` functions and with the compiled objective."""
    problem = Problem(resolve(ROOT / "configs/logreg.yaml"))
    X, y = np.ascontiguousarray(problem.Z), problem.y.astype(float)
    x0 = np.zeros(X.shape[1])
    count = 20_000
    one = best(lambda: _loss_and_grad_loop(count, x0, X, y), 1, repeats=7) / count
    t_user = best(
        lambda: minimize(user_loss, x0, args=(X, y), jac=user_grad, options={"maxiter": 0}),
        2000,
    )
    data = logistic.pack_data(X, y, 0.0, 0)
    t_compiled = best(
        lambda: minimize(logistic.LOGISTIC, x0, args=(np.empty(0), data), options={"maxiter": 0}),
        2000,
    )
    us = 1e6
    print(f"minimize, maxiter=0, logistic {X.shape[0]} x {X.shape[1]}:")
    print(
        f"  user @njit loss and gradient        {t_user * us:7.2f} us"
        f"   (fixed cost {(t_user - one) * us:.2f} us after one evaluation, {one * us:.2f} us)"
    )
    print(f"  CompiledObjective                   {t_compiled * us:7.2f} us")  # fmt: skip


class _Decay:
    """A plain-Python right-hand side Numba cannot compile (a bound method)."""

    def rhs(self, t, y):
        return -y


def python_overhead() -> None:
    """What the plain-Python path adds per evaluation: ``solve_ivp`` on a trivial bound
    method, per evaluation, against the bare call (with the copy of y scipy also makes)."""
    import warnings

    from workbench.integrate import PythonFallbackWarning

    fun = _Decay().rhs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PythonFallbackWarning)
        res = solve_ivp(fun, (0.0, 10.0), [1.0], rtol=1e-8, atol=1e-10)
        t_solve = best(lambda: solve_ivp(fun, (0.0, 10.0), [1.0], rtol=1e-8, atol=1e-10), 20, 5)
    y = np.ones(1)
    t_call = best(lambda: fun(0.0, y.copy()), 100_000, 5)
    per_eval = t_solve / res.nfev
    print(f"plain Python rhs (a bound method), {res.nfev} evaluations:")
    print(f"  per evaluation through solve_ivp    {per_eval * 1e6:7.2f} us   (the bare call "
          f"{t_call * 1e6:.2f} us: {(per_eval - t_call) * 1e6:.2f} us added)")  # fmt: skip


def ensemble_member(step_cost: float) -> None:
    """One member's time in the 10,000-member ensemble on one core (``target="cpu"``)."""
    cfg = resolve(ROOT / "configs/arm_ensemble.yaml", ["ensemble.size=2000"])
    torque = exp.packed_torque(cfg)
    y0s, params = exp.ensemble_members(cfg)
    s, t_eval = cfg.solver, cfg.solver.output_times(cfg.ensemble.t_eval)

    def run():
        return solve_ivp_batch(
            model.ARM_RHS, s.t_span, y0s, params=params, args=(torque,), t_eval=t_eval,
            rtol=s.rtol, atol=s.atol, target="cpu",
        )  # fmt: skip

    res = run()
    m = y0s.shape[0]
    per_member = best(run, 1, repeats=5) / m
    count = 1_000_000
    dydt = np.empty(5)
    loop = lambda: _rhs_loop(model.ARM_RHS.address, count, y0s[0], dydt, params[0], torque)  # noqa: E731
    t_rhs = best(loop, 1, repeats=5) / count
    nfev, steps = res.nfev.mean(), (res.naccept + res.nreject).mean()
    us = 1e6
    rest = per_member - nfev * t_rhs - steps * step_cost
    print(f"ensemble member, rtol {s.rtol:g}: {nfev:.1f} evaluations, {steps:.1f} steps (mean)")
    print(f"  one member on one core               {per_member * us:7.2f} us")
    print(f"    right-hand side                    {nfev * t_rhs * us:7.2f} us")
    print(
        f"    steps (at {step_cost * 1e9:.0f} ns)                {steps * step_cost * us:7.2f} us"
    )
    print(f"    set-up and the {t_eval.size} outputs          {rest * us:7.2f} us")


@njit
def _loss_loop(count, w, g, X, y, c):
    acc = 0.0
    for _ in range(count):
        acc += logistic.loss_grad(w, g, X, y, c, 0.0, 1, True)
    return acc


def loss() -> None:
    problem = Problem(resolve(ROOT / "configs/logreg.yaml"))
    w = np.array([0.3, -0.2, 0.1])
    g = np.empty(3)
    X = np.ascontiguousarray(problem.Z)
    y, c = problem.y.astype(float), np.empty(0)

    count = 20_000
    t = best(lambda: _loss_loop(count, w, g, X, y, c), 1, repeats=7) / count
    m, n = X.shape
    print(f"logistic loss and gradient, {m} x {n}: {t * 1e6:.3f} us per evaluation")


def interrupt_polling() -> None:
    from _timing import paired_times

    from workbench._numba.interrupt import stop_for_call
    from workbench.integrate._ivp import _callables
    from workbench.integrate._kernels import KERNELS

    cfg = resolve(ROOT / "configs/arm.yaml", ["solver.rtol=1e-6", "solver.atol=1e-9"])
    p, torque = cfg.arm.vector(), exp.packed_torque(cfg)
    y0 = exp.initial_state(cfg.initial.q_deg, cfg.initial.qdot_deg_s)
    s = cfg.solver
    t_eval = s.output_times()
    out = np.empty((y0.size, t_eval.size))
    to_grid = KERNELS["RK45"].to_grid
    atol = np.full(y0.size, s.atol)
    tail = (*s.t_span, y0, t_eval, 0.0, s.rtol, atol, np.inf, out)
    # the compiled model, and a user's own @njit function as solve_ivp passes it (its C wrapper)
    rhs, _, p_user, data, _, _, _ = _callables(user_arm_rhs, None, s.t_span[0], y0, (p, torque))
    for label, head in (
        ("ARM_RHS", (model.ARM_RHS.address, p, torque)),
        ("a user's @njit rhs", (rhs, p_user, data)),
    ):
        polled = lambda head=head: to_grid(*head, *tail, stop_for_call())  # noqa: E731
        unpolled = lambda head=head: to_grid(*head, *tail, None)  # noqa: E731
        t_polled, t_unpolled, ratio = paired_times(
            polled, unpolled, rounds=21, number=200, ref_number=200
        )
        print(f"polling for Ctrl-C, arm at rtol 1e-6 (to_grid kernel), {label}:")
        print(f"  with the stop array                 {t_polled * 1e6:7.2f} us")
        print(f"  compiled without the check          {t_unpolled * 1e6:7.2f} us")
        print(f"  cost of polling                     {(1 / ratio - 1) * 100:+7.2f} %  (median of "
              "paired rounds)")  # fmt: skip


@njit
def user_rosen(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        s += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


def bfgs_polling() -> None:
    """BFGS polls before every evaluation: the kernel with the stop array against the same
    kernel compiled with ``stop=None`` (the poll compiled away), on a user's 10-d Rosenbrock
    with finite differences (1332 evaluations of about a tenth of a microsecond: the worst
    case, where the poll is largest beside an evaluation)."""
    from _timing import paired_times

    from workbench._numba import kernel_entry
    from workbench._numba.interrupt import stop_for_call
    from workbench.optimize import _bfgs_kernel
    from workbench.optimize._minimize import prepare

    n = 10
    x0 = np.full(n, -1.0)
    x0[::2] = -1.2
    obj, args, fd, steps, key, _ = prepare(user_rosen, x0, (), None, 1.4901161193847656e-08, None)
    settings = (1e-5, np.inf, 200 * n, 0.0, 1e-4, 0.9)

    def fit(stop):
        H, x, g = np.empty((n, n)), np.empty(n), np.empty(n)
        values = (obj, args, x0, np.empty((0, 0)), fd, steps, *settings, H, x, g,
                  np.empty((0, n)), 0, stop)  # fmt: skip
        return kernel_entry(_bfgs_kernel.bfgs_one, values, (key, stop is None))(*values)

    assert fit(stop_for_call())[3] == fit(None)[3]  # the same evaluations
    t_polled, t_unpolled, ratio = paired_times(
        lambda: fit(stop_for_call()), lambda: fit(None), rounds=21, number=200, ref_number=200
    )
    print(f"polling for Ctrl-C, BFGS on a user's 10-d Rosenbrock ({fit(None)[3]} evaluations):")
    print(f"  with the stop array                 {t_polled * 1e6:7.2f} us")
    print(f"  compiled without the check          {t_unpolled * 1e6:7.2f} us")
    print(f"  cost of polling                     {(1 / ratio - 1) * 100:+7.2f} %  (median of "
          "paired rounds)")  # fmt: skip


if __name__ == "__main__":
    np.seterr(all="ignore")
    interrupt_polling()
    bfgs_polling()
    step_cost, dense_cost = [arm(rtol) for rtol in (1e-3, 1e-6)][-1]
    user_functions(1e-6, step_cost, dense_cost)
    minimize_fixed_cost()
    python_overhead()
    ensemble_member(step_cost)
    loss()
