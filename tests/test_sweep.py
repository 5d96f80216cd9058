"""Sweeps: axes, validation before anything runs, local and Dask executors, resume, failures."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from workbench import runs
from workbench import sweeps as sw
from workbench.cli import app
from workbench.config import ConfigError, dump_resolved, resolve_dict
from workbench.experiments import arm
from workbench.sweeps.axes import parse_axis, sample
from workbench.sweeps.worker import Task, execute
from workbench.targets import cuda_available

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

# Short arm runs: 0.1 s of motion reported at 11 times (a few hundred microseconds each).
BASE = """experiment: arm
name: tiny
target: cpu
output: {out}
torque: {{kind: constant, value: [0.1, 0.05]}}
solver: {{t_span: [0, 0.1], t_eval: 11}}
"""


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def base(tmp_path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(BASE.format(out=tmp_path / "runs"))
    return path


def overrides(values: dict) -> list[str]:
    from workbench.sweeps.axes import yaml_text

    return [f"{k}={yaml_text(v)}" for k, v in values.items()]


def direct(base: Path, values: dict):
    """The run of one combination, resolved and solved here without the sweep machinery."""
    from workbench.config import load_file

    cfg = resolve_dict(load_file(base), overrides(values), file=base)
    res, _, _ = arm.solve_single(cfg)
    return cfg, res


# ------------------------------------------------------------------------------------- axes


def test_axis_forms():
    assert parse_axis("solver.rtol=1e-3,1e-6").values == [1e-3, 1e-6]
    lists = parse_axis("solver.atol=[1e-6,1e-8],[1e-7,1e-9]")
    assert lists.key == "solver.atol" and lists.values == [[1e-6, 1e-8], [1e-7, 1e-9]]
    assert parse_axis("torque.kind=sines,'chirp'").values == ["sines", "chirp"]
    assert parse_axis("a.b=logspace(-3,-6,4)").values == [1e-3, 1e-4, 1e-5, 1e-6]
    np.testing.assert_allclose(parse_axis("a.b=linspace(0, 1, 5)").values, np.linspace(0, 1, 5))
    assert parse_axis("a.b=range(2,11,3)").values == [2, 5, 8]
    assert parse_axis("a.b=range(0,0.35,0.1)").values == [0.0, 0.1, 0.2, 0.3]
    assert parse_axis("seed=7").values == [7]


@pytest.mark.parametrize(
    "text, needle",
    [
        ("solver.rtol", "expected KEY=VALUES"),
        ("solver.rtol=", "no values"),
        ("solver.rtol=1,,2", "empty value"),
        ("solver.rtol=[1,2", "unclosed"),
        ("solver.rtol=linspace(1,2)", "takes 3 numbers"),
        ("solver.rtol=logspace(-3,-6,0)", "n must be an integer"),
        ("solver.rtol=range(5,1)", "is empty"),
        ("solver.rtol=range(0,1,0)", "step must not be 0"),
        ("solver..rtol=1", "not a dotted config key"),
    ],
)
def test_bad_axes_say_what_is_accepted(text, needle):
    with pytest.raises(ConfigError) as exc:
        parse_axis(text)
    assert needle in str(exc.value) and repr(text) in str(exc.value)


def test_random_draws_distinct_grid_points_or_from_the_whole_range():
    axes = [parse_axis("a.x=1,2,3"), parse_axis("a.y=10,20")]
    picks = sample(axes, 6, seed=3)
    assert sorted((p["a.x"], p["a.y"]) for p in picks) == [
        (x, y) for x in (1, 2, 3) for y in (10, 20)
    ]
    assert sample(axes, 4, seed=3) == sample(axes, 4, seed=3) != sample(axes, 4, seed=4)
    with pytest.raises(ConfigError, match="only 6 combinations"):
        sample(axes, 7, seed=0)
    drawn = sample([parse_axis("a.r=logspace(-8,-2,4)")], 200, seed=1)
    values = np.array([d["a.r"] for d in drawn])
    assert values.min() >= 1e-8 and values.max() <= 1e-2
    assert len(set(values)) == 200  # drawn from the range, not from its 4 points
    assert np.all(np.isin([1e-8, 1e-6, 1e-4, 1e-2], values, invert=True))


def test_sweep_section_and_command_line_axes(tmp_path, base):
    flat = tmp_path / "flat.yaml"
    flat.write_text(base.read_text() + "sweep:\n  solver.rtol: [1e-3, 1e-5]\n  seed: [0, 1]\n")
    p = sw.plan(flat, ["solver.rtol=1e-4", "solver.atol=1e-8"], out=tmp_path / "s")
    assert [ax.key for ax in p.axes] == ["solver.rtol", "seed", "solver.atol"]
    assert [r.values for r in p.runs] == [
        {"solver.rtol": 1e-4, "seed": s, "solver.atol": 1e-8} for s in (0, 1)
    ]
    assert p.runs[1].cfg.seed == 1 and p.runs[0].cfg.solver.rtol == 1e-4
    structured = tmp_path / "structured.yaml"
    structured.write_text(
        base.read_text()
        + "sweep:\n  axes: {solver.rtol: 'logspace(-3,-5,3)'}\n  random: 2\n  seed: 5\n"
    )
    p = sw.plan(structured, out=tmp_path / "s2")
    assert p.random == 2 and len(p.runs) == 2
    drawn = [r.values["solver.rtol"] for r in p.runs]  # log-uniform over [1e-5, 1e-3]
    assert all(1e-5 <= v <= 1e-3 for v in drawn) and len(set(drawn)) == 2
    assert (
        not (tmp_path / "s").exists() and not (tmp_path / "s2").exists()
    )  # planning writes nothing


@pytest.mark.parametrize(
    "section, needle",
    [
        ("sweep: [1, 2]\n", "sweep: expected a mapping of axes"),
        ("sweep: {axes: {solver.rtol: [1e-3]}, rendom: 3}\n", "sweep.rendom: unknown key"),
        ("sweep: {solver.rtol: {a: 1}}\n", "sweep.solver.rtol: expected a list of values"),
        ("sweep: {solver.rtol: []}\n", "the list of values is empty"),
        ("sweep: {axes: {solver.rtol: [1e-3]}, random: 0}\n", "sweep.random: expected a count"),
        (
            "sweep: {axes: {solver.rtol: [1e-3]}, reference: {overrides: {}, arrays: [q]}}\n",
            "sweep.reference.overrides",
        ),
    ],
)
def test_bad_sweep_sections_exit_2_naming_the_key(tmp_path, base, section, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(base.read_text() + section)
    result = invoke("sweep", path, "--out", tmp_path / "s")
    assert result.exit_code == 2, result.output
    assert needle in result.output and "Traceback" not in result.output
    assert not (tmp_path / "s").exists()


def test_run_on_a_sweep_file_says_to_use_sweep(tmp_path, base):
    path = tmp_path / "s.yaml"
    path.write_text(base.read_text() + "sweep: {solver.rtol: [1e-3, 1e-4]}\n")
    for command in ("run", "validate"):
        result = invoke(command, path)
        assert result.exit_code == 2
        assert "workbench sweep" in result.output and "s.yaml: sweep" in result.output


# ------------------------------------------------------------------------- validated first


@pytest.mark.parametrize(
    "axes, needles",
    [
        (
            ["solver.rtol=1e-3,-1"],
            ["combination 1 (solver.rtol=-1)", "solver.rtol: must be > 0, got -1"],
        ),
        (["solver.rtl=1e-3"], ["combination 0", "unknown key 'rtl'", "did you mean 'rtol'"]),
        (
            ["torque.kind=table", "torque.t=[0,0.1],[0,0.05]", "torque.values=[[0,0],[0,0]]"],
            ["combination 1", "torque.t=[0, 0.05]", "the table covers [0, 0.05] s"],
        ),
        (["solver.rtol=1e-3,0.001"], ["combinations 0", "and 1", "same config"]),
        (["solver.t_eval=[0,0.05],[0,0.05,2]"], ["combination 1", "within t_span"]),
        (["solver.rtol=1e-3,.inf"], ["combination 1", "finite"]),
        pytest.param(
            ["target=cpu,cuda"],
            ["combination 1", "target", "no CUDA GPU is usable"],
            marks=pytest.mark.skipif(cuda_available(), reason="a CUDA GPU is usable here"),
        ),
    ],
)
def test_a_bad_combination_stops_the_sweep_before_any_run(tmp_path, base, axes, needles):
    out = tmp_path / "sweep"
    result = invoke("sweep", base, *axes, "--out", out)
    assert result.exit_code == 2, result.output
    for needle in needles:
        assert needle in result.output, result.output
    assert "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    "options, needle",
    [
        (["--executor", "ray"], "accepted: local, dask"),
        (["--workers", "0"], "--workers"),
        (["--timeout", "0"], "--timeout"),
        (["--timeout", "1e12"], "at most"),
        (["--random", "0"], "--random: expected a count >= 1"),
        (["--address", "tcp://localhost:1"], "add --executor dask"),
        (["--executor", "dask", "--address", "localhost"], "expected tcp://HOST:PORT"),
    ],
)
def test_bad_options_exit_2(tmp_path, base, options, needle):
    result = invoke("sweep", base, "solver.rtol=1e-3", "--out", tmp_path / "s", *options)
    assert result.exit_code == 2 and needle in result.output, result.output
    assert not (tmp_path / "s").exists()


def test_out_that_cannot_be_made_and_timeout_inf(tmp_path, base):
    (tmp_path / "file").write_text("x")
    result = invoke("sweep", base, "solver.rtol=1e-3", "--out", tmp_path / "file" / "s")
    assert result.exit_code == 2 and "cannot make the folder" in result.output, result.output
    # inf is no limit; what the sweep writes is readable as any file this process makes
    old = os.umask(0o022)
    try:
        ok = invoke("sweep", base, "solver.rtol=1e-3", "--timeout", "inf", "--out", tmp_path / "s")
    finally:
        os.umask(old)
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "s" / "summary.csv").stat().st_mode & 0o777 == 0o644


def test_plot_errors_are_one_line(tmp_path, base):
    result = invoke("plot", tmp_path / "nowhere", "--x", "a", "--y", "b")
    assert result.exit_code == 2 and "no such folder" in result.output
    sweep_dir = tmp_path / "s"
    assert invoke("sweep", base, "solver.rtol=1e-3,1e-4", "--out", sweep_dir).exit_code == 0
    bad_o = invoke(
        "plot", sweep_dir, "--x", "solver.rtol", "--y", "nfev", "-o", tmp_path / "no" / "x.png"
    )
    assert (
        bad_o.exit_code == 2
        and "does not exist" in bad_o.output
        and "Traceback" not in bad_o.output
    )


def test_dask_executor_without_dask_is_a_clear_error(tmp_path, base, monkeypatch):
    monkeypatch.delitem(sys.modules, "workbench.sweeps.dask_executor", raising=False)
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    result = invoke(
        "sweep", base, "solver.rtol=1e-3", "--executor", "dask", "--out", tmp_path / "s"
    )
    assert result.exit_code == 2, result.output
    assert "pip install 'workbench[dask]'" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "s").exists()


def test_out_must_be_new_empty_or_a_sweep_folder(tmp_path, base):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    result = invoke("sweep", base, "solver.rtol=1e-3", "--out", tmp_path / "busy")
    assert result.exit_code == 2 and "holds no sweep" in result.output
    assert sorted(p.name for p in (tmp_path / "busy").iterdir()) == ["notes.txt"]


# ------------------------------------------------------------------------------- executors

AXES = ["solver.rtol=1e-3,1e-7", "solver.atol=[1e-6,1e-6,1e-6,1e-6],[1e-10,1e-10,1e-10,1e-10]"]


def _check_against_direct_runs(base: Path, result: sw.SweepResult) -> None:
    """Every row and run folder against the same combination run here, directly."""
    for row in result.rows:
        values = {k: row[k] for k in ("solver.rtol", "solver.atol")}
        cfg, res = direct(base, values)
        assert row["status"] == "ok"
        assert row["nfev"] == res.nfev and row["accepted_steps"] == res.naccept
        np.testing.assert_array_equal(row["q_final_deg"], np.rad2deg(res.y[0:2, -1]))
        folder = result.path / row["run_dir"]
        run = runs.load(folder)  # a complete run folder, as `workbench run` writes
        text = (folder / "config.yaml").read_text()
        assert text == dump_resolved(cfg)
        assert folder.name.endswith("-" + hashlib.sha256(text.encode()).hexdigest()[:10])
        np.testing.assert_array_equal(run.arrays["q"], res.y[0:2])
        assert run.result["figures"]["nfev"] == res.nfev and run.result["success"]
        assert {"status", "message", "figures", "timings", "versions", "target"} <= set(run.result)


def test_local_and_dask_give_the_same_summary(tmp_path, base):
    pytest.importorskip("distributed")
    results = {}
    for executor in ("local", "dask"):
        p = sw.plan(base, AXES, out=tmp_path / executor)
        results[executor] = sw.run(p, executor=executor, workers=2)
        assert results[executor].exit_code == 0
        _check_against_direct_runs(base, results[executor])
    local, dask = (sw.load_summary(tmp_path / e) for e in ("local", "dask"))
    assert len(local) == 4 and local[0]["solver.atol"] == [1e-6] * 4
    strip = [{k: v for k, v in row.items() if k not in ("wall_s",)} for row in local]
    assert strip == [{k: v for k, v in row.items() if k not in ("wall_s",)} for row in dask]
    header = (tmp_path / "local" / "summary.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["index", "solver.rtol", "solver.atol", "status"]
    assert {"nfev", "wall_s", "run_dir"} <= set(header)
    described = (tmp_path / "local" / "sweep.yaml").read_text()
    assert all(row["run_dir"] in described for row in local)


def test_reference_error_columns(tmp_path, base):
    path = tmp_path / "ref.yaml"
    path.write_text(
        base.read_text()
        + textwrap.dedent(
            """\
            sweep:
              axes: {solver.rtol: [1e-3, 1e-6], torque.value: [[0.1, 0.05], [0.2, 0.0]]}
              reference: {overrides: {solver.rtol: 1e-11, solver.atol: 1e-13}, arrays: [q]}
              sort: error_q
            """
        )
    )
    result = sw.run(sw.plan(path, out=tmp_path / "s"), workers=2)
    assert result.exit_code == 0
    refs = sorted(p.name for p in (tmp_path / "s").glob("ref-*"))
    assert len(refs) == 2  # one reference per torque (the tolerances are overridden)
    for row in result.rows:
        values = {"solver.rtol": row["solver.rtol"], "torque.value": row["torque.value"]}
        _, res = direct(path.with_name("tiny.yaml"), values)
        _, ref = direct(
            path.with_name("tiny.yaml"), {**values, "solver.rtol": 1e-11, "solver.atol": 1e-13}
        )
        assert row["error_q"] == pytest.approx(np.max(np.abs(res.y[0:2] - ref.y[0:2])), rel=1e-12)
        assert row["error_q"] > 0
    rows, warning = sw.sorted_rows(result, "error_q")
    assert warning is None and [r["error_q"] for r in rows] == sorted(r["error_q"] for r in rows)
    assert sw.sorted_rows(result, "nope")[1].startswith("--sort 'nope' is not a column")
    assert result.warnings == []
    # an array the runs do not output: an empty column and a warning that lists theirs
    bad = path.read_text().replace("arrays: [q]", "arrays: [q, nosuch]")
    path.write_text(bad)
    cli = invoke("sweep", path, "--out", tmp_path / "s2")
    assert cli.exit_code == 0, cli.output
    assert "no array 'nosuch'" in cli.output and "qdot" in cli.output


def test_sweep_plot(tmp_path, base, figures):
    out = tmp_path / "s"
    result = invoke(
        "sweep", base, "solver.rtol=1e-3,1e-5,1e-7", "solver.atol=1e-6,1e-9", "--out", out
    )
    assert result.exit_code == 0, result.output
    result = invoke("plot", out, "--x", "solver.rtol", "--y", "nfev")
    assert result.exit_code == 0, result.output
    png = out / "plot-nfev-vs-solver.rtol.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # one line per atol, nfev against rtol, from the sweep's runs
    (fig,) = figures
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and len(ax.lines) == 2
    rows = sw.load_summary(out)
    for line in ax.lines:
        atol = float(line.get_label().split("=")[-1]) if "=" in line.get_label() else None
        picked = sorted(
            (r["solver.rtol"], r["nfev"]) for r in rows if atol is None or r["solver.atol"] == atol
        )
        assert list(line.get_xdata()) == [p[0] for p in picked]
        assert list(line.get_ydata()) == [float(p[1]) for p in picked]
    for args, needle in (
        (["--x", "solver.rtol", "--y", "nope"], "'nope' is not a column"),
        (["--x", "nfev", "--y", "nfev"], "not a varied key"),
        ([], "--x KEY --y FIGURE"),
    ):
        result = invoke("plot", out, *args)
        assert result.exit_code == 2 and needle in result.output, result.output


# ------------------------------------------------------------------------ failures, resume


def test_failed_runs_are_recorded_the_others_finish_exit_1_and_rerun_on_resume(tmp_path, base):
    out = tmp_path / "s"
    # [1e300, 1e300] N m overflows the dynamics (status -1, as in test_cli); max_step 1e-9
    # needs 10^8 steps: far longer than the 1 s timeout.
    axes = ["torque.value=[0.1,0.05],[1e300,1e300]", "solver.max_step=.inf,1e-9"]
    result = invoke("sweep", base, *axes, "--out", out, "--timeout", "1", "--workers", "2")
    assert result.exit_code == 1, result.output
    rows = sw.load_summary(out)
    assert [r["status"] for r in rows] == ["ok", "timeout", "failed", "failed"]
    assert "3 of 4 runs did not succeed" in result.output
    assert "run 1 (torque.value=[0.1, 0.05], solver.max_step=1e-09): timeout" in result.output
    assert rows[1]["message"].startswith("timed out after 1 s")
    partial = out / rows[1]["run_dir"]
    assert partial.name.startswith(".") and not runs.is_complete(partial)
    assert "timeout" in (partial / "log.txt").read_text()
    failed = runs.load(out / rows[2]["run_dir"])
    assert failed.result["status"] == -1 and "NaN" in failed.result["message"]
    assert rows[0]["nfev"] == direct(base, {"torque.value": [0.1, 0.05]})[1].nfev
    ok_file = out / rows[0]["run_dir"] / "result.json"
    before = ok_file.stat()

    again = invoke("sweep", base, *axes, "--out", out, "--timeout", "1", "--workers", "2")
    assert again.exit_code == 1
    rows2 = sw.load_summary(out)
    assert [r["status"] for r in rows2] == ["ok", "timeout", "failed", "failed"]
    after = ok_file.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # skipped
    log = (out / rows2[2]["run_dir"] / "log.txt").read_text()
    assert log.count("started") == 1  # the failed run ran again into a fresh folder
    assert not list(out.glob(".*.replaced"))


def _complete(out: Path) -> list[Path]:
    return [p for p in out.glob("[0-9]*") if runs.is_complete(p)] if out.exists() else []


def test_resume_after_killing_the_sweep_half_way(tmp_path, base):
    out = tmp_path / "s"
    # Eight runs of about 0.3 s each (max_step forces ~10^6 steps) on one worker.
    values = ",".join(f"{m}e-7" for m in (1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7))
    cmd = [sys.executable, "-m", "workbench.cli", "sweep", str(base), f"solver.max_step={values}"]
    cmd += ["--out", str(out), "--workers", "1", "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def start_and_kill(at_least: int, kill) -> subprocess.CompletedProcess:
        proc = subprocess.Popen(
            cmd,
            start_new_session=True,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120
        while len(_complete(out)) < at_least and proc.poll() is None:
            assert time.monotonic() < deadline, "the sweep made no progress"
            time.sleep(0.02)
        assert proc.poll() is None, "the sweep finished before it could be stopped"
        kill(proc)
        stdout, stderr = proc.communicate(timeout=60)
        return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)

    # 1. The parent is killed outright (a crash): its worker notices and exits.
    start_and_kill(2, lambda p: os.kill(p.pid, signal.SIGKILL))
    first = {p.name: p.joinpath("result.json").stat().st_mtime_ns for p in _complete(out)}
    assert 2 <= len(first) < 8
    # 2. Resumed, then Ctrl-C (SIGINT to the whole process group, as a terminal sends it).
    stopped = start_and_kill(len(first) + 2, lambda p: os.killpg(p.pid, signal.SIGINT))
    assert stopped.returncode == 130, stopped.stderr
    assert "run the same command again" in stopped.stderr
    rows = sw.load_summary(out)
    second = {p.name: p.joinpath("result.json").stat().st_mtime_ns for p in _complete(out)}
    assert len(second) < 8 and all(second[name] == t for name, t in first.items())
    assert {r["run_dir"] for r in rows if r["status"] == "ok"} == set(second), rows
    assert {r["status"] for r in rows} <= {"ok", "interrupted", "pending"}, rows
    # 3. Resumed to the end: only the missing runs ran; nothing finished earlier changed.
    done = subprocess.run(cmd, env=env, text=True, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    final = {p.name: p.joinpath("result.json").stat().st_mtime_ns for p in _complete(out)}
    assert len(final) == 8 and all(final[name] == t for name, t in second.items())
    rows = sw.load_summary(out)
    assert [r["status"] for r in rows] == ["ok"] * 8
    assert sorted(r["run_dir"] for r in rows) == sorted(final)
    leftovers = list(out.glob(".*"))
    assert not leftovers, leftovers  # no partial folders or temporary files left
    for row in rows[:2]:
        assert row["nfev"] == direct(base, {"solver.max_step": row["solver.max_step"]})[1].nfev


def test_a_worker_that_dies_or_is_interrupted_fails_only_its_run(base):
    from workbench.config import load_file
    from workbench.sweeps.local import LocalExecutor

    def task(key, max_step):
        cfg = resolve_dict(load_file(base), [f"solver.max_step={max_step}"])
        return Task(key, "arm", cfg.model_dump(mode="json"), str(base.parent))

    ex = LocalExecutor(workers=1, threads=1, timeout=None)
    ex.prepare([])
    seen = []
    tasks = [task("killed", "1e-9"), task("ctrl-c", "1e-9"), task("short", ".inf")]
    try:
        for event in ex.events(tasks):
            if event[:2] == ("started", "killed"):
                ex._slots[0].process.kill()  # as the OOM killer would
            if event[:2] == ("started", "ctrl-c"):
                os.kill(ex._slots[0].process.pid, signal.SIGINT)  # Ctrl-C of this run only
            if event[0] == "finished":
                seen.append((event[1], event[2]["state"], event[2].get("message")))
    finally:
        ex.close()
    assert [s[:2] for s in seen] == [
        ("killed", "crashed"),
        ("ctrl-c", "interrupted"),
        ("short", "finished"),
    ]
    assert "SIGKILL" in seen[0][2]


def test_execute_reports_errors_and_interrupts(monkeypatch, base):
    from workbench import experiments
    from workbench.config import load_file

    cfg = resolve_dict(load_file(base))
    t = Task("000-x", "arm", cfg.model_dump(mode="json"), str(base.parent))
    exp = experiments.get("arm")
    monkeypatch.setattr(exp, "run", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    assert execute(t)["state"] == "interrupted"
    monkeypatch.setattr(exp, "run", lambda *a, **k: (_ for _ in ()).throw(ValueError("bad\nx")))
    info = execute(t)
    assert info["state"] == "error" and info["message"] == "ValueError: bad"
    assert "Traceback" in info["traceback"]


def test_numba_threads_are_limited_in_a_worker():
    script = textwrap.dedent(
        """
        from workbench.sweeps.worker import limit_numba_threads
        limit_numba_threads(1)                      # before numba is imported
        import numba
        from numba.np.ufunc import parallel
        print(numba.config.NUMBA_NUM_THREADS, parallel.NUM_THREADS)
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_NUM_THREADS"}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["1", "1"], out.stderr
    script = textwrap.dedent(
        """
        import numba
        from numba.np.ufunc import parallel
        from workbench.sweeps.worker import limit_numba_threads
        limit_numba_threads(1)                      # imported, threads not launched yet
        print(numba.config.NUMBA_NUM_THREADS, parallel.NUM_THREADS, numba.get_num_threads())
        """
    )
    env["NUMBA_NUM_THREADS"] = "2"
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["1", "1", "1"], out.stderr


# ------------------------------------------------------------------------- bundled configs


def test_bundled_arm_tolerance_sweep_plans_16_runs_with_references():
    p = sw.plan(ROOT / "configs" / "sweep_arm_tolerances.yaml", out=Path("unused"))
    assert len(p.runs) == 16 and len(p.references) == 1
    assert sorted({r.values["solver.rtol"] for r in p.runs}) == [1e-6, 1e-5, 1e-4, 1e-3]
    assert sorted({r.values["solver.atol"] for r in p.runs}) == [1e-9, 1e-8, 1e-7, 1e-6]
    assert p.references[0].cfg.solver.rtol == 1e-12 and p.error_columns == ["error_q", "error_qdot"]


def test_bundled_learning_rate_sweep_runs(tmp_path):
    pytest.importorskip("workbench.experiments.train")
    from workbench.config import load_file
    from workbench.experiments import train

    config = ROOT / "configs" / "sweep_train_lr.yaml"
    assert len(sw.plan(config, out=tmp_path / "x").runs) == 7
    p = sw.plan(config, ["optimizer.lr=1e-3,1e-2", "training.steps=50"], out=tmp_path / "s")
    result = sw.run(p, workers=2)
    assert result.exit_code == 0
    base = {k: v for k, v in load_file(config).items() if k != "sweep"}
    for row in result.rows:
        cfg = resolve_dict(base, [f"optimizer.lr={row['optimizer.lr']}", "training.steps=50"])
        assert cfg.optimizer.kind == "rmsprop"
        outcome = train.run(cfg, "cpu")
        assert row["distance_to_solution"] == outcome.figures["distance_to_solution"]


def test_sweep_runs_keep_the_experiments_files_and_can_be_sampled(tmp_path):
    # a language-model sweep: each run folder keeps vocab.json, so `workbench sample` works
    lm_config = tmp_path / "lm.yaml"
    lm_config.write_text(
        (ROOT / "configs" / "lm_gru.yaml").read_text() + "sweep:\n  optimizer.lr: [1e-3, 3e-3]\n"
    )
    fixed = ["training.epochs=1", "model.hidden=8", "sample.length=5", "training.num_steps=10"]
    result = sw.run(sw.plan(lm_config, fixed, out=tmp_path / "s"), workers=1)
    assert result.exit_code == 0 and len(result.rows) == 2
    for row in result.rows:
        run_dir = tmp_path / "s" / row["run_dir"]
        vocab = json.loads((run_dir / "vocab.json").read_text())
        assert vocab["level"] == "char" and len(vocab["symbols"]) == 71
        sampled = invoke("sample", run_dir, "--length", "20", "--temperature", "1", "--seed", "1")
        assert sampled.exit_code == 0, sampled.output
        text = sampled.output[:-1]  # less the final newline
        assert len(text) == 20 and set(text) <= set(vocab["symbols"])


def test_the_summary_table_folds_numbers_at_80_columns_and_never_cuts_them(tmp_path):
    import io

    from rich.console import Console

    from workbench.sweeps.results import OK, SweepResult, summary_table

    columns = ["index", "solver.rtol", "solver.atol", "status", "nfev", "energy_error",
               "max_angle_deg", "wall_s", "message", "run_dir"]  # fmt: skip
    rows = [
        {"index": i, "solver.rtol": 10.0**-i, "solver.atol": 10.0 ** (-i - 3), "status": OK,
         "nfev": 1000 * i + 123, "energy_error": 1.23456e-12 * i, "max_angle_deg": 123.456,
         "wall_s": 0.0123, "message": "ok", "run_dir": "x"}
        for i in range(3, 7)
    ]  # fmt: skip
    result = SweepResult(tmp_path, columns, rows, skipped=0, failed=[])
    screen = io.StringIO()
    Console(file=screen, width=80).print(summary_table(result))
    text = screen.getvalue()
    assert "…" not in text and "..." not in text
    for row in rows:  # every digit of every number is there, maybe folded over lines
        for col in ("solver.rtol", "energy_error", "nfev"):
            value = row[col]
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            assert shown in text.replace("\n", "").replace("│", "").replace(" ", "")


def test_list_prints_one_line_per_entry_when_piped():
    from typer.testing import CliRunner

    from workbench import experiments
    from workbench.cli import app

    res = CliRunner().invoke(app, ["list"])
    lines = res.stdout.splitlines()
    for kind in experiments.KINDS:
        summary = experiments.get(kind).summary
        assert any(
            line.startswith(f"kind    {kind}: ") and line.endswith(summary) for line in lines
        )


@pytest.mark.parametrize(
    "name",
    ["arm.yaml", "arm_ensemble.yaml", "logreg.yaml", "logreg_bootstrap.yaml", "train_mlp.yaml",
     "train_saddle.yaml"],
)  # fmt: skip
def test_each_kind_shrinks_its_own_configs_into_valid_short_runs(name):
    from workbench import experiments
    from workbench.config import resolve

    cfg = resolve(ROOT / "configs" / name, [])
    exp = experiments.get(cfg.experiment)
    config = cfg.model_dump(mode="json")
    exp.shrink(config)
    short = exp.config_model.model_validate(config)
    if cfg.experiment == "arm":
        t0, t1 = cfg.solver.t_span
        assert short.solver.t_span[1] - short.solver.t_span[0] == pytest.approx((t1 - t0) * 1e-3)
        assert short.ensemble is None or short.ensemble.size <= 8
    elif cfg.experiment == "logreg":
        assert short.solver.maxiter == 2
        assert short.bootstrap is None or short.bootstrap.resamples == 2
    else:
        assert short.training.epochs == 1 and short.training.steps == 2


def test_a_kind_without_a_shrink_recipe_is_not_warmed_up():
    from workbench.sweeps.worker import Task, shrink

    assert shrink([Task("0", "lm", {}, None)]) is None


def test_sorted_rows_descending_sorts_text_too():
    from types import SimpleNamespace

    rows = [
        {"i": 0, "v": 2.0, "status": "failed"},
        {"i": 1, "v": None, "status": "finished"},
        {"i": 2, "v": 10.0, "status": "diverged"},
        {"i": 3, "v": float("nan"), "status": None},
        {"i": 4, "v": "n/a", "status": "finished"},
    ]
    result = SimpleNamespace(rows=rows, columns=["i", "v", "status"])
    order = lambda sort: [r["i"] for r in sw.sorted_rows(result, sort)[0]]  # noqa: E731
    # numbers, then text, then missing values (in index order)
    assert order("v") == [0, 2, 4, 1, 3]
    assert order("-v") == [2, 0, 4, 1, 3]
    assert order("status") == [2, 0, 1, 4, 3]
    assert order("-status") == [1, 4, 0, 2, 3]


def test_axes_reach_list_items_by_index(tmp_path):
    path = tmp_path / "sw.yaml"
    path.write_text(
        "experiment: train\ndata: {kind: moons, samples: 200}\nmodel: {kind: mlp, hidden: [8]}\n"
        "optimizers:\n  - {kind: rmsprop, lr: 1.0e-3}\n  - {kind: sgd, lr: 0.05}\n"
        "sweep:\n  optimizers.1.lr: [0.01, 0.1]\n  'optimizers[0].rho': [0.9, 0.5]\n"
    )
    got = [(r.values, r.cfg.optimizers[0].rho, r.cfg.optimizers[1].lr) for r in sw.plan(path).runs]
    assert [(rho, lr) for _, rho, lr in got] == [(0.9, 0.01), (0.5, 0.01), (0.9, 0.1), (0.5, 0.1)]
    assert got[0][0] == {"optimizers.1.lr": 0.01, "optimizers[0].rho": 0.9}
