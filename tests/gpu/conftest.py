"""The GPU path's fixtures: ``gpu`` runs a test on the strict CuPy stand-in (always) and on real CuPy
(where it is importable and sees a device); ``standin`` on the stand-in only, for the tests that count
traffic. Either installs its module as ``sys.modules["cupy"]`` for the test, so that
``minivgg.backend.get_backend("gpu")`` -- CuPy import, device count and smoke test included -- runs
unchanged on it.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakecupy import is_standin, make_standin  # noqa: E402

STANDIN_PATH = Path(__file__).resolve().parent / "standin"


@functools.lru_cache(maxsize=1)
def real_cupy():
    """The real cupy module when it is importable and sees a GPU, else None."""
    if importlib.util.find_spec("cupy") is None:
        return None
    try:
        import cupy

        if is_standin(cupy) or cupy.cuda.runtime.getDeviceCount() < 1:
            return None
        return cupy
    except Exception:
        return None


@dataclass
class Device:
    """The module a test runs on, and how closely its numbers must match the CPU's."""

    name: str                 # "standin" or "cupy"
    xp: object

    @property
    def standin(self) -> bool:
        return self.name == "standin"

    def rtol(self, dtype) -> float:
        """Tolerance, relative to the largest magnitude, for a result computed on this device.

        The stand-in computes with NumPy, so it differs from the CPU only where the GPU runs other
        algorithms or chunks (rounding); a real GPU sums in other orders everywhere."""
        if np.dtype(dtype) == np.float64:
            return 1e-10 if self.standin else 1e-8
        return 2e-5 if self.standin else 2e-4

    def env(self) -> dict:
        """Environment for a child process that must see this device as ``cupy``."""
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])
        paths = ([str(STANDIN_PATH)] if self.standin else []) + [root]
        env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in [env.get("PYTHONPATH")] if p])
        return env


DEVICES = ["standin"] + (["cupy"] if real_cupy() is not None else [])


def _install(monkeypatch, name: str) -> Device:
    mod = make_standin() if name == "standin" else real_cupy()
    monkeypatch.setitem(sys.modules, "cupy", mod)
    return Device(name, mod)


@pytest.fixture(params=DEVICES)
def gpu(request, monkeypatch) -> Device:
    """The stand-in, and real CuPy where there is a GPU: the same test on each."""
    return _install(monkeypatch, request.param)


@pytest.fixture
def standin(monkeypatch) -> Device:
    """The stand-in only (traffic counting, planted bugs, simulated failures)."""
    return _install(monkeypatch, "standin")
