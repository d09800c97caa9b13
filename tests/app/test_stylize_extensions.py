"""The issue-7 extensions end to end, on tiny images with tiny random weights: --preserve-color,
--scales/--levels, --style-scale, --content-mask, --plot, and the matching stylize_files() keywords."""

import json
import sys

import numpy as np
import pytest
from helpers import call_cli
from PIL import Image

from minivgg.app.color import rgb_to_yiq
from minivgg.app.pictures import load_image, long_side_shape, resize_image
from minivgg.app.pipeline import style_long_side, stylize_files, stylize_images
from minivgg.stylize import PROG, main
from minivgg.vgg import VGG19
from minivgg.weights import load_weights

SMALL = ["--content-layers", "conv2_1", "--style-layers", "conv1_1", "conv2_1", "conv3_1"]


@pytest.fixture
def imgs(tmp_path):
    rng = np.random.default_rng(0)
    content = np.clip(rng.normal(128, 30, (24, 32, 3)), 60, 200).astype(np.uint8)   # in gamut after recolouring
    paths = {"content": tmp_path / "content.png", "style": tmp_path / "style.png", "style2": tmp_path / "style2.png",
             "mask": tmp_path / "mask.png", "mask2": tmp_path / "mask2.png"}
    Image.fromarray(content).save(paths["content"])
    Image.fromarray(rng.integers(0, 256, (30, 20, 3), dtype=np.uint8)).save(paths["style"])
    Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(paths["style2"])
    m = np.zeros((12, 16), dtype=np.uint8)
    m[:, :8] = 255                                      # a half-size mask: resized to the output
    Image.fromarray(m).save(paths["mask"])
    Image.fromarray(255 - m).save(paths["mask2"])
    paths["out"] = tmp_path / "out.png"
    return {k: str(v) for k, v in paths.items()}


def args_for(imgs, tiny_weights, *extra, iterations="3", size="32"):
    argv = ["--content", imgs["content"], "--style", imgs["style"], "--output", imgs["out"],
            "--iterations", iterations, "--weights", str(tiny_weights), "--quiet", *SMALL, *extra]
    return argv + (["--size", size] if size else [])


def cli(argv, capsys):
    return call_cli(main, argv, capsys, prog=PROG)


def test_preserve_color_luminance_keeps_content_chroma(imgs, tiny_weights, capsys):
    rc, _, err = cli(args_for(imgs, tiny_weights, "--preserve-color", "luminance"), capsys)
    assert rc == 0, err
    out = np.asarray(Image.open(imgs["out"]))
    content = load_image(imgs["content"], size=32)
    assert out.shape == content.shape
    # The output's I and Q are the content's, up to uint8 rounding (and clipping where out of gamut).
    diff = np.abs(rgb_to_yiq(out)[..., 1:] - rgb_to_yiq(content)[..., 1:])
    assert np.median(diff) < 0.6 and np.mean(diff < 1.0) > 0.9


def test_preserve_color_histogram(imgs, tiny_weights, capsys):
    rc, _, err = cli(args_for(imgs, tiny_weights, "--preserve-color", "histogram"), capsys)
    assert rc == 0, err
    with Image.open(imgs["out"]) as im:
        assert im.size == (32, 24)


def test_scales_levels_log_and_schedule(imgs, tiny_weights, tmp_path, capsys):
    log = tmp_path / "ms.jsonl"
    rc, out, err = cli(args_for(imgs, tiny_weights, "--scales", "16,32", "--log", str(log), iterations="4",
                                size=None), capsys)
    assert rc == 0, err
    with Image.open(imgs["out"]) as im:
        assert im.size == (32, 24)
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert lines[0]["config"]["scales"] == [16, 32] and lines[0]["config"]["iterations_per_scale"] == [4, 4]
    rows = lines[1:]
    assert {r["size"] for r in rows} == {16, 32}
    assert [r["iter"] for r in rows] == list(range(1, len(rows) + 1))
    assert sum(r["size"] == 16 for r in rows) <= 4 and sum(r["size"] == 32 for r in rows) <= 4
    # --levels: 32 halved once; one count per scale.
    rc, _, err = cli(args_for(imgs, tiny_weights, "--levels", "2", "--log", str(log), "--scale-iterations", "3,2"),
                     capsys)
    assert rc == 0, err
    rows = [json.loads(x) for x in log.read_text().splitlines()][1:]
    assert [r["size"] for r in rows][-1] == 32 and sum(r["size"] == 32 for r in rows) <= 2


def test_style_scale(imgs, tiny_weights, tmp_path, capsys):
    log = tmp_path / "ss.jsonl"
    rc, _, err = cli(args_for(imgs, tiny_weights, "--style-scale", "1.5", "--log", str(log)), capsys)
    assert rc == 0, err
    cfg = json.loads(log.read_text().splitlines()[0])["config"]
    assert cfg["style_scale"] == 1.5 and max(cfg["style_shapes"][0]) == 48
    assert style_long_side(32, 32, style_scale=1.5) == 48 and style_long_side(16, 32, style_scale=0.5) == 8
    assert style_long_side(16, 32, style_size=40) == 20 and style_long_side(16, 32) == 16


def test_content_masks(imgs, tiny_weights, capsys):
    rc, _, err = cli(args_for(imgs, tiny_weights, "--style", imgs["style"], imgs["style2"],
                              "--content-mask", imgs["mask"], imgs["mask2"]), capsys)
    assert rc == 0, err
    with Image.open(imgs["out"]) as im:
        assert im.size == (32, 24)


def test_plot(imgs, tiny_weights, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "loss.png"
    rc, _, err = cli(args_for(imgs, tiny_weights, "--plot", str(plot), "--levels", "2"), capsys)
    assert rc == 0, err
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_plot_without_matplotlib_fails_before_the_run(imgs, tiny_weights, tmp_path, capsys, monkeypatch):
    for name in ("matplotlib", "matplotlib.pyplot"):
        monkeypatch.setitem(sys.modules, name, None)
    rc, _, err = cli(args_for(imgs, tiny_weights, "--plot", str(tmp_path / "p.png")), capsys)
    assert rc == 1 and "pip install 'minivgg[plot]'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("changes, code, message", [
    (["--scales", "16,x"], 2, "--scales"),
    (["--scales", "16,16"], 2, "twice"),
    (["--scales", "16,32", "--levels", "2"], 2, "not both"),
    (["--scales", "16,64"], 2, "differs from the largest"),          # --size 32 given too
    (["--levels", "3"], 2, "too small for layer conv3_1"),             # 8 px < the 4 px... at the 8 px scale
    (["--scale-iterations", "3,2"], 2, "2 counts for 1 scales"),
    (["--iterations", "3,2"], 2, "positive integer"),
    (["--style-scale", "0"], 2, "> 0"),
    (["--style-scale", "-1"], 2, "> 0"),
    (["--style-scale", "nan"], 2, "> 0"),
    (["--content-mask", "BLACK"], 2, "content mask 1 is black everywhere"),
    (["--preserve-color", "rgb"], 2, "invalid choice"),
    (["--content-mask", "MASK", "MASK"], 2, "--content-mask: got 2 for 1 style"),
    (["--content-mask", "NOPE"], 1, "no such file"),
    (["--plot", "loss.jpg"], 2, ".png"),
])
def test_bad_extension_flags(imgs, tiny_weights, tmp_path, capsys, changes, code, message):
    Image.fromarray(np.zeros((12, 16), dtype=np.uint8)).save(tmp_path / "black.png")
    named = {"MASK": imgs["mask"], "NOPE": str(tmp_path / "nope.png"), "BLACK": str(tmp_path / "black.png")}
    changes = [named.get(c, c) for c in changes]
    argv = args_for(imgs, tiny_weights, *changes)
    if "--levels" in changes and "--scales" not in changes:
        argv = args_for(imgs, tiny_weights, *changes, size="12")
    rc, _, err = cli(argv, capsys)
    assert rc == code, (changes, err)
    assert message in err, (changes, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_python_api_keywords(imgs, tiny_weights, tmp_path):
    pytest.importorskip("matplotlib")
    net = VGG19(load_weights(tiny_weights, dtype="float32")[0])
    kw = dict(net=net, iterations=2, content_layers=("conv2_1",), style_layers=("conv1_1", "conv2_1"))
    seen = []
    out = stylize_files(imgs["content"], [imgs["style"], imgs["style2"]], scales=(16, 32), preserve_color="luminance",
                  style_scale=0.75, content_masks=[imgs["mask"], imgs["mask2"]], plot=tmp_path / "api.png",
                  callback=lambda it, x, parts: seen.append(parts["size"]), **kw)
    assert out.shape == (24, 32, 3) and out.dtype == np.uint8
    assert set(seen) == {16, 32} and (tmp_path / "api.png").exists()
    # stylize_images works on arrays; a single scale with no extension is the plain objective's run.
    content = load_image(imgs["content"])
    a = stylize_images(net, content, [load_image(imgs["style"])], sizes=(32,), iterations=2, seed=3,
                       content_layers=("conv2_1",), style_layers=("conv1_1",))
    b = stylize_files(imgs["content"], imgs["style"], size=32, iterations=2, seed=3, net=net,
                      content_layers=("conv2_1",), style_layers=("conv1_1",), preset="paper")
    assert a.shape == resize_image(content, shape=long_side_shape(24, 32, 32)).shape
    np.testing.assert_array_equal(a, b)
