"""Tests in this folder run in their own pytest process, under the CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1 pytest tests/cuda``: ``make test``) or on a real GPU
(``WORKBENCH_GPU=1 pytest tests/cuda``: ``make gpu-check``). Elsewhere they are not collected:
the simulator must be switched on before Numba is first imported, which an ordinary test run
has done long before."""

import os

import pytest

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
DEVICE = os.environ.get("WORKBENCH_GPU") == "1"

if not (SIMULATOR or DEVICE):
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(autouse=True, scope="session")
def _simulator_or_device():
    if DEVICE and not SIMULATOR:
        from workbench.targets import cuda_status

        usable, why = cuda_status()
        if not usable:
            pytest.exit(f"WORKBENCH_GPU=1 but no CUDA GPU is usable: {why}", returncode=2)
