"""Target choice (workbench.targets)."""

from __future__ import annotations

import pytest

from workbench import targets
from workbench.targets import Choice, TargetError, choose_target


@pytest.fixture
def gpu(monkeypatch):
    monkeypatch.setattr(targets, "cuda_available", lambda: True)


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(targets, "cuda_available", lambda: False)
    monkeypatch.setattr(targets, "cuda_status", lambda: (False, "no driver"))


def test_auto_batched_with_gpu(gpu):
    choice = choose_target("auto", batched=True)
    assert choice == Choice("cuda", "auto: batched run and a CUDA GPU is usable -> cuda")


def test_auto_batched_without_gpu(no_gpu):
    choice = choose_target("auto", batched=True)
    assert choice == Choice(
        "parallel", "auto: batched run, no usable CUDA GPU (no driver) -> parallel"
    )


@pytest.mark.parametrize("fixture", ["gpu", "no_gpu"])
def test_auto_unbatched_is_cpu(request, fixture):
    request.getfixturevalue(fixture)
    assert choose_target("auto", batched=False) == Choice(
        "cpu", "auto: one problem (not batched) -> cpu"
    )


def test_auto_unbatched_does_not_probe_cuda(monkeypatch):
    def probe():
        raise AssertionError("probed CUDA for an unbatched run")

    monkeypatch.setattr(targets, "cuda_available", probe)
    assert choose_target("auto", batched=False).name == "cpu"


@pytest.mark.parametrize("name", ["cpu", "parallel"])
@pytest.mark.parametrize("batched", [True, False])
def test_explicit_cpu_targets(no_gpu, name, batched):
    assert choose_target(name, batched=batched) == Choice(name, f"{name}: requested")


def test_cuda_requested_with_gpu(gpu):
    assert choose_target("cuda", batched=True) == Choice("cuda", "cuda: requested")


def test_cuda_requested_without_gpu_raises(no_gpu):
    with pytest.raises(TargetError) as info:
        choose_target("cuda", batched=True)
    assert str(info.value) == (
        "target 'cuda' requested but no CUDA GPU is usable: no driver; use --target parallel or cpu"
    )
    assert isinstance(info.value, ValueError)


def test_unknown_target():
    with pytest.raises(
        TargetError, match=r"unknown target 'gpu'; accepted: auto, cpu, parallel, cuda"
    ):
        choose_target("gpu", batched=True)


def test_cuda_available_never_raises():
    assert isinstance(targets.cuda_available(), bool)
    usable, why = targets.cuda_status()
    assert isinstance(usable, bool) and why


def test_simulator_counts_as_available(monkeypatch):
    monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", "1")
    assert targets.cuda_available()


def test_cpu_info():
    assert targets.cpu_threads() >= 1
    assert targets.threading_layer(initialise=True) in {"omp", "tbb", "workqueue"}
