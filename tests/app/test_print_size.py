"""Print sizes: --tile and --max-memory on the command line, the per-level memory plan (plan_levels), the
memory sizes argparse reads, and a tiled run that follows the untiled one."""

import argparse
import json

import numpy as np
import pytest
from helpers import call_cli, random_pictures
from PIL import Image

from minivgg.app.cli import grid_multiple, memory_size
from minivgg.app.estimate import step_flop
from minivgg.app.pipeline import plan_levels, stylize_files
from minivgg.errors import UsageError
from minivgg.machine import memory
from minivgg.objective import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS
from minivgg.stylize import PROG, main
from minivgg.tiling import fitted_tile

GB = 2**30


def test_memory_size_reads_binary_units():
    assert memory_size("4G") == 4 * GB and memory_size("1.5G") == int(1.5 * GB) and memory_size("500M") == 500 * 2**20
    assert memory_size("4GB") == memory_size("4GiB") == memory_size("4 g") == 4 * GB and memory_size("123") == 123
    for bad in ("", "G", "-1G", "0", "1.5X", "4iB", "lots"):
        with pytest.raises(argparse.ArgumentTypeError):
            memory_size(bad)
    assert grid_multiple(16)("512") == 512
    with pytest.raises(argparse.ArgumentTypeError, match="multiple of 16 .* 496 or 512"):
        grid_multiple(16)("500")


def _plan(sizes, **kw):
    content = np.zeros((1536, 2048, 3), np.uint8)          # only the shapes matter: no network work
    return plan_levels(content, [content], sizes, DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, 1.0, 1e3, **kw)


def test_levels_tile_only_where_the_budget_needs_it():
    levels = _plan((512, 1024, 2048), max_memory=6 * GB)
    assert [lv.hw for lv in levels] == [(384, 512), (768, 1024), (1536, 2048)]
    assert levels[0].tile is None and levels[1].tile is None
    t = levels[2].tile
    assert t is not None and t % 16 == 0 and levels[2].peak_bytes <= 6 * GB
    # the largest that fits: every larger tile that cuts the image otherwise does not
    for u in range(t + 16, 2048, 16):
        if fitted_tile((1536, 2048), u, ("conv5_1",)) > t:
            assert memory.tiled_bytes((1536, 2048), "conv5_1", u, content_layers=DEFAULT_CONTENT_LAYERS) > 6 * GB
        else:
            assert fitted_tile((1536, 2048), u, ("conv5_1",)) == t      # the same tiles, named by their size
    assert all(lv.peak_bytes <= 6 * GB for lv in levels)
    untiled = _plan((2048,), max_memory=64 * GB)[0]
    assert untiled.tile is None and untiled.peak_bytes == memory.step_bytes((1536, 2048), "conv5_1")


def test_a_style_of_another_shape_gets_a_tile_on_the_grid():
    content = np.zeros((300, 400, 3), np.uint8)
    portrait = np.zeros((448, 352, 3), np.uint8)            # 1024 px long side: 805 px wide
    levels = plan_levels(content, [portrait], (512, 1024, 2048), DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS,
                         1.0, 1e3, max_memory=4 * GB, optimizer="adam")
    for lv in levels:
        assert lv.tile is None or lv.tile % 16 == 0
    assert levels[-1].tile is not None


def test_a_given_tile_is_used_and_checked():
    levels = _plan((512, 2048), tile=512, max_memory=64 * GB)
    assert [lv.tile for lv in levels] == [512, 512]         # 512 px fits one tile: evaluated untiled
    assert levels[0].peak_bytes == memory.step_bytes((384, 512), "conv5_1")
    with pytest.raises(UsageError, match="in tiles of 1024 px, but 2.0 GB is allowed .* a smaller --tile"):
        _plan((2048,), tile=1024, max_memory=2 * GB)


def test_refused_only_when_even_the_smallest_tile_does_not_fit():
    with pytest.raises(UsageError) as e:
        _plan((2048,), max_memory=2 * GB)
    msg = str(e.value)
    assert msg.startswith("the output at 2048x1536 px needs about") and "in tiles of 16 px" in msg
    assert "2.0 GB is allowed (--max-memory)" in msg and "--optimizer lbfgs-xp or adam" in msg
    # lbfgs-xp keeps float32 arrays on the device: a budget that refuses L-BFGS-B fits it in tiles.
    with pytest.raises(UsageError):
        _plan((2048,), max_memory=int(2.5 * GB), optimizer="lbfgs")
    assert _plan((2048,), max_memory=int(2.5 * GB), optimizer="lbfgs-xp")[0].tile is not None
    assert _plan((2048,), max_memory=2 * GB, optimizer="adam")[0].tile is not None
    # the GPU holds no L-BFGS vectors (SciPy's live on the host)
    assert _plan((2048,), max_memory=2 * GB, device="gpu")[0].tile is not None


def test_tiled_bytes_counts_the_window_and_the_whole_image():
    hw = (1536, 2048)
    small, large = (memory.tiled_bytes(hw, "conv5_1", t) for t in (256, 512))
    whole = memory.whole_image_bytes(hw)
    assert memory.STEP_FIXED_BYTES + whole < small < large < memory.step_bytes(hw, "conv5_1")
    assert whole - memory.whole_image_bytes(hw, device="gpu") == memory.LBFGS_FLOATS_PER_ELEMENT * 3 * 1536 * 2048 * 8
    assert memory.tiled_bytes(hw, "conv5_1", 4096) == memory.step_bytes(hw, "conv5_1")   # one tile: untiled


def test_budget_is_max_memory_or_what_is_free(monkeypatch):
    assert memory.memory_budget(3 * GB) == (3 * GB, 0)
    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": 5 * GB)
    monkeypatch.setattr(memory, "resident_bytes", lambda: 100 * 2**20)
    assert memory.memory_budget() == (5 * GB, 100 * 2**20)           # resident already: not counted twice
    assert memory.memory_budget(device="gpu") == (5 * GB, 0)


def test_step_flop_of_tiles():
    hw = (1536, 2048)
    assert step_flop(hw, "conv5_1", None) == step_flop(hw, "conv5_1")
    ratio = step_flop(hw, "conv5_1", 512) / step_flop(hw, "conv5_1")
    assert 1.5 < ratio < 2.5                                # halo and the second forward


# ---------------------------------------------------------------------------------------------
@pytest.fixture
def imgs(tmp_path):
    return random_pictures(tmp_path, content=(48, 64), style=(40, 50))


def _args(imgs, tiny_weights, out, *extra):
    return ["--content", imgs["content"], "--style", imgs["style"], "--output", str(out), "--size", "64",
            "--iterations", "3", "--weights", str(tiny_weights), "--init", "noise", *extra]


def test_cli_tiled_run_follows_the_untiled_one(imgs, tiny_weights, tmp_path, capsys):
    logs = {}
    for label, extra in (("untiled", ()), ("tiled", ("--tile", "32"))):
        log = tmp_path / f"{label}.jsonl"
        rc, out, err = call_cli(main, _args(imgs, tiny_weights, tmp_path / f"{label}.png", "--log", str(log),
                                            *extra), capsys, prog=PROG)
        assert rc == 0, err
        logs[label] = [json.loads(line) for line in log.read_text().splitlines()]
        if label == "tiled":
            assert "  level 1/1: 64x48 px, 3 iterations, 4 tiles of 32 px (" in out
            assert logs[label][0]["config"]["tile"] == 32
    first = [logs[k][1] for k in ("untiled", "tiled")]
    for key in ("loss", "content", "style", "tv"):
        assert first[1][key] == pytest.approx(first[0][key], rel=1e-4)     # float32: rounding only
    a, b = (np.asarray(Image.open(tmp_path / f"{k}.png"), float) for k in ("untiled", "tiled"))
    assert np.abs(a - b).mean() < 1.0


def test_cli_levels_print_one_line_each(imgs, tiny_weights, tmp_path, capsys):
    rc, out, err = call_cli(main, _args(imgs, tiny_weights, tmp_path / "o.png", "--levels", "2", "--tile", "32"),
                            capsys, prog=PROG)
    assert rc == 0, err
    lines = [line for line in out.splitlines() if line.startswith("  level ")]
    assert lines[0].startswith("  level 1/2: 32x24 px, 3 iterations, untiled: about ")
    assert lines[1].startswith("  level 2/2: 64x48 px, 3 iterations, 4 tiles of 32 px")


def test_cli_refuses_a_budget_nothing_fits_in_one_line(imgs, tiny_weights, tmp_path, capsys):
    out = tmp_path / "o.png"
    rc, _, err = call_cli(main, _args(imgs, tiny_weights, out, "--max-memory", "100M"), capsys, prog=PROG)
    assert rc == 2 and "is allowed (--max-memory)" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    rc, _, err = call_cli(main, _args(imgs, tiny_weights, out, "--tile", "20"), capsys, prog=PROG)
    assert rc == 2 and "multiple of 16" in err


def test_stylize_files_tiles(imgs, tiny_weights):
    kw = dict(size=64, iterations=2, weights=tiny_weights, init="noise")
    a = stylize_files(imgs["content"], imgs["style"], **kw)
    b = stylize_files(imgs["content"], imgs["style"], tile=32, **kw)
    assert a.shape == b.shape == (48, 64, 3) and np.abs(a.astype(float) - b).mean() < 1.0
