"""Will a size fit? The memory estimate and the one-line refusals built on it (minivgg.machine.memory)."""

import pytest
from helpers import call_cli

from minivgg.errors import UsageError
from minivgg.machine import memory
from minivgg.machine.cost import layer_costs
from minivgg.machine.memory import STEP_ACTIVATION_FACTOR, STEP_FIXED_BYTES, available_bytes, check_fits, step_bytes

GB = 2**30


def test_step_bytes_is_the_fitted_line_over_the_activations():
    act = sum(r.act_bytes for r in layer_costs((384, 512), "conv5_1"))
    assert act == 240 * 2**20                      # 320 MB at 512 x 512, three quarters of it
    assert step_bytes((384, 512), "conv5_1") == int(STEP_FIXED_BYTES + STEP_ACTIVATION_FACTOR * act)
    # within 5 % of the measured peaks the constants were fitted to (0.83, 1.51, 4.10 GB)
    for hw, measured in (((192, 256), 0.83), ((384, 512), 1.51), ((768, 1024), 4.10)):
        assert step_bytes(hw, "conv5_1") / GB == pytest.approx(measured, rel=0.05)
    assert step_bytes((384, 512), "conv5_1", backward=False) < step_bytes((384, 512), "conv5_1")
    assert step_bytes((384, 512), "conv1_1") < step_bytes((384, 512), "conv5_1")
    assert step_bytes((384, 512), "conv5_1", itemsize=8) > step_bytes((384, 512), "conv5_1")


def test_check_fits_refuses_with_a_size_that_would_fit():
    check_fits([("the output", (384, 512), True)], "conv5_1", available=2 * GB)
    with pytest.raises(UsageError) as e:
        check_fits([("the output", (3072, 4096), True)], "conv5_1", available=2 * GB)
    msg = str(e.value)
    assert msg.startswith("the output at 4096x3072 px needs about") and "2.0 GB is available" in msg
    fit = int(msg.split("about ")[-1].split(" px")[0])
    assert step_bytes((fit * 3 // 4, fit), "conv5_1") <= 2 * GB < step_bytes(((fit + 8) * 3 // 4, fit + 8), "conv5_1")
    with pytest.raises(UsageError, match="close other programs"):
        check_fits([("the output", (384, 512), True)], "conv5_1", available=STEP_FIXED_BYTES // 2)


def test_unknown_available_memory_checks_nothing(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": None)
    check_fits([("the output", (10**6, 10**6), True)], "conv5_1")


def test_available_bytes_on_this_machine():
    free = available_bytes()
    assert free is None or free > 0


@pytest.fixture
def imgs(tmp_path):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = {k: tmp_path / f"{k}.png" for k in ("content", "style")}
    for p in paths.values():
        Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(p)
    return {k: str(v) for k, v in paths.items()}


@pytest.mark.parametrize("extra, what", [
    (["--size", "100000"], "the output at 100000x75000 px"),
    (["--size", "32", "--style-scale", "3000"], "the style image, resized for its Gram targets, at 96000x72000 px"),
    (["--size", "100000", "--levels", "3"], "the output at 100000x75000 px"),
])
def test_stylize_refuses_a_size_too_big_for_memory_before_any_work(imgs, tiny_weights, tmp_path, capsys,
                                                                    monkeypatch, extra, what):
    from minivgg.stylize import PROG, main

    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": 8 * GB)
    out = tmp_path / "out.png"
    rc, _, err = call_cli(main, ["--content", imgs["content"], "--style", imgs["style"], "--output", str(out),
                                 "--weights", str(tiny_weights), "--quiet", *extra], capsys, prog=PROG)
    assert rc == 2 and what in err and "8.0 GB is available" in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_reconstruct_refuses_a_size_too_big_for_memory(imgs, tiny_weights, tmp_path, capsys, monkeypatch):
    from minivgg.reconstruct import main

    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": 8 * GB)
    rc, _, err = call_cli(main, ["content", "--content", imgs["content"], "--output-dir", str(tmp_path / "o"),
                                 "--weights", str(tiny_weights), "--size", "100000", "--quiet"], capsys,
                          prog="python -m minivgg.reconstruct")
    assert rc == 2 and "the content image at 100000x75000 px needs about" in err, err
    assert not (tmp_path / "o").exists()


def test_what_is_resident_already_is_not_counted_twice(monkeypatch):
    assert memory.resident_bytes() > 0
    need = step_bytes((384, 512), "conv5_1")
    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": need - 100 * 2**20)
    monkeypatch.setattr(memory, "resident_bytes", lambda: 200 * 2**20)
    check_fits([("the output", (384, 512), True)], "conv5_1")          # 200 MB of it is here already
    monkeypatch.setattr(memory, "resident_bytes", lambda: 50 * 2**20)
    with pytest.raises(UsageError):
        check_fits([("the output", (384, 512), True)], "conv5_1")


# CuPy's pool at its peak in use, one evaluation (targets, then loss and gradient) of the default
# objective on an H200 (bench/gpu_memory.py eval, real weights, 2026-11-30): (H, W), tile, bytes.
H200_POOL_PEAKS = [((384, 512), None, 1641315328), ((768, 1024), None, 3980090368), ((1536, 2048), None, 11067550720),
                   ((1536, 2048), 1024, 6049135616), ((1536, 2048), 512, 2987402240),
                   ((3072, 4096), 1024, 6437219840), ((3072, 4096), 512, 3742376960)]


@pytest.mark.parametrize("hw, tile, used", H200_POOL_PEAKS)
def test_the_gpu_model_covers_what_the_pool_used_on_an_h200(hw, tile, used):
    from minivgg.machine.memory import DEVICE_CONTEXT_BYTES, tiled_bytes

    model = tiled_bytes(hw, "conv5_1", tile, device="gpu", optimizer=None, content_layers=("conv4_2",))
    assert used + DEVICE_CONTEXT_BYTES <= model <= 2.2 * (used + DEVICE_CONTEXT_BYTES)
    # the CPU's model, fitted to resident memory, would have planned less than the GPU used
    if tile is not None:
        assert tiled_bytes(hw, "conv5_1", tile, optimizer=None, content_layers=("conv4_2",)) < used
