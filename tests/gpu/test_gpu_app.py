"""The application on the device: stylize_images, both command lines, the benchmark, the API's edges
(device masks, device pictures), the smoke test at backend creation and the GPU memory figure."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from devtools import on_device, params
from helpers import call_cli
from PIL import Image

from minivgg.app.pictures import load_image, save_image
from minivgg.app.pipeline import initial_image, stylize_images
from minivgg.backend import get_backend
from minivgg.errors import UsageError
from minivgg.image import preprocess
from minivgg.machine.memory import available_bytes
from minivgg.vgg import VGG19

ROOT = Path(__file__).resolve().parents[2]
RNG = np.random.default_rng(3)
CONTENT = RNG.integers(0, 256, (24, 32, 3), dtype=np.uint8)
STYLES = [RNG.integers(0, 256, (30, 20, 3), dtype=np.uint8), RNG.integers(0, 256, (16, 16, 3), dtype=np.uint8)]
MASK = np.zeros((24, 32), dtype=np.uint8)
MASK[:, :16] = 255


def assert_pictures_close(got, want, standin: bool):
    """uint8 pictures after a few iterations: float rounding may move a pixel across a .5 boundary."""
    assert got.shape == want.shape and got.dtype == np.uint8
    d = np.abs(got.astype(int) - want.astype(int))
    assert d.max() <= (1 if standin else 3) and d.mean() < 0.05, (d.max(), d.mean())


STYLIZE_CASES = {
    "paper": dict(style_rgbs=STYLES[:1]),
    "two scales, histogram colour": dict(style_rgbs=STYLES[:1], sizes=(24, 32), iterations=(2, 2),
                                         preserve_color="histogram"),
    "luminance, style scale, blend": dict(style_rgbs=STYLES, preserve_color="luminance", style_scale=1.5,
                                          style_blend=(1.0, 2.0)),
    "masks, tv, adam": dict(style_rgbs=STYLES, content_masks=[MASK, 255 - MASK], tv_weight=1.0, optimizer="adam"),
}


@pytest.mark.parametrize("case", list(STYLIZE_CASES))
def test_stylize_images_on_the_device_equals_the_cpu(gpu, case):
    kw = dict(sizes=(32,), iterations=3, init="noise", seed=1, alpha=1.0, beta=1e3)
    kw.update(STYLIZE_CASES[case])
    want = stylize_images(VGG19(params(dtype="float64"), dtype="float64", conv_algo="im2col"), CONTENT, **kw)
    if "content_masks" in kw:
        kw["content_masks"] = [gpu.xp.asarray(m) for m in kw["content_masks"]]      # device masks
    seen = []
    got = stylize_images(VGG19(params(dtype="float64"), device="gpu", dtype="float64", conv_algo="im2col"), CONTENT,
                         callback=lambda it, x, parts: seen.append(on_device(x)), **kw)
    assert isinstance(got, np.ndarray) and seen and all(seen)
    assert_pictures_close(got, want, gpu.standin)


def test_device_pictures_at_the_api_edges(gpu, tmp_path):
    """A CuPy RGB picture is accepted where a picture goes in: preprocess, save_image, initial_image(init=...)."""
    be = get_backend("gpu")
    rgb = gpu.xp.asarray(CONTENT)
    x = preprocess(rgb, backend=be)
    assert on_device(x)
    np.testing.assert_array_equal(x.get(), preprocess(CONTENT))
    save_image(tmp_path / "a.png", rgb)
    np.testing.assert_array_equal(load_image(tmp_path / "a.png"), CONTENT)
    content = preprocess(CONTENT, backend=be)
    x0 = initial_image(gpu.xp.asarray(STYLES[0]), content, backend=be)
    want = initial_image(STYLES[0], preprocess(CONTENT))
    assert on_device(x0)
    np.testing.assert_allclose(x0.get(), want, atol=1e-4)


def test_device_masks_are_accepted(gpu):
    from minivgg.app.masks import mask_to_uint8, resize_mask
    from minivgg.objective import layer_masks, mask_to_float

    m = gpu.xp.asarray(MASK)
    np.testing.assert_array_equal(mask_to_uint8(m), MASK)
    np.testing.assert_array_equal(mask_to_float(m), MASK / 255.0)
    assert resize_mask(m, (12, 16)).shape == (12, 16)
    pooled = layer_masks(gpu.xp.asarray(MASK / 255.0), ["conv2_1"], backend=get_backend("gpu"))
    assert on_device(pooled["conv2_1"]) and pooled["conv2_1"].shape == (1, 12, 16)


# ------------------------------------------------------------------------------------------------
# the command lines, in this process, with --device gpu
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def pictures(tmp_path):
    paths = {"content": tmp_path / "content.png", "style": tmp_path / "style.png", "mask": tmp_path / "mask.png"}
    Image.fromarray(CONTENT).save(paths["content"])
    Image.fromarray(STYLES[0]).save(paths["style"])
    Image.fromarray(MASK).save(paths["mask"])
    return {k: str(v) for k, v in paths.items()}


def test_stylize_cli_on_the_device_equals_the_cpu(gpu, pictures, tiny_weights, tmp_path, capsys):
    """The same optimiser on both (explicitly: the device may default to another L-BFGS)."""
    from minivgg.stylize import PROG, main

    outs = {}
    for device in ("cpu", "gpu"):
        outs[device] = tmp_path / f"{device}.png"
        argv = ["--content", pictures["content"], "--style", pictures["style"], pictures["style"],
                "--content-mask", pictures["mask"], pictures["mask"], "--output", str(outs[device]),
                "--size", "32", "--iterations", "3", "--weights", str(tiny_weights), "--init", "noise",
                "--tv-weight", "1", "--device", device, "--log", str(tmp_path / f"{device}.jsonl"),
                "--save-every", "2", "--optimizer", "lbfgs"]
        rc, out, err = call_cli(main, argv, capsys, prog=PROG)
        assert rc == 0 and err == "", err
    assert (tmp_path / "gpu_0002.png").exists()
    assert_pictures_close(load_image(outs["gpu"]), load_image(outs["cpu"]), gpu.standin)


def test_stylize_cli_with_the_devices_defaults(gpu, pictures, tiny_weights, tmp_path, capsys):
    """Whatever the presets pick on the device (its optimiser among them) runs there."""
    import json

    from minivgg.stylize import PROG, main

    for preset in ("paper", "clean"):
        out, log = tmp_path / f"{preset}.png", tmp_path / f"{preset}.jsonl"
        rc, _, err = call_cli(main, ["--content", pictures["content"], "--style", pictures["style"], "--output",
                                     str(out), "--size", "32", "--iterations", "3", "--weights", str(tiny_weights),
                                     "--device", "gpu", "--preset", preset, "--log", str(log), "--quiet"],
                              capsys, prog=PROG)
        assert rc == 0 and err == "", err
        rows = [json.loads(line) for line in log.read_text().splitlines()]
        assert rows[0]["config"]["device"] == "gpu" and len(rows) == 4 and out.is_file()


def test_reconstruct_cli_on_the_device(gpu, pictures, tiny_weights, tmp_path, capsys):
    import json

    from minivgg.reconstruct import PROG, main

    losses = {}
    for device in ("cpu", "gpu"):
        out = tmp_path / device
        argv = ["grid", "--content", pictures["content"], "--style", pictures["style"], "--output-dir", str(out),
                "--size", "32", "--iterations", "2", "--weights", str(tiny_weights), "--device", device,
                "--layers", "conv1_1", "conv2_1", "--ratios", "1e-3", "--optimizer", "lbfgs", "--quiet"]
        rc, _, err = call_cli(main, argv, capsys, prog=PROG)
        assert rc == 0 and err == "", err
        losses[device] = [c["losses"]["total"] for c in json.loads((out / "grid.json").read_text())["cells"]]
    np.testing.assert_allclose(losses["gpu"], losses["cpu"], rtol=1e-3)


def test_bench_vgg_on_the_device(gpu):
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_vgg.py"), "--device", "gpu", "--sizes", "32",
                        "--algo", "auto", "--layer-algo", "auto", "--repeats", "1", "--random-weights",
                        "--peak-n", "256"],
                       capture_output=True, text=True, timeout=300, env=gpu.env(), cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert "device=gpu" in p.stdout and "failed" not in p.stdout
    unit = [line.split() for line in p.stdout.splitlines() if line.strip().startswith("32 ")]
    assert [u[1] for u in unit if len(u) == 7] == ["auto"] and float(unit[0][3]) > 0      # the unit's row
    assert "s for 1 iteration" in p.stdout                                                  # the L-BFGS step


# ------------------------------------------------------------------------------------------------
# install: the smoke test, the memory figure
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("broken", ["matmul", "elementwise"])
def test_a_cupy_that_cannot_compute_is_one_line_naming_the_fix(monkeypatch, broken, tiny_weights, pictures,
                                                               tmp_path, capsys):
    from fakecupy import make_standin

    from minivgg.stylize import PROG, main

    monkeypatch.setitem(sys.modules, "cupy", make_standin(broken=broken))
    with pytest.raises(UsageError, match=r"cannot compute on them .*cupy-cuda12x\[ctk\]") as info:
        get_backend("gpu")
    assert "\n" not in str(info.value)
    rc, _, err = call_cli(main, ["--content", pictures["content"], "--style", pictures["style"], "--output",
                                 str(tmp_path / "o.png"), "--size", "32", "--weights", str(tiny_weights),
                                 "--device", "gpu"], capsys, prog=PROG)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "cupy-cuda12x[ctk]" in err
    assert not (tmp_path / "o.png").exists()


def test_gpu_free_memory_counts_the_pools_free_blocks(monkeypatch):
    from fakecupy import make_standin

    mod = make_standin(free_bytes=3 << 30, pool_free_bytes=1 << 30)
    monkeypatch.setitem(sys.modules, "cupy", mod)
    assert available_bytes("gpu") == 4 << 30
    mod.pool.free_all_blocks()
    assert available_bytes("gpu") == 3 << 30


def test_max_memory_holds_cupys_pool(gpu, pictures, tiny_weights, tmp_path, capsys):
    """Without a limit CuPy's pool keeps every freed block and grows past the plan (13.2 GB held for a
    6.4 GB plan on an H200); --max-memory limits it to the budget less CUDA's own share."""
    from minivgg.machine.memory import DEVICE_CONTEXT_BYTES
    from minivgg.stylize import PROG, main

    pool = gpu.xp.get_default_memory_pool()
    before = pool.get_limit()
    try:
        rc, _, err = call_cli(main, ["--content", pictures["content"], "--style", pictures["style"], "--output",
                                     str(tmp_path / "o.png"), "--size", "32", "--iterations", "2", "--weights",
                                     str(tiny_weights), "--device", "gpu", "--max-memory", "1G", "--quiet"],
                              capsys, prog=PROG)
        assert rc == 0, err
        assert pool.get_limit() == (1 << 30) - DEVICE_CONTEXT_BYTES
    finally:
        pool.set_limit(size=before)


def test_stylize_files_max_memory_holds_cupys_pool(gpu, pictures, tiny_weights):
    from minivgg.app.pipeline import stylize_files
    from minivgg.machine.memory import DEVICE_CONTEXT_BYTES

    pool = gpu.xp.get_default_memory_pool()
    before = pool.get_limit()
    try:
        rgb = stylize_files(pictures["content"], [pictures["style"]], size=32, iterations=1, weights=tiny_weights,
                            device="gpu", max_memory=3 << 29)
        assert rgb.shape[2] == 3 and pool.get_limit() == (3 << 29) - DEVICE_CONTEXT_BYTES
    finally:
        pool.set_limit(size=before)
