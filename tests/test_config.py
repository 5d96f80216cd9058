"""Loading, overriding and validating experiment files (workbench.config)."""

from __future__ import annotations

import math
import pickle
from pathlib import Path
from typing import Annotated, Literal

import pytest
import yaml
from pydantic import Field

from workbench import config, experiments
from workbench.config import ConfigError
from workbench.experiments.base import Experiment, ExperimentConfig, Section

# --------------------------------------------------------------------------- a test schema


class Solver(Section):
    rtol: float = Field(1e-6, gt=0)
    atol: float = Field(1e-9, gt=0)
    t_span: list[float] = Field(default_factory=lambda: [0.0, 1.0])
    t_eval: list[float] = Field(default_factory=list)


class Sines(Section):
    kind: Literal["sines"] = "sines"
    amplitudes: list[float] = Field(default_factory=lambda: [1.0, 0.5])
    frequency: float = 1.0


class Chirp(Section):
    kind: Literal["chirp"] = "chirp"
    f0: float = Field(0.5, gt=0)
    f1: float = 5.0


class DemoConfig(ExperimentConfig):
    experiment: Literal["demo"] = "demo"
    solver: Solver = Field(default_factory=Solver)
    torque: Annotated[Sines | Chirp, Field(discriminator="kind")] = Field(default_factory=Sines)


def _never(*args, **kwargs):
    raise AssertionError("not used by these tests")


DEMO = Experiment(
    kind="demo",
    summary="test schema",
    config_model=DemoConfig,
    run=_never,
    compare=_never,
    plot=_never,
    is_batched=lambda cfg: False,
)


@pytest.fixture(autouse=True)
def demo_kind(monkeypatch):
    monkeypatch.setattr(experiments, "KINDS", {"demo": "tests.test_config", "zeta": "nowhere"})
    monkeypatch.setattr(experiments, "get", lambda kind: {"demo": DEMO}[kind])


@pytest.fixture
def write(tmp_path):
    def write(text: str, name: str = "exp.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


def error(func, *args) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        func(*args)
    return info.value


BASIC = "experiment: demo\nsolver:\n  rtol: 1e-6\n  atol: 1E+3\n"

# ----------------------------------------------------------------------------------- files


def test_load_file_reads_scientific_notation_as_float(write):
    raw = config.load_file(write(BASIC + "x: [.inf, -.inf, .nan, 1.5, 2, '1e-3', 1_0e1]\n"))
    assert raw["solver"] == {"rtol": 1e-6, "atol": 1e3}
    inf, minf, nan, a, b, s, c = raw["x"]
    assert (inf, minf, a, b, s, c) == (math.inf, -math.inf, 1.5, 2, "1e-3", 100.0)
    assert math.isnan(nan)
    assert isinstance(b, int)


def test_missing_file(tmp_path):
    err = error(config.load_file, tmp_path / "nope.yaml")
    assert str(err) == f"{tmp_path / 'nope.yaml'}: no such file"
    assert (err.file, err.key, err.problem) == (str(tmp_path / "nope.yaml"), None, "no such file")


def test_directory(tmp_path):
    assert (
        str(error(config.load_file, tmp_path)) == f"{tmp_path}: is a directory, not a config file"
    )


@pytest.mark.parametrize("text", ["", "\n# only a comment\n"])
def test_empty_file(write, text):
    path = write(text)
    assert str(error(config.load_file, path)) == f"{path}: file is empty"


def test_list_at_top_level(write):
    path = write("- experiment: demo\n")
    assert str(error(config.load_file, path)) == (
        f"{path}: top level must be a mapping of keys, got a list"
    )


def test_syntax_error_has_line_and_column(write):
    path = write("experiment: demo\nsolver:\n  rtol: [1, 2\n  atol: 3\n")
    err = error(config.load_file, path)
    assert err.file == str(path) and err.key is None
    assert err.problem == "line 4, column 7: expected ',' or ']', but got ':'"


def test_duplicate_key_is_an_error(write):
    path = write("experiment: demo\nsolver:\n  rtol: 1\n  rtol: 2\n")
    assert error(config.load_file, path).problem == "line 4, column 3: duplicate key 'rtol'"


def test_python_tag_is_refused_and_never_run(write, tmp_path):
    marker = tmp_path / "pwned"
    path = write(f"experiment: demo\nname: !!python/object/apply:os.system ['touch {marker}']\n")
    err = error(config.load_file, path)
    assert err.problem == (
        "line 2, column 7: tag '!!python/object/apply:os.system' is not allowed (plain YAML only)"
    )
    assert not marker.exists()
    # The same through an override value.
    err = error(config.parse_override, f"name=!!python/object/apply:os.system ['touch {marker}']")
    assert "is not allowed" in err.problem
    assert not marker.exists()


def test_edited_file_is_reread(write):
    path = write(BASIC)
    first = config.load_file(path)
    first["solver"]["rtol"] = 99  # callers get their own copy
    assert config.load_file(path)["solver"]["rtol"] == 1e-6
    path.write_text(BASIC.replace("1e-6", "1e-7") + "# longer\n")
    assert config.load_file(path)["solver"]["rtol"] == 1e-7


# ------------------------------------------------------------------------------- overrides


@pytest.mark.parametrize(
    ("text", "path", "value"),
    [
        ("solver.rtol=1e-8", ["solver", "rtol"], 1e-8),
        ("solver.atol=1E+3", ["solver", "atol"], 1000.0),
        ("torque.kind=chirp", ["torque", "kind"], "chirp"),
        ("solver.t_span=[0, 2]", ["solver", "t_span"], [0, 2]),
        ("name=", ["name"], ""),
        ("name=a=b", ["name"], "a=b"),
        (" seed = 3 ", ["seed"], 3),
    ],
)
def test_parse_override(text, path, value):
    assert config.parse_override(text) == (path, value)


def test_override_value_is_float_not_string():
    assert isinstance(config.parse_override("solver.rtol=1e-6")[1], float)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("solver.rtol", "override 'solver.rtol': expected KEY=VALUE (e.g. solver.rtol=1e-8)"),
        ("=3", "override '=3': the key before '=' is empty"),
        ("solver..rtol=3", "override 'solver..rtol=3': empty part in key path 'solver..rtol'"),
    ],
)
def test_malformed_override(text, message):
    assert str(error(config.parse_override, text)) == message


def test_apply_overrides_nested_and_copy():
    raw = {"experiment": "demo", "solver": {"rtol": 1.0}}
    out = config.apply_overrides(raw, ["solver.atol=1e-3", "a.b.c=1", "solver.rtol=2"])
    assert out == {
        "experiment": "demo",
        "solver": {"rtol": 2, "atol": 1e-3},
        "a": {"b": {"c": 1}},
    }
    assert raw == {"experiment": "demo", "solver": {"rtol": 1.0}}


def test_apply_override_under_a_non_mapping():
    err = error(config.apply_overrides, {"solver": {"rtol": 1.0}}, ["solver.rtol.x=1"])
    assert err.key == "solver.rtol.x"
    assert err.problem == (
        "cannot set 'x' under 'solver.rtol': it is a number, not a mapping "
        "(override 'solver.rtol.x=1')"
    )


def test_kind_override_resets_section():
    raw = {"torque": {"kind": "sines", "amplitudes": [3.0], "frequency": 2.0}}
    out = config.apply_overrides(raw, ["torque.f1=9", "torque.kind=chirp", "torque.f0=2"])
    assert out == {"torque": {"kind": "chirp", "f1": 9, "f0": 2}}
    # The same kind again keeps what the file says.
    assert config.apply_overrides(raw, ["torque.kind=sines"]) == raw


def test_overrides_address_list_items_by_index():
    raw = {"runs": [{"kind": "a", "x": 1}, {"kind": "b", "x": 2}]}
    out = config.apply_overrides(raw, ["runs.1.x=5", "runs[0].y=[1, 2]", "runs[0].y.1=7"])
    assert out == {"runs": [{"kind": "a", "x": 1, "y": [1, 7]}, {"kind": "b", "x": 5}]}
    # a kind reset inside a list item, the item's other overrides applied again
    out = config.apply_overrides(raw, ["runs.1.z=3", "runs.1.kind=c"])
    assert out == {"runs": [{"kind": "a", "x": 1}, {"kind": "c", "z": 3}]}
    assert raw == {"runs": [{"kind": "a", "x": 1}, {"kind": "b", "x": 2}]}  # untouched
    err = error(config.apply_overrides, raw, ["runs.2.x=1"])
    assert (err.key, err.problem) == (
        "runs[2]",
        "'runs' is a list of 2 items; '2' is not one of its indices (0 to 1) "
        "(override 'runs.2.x=1')",
    )
    assert "not one of its indices" in str(error(config.apply_overrides, raw, ["runs.x.y=1"]))
    err = error(config.apply_overrides, raw, ["steps.0.x=1"])
    assert err.problem == (
        "'steps' is not in the file, so item 0 cannot be set; give the whole list "
        "(e.g. steps=[...]) (override 'steps.0.x=1')"
    )


def test_an_override_that_cannot_be_applied_names_the_file(write):
    path = write(BASIC)
    err = error(config.resolve, path, ["solver.rtol.x=1"])
    assert (err.file, err.key) == (str(path), "solver.rtol.x")


# ------------------------------------------------------------------------------- resolving


def test_resolve_fills_defaults_and_name(write):
    cfg = config.resolve(write(BASIC))
    assert isinstance(cfg, DemoConfig)
    assert cfg.name == "demo"
    assert cfg.solver.rtol == 1e-6 and cfg.solver.atol == 1e3
    assert cfg.torque == Sines()


def test_resolve_with_overrides(write):
    path = write(BASIC + "torque:\n  kind: sines\n  amplitudes: [3]\n")
    cfg = config.resolve(path, ["solver.rtol=1e-8", "solver.t_span=[0, 2]", "name=x"])
    assert cfg.solver.rtol == 1e-8 and cfg.solver.t_span == [0.0, 2.0] and cfg.name == "x"
    assert cfg.torque.amplitudes == [3.0]


def test_kind_override_gets_new_defaults(write):
    path = write(BASIC + "torque:\n  kind: sines\n  amplitudes: [3]\n")
    cfg = config.resolve(path, ["torque.kind=chirp"])
    assert cfg.torque == Chirp()
    cfg = config.resolve(path, ["torque.f1=7", "torque.kind=chirp"])
    assert cfg.torque == Chirp(f1=7)


def test_unknown_key_suggests(write):
    path = write(BASIC + "  rtl: 3\n")
    err = error(config.resolve, path)
    assert str(err) == (
        f"{path}: solver.rtl: unknown key 'rtl'; did you mean 'rtol'? "
        "(accepted: rtol, atol, t_span, t_eval)"
    )


def test_unknown_key_created_by_override(write):
    path = write(BASIC)
    err = error(config.resolve, path, ["solver.rtl=1e-3"])
    assert err.key == "solver.rtl"
    assert err.problem == (
        "unknown key 'rtl'; did you mean 'rtol'? (accepted: rtol, atol, t_span, t_eval) "
        "(from override 'solver.rtl=1e-3')"
    )


def test_unknown_key_in_union_member_has_no_tag_in_path(write):
    path = write(BASIC + "torque:\n  kind: chirp\n  amplitudes: [1]\n")
    err = error(config.resolve, path)
    assert err.key == "torque.amplitudes"
    assert err.problem == "unknown key 'amplitudes' (accepted: kind, f0, f1)"


def test_wrong_type(write):
    path = write(BASIC + "  t_eval: [0, 1, 2, abc]\n")
    assert str(error(config.resolve, path)) == (
        f"{path}: solver.t_eval[3]: expected a number, got 'abc'"
    )


def test_wrong_type_inside_union_member(write):
    path = write(BASIC + "torque: {kind: sines, amplitudes: [1, x]}\n")
    err = error(config.resolve, path)
    assert (err.key, err.problem) == ("torque.amplitudes[1]", "expected a number, got 'x'")


def test_negative_tolerance(write):
    path = write("experiment: demo\nsolver:\n  rtol: -1\n")
    assert str(error(config.resolve, path)) == f"{path}: solver.rtol: must be > 0, got -1"


def test_bad_union_tag_lists_kinds(write):
    path = write(BASIC + "torque: {kind: square}\n")
    err = error(config.resolve, path)
    assert (err.key, err.problem) == (
        "torque.kind",
        "unknown kind 'square' (accepted: sines, chirp)",
    )


def test_several_errors_report_first_by_path(write):
    path = write("experiment: demo\nsolver: {rtol: -1, atol: 0}\ntarget: gpu\n")
    err = error(config.resolve, path)
    assert str(err) == f"{path}: solver.atol: must be > 0, got 0 (and 2 more)"
    assert [e.key for e in err.more] == ["solver.rtol", "target"]
    assert err.more[1].problem == ("expected one of 'auto', 'cpu', 'parallel' or 'cuda', got 'gpu'")


def test_config_error_pickles():
    err = ConfigError("bad", file="f.yaml", key="a.b", more=[ConfigError("worse", key="c")])
    back = pickle.loads(pickle.dumps(err))
    assert (back.file, back.key, back.problem, str(back)) == ("f.yaml", "a.b", "bad", str(err))
    assert str(err) == "f.yaml: a.b: bad (and 1 more)"
    assert str(ConfigError("only")) == "only"


def test_unknown_experiment_lists_kinds(write):
    path = write("experiment: dem\n")
    assert str(error(config.resolve, path)) == (
        f"{path}: experiment: unknown experiment kind 'dem'; did you mean 'demo'? "
        "(known kinds: demo, zeta)"
    )


def test_missing_experiment(write):
    path = write("name: x\n")
    assert str(error(config.resolve, path)) == (
        f"{path}: experiment: missing; say which experiment to run (known kinds: demo, zeta)"
    )


def test_dump_resolved_round_trips(write, tmp_path):
    cfg = config.resolve(write(BASIC), ["name='1e-5'", "torque.kind=chirp"])
    text = config.dump_resolved(cfg)
    dumped = yaml.safe_load(text)
    assert list(dumped) == list(DemoConfig.model_fields)  # schema order, not sorted
    assert dumped["torque"] == {"kind": "chirp", "f0": 0.5, "f1": 5.0}
    again = config.resolve(write(text, "resolved.yaml"))
    assert again == cfg
    assert again.name == "1e-5"  # a string that looks like a float stays a string


BOMB = "\n".join(
    ["experiment: arm", 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 8)}]" for i in range(1, 9)]
)


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)  # 8**9 = 134 million values from 10 lines
    err = error(config.load_file, path)
    assert "expands (aliases included) to more than 1,000,000 values" in str(err)
    assert "WORKBENCH_MAX_CONFIG_VALUES" in str(err) and str(err.file) == str(path)
    # aliases within the limit are plain YAML and still work
    ok = tmp_path / "ok.yaml"
    ok.write_text("experiment: arm\nbase: &b {rtol: 1.0e-6}\nsolver: *b\n")
    assert config.load_file(ok)["solver"] == {"rtol": 1e-6}


def test_a_recursive_alias_is_refused(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("experiment: arm\nx: &x [1, *x]\n")
    err = error(config.load_file, path)
    assert "recursive alias" in str(err) or "alias" in str(err)


def test_config_files_are_limited_in_size_and_the_limit_can_be_raised(tmp_path, monkeypatch):
    path = tmp_path / "big.yaml"
    path.write_text("experiment: arm\nsolver:\n  t_eval: [" + ", ".join(["0.5"] * 1000) + "]\n")
    size = path.stat().st_size
    monkeypatch.setenv("WORKBENCH_MAX_CONFIG_BYTES", str(size - 1))
    err = error(config.load_file, path)
    assert f"is {size:,} bytes" in str(err) and f"limited to {size - 1:,} bytes" in str(err)
    monkeypatch.setenv("WORKBENCH_MAX_CONFIG_BYTES", str(size))
    assert len(config.load_file(path)["solver"]["t_eval"]) == 1000
