"""bench/gpu_check.sh, in its stand-in mode at tiny sizes (its GPU mode needs a GPU)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_check(tmp_path, **settings):
    out = tmp_path / "out"
    env = dict(os.environ, PYTHON=sys.executable, OUT=str(out), GPU_CHECK_STANDIN="1", GPU_CHECK_QUICK="1",
               GPU_CHECK_STEPS="compare stylize bench")          # (not "tests": that is this very suite)
    env.update(settings)
    p = subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh")], env=env, capture_output=True, text=True,
                       timeout=240)
    return p, out


def test_gpu_check_runs_every_step_on_the_standin(tmp_path):
    p, out = run_check(tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    summary = (out / "summary.txt").read_text()
    assert "STAND-IN" in summary and "no GPU was used" in summary and "FAIL" not in summary
    for name in ("weights", "compare", "stylize", "bench"):
        assert f"ok    {name}" in summary
    compare = json.loads((out / "compare.json").read_text())
    assert compare["standin_traffic_per_evaluation"]["syncs"] == 1
    assert compare["relative_difference"]["total"] < 1e-5 and compare["gradient_relative_difference"] < 1e-3
    timing = json.loads((out / "stylize_timing.json").read_text())
    assert timing["iterations"] == 3 and len(timing["per_iteration_seconds"]) == 3 and timing["device"] == "gpu"
    assert (out / "stylize_32px.png").is_file() and "## the unit" in (out / "bench.log").read_text()


def test_gpu_check_names_a_failing_step_and_exits_1(tmp_path):
    p, out = run_check(tmp_path, GPU_CHECK_OPTIMIZER="no-such-optimizer", GPU_CHECK_STEPS="stylize")
    assert p.returncode == 1
    summary = (out / "summary.txt").read_text()
    assert "FAIL  stylize" in summary and "invalid choice" in summary and "bench" not in summary
