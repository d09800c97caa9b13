"""The benchmark harness runs and prints its tables (what it measures is not asserted: timings are
for bench/, not for tests)."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _bench(*args):
    return subprocess.run([sys.executable, str(ROOT / "bench" / "bench_vgg.py"), *args],
                          capture_output=True, text=True, timeout=300)


def test_bench_vgg_prints_peak_layers_and_unit():
    p = _bench("--sizes", "32", "--algo", "direct", "auto", "--layer-algo", "direct", "--repeats", "1",
               "--random-weights", "--no-lbfgs")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "GEMM peak" in out and "## per layer at 32x32" in out
    layers = [line.split()[0] for line in out.splitlines() if line.startswith("conv")]
    assert layers[0] == "conv1_1" and layers[-1] == "conv5_1" and len(layers) == 13
    unit = [line.split() for line in out.splitlines() if line.strip().startswith("32 ")]
    assert [u[1] for u in unit] == ["direct", "auto"]
    assert all(float(u[3]) > 0 and float(u[6]) > 0 for u in unit)        # s/step, peak MB


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="CuPy is installed")
def test_bench_vgg_on_gpu_without_cupy_is_one_line():
    p = _bench("--device", "gpu", "--sizes", "32")
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and "CuPy" in p.stderr and "Traceback" not in p.stderr
