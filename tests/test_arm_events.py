"""The arm experiment's ``solver.method`` and ``events``: single runs and ensembles against scipy
with the same method and events on the seed's numpy right-hand side, the run folder's files,
the plot's data and config errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.integrate as si
from typer.testing import CliRunner

from workbench import runs
from workbench.cli import app
from workbench.config import resolve
from workbench.experiments import arm as exp
from workbench.integrate import solve_ivp
from workbench.models import arm as model

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
BUNDLED = ROOT / "configs/arm_elbow_limit.yaml"


def scipy_reference(cfg):
    """scipy's solve_ivp with the config's method and events, as users write them."""
    s = cfg.solver
    y0 = exp.initial_state(cfg.initial.q_deg, cfg.initial.qdot_deg_s)
    events = [e.reference(cfg.arm.L1, cfg.arm.L2) for e in cfg.events]
    return si.solve_ivp(
        exp.reference_rhs(cfg), s.t_span, y0, method=s.method, t_eval=s.output_times(),
        rtol=s.rtol, atol=s.atol, events=events,
    )  # fmt: skip


def test_bundled_event_config_runs_and_stops_where_scipy_does(tmp_path):
    result = runner.invoke(app, ["run", str(BUNDLED), "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output  # a terminal event is a success
    summary = json.loads(result.stdout)
    run = runs.load(summary["run_dir"])
    figures = run.result["figures"]
    cfg = resolve(BUNDLED)
    ref = scipy_reference(cfg)
    assert ref.status == 1
    assert run.result["message"] == ref.message == "A termination event occurred."
    assert figures["method"] == "DOP853" and figures["nfev"] == ref.nfev
    assert figures["stopped_by_event"] == "elbow_limit"
    for k, event in enumerate(cfg.events):
        ours = run.arrays[f"event_{event.label()}_t"]
        np.testing.assert_allclose(ours, ref.t_events[k], rtol=1e-12)
        np.testing.assert_allclose(
            run.arrays[f"event_{event.label()}_y"], ref.y_events[k][:, :4], rtol=1e-8, atol=1e-10
        )
        assert figures["events"][event.label()]["count"] == ref.t_events[k].size
    # the elbow is at its limit where the solve stopped: q2 = 90 degrees
    (t_stop,) = run.arrays["event_elbow_limit_t"]
    assert np.rad2deg(run.arrays["event_elbow_limit_y"][0, 1]) == pytest.approx(90, abs=1e-9)
    assert run.arrays["t"][-1] <= t_stop < run.arrays["t"][-1] + 0.01


def test_plot_marks_the_events(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    result = runner.invoke(app, ["run", str(BUNDLED), "--out", str(tmp_path), "--json"])
    run = runs.load(json.loads(result.stdout)["run_dir"])
    kept = []
    monkeypatch.setattr(plt, "close", kept.append)
    exp.plot(run, tmp_path / "fig.png")
    (fig,) = kept
    angles = fig.axes[0]
    marks = {line.get_label(): line for line in angles.lines if line.get_marker() == "x"}
    for label in ("elbow_limit", "shoulder_20"):
        np.testing.assert_array_equal(marks[label].get_xdata(), run.arrays[f"event_{label}_t"])
    vertical = [line.get_xdata()[0] for line in angles.lines if line.get_linestyle() == ":"]
    assert sorted(vertical) == sorted(
        np.concatenate([run.arrays["event_elbow_limit_t"], run.arrays["event_shoulder_20_t"]])
    )


@pytest.mark.parametrize("method", ["RK23", "DOP853"])
def test_method_reaches_the_single_run(tmp_path, method):
    cfg = resolve(ROOT / "configs/arm.yaml", [f"solver.method={method}", "solver.t_eval=11"])
    res, p, torque = exp.solve_single(cfg)
    y0 = exp.initial_state(cfg.initial.q_deg, cfg.initial.qdot_deg_s)
    s = cfg.solver
    same = si.solve_ivp(  # the same compiled right-hand side: scipy's steps exactly
        lambda t, y: model.arm_rhs_out(t, y, p, torque), s.t_span, y0, method=method,
        t_eval=s.output_times(), rtol=s.rtol, atol=s.atol,
    )  # fmt: skip
    assert res.nfev == same.nfev
    np.testing.assert_allclose(res.y, same.y, rtol=1e-12, atol=1e-14)
    # The seed's numpy form takes other steps; over the linear table's kinks (one per sample)
    # the global error is well above rtol, for scipy too: the same solution to 1e-3.
    seed = si.solve_ivp(
        exp.reference_rhs(cfg), s.t_span, y0, method=method, t_eval=s.output_times(),
        rtol=s.rtol, atol=s.atol,
    )  # fmt: skip
    np.testing.assert_allclose(res.y, seed.y, rtol=1e-3, atol=1e-4)


ENSEMBLE_OVERRIDES = [
    "ensemble.size=24",
    "solver.method=RK23",
    "events=[{quantity: q2, threshold: 140, direction: falling, terminal: true}]",
]


@pytest.fixture(scope="module")
def ensemble_run(tmp_path_factory):
    """An ensemble with a terminal event on the elbow angle, run from the command line."""
    out = tmp_path_factory.mktemp("ensemble")
    result = runner.invoke(
        app,
        ["run", str(ROOT / "configs/arm_ensemble.yaml"), *ENSEMBLE_OVERRIDES, "--out", str(out),
         "--json", "--target", "cpu"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return runs.load(json.loads(result.stdout)["run_dir"])


def test_ensemble_events_per_member(ensemble_run):
    run = ensemble_run
    overrides = ENSEMBLE_OVERRIDES
    first = run.arrays["event_q2_falling_first_t"]
    counts = run.arrays["event_q2_falling_count"]
    figures = run.result["figures"]
    reached = np.isfinite(first)
    assert 0 < reached.sum() < first.size  # some members fold the elbow past 140 degrees
    stats = figures["events"]["q2_falling"]
    assert stats["members_reached"] == reached.sum() == figures["stopped_by_events"]
    assert stats["first_t_min"] == pytest.approx(first[reached].min())
    np.testing.assert_array_equal(counts, reached.astype(int))
    # each member's first time is its single solve's
    cfg = resolve(ROOT / "configs/arm_ensemble.yaml", overrides)
    y0s, params = exp.ensemble_members(cfg)
    torque = exp.packed_torque(cfg)
    (event,) = exp.event_functions(cfg)
    for i in (0, int(np.argmax(reached)), int(np.argmin(reached))):
        one = solve_ivp(
            model.ARM_RHS, cfg.solver.t_span, y0s[i], method="RK23", args=(params[i], torque),
            rtol=cfg.solver.rtol, atol=cfg.solver.atol, events=event,
        )  # fmt: skip
        if one.t_events[0].size:
            assert first[i] == one.t_events[0][0]
        else:
            assert np.isnan(first[i])


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("solver.method=Radau", "solver.method"),
        ("events=[{quantity: q3, threshold: 1}]", "events[0].quantity"),
        ("events=[{quantity: q1, threshold: .nan}]", "events[0].threshold"),
        ("events=[{quantity: q1, threshold: 1, direction: up}]", "events[0].direction"),
        ("events=[{quantity: q1, threshold: 1, terminal: -2}]", "events[0].terminal"),
        ("events=[{quantity: q1, threshold: 1}, {quantity: q1, threshold: 2}]", "events"),
        ("events=[{quantity: q1, threshold: 1, name: 'a b'}]", "events[0].name"),
    ],
)
def test_bad_method_or_events_exit_2_naming_the_key(tmp_path, override, needle):
    result = runner.invoke(app, ["run", str(BUNDLED), override, "--out", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert not tmp_path.exists() or not list(tmp_path.iterdir())


def test_end_effector_events_refused_when_the_ensemble_varies_link_lengths(tmp_path):
    overrides = [
        "ensemble.params={L1: [0.25, 0.35]}",
        "events=[{quantity: x, threshold: 0.2}]",
    ]
    result = runner.invoke(
        app, ["run", str(ROOT / "configs/arm_ensemble.yaml"), *overrides, "--out", str(tmp_path)]
    )
    assert result.exit_code == 2, result.output
    assert "link lengths" in result.output


def test_end_effector_event_matches_forward_kinematics():
    cfg = resolve(BUNDLED, ["events=[{quantity: x, threshold: 0.25, terminal: true}]"])
    res, _, _ = exp.solve_single(cfg)
    ref = scipy_reference(cfg)
    np.testing.assert_allclose(res.t_events[0], ref.t_events[0], rtol=1e-12)
    q = res.y_events[0][0]
    x, _ = model.end_effector(q[0], q[1], cfg.arm.L1, cfg.arm.L2)
    assert x == pytest.approx(0.25, abs=1e-12)


def test_ensemble_plot_histograms_the_first_event_times(ensemble_run, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    run = ensemble_run
    kept = []
    monkeypatch.setattr(plt, "close", kept.append)
    exp.plot(run, tmp_path / "fig.png")
    (fig,) = kept
    histogram = fig.axes[2]
    first = run.arrays["event_q2_falling_first_t"]
    reached = first[np.isfinite(first)]
    heights = [patch.get_height() for patch in histogram.patches]
    assert sum(heights) == reached.size > 0
    lefts = [patch.get_x() for patch in histogram.patches]
    assert min(lefts) == pytest.approx(reached.min())


def test_compare_uses_the_method_and_events():
    cfg = resolve(BUNDLED, ["solver.t_eval=31"])
    comparison = exp.compare(cfg, repeats=1)
    rows = {row.quantity: (row.ours, row.reference) for row in comparison.rows}
    assert rows["method"] == ("DOP853", "DOP853")
    assert rows["status"] == (1, 1)
    assert rows["nfev"][0] == rows["nfev"][1]
    assert rows["elbow_limit: count"] == (1, 1)
    ours_t, ref_t = rows["elbow_limit: first t (s)"]
    assert ours_t == pytest.approx(ref_t, abs=1e-11)
    assert comparison.max_rel_diff < 1e-9
