"""BFGS benchmarks: our fits against ``scipy.optimize.minimize(method="BFGS")``, one process,
medians after warm-up. scipy is given numpy functions as its users write them for
``fmin_bfgs`` (a sigmoid, logs, separate cost and gradient functions).

- the seed case (configs/logreg.yaml: 100 samples, 2 features and an intercept), the two
  fits timed alternately (the ratio is the median of the rounds' ratios); then the same fit
  through the public API with the user's own functions: ``@njit`` cost and gradient, and
  bound methods run as plain Python (``fmin_bfgs``);
- 10,000 samples x 50 features (configs/logreg_large.yaml);
- 1,000 bootstrap fits on ``parallel`` against scipy looped over resamples (a sample of them
  timed, then scaled).

Run: ``make bench`` or ``python benchmarks/bench_bfgs.py [--quick]``.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
from numba import njit
from scipy.optimize import minimize as scipy_minimize

sys.path.insert(0, str(Path(__file__).parent))
from _timing import median_time, paired_times, report  # noqa: E402

from workbench.config import resolve  # noqa: E402
from workbench.experiments.logreg import Problem  # noqa: E402
from workbench.models import logistic  # noqa: E402
from workbench.optimize import (  # noqa: E402
    PythonFallbackWarning,
    fmin_bfgs,
    minimize,
    minimize_bfgs_batch,
)

ROOT = Path(__file__).resolve().parents[1]
QUICK = "--quick" in sys.argv


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def cost(w, X, y, l2, first):  # as in the seed question (vectorised, with logs of h)
    h = sigmoid(X @ w)
    with np.errstate(divide="ignore"):
        loss = -np.mean(y * np.log(h) + (1 - y) * np.log(1 - h))
    return loss + 0.5 * l2 * np.sum(w[first:] ** 2)


def gradient(w, X, y, l2, first):
    g = X.T @ (sigmoid(X @ w) - y) / X.shape[0]
    g[first:] += l2 * w[first:]
    return g


def fit_both(config: str, label: str) -> None:
    p = Problem(resolve(ROOT / config))
    x0 = np.zeros(p.Z.shape[1])

    def scipy_fit():
        return scipy_minimize(
            cost, x0, jac=gradient, method="BFGS", args=(p.Z, p.y, p.l2, p.first_penalised)
        )

    ours, ref = p.fit(), scipy_fit()
    print(
        f"{label}: nit {ours.nit} vs {ref.nit}, nfev {ours.nfev} vs {ref.nfev}, "
        f"max |dx| {np.abs(ours.x - ref.x).max():.2e}"
    )
    if p.Z.size < 1e4:  # one core each: timed alternately
        t_ours, t_ref, ratio = paired_times(p.fit, scipy_fit, rounds=9, number=50, ref_number=5)
        report(f"  {label}", t_ours, t_ref, ratio=ratio)
    else:  # both threaded: apart, each after its warm-up (threads that spin after a call of
        # one would be timed against the other)
        report(f"  {label}", median_time(p.fit, repeats=7), median_time(scipy_fit, repeats=5))


@njit
def user_cost(w, X, y, l2, first):  # the same cost, as a user @njit's it
    h = 1.0 / (1.0 + np.exp(-(X @ w)))
    loss = -np.mean(y * np.log(h) + (1 - y) * np.log(1 - h))
    return loss + 0.5 * l2 * np.sum(w[first:] ** 2)


@njit
def user_gradient(w, X, y, l2, first):
    h = 1.0 / (1.0 + np.exp(-(X @ w)))
    g = X.T @ (h - y) / X.shape[0]
    g[first:] += l2 * w[first:]
    return g


class UserModel:
    """The practitioner's class: cost and gradient as bound methods (plain Python)."""

    def __init__(self, X, y, l2, first):
        self.args = (X, y, l2, first)

    def cost_arr(self, w):
        return cost(w, *self.args)

    def gradient_arr(self, w):
        return gradient(w, *self.args)


def user_functions() -> None:
    """The seed case through the public API with the user's own functions: ``@njit`` cost
    and gradient, and bound methods (plain Python through the compiled iteration), each
    against scipy given the numpy functions."""
    p = Problem(resolve(ROOT / "configs/logreg.yaml"))
    x0 = np.zeros(p.Z.shape[1])
    args = (np.ascontiguousarray(p.Z), p.y.astype(float), p.l2, p.first_penalised)

    def scipy_fit():
        return scipy_minimize(cost, x0, jac=gradient, method="BFGS", args=args)

    def njit_fit():
        return minimize(user_cost, x0, jac=user_gradient, args=args)

    user = UserModel(*args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PythonFallbackWarning)
        mine = fmin_bfgs(user.cost_arr, x0, fprime=user.gradient_arr, disp=False)

    def methods_fit():
        return fmin_bfgs(user.cost_arr, x0, fprime=user.gradient_arr, disp=False)

    ref = scipy_fit()
    print(f"seed case with user functions: njit nit {njit_fit().nit} vs {ref.nit}, bound "
          f"methods max |dx| {np.abs(mine - ref.x).max():.1e}")  # fmt: skip
    t_ours, t_ref, ratio = paired_times(njit_fit, scipy_fit, rounds=9, number=50, ref_number=5)
    report("  user @njit cost and gradient", t_ours, t_ref, ratio=ratio)
    t_ours, t_ref, ratio = paired_times(methods_fit, scipy_fit, rounds=9, number=5, ref_number=5)
    report("  bound methods (plain Python)", t_ours, t_ref, ratio=ratio)


def bootstrap() -> None:
    resamples = 1000 if not QUICK else 200
    p = Problem(resolve(ROOT / "configs/logreg_bootstrap.yaml"))
    m, n = p.Z.shape
    counts = np.random.default_rng(0).multinomial(m, np.full(m, 1 / m), size=resamples)
    counts = counts.astype(float)

    def ours():
        return minimize_bfgs_batch(
            logistic.LOGISTIC,
            np.zeros((resamples, n)),
            member_data=counts,
            args=(p.data,),
            target="parallel",
        )

    sample = 100 if not QUICK else 20
    rows = [np.repeat(np.arange(m), c.astype(int)) for c in counts[:sample]]

    def scipy_loop():
        for r in rows:
            scipy_minimize(
                cost,
                np.zeros(n),
                jac=gradient,
                method="BFGS",
                args=(p.Z[r], p.y[r], p.l2, p.first_penalised),
            )

    t_ref = median_time(scipy_loop, repeats=3) * resamples / sample
    report(
        f"{resamples} bootstrap fits on parallel vs scipy loop (scaled from {sample})",
        median_time(ours, repeats=5),
        t_ref,
        unit="s",
    )


if __name__ == "__main__":
    t = time.perf_counter()
    fit_both("configs/logreg.yaml", "seed case, 100 x (2 + intercept)")
    user_functions()
    fit_both("configs/logreg_large.yaml", "10,000 x (50 + intercept), l2 1e-4")
    bootstrap()
    print(f"(benchmark took {time.perf_counter() - t:.0f} s)")
