"""Logistic regression fitted by our BFGS, as people run it through ``scipy.optimize.fmin_bfgs``;
optionally a bootstrap of many refits (``minimize_bfgs_batch``) for confidence intervals.

Config sections: ``data`` (``synthetic``, ``csv`` or ``npz``), ``model`` (standardisation,
intercept, L2 penalty), ``solver`` (BFGS options) and the optional ``bootstrap``. The reference
for ``compare`` is ``scipy.optimize.minimize(method="BFGS")`` on numpy functions.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from ..data.labeled import DataError, design_matrix, read_csv, read_npz, synthetic
from ..models import logistic
from ..optimize import minimize_bfgs, minimize_bfgs_batch
from .base import (
    MAX_SAMPLES,
    MAX_STEPS,
    MAX_WIDTH,
    Comparison,
    ComparisonRow,
    Experiment,
    ExperimentConfig,
    Outcome,
    ProblemError,
    Section,
    check_memory,
    median_time,
)


class SyntheticData(Section):
    """The ``data:`` section with ``kind: synthetic``: two seeded Gaussian classes
    (:func:`workbench.data.labeled.synthetic`).

    Attributes
    ----------
    kind : {"synthetic"}
        Selects this form.
    samples : int
        Number of samples.
    features : int
        Number of features.
    separation : float
        Distance between the class means (the classes have unit variance).
    label_noise : float
        Fraction of the labels flipped, at most 0.5.
    """

    kind: Literal["synthetic"]
    samples: int = Field(100, ge=2, le=MAX_SAMPLES)
    features: int = Field(2, ge=1, le=MAX_WIDTH)
    separation: float = Field(2.0, ge=0, description="distance between the class means")
    label_noise: float = Field(0.05, ge=0, le=0.5, description="fraction of flipped labels")


class CsvData(Section):
    """The ``data:`` section with ``kind: csv``: a CSV file with a header row.

    Attributes
    ----------
    kind : {"csv"}
        Selects this form.
    path : str
        The file; a relative path that does not exist as given is looked up in the config
        file's folder.
    label : str
        The label column (values 0 and 1); the other columns are the features.
    """

    kind: Literal["csv"]
    path: str
    label: str = "label"


class NpzData(Section):
    """The ``data:`` section with ``kind: npz``: an archive holding ``X`` (m, n) and ``y`` (m,).

    Attributes
    ----------
    kind : {"npz"}
        Selects this form.
    path : str
        The archive; a relative path that does not exist as given is looked up in the config
        file's folder.
    """

    kind: Literal["npz"]
    path: str


Data = Annotated[SyntheticData | CsvData | NpzData, Field(discriminator="kind")]


class Model(Section):
    """The ``model:`` section of a logistic-regression experiment.

    Attributes
    ----------
    standardize : bool
        Centre and scale each feature before fitting.
    intercept : bool
        Fit an intercept (a column of ones in front of the features).
    l2 : float
        The penalty ``l2/2 |w|^2`` on every coefficient but the intercept (0: none).
    """

    standardize: bool = False
    intercept: bool = True
    l2: float = Field(0.0, ge=0, description="penalty l2/2 |w|^2 on all but the intercept")


class Solver(Section):
    """The ``solver:`` section of a logistic-regression experiment: BFGS's options, as
    ``scipy.optimize.minimize(method="BFGS")`` names them.

    Attributes
    ----------
    gtol : float
        Stop when the ``norm``-norm of the gradient is at most ``gtol``.
    norm : float
        The order of that norm (default inf: the largest absolute component).
    maxiter : int or None
        The most iterations (None: 200 times the number of coefficients).
    xrtol : float
        Stop when a step is at most ``xrtol * (xrtol + |x|)`` (0: never).
    c1, c2 : float
        The Wolfe conditions' constants; the fit needs ``0 < c1 < c2 < 1``.
    """

    gtol: float = Field(1e-5, gt=0)
    norm: float = float("inf")
    maxiter: int | None = Field(None, ge=1, le=MAX_STEPS)
    xrtol: float = Field(0.0, ge=0)
    c1: float = Field(1e-4, gt=0, lt=1)
    c2: float = Field(0.9, gt=0, lt=1)

    @model_validator(mode="after")
    def _wolfe(self):
        if not self.c1 < self.c2:
            raise ValueError(
                f"c1 must be less than c2 (0 < c1 < c2 < 1), got {self.c1} and {self.c2}"
            )
        return self


class Bootstrap(Section):
    """The ``bootstrap:`` section of a logistic-regression experiment: refits on resampled data
    for confidence intervals of the coefficients.

    Attributes
    ----------
    resamples : int
        Refits, each on as many samples as the data, drawn with replacement (seeded by
        ``seed``).
    confidence : float
        The level of the percentile intervals (0.95: from the 2.5th to the 97.5th percentile).
    """

    resamples: int = Field(1000, ge=2, le=MAX_SAMPLES)
    confidence: float = Field(0.95, gt=0, lt=1)


class LogregConfig(ExperimentConfig):
    """A whole logistic-regression experiment file (``experiment: logreg``).

    Attributes
    ----------
    experiment : {"logreg"}
        The kind.
    data : SyntheticData, CsvData or NpzData
        The ``data:`` section, its form chosen by ``kind`` (default: ``kind: synthetic``).
    model : Model
        The ``model:`` section: standardisation, intercept, penalty.
    solver : Solver
        The ``solver:`` section: BFGS's options.
    bootstrap : Bootstrap, optional
        The ``bootstrap:`` section; None: one fit.
    name, target, seed, output
        The keys every experiment has (:class:`~workbench.experiments.base.ExperimentConfig`);
        ``seed`` seeds the synthetic data and the resampling.
    """

    experiment: Literal["logreg"] = "logreg"
    data: Data = Field(default_factory=lambda: SyntheticData(kind="synthetic"))
    model: Model = Field(default_factory=Model)
    solver: Solver = Field(default_factory=Solver)
    bootstrap: Bootstrap | None = None


def load_data(cfg: LogregConfig, base_dir: Path | None = None):
    """(X, y, feature names) for the config; DataError becomes a ProblemError on ``data``."""
    d = cfg.data
    if isinstance(d, SyntheticData):
        X, y, names = synthetic(d.samples, d.features, d.separation, d.label_noise, cfg.seed)
        _check_classes(y, "data.samples", "more samples (or less label noise)")
        return X, y, names
    path = Path(d.path)
    if not path.is_absolute() and base_dir is not None and not path.exists():
        path = base_dir / path
    try:
        X, y, names = read_csv(path, d.label) if isinstance(d, CsvData) else read_npz(path)
    except DataError as exc:
        raise ProblemError("data.path", str(exc)) from None
    _check_classes(y, "data.path", f"a file with both labels, 0 and 1 ({path})")
    return X, y, names


def _check_classes(y, key: str, remedy: str) -> None:
    """Logistic regression on no samples, or on one class only, has no answer: the loss
    keeps falling as the weights grow. Refuse it before fitting, saying what to give."""
    if len(y) == 0:
        raise ProblemError(key, f"the data have no samples; give {remedy}")
    present = set(np.unique(y).tolist())
    if len(present) < 2:
        (label,) = present
        raise ProblemError(
            key,
            f"every one of the {len(y)} samples has label {label:g}: logistic regression "
            f"needs both classes (the loss has no minimum); give {remedy}",
        )


_NO_WEIGHTS = np.empty(0)  # every sample once (the loss only reads it)

#: Samples x coefficients from which one fit's loss runs on all cores.
THREADED_MIN_SIZE = 100_000


class Problem:
    """The design matrix and packed data of a config, built once."""

    def __init__(self, cfg: LogregConfig, base_dir: Path | None = None):
        X, self.y, names = load_data(cfg, base_dir)
        self.Z, self.mean, self.scale = design_matrix(
            X, standardize=cfg.model.standardize, intercept=cfg.model.intercept
        )
        self.names = (["intercept"] if cfg.model.intercept else []) + names
        self.first_penalised = 1 if cfg.model.intercept else 0
        self.l2 = cfg.model.l2
        self.target = cfg.target
        self.data = logistic.pack_data(self.Z, self.y, self.l2, self.first_penalised)
        self._x0 = np.zeros(self.Z.shape[1])
        s = cfg.solver
        self.options = dict(
            gtol=s.gtol, norm=s.norm, maxiter=s.maxiter, xrtol=s.xrtol, c1=s.c1, c2=s.c2
        )

    @property
    def large(self) -> bool:
        """Whether the loss pays for threads (below this, starting them costs more)."""
        return self.Z.size >= THREADED_MIN_SIZE

    def fit(self, return_all: bool = False, threaded: bool | None = None):
        """The BFGS fit; ``threaded`` (default: large data and ``target: parallel``) splits the
        loss's rows over the cores, which rounds the sums differently (within 1e-14 relative).
        """
        if threaded is None:
            threaded = self.large and self.target == "parallel"
        return minimize_bfgs(
            logistic.threaded_objective() if threaded else logistic.LOGISTIC,
            self._x0,  # read only: the kernel copies it
            args=(_NO_WEIGHTS, self.data),
            return_all=return_all,
            **self.options,
        )


def check(cfg: LogregConfig, base_dir: Path | None = None) -> None:
    """Refuse a run whose arrays would not fit in memory (synthetic data before they are made),
    and load the data once, so that file and label problems surface before a run.

    Parameters
    ----------
    cfg : LogregConfig
        The experiment.
    base_dir : Path, optional
        The config file's folder, for a relative ``data.path``.

    Returns
    -------
    None

    Raises
    ------
    ProblemError
        For data that are too large, cannot be read, or hold one class only.
    """
    d = cfg.data
    if d.kind == "synthetic":  # refused before the data are made
        _check_memory(cfg, d.samples, d.features + 1)
    X, _, _ = load_data(cfg, base_dir)
    _check_memory(cfg, X.shape[0], X.shape[1] + 1)


def _check_memory(cfg: LogregConfig, m: int, n: int) -> None:
    """The big arrays, estimated before any is made: the data (features, their standardised
    copy, the loss's work rows) and a bootstrap's resampling counts and fits."""
    check_memory("data", 8.0 * m * (4 * n + 4), f"{m:,} samples of {n} columns")
    if cfg.bootstrap is not None:
        b = cfg.bootstrap.resamples
        check_memory(
            "bootstrap.resamples",
            8.0 * (m * (4 * n + 4) + b * (m + 2 * n + 8)),
            f"{b:,} resamples of {m:,} samples",
        )


def is_batched(cfg: LogregConfig) -> bool:
    """Whether a run is batched: with a bootstrap (its refits run as one batch).

    Parameters
    ----------
    cfg : LogregConfig
        The experiment.

    Returns
    -------
    bool
        True when the config has a ``bootstrap:`` section.
    """
    return cfg.bootstrap is not None


def run(cfg: LogregConfig, target: str, progress=None, base_dir: Path | None = None) -> Outcome:
    """Fit the model by BFGS and, with a bootstrap, refit it on every resample.

    Parameters
    ----------
    cfg : LogregConfig
        The experiment.
    target : str
        ``"parallel"`` splits the one fit's loss over the cores when the data are large; the
        bootstrap's batch runs on this target (:func:`workbench.optimize.minimize_bfgs_batch`).
    progress : callable, optional
        ``progress(done, total, note=None)``, called between the bootstrap's chunks.
    base_dir : Path, optional
        The config file's folder, for a relative ``data.path``.

    Returns
    -------
    Outcome
        The coefficients, final loss, counts and training accuracy (a warning when the classes
        are separable without a penalty), the bootstrap's intervals; the arrays (coefficients,
        loss history, design matrix, labels, the bootstrap's fits). The status is the fit's
        (0: converged), or 1 when some bootstrap fits did not converge.
    """
    problem = Problem(cfg, base_dir)
    # target parallel on one fit: the loss's rows are split over the cores (large data only)
    threaded = target == "parallel" and problem.large
    t0 = time.perf_counter()
    res = problem.fit(return_all=True, threaded=threaded)
    fit_s = time.perf_counter() - t0
    Z, y = problem.Z, problem.y
    margins = (2 * y - 1) * (Z @ res.x)
    accuracy = float(np.mean(margins > 0))
    separable = bool(np.all(margins > 0) and problem.l2 == 0.0)
    history = np.array(
        [
            logistic.loss_and_grad(x, Z, y, np.empty(0), problem.l2, problem.first_penalised)[0]
            for x in res.allvecs
        ]
    )
    figures = {
        "coefficients": dict(zip(problem.names, res.x.tolist(), strict=True)),
        "final_loss": float(res.fun),
        "gradient_norm": float(np.max(np.abs(res.jac))),
        "nit": int(res.nit),
        "nfev": int(res.nfev),
        "njev": int(res.njev),
        "training_accuracy": accuracy,
        "separable": separable,
    }
    warnings = []
    if separable:
        warnings.append(
            "the classes are separable: without a penalty the loss has no minimum and the "
            "coefficients grow without bound; set model.l2 > 0 (e.g. model.l2=1e-3)"
        )
    arrays = {"coefficients": res.x, "loss_history": history, "X": Z, "y": y}
    timings = {"fit_s": fit_s}
    status = int(res.status)
    message = res.message
    target_used = "parallel" if threaded else "cpu"
    if cfg.bootstrap is not None:
        boot = _bootstrap(cfg, problem, target, progress)
        target_used = boot.pop("target")
        timings["bootstrap_s"] = boot.pop("seconds")
        arrays.update(boot.pop("arrays"))
        figures.update(boot)
        if figures["bootstrap_failed"] and status == 0:
            status = 1
            message = f"{figures['bootstrap_failed']} bootstrap fits did not converge"
    return Outcome(
        status=status,
        message=message,
        figures=figures,
        arrays=arrays,
        target=target_used,
        timings=timings,
        warnings=warnings,
    )


def _bootstrap(cfg: LogregConfig, problem: Problem, target: str, progress) -> dict:
    b = cfg.bootstrap
    m, n = problem.Z.shape
    rng = np.random.default_rng(cfg.seed)
    counts = rng.multinomial(m, np.full(m, 1.0 / m), size=b.resamples).astype(float)
    t0 = time.perf_counter()
    res = minimize_bfgs_batch(
        logistic.LOGISTIC,
        np.zeros((b.resamples, n)),
        member_data=counts,
        args=(problem.data,),
        target=target,
        progress=progress,
        **problem.options,
    )
    seconds = time.perf_counter() - t0
    ok = res.status == 0
    alpha = (1 - b.confidence) / 2
    lo, hi = (
        np.quantile(res.x[ok], [alpha, 1 - alpha], axis=0)
        if ok.any()
        else (np.full(n, math.nan), np.full(n, math.nan))
    )
    return {
        "bootstrap_resamples": int(b.resamples),
        "bootstrap_failed": int((~ok).sum()),
        "confidence": b.confidence,
        "intervals": {
            name: [float(a), float(c)] for name, a, c in zip(problem.names, lo, hi, strict=True)
        },
        "target": res.target,
        "seconds": seconds,
        "arrays": {
            "bootstrap_coefficients": res.x,
            "bootstrap_status": res.status,
            "bootstrap_nit": res.nit,
        },
    }


def compare(cfg: LogregConfig, base_dir: Path | None = None, repeats: int = 5) -> Comparison:
    """Our fit beside ``scipy.optimize.minimize(method="BFGS")`` with numpy loss and gradient."""
    from scipy.optimize import minimize as scipy_minimize

    from ..models.reference import logistic_grad, logistic_loss

    problem = Problem(cfg, base_dir)
    Z, y, l2, first = problem.Z, problem.y, problem.l2, problem.first_penalised
    x0 = np.zeros(Z.shape[1])
    opts = {k: v for k, v in problem.options.items() if v is not None}

    def reference():
        return scipy_minimize(
            logistic_loss,
            x0,
            jac=logistic_grad,
            method="BFGS",
            args=(Z, y, l2, first),
            options=opts,
        )

    ours, ref = problem.fit(), reference()
    t_ours = median_time(problem.fit, repeats)
    t_ref = median_time(reference, max(1, repeats // 2))
    diff = np.abs(ours.x - ref.x)
    rows = [
        ComparisonRow("status", ours.status, ref.status),
        ComparisonRow("message", ours.message, ref.message),
        ComparisonRow("iterations", ours.nit, ref.nit),
        ComparisonRow("function evaluations", ours.nfev, ref.nfev),
        ComparisonRow("gradient evaluations", ours.njev, ref.njev),
        ComparisonRow("final loss", float(ours.fun), float(ref.fun)),
        ComparisonRow("coefficients", ours.x.round(8).tolist(), ref.x.round(8).tolist()),
    ]
    return Comparison(
        rows=rows,
        max_abs_diff=float(diff.max()),
        max_rel_diff=float((diff / np.maximum(np.abs(ref.x), 1e-300)).max()),
        ours_seconds=t_ours,
        reference_seconds=t_ref,
    )


def plot(run, path: Path) -> None:
    """The decision boundary (two features) and the loss against iterations."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a = run.arrays
    w, Z, y = a["coefficients"], a["X"], a["y"]
    intercept = run.config.get("model", {}).get("intercept", True)
    feats = Z[:, 1:] if intercept else Z
    two = feats.shape[1] == 2
    fig, axes = plt.subplots(1, 2 if two else 1, figsize=(11 if two else 6, 4.5), squeeze=False)
    ax = axes[0, 0]
    ax.semilogy(
        np.arange(len(a["loss_history"])),
        a["loss_history"] - a["loss_history"].min() + 1e-16,
        marker="o",
        ms=3,
    )
    ax.set(xlabel="iteration", ylabel="loss - final loss", title="BFGS convergence")
    if two:
        ax = axes[0, 1]
        ax.scatter(feats[y == 0, 0], feats[y == 0, 1], s=12, label="y = 0")
        ax.scatter(feats[y == 1, 0], feats[y == 1, 1], s=12, label="y = 1")
        b0 = w[0] if intercept else 0.0
        w1, w2 = w[-2], w[-1]
        xs = np.linspace(feats[:, 0].min(), feats[:, 0].max(), 50)
        if w2 != 0:
            ax.plot(xs, -(b0 + w1 * xs) / w2, "k-", label="p = 0.5")
        ax.set(
            xlabel="feature 1",
            ylabel="feature 2",
            title="decision boundary",
            ylim=(feats[:, 1].min() - 0.5, feats[:, 1].max() + 0.5),
        )
        ax.legend(fontsize=8)
    fig.suptitle(run.config.get("name", "logreg"))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def shrink(c: dict) -> None:
    """A warm-up run: two iterations, two bootstrap fits."""
    c["solver"]["maxiter"] = 2
    if c.get("bootstrap"):
        c["bootstrap"]["resamples"] = 2


EXPERIMENT = Experiment(
    kind="logreg",
    summary="logistic regression fitted by BFGS (scipy's fmin_bfgs), with a bootstrap option",
    config_model=LogregConfig,
    run=run,
    compare=compare,
    plot=plot,
    is_batched=is_batched,
    check=check,
    shrink=shrink,
)
