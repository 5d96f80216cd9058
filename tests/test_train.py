"""The training experiment: runs, its numpy reference, the bundled configs and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from workbench import runs
from workbench.cli import app
from workbench.config import resolve
from workbench.experiments import train

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def config(name: str, *overrides: str):
    return resolve(ROOT / "configs" / name, list(overrides))


def test_saddle_descent_ascent_reaches_the_saddle_and_plain_descent_does_not():
    cfg = config("train_saddle.yaml")
    out = train.run(cfg, "cpu")
    assert out.status == 0
    assert out.figures["distance_to_solution"] < 1e-8
    # the same steps without the scale(-1) on y: descent on -y^T D y / 2 pushes y away
    plain = train.run(config("train_saddle.yaml", "transforms=[]"), "cpu")
    assert plain.status == 1 and plain.figures["outcome"] == "diverged"
    assert plain.arrays["distance"][-1] > 1e3 * np.linalg.norm(plain.arrays["path"][0])


def test_saddle_gradient_descent_ascent_against_the_update_written_out():
    cfg = config("train_saddle.yaml", "training.steps=50")
    problem = train.FunctionProblem(cfg)
    A, C, D = problem.A, problem.C, problem.D
    x, y = problem.start["x"].copy(), problem.start["y"].copy()
    lr = cfg.optimizer.lr
    for _ in range(50):
        gx, gy = A @ x + C @ y, C.T @ x - D @ y
        x, y = x - lr * gx, y + lr * gy
    out = train.run(cfg, "cpu")
    np.testing.assert_allclose(out.arrays["param_x"], x, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(out.arrays["param_y"], y, rtol=1e-12, atol=1e-15)


def test_rosenbrock_with_adam_against_numpy_reference():
    cfg = config(
        "train_saddle.yaml",
        "model.kind=rosenbrock",
        "optimizer.kind=adam",
        "optimizer.lr=0.02",
        "transforms=[]",
        "training.steps=300",
    )
    comparison = train.compare(cfg, repeats=1)
    assert comparison.max_rel_diff <= 1e-12


@pytest.mark.parametrize(
    ("optimizer", "extra"),
    [
        ("rmsprop", ()),
        ("rmsprop", ("optimizer.centered=true", "optimizer.momentum=0.5")),
        ("sgd", ("optimizer.momentum=0.9", "optimizer.nesterov=true")),
        ("adam", ("optimizer.weight_decay=1e-3",)),
    ],
)
def test_mlp_training_matches_the_numpy_model_and_update(optimizer, extra):
    cfg = config(
        "train_mlp.yaml",
        "data={kind: blobs, samples: 120, classes: 3, features: 4}",
        "model.hidden=[8]",
        "model.activation=tanh",
        f"optimizer.kind={optimizer}",
        *extra,
        "training.epochs=3",
        "training.batch_size=16",
    )
    comparison = train.compare(cfg, repeats=1)
    # float64: the loss of every minibatch agrees to 1e-10 relative
    assert comparison.max_rel_diff <= 1e-10
    rows = {r.quantity: r for r in comparison.rows}
    assert rows["steps"].ours == rows["steps"].reference == 3 * 6


def test_dropout_and_gradient_reversal_runs_match_the_numpy_reference():
    cfg = config(
        "train_mlp.yaml",
        "data={kind: moons, samples: 100}",
        "model.hidden=[6, 5]",
        "model.dropout_input=0.1",
        "model.dropout_hidden=0.3",
        "model.grl_lambda=0.5",
        "model.grl_layer=1",
        "training.epochs=2",
        "training.batch_size=20",
    )
    assert train.compare(cfg, repeats=1).max_rel_diff <= 1e-10


def test_mlp_learns_the_digits():
    cfg = config("train_mlp.yaml", "training.epochs=5")
    out = train.run(cfg, "cpu")
    assert out.status == 0
    assert out.figures["train_samples"] + out.figures["test_samples"] == 1797
    loss = out.arrays["train_loss"]
    assert loss[-1] < 0.5 * loss[0]
    assert out.figures["final_test_accuracy"] > 0.9


def test_optimizers_config_trains_each_from_the_same_start():
    cfg = config("optimizers.yaml", "training.epochs=2")
    out = train.run(cfg, "cpu")
    assert out.figures["optimizers"] == ["rmsprop", "sgd", "adam"]
    first = [out.arrays[f"{i}_{k}.batch_loss"][0] for i, k in enumerate(["rmsprop", "sgd", "adam"])]
    assert first[0] == first[1] == first[2]  # same start, same first minibatch
    assert (
        len(
            {
                round(out.figures[f"{i}_{k}.final_train_loss"], 12)
                for i, k in enumerate(["rmsprop", "sgd", "adam"])
            }
        )
        == 3
    )


def test_float32_training_stays_close_to_float64():
    base = ("data={kind: blobs, samples: 200}", "model.hidden=[16]", "training.epochs=3")
    f64 = train.run(config("train_mlp.yaml", *base), "cpu")
    f32 = train.run(config("train_mlp.yaml", *base, "training.dtype=float32"), "cpu")
    assert f32.arrays["param_W0"].dtype == np.float32
    np.testing.assert_allclose(f32.arrays["train_loss"], f64.arrays["train_loss"], rtol=1e-4)


def test_cli_runs_the_saddle_and_plots_it(tmp_path, figures):
    result = runner.invoke(
        app, ["run", str(ROOT / "configs/train_saddle.yaml"), "--out", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    run = runs.load(summary["run_dir"])
    assert run.result["figures"]["distance_to_solution"] < 1e-8
    assert run.arrays["value"].shape == (2001,)
    png = tmp_path / "saddle.png"
    plotted = runner.invoke(app, ["plot", summary["run_dir"], "-o", str(png)])
    assert plotted.exit_code == 0, plotted.output
    assert png.read_bytes()[:4] == b"\x89PNG"
    (fig,) = figures
    value, distance = fig.axes
    np.testing.assert_array_equal(value.lines[0].get_ydata(), run.arrays["value"])
    np.testing.assert_array_equal(distance.lines[0].get_xdata(), np.arange(2001))
    np.testing.assert_array_equal(distance.lines[0].get_ydata(), run.arrays["distance"] + 1e-300)
    assert distance.get_yscale() == "log"


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        (["optimizer.rho=1.5"], "optimizer.rho"),
        (["optimizer.kind=lbfgs"], "optimizer"),
        (["model.hidden=[0]"], "model.hidden"),
        (["transforms=[{kind: scale, factor: -1, params: [z]}]"], "transforms.0.params"),
        (["model.grl_lambda=1.0", "model.grl_layer=3"], "grl_layer"),
        (["data={kind: csv, path: missing.csv}"], "data.path"),
        (["optimizers=[]"], "optimizers: must have at least 1 item, got 0"),
        (["transforms=[{kind: scale, factor: .nan}]"], "transforms[0].factor: must be a finite"),
    ],
)
def test_bad_training_configs_exit_2_naming_the_key(tmp_path, overrides, needle):
    result = runner.invoke(
        app, ["run", str(ROOT / "configs/train_mlp.yaml"), *overrides, "--out", str(tmp_path)]
    )
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert not list(tmp_path.iterdir())  # nothing ran, no run folder


def test_overrides_reach_one_optimizer_of_a_list():
    from workbench.config import ConfigError, resolve

    cfg = resolve(
        ROOT / "configs/optimizers.yaml", ["optimizers.1.lr=0.5", "optimizers[2].kind=sgd"]
    )
    kinds = [(o.kind, o.lr, getattr(o, "momentum", None)) for o in cfg.optimizers]
    # the file's SGD with its lr changed; Adam replaced by an SGD section of defaults
    assert kinds == [("rmsprop", 1e-3, 0.0), ("sgd", 0.5, 0.9), ("sgd", 0.01, 0.0)]
    with pytest.raises(ConfigError) as info:
        resolve(ROOT / "configs/optimizers.yaml", ["optimizers[1].lr=-1"])
    assert info.value.key == "optimizers[1].lr"
    assert info.value.problem == "must be > 0, got -1 (from override 'optimizers[1].lr=-1')"


def test_a_diverging_run_stops_with_the_last_state_within_bounds(tmp_path):
    """Plain descent on the saddle runs off along -y^T D y: the run ends as diverged at the
    first step past the bound, exit 1, with the parameters of the step before."""
    cfg = config("train_saddle.yaml", "transforms=[]")
    outcome = train.run(cfg, "cpu")
    step = outcome.figures["diverged_at_step"]
    assert outcome.status == 1 and outcome.figures["outcome"] == "diverged"
    assert outcome.message.startswith(f"sgd: diverged at step {step}")
    values, path = outcome.arrays["value"], outcome.arrays["path"]
    bound = train.divergence_bound(values[0])
    assert abs(values[step]) > bound and np.all(np.abs(values[:step]) <= bound)
    kept = np.concatenate([outcome.arrays["param_x"], outcome.arrays["param_y"]])
    np.testing.assert_array_equal(kept, path[step - 1])
    res = runner.invoke(
        app, ["run", str(ROOT / "configs/train_saddle.yaml"), "transforms=[]", "--json",
              "--out", str(tmp_path)],
    )  # fmt: skip
    assert res.exit_code == 1
    saved = json.loads((Path(json.loads(res.stdout)["run_dir"]) / "result.json").read_text())
    assert saved["figures"]["outcome"] == "diverged" and saved["status"] == 1


RESUMABLE = {
    # an MLP on data (a checkpoint per epoch), with dropout: its per-step seeds must carry on
    "mlp": (
        ROOT / "configs/train_mlp.yaml",
        ["data.kind=moons", "data.samples=200", "training.epochs=4", "model.dropout_hidden=0.2"],
        2,
    ),
    # three optimizers in turn, cut inside the second (every twentieth of the steps)
    "functions": (
        ROOT / "configs/train_saddle.yaml",
        ["training.steps=200", "optimizers=[{kind: rmsprop, lr: 0.01}, {kind: sgd, lr: 0.05, "
         "momentum: 0.9}, {kind: adam, lr: 0.01}]"],
        19 + 1 + 5,
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(RESUMABLE))
def test_an_interrupted_train_run_resumes_to_the_numbers_of_an_uninterrupted_one(
    tmp_path, case, stop_after
):
    from workbench.config import dump_resolved

    config, overrides, cut_after = RESUMABLE[case]
    whole = runner.invoke(
        app, ["run", str(config), *overrides, "--out", str(tmp_path / "w"), "--json"]
    )
    assert whole.exit_code == 0, whole.output
    reference = runs.load(json.loads(whole.stdout)["run_dir"])

    cfg = resolve(config, overrides)
    with pytest.raises(KeyboardInterrupt):
        with runs.create_run(tmp_path / "cut", cfg.name) as rd:
            rd.write_config(dump_resolved(cfg))
            train.run(cfg, "cpu", checkpoint=stop_after(rd, cut_after))
    (partial,) = (tmp_path / "cut").iterdir()
    assert partial.name.endswith(".partial") and (partial / "checkpoint.json").exists()
    resumed = runner.invoke(
        app,
        [
            "run",
            str(config),
            *overrides,
            "--out",
            str(tmp_path / "cut"),
            "--resume",
            str(partial),
            "--json",
        ],
    )
    assert resumed.exit_code == 0, resumed.output
    run = runs.load(json.loads(resumed.stdout)["run_dir"])
    assert not partial.exists() and not list(run.path.glob("checkpoint*"))
    assert set(run.arrays) == set(reference.arrays)
    for key, value in reference.arrays.items():
        np.testing.assert_array_equal(run.arrays[key], value, err_msg=key)


def test_a_finished_train_run_keeps_the_optimizer_state_for_load_state_dict(tmp_path):
    from workbench import optim

    result = runner.invoke(
        app,
        ["run", str(ROOT / "configs/train_saddle.yaml"), "training.steps=50",
         "optimizer={kind: rmsprop, lr: 0.01, momentum: 0.5}", "--out", str(tmp_path), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    run = runs.load(json.loads(result.stdout)["run_dir"])
    state = run.optimizer_state()
    assert state["optimizer"] == "RMSprop" and state["step"] == 50
    params = {"x": run.arrays["param_x"].copy(), "y": run.arrays["param_y"].copy()}
    opt = optim.RMSprop(params, lr=0.01, momentum=0.5)
    opt.load_state_dict(state)
    # one more step from the loaded state equals the update written out from the same state
    g = {k: np.full_like(v, 0.1) for k, v in params.items()}
    before = {k: v.copy() for k, v in params.items()}
    sq = {k: state["state"][k]["square_avg"] for k in params}
    buf = {k: state["state"][k]["momentum_buffer"] for k in params}
    opt.step(g)
    for k in params:
        rho, eps = opt.rho, opt.eps
        avg = rho * sq[k] + (1 - rho) * g[k] ** 2
        denom = np.sqrt(avg + eps) if opt.eps_in_sqrt else np.sqrt(avg) + eps
        expect = before[k] - 0.01 * (0.5 * buf[k] + g[k] / denom)
        np.testing.assert_allclose(params[k], expect, rtol=1e-12)


ADAGRAD = "optimizer={kind: adagrad, lr: 0.05, lr_decay: 0.01, weight_decay: 1e-3, initial_accumulator_value: 0.1}"  # noqa: E501


def test_mlp_training_with_adagrad_matches_the_numpy_reference():
    cfg = config(
        "train_mlp.yaml",
        "data={kind: blobs, samples: 120, classes: 3, features: 4}",
        "model.hidden=[8]",
        ADAGRAD,
        "training.epochs=3",
        "training.batch_size=16",
    )
    assert cfg.optimizer.kind == "adagrad" and cfg.optimizer.lr_decay == 0.01
    comparison = train.compare(cfg, repeats=1)
    assert comparison.max_rel_diff <= 1e-10
    problem = train.make_problem(cfg)
    params, opt, _ = problem.train(cfg.optimizer, "cpu")
    ref_params, ref, _ = problem.train(cfg.optimizer, "cpu", numpy=True)
    assert type(opt).__name__ == "Adagrad" and type(ref).__name__ == "NumpyAdagrad"
    for k in params:
        np.testing.assert_allclose(params[k], ref_params[k], rtol=1e-10, atol=1e-12, err_msg=k)


def test_cli_trains_with_adagrad_and_keeps_its_state(tmp_path):
    from workbench import optim
    from workbench.optim.reference import NumpyAdagrad

    result = runner.invoke(
        app,
        ["run", str(ROOT / "configs/train_saddle.yaml"), "training.steps=40", ADAGRAD,
         "--out", str(tmp_path), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    run = runs.load(json.loads(result.stdout)["run_dir"])
    state = run.optimizer_state()
    assert state["optimizer"] == "Adagrad" and state["step"] == 40
    assert state["hyperparameters"]["initial_accumulator_value"] == 0.1
    # the same 40 steps with the numpy reference, on the same problem
    cfg = config("train_saddle.yaml", "training.steps=40", ADAGRAD)
    problem = train.make_problem(cfg)
    params, _, _ = problem.train(cfg.optimizer, "cpu", numpy=True)
    for k in ("x", "y"):
        np.testing.assert_allclose(run.arrays[f"param_{k}"], params[k], rtol=1e-12, atol=1e-14)
    # and the saved state resumes in a fresh optimizer
    restored = {k: run.arrays[f"param_{k}"].copy() for k in ("x", "y")}
    opt = optim.Adagrad(restored)
    opt.load_state_dict(state)
    ref = NumpyAdagrad({k: v.copy() for k, v in restored.items()}, **opt.hyperparameter_values())
    ref.step_count = 40
    ref.state = {k: {"sum": state["state"][k]["sum"].copy()} for k in restored}
    g = {k: np.full_like(v, 0.1) for k, v in restored.items()}
    opt.step(g)
    ref.step(g)
    for k in restored:
        np.testing.assert_allclose(restored[k], ref.params[k], rtol=1e-13, err_msg=k)
