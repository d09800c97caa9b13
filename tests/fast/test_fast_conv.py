"""The engine room: every algorithm equal to the book's loops (forward, and dx through the flipped
kernel), Winograd's accuracy in float32, the per-layer policy and its report, one layer object per
frozen convolution, float32 all the way."""

import numpy as np
import pytest
from scipy.signal import correlate

from minivgg import fast
from minivgg.architecture import LAYER_NAMES, VGG19_CHANNELS, random_params
from minivgg.errors import UsageError
from minivgg.fast import CONV_ALGOS, DEFAULT_ALGO, FastConv2d, conv_layers, direct, make_conv, plan
from minivgg.fast import winograd as winograd_module
from minivgg.fast.conv import PreparedKernel
from minivgg.fast.direct import conv2d_shiftadd
from minivgg.fast.policy import WINOGRAD_MIN_CHANNELS, choose_algo
from minivgg.fast.winograd import conv2d_winograd, transform_weights
from minivgg.gradcheck import check_gradient
from minivgg.layers import FrozenConv2d
from minivgg.layers.conv import conv2d_naive_backward_dx, conv2d_naive_forward, flip_kernel
from minivgg.vgg import VGG19

FAST = ("im2col", "mec", "shiftadd", "direct", "winograd", "winograd2", "auto")
WINOGRAD_M = {"winograd": 4, "winograd2": 2}
SHAPES = [(3, 8, 8, 4), (2, 7, 5, 3), (5, 1, 1, 2), (1, 3, 9, 6)]   # (C, H, W, O), odd sizes included
# (C, H, W, O): odd sizes, maps smaller than one tile, ragged tiles in both directions
WINOGRAD_SHAPES = [(3, 8, 8, 4), (2, 7, 5, 3), (5, 1, 1, 2), (1, 3, 9, 6), (4, 13, 10, 5), (3, 17, 6, 2)]
# float32 bound tested: max |got - naive_in_float64| <= BOUND * max |naive| ("relative to the output scale").
# F(2x2,3x3) is as accurate as a direct conv (measured <= 4.3e-7 here); F(4x4,3x3)'s transforms
# (entries up to 8, 1/24) cost about one more decimal digit: measured <= 5.4e-6 for these shapes
# (C <= 64), ~1.2e-5 at C = 512 with random N(0, 1) data.
F32_BOUND = {"winograd": 1e-5, "winograd2": 1e-6}


def _inputs(rng, C, H, W, O, dtype=np.float64, k=3):
    return (rng.standard_normal((C, H, W)).astype(dtype), rng.standard_normal((O, C, k, k)).astype(dtype),
            rng.standard_normal(O).astype(dtype))


def _equal_to_the_loops(layer, x, W, b, pad, rng, tol):
    """layer.forward and layer.backward_dx against the book's loops."""
    out, cache = layer.forward(x)
    want = conv2d_naive_forward(x, W, b, pad)[0]
    assert out.dtype == x.dtype and out.shape == want.shape
    np.testing.assert_allclose(out, want, rtol=0, atol=tol * np.abs(want).max())
    d = rng.standard_normal(out.shape).astype(x.dtype)
    dx = layer.backward_dx(d, cache)
    want = conv2d_naive_backward_dx(d, W, pad)
    assert dx.dtype == x.dtype and dx.shape == x.shape
    np.testing.assert_allclose(dx, want, rtol=0, atol=tol * np.abs(want).max())


def test_algorithms_are_selectable():
    assert set(FAST) | {"naive"} == set(CONV_ALGOS) and DEFAULT_ALGO in CONV_ALGOS
    assert type(make_conv(np.ones((2, 1, 3, 3)), np.zeros(2), 1, "naive")) is FrozenConv2d
    assert all(type(make_conv(np.ones((2, 1, 3, 3)), np.zeros(2), 1, a)) is FastConv2d for a in FAST)
    assert make_conv(np.ones((2, 1, 3, 3)), np.zeros(2)).conv_algo == DEFAULT_ALGO
    with pytest.raises(UsageError, match="unknown conv algorithm 'fft': choose one of naive, im2col"):
        make_conv(np.ones((2, 1, 3, 3)), np.zeros(2), 1, "fft")


@pytest.mark.parametrize("algo", FAST)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [0, 1])
def test_every_algorithm_equals_the_loops_float32(shape, seed, algo):
    rng = np.random.default_rng(seed)
    x, W, b = _inputs(rng, *shape, np.float32)
    _equal_to_the_loops(make_conv(W, b, 1, algo), x, W, b, 1, rng, 1e-5)


@pytest.mark.parametrize("algo", FAST)
@pytest.mark.parametrize("k,pad", [(3, 1), (3, 0), (3, 2), (1, 0)])
def test_every_algorithm_matches_scipy_correlate_and_the_loops_float64(algo, k, pad):
    rng = np.random.default_rng(3)
    x, W, b = _inputs(rng, 3, 6, 7, 4, np.float64, k=k)
    layer = make_conv(W, b, pad, algo)
    out, _ = layer.forward(x)
    xpad = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    ref = np.stack([sum(correlate(xpad[c], W[o, c], mode="valid") for c in range(3)) + b[o] for o in range(4)])
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    _equal_to_the_loops(layer, x, W, b, pad, rng, 1e-10)


@pytest.mark.parametrize("algo,knob", [("im2col", "IM2COL_CHUNK"), ("mec", "MEC_CHUNK")])
def test_chunking_does_not_change_the_result(monkeypatch, algo, knob):
    rng = np.random.default_rng(4)
    x, W, b = _inputs(rng, 3, 11, 9, 5)
    whole, _ = make_conv(W, b, 1, algo).forward(x)
    monkeypatch.setattr(direct, knob, 11 * 2)      # 2 padded rows a chunk, last chunk short
    np.testing.assert_allclose(make_conv(W, b, 1, algo).forward(x)[0], whole, rtol=1e-13)
    monkeypatch.setattr(direct, knob, 11 * 3)
    _equal_to_the_loops(make_conv(W, b, 1, algo), x, W, b, 1, rng, 1e-12)


@pytest.mark.parametrize("algo", list(WINOGRAD_M))
@pytest.mark.parametrize("pad,shape", [(pad, shape) for pad in (0, 1, 2) for shape in WINOGRAD_SHAPES
                                       if min(shape[1], shape[2]) + 2 * pad - 2 >= 1])   # non-empty output
def test_winograd_equals_naive_float64(algo, pad, shape):
    x, Wt, b = _inputs(np.random.default_rng(0), *shape)
    want = conv2d_naive_forward(x, Wt, b, pad)[0]
    got = conv2d_winograd(x, Wt, b, pad, m=WINOGRAD_M[algo])
    assert got.shape == want.shape and got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10 * np.abs(want).max())
    # and as a layer, with its weight transform made once
    layer = make_conv(Wt, b, pad, algo)
    assert layer.plan(*x.shape[1:]).forward == algo
    np.testing.assert_allclose(layer.forward(x)[0], want, rtol=0, atol=1e-10 * np.abs(want).max())


@pytest.mark.parametrize("algo", list(WINOGRAD_M))
@pytest.mark.parametrize("C,H,W,O", [(3, 8, 8, 4), (16, 11, 9, 8), (64, 12, 12, 32)])
def test_winograd_float32_accuracy(algo, C, H, W, O):
    rng = np.random.default_rng(1)
    x, Wt, b = _inputs(rng, C, H, W, O, np.float32)
    want = conv2d_naive_forward(x.astype(np.float64), Wt.astype(np.float64), b.astype(np.float64), 1)[0]
    got = conv2d_winograd(x, Wt, b, 1, m=WINOGRAD_M[algo])
    assert got.dtype == np.float32
    assert np.abs(got - want).max() <= F32_BOUND[algo] * np.abs(want).max()


@pytest.mark.parametrize("algo", list(WINOGRAD_M))
@pytest.mark.parametrize("pad", [0, 1, 2])
@pytest.mark.parametrize("shape", [(3, 7, 5, 4), (2, 6, 9, 3), (4, 3, 3, 2)])
def test_dx_via_flipped_kernel_equals_naive_backward(algo, pad, shape):
    rng = np.random.default_rng(2)
    x, Wt, b = _inputs(rng, *shape)
    if x.shape[1] + 2 * pad - 2 < 1:
        pytest.skip("empty output")
    layer = make_conv(Wt, b, pad, algo)
    out, cache = layer.forward(x)
    d = rng.standard_normal(out.shape)
    dx = layer.backward_dx(d, cache)
    want = conv2d_naive_backward_dx(d, Wt, pad)
    np.testing.assert_allclose(dx, want, rtol=0, atol=1e-10 * np.abs(want).max())
    # the backward is literally a Winograd conv with the flipped kernel
    direct_dx = conv2d_winograd(d, flip_kernel(Wt), None, 2 - pad, m=WINOGRAD_M[algo])
    np.testing.assert_allclose(dx, direct_dx, rtol=0, atol=1e-12 * np.abs(want).max())


def test_auto_picks_winograd_where_it_pays():
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
    layer = make_conv(Wt, b, 1, "auto")
    assert layer.plan(16, 16) == fast.ConvPlan("winograd", "winograd")
    _equal_to_the_loops(layer, x, Wt, b, 1, rng, 1e-9)
    assert "winograd_f4" in vars(layer.kernel) and "winograd_f4" in vars(layer.flipped)   # it did run Winograd


def test_the_plan_says_what_dx_runs_with_the_swapped_channel_counts():
    """dx of a C -> O layer is an O -> C convolution: conv1_1 (3 -> 64) runs im2col forward, shift-add for dx."""
    assert plan("auto", 3, 64, 256, 256) == fast.ConvPlan("im2col", "shiftadd")
    assert plan("auto", 64, 128, 128, 128) == fast.ConvPlan("mec", "mec")
    assert plan("auto", 128, 128, 128, 128) == fast.ConvPlan("winograd", "winograd")
    assert plan("auto", 512, 512, 8, 8) == plan("direct", 512, 512, 64, 64) == fast.ConvPlan("mec", "mec")
    assert plan("winograd2", 8, 8, 32, 32, k=1, pad=0) == fast.ConvPlan("im2col", "im2col")   # no 1x1 Winograd
    assert plan("naive", 3, 64, 32, 32) == fast.ConvPlan("naive", "naive")


@pytest.mark.parametrize("conv_algo", ["auto", "direct", "winograd"])
def test_the_layers_run_what_the_plan_says(monkeypatch, conv_algo):
    """One answer in one place: the algorithms VGG19's layers actually run, forward and dx, are the
    ones the policy reports (and the cost summary prints) for that size."""
    from minivgg.machine.cost import layer_costs, layer_plan

    params = {k: (w.astype(np.float32), b.astype(np.float32)) for k, (w, b) in random_params(VGG19_CHANNELS).items()}
    net = VGG19(params, dtype="float32", conv_algo=conv_algo)
    ran = []
    real = PreparedKernel.conv
    monkeypatch.setattr(PreparedKernel, "conv", lambda self, algorithm, *a: ran.append(algorithm) or real(
        self, algorithm, *a))
    x = np.random.default_rng(0).uniform(-100, 100, (3, 32, 32)).astype(np.float32)
    taps = net.forward(x, ["conv3_1"])
    forward_ran, ran[:] = list(ran), []
    net.backward({"conv3_1": np.ones_like(taps["conv3_1"])})
    rows = [r for r in layer_costs(32, "conv3_1") if r.kind == "conv"]
    plans = [layer_plan(r, conv_algo) for r in rows]
    assert forward_ran == [p.forward for p in plans]
    assert ran == [p.dx for p in reversed(plans)]
    if conv_algo == "auto":
        assert forward_ran == ["im2col", "mec", "mec", "winograd", "mec"] and ran[-1] == "shiftadd"


SHIFTADD_SHAPES = [(16, 9, 7, 3, 3), (4, 5, 8, 2, 3), (3, 6, 5, 2, 1), (2, 4, 4, 3, 2)]


@pytest.mark.parametrize("pad,C,H,W,O,k", [(pad,) + s for pad in (0, 1, 2) for s in SHIFTADD_SHAPES
                                            if pad <= s[4] - 1])     # the fast backward needs pad <= k-1
def test_shiftadd_equals_naive(pad, C, H, W, O, k):
    rng = np.random.default_rng(10)
    x, Wt, b = rng.standard_normal((C, H, W)), rng.standard_normal((O, C, k, k)), rng.standard_normal(O)
    want = conv2d_naive_forward(x, Wt, b, pad)[0]
    np.testing.assert_allclose(conv2d_shiftadd(x, Wt, b, pad), want, rtol=0, atol=1e-10 * np.abs(want).max())
    _equal_to_the_loops(make_conv(Wt, b, pad, "shiftadd"), x, Wt, b, pad, rng, 1e-10)


def test_the_fast_backward_refuses_pad_above_k_minus_1():
    layer = make_conv(np.ones((2, 1, 3, 3)), np.zeros(2), 3, "im2col")
    out, cache = layer.forward(np.ones((1, 2, 2)))
    with pytest.raises(ValueError, match="pad 3 > k-1 = 2"):
        layer.backward_dx(np.ones_like(out), cache)


def test_chunking_over_tiles_does_not_change_the_result(monkeypatch):
    rng = np.random.default_rng(4)
    x, Wt, b = _inputs(rng, 3, 21, 10, 4)
    whole = conv2d_winograd(x, Wt, b, 1)
    monkeypatch.setattr(winograd_module, "CHUNK_FLOATS", 1)          # one tile row per chunk
    np.testing.assert_allclose(conv2d_winograd(x, Wt, b, 1), whole, rtol=1e-13, atol=1e-13)


def test_weight_transform_shape_and_dtype():
    W = np.random.default_rng(5).standard_normal((4, 3, 3, 3)).astype(np.float32)
    assert transform_weights(W, 4).shape == (36, 4, 3) and transform_weights(W, 4).dtype == np.float32
    assert transform_weights(W, 2).shape == (16, 4, 3)


def test_other_kernel_sizes_fall_back_to_im2col():
    rng = np.random.default_rng(6)
    x, W = rng.standard_normal((2, 5, 5)), rng.standard_normal((3, 2, 1, 1))
    layer = make_conv(W, None, 0, "winograd")
    assert layer.plan(5, 5) == fast.ConvPlan("im2col", "im2col")
    np.testing.assert_allclose(layer.forward(x)[0], conv2d_naive_forward(x, W, np.zeros(3), 0)[0], atol=1e-12)


def test_one_layer_object_per_convolution_holding_its_prepared_weights():
    params = random_params()
    convs = conv_layers(params, "mec")
    assert list(convs) == list(LAYER_NAMES) and all(c.conv_algo == "mec" for c in convs.values())
    layer = convs["conv2_1"]
    assert layer.W is params["conv2_1"][0] and not vars(layer.kernel).keys() - {"W"}    # nothing made yet
    x = np.random.default_rng(0).standard_normal((4, 6, 6))
    out, cache = layer.forward(x)
    rows = layer.kernel.mec_rows
    layer.forward(x)
    assert layer.kernel.mec_rows is rows                                   # made once, then kept
    assert "flipped" not in vars(layer)                                    # dx's kernel: on the first backward
    layer.backward_dx(np.ones_like(out), cache)
    np.testing.assert_array_equal(layer.flipped.W, flip_kernel(layer.W))
    assert set(layer.flipped.layouts()) == {"W", "mec_rows"}
    assert type(conv_layers(params, "naive")["conv1_1"]) is FrozenConv2d


def test_the_network_never_computes_weight_gradients(monkeypatch):
    from minivgg.layers import conv as book

    def boom(*a, **k):
        raise AssertionError("weight gradients computed on the stylisation path")

    monkeypatch.setattr(book, "conv2d_weight_grads", boom)
    monkeypatch.setattr(book, "conv2d_naive_backward", boom)
    params = random_params()
    x = 30 * np.random.default_rng(1).standard_normal((3, 16, 16))
    for algo in CONV_ALGOS:
        net = VGG19(params, dtype="float64", conv_algo=algo)
        taps = net.forward(x, ["conv1_1", "conv3_1"])
        assert net.backward({k: np.ones_like(v) for k, v in taps.items()}).shape == x.shape


def test_vgg19_validates_conv_algo_once_and_hands_it_down_as_is():
    with pytest.raises(UsageError, match="unknown conv algorithm 'fast'"):
        VGG19(random_params(), dtype="float64", conv_algo="fast")
    net = VGG19(random_params(), dtype="float64")
    assert net.conv_algo == DEFAULT_ALGO and {c.conv_algo for c in net.convs.values()} == {DEFAULT_ALGO}


@pytest.mark.parametrize("algo", list(WINOGRAD_M))
def test_vgg19_gradient_check_with_winograd(algo):
    taps = ("conv1_1", "conv2_2", "conv3_1", "conv4_2", "conv5_1")
    net = VGG19(random_params(), pooling="avg", dtype="float64", conv_algo=algo)
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


def _prepared(convs):
    """Every array a network's conv layers hold: weights, bias, each layout made so far."""
    for layer in convs.values():
        yield layer.b
        for kernel in (layer.kernel, vars(layer).get("flipped")):
            if kernel is not None:
                yield from kernel.layouts().values()


@pytest.mark.parametrize("algo", FAST)
def test_float32_step_never_makes_float64(algo):
    """A whole float32 forward + backward: every tap, every array on the tape and in the layers, the gradient."""
    params = {k: (w.astype(np.float32), b.astype(np.float32)) for k, (w, b) in random_params().items()}
    net = VGG19(params, pooling="avg", dtype="float32", conv_algo=algo)
    rng = np.random.default_rng(8)
    x = rng.uniform(-100, 100, (3, 32, 32)).astype(np.float32)
    taps = net.forward(x, ("conv1_1", "conv3_1", "conv4_2", "conv5_1"))
    grads = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in taps.items()}
    g = net.backward(grads)
    seen = list(taps.values()) + [g] + list(_arrays(net._tape)) + list(_prepared(net.convs))
    assert len(seen) > 40
    bad = [(a.shape, a.dtype) for a in seen if a.dtype.kind == "f" and a.dtype != np.float32]
    assert not bad, bad
    assert g.dtype == np.float32
