"""``python -m minivgg.reconstruct`` on tiny images with tiny random weights: sheets, JSON, resume, errors."""

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import call_cli, interrupt_when, random_pictures
from PIL import Image

from minivgg.objective import DEFAULT_BETA, StyleTransfer
from minivgg.reconstruct import PROG, main, plan_cells, ratio_text, set_label

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "images"
LAYERS = ["conv1_1", "conv2_1", "conv3_1"]


@pytest.fixture
def imgs(tmp_path):
    """A 32x24 photo and a 20x30 painting (random pixels: these tests look at plumbing, not beauty)."""
    return random_pictures(tmp_path) | {"out": str(tmp_path / "sheet")}


def args_for(mode, imgs, tiny_weights, *extra, iterations=3):
    return [mode, "--content", imgs["content"], "--style", imgs["style"], "--output-dir", imgs["out"],
            "--size", "32", "--iterations", str(iterations), "--weights", str(tiny_weights), *extra]


def cli(argv, capsys):
    return call_cli(main, argv, capsys, prog=PROG)


def record(imgs, mode):
    return json.loads((Path(imgs["out"]) / f"{mode}.json").read_text())


def check_sheet(imgs, mode, n_cells, rows, cols, labels):
    rec = record(imgs, mode)
    assert rec["complete"] is True
    cells = rec["cells"]
    assert len(cells) == n_cells
    for c in cells:
        assert (Path(imgs["out"]) / c["file"]).is_file()
        assert set(c["losses"]) == {"total", "content", "style", "tv"}
        assert c["iterations_run"] >= 1 and c["run"] == 1
    sheet = rec["sheet"]
    assert (sheet["rows"], sheet["cols"]) == (rows, cols)
    assert sheet["labels"][1:] == labels                  # [0] is the title
    with Image.open(Path(imgs["out"]) / sheet["file"]) as im:
        assert list(im.size) == sheet["size"] and im.mode == "RGB"
    return rec


def test_content_sheet(imgs, tiny_weights, capsys):
    rc, out, err = cli(args_for("content", imgs, tiny_weights, "--layers", *LAYERS, "--print-every", "1"), capsys)
    assert rc == 0, err
    assert err == ""
    rec = check_sheet(imgs, "content", 3, 1, 4, ["photo"] + LAYERS)
    assert [c["file"] for c in rec["cells"]] == [f"content_{n}.png" for n in LAYERS]
    for c, name in zip(rec["cells"], LAYERS, strict=True):
        assert (c["content_layers"], c["style_layers"], c["alpha"], c["beta"]) == ([name], [], 1.0, 0.0)
        assert c["losses"]["style"] == 0.0 and c["losses"]["total"] == pytest.approx(c["losses"]["content"])
    with Image.open(Path(imgs["out"]) / "content_conv2_1.png") as im:
        assert im.size == (32, 24)
    # Progress across the sheet: cell k of n, per-iteration lines with the sheet's ETA.
    assert "cell 1/3 conv1_1" in out and "cell 3/3 conv3_1" in out
    assert "[cell 2/3] iter" in out and "sheet ETA" in out


def test_style_sheet_growing_sets(imgs, tiny_weights, capsys):
    rc, out, err = cli(args_for("style", imgs, tiny_weights, "--layers", "conv1_1,conv2_1", "conv3_1", "--quiet"),
                       capsys)
    assert rc == 0, err
    assert out == "" and err == ""
    labels = ["conv1_1", "conv1_1 + conv2_1", "conv1_1 + ... + conv3_1"]
    rec = check_sheet(imgs, "style", 3, 1, 4, ["painting"] + labels)
    assert [c["style_layers"] for c in rec["cells"]] == [LAYERS[:1], LAYERS[:2], LAYERS]
    assert [c["file"] for c in rec["cells"]] == ["style_conv1_1.png", "style_conv1_1-conv2_1.png",
                                                 "style_conv1_1-conv3_1.png"]
    for c in rec["cells"]:
        assert (c["alpha"], c["beta"]) == (0.0, DEFAULT_BETA) and c["losses"]["content"] == 0.0
    with Image.open(Path(imgs["out"]) / "style_conv1_1.png") as im:
        assert im.size == (21, 32)                         # the painting's shape at --size 32


def test_grid_sheet_ratios_to_weights(imgs, tiny_weights, capsys):
    rc, out, err = cli(args_for("grid", imgs, tiny_weights, "--layers", "conv1_1", "conv2_1", "--ratios", "1e-4",
                                "1e-2", "1e-3", "--style-weight", "100", "--quiet"), capsys)
    assert rc == 0, err
    rec = check_sheet(imgs, "grid", 6, 2, 3, ["alpha/beta 1e-04", "alpha/beta 1e-02", "alpha/beta 1e-03",
                                              "conv1_1", "conv1_1 + conv2_1"])
    cell = next(c for c in rec["cells"] if c["row"] == 1 and c["col"] == 1)
    assert cell["file"] == "grid_conv1_1-conv2_1_ratio1e-02.png"
    assert cell["content_layers"] == ["conv4_2"] and cell["style_layers"] == ["conv1_1", "conv2_1"]
    assert cell["beta"] == 100.0 and cell["alpha"] == pytest.approx(1.0)      # alpha = ratio * beta
    assert cell["losses"]["total"] == pytest.approx(cell["alpha"] * cell["losses"]["content"]
                                                    + cell["beta"] * cell["losses"]["style"], rel=1e-5)
    assert rec["settings"]["ratios"] == [1e-4, 1e-2, 1e-3]


def test_default_plan_is_the_papers_figures():
    assert [c["label"] for c in plan_cells("content", ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"])] == \
        ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]
    grid = plan_cells("grid", ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"])
    assert len(grid) == 20 and {c["ratio"] for c in grid} == {1e-5, 1e-4, 1e-3, 1e-2}
    default_cell = next(c for c in grid if c["ratio"] == 1e-3 and len(c["style_layers"]) == 5)
    assert (default_cell["alpha"], default_cell["beta"]) == (1.0, DEFAULT_BETA)   # = stylize's default run
    assert ratio_text(2.5e-4) == "2.5e-04" and set_label(["a", "b", "c", "d"]) == "a + ... + d"


def test_resume_recomputes_only_missing_cells(imgs, tiny_weights, capsys):
    argv = args_for("content", imgs, tiny_weights, "--layers", *LAYERS, "--quiet")
    assert cli(argv, capsys)[0] == 0
    out_dir = Path(imgs["out"])
    files = {n: out_dir / f"content_{n}.png" for n in LAYERS}
    # Make the kept files' mtimes distinctive, so a rewrite would show.
    for p in files.values():
        os.utime(p, (1_000_000_000, 1_000_000_000))
    files["conv2_1"].unlink()
    rc, out, err = cli([a for a in argv if a != "--quiet"], capsys)
    assert rc == 0, err
    rec = record(imgs, "content")
    assert rec["runs"] == 2 and rec["complete"] is True
    assert {c["label"]: c["run"] for c in rec["cells"]} == {"conv1_1": 1, "conv2_1": 2, "conv3_1": 1}
    assert files["conv2_1"].is_file()
    assert os.stat(files["conv1_1"]).st_mtime == 1_000_000_000 == os.stat(files["conv3_1"]).st_mtime
    assert "cell 1/3 conv1_1: kept" in out and "cell 3/3 conv3_1: kept" in out and "[cell 2/3] iter" in out
    assert "[cell 1/3] iter" not in out
    # Nothing missing: a third run computes nothing.
    assert cli(argv, capsys)[0] == 0
    assert {c["run"] for c in record(imgs, "content")["cells"]} == {1, 2}


def test_resume_with_other_settings_is_refused_unless_restart(imgs, tiny_weights, capsys):
    argv = args_for("content", imgs, tiny_weights, "--layers", "conv1_1", "--quiet")
    assert cli(argv, capsys)[0] == 0
    rc, _, err = cli(args_for("content", imgs, tiny_weights, "--layers", "conv1_1", "--quiet", iterations=4), capsys)
    assert rc == 2 and "iterations" in err and "--restart" in err and len(err.strip().splitlines()) == 1
    assert record(imgs, "content")["settings"]["iterations"] == 3
    # --device, --print-every, --quiet may change.
    assert cli(args_for("content", imgs, tiny_weights, "--layers", "conv1_1", "--print-every", "7"), capsys)[0] == 0
    rc, _, err = cli(args_for("content", imgs, tiny_weights, "--layers", "conv1_1", "--quiet", "--restart",
                              iterations=4), capsys)
    assert rc == 0, err
    rec = record(imgs, "content")
    assert rec["settings"]["iterations"] == 4 and rec["cells"][0]["run"] == rec["runs"] == 3


def test_sigint_exits_130_and_leaves_only_finished_cells(imgs, tiny_weights):
    rc, err = interrupt_when([sys.executable, "-m", "minivgg.reconstruct",
                              *args_for("content", imgs, tiny_weights, "--layers", *LAYERS, "--print-every", "1",
                                        iterations=100000)],
                             lambda line: "[cell 1/3] iter" in line,  # the first cell is under way
                             cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert rc == 130, err
    assert "Traceback" not in err and "interrupted in cell 1/3" in err and "0 of 3 cells" in err
    out_dir = Path(imgs["out"])
    assert sorted(p.name for p in out_dir.iterdir()) == ["content.json", "content_sheet.png"]   # no temp files
    rec = record(imgs, "content")
    assert rec["complete"] is False and all(c["losses"] is None for c in rec["cells"])


@pytest.mark.parametrize("extra, code, words", [
    (["--layers", "conv9_9"], 2, "conv9_9"),
    (["--layers", "conv1_1", "conv1_1"], 2, "twice"),
    (["--iterations", "0"], 2, "positive"),
    (["--size", "4"], 2, "too small"),
    (["--optimizer", "sgd"], 2, "sgd"),
])
def test_bad_input_one_line(imgs, tiny_weights, capsys, extra, code, words):
    rc, _, err = cli(args_for("content", imgs, tiny_weights, *extra), capsys)
    assert rc == code and words in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_bad_paths_and_grid_flags(imgs, tiny_weights, tmp_path, capsys):
    rc, _, err = cli(args_for("content", {**imgs, "content": str(tmp_path / "nope.png")}, tiny_weights), capsys)
    assert rc == 1 and "no such file" in err
    rc, _, err = cli(["grid", "--style", imgs["style"], "--output-dir", imgs["out"]], capsys)
    assert rc == 2 and "--content" in err
    rc, _, err = cli(args_for("grid", imgs, tiny_weights, "--ratios", "1e-3", "0.001"), capsys)
    assert rc == 2 and "twice" in err
    rc, _, err = cli(args_for("grid", imgs, tiny_weights, "--ratios", "-1"), capsys)
    assert rc == 2
    (tmp_path / "file").write_text("x")
    rc, _, err = cli(args_for("style", {**imgs, "out": str(tmp_path / "file")}, tiny_weights), capsys)
    assert rc == 2 and "not a directory" in err
    rc, _, err = cli(args_for("content", imgs, tmp_path / "missing.npz"), capsys)
    assert rc == 1 and "weights" in err and len(err.strip().splitlines()) == 1
    rc, _, err = cli([], capsys)
    assert rc == 2


def test_cells_use_the_stylize_objective(imgs, tiny_weights, capsys):
    """A content cell's recorded loss is StyleTransfer's content loss at the written image (up to 8-bit rounding)."""
    from minivgg.app.pictures import load_image
    from minivgg.image import preprocess
    from minivgg.vgg import VGG19

    assert cli(args_for("content", imgs, tiny_weights, "--layers", "conv2_1", "--quiet", iterations=20), capsys)[0] == 0
    cell = record(imgs, "content")["cells"][0]
    net = VGG19.load(tiny_weights)
    st = StyleTransfer(net, preprocess(load_image(imgs["content"], size=32)), None, content_layers=("conv2_1",),
                       alpha=1.0, beta=0.0)
    x = preprocess(load_image(Path(imgs["out"]) / cell["file"]))
    noise = st.losses(np.zeros_like(x) + np.random.default_rng(0).normal(0, 20, x.shape).astype(x.dtype))
    assert st.losses(x)["content"] < 0.5 * noise["content"]
    assert cell["losses"]["content"] < 0.5 * noise["content"]


@pytest.mark.realweights
def test_real_weights_content_cell(real_weights, tmp_path, capsys):
    content = SHARED / "tubingen.jpg"
    if not content.exists():
        pytest.skip(f"needs {content}")
    rc, _, err = cli(["content", "--content", str(content), "--output-dir", str(tmp_path / "o"), "--size", "32",
                      "--iterations", "10", "--layers", "conv1_1", "--weights", str(real_weights), "--quiet"], capsys)
    assert rc == 0, err
    cell = json.loads((tmp_path / "o" / "content.json").read_text())["cells"][0]
    assert cell["losses"]["content"] > 0 and cell["iterations_run"] == 10


def test_output_dir_created_and_said_once(imgs, tiny_weights, capsys):
    rc, out, err = cli(args_for("content", imgs, tiny_weights, "--layers", "conv1_1", "conv2_1"), capsys)
    assert rc == 0, err
    assert [line for line in out.splitlines() if "created folder" in line] == [f"created folder {imgs['out']}/"]
    rc, out, _ = cli(args_for("content", imgs, tiny_weights, "--layers", "conv1_1", "conv2_1"), capsys)
    assert rc == 0 and "created folder" not in out


def test_sigterm_exits_143_and_leaves_only_finished_cells(imgs, tiny_weights):
    """What timeout, docker stop and job schedulers send: the same clean stop as Ctrl-C, exit 143."""
    import signal

    rc, err = interrupt_when([sys.executable, "-m", "minivgg.reconstruct",
                              *args_for("content", imgs, tiny_weights, "--layers", *LAYERS, "--print-every", "1",
                                        iterations=100000)],
                             lambda line: "[cell 1/3] iter" in line, sig=signal.SIGTERM,
                             cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert rc == 143, err
    assert "Traceback" not in err and "terminated in cell 1/3" in err and "0 of 3 cells" in err
    assert sorted(p.name for p in Path(imgs["out"]).iterdir()) == ["content.json", "content_sheet.png"]


def test_interrupt_before_a_cells_first_iteration(imgs, tiny_weights, capsys, monkeypatch):
    import signal

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(StyleTransfer, "run", interrupted)
    monkeypatch.setattr(signal, "signal", lambda *a: None)      # the handler stays pytest's
    rc, _, err = cli(args_for("content", imgs, tiny_weights, "--layers", "conv1_1", "--quiet"), capsys)
    assert rc == 130 and len(err.splitlines()) == 1
    assert "interrupted in cell 1/1 (conv1_1) before its first iteration finished: 0 of 1 cells" in err
