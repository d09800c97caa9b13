"""The network and the losses on the device: every conv algorithm x pooling x dtype equals the CPU."""

import numpy as np
import pytest
from devtools import assert_close, on_device, params

from minivgg import losses
from minivgg.backend import to_numpy
from minivgg.fast import CONV_ALGOS, policy
from minivgg.vgg import LAYER_NAMES, VGG19

TAPS = ("conv1_1", "conv2_1", "conv3_1", "conv4_2", "conv5_1")


@pytest.fixture
def mixed_table(monkeypatch):
    """Policy thresholds lowered so that the tiny network's table mixes Winograd and direct layers,
    as VGG19's does at full width."""
    monkeypatch.setattr(policy, "WINOGRAD_MIN_CHANNELS", 8)
    monkeypatch.setattr(policy, "WINOGRAD_MIN_PIXELS", 16)
    monkeypatch.setattr(policy, "GPU_WINOGRAD_MIN_WORK", 1)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("pooling", ["avg", "max"])
@pytest.mark.parametrize("algo", CONV_ALGOS)
def test_forward_and_backward_equal_the_cpu(gpu, mixed_table, algo, pooling, dtype):
    p = params(dtype=dtype)
    rng = np.random.default_rng(0)
    x = rng.uniform(-100, 100, (3, 20, 18)).astype(dtype)
    cpu = VGG19(p, pooling=pooling, dtype=dtype, conv_algo=algo)
    dev = VGG19(p, pooling=pooling, device="gpu", dtype=dtype, conv_algo=algo)
    want = cpu.forward(x, TAPS)
    grads = {k: rng.standard_normal(v.shape).astype(dtype) for k, v in want.items()}
    want = {k: v.copy() for k, v in want.items()}
    want_dx = cpu.backward(grads)

    xd = dev.backend.asarray(x)
    dgrads = {k: dev.backend.asarray(g) for k, g in grads.items()}
    dev.forward(xd, TAPS)
    dev.backward(dgrads)               # the first pass prepares each layer's kernels (once: frozen weights)
    if gpu.standin:
        with gpu.xp.counting() as t:
            got = dev.forward(xd, TAPS)
            dx = dev.backward(dgrads)
        assert (t.syncs, t.h2d, t.d2h) == (0, 0, 0), t           # a pass never leaves the device
    else:
        got = dev.forward(xd, TAPS)
        dx = dev.backward(dgrads)
    rtol = gpu.rtol(dtype)
    for k in TAPS:
        assert on_device(got[k]) and got[k].dtype == np.dtype(dtype)
        assert_close(got[k], want[k], rtol, k)
    assert on_device(dx) and dx.dtype == np.dtype(dtype)
    # a ReLU whose input is within rounding of 0 may flip between two summation orders: a kink,
    # not an error; float32's tolerance covers the few such units of this tiny net
    assert_close(dx, want_dx, rtol * (1 if dtype == "float64" else 50), "dx")


def test_the_gpu_table_has_no_mec_and_no_chunks(gpu):
    """On a GPU, direct = whole-layer im2col and auto = Winograd or im2col (no MEC, no shift-add)."""
    p = params(widths=(64, 128, 256, 512, 512))
    dev = VGG19(p, device="gpu")
    ran = {name: dev.convs[name].plan(512 >> (int(name[4]) - 1), 512 >> (int(name[4]) - 1)) for name in LAYER_NAMES}
    used = {a for pl in ran.values() for a in (pl.forward, pl.dx)}
    assert used == {"im2col", "winograd"}, used
    assert ran["conv1_1"].dx == "im2col" and ran["conv3_2"].forward == "winograd" and ran["conv3_1"].forward == "im2col"
    # ... and Winograd only where a layer has the work to pay for its launches (timed on an H200)
    assert ran["conv5_1"].forward == "im2col"                       # 512 -> 512 on 32 x 32
    small = {name: dev.convs[name].plan(256 >> (int(name[4]) - 1), 256 >> (int(name[4]) - 1)) for name in LAYER_NAMES}
    assert small["conv3_2"].forward == "im2col" and small["conv4_2"].forward == "im2col"
    assert VGG19(p).convs["conv3_2"].plan(64, 64).forward == "winograd"          # the CPU's table differs
    cpu = VGG19(p)
    assert "mec" in {cpu.convs[n].plan(64, 64).forward for n in LAYER_NAMES}          # the CPU's table is its own


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_losses_on_the_device_are_0d_device_arrays_equal_to_the_cpu(gpu, dtype):
    rng = np.random.default_rng(1)
    F, P = rng.standard_normal((2, 6, 5, 4)).astype(dtype)
    A = rng.standard_normal((6, 6)).astype(dtype)
    A = A @ A.T
    m = rng.uniform(0, 1, (5, 4)).astype(dtype)
    img = rng.standard_normal((3, 7, 6)).astype(dtype)
    xp = gpu.xp
    cases = {"content": (losses.content_loss, (F, P)), "style layer": (losses.style_layer_loss, (F, A)),
             "masked style layer": (losses.masked_style_layer_loss, (F, A, m)), "tv": (losses.tv_loss, (img,))}
    for what, (f, args) in cases.items():
        want_loss, want_grad = f(*args)
        loss, grad = f(*(xp.asarray(a) for a in args))
        assert on_device(loss) and loss.shape == () and loss.dtype == np.float64, what
        assert on_device(grad) and grad.dtype == np.dtype(dtype), what
        assert float(loss) == pytest.approx(float(want_loss), rel=gpu.rtol(dtype)), what
        assert_close(grad, want_grad, gpu.rtol(dtype), what)


def test_style_loss_sums_on_the_device_without_a_sync(standin):
    xp = standin.xp
    rng = np.random.default_rng(2)
    taps = {n: rng.standard_normal((4, 6, 6)).astype(np.float32) for n in ("conv1_1", "conv2_1")}
    targets = {n: losses.gram(t) * 1.5 for n, t in taps.items()}
    want, want_grads = losses.style_loss(taps, targets)
    dtaps = {n: xp.asarray(t) for n, t in taps.items()}
    dtargets = {n: xp.asarray(t) for n, t in targets.items()}
    with xp.counting() as t:
        total, grads = losses.style_loss(dtaps, dtargets)
    assert (t.syncs, t.h2d) == (0, 0)
    assert float(total) == pytest.approx(want, rel=1e-6)
    for n in taps:
        assert_close(grads[n], want_grads[n], 1e-6, n)


def test_large_layers_chunk_on_the_gpu_with_the_same_result(gpu, monkeypatch):
    """Past GPU_CHUNK_FLOATS a layer's work buffers come in chunks of rows (one allocation of 3.5 GB
    for a whole 2048 px layer broke a --max-memory plan on an H200): the result is the same."""
    from minivgg.fast import direct, winograd

    rng = np.random.default_rng(3)
    x = gpu.xp.asarray(rng.standard_normal((16, 20, 18)))
    W = gpu.xp.asarray(rng.standard_normal((16, 16, 3, 3)))
    b = gpu.xp.asarray(rng.standard_normal(16))
    convs = (direct.conv2d_im2col, winograd.conv2d_winograd)

    def ops(f):
        if not gpu.standin:
            return 0
        with gpu.xp.counting() as t:
            f(x, W, b)
        return t.ops

    whole = {f.__name__: (to_numpy(f(x, W, b)), ops(f)) for f in convs}
    monkeypatch.setattr(direct, "GPU_CHUNK_FLOATS", 200 * 18)                 # a few rows a chunk
    monkeypatch.setattr(winograd, "GPU_CHUNK_FLOATS", 2000 * 5)
    assert direct.chunk_pixels(x, 8192, 16 * 9 + 16) == 22
    for f in convs:
        want, whole_ops = whole[f.__name__]
        np.testing.assert_allclose(to_numpy(f(x, W, b)), want, rtol=1e-12, atol=1e-12)
        assert ops(f) >= 2 * whole_ops or not gpu.standin                       # it did chunk
