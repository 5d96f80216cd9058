"""Tests in this folder run in their own pytest process under the CUDA simulator:
``NUMBA_ENABLE_CUDASIM=1 pytest tests/cuda`` (``make test`` does this)."""

import os

import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(autouse=True)
def _simulator_only():
    assert os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
