"""Process tuning (minivgg.machine): SciPy's own OpenBLAS on one thread and glibc keeping freed memory,
made by tune_process() -- which the commands call -- and never by a constructor or a library call."""

import subprocess
import sys

import numpy as np
import pytest

from minivgg.errors import MinivggError
from minivgg.machine import blas_threads


def _numpy_openblas_threads():
    return blas_threads.blas_threads(blas_threads.bundled_openblas(np))


def _in_fresh_process(code: str) -> list:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()


def test_tune_process_runs_scipy_blas_on_one_thread_and_leaves_numpys_alone():
    np.ones((64, 64)) @ np.ones((64, 64))                  # NumPy's BLAS is loaded
    before = _numpy_openblas_threads()
    if blas_threads.scipy_own_openblas() is None:
        pytest.skip("SciPy has no OpenBLAS of its own here (not the PyPI wheel): nothing to limit")
    from minivgg.machine import tune_process

    assert tune_process()["single_thread_scipy_blas"] is True
    assert blas_threads.scipy_blas_threads() == 1
    assert _numpy_openblas_threads() == before


def test_library_calls_leave_the_process_alone():
    """Building the network and running L-BFGS set neither malloc nor SciPy's thread pool."""
    code = """
import numpy as np
from minivgg.architecture import random_params
from minivgg.machine import blas_threads, malloc
from minivgg.optim import lbfgs
from minivgg.vgg import VGG19
before = blas_threads.scipy_blas_threads()
net = VGG19(random_params((4, 8, 8, 16, 16)))
lbfgs(lambda x: (float((x * x).sum()), 2 * x), np.ones((3, 4, 4), np.float32), 3)
print(malloc._done is None, blas_threads._done is None, blas_threads.scipy_blas_threads() == before)
"""
    assert _in_fresh_process(code) == ["True", "True", "True"]


def test_the_commands_tune_the_process(monkeypatch, tmp_path):
    import minivgg.machine
    from minivgg import reconstruct, stylize

    calls = []
    monkeypatch.setattr(minivgg.machine, "tune_process", lambda: calls.append(1) or {})
    for main in (stylize.main, reconstruct.main):
        with pytest.raises(MinivggError):           # the run itself fails on the missing files
            main(["--content", str(tmp_path / "no.png"), "--style", str(tmp_path / "no.png"),
                  "--output", str(tmp_path / "o.png")] if main is stylize.main else
                 ["content", "--content", str(tmp_path / "no.png"), "--output-dir", str(tmp_path / "d")])
    assert calls == [1, 1]


def test_no_loaded_library_means_nothing_is_touched(monkeypatch):
    monkeypatch.setattr(blas_threads, "_loaded_libraries", lambda: [])
    assert blas_threads.scipy_own_openblas() is None and blas_threads.scipy_blas_threads() is None
