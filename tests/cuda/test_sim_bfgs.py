"""The CUDA BFGS batch under the simulator gives the CPU kernels' numbers."""

import numpy as np

from workbench.data.labeled import design_matrix, synthetic
from workbench.models import logistic
from workbench.optimize import minimize_bfgs_batch


def test_bootstrap_fits_on_cuda_match_cpu():
    X, y, _ = synthetic(40, 2, 2.0, 0.1, seed=3)
    Z, _, _ = design_matrix(X, standardize=False, intercept=True)
    data = logistic.pack_data(Z, y, 0.01, 1)
    counts = np.random.default_rng(0).multinomial(40, np.full(40, 1 / 40), size=3).astype(float)
    kw = dict(member_data=counts, args=(data,))
    gpu = minimize_bfgs_batch(logistic.LOGISTIC, np.zeros((3, 3)), target="cuda", **kw)
    cpu = minimize_bfgs_batch(logistic.LOGISTIC, np.zeros((3, 3)), target="cpu", **kw)
    assert gpu.target == "cuda"
    np.testing.assert_array_equal(gpu.status, 0)
    np.testing.assert_array_equal(gpu.nit, cpu.nit)
    np.testing.assert_array_equal(gpu.nfev, cpu.nfev)
    np.testing.assert_allclose(gpu.x, cpu.x, rtol=1e-10)
