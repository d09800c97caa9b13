"""SciPy's own OpenBLAS gets one thread for L-BFGS-B; NumPy's keeps its pool (minivgg.blas_threads)."""

import numpy as np
import pytest

from minivgg import blas_threads
from minivgg.optim import lbfgs


def _numpy_openblas_threads():
    return blas_threads.blas_threads(blas_threads.bundled_openblas(np))


def test_lbfgs_runs_scipy_blas_on_one_thread_and_leaves_numpys_alone():
    np.ones((64, 64)) @ np.ones((64, 64))                  # NumPy's BLAS is loaded
    before = _numpy_openblas_threads()
    if blas_threads.scipy_own_openblas() is None:
        pytest.skip("SciPy has no OpenBLAS of its own here (not the PyPI wheel): nothing to limit")
    lbfgs(lambda x: (float((x * x).sum()), 2 * x), np.ones((3, 4, 4), np.float32), 3)
    assert blas_threads.scipy_blas_threads() == 1
    assert blas_threads.single_thread_scipy_blas() is True
    assert _numpy_openblas_threads() == before


def test_no_loaded_library_means_nothing_is_touched(monkeypatch):
    monkeypatch.setattr(blas_threads, "_loaded_libraries", lambda: [])
    assert blas_threads.scipy_own_openblas() is None and blas_threads.scipy_blas_threads() is None
