"""Presets (``--preset``, ``stylize_files(preset=)``) and the grain measure that chose the default one."""

import json

import numpy as np
import pytest
from helpers import call_cli

from minivgg.app.presets import DEFAULT_PRESET, PRESET_KEYS, PRESETS, grain, relative_grain, resolve
from minivgg.errors import UsageError
from minivgg.stylize import PROG, main


def run(imgs, tiny_weights, tmp_path, name, *extra, capsys):
    out = tmp_path / name
    log = tmp_path / (name + ".jsonl")
    rc, _, err = call_cli(main, ["--content", imgs["content"], "--style", imgs["style"], "--output", str(out),
                                 "--size", "32", "--weights", str(tiny_weights), "--quiet", "--log", str(log),
                                 *extra], capsys, prog=PROG)
    assert rc == 0, err
    return out.read_bytes(), json.loads(log.read_text().splitlines()[0])["config"]


PAPER_FLAGS = ["--init", "noise", "--seed", "0", "--content-weight", "1", "--style-weight", "1e3", "--tv-weight", "0",
               "--pooling", "avg", "--optimizer", "lbfgs", "--content-layers", "conv4_2", "--style-layers",
               "conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]


def test_the_paper_preset_is_the_paper():
    p = PRESETS["paper"]
    assert (p["init"], p["seed"], p["content_weight"], p["style_weight"], p["tv_weight"], p["pooling"],
            p["optimizer"]) == ("noise", 0, 1.0, 1e3, 0.0, "avg", "lbfgs")
    assert p["content_layers"] == ("conv4_2",)
    assert p["style_layers"] == ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
    assert set(PRESET_KEYS) == set(p) == set(PRESETS["clean"])


def test_resolve_fills_only_what_is_missing():
    assert DEFAULT_PRESET == "clean"
    assert resolve() == PRESETS["clean"]
    s = resolve("paper", {"tv_weight": 5.0, "init": None})
    assert s["tv_weight"] == 5.0 and s["init"] == "noise"
    with pytest.raises(UsageError, match="unknown preset 'fancy'"):
        resolve("fancy")


def test_preset_paper_gives_the_same_bytes_as_its_flags(imgs, tiny_weights, tmp_path, capsys):
    a, cfg_a = run(imgs, tiny_weights, tmp_path, "a.png", "--preset", "paper", "--iterations", "3", capsys=capsys)
    b, _ = run(imgs, tiny_weights, tmp_path, "b.png", *PAPER_FLAGS, "--iterations", "3", capsys=capsys)
    assert a == b
    assert cfg_a["preset"] == "paper" and cfg_a["init"] == "noise" and cfg_a["tv_weight"] == 0.0


def test_the_default_is_the_clean_preset_and_differs_from_the_paper(imgs, tiny_weights, tmp_path, capsys):
    default, cfg = run(imgs, tiny_weights, tmp_path, "d.png", "--iterations", "3", capsys=capsys)
    clean, _ = run(imgs, tiny_weights, tmp_path, "c.png", "--preset", "clean", "--iterations", "3", capsys=capsys)
    paper, _ = run(imgs, tiny_weights, tmp_path, "p.png", "--preset", "paper", "--iterations", "3", capsys=capsys)
    assert default == clean != paper
    assert (cfg["preset"], cfg["init"], cfg["tv_weight"]) == ("clean", "content", PRESETS["clean"]["tv_weight"])


def test_explicit_flags_override_the_preset(imgs, tiny_weights, tmp_path, capsys):
    _, cfg = run(imgs, tiny_weights, tmp_path, "o.png", "--preset", "paper", "--tv-weight", "3", "--iterations", "2",
                 "--style-layers", "conv1_1", capsys=capsys)
    assert cfg["tv_weight"] == 3.0 and cfg["iterations"] == 2 and cfg["style_layers"] == ["conv1_1"]
    assert cfg["init"] == "noise"                         # the rest is still the paper's
    _, cfg = run(imgs, tiny_weights, tmp_path, "o2.png", "--init", "noise", "--iterations", "2", capsys=capsys)
    assert cfg["init"] == "noise" and cfg["tv_weight"] == PRESETS["clean"]["tv_weight"]


def test_the_python_api_takes_the_same_presets(imgs, tiny_weights):
    from minivgg.app.pipeline import stylize_files
    from minivgg.vgg import VGG19

    net = VGG19.load(tiny_weights)
    kw = dict(size=32, iterations=2, net=net)
    default = stylize_files(imgs["content"], imgs["style"], **kw)
    clean = stylize_files(imgs["content"], imgs["style"], preset="clean", **kw)
    spelled = stylize_files(imgs["content"], imgs["style"], init="content", tv_weight=PRESETS["clean"]["tv_weight"],
                      preset="paper", **kw)
    paper = stylize_files(imgs["content"], imgs["style"], preset="paper", **kw)
    np.testing.assert_array_equal(default, clean)
    np.testing.assert_array_equal(clean, spelled)
    assert not np.array_equal(clean, paper)
    with pytest.raises(UsageError):
        stylize_files(imgs["content"], imgs["style"], preset="nope", **kw)


def test_help_lists_the_presets(capsys):
    rc, out, _ = call_cli(main, ["--help"], capsys, prog=PROG)
    assert rc == 0 and "--preset {clean,paper}" in out and "the paper exactly" in " ".join(out.split())


def _grain_by_loops(rgb):
    """The definition, one neighbour pair at a time (the oracle for grain())."""
    a = rgb.astype(float)
    diffs = []
    H, W, C = a.shape
    for i in range(H):
        for j in range(W):
            for c in range(C):
                if j + 1 < W:
                    diffs.append(abs(a[i, j + 1, c] - a[i, j, c]))
                if i + 1 < H:
                    diffs.append(abs(a[i + 1, j, c] - a[i, j, c]))
    return sum(diffs) / len(diffs)


def test_grain_is_the_mean_neighbour_difference():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
    assert grain(rgb) == pytest.approx(_grain_by_loops(rgb))
    assert grain(np.full((5, 5, 3), 77, np.uint8)) == 0.0
    stripes = np.zeros((4, 6, 3), np.uint8)
    stripes[:, 1::2] = 10                                  # 10 across every horizontal pair, 0 vertically
    assert grain(stripes) == pytest.approx(10 * (4 * 5) / (4 * 5 + 3 * 6))
    assert relative_grain(stripes, stripes, np.zeros_like(stripes)) == pytest.approx(1.0)
    assert relative_grain(stripes, stripes // 2, stripes // 5) == pytest.approx(2.0)
