"""The arm ensemble against CyRK's ``nbsolve2_ivp``, a peer's Numba entry to a C++ RK45.

The same compiled dynamics on both sides (``workbench.models.arm.arm_rhs``: CyRK gets it in a
``cfunc`` of its own signature, the torque table frozen into it, the member's parameters as its
``args``), the same members, output times and tolerances. Ours is ``solve_ivp_batch`` on
``cpu`` and ``parallel``; CyRK runs in an ``@njit`` loop and a ``prange`` loop, each member's
result copied out. Rounds alternate the four, and the ratios are medians of the rounds'.

CyRK is not a dependency: ``pip install CyRK`` in a separate environment and run this with the
project on ``PYTHONPATH``; without it the script says so and exits 0.

Run: ``python benchmarks/bench_peers.py``.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
from numba import carray, cfunc, njit, prange

from workbench.config import resolve
from workbench.experiments import arm as exp
from workbench.integrate import solve_ivp_batch
from workbench.models import arm as model

ROOT = Path(__file__).resolve().parents[1]

try:
    from CyRK import nbsolve2_ivp
    from CyRK.nb.numba_solver import cyjit_sig
except ImportError:  # pragma: no cover - depends on the environment
    nbsolve2_ivp = None

if nbsolve2_ivp is not None:
    CFG = resolve(ROOT / "configs/arm_ensemble.yaml", ["ensemble.size=10000"])
    TORQUE = exp.packed_torque(CFG)
    T0, T1 = CFG.solver.t_span
    RTOL, ATOL = CFG.solver.rtol, CFG.solver.atol
    arm_rhs = model.arm_rhs

    @cfunc(cyjit_sig)
    def _cyrk_arm(dy, t, y, args):
        arm_rhs(t, carray(y, (5,)), carray(dy, (5,)), carray(args, (7,)), TORQUE)

    ADDRESS = _cyrk_arm.address

    @njit
    def cyrk_member(y0, p, t_eval, out):
        res = nbsolve2_ivp(
            ADDRESS, (T0, T1), y0, "RK45", t_eval=t_eval, args=p, rtol=RTOL, atol=ATOL
        )
        y = res.y
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                out[i, j] = y[i, j]
        res.free()

    @njit
    def cyrk_serial(y0s, params, t_eval, out):
        for i in range(y0s.shape[0]):
            cyrk_member(y0s[i], params[i], t_eval, out[i])

    @njit(parallel=True)
    def cyrk_parallel(y0s, params, t_eval, out):
        for i in prange(y0s.shape[0]):
            cyrk_member(y0s[i], params[i], t_eval, out[i])


def main() -> None:
    if nbsolve2_ivp is None:
        print("CyRK is not installed here: nothing to compare (pip install CyRK to run this).")
        return
    y0s, params = exp.ensemble_members(CFG)
    t_eval = CFG.solver.output_times(CFG.ensemble.t_eval)
    out = np.empty((y0s.shape[0], 5, t_eval.size))

    def ours(target):
        return solve_ivp_batch(
            model.ARM_RHS, CFG.solver.t_span, y0s, params=params, args=(TORQUE,),
            t_eval=t_eval, rtol=RTOL, atol=ATOL, target=target,
        )  # fmt: skip

    sides = {
        "ours, cpu": lambda: ours("cpu"),
        "CyRK, @njit loop": lambda: cyrk_serial(y0s, params, t_eval, out),
        "ours, parallel": lambda: ours("parallel"),
        "CyRK, prange loop": lambda: cyrk_parallel(y0s, params, t_eval, out),
    }
    for fn in sides.values():  # compile, warm up
        fn()
    difference = np.nanmax(np.abs(ours("cpu").y - out))
    rounds = {name: [] for name in sides}
    for _ in range(7):
        for name, fn in sides.items():
            start = time.perf_counter()
            fn()
            rounds[name].append(time.perf_counter() - start)
    m = y0s.shape[0]
    print(
        f"arm ensemble of {m} (configs/arm_ensemble.yaml), RK45; max |ours - CyRK| {difference:.1e}"
    )
    for name, times in rounds.items():
        median = statistics.median(times)
        print(f"  {name:<20} {median:.4f} s   {median / m * 1e6:6.2f} us per member")
    for ours_name, peer in (
        ("ours, cpu", "CyRK, @njit loop"),
        ("ours, parallel", "CyRK, prange loop"),
    ):
        ratio = statistics.median(
            p / o for o, p in zip(rounds[ours_name], rounds[peer], strict=True)
        )
        print(f"  CyRK's time / ours ({ours_name.split(', ')[1]}): {ratio:.2f}x")


if __name__ == "__main__":
    main()
