"""``python -m minivgg.stylize`` end to end on tiny images with tiny random weights; every bad input's exit code."""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import call_cli, interrupt_when
from PIL import Image

from minivgg.objective import DEFAULT_BETA
from minivgg.stylize import PROG, main

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "images"




def args_for(imgs, tiny_weights, *extra, iterations=4):
    return ["--content", imgs["content"], "--style", imgs["style"], "--output", imgs["out"], "--size", "32",
            "--iterations", str(iterations), "--weights", str(tiny_weights), *extra]


def cli(argv, capsys):
    return call_cli(main, argv, capsys, prog=PROG)


def test_end_to_end_output_log_snapshots_progress(imgs, tiny_weights, tmp_path, capsys):
    log = tmp_path / "run.jsonl"
    rc, out, err = cli(args_for(imgs, tiny_weights, "--save-every", "3", "--log", str(log), "--print-every", "2",
                                iterations=6), capsys)
    assert rc == 0, err
    assert err == ""
    with Image.open(imgs["out"]) as im:
        assert im.size == (32, 24) and im.mode == "RGB"
    for it in (3, 6):
        assert (tmp_path / f"out_{it:04d}.png").exists()
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    cfg = lines[0]["config"]
    assert cfg["iterations"] == 6 and cfg["style_weight"] == DEFAULT_BETA and cfg["content_layers"] == ["conv4_2"]
    assert cfg["preset"] == "clean" and cfg["init"] == "content" and cfg["tv_weight"] == 10.0
    rows = lines[1:]
    assert [r["iter"] for r in rows] == list(range(1, len(rows) + 1)) and 3 <= len(rows) <= 6
    for r in rows:
        assert set(r) == {"iter", "loss", "content", "style", "tv", "seconds"}
        # The default preset (clean) adds a TV term of weight 10 to eq. 7.
        assert r["loss"] == pytest.approx(r["content"] + DEFAULT_BETA * r["style"] + 10.0 * r["tv"])
    assert rows[-1]["loss"] < rows[0]["loss"]
    progress = [line for line in out.splitlines() if line.startswith("iter")]
    assert progress and all("s/iter" in p and "ETA" in p and "style" in p for p in progress)


def test_adam_several_styles_layers_and_init_path(imgs, tiny_weights, capsys):
    rc, out, err = cli(args_for(imgs, tiny_weights, "--style", imgs["style"], imgs["style2"],
                                "--style-blend", "1", "3", "--optimizer", "adam", "--lr", "5",
                                "--content-layers", "conv3_1", "--style-layers", "conv1_1,conv2_1", "conv3_1",
                                "--style-layer-weights", "1", "0.5", "0", "--init", imgs["style2"],
                                "--tv-weight", "0.01", "--bounds", "--pooling", "max", "--quiet"), capsys)
    assert rc == 0, err
    assert out == "" and err == ""
    with Image.open(imgs["out"]) as im:
        assert im.size == (32, 24)


def test_same_seed_same_image(imgs, tiny_weights, tmp_path, capsys):
    results = []
    for name in ("a.png", "b.png"):
        argv = args_for(imgs, tiny_weights, "--seed", "7", "--quiet")
        argv[argv.index("--output") + 1] = str(tmp_path / name)
        assert cli(argv, capsys)[0] == 0
        results.append(np.asarray(Image.open(tmp_path / name)))
    np.testing.assert_array_equal(*results)


def _bad_cases(imgs, tmp_path, tiny_weights):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    missing = str(tmp_path / "nope.png")
    return [
        # (extra/replaced flags, exit code, a piece of the message)
        ({"--content": missing}, 1, "no such file"),
        ({"--style": str(text)}, 1, "not an image"),
        ({"--style": str(empty)}, 1, "empty.jpg"),
        ({"--init": missing}, 1, "no such file"),
        ({"--content-layers": "conv4_9"}, 2, "unknown content layer 'conv4_9'"),
        ({"--style-layers": "conv1_1,relu2"}, 2, "unknown style layer 'relu2'"),
        ({"--style-weight": "-1"}, 2, "expected a finite number >= 0"),
        ({"--content-weight": "nan"}, 2, "expected a finite number >= 0"),
        ({"--style-blend": "1 2"}, 2, "--style-blend has 2 values for 1 style"),
        ({"--style-blend": "0"}, 2, "sum to 0"),
        ({"--style-layer-weights": "1 2"}, 2, "--style-layer-weights has 2 values for 5"),
        ({"--style-layer-weights": "1 1 1 1 -2"}, 2, ">= 0"),
        ({"--size": "0"}, 2, "positive integer"),
        ({"--iterations": "0"}, 2, "positive integer"),
        ({"--lr": "0"}, 2, "> 0"),
        ({"--size": "12"}, 2, "too small for layer conv5_1"),
        ({"--weights": str(tmp_path / "missing.npz")}, 1, "python -m minivgg.weights fetch"),
        ({"--weights": str(text)}, 1, "notes.png"),
        ({"--output": imgs["content"]}, 2, "is the same file as --content"),
        ({"--output": imgs["style"]}, 2, "is the same file as --style"),
        ({"--output": str(tmp_path / "out.txt")}, 2, "extension"),
        ({"--output": str(tmp_path)}, 2, "is a folder"),                       # not "has no extension"
        ({"--log": imgs["content"]}, 2, "same file"),
        ({"--log": str(tmp_path)}, 2, "is a folder"),
        ({"--log": str(text / "log.jsonl")}, 1, "notes.png' is not a directory"),   # not "File exists"
        ({"--pooling": "min"}, 2, "invalid choice"),
        ({"--style-weight": "1e300"}, 1, "at iteration 1:"),   # overflow: the NaN/inf guard
    ]


def _apply(argv, changes):
    argv = list(argv)
    for flag, value in changes.items():
        values = value.split(" ")
        if flag in argv:
            i = argv.index(flag)
            argv[i + 1:i + 2] = values
        else:
            argv += [flag, *values]
    return argv


def test_every_bad_input_is_one_line_and_the_documented_exit_code(imgs, tiny_weights, tmp_path, capsys):
    for changes, code, message in _bad_cases(imgs, tmp_path, tiny_weights):
        rc, out, err = cli(_apply(args_for(imgs, tiny_weights, "--quiet"), changes), capsys)
        assert rc == code, (changes, rc, err)
        assert message in err, (changes, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert not os.path.exists(imgs["out"]), changes     # nothing written before the checks pass


def test_bad_input_in_a_real_process_has_no_traceback(imgs, tiny_weights, tmp_path):
    r = subprocess.run([sys.executable, "-m", "minivgg.stylize", "--content", imgs["content"], "--style",
                        imgs["style"], "--output", imgs["out"], "--weights", str(tmp_path / "none.npz")],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and "minivgg.weights fetch" in r.stderr
    argv = args_for(imgs, tiny_weights, "--style-weight", "1e300")
    r = subprocess.run([sys.executable, "-m", "minivgg.stylize", *argv], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "iteration 1" in r.stderr, r.stderr
    r = subprocess.run([sys.executable, "-m", "minivgg.stylize", "--content", imgs["content"]],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "required" in r.stderr


def test_gpu_without_cupy_is_a_one_line_usage_error(imgs, tiny_weights, capsys):
    try:
        importlib.import_module("cupy")
        pytest.skip("CuPy is installed here")
    except ImportError:
        pass
    rc, _, err = cli(args_for(imgs, tiny_weights, "--device", "gpu"), capsys)
    assert rc == 2 and "CuPy" in err and len(err.strip().splitlines()) == 1


def test_sigint_writes_the_current_image_and_exits_130(imgs, tiny_weights):
    rc, err = interrupt_when([sys.executable, "-m", "minivgg.stylize",
                              *args_for(imgs, tiny_weights, "--print-every", "1", iterations=100000)],
                             lambda line: line.startswith("iter"),  # the optimisation is under way
                             cwd=ROOT)
    assert rc == 130, err
    assert "Traceback" not in err and "interrupted" in err
    with Image.open(imgs["out"]) as im:
        assert im.size == (32, 24)


@pytest.mark.realweights
def test_real_weights_64px_run_lowers_the_loss(real_weights, tmp_path, capsys):
    content, style = SHARED / "tubingen.jpg", SHARED / "starry_night.jpg"
    if not (content.exists() and style.exists()):
        pytest.skip(f"needs {content} and {style}")
    log = tmp_path / "log.jsonl"
    out = tmp_path / "tubingen_starry.png"
    rc, _, err = cli(["--content", str(content), "--style", str(style), "--output", str(out), "--size", "64",
                      "--iterations", "10", "--weights", str(real_weights), "--log", str(log), "--quiet"], capsys)
    assert rc == 0, err
    rows = [json.loads(line) for line in log.read_text().splitlines()[1:]]
    assert len(rows) == 10
    assert rows[-1]["loss"] < 0.5 * rows[0]["loss"]
    with Image.open(out) as im:
        assert im.size == (64, 48)


def test_a_small_source_is_upscaled_and_said_so(tiny_weights, tmp_path, capsys):
    """The size check applies to the image the network sees: a 10x10 icon at --size 32 is upscaled, not refused."""
    from PIL import Image

    icon = tmp_path / "icon.png"
    Image.new("RGB", (10, 10), (20, 200, 30)).save(icon)
    style = tmp_path / "style.png"
    Image.new("RGB", (40, 30), (200, 10, 10)).save(style)
    rc, out, err = cli(["--content", str(icon), "--style", str(style), "--output", str(tmp_path / "o.png"),
                        "--weights", str(tiny_weights), "--size", "32", "--iterations", "2"], capsys)
    assert rc == 0, err
    assert "the photo is 10x10 px: upscaled 3.2x to 32 px on its long side" in out
    assert "upscaled" not in out.split("the photo is")[0]          # the 40 px style is not upscaled
    with Image.open(tmp_path / "o.png") as im:
        assert im.size == (32, 32)


def test_an_image_too_small_after_resizing_is_refused_before_any_work(tiny_weights, tmp_path, capsys):
    from PIL import Image

    strip = tmp_path / "strip.png"
    Image.new("RGB", (400, 20)).save(strip)          # 32 x 2 px at --size 32: too thin for conv5_1
    style = tmp_path / "style.png"
    Image.new("RGB", (40, 30), (200, 10, 10)).save(style)
    rc, _, err = cli(["--content", str(strip), "--style", str(style), "--output", str(tmp_path / "o.png"),
                      "--weights", str(tiny_weights), "--size", "32"], capsys)
    assert rc == 2 and "32x2 px after resizing" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.png").exists()


def test_interrupt_before_the_first_iteration_says_nothing_was_written(imgs, tiny_weights, tmp_path, capsys,
                                                                        monkeypatch):
    import signal

    import minivgg.app.pipeline

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(minivgg.app.pipeline, "stylize_images", interrupted)
    monkeypatch.setattr(signal, "signal", lambda *a: None)      # the handler stays pytest's
    rc, _, err = cli(args_for(imgs, tiny_weights, "--quiet"), capsys)
    assert rc == 130
    assert err == f"{PROG}: interrupted before the first iteration finished: nothing was written to {imgs['out']}\n"
    assert not os.path.exists(imgs["out"])
    log = tmp_path / "run.jsonl"
    rc, _, err = cli(args_for(imgs, tiny_weights, "--quiet", "--log", str(log)), capsys)
    assert rc == 130 and len(err.splitlines()) == 1 and f"{log} has only its config line" in err
    assert len(log.read_text().splitlines()) == 1 and "config" in log.read_text()


def test_missing_output_folders_are_created_and_said(imgs, tiny_weights, tmp_path, capsys):
    out = tmp_path / "new" / "deep" / "out.png"
    log = tmp_path / "logs" / "run.jsonl"
    argv = _apply(args_for(imgs, tiny_weights, "--log", str(log), "--save-every", "2"), {"--output": str(out)})
    rc, stdout, err = cli(argv, capsys)
    assert rc == 0, err
    made = [line for line in stdout.splitlines() if line.startswith("created folder")]
    assert made == [f"created folder {out.parent}/", f"created folder {log.parent}/"]
    assert out.is_file() and log.is_file() and (out.parent / "out_0004.png").is_file()
    rc, stdout, _ = cli(argv, capsys)                          # they exist now: nothing to say
    assert rc == 0 and "created folder" not in stdout
    quiet = _apply(args_for(imgs, tiny_weights, "--quiet"), {"--output": str(tmp_path / "q" / "out.png")})
    rc, stdout, _ = cli(quiet, capsys)
    assert rc == 0 and stdout == "" and (tmp_path / "q" / "out.png").is_file()


def test_an_exhausted_gpu_pool_is_one_line_naming_the_way_out(capsys):
    """CuPy's OutOfMemoryError (raised at the pool's --max-memory limit), recognised by name."""
    from minivgg.app.cli import run_main

    class OutOfMemoryError(Exception):
        pass

    def main(argv):
        raise OutOfMemoryError("Out of memory allocating 1,073,741,824 bytes\n(allocated so far: 7,516,192,768 bytes, "
                               "limit set to: 7,918,845,952 bytes).")

    assert run_main(main, [], prog="p") == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "GPU's memory ran out" in err and "--tile" in err
    assert "limit set to" in err
