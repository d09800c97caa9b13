"""Winograd convolution: equal to the naive loops, dx through the flipped kernel, float32 all the way."""

import numpy as np
import pytest

from minivgg.architecture import random_params
from minivgg.gradcheck import check_gradient
from minivgg.layers import conv as conv_module
from minivgg.layers.conv import (available_algos, conv2d_backward, conv2d_forward, conv2d_naive_backward,
                                 conv2d_naive_forward, flip_weights)
from minivgg.layers.winograd import conv2d_winograd, transform_weights
from minivgg.vgg import VGG19

ALGOS = {"winograd": 4, "winograd2": 2}
# (C, H, W, O): odd sizes, maps smaller than one tile, ragged tiles in both directions
SHAPES = [(3, 8, 8, 4), (2, 7, 5, 3), (5, 1, 1, 2), (1, 3, 9, 6), (4, 13, 10, 5), (3, 17, 6, 2)]
# float32 bound tested: max |got - naive_in_float64| <= BOUND * max |naive| ("relative to the output scale").
# F(2x2,3x3) is as accurate as a direct conv (measured <= 4.3e-7 here); F(4x4,3x3)'s transforms
# (entries up to 8, 1/24) cost about one more decimal digit: measured <= 5.4e-6 for these shapes
# (C <= 64), ~1.2e-5 at C = 512 with random N(0, 1) data.
F32_BOUND = {"winograd": 1e-5, "winograd2": 1e-6}


def _inputs(rng, C, H, W, O, dtype=np.float64):
    return (rng.standard_normal((C, H, W)).astype(dtype), rng.standard_normal((O, C, 3, 3)).astype(dtype),
            rng.standard_normal(O).astype(dtype))


def test_algorithms_are_selectable():
    assert {"naive", "im2col", "mec", "shiftadd", "direct", "winograd", "winograd2", "auto"} <= set(available_algos())
    assert conv_module.DEFAULT_ALGO in available_algos()


@pytest.mark.parametrize("algo", list(ALGOS))
@pytest.mark.parametrize("pad,shape", [(pad, shape) for pad in (0, 1, 2) for shape in SHAPES
                                       if min(shape[1], shape[2]) + 2 * pad - 2 >= 1])   # non-empty output
def test_winograd_equals_naive_float64(algo, pad, shape):
    C, H, W, O = shape
    x, Wt, b = _inputs(np.random.default_rng(0), *shape)
    want = conv2d_naive_forward(x, Wt, b, pad)[0]
    got = conv2d_winograd(x, Wt, b, pad, m=ALGOS[algo])
    assert got.shape == want.shape and got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10 * np.abs(want).max())
    # and through the layer's dispatch, with a precomputed weight transform
    out, _ = conv2d_forward(x, Wt, b, pad, algo, wcache={})
    np.testing.assert_allclose(out, want, rtol=0, atol=1e-10 * np.abs(want).max())


@pytest.mark.parametrize("algo", list(ALGOS))
@pytest.mark.parametrize("C,H,W,O", [(3, 8, 8, 4), (16, 11, 9, 8), (64, 12, 12, 32)])
def test_winograd_float32_accuracy(algo, C, H, W, O):
    rng = np.random.default_rng(1)
    x, Wt, b = _inputs(rng, C, H, W, O, np.float32)
    want = conv2d_naive_forward(x.astype(np.float64), Wt.astype(np.float64), b.astype(np.float64), 1)[0]
    got = conv2d_winograd(x, Wt, b, 1, m=ALGOS[algo])
    assert got.dtype == np.float32
    assert np.abs(got - want).max() <= F32_BOUND[algo] * np.abs(want).max()


@pytest.mark.parametrize("algo", list(ALGOS))
@pytest.mark.parametrize("pad", [0, 1, 2])
@pytest.mark.parametrize("shape", [(3, 7, 5, 4), (2, 6, 9, 3), (4, 3, 3, 2)])
def test_dx_via_flipped_kernel_equals_naive_backward(algo, pad, shape):
    rng = np.random.default_rng(2)
    x, Wt, b = _inputs(rng, *shape)
    if x.shape[1] + 2 * pad - 2 < 1:
        pytest.skip("empty output")
    out, cache = conv2d_forward(x, Wt, b, pad, algo, wcache={})
    d = rng.standard_normal(out.shape)
    dx, _, _ = conv2d_backward(d, cache)
    want = conv2d_naive_backward(d, (x, Wt, b, pad))[0]
    np.testing.assert_allclose(dx, want, rtol=0, atol=1e-10 * np.abs(want).max())
    # the backward is literally a Winograd conv with the flipped kernel
    direct = conv2d_winograd(d, flip_weights(Wt), None, 2 - pad, m=ALGOS[algo])
    np.testing.assert_allclose(dx, direct, rtol=0, atol=1e-12 * np.abs(want).max())


def test_auto_picks_winograd_where_it_pays():
    from minivgg.layers.conv import WINOGRAD_MIN_CHANNELS, choose_algo

    assert choose_algo(3, 64) == "im2col"                                # VGG conv1_1
    assert choose_algo(64, 3) == "shiftadd"                              # and its dx
    assert choose_algo(64, 64) == choose_algo(128, 64) == "mec"           # conv1_2, conv2_1's dx
    assert choose_algo(128, 128) == choose_algo(512, 512) == "winograd"
    assert choose_algo(512, 512, k=1, pad=0) == "mec"
    assert choose_algo(512, 512, pixels=8 * 8) == "mec"                   # conv5 of a 128 px image
    assert choose_algo(512, 512, pixels=16 * 16) == "winograd"
    rng = np.random.default_rng(9)
    C = WINOGRAD_MIN_CHANNELS
    x, Wt, b = _inputs(rng, C, 16, 16, C)
    want = conv2d_naive_forward(x, Wt, b, 1)[0]
    wcache = {}
    out, cache = conv2d_forward(x, Wt, b, 1, "auto", wcache=wcache)
    assert ("fwd", "winograd") in wcache                                 # it did run Winograd
    np.testing.assert_allclose(out, want, rtol=0, atol=1e-10 * np.abs(want).max())
    d = rng.standard_normal(out.shape)
    np.testing.assert_allclose(conv2d_backward(d, cache)[0], conv2d_naive_backward(d, (x, Wt, b, 1))[0],
                               rtol=0, atol=1e-9)


@pytest.mark.parametrize("pad,C,H,W,O,k", [(pad,) + s for pad in (0, 1, 2)
                                            for s in [(16, 9, 7, 3, 3), (4, 5, 8, 2, 3), (3, 6, 5, 2, 1), (2, 4, 4, 3, 2)]
                                            if pad <= s[4] - 1])     # the fast backward needs pad <= k-1
def test_shiftadd_equals_naive(pad, C, H, W, O, k):
    from minivgg.layers.conv import conv2d_shiftadd

    rng = np.random.default_rng(10)
    x, Wt, b = rng.standard_normal((C, H, W)), rng.standard_normal((O, C, k, k)), rng.standard_normal(O)
    want = conv2d_naive_forward(x, Wt, b, pad)[0]
    np.testing.assert_allclose(conv2d_shiftadd(x, Wt, b, pad), want, rtol=0, atol=1e-10 * np.abs(want).max())
    out, cache = conv2d_forward(x, Wt, b, pad, "shiftadd")
    d = rng.standard_normal(out.shape)
    np.testing.assert_allclose(conv2d_backward(d, cache)[0], conv2d_naive_backward(d, (x, Wt, b, pad))[0],
                               rtol=0, atol=1e-9)


def test_weight_gradients_still_available():
    rng = np.random.default_rng(3)
    x, Wt, b = _inputs(rng, 3, 6, 7, 2)
    out, cache = conv2d_forward(x, Wt, b, 1, "winograd")
    d = rng.standard_normal(out.shape)
    for got, want in zip(conv2d_backward(d, cache, weight_grads=True), conv2d_naive_backward(d, (x, Wt, b, 1))):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_chunking_over_tiles_does_not_change_the_result(monkeypatch):
    from minivgg.layers import winograd

    rng = np.random.default_rng(4)
    x, Wt, b = _inputs(rng, 3, 21, 10, 4)
    whole = conv2d_winograd(x, Wt, b, 1)
    monkeypatch.setattr(winograd, "CHUNK_FLOATS", 1)          # one tile row per chunk
    np.testing.assert_allclose(conv2d_winograd(x, Wt, b, 1), whole, rtol=1e-13, atol=1e-13)


def test_weight_transform_shape_and_dtype():
    W = np.random.default_rng(5).standard_normal((4, 3, 3, 3)).astype(np.float32)
    assert transform_weights(W, 4).shape == (36, 4, 3) and transform_weights(W, 4).dtype == np.float32
    assert transform_weights(W, 2).shape == (16, 4, 3)


def test_other_kernel_sizes_fall_back_to_im2col():
    rng = np.random.default_rng(6)
    x, W = rng.standard_normal((2, 5, 5)), rng.standard_normal((3, 2, 1, 1))
    out, _ = conv2d_forward(x, W, None, 0, "winograd")
    np.testing.assert_allclose(out, conv2d_naive_forward(x, W, np.zeros(3), 0)[0], atol=1e-12)


@pytest.mark.parametrize("algo", list(ALGOS))
def test_vgg19_gradient_check_with_winograd(algo):
    params = random_params()
    taps = ("conv1_1", "conv2_2", "conv3_1", "conv4_2", "conv5_1")
    net = VGG19(params, pooling="avg", dtype="float64", conv_algo=algo)
    rng = np.random.default_rng(7)
    x = 40.0 * rng.standard_normal((3, 16, 16))
    R = {k: rng.standard_normal(v.shape) for k, v in net.forward(x, taps).items()}
    g = net.backward(R)
    res = check_gradient(lambda z: sum(float((v * R[k]).sum()) for k, v in net.forward(z, taps).items()),
                         x, g, mode="direction", h=1e-3, directions=4)
    assert res.ok, res


def _arrays(obj):
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            yield from _arrays(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _arrays(o)


@pytest.mark.parametrize("algo", ["im2col", "mec", "shiftadd", "direct", "winograd", "winograd2", "auto"])
def test_float32_step_never_makes_float64(algo):
    """A whole float32 forward + backward: every tap, every array on the tape, the gradient."""
    params = {k: (w.astype(np.float32), b.astype(np.float32)) for k, (w, b) in random_params().items()}
    net = VGG19(params, pooling="avg", dtype="float32", conv_algo=algo)
    rng = np.random.default_rng(8)
    x = rng.uniform(-100, 100, (3, 32, 32)).astype(np.float32)
    taps = net.forward(x, ("conv1_1", "conv3_1", "conv4_2", "conv5_1"))
    grads = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in taps.items()}
    g = net.backward(grads)
    seen = list(taps.values()) + [g] + list(_arrays(net._tape)) + list(_arrays(net._conv_wcache))
    assert len(seen) > 40
    bad = [(a.shape, a.dtype) for a in seen if a.dtype.kind == "f" and a.dtype != np.float32]
    assert not bad, bad
    assert g.dtype == np.float32
