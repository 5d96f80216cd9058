"""The logistic-regression experiment: fits, bootstrap batches, bad data, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numba import njit
from scipy.optimize import minimize as scipy_minimize
from typer.testing import CliRunner

from workbench import runs
from workbench.cli import app
from workbench.config import resolve
from workbench.experiments.logreg import Problem
from workbench.models import logistic, reference
from workbench.optimize import minimize_bfgs, minimize_bfgs_batch

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@njit
def inplace_loss(w, g, counts, X, y):
    return logistic.loss_grad(w, g, X, y, counts, 0.0, 1, True)


@njit
def loss_with_counts(w, counts, X, y):
    return logistic.loss_and_grad(w, X, y, counts, 0.0, 1)


def test_seed_case_matches_scipy_bfgs_with_numpy_functions(tmp_path):
    result = invoke("run", ROOT / "configs/logreg.yaml", f"output={tmp_path}", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    run = runs.load(summary["run_dir"])
    cfg = resolve(ROOT / "configs/logreg.yaml")
    p = Problem(cfg)
    ref = scipy_minimize(
        reference.logistic_loss,
        np.zeros(3),
        jac=reference.logistic_grad,
        args=(p.Z, p.y),
        method="BFGS",
    )
    np.testing.assert_allclose(run.arrays["coefficients"], ref.x, rtol=1e-8)
    fig = summary["figures"]
    assert (fig["nit"], fig["nfev"], fig["njev"]) == (ref.nit, ref.nfev, ref.njev)
    assert summary["message"] == ref.message and summary["status"] == 0
    assert fig["final_loss"] == pytest.approx(ref.fun, rel=1e-12)
    assert fig["training_accuracy"] == pytest.approx(np.mean((p.Z @ ref.x > 0) == p.y))
    assert not fig["separable"]
    history = run.arrays["loss_history"]
    assert len(history) == ref.nit + 1 and history[-1] == pytest.approx(ref.fun, rel=1e-12)


def test_separable_data_keeps_scipys_status_and_warns(tmp_path):
    result = invoke(
        "run",
        ROOT / "configs/logreg.yaml",
        "data.separation=10",
        "data.label_noise=0",
        f"output={tmp_path}",
        "--json",
    )
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary["figures"]["separable"] is True
    assert any("model.l2" in w for w in summary["warnings"])


@pytest.mark.parametrize("target", ["cpu", "parallel"])
def test_bootstrap_batch_equals_a_loop_of_single_fits(target):
    cfg = resolve(ROOT / "configs/logreg.yaml")
    p = Problem(cfg)
    counts = np.random.default_rng(2).multinomial(100, np.full(100, 0.01), size=12).astype(float)
    batch = minimize_bfgs_batch(
        logistic.LOGISTIC,
        np.zeros((12, 3)),
        member_data=counts,
        args=(p.data,),
        target=target,
        chunk_size=5,
    )
    njit_batch = minimize_bfgs_batch(
        inplace_loss, np.zeros((12, 3)), member_data=counts, args=(p.Z, p.y), target=target
    )
    for i in range(12):
        one = minimize_bfgs(logistic.LOGISTIC, np.zeros(3), args=(counts[i], p.data))
        np.testing.assert_array_equal(batch.x[i], one.x)
        assert (batch.nit[i], batch.nfev[i], batch.njev[i], batch.status[i]) == (
            one.nit,
            one.nfev,
            one.njev,
            one.status,
        )
        ref = scipy_minimize(
            loss_with_counts, np.zeros(3), jac=True, method="BFGS", args=(counts[i], p.Z, p.y)
        )
        assert (one.nit, one.nfev, one.njev) == (ref.nit, ref.nfev, ref.njev)
        np.testing.assert_allclose(njit_batch.x[i], ref.x, rtol=1e-8)


def test_bootstrap_run_reports_percentile_intervals(tmp_path):
    result = invoke(
        "run",
        ROOT / "configs/logreg_bootstrap.yaml",
        "bootstrap.resamples=200",
        f"output={tmp_path}",
        "--json",
        "--target",
        "parallel",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    run = runs.load(summary["run_dir"])
    coefs = run.arrays["bootstrap_coefficients"]
    assert coefs.shape == (200, 3) and np.all(run.arrays["bootstrap_status"] == 0)
    lo, hi = np.quantile(coefs, [0.025, 0.975], axis=0)
    intervals = summary["figures"]["intervals"]
    np.testing.assert_allclose(
        [intervals[k] for k in ("intercept", "x1", "x2")], np.column_stack([lo, hi]), rtol=1e-12
    )
    for (a, b), w in zip(intervals.values(), run.arrays["coefficients"], strict=True):
        assert a < w < b  # the full-data fit lies inside its bootstrap interval


BAD_FILES = {
    "ragged.csv": ("a,b,label\n1,2,0\n3,1\n", "line 3 has 2 cells"),
    "nolabel.csv": ("a,b,c\n1,2,0\n", "no label column 'label'"),
    "text.csv": ("a,b,label\n1,x,0\n", "line 2, column 'b': 'x' is not a number"),
    "labels.csv": ("a,b,label\n1,2,0\n3,4,2\n", "labels must be 0 or 1"),
    "nan.csv": ("a,b,label\n1,nan,0\n", "is NaN or infinite"),
}


@pytest.mark.parametrize("name", BAD_FILES)
def test_bad_data_files_exit_2(tmp_path, name):
    text, message = BAD_FILES[name]
    (tmp_path / name).write_text(text)
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(
        f"experiment: logreg\ndata: {{kind: csv, path: {name}}}\noutput: {tmp_path / 'runs'}\n"
    )
    result = invoke("run", cfg)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "data.path" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


def test_wolfe_constants_out_of_order_exit_2(tmp_path):
    result = invoke("run", ROOT / "configs/logreg.yaml", "solver.c1=0.95", "--out", tmp_path)
    assert result.exit_code == 2, result.output
    assert "solver: c1 must be less than c2 (0 < c1 < c2 < 1), got 0.95 and 0.9" in result.stderr
    assert not list(tmp_path.iterdir())


def test_compare_and_plot(tmp_path, figures):
    cmp = invoke("compare", ROOT / "configs/logreg.yaml", "--repeats", "1")
    assert cmp.exit_code == 0 and "function evaluations" in cmp.stdout
    assert invoke("run", ROOT / "configs/logreg.yaml", f"output={tmp_path}", "-q").exit_code == 0
    (folder,) = tmp_path.iterdir()
    png = tmp_path / "lr.png"
    assert invoke("plot", folder, "-o", png).exit_code == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    run = runs.load(folder)
    (fig,) = figures
    convergence, data = fig.axes
    # the loss above its least value per iteration (1e-16 added for the log scale)
    history = run.arrays["loss_history"]
    (curve,) = convergence.lines
    np.testing.assert_array_equal(curve.get_xdata(), np.arange(len(history)))
    np.testing.assert_allclose(curve.get_ydata(), history - history.min() + 1e-16, rtol=1e-15)
    assert convergence.get_yscale() == "log"
    # the decision boundary p = 0.5: b0 + w1 x + w2 y = 0 along the line
    b0, w1, w2 = run.arrays["coefficients"]
    (boundary,) = [line for line in data.lines if line.get_label() == "p = 0.5"]
    xs, ys = boundary.get_xdata(), boundary.get_ydata()
    np.testing.assert_allclose(b0 + w1 * xs + w2 * ys, 0.0, atol=1e-9)


def test_large_fit_on_parallel_splits_the_loss_and_matches_scipy(tmp_path):
    # configs/logreg_large.yaml asks for target parallel: the threaded loss, scipy's counts
    overrides = ["data.samples=4000", "data.features=30", f"output={tmp_path}"]
    result = invoke("run", ROOT / "configs/logreg_large.yaml", *overrides, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["target"] == "parallel"
    p = Problem(resolve(ROOT / "configs/logreg_large.yaml", overrides))
    assert p.large
    ref = scipy_minimize(
        reference.logistic_loss,
        np.zeros(31),
        jac=reference.logistic_grad,
        args=(p.Z, p.y, p.l2, 1),
        method="BFGS",
    )
    fig = summary["figures"]
    assert (fig["nit"], fig["nfev"], fig["njev"]) == (ref.nit, ref.nfev, ref.njev)
    coefficients = runs.load(summary["run_dir"]).arrays["coefficients"]
    np.testing.assert_allclose(coefficients, ref.x, rtol=1e-8, atol=1e-12)
    serial = p.fit(threaded=False)
    assert (serial.nit, serial.nfev) == (ref.nit, ref.nfev)
    np.testing.assert_allclose(serial.x, coefficients, rtol=1e-10, atol=1e-14)


def test_one_class_or_empty_data_is_a_clear_error(tmp_path):
    one = tmp_path / "one.csv"
    one.write_text("x1,x2,label\n1,2,1\n2,3,1\n3,1,1\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("x1,x2,label\n")
    res = CliRunner().invoke(
        app, ["run", str(ROOT / "configs/logreg.yaml"), "data.kind=csv", f"data.path={one}",
              "--out", str(tmp_path)],
    )  # fmt: skip
    assert res.exit_code == 2
    assert "every one of the 3 samples has label 1" in res.stderr and "both classes" in res.stderr
    res = CliRunner().invoke(
        app, ["run", str(ROOT / "configs/logreg.yaml"), "data.kind=csv", f"data.path={empty}",
              "--out", str(tmp_path)],
    )  # fmt: skip
    assert res.exit_code == 2 and "data.path" in res.stderr
    assert not any(tmp_path.glob("logreg*"))  # nothing was run
