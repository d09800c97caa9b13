"""The benchmark harness runs and prints its tables (what it measures is not asserted: timings are
for bench/, not for tests)."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


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


def test_bench_multiscale_prints_time_to_loss_table(tiny_weights):
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_multiscale.py"), "--weights", str(tiny_weights),
                        "--content", str(ROOT / "examples" / "chelsea.png"),
                        "--style", str(ROOT / "examples" / "the_scream.jpg"),
                        "--size", "64", "--levels", "2", "--iterations", "4"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    rows = [line.split() for line in p.stdout.splitlines() if " it " in line and line.strip()[0].isdigit()]
    # each run's loss after 10, 25, 50, 100 % of its 4 final-size iterations: iterations 1, 1, 2, 4
    assert sorted(r[1] + r[3] for r in rows) == sorted(["baseline1", "baseline1", "baseline2", "baseline4",
                                                        "multi-scale1", "multi-scale1", "multi-scale2",
                                                        "multi-scale4"])
    losses = [float(r[0]) for r in rows]
    assert losses == sorted(losses, reverse=True)
    assert '"multiscale_schedule": [4, 4]' in p.stdout


def test_time_to_loss_table():
    spec = importlib.util.spec_from_file_location("bench_multiscale", ROOT / "bench" / "bench_multiscale.py")
    bm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bm)
    base = [(1.0, 10.0), (2.0, 8.0), (3.0, 6.0), (4.0, 5.0)]
    ms = [(3.0, 9.0), (3.5, 5.5), (4.0, 4.0), (6.0, 3.0)]
    rows = bm.time_to_loss_table(base, ms, fractions=(0.5, 1.0))
    by = {r["from"]: r for r in rows}
    assert by["baseline it 2"] == {"loss": 8.0, "from": "baseline it 2", "baseline_seconds": 2.0,
                                   "multiscale_seconds": 3.5, "speedup": round(2 / 3.5, 2)}
    assert by["baseline it 4"]["multiscale_seconds"] == 4.0 and by["baseline it 4"]["speedup"] == 1.0
    # multi-scale's 5.5 after 3.5 s: the baseline first gets there (5.0) at 4 s
    assert by["multi-scale it 2"]["baseline_seconds"] == 4.0 and by["multi-scale it 2"]["speedup"] == round(4 / 3.5, 2)
    assert by["multi-scale it 4"]["baseline_seconds"] is None and by["multi-scale it 4"]["speedup"] is None
    assert [r["loss"] for r in rows] == sorted((r["loss"] for r in rows), reverse=True)
    assert bm.seconds_to(base, 5.5) == 4.0 and bm.seconds_to(base, 1.0) is None
