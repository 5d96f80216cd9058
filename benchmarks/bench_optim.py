"""Optimizer benchmarks: the fused RMSprop and Adagrad steps against numpy, and against memory
bandwidth.

One process, after JIT warm-up; medians over repeats:

- the RMSprop step (Theano form) on one float32 block of 1e6 and 1e7 elements, with
  ``workbench.optim.RMSprop(..., target="parallel")`` (the public ``step`` call, Python
  overhead included), against the numpy expression
  ``acc = rho*acc + (1-rho)*g*g; p = p - lr*g/np.sqrt(acc + eps)``; the same for the Adagrad
  step (torch's defaults, lr_decay 0: ``clr = lr``), ``workbench.optim.Adagrad``, against
  ``acc = acc + g*g; p = p - lr*(g/(np.sqrt(acc) + eps))``;
- the step as a fraction of this machine's memory bandwidth, measured in the same run on
  arrays of the same size: the best of a numpy copy ``np.copyto(b, a)`` (2 x nbytes moved)
  and a Numba ``prange`` ``a += s*b`` on the same threads as the parallel target (3 x
  nbytes), best of repeats. Either step moves 20 bytes per element (reads p, g, acc; writes
  p, acc). At 1e6 elements the arrays (12 MB) fit in this machine's last-level cache, so
  "bandwidth" there is the cache's; at 1e7 (120 MB) it is the memory's.

Targets for the RMSprop step at 1e7 elements: at least 0.7 of the bandwidth and 8x the numpy
expression (the Adagrad lines have none).

- the step of every registered optimizer on four float32 blocks of 100 elements (cpu target),
  where the Python around the kernels is most of the time, against its numpy reference class
  (:mod:`workbench.optim.reference`), paired rounds: the per-step overhead users of small
  models meet;
- one training epoch of the MLP of ``configs/train_mlp.yaml`` (digits, [64, 64, 10], RMSprop,
  batch 64) against the same epoch with the numpy model and numpy RMSprop
  (``workbench compare``'s reference); both share the seeded minibatches. The same with
  Adagrad (``optimizer={kind: adagrad}``, its defaults).

Run: ``make bench`` or ``python benchmarks/bench_optim.py [--quick]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numba
import numpy as np
from numba import njit, prange

sys.path.insert(0, str(Path(__file__).parent))
from _timing import median_time, report  # noqa: E402

from workbench.optim import Adagrad, RMSprop  # noqa: E402

QUICK = "--quick" in sys.argv
BYTES_PER_ELEMENT = 20  # float32 RMSprop or Adagrad: read p, g, acc; write p, acc


@njit(parallel=True, cache=False)
def _axpy(a, s, b):
    for i in prange(a.shape[0]):
        a[i] += s * b[i]


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bandwidth(n: int, repeats: int) -> tuple[float, str]:
    """Bytes per second on float32 arrays of n elements, and which measurement gave it."""
    rng = np.random.default_rng(0)
    a = rng.random(n, dtype=np.float32)
    b = rng.random(n, dtype=np.float32)
    nbytes = a.nbytes
    copy = 2 * nbytes / best_time(lambda: np.copyto(b, a), repeats)
    s = np.float32(1e-7)
    axpy = 3 * nbytes / best_time(lambda: _axpy(a, s, b), repeats)
    threads = numba.get_num_threads()
    if axpy >= copy:
        return axpy, f"prange a += s*b on {threads} threads (numpy copy {copy / 1e9:.1f} GB/s)"
    return copy, f"numpy copy (prange a += s*b on {threads} threads {axpy / 1e9:.1f} GB/s)"


LR, RHO, EPS = 1e-3, 0.9, 1e-6
ADAGRAD_LR, ADAGRAD_EPS = 1e-2, 1e-10  # torch's defaults (and Adagrad's)
SIZES = (10**6, 10**7)


def rmsprop_step() -> None:
    repeats = 7 if not QUICK else 3
    for n in SIZES:
        rmsprop_at_size(n, repeats, last=n == SIZES[-1])


def adagrad_step() -> None:
    repeats = 7 if not QUICK else 3
    for n in SIZES:
        adagrad_at_size(n, repeats)


def rmsprop_at_size(n: int, repeats: int, last: bool) -> None:
    rng = np.random.default_rng(1)
    p = rng.standard_normal(n, dtype=np.float32)
    g = {"w": rng.standard_normal(n, dtype=np.float32)}
    opt = RMSprop({"w": p}, lr=LR, rho=RHO, eps=EPS, target="parallel")
    state = {"p": p.copy(), "acc": np.zeros(n, dtype=np.float32)}
    gw = g["w"]

    def numpy_expression():
        acc = RHO * state["acc"] + (1 - RHO) * gw * gw
        state["p"] = state["p"] - LR * gw / np.sqrt(acc + EPS)
        state["acc"] = acc

    step_at_size("RMSprop", opt, g, numpy_expression, n, repeats, last)


def adagrad_at_size(n: int, repeats: int) -> None:
    rng = np.random.default_rng(1)
    p = rng.standard_normal(n, dtype=np.float32)
    g = {"w": rng.standard_normal(n, dtype=np.float32)}
    opt = Adagrad({"w": p}, lr=ADAGRAD_LR, eps=ADAGRAD_EPS, target="parallel")
    state = {"p": p.copy(), "acc": np.zeros(n, dtype=np.float32)}
    gw = g["w"]

    def numpy_expression():
        acc = state["acc"] + gw * gw
        state["p"] = state["p"] - ADAGRAD_LR * (gw / (np.sqrt(acc) + ADAGRAD_EPS))
        state["acc"] = acc

    step_at_size("Adagrad", opt, g, numpy_expression, n, repeats, last=False)


def step_at_size(name: str, opt, g, numpy_expression, n: int, repeats: int, last: bool) -> None:
    """Time ``opt.step(g)`` against ``numpy_expression`` and against the bandwidth; ``last``:
    print the targets line (RMSprop at the largest size)."""

    def ours():
        opt.step(g)

    t_ours = median_time(ours, repeats=repeats, number=20 if n <= 10**6 else 3)
    t_best = best_time(ours, repeats)
    t_numpy = median_time(numpy_expression, repeats=repeats if n <= 10**6 else 3)
    bw, how = bandwidth(n, repeats=repeats * 2)
    moved = BYTES_PER_ELEMENT * n
    frac, frac_best = moved / t_ours / bw, moved / t_best / bw
    report(f"{name} step, {n:.0e} float32, parallel vs numpy expression", t_ours, t_numpy)
    print(
        f"    {moved / t_ours / 1e9:6.1f} GB/s (median; best {moved / t_best / 1e9:.1f}) "
        f"= {frac:.2f} of bandwidth (best {frac_best:.2f}); "
        f"bandwidth {bw / 1e9:.1f} GB/s: {how}"
    )
    if last:
        speedup = t_numpy / t_ours
        print(
            f"    targets at {n:.0e}: >= 0.7 of bandwidth: {frac:.2f} "
            f"({'met' if frac >= 0.7 else 'NOT met'}); >= 8x numpy: {speedup:.1f}x "
            f"({'met' if speedup >= 8 else 'NOT met'})"
        )


def mlp_epoch(optimizer: str = "RMSprop", overrides: tuple[str, ...] = ()) -> None:
    """One epoch of ``configs/train_mlp.yaml`` (its RMSprop, or the optimizer the
    ``overrides`` give, named ``optimizer``) against the numpy model and update."""
    from workbench.config import resolve
    from workbench.experiments import train

    root = Path(__file__).resolve().parents[1]
    cfg = resolve(root / "configs/train_mlp.yaml", ["training.epochs=1", *overrides])
    problem = train.make_problem(cfg)

    def ours():
        return problem.train(cfg.optimizer, "cpu")

    def reference():
        return problem.train(cfg.optimizer, "cpu", numpy=True)

    a, b = ours()[2]["batch_loss"], reference()[2]["batch_loss"]
    rel = float(np.max(np.abs(a - b) / np.abs(b)))
    print(
        f"MLP epoch ({problem.steps_per_epoch} minibatches, {optimizer}): max rel diff of "
        f"losses {rel:.1e}"
    )
    repeats = 3 if QUICK else 9
    report(
        f"  one MLP epoch (digits, {optimizer}) vs numpy model + update",
        median_time(ours, repeats=repeats),
        median_time(reference, repeats=repeats),
    )


def small_blocks() -> None:
    """Each registered optimizer's step on four 100-element float32 blocks, against its numpy
    reference class; microseconds per step, paired rounds."""
    from _timing import paired_times

    from workbench.optim import optimizer_class
    from workbench.optim.registry import RULES

    rng = np.random.default_rng(0)
    shapes = {f"p{i}": 100 for i in range(4)}
    grads = {k: (rng.standard_normal(n) * 1e-3).astype(np.float32) for k, n in shapes.items()}
    print("step on 4 float32 blocks of 100 elements (cpu), fused vs numpy reference:")
    for kind, rule in RULES.items():
        ours_p = {k: rng.standard_normal(n).astype(np.float32) for k, n in shapes.items()}
        ref_p = {k: v.copy() for k, v in ours_p.items()}
        ours = optimizer_class(kind)(ours_p, lr=1e-3, target="cpu")
        ref = rule.reference(ref_p, lr=1e-3)
        number = 500 if QUICK else 2000
        t_ours, t_ref, ratio = paired_times(
            lambda o=ours: o.step(grads), lambda r=ref: r.step(grads), rounds=9, number=number,
            ref_number=number,
        )  # fmt: skip
        print(
            f"  {rule.title:<10} ours {t_ours * 1e6:7.2f} us   numpy {t_ref * 1e6:7.2f} us   "
            f"ratio {ratio:5.1f}x"
        )


def main() -> None:
    t = time.perf_counter()
    print(f"threads: {numba.get_num_threads()} (numba {numba.__version__}, numpy {np.__version__})")
    small_blocks()
    rmsprop_step()
    adagrad_step()
    mlp_epoch()
    mlp_epoch("Adagrad", ("optimizer={kind: adagrad}",))
    print(f"(benchmark took {time.perf_counter() - t:.0f} s)")


if __name__ == "__main__":
    main()
