"""The command line: clear errors (exit 2, nothing run), overrides, run folders, figures."""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.integrate import solve_ivp as scipy_solve_ivp
from typer.testing import CliRunner

from workbench import runs
from workbench.cli import app
from workbench.config import resolve
from workbench.experiments import arm as exp
from workbench.models import arm as model
from workbench.models import reference
from workbench.targets import cuda_available

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def write_config(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = """experiment: arm
output: {out}
solver: {{t_eval: 11}}
"""

BAD_CONFIGS = {
    "yaml syntax": ("experiment: arm\nsolver: {rtol: [1e-6\n", ["line 3", "column"]),
    "unknown key": (
        "experiment: arm\nsolver: {rtl: 1e-6}\n",
        ["solver.rtl", "did you mean 'rtol'"],
    ),
    "wrong type": ("experiment: arm\nsolver: {rtol: abc}\n", ["solver.rtol", "expected a number"]),
    "negative tolerance": ("experiment: arm\nsolver: {rtol: -1}\n", ["solver.rtol", "must be > 0"]),
    "empty file": ("", ["empty"]),
    "list not mapping": ("experiment: arm\nsolver: [1, 2]\n", ["solver", "expected a mapping"]),
    "unknown experiment": ("experiment: spaceship\n", ["experiment", "arm"]),
    "unknown torque kind": (
        "experiment: arm\ntorque: {kind: square}\n",
        ["torque.kind", "sines", "chirp"],
    ),
    "torque NaN": (
        "experiment: arm\ntorque: {kind: table, t: [0, 0.5, 1], "
        "values: [[0, .nan, 1], [0, 0, 0]]}\n",
        ["torque", "NaN"],
    ),
    "grid not increasing": (
        "experiment: arm\ntorque: {kind: table, t: [0, 0.5, 0.5, 1], "
        "values: [[0, 1, 1, 0], [0, 0, 0, 0]]}\n",
        ["torque", "not strictly increasing"],
    ),
    "missing torque file": (
        "experiment: arm\ntorque: {kind: file, path: nowhere.csv}\n",
        ["torque.path", "nowhere.csv"],
    ),
    "table too short": (
        "experiment: arm\ntorque: {kind: table, t: [0, 0.5], values: [[0, 1], [0, 1]]}\n",
        ["torque", "extrapolate: hold"],
    ),
    "t_eval outside t_span": (
        "experiment: arm\nsolver: {t_span: [0, 1], t_eval: [0, 0.5, 2]}\n",
        ["solver", "t_eval", "within t_span"],
    ),
    "ensemble times out of order": (
        "experiment: arm\nensemble: {size: 4, t_eval: [0.5, 0.2, 0.9]}\n",
        ["ensemble.t_eval", "strictly increasing"],
    ),
    "ensemble times outside t_span": (
        "experiment: arm\nensemble: {size: 4, t_eval: [0.5, 3]}\n",
        ["ensemble.t_eval", "within t_span [0.0, 1.0]"],
    ),
    "ensemble range upside down": (
        "experiment: arm\nensemble: {size: 4, q_deg: {low: [10, 0], high: [5, 1]}}\n",
        ["ensemble.q_deg", "low must not exceed high (joint 1: 10.0 > 5.0)"],
    ),
    "ensemble parameter range upside down": (
        "experiment: arm\nensemble: {size: 4, params: {L1: [0.5, 0.2]}}\n",
        ["ensemble.params", "low must not exceed high for L1"],
    ),
    "arm length overflowing the inertia": (
        "experiment: arm\narm: {L1: 1.0e+300}\n",
        ["arm.L1", "must be <= 1000000, got 1e+300"],
    ),
    "ensemble length range below zero": (
        "experiment: arm\nensemble: {size: 4, params: {L1: [-1, 0.3]}}\n",
        ["ensemble.params", "the range of L1 must lie within (0, 1e+06]"],
    ),
    "NaN initial angle": (
        "experiment: arm\ninitial: {q_deg: [10, .nan]}\n",
        ["initial.q_deg[1]", "must be a finite number, got nan"],
    ),
    "infinite tolerance": ("experiment: arm\nsolver: {rtol: .inf}\n", ["solver.rtol", "finite"]),
    "python tag": (
        "experiment: arm\nname: !!python/object/apply:os.system ['touch MARKER']\n",
        ["not allowed"],
    ),
}


@pytest.mark.parametrize("case", BAD_CONFIGS)
def test_bad_configs_exit_2_with_one_clear_line(tmp_path, monkeypatch, case):
    text, needles = BAD_CONFIGS[case]
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "runs"
    path = write_config(tmp_path, text + f"output: {out}\n" if text else "")
    result = invoke("run", path)
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert "Traceback" not in result.output
    assert str(path) in message
    for needle in needles:
        assert needle in message, message
    assert not out.exists()  # nothing ran: no run folder, complete or partial
    assert not (tmp_path / "MARKER").exists()  # and nothing in the file was executed


def test_missing_file_and_bad_target(tmp_path):
    result = invoke("run", tmp_path / "absent.yaml")
    assert result.exit_code == 2 and "no such file" in result.stderr
    good = write_config(tmp_path, GOOD.format(out=tmp_path / "runs"))
    result = invoke("run", good, "--target", "gpu")
    assert result.exit_code == 2 and "unknown target 'gpu'" in result.stderr


@pytest.mark.skipif(cuda_available(), reason="a CUDA GPU (or the simulator) is usable here")
def test_cuda_target_without_a_gpu_is_an_error_not_a_fallback(tmp_path):
    good = write_config(tmp_path, GOOD.format(out=tmp_path / "runs"))
    result = invoke("run", good, "--target", "cuda")
    assert result.exit_code == 2
    assert "target 'cuda' requested but no CUDA GPU is usable" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_validate_applies_overrides_and_resets_a_section_on_kind():
    result = invoke("validate", ROOT / "configs/arm.yaml", "solver.rtol=1e-8", "torque.kind=chirp")
    assert result.exit_code == 0, result.output
    resolved = yaml.safe_load(result.stdout)
    assert resolved["solver"]["rtol"] == 1e-8 and isinstance(resolved["solver"]["rtol"], float)
    assert resolved["torque"]["kind"] == "chirp"
    assert "frequencies" not in resolved["torque"]  # the sines keys are gone
    assert resolved["torque"]["f0"] == 0.5  # the chirp's defaults are in
    bad = invoke("validate", ROOT / "configs/arm.yaml", "solver.rtol=-1")
    assert bad.exit_code == 2 and "solver.rtol" in bad.stderr


def test_run_writes_a_complete_folder_with_scipy_numbers(tmp_path):
    path = write_config(tmp_path, GOOD.format(out=tmp_path / "runs"))
    result = invoke("run", path, "--json", "--target", "cpu")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    folders = [p for p in (tmp_path / "runs").iterdir()]
    assert len(folders) == 1 and Path(summary["run_dir"]) == folders[0]
    assert {p.name for p in folders[0].iterdir()} == {
        "config.yaml",
        "result.json",
        "arrays.npz",
        "log.txt",
    }
    run = runs.load(folders[0])
    a = run.arrays
    assert a["t"].shape == (11,) and a["q"].shape == (2, 11) and a["qdot"].shape == (2, 11)
    assert a["tau"].shape == (2, 11) and a["end_effector"].shape == (2, 11)
    assert run.result["status"] == 0 and run.result["target"] == "cpu"
    assert run.result["figures"]["energy_error"] <= 100 * 1e-6
    # independent check: scipy on the seed's numpy right-hand side
    cfg = resolve(path)
    t_grid, table = exp.torque_table(cfg)
    y0 = exp.initial_state(cfg.initial.q_deg, cfg.initial.qdot_deg_s)
    ref = scipy_solve_ivp(
        reference.arm_rhs_interp,
        (0, 1),
        y0,
        t_eval=a["t"],
        rtol=1e-6,
        atol=1e-9,
        args=(t_grid, table, cfg.arm.vector()),
    )
    np.testing.assert_allclose(a["q"][:, -1], ref.y[:2, -1], rtol=1e-6)
    np.testing.assert_allclose(a["qdot"][:, -1], ref.y[2:4, -1], rtol=1e-5)


def test_solver_failure_exits_1_with_a_complete_folder(tmp_path):
    text = GOOD.format(out=tmp_path / "runs") + "torque: {kind: constant, value: [1e300, 1e300]}\n"
    result = invoke("run", write_config(tmp_path, text), "--quiet")
    assert result.exit_code == 1, result.output
    (folder,) = (tmp_path / "runs").iterdir()
    run = runs.load(folder)
    assert run.result["status"] == -1 and not run.result["success"]


def test_an_interrupted_run_without_a_checkpoint_leaves_nothing(tmp_path, monkeypatch):
    from workbench import experiments

    arm = experiments.get("arm")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(arm, "run", interrupted)
    path = write_config(tmp_path, GOOD.format(out=tmp_path / "runs"))
    result = invoke("run", path)
    assert result.exit_code == 130
    assert "interrupted; the run was not finished, and nothing of it was kept" in result.output
    assert list((tmp_path / "runs").iterdir()) == []


def test_ensemble_targets_agree_with_each_other_and_a_single_solve(tmp_path):
    from workbench.integrate import solve_ivp

    arrays = {}
    for target in ("cpu", "parallel"):
        out = tmp_path / target
        result = invoke(
            "run",
            ROOT / "configs/arm_ensemble.yaml",
            "ensemble.size=64",
            f"output={out}",
            "--target",
            target,
            "--quiet",
        )
        assert result.exit_code == 0, result.output
        (folder,) = out.iterdir()
        arrays[target] = runs.load(folder).arrays
    a = arrays["cpu"]
    assert a["q"].shape == (64, 2, 11) and np.all(a["status"] == 0)
    np.testing.assert_array_equal(a["q"], arrays["parallel"]["q"])
    cfg = resolve(ROOT / "configs/arm_ensemble.yaml", ["ensemble.size=64"])
    y0s, params = exp.ensemble_members(cfg)
    one = solve_ivp(
        model.ARM_RHS,
        (0, 1),
        y0s[0],
        t_eval=a["t"],
        rtol=1e-6,
        atol=1e-9,
        args=(params[0], exp.packed_torque(cfg)),
    )
    np.testing.assert_allclose(a["q"][0], one.y[:2], rtol=1e-12)


def test_list_info_compare_and_plot(tmp_path, figures):
    listed = invoke("list")
    assert listed.exit_code == 0
    assert "arm" in listed.stdout and "arm.yaml" in listed.stdout
    assert "arm_ensemble.yaml" in listed.stdout
    info = invoke("info")
    import numba

    assert info.exit_code == 0 and numba.__version__ in info.stdout
    assert "CPU threads" in info.stdout
    cmp = invoke("compare", ROOT / "configs/arm.yaml", "solver.t_eval=11", "--repeats", "1")
    assert cmp.exit_code == 0, cmp.output
    rel = float(re.search(r"max rel difference\s*│\s*([0-9.e+-]+)", cmp.stdout).group(1))
    # scipy runs the numpy form of the arm (np.interp, a matrix inverse), which rounds
    # otherwise: the two agree to the solve's tolerance (rtol 1e-6), measured 6e-6 here
    assert rel < 1e-5
    path = write_config(tmp_path, GOOD.format(out=tmp_path / "runs"))
    assert invoke("run", path, "--quiet").exit_code == 0
    (folder,) = (tmp_path / "runs").iterdir()
    png = tmp_path / "fig.png"
    result = invoke("plot", folder, "-o", png)
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the figure's data are the run's: angles and rates in degrees against t
    run = runs.load(folder)
    (fig,) = figures
    angles, rates = fig.axes[0], fig.axes[1]
    for i, line in enumerate(angles.lines[:2]):
        np.testing.assert_array_equal(line.get_xdata(), run.arrays["t"])
        np.testing.assert_allclose(line.get_ydata(), np.rad2deg(run.arrays["q"][i]))
    np.testing.assert_allclose(rates.lines[1].get_ydata(), np.rad2deg(run.arrays["qdot"][1]))
    result = invoke("plot", tmp_path)
    assert result.exit_code == 2 and str(tmp_path) in result.stderr


def test_version_module_entry_and_flags_in_help():
    import subprocess
    import sys

    from workbench import __version__

    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.stdout.strip() == f"workbench {__version__}"
    proc = subprocess.run(
        [sys.executable, "-m", "workbench", "--version"], capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip() == f"workbench {__version__}"
    text = runner.invoke(app, ["run", "--help"]).stdout
    assert "-q, --quiet" in text and "<bool>" not in text
    assert "--install-completion" in runner.invoke(app, ["--help"]).stdout


def test_json_summary_is_strict_json(tmp_path):
    res = runner.invoke(
        app, ["run", str(ROOT / "configs/arm.yaml"), "solver.t_span=[0.0,0.2]", "--json",
              "--out", str(tmp_path)],
    )  # fmt: skip
    assert res.exit_code == 0, res.stdout

    def refuse(name):
        raise ValueError(name)

    summary = json.loads(res.stdout, parse_constant=refuse)
    saved = json.loads(
        (Path(summary["run_dir"]) / "result.json").read_text(), parse_constant=refuse
    )
    assert summary["status"] == saved["status"] == 0


def test_filesystem_errors_are_one_line_and_long_names_are_hashed(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    res = runner.invoke(
        app, ["run", str(ROOT / "configs/arm.yaml"), "solver.t_span=[0.0,0.1]", "-q",
              "--out", str(a_file)],
    )  # fmt: skip
    assert res.exit_code == 2
    assert "exists and is not a folder" in res.stderr and "Traceback" not in res.output
    names = []
    for tail in ("a", "b"):  # the same first 300 characters, then different
        res = runner.invoke(
            app, ["run", str(ROOT / "configs/arm.yaml"), "solver.t_span=[0.0,0.1]", "-q",
                  f"name={'x' * 300}{tail}", "--out", str(tmp_path / "runs")],
        )  # fmt: skip
        assert res.exit_code == 0, res.output
        names.append(Path(res.stdout.strip()).name)
    assert len(set(n.rsplit("-", 3)[0] for n in names)) == 2  # the hashes differ
    assert all(len(n) <= 140 for n in names)


@pytest.mark.parametrize(
    ("code", "reason"),
    [(errno.ENOSPC, "No space left on device"), (errno.EACCES, "Permission denied")],
)
def test_a_full_disk_or_an_unwritable_folder_is_one_line_and_leaves_nothing(
    tmp_path, monkeypatch, code, reason
):
    # as root every folder is writable, so the failure is injected where the arrays are written
    real = runs.write_atomic

    def failing(path, content):
        if Path(path).name == runs.ARRAYS_FILE:
            raise OSError(code, os.strerror(code), str(path))
        return real(path, content)

    monkeypatch.setattr(runs, "write_atomic", failing)
    res = runner.invoke(
        app, ["run", str(ROOT / "configs/arm.yaml"), "solver.t_span=[0.0,0.1]", "-q",
              "--out", str(tmp_path)],
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    assert reason in res.stderr and runs.ARRAYS_FILE in res.stderr
    assert "Traceback" not in res.output and list(tmp_path.iterdir()) == []


def test_an_os_error_outside_the_run_folder_is_one_line_without_the_folder_hint(
    tmp_path, monkeypatch
):
    def reading_fails(*args, **kwargs):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "/elsewhere/in.csv")

    monkeypatch.setattr(runs, "perform", reading_fails)
    argv = ["run", str(ROOT / "configs/arm.yaml"), "-q", "--out", str(tmp_path)]
    res = runner.invoke(app, argv)
    assert res.exit_code == 2, res.output
    assert res.stderr.strip() == "error: /elsewhere/in.csv: No such file or directory"
    assert list(tmp_path.iterdir()) == []

    def handler_timeout(*args, **kwargs):
        raise TimeoutError("a signal handler's own exception")  # an OSError without errno

    monkeypatch.setattr(runs, "perform", handler_timeout)
    res = runner.invoke(app, argv)
    assert isinstance(res.exception, TimeoutError)  # not mistaken for a file-system error


@pytest.mark.parametrize(
    "override",
    ["torque.samples=1e12", "solver.t_eval=1000000000", "torque.samples=2.5"],
)
def test_counts_are_bounded_integers(override, tmp_path):
    res = runner.invoke(
        app, ["run", str(ROOT / "configs/arm.yaml"), override, "--out", str(tmp_path)]
    )
    assert res.exit_code == 2 and "Traceback" not in res.output
    key = override.split("=")[0]
    assert f"{key}:" in res.stderr and not any(tmp_path.iterdir())


def test_a_run_that_would_not_fit_in_memory_is_refused_with_the_estimate(tmp_path):
    res = runner.invoke(
        app, ["run", str(ROOT / "configs/arm_ensemble.yaml"), "ensemble.size=10000000",
              "ensemble.t_eval=10000000", "--out", str(tmp_path)],
    )  # fmt: skip
    assert res.exit_code == 2 and "Traceback" not in res.output
    # 10^7 members x 10^7 times x 5 states x 8 bytes = 3.55 PiB (plus the small per-member rest)
    assert "ensemble.size: the run's arrays would take about 3.55 PiB" in res.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("config", "overrides", "key", "size"),
    [
        ("train_saddle.yaml", ["model.nx=100000", "model.ny=100000"], "model", "1.09 TiB"),
        ("train_mlp.yaml", ["model.hidden=[100000,100000,100000]"], "model", "746 GiB"),
        ("lm_gru.yaml", ["model.hidden=100000"], "model.hidden", "902 GiB"),
        (
            "logreg.yaml",
            ["data={kind: synthetic, samples: 10000000, features: 10000}"],
            "data",
            "2.91 TiB",
        ),
        (
            "logreg_bootstrap.yaml",
            ["bootstrap.resamples=10000000", "data.samples=100000"],
            "bootstrap.resamples",
            "7.28 TiB",
        ),
    ],
)
def test_runs_that_would_not_fit_in_memory_are_refused_with_the_estimate(
    tmp_path, config, overrides, key, size
):
    # the estimates, worked out by hand: e.g. the saddle keeps A, C, D and x, y five times
    # over (parameters, gradients, optimizer state): 5 * 8 * (3e10 + 2e5) bytes = 1.09 TiB
    result = invoke("run", ROOT / "configs" / config, *overrides, "--out", tmp_path)
    assert result.exit_code == 2, result.output
    assert f"{key}: the run's arrays would take about {size}" in result.output
    assert "Traceback" not in result.output and list(tmp_path.iterdir()) == []
