"""StyleTransfer and the optimisers on the device: every extension equals the CPU, one sync per evaluation.

Traffic budgets (measured on the stand-in, per ``loss_and_grad`` after a warm-up one; default layers,
avg pooling, default conv algorithm): 1 device->host sync (the loss parts, in one copy), 0
host->device copies, and device operations (kernel launches) that no longer grow with the image,
since on a GPU a layer is one chunk up to 512 x 512 px: 275 for the tiny test network at 64 and at
512 px (whole-layer im2col throughout), 305 for VGG19's widths at 64 px and 335 at 512 px when
Winograd ran on every wide layer (8 launches a pass to im2col's 5; since 2026-11-30 it runs only on
layers with the work to pay for them, ``GPU_WINOGRAD_MIN_WORK``, so fewer). Before this budget the same evaluation cost
8 syncs, 20 (64 px) to 40 (512 px) uploads and 463 (64 px) to 3057 (512 px) operations, 552 of them
copies CuPy makes of MEC's strided GEMM operands.
"""

import numpy as np
import pytest
from devtools import assert_close, on_device, params

from minivgg.architecture import VGG19_CHANNELS
from minivgg.backend import to_numpy
from minivgg.errors import UsageError
from minivgg.objective import StyleTransfer
from minivgg.optim import OPTIMIZERS, lbfgs, minimize_image
from minivgg.vgg import VGG19

#: Upper bounds on device operations per evaluation (see the module docstring for the measured values).
OPS_BUDGET_VGG19 = 320
OPS_BUDGET_TINY = 290

RNG = np.random.default_rng(7)
CONTENT = RNG.uniform(-100, 100, (3, 24, 20))
STYLES = [RNG.uniform(-100, 100, (3, 20, 28)), RNG.uniform(-100, 100, (3, 24, 24))]
X = RNG.uniform(-50, 50, (3, 24, 20))
MASKS = [(RNG.uniform(0, 1, (24, 20)) > 0.5).astype(np.float64), RNG.uniform(0, 1, (24, 20))]

EXTENSIONS = {
    "paper": dict(styles=STYLES[:1]),
    "tv": dict(styles=STYLES[:1], tv_weight=0.5),
    "several styles, blend": dict(styles=STYLES, style_blend=(3.0, 1.0)),
    "masks": dict(styles=STYLES, style_masks=MASKS),
    "masks as uint8": dict(styles=STYLES, style_masks=[(m * 255).astype(np.uint8) for m in MASKS]),
    "style scale (positions)": dict(styles=STYLES, style_target_scale="positions"),
    "layer weights": dict(styles=STYLES[:1], style_layers=("conv1_1", "conv3_1", "conv5_1"),
                          style_layer_weights=(1.0, 0.5, 2.0), content_layers=("conv2_2", "conv4_2")),
    "content only": dict(styles=STYLES[:1], beta=0.0),
    "style only": dict(styles=STYLES[:1], alpha=0.0, content=None),
}


def objective(device, dtype="float32", conv_algo=None, gpu=None, widths=None, **kw):
    """The same StyleTransfer on the CPU or on the device (images and masks given on the host for the
    CPU, as device arrays for the device: both must work)."""
    net = VGG19(params(dtype=dtype) if widths is None else params(widths, dtype), device=device, dtype=dtype,
                conv_algo=conv_algo)
    content = kw.pop("content", CONTENT)
    styles = kw.pop("styles")
    if device == "gpu":
        put = net.backend.asarray
        content = None if content is None else put(content)
        styles = [put(s) for s in styles]
        if "style_masks" in kw:
            kw["style_masks"] = [gpu.xp.asarray(m) for m in kw["style_masks"]]
    return StyleTransfer(net, content, styles, **kw)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("ext", list(EXTENSIONS))
def test_objective_equals_the_cpu(gpu, ext, dtype):
    cpu = objective("cpu", dtype, **dict(EXTENSIONS[ext]))
    dev = objective("gpu", dtype, gpu=gpu, **dict(EXTENSIONS[ext]))
    want_loss, want_grad = cpu.loss_and_grad(X.astype(dtype))
    xd = dev.net.backend.asarray(X)
    loss, grad = dev.loss_and_grad(xd)
    assert type(loss) is float and on_device(grad) and grad.dtype == np.dtype(dtype)
    assert loss == pytest.approx(want_loss, rel=gpu.rtol(dtype))
    for k, v in cpu.last_losses.items():
        assert type(dev.last_losses[k]) is float and dev.last_losses[k] == pytest.approx(v, rel=gpu.rtol(dtype)), k
    assert_close(grad, want_grad, gpu.rtol(dtype) * (1 if dtype == "float64" else 50), "gradient")
    if gpu.standin:
        dev.loss_and_grad(xd)
        with gpu.xp.counting() as t:
            dev.loss_and_grad(xd)
        assert (t.syncs, t.h2d, t.d2h) == (1, 0, 1), t


def traffic_per_evaluation(widths, size, tv_weight=0.0):
    rng = np.random.default_rng(0)
    net = VGG19(params(widths), device="gpu")
    content, style, x = (net.backend.asarray(rng.uniform(-100, 100, (3, size, size))) for _ in range(3))
    st = StyleTransfer(net, content, [style], tv_weight=tv_weight)
    st.loss_and_grad(x)
    with net.xp.counting() as t:
        st.loss_and_grad(x)
    return t


@pytest.mark.parametrize("size", [64, 512])
def test_traffic_budget_tiny_network(standin, size):
    t = traffic_per_evaluation((4, 8, 8, 16, 16), size)
    assert (t.syncs, t.h2d, t.d2h, t.hidden_copies) == (1, 0, 1, 0), t
    assert t.ops <= OPS_BUDGET_TINY, t


def test_traffic_budget_vgg19(standin):
    t = traffic_per_evaluation(VGG19_CHANNELS, 64)
    assert (t.syncs, t.h2d, t.d2h, t.hidden_copies) == (1, 0, 1, 0), t
    assert t.ops <= OPS_BUDGET_VGG19, t


def test_tv_costs_operations_only_when_on(standin):
    off = traffic_per_evaluation((4, 8, 8, 16, 16), 32)
    on = traffic_per_evaluation((4, 8, 8, 16, 16), 32, tv_weight=1.0)
    assert on.syncs == off.syncs == 1 and on.ops > off.ops + 8


def test_lbfgs_uploads_x_once_per_evaluation_without_a_callback(standin):
    """SciPy's L-BFGS works on the host: per evaluation x goes up and the gradient comes down, and no
    more (the iterate is not copied back to the device for a callback that is not there)."""
    rng = np.random.default_rng(1)
    net = VGG19(params(), device="gpu")
    content, style, x = (net.backend.asarray(rng.uniform(-100, 100, (3, 16, 16))) for _ in range(3))
    st = StyleTransfer(net, content, [style])
    evals = [0]

    def counted(z):
        evals[0] += 1
        return st.loss_and_grad(z)

    counted(x)
    evals[0] = 0
    with net.xp.counting() as t:
        lbfgs(counted, x, 3)
    # x0 up once at the start (it comes from the device: down once), then per evaluation one upload,
    # the loss parts and the gradient down; the result goes up at the end
    assert t.h2d == evals[0] + 1, (t, evals[0])
    assert t.d2h == 2 * evals[0] + 1 and t.syncs == 2 * evals[0] + 1, (t, evals[0])


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_optimisers_on_the_device_follow_the_cpu(gpu, optimizer):
    """A few iterations from the same start: the same losses and image (float64, so that the two
    paths' rounding cannot send the line search elsewhere)."""
    cpu = objective("cpu", "float64", conv_algo="im2col", styles=STYLES[:1], tv_weight=0.1)
    dev = objective("gpu", "float64", conv_algo="im2col", gpu=gpu, styles=STYLES[:1], tv_weight=0.1)
    seen = {"cpu": [], "gpu": []}

    def record(where):
        def cb(it, x, losses):
            assert on_device(x) == (where == "gpu")
            assert all(type(v) is float for v in losses.values())
            seen[where].append(losses["total"])
        return cb

    want = cpu.run(X, 4, optimizer=optimizer, callback=record("cpu"), lr=2.0)
    got = dev.run(dev.net.backend.asarray(X), 4, optimizer=optimizer, callback=record("gpu"), lr=2.0)
    assert on_device(got) and got.dtype == np.float64
    assert len(seen["gpu"]) == len(seen["cpu"]) == 4
    np.testing.assert_allclose(seen["gpu"], seen["cpu"], rtol=1e-7)
    assert_close(got, want, 1e-6, "image")


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_optimisers_keep_float32_and_the_bounds_on_the_device(gpu, optimizer):
    from minivgg.image import MEAN_BGR
    from minivgg.optim import pixel_bounds

    dev = objective("gpu", "float32", gpu=gpu, styles=STYLES[:1])
    x0 = dev.net.backend.asarray(X)
    box = pixel_bounds(x0.shape, MEAN_BGR)
    try:
        x = minimize_image(dev.loss_and_grad, x0, 3, optimizer=optimizer, bounds=box, lr=50.0)
    except UsageError as exc:                 # an optimiser that cannot keep bounds says so, in one line
        assert "bounds" in str(exc) and "\n" not in str(exc)
        x, box = minimize_image(dev.loss_and_grad, x0, 3, optimizer=optimizer, lr=50.0), None
    assert on_device(x) and x.dtype == np.float32
    if box is not None:
        xh = to_numpy(x)
        assert (xh >= box[0] - 1e-3).all() and (xh <= box[1] + 1e-3).all()
