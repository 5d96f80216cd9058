"""Arm benchmarks: our Runge-Kutta methods against scipy's, measured in one process after warm-up.

Prints ratios (reference time / our time), medians over repeats:
- one trajectory (configs/arm.yaml, 1001 output samples) at rtol 1e-3 and 1e-6, timed
  alternately with the reference (the ratio is the median of the rounds' ratios), against
  ``scipy.integrate.solve_ivp`` given the seed's numpy right-hand side (``np.interp`` and a
  matrix inverse: what its users run), and separately given our own ``@njit`` function;
- the same single trajectory for each method (RK23, RK45, DOP853) at rtol 1e-6 against
  scipy with the numpy right-hand side; with a user's own ``@njit`` right-hand side
  (out-of-place, ``args=(p, torque)``) through the public API against scipy given the same
  function; and the ensemble rate (members per second) of each;
- the cost of an event: the single solve with a (never terminal) event on the elbow angle
  against the same solve without, and against scipy with the same event;
- the 10,000-member ensemble (configs/arm_ensemble.yaml) on ``parallel`` against scipy looped
  over members with the numpy right-hand side (a few hundred members timed, then scaled);
- scheduling: the same ensemble on ``cpu`` against ``parallel`` with one thread and with all
  (the parallel target must never be slower than one thread), timed alternately;
- latency: the first-ever run (empty compile cache) and a second process with the cache warm,
  medians of 5 process starts of ``workbench run configs/arm.yaml``.

Run: ``make bench`` or ``python benchmarks/bench_arm.py [--quick]``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp as scipy_solve_ivp

sys.path.insert(0, str(Path(__file__).parent))
from _timing import median_time, paired_times, process_wall, report, workbench_argv  # noqa: E402

from workbench.config import resolve  # noqa: E402
from workbench.experiments import arm as exp  # noqa: E402
from workbench.integrate import solve_ivp, solve_ivp_batch  # noqa: E402
from workbench.models import arm as model  # noqa: E402
from workbench.models.reference import arm_rhs_interp  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUICK = "--quick" in sys.argv


def arm_problem(overrides=()):
    """The bundled arm (configs/arm.yaml): config, parameters, packed torque, the torque table
    (grid and values, for the numpy right-hand side), y0 and the solver keywords."""
    cfg = resolve(ROOT / "configs/arm.yaml", list(overrides))
    p, torque = cfg.arm.vector(), exp.packed_torque(cfg)
    t_grid, table = exp.torque_table(cfg)
    y0 = exp.initial_state(cfg.initial.q_deg, cfg.initial.qdot_deg_s)
    s = cfg.solver
    return (
        cfg,
        p,
        torque,
        t_grid,
        table,
        y0,
        dict(t_eval=s.output_times(), rtol=s.rtol, atol=s.atol),
    )


def single(rtol: float) -> None:
    overrides = [f"solver.rtol={rtol}", f"solver.atol={rtol * 1e-3}"]
    cfg, p, torque, t_grid, table, y0, kw = arm_problem(overrides)
    s = cfg.solver

    def ours():
        return solve_ivp(model.ARM_RHS, s.t_span, y0, args=(p, torque), **kw)

    def scipy_numpy():
        return scipy_solve_ivp(arm_rhs_interp, s.t_span, y0, args=(t_grid, table, p), **kw)

    def njit_rhs(t, y):
        return model.arm_rhs_out(t, y, p, torque)

    def scipy_njit():
        return scipy_solve_ivp(njit_rhs, s.t_span, y0, **kw)

    r, a, b = ours(), scipy_numpy(), scipy_njit()
    print(f"rtol {rtol:g}: nfev ours {r.nfev}, scipy(numpy rhs) {a.nfev}, scipy(njit rhs) {b.nfev}")
    rounds, number = (9, 100) if not QUICK else (3, 10)
    for label, reference in (("numpy rhs", scipy_numpy), ("same @njit rhs", scipy_njit)):
        t_ours, t_ref, ratio = paired_times(ours, reference, rounds=rounds, number=number)
        report(f"  one trajectory vs scipy + {label} (rtol {rtol:g})", t_ours, t_ref, ratio=ratio)


def methods() -> None:
    """Per method: the single-trajectory ratio against scipy, and the ensemble rate."""
    cfg, p, torque, t_grid, table, y0, kw = arm_problem()
    s = cfg.solver
    size = 10_000 if not QUICK else 1000
    ens = resolve(ROOT / "configs/arm_ensemble.yaml", [f"ensemble.size={size}"])
    y0s, params = exp.ensemble_members(ens)
    ens_kw = dict(
        params=params, args=(exp.packed_torque(ens),), rtol=ens.solver.rtol,
        atol=ens.solver.atol, t_eval=ens.solver.output_times(ens.ensemble.t_eval),
        target="parallel",
    )  # fmt: skip
    rounds, number = (9, 100) if not QUICK else (3, 10)
    for method in ("RK23", "RK45", "DOP853"):

        def ours(method=method):
            return solve_ivp(model.ARM_RHS, s.t_span, y0, args=(p, torque), method=method, **kw)

        def scipy_numpy(method=method):
            return scipy_solve_ivp(
                arm_rhs_interp, s.t_span, y0, args=(t_grid, table, p), method=method, **kw
            )

        r, a = ours(), scipy_numpy()
        t_ours, t_ref, ratio = paired_times(ours, scipy_numpy, rounds=rounds, number=number)
        report(
            f"  {method} one trajectory (nfev {r.nfev}/{a.nfev}) vs scipy + numpy rhs",
            t_ours,
            t_ref,
            ratio=ratio,
        )

        # A user's own @njit function through the public API (wrapped as a C callback), and
        # scipy given the same function.
        def ours_user(method=method):
            return solve_ivp(model.arm_rhs_out, s.t_span, y0, args=(p, torque), method=method, **kw)

        def scipy_user(method=method):
            return scipy_solve_ivp(
                model.arm_rhs_out, s.t_span, y0, args=(p, torque), method=method, **kw
            )

        t_ours, t_ref, ratio = paired_times(ours_user, scipy_user, rounds=rounds, number=number)
        report(
            f"  {method} with a user's @njit rhs vs scipy + the same", t_ours, t_ref, ratio=ratio
        )

        def batch(method=method):
            return solve_ivp_batch(model.ARM_RHS, ens.solver.t_span, y0s, method=method, **ens_kw)

        t_batch = median_time(batch, repeats=5 if not QUICK else 2)
        print(f"  {method} ensemble of {size} on parallel: {size / t_batch:,.0f} members/s")


def event_cost() -> None:
    """A non-terminal event on the elbow angle: its cost per solve."""
    cfg, p, torque, t_grid, table, y0, kw = arm_problem()
    s = cfg.solver
    elbow = model.event_function("q2", 2.5, cfg.arm.L1, cfg.arm.L2)

    def plain():
        return solve_ivp(model.ARM_RHS, s.t_span, y0, args=(p, torque), **kw)

    def with_event():
        return solve_ivp(model.ARM_RHS, s.t_span, y0, args=(p, torque), events=elbow, **kw)

    def scipy_event():
        return scipy_solve_ivp(
            arm_rhs_interp, s.t_span, y0, args=(t_grid, table, p), events=ref_elbow, **kw
        )

    def ref_elbow(t, y, *args):
        return y[1] - 2.5

    count = with_event().t_events[0].size
    rounds, number = (9, 100) if not QUICK else (3, 10)
    t_with, t_without, _ = paired_times(with_event, plain, rounds=rounds, number=number)
    print(
        f"  one event ({count} crossings): {t_without * 1e6:.1f} us without, "
        f"{t_with * 1e6:.1f} us with: {(t_with - t_without) * 1e6:.1f} us per solve for it"
    )
    t_ours, t_ref, ratio = paired_times(with_event, scipy_event, rounds=rounds, number=number)
    report("  one trajectory with the event vs scipy + numpy rhs", t_ours, t_ref, ratio=ratio)


def ensemble() -> None:
    size = 10_000 if not QUICK else 1000
    cfg = resolve(ROOT / "configs/arm_ensemble.yaml", [f"ensemble.size={size}"])
    torque = exp.packed_torque(cfg)
    y0s, params = exp.ensemble_members(cfg)
    s, t_eval = cfg.solver, cfg.solver.output_times(cfg.ensemble.t_eval)
    t_grid, table = exp.torque_table(cfg)

    def ours():
        return solve_ivp_batch(
            model.ARM_RHS,
            s.t_span,
            y0s,
            params=params,
            args=(torque,),
            t_eval=t_eval,
            rtol=s.rtol,
            atol=s.atol,
            target="parallel",
        )

    sample = 200 if not QUICK else 20

    def scipy_loop():
        for i in range(sample):
            scipy_solve_ivp(
                arm_rhs_interp,
                s.t_span,
                y0s[i],
                t_eval=t_eval,
                rtol=s.rtol,
                atol=s.atol,
                args=(t_grid, table, params[i]),
            )

    t_ours = median_time(ours, repeats=5 if not QUICK else 2)
    t_ref = median_time(scipy_loop, repeats=3 if not QUICK else 1) * size / sample
    report(
        f"ensemble of {size} on parallel vs scipy loop (scaled from {sample})",
        t_ours,
        t_ref,
        unit="s",
    )


def scheduling() -> None:
    import numba

    size = 10_000 if not QUICK else 1000
    cfg = resolve(ROOT / "configs/arm_ensemble.yaml", [f"ensemble.size={size}"])
    torque = exp.packed_torque(cfg)
    y0s, params = exp.ensemble_members(cfg)
    s, t_eval = cfg.solver, cfg.solver.output_times(cfg.ensemble.t_eval)
    threads = numba.get_num_threads()

    def on(target, n):
        def call():
            numba.set_num_threads(n)
            try:
                solve_ivp_batch(
                    model.ARM_RHS, s.t_span, y0s, params=params, args=(torque,), t_eval=t_eval,
                    rtol=s.rtol, atol=s.atol, target=target,
                )  # fmt: skip
            finally:
                numba.set_num_threads(threads)

        return call

    rounds = 9 if not QUICK else 3
    t_all, t_cpu, r_cpu = paired_times(on("parallel", threads), on("cpu", 1), rounds=rounds)
    _, t_one, r_one = paired_times(on("parallel", threads), on("parallel", 1), rounds=rounds)
    report(f"ensemble of {size}: parallel on {threads} threads vs cpu", t_all, t_cpu, "s", r_cpu)
    report(f"ensemble of {size}: parallel on {threads} vs on 1 thread", t_all, t_one, "s", r_one)


def latency() -> None:
    starts = 5 if not QUICK else 2
    argv = workbench_argv("run", str(ROOT / "configs/arm.yaml"), "--quiet", "--out")
    with tempfile.TemporaryDirectory() as tmp:
        cold = []
        for i in range(starts):  # each with an empty compile cache: the first-ever run
            cold.append(process_wall(argv + [f"{tmp}/runs"], {"NUMBA_CACHE_DIR": f"{tmp}/c{i}"}))
        warm_env = {"NUMBA_CACHE_DIR": f"{tmp}/c0"}
        warm = [process_wall(argv + [f"{tmp}/runs"], warm_env) for _ in range(starts)]
    print(
        f"first-ever run (empty cache), median of {starts}: {statistics.median(cold):.2f} s"
        "   (budget 20 s)"
    )
    print(
        f"second process (cache warm), median of {starts}:  {statistics.median(warm):.2f} s"
        "   (budget 2 s)"
    )


if __name__ == "__main__":
    t = time.perf_counter()
    np.seterr(all="ignore")
    for rtol in (1e-3, 1e-6):
        single(rtol)
    print("methods (configs/arm.yaml at rtol 1e-6; ensembles of configs/arm_ensemble.yaml):")
    methods()
    print("events:")
    event_cost()
    ensemble()
    scheduling()
    latency()
    print(f"(benchmark took {time.perf_counter() - t:.0f} s)")
