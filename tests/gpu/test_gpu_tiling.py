"""The tiled evaluation (minivgg.tiling) on the device: the untiled CPU numbers, one sync per evaluation
whatever the number of tiles, and --max-memory / the free GPU memory choosing the tiles."""

import sys

import numpy as np
import pytest
from devtools import assert_close, on_device, params
from fakecupy import make_standin

from minivgg.objective import StyleTransfer
from minivgg.tiling import tiles
from minivgg.vgg import VGG19

RNG = np.random.default_rng(11)
H, W = 72, 56
CONTENT, STYLE, STYLE2, X = (RNG.uniform(-100, 100, (3, H, W)) for _ in range(4))
MASKS = [(RNG.uniform(0, 1, (H, W)) > 0.5).astype(np.float64), RNG.uniform(0, 1, (H, W))]
CASES = {
    "plain": dict(styles=[STYLE]),
    "masks and tv": dict(styles=[STYLE, STYLE2], style_masks=MASKS, tv_weight=0.5),
}


def objective(device, dtype, tile=None, gpu=None, **kw):
    net = VGG19(params(dtype=dtype), device=device, dtype=dtype)
    styles, content = kw.pop("styles"), CONTENT
    if device == "gpu":
        content, styles = net.backend.asarray(content), [net.backend.asarray(s) for s in styles]
        if "style_masks" in kw:
            kw["style_masks"] = [gpu.xp.asarray(m) for m in kw["style_masks"]]
    return StyleTransfer(net, content, styles, tile=tile, **kw)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", list(CASES))
def test_tiled_on_the_device_equals_the_cpu_untiled(gpu, case, dtype):
    cpu = objective("cpu", dtype, **dict(CASES[case]))
    dev = objective("gpu", dtype, tile=32, gpu=gpu, **dict(CASES[case]))
    assert len(tiles((H, W), 32, dev._taps)) == 6
    want_loss, want_grad = cpu.loss_and_grad(X.astype(dtype))
    loss, grad = dev.loss_and_grad(dev.net.backend.asarray(X))
    assert type(loss) is float and on_device(grad) and grad.dtype == np.dtype(dtype)
    for k, v in cpu.last_losses.items():
        assert type(dev.last_losses[k]) is float and dev.last_losses[k] == pytest.approx(v, rel=gpu.rtol(dtype)), k
    assert_close(grad, want_grad, gpu.rtol(dtype) * (1 if dtype == "float64" else 50), "gradient")


def test_one_sync_per_tiled_evaluation(standin):
    dev = objective("gpu", "float32", tile=32, gpu=standin, **dict(CASES["masks and tv"]))
    x = dev.net.backend.asarray(X)
    dev.loss_and_grad(x)
    with standin.xp.counting() as t:
        dev.loss_and_grad(x)
    assert (t.syncs, t.h2d, t.d2h) == (1, 0, 1), t
    with standin.xp.counting() as t:
        dev.losses(x)
    assert (t.syncs, t.h2d, t.d2h) == (1, 0, 1), t


def test_the_free_gpu_memory_chooses_the_tiles(monkeypatch):
    from minivgg.app.pipeline import plan_levels
    from minivgg.objective import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS

    content = np.zeros((1536, 2048, 3), np.uint8)
    for free, tiled in ((64 << 30, False), (3 << 30, True)):
        monkeypatch.setitem(sys.modules, "cupy", make_standin(free_bytes=free))
        (level,) = plan_levels(content, [content], (2048,), DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, 1.0, 1e3,
                               device="gpu")
        assert (level.tile is not None) == tiled and level.peak_bytes <= free
    # on the GPU SciPy's L-BFGS-B vectors live on the host: 2048 x 1536 fits 3 GB of GPU memory in tiles
    (level,) = plan_levels(content, [content], (2048,), DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, 1.0, 1e3,
                           device="gpu", max_memory=3 << 30, optimizer="lbfgs")
    assert level.tile is not None and level.tile >= 256
