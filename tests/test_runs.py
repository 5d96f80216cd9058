"""Run folders (workbench.runs): atomic completion and reading runs back."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from workbench import runs

CONFIG = "experiment: demo\nname: demo\nsolver:\n  rtol: 1.0e-06\n"


def complete_run(output, name="demo"):
    with runs.create_run(output, name) as run:
        run.write_config(CONFIG)
        run.write_result({"status": 0, "loss": np.float32(0.5), "n": np.int64(3)})
        run.write_arrays({"t": np.linspace(0, 1, 5), "y": np.eye(2)})
        run.log("hello")
    return run


def test_clean_exit_renames_to_final_folder(tmp_path):
    run = complete_run(tmp_path)
    assert re.fullmatch(r"demo-\d{8}-\d{6}-[0-9a-f]{6}", run.path.name)
    assert run.path.parent == tmp_path
    assert [p.name for p in tmp_path.iterdir()] == [run.path.name]
    assert sorted(p.name for p in run.path.iterdir()) == [
        "arrays.npz",
        "config.yaml",
        "log.txt",
        "result.json",
    ]
    assert runs.is_complete(run.path)
    assert "hello" in (run.path / "log.txt").read_text()


def test_in_progress_folder_is_hidden_partial(tmp_path):
    with runs.create_run(tmp_path, "demo") as run:
        assert run.path.name.startswith(".demo-") and run.path.name.endswith(".partial")
        assert not runs.is_complete(run.path)
        run.write_result({})


def test_exception_leaves_only_partial_folder(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with runs.create_run(tmp_path, "demo") as run:
            run.write_config(CONFIG)
            run.write_result({"status": 0})
            raise RuntimeError("boom")
    (folder,) = tmp_path.iterdir()
    assert folder == run.path
    assert folder.name.startswith(".") and folder.name.endswith(".partial")
    assert not runs.is_complete(folder)
    assert runs.list_runs(tmp_path) == []
    log = (folder / "log.txt").read_text()
    assert "failed: RuntimeError: boom" in log
    with pytest.raises(ValueError, match="incomplete run"):
        runs.load(folder)


def test_keyboard_interrupt_leaves_partial_folder(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with runs.create_run(tmp_path, "demo") as run:
            raise KeyboardInterrupt
    assert run.path.name.endswith(".partial")
    assert "interrupted: KeyboardInterrupt" in (run.path / "log.txt").read_text()


def test_exit_without_result_is_not_complete(tmp_path):
    with pytest.raises(RuntimeError, match="no result was written"):
        with runs.create_run(tmp_path, "demo") as run:
            run.write_config(CONFIG)
    assert run.path.name.endswith(".partial")


def test_no_temporary_files_left(tmp_path):
    run = complete_run(tmp_path)
    assert not [p for p in run.path.iterdir() if p.name.startswith(".")]


def test_load_round_trips(tmp_path):
    run = complete_run(tmp_path)
    loaded = runs.load(run.path)
    assert loaded.path == run.path
    assert loaded.config == {"experiment": "demo", "name": "demo", "solver": {"rtol": 1e-6}}
    assert loaded.result == {"status": 0, "loss": 0.5, "n": 3}
    assert set(loaded.arrays) == {"t", "y"}
    np.testing.assert_array_equal(loaded.arrays["t"], np.linspace(0, 1, 5))
    np.testing.assert_array_equal(loaded.arrays["y"], np.eye(2))


def test_result_json_conversions(tmp_path):
    with runs.create_run(tmp_path, "demo") as run:
        run.write_config(CONFIG)
        run.write_result(
            {
                "arr": np.arange(3),
                "nested": {"t": (1, np.bool_(True))},
                "bad": float("nan"),
                "big": np.float64("inf"),
            }
        )
    result = runs.load(run.path).result
    assert result["arr"] == [0, 1, 2] and result["nested"] == {"t": [1, True]}
    # strict JSON (jq, JavaScript): NaN and infinities are written as null
    assert result["bad"] is None and result["big"] is None
    text = (run.path / "result.json").read_text()
    assert "NaN" not in text and "Infinity" not in text

    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    json.loads(text, parse_constant=refuse)


def test_unjsonable_result_names_the_key(tmp_path):
    with pytest.raises(TypeError, match=r"result\.obj: cannot write object"):
        with runs.create_run(tmp_path, "demo") as run:
            run.write_result({"obj": object()})


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        runs.load(tmp_path / "nope")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.yaml").write_text(CONFIG)
    with pytest.raises(ValueError, match=r"no result\.json"):
        runs.load(tmp_path / "half")
    assert not runs.is_complete(tmp_path / "half")
    assert not runs.is_complete(tmp_path / "nope")


def test_name_is_made_safe_for_a_folder(tmp_path):
    run = complete_run(tmp_path, name="../a b/c")
    assert run.path.parent == tmp_path
    assert run.path.name.startswith("a-b-c-")


def test_list_runs(tmp_path):
    first, second = complete_run(tmp_path, "a"), complete_run(tmp_path, "b")
    with pytest.raises(ValueError):
        with runs.create_run(tmp_path, "c"):
            raise ValueError
    assert set(runs.list_runs(tmp_path)) == {first.path, second.path}
