"""The language-model experiment: training, checkpoints and resume, sampling, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from workbench import runs
from workbench.cli import app
from workbench.config import resolve
from workbench.experiments import lm

ROOT = Path(__file__).resolve().parents[1]
CONFIG = str(ROOT / "configs/lm_gru.yaml")
SMALL = ["model.hidden=24", "training.epochs=3", "training.batch_size=16", "sample.length=20"]
runner = CliRunner()


def run_cli(*args):
    return runner.invoke(app, ["run", CONFIG, *SMALL, *args, "--json"])


def test_training_lowers_the_perplexity_below_the_unigram_model():
    cfg = resolve(CONFIG, SMALL)
    out = lm.run(cfg, "cpu")
    ppl = out.arrays["valid_perplexity"]
    assert out.status == 0 and len(ppl) == 3
    assert ppl[-1] < ppl[0] < out.figures["unigram_perplexity"]
    # the unigram perplexity, computed here from the counts (add-one smoothed, as documented)
    corpus = lm.Corpus(cfg)
    counts = np.bincount(corpus.train_ids, minlength=corpus.vocab_size) + 1.0
    expect = np.exp(-np.mean(np.log(counts / counts.sum())[corpus.valid_ids]))
    assert out.figures["unigram_perplexity"] == pytest.approx(expect, rel=1e-12)


def test_an_interrupted_run_resumes_to_the_numbers_of_an_uninterrupted_one(tmp_path, stop_after):
    whole = run_cli("--out", str(tmp_path / "whole"))
    assert whole.exit_code == 0, whole.output
    reference = runs.load(json.loads(whole.stdout)["run_dir"])

    cfg = resolve(CONFIG, SMALL)
    from workbench.config import dump_resolved

    with pytest.raises(KeyboardInterrupt):
        with runs.create_run(tmp_path / "cut", cfg.name) as rd:
            rd.write_config(dump_resolved(cfg))
            lm.run(cfg, "cpu", checkpoint=stop_after(rd, 2))
    (partial,) = (tmp_path / "cut").iterdir()
    assert partial.name.startswith(".") and partial.name.endswith(".partial")
    assert json.loads((partial / "checkpoint.json").read_text())["epoch"] == 2

    resumed = run_cli("--out", str(tmp_path / "cut"), "--resume", str(partial))
    assert resumed.exit_code == 0, resumed.output
    summary = json.loads(resumed.stdout)
    assert summary["figures"]["resumed_from_epoch"] == 2
    run = runs.load(summary["run_dir"])
    assert not partial.exists() and not list(run.path.glob("checkpoint*"))
    for key, value in reference.arrays.items():
        np.testing.assert_array_equal(run.arrays[key], value, err_msg=key)
    assert run.result["figures"]["sample"] == reference.result["figures"]["sample"]

    # greedy sampling from the finished run is deterministic and has the asked length
    a = runner.invoke(app, ["sample", str(run.path), "--length", "30", "--temperature", "0"])
    b = runner.invoke(app, ["sample", str(run.path), "--length", "30", "--temperature", "0"])
    assert a.exit_code == 0, a.output
    assert a.stdout == b.stdout and len(a.stdout) == 31


def test_resume_refuses_another_config_and_a_finished_run(tmp_path, stop_after):
    cfg = resolve(CONFIG, SMALL)
    from workbench.config import dump_resolved

    with pytest.raises(KeyboardInterrupt):
        with runs.create_run(tmp_path, cfg.name) as rd:
            rd.write_config(dump_resolved(cfg))
            lm.run(cfg, "cpu", checkpoint=stop_after(rd, 1))
    (partial,) = tmp_path.iterdir()
    other = run_cli("--resume", str(partial), "optimizer.lr=1e-2")
    assert other.exit_code == 2 and "another config" in other.output
    missing = run_cli("--resume", str(tmp_path / "nope"))
    assert missing.exit_code == 2 and "no such folder" in missing.output
    finished = run_cli("--out", str(tmp_path / "done"), "training.epochs=1")
    assert finished.exit_code == 0, finished.output
    done_dir = json.loads(finished.stdout)["run_dir"]
    again = run_cli("--resume", done_dir, "training.epochs=1")
    assert again.exit_code == 2 and "Traceback" not in again.output

    # a damaged checkpoint is a clear error that says how to start over
    (partial / "checkpoint.json").write_text('{"epoch": 1, "arr')
    damaged = run_cli("--resume", str(partial))
    assert damaged.exit_code == 2 and "cannot be read" in damaged.output
    assert "delete checkpoint.json" in damaged.output and "Traceback" not in damaged.output


def test_a_crash_while_checkpointing_leaves_the_previous_checkpoint(tmp_path):
    with runs.create_run(tmp_path, "ck") as rd:
        rd.save_checkpoint({"w": np.arange(3.0)}, {"epoch": 1})
        first = sorted(p.name for p in rd.path.glob("checkpoint-*.npz"))
        # the arrays of the next checkpoint are written, then the process dies
        real_write = rd._write

        def die_on_meta(name, content):
            if name == runs.CHECKPOINT_META:
                raise KeyboardInterrupt
            return real_write(name, content)

        rd._write = die_on_meta
        with pytest.raises(KeyboardInterrupt):
            rd.save_checkpoint({"w": np.arange(3.0) + 10}, {"epoch": 2})
        rd._write = real_write
        arrays, meta = rd.load_checkpoint()
        assert meta["epoch"] == 1 and (arrays["w"] == np.arange(3.0)).all()
        rd.save_checkpoint({"w": np.ones(3)}, {"epoch": 3})  # the next one cleans up
        assert len(list(rd.path.glob("checkpoint-*.npz"))) == 1
        assert first[0] not in [p.name for p in rd.path.glob("checkpoint-*.npz")]
        rd.write_result({"status": 0})
    assert not list(rd.path.glob("checkpoint*"))


def test_bad_lm_configs_exit_2(tmp_path):
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("ab")
    for overrides, needle in [
        (["data.corpus=moby"], "data.corpus"),
        (["training.batch_size=100000"], "training.batch_size"),
        (["data.path=x.txt"], "exactly one"),
        (["sample.prime=Alice~"], "sample.prime"),  # found before any training
        (["data.corpus=null", f"data.path={tiny}", "data.valid_fraction=0.9"], "valid_fraction"),
    ]:
        result = runner.invoke(app, ["run", CONFIG, *overrides, "--out", str(tmp_path)])
        assert result.exit_code == 2, (overrides, result.output)
        assert needle in result.output and "Traceback" not in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.txt"]


def test_sample_command_errors_are_one_line(tmp_path):
    result = run_cli("--out", str(tmp_path), "training.epochs=1")
    run_dir = json.loads(result.stdout)["run_dir"]
    for args, needle in [
        (["--length", "0"], "--length"),
        (["--temperature", "-1"], "--temperature"),
        (["--temperature", "nan"], "--temperature"),
    ]:
        out = runner.invoke(app, ["sample", run_dir, *args])
        assert out.exit_code == 2 and needle in out.output, out.output
        assert out.output.count("\n") == 1 and "Traceback" not in out.output
    # the run's own prime is the default start; --prime replaces it
    own = runner.invoke(app, ["sample", run_dir, "--length", "5", "--temperature", "0"])
    primed = runner.invoke(
        app, ["sample", run_dir, "--length", "5", "--temperature", "0", "--prime", "Alice "]
    )
    assert own.exit_code == 0 and own.stdout == primed.stdout  # the config's prime is "Alice "
    (Path(run_dir) / "vocab.json").unlink()
    broken = runner.invoke(app, ["sample", run_dir])
    assert broken.exit_code == 2 and "vocab.json" in broken.output
    assert broken.output.count(run_dir) == 1


def test_ctrl_c_says_how_to_resume(tmp_path, monkeypatch):
    real = lm.Trainer.run_epoch

    def stop_in_second_epoch(self, *args, **kwargs):
        if self.epoch == 1:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(lm.Trainer, "run_epoch", stop_in_second_epoch)
    result = run_cli("--out", str(tmp_path))
    assert result.exit_code == 130
    (partial,) = tmp_path.iterdir()
    assert "--resume" in result.output and str(partial) in result.output


def test_the_full_rmsprop_options_reach_the_optimizer_and_match_the_numpy_reference():
    extra = [
        "optimizer.eps_in_sqrt=false", "optimizer.centered=true", "optimizer.momentum=0.5",
        "optimizer.weight_decay=1e-4", "training.epochs=1", "model.hidden=8",
    ]  # fmt: skip
    cfg = resolve(CONFIG, SMALL + extra)
    corpus = lm.Corpus(cfg)
    ours, reference = lm.Trainer(cfg, corpus), lm.Trainer(cfg, corpus, numpy=True)
    opt = ours.optimizer
    assert (opt.eps_in_sqrt, opt.centered, opt.momentum, opt.weight_decay) == (
        False, True, 0.5, 1e-4,
    )  # fmt: skip
    # the numpy GRU and torch.optim.RMSprop's update written out, from the same start
    np.testing.assert_allclose(ours.run_epoch(), reference.run_epoch(), rtol=1e-9)
    for k, v in reference.params.items():
        np.testing.assert_allclose(ours.params[k], v, rtol=1e-7, atol=1e-12, err_msg=k)
