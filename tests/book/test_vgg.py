"""The network: taps, depth, one-pass backward through several taps, errors."""

import numpy as np
import pytest

from minivgg.architecture import LAYER_NAMES, min_input_size, random_params
from minivgg.errors import UsageError
from minivgg.gradcheck import check_gradient
from minivgg.vgg import VGG19


@pytest.fixture(scope="module")
def params():
    return random_params(seed=3)


def test_layer_names_are_the_papers():
    assert len(LAYER_NAMES) == 16
    assert LAYER_NAMES[:4] == ("conv1_1", "conv1_2", "conv2_1", "conv2_2")
    assert LAYER_NAMES[-1] == "conv5_4" and "conv4_2" in LAYER_NAMES


def test_taps_are_relu_outputs_and_forward_stops_at_the_deepest(params):
    net = VGG19(params, dtype="float64")
    x = 30 * np.random.default_rng(0).standard_normal((3, 16, 12))
    taps = net.forward(x, ["conv2_1", "conv1_1"])
    assert set(taps) == {"conv1_1", "conv2_1"}
    assert taps["conv1_1"].shape == (4, 16, 12) and taps["conv2_1"].shape == (6, 8, 6)
    assert (taps["conv1_1"] >= 0).all() and (taps["conv1_1"] == 0).any()
    convs = [name for kind, name, _ in net._tape if kind == "conv"]
    assert convs == ["conv1_1", "conv1_2", "conv2_1"]
    # conv1_1's tap equals ReLU(conv(x)) computed by hand
    W, b = params["conv1_1"]
    from minivgg.layers import conv2d_naive_forward
    np.testing.assert_allclose(taps["conv1_1"], np.maximum(conv2d_naive_forward(x, W, b)[0], 0), atol=1e-10)


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_backward_of_several_taps_is_the_sum_of_single_backwards(params, pooling):
    net = VGG19(params, pooling=pooling, dtype="float64")
    rng = np.random.default_rng(1)
    x = 30 * rng.standard_normal((3, 16, 16))
    taps = ("conv1_2", "conv3_1", "conv5_1")
    R = {k: rng.standard_normal(v.shape) for k, v in net.forward(x, taps).items()}
    together = net.backward(R)
    apart = 0
    for k in taps:
        net.forward(x, [k])
        apart = apart + net.backward({k: R[k]})
    np.testing.assert_allclose(together, apart, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_forward_and_backward_leave_the_callers_arrays_alone(params, dtype):
    """The network works in place on its own intermediates only: not on x, not on the tap gradients."""
    net = VGG19(params, dtype=dtype)
    rng = np.random.default_rng(4)
    x = (30 * rng.standard_normal((3, 16, 16))).astype(dtype)
    x0 = x.copy()
    taps = ("conv1_1", "conv2_1", "conv3_1")
    R = {k: rng.standard_normal(v.shape).astype(dtype) for k, v in net.forward(x, taps).items()}
    R0 = {k: v.copy() for k, v in R.items()}
    net.backward(R)
    np.testing.assert_array_equal(x, x0)
    for k in taps:
        np.testing.assert_array_equal(R[k], R0[k])


@pytest.mark.parametrize("pooling", ["avg", "max"])
@pytest.mark.parametrize("algo", ["im2col", "mec", "naive"])
def test_whole_network_gradient_check(params, pooling, algo):
    net = VGG19(params, pooling=pooling, dtype="float64", conv_algo=algo)
    rng = np.random.default_rng(2)
    x = 40 * rng.standard_normal((3, 16, 16))
    taps = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv4_2", "conv5_1")
    R = {k: rng.standard_normal(v.shape) for k, v in net.forward(x, taps).items()}
    g = net.backward(R)

    def loss(z):
        return sum(float((v * R[k]).sum()) for k, v in net.forward(z, taps).items())

    assert check_gradient(loss, x, g, mode="direction", h=1e-3, directions=4).ok
    assert check_gradient(loss, x, g, mode="elements", h=1e-3, max_elements=20 if algo == "im2col" else 4).ok


def test_float32_stays_float32(params):
    net = VGG19(params, dtype="float32")
    x = np.random.default_rng(0).standard_normal((3, 16, 16)).astype(np.float32)
    taps = net.forward(x, LAYER_NAMES)
    assert all(v.dtype == np.float32 for v in taps.values())
    assert net.params["conv1_1"][0].dtype == np.float32
    g = net.backward({k: np.ones_like(v) for k, v in taps.items()})
    assert g.dtype == np.float32


def test_errors(params):
    net = VGG19(params, dtype="float64")
    with pytest.raises(UsageError, match="unknown layer 'conv6_1'"):
        net.forward(np.zeros((3, 16, 16)), ["conv6_1"])
    with pytest.raises(UsageError, match="too small"):
        net.forward(np.zeros((3, 8, 16)), ["conv5_1"])
    assert min_input_size(["conv1_1"]) == 1 and min_input_size(["conv5_1", "conv1_1"]) == 16
    net.forward(np.zeros((3, 16, 16)), ["conv1_1"])
    with pytest.raises(ValueError, match="not reached"):
        net.backward({"conv2_1": np.zeros((6, 8, 8))})
    with pytest.raises(UsageError, match="pooling"):
        VGG19(params, pooling="min")


SHARED = __import__("pathlib").Path(__file__).resolve().parents[2].parent / "shared" / "images"


@pytest.fixture(scope="module")
def tubingen_128():
    path = SHARED / "tubingen.jpg"
    if not path.is_file():
        pytest.skip(f"{path} not found (the project's shared test images sit beside the checkout)")
    from minivgg.app.pictures import load_image
    from minivgg.image import preprocess
    return preprocess(load_image(path, size=128))


def test_real_weights_give_finite_nontrivial_taps(real_weights, tubingen_128):
    net32 = VGG19.load(real_weights, dtype="float32")
    net64 = VGG19.load(real_weights, dtype="float64", conv_algo="im2col")
    t32 = net32.forward(tubingen_128, LAYER_NAMES)
    t64 = net64.forward(tubingen_128.astype(np.float64), LAYER_NAMES)
    for name in LAYER_NAMES:
        a, b = t32[name], t64[name]
        assert a.dtype == np.float32 and np.isfinite(a).all(), name
        active = float((a > 0).mean())
        assert 0.01 < active < 0.99 and a.std() > 0, (name, active)
        # the float32 default path (Winograd where it applies) agrees with float64 im2col
        assert np.abs(a - b).max() <= 1e-3 * np.abs(b).max(), name
    assert t32["conv5_1"].shape == (512, 96 // 16, 128 // 16)     # 1024x768 photo -> 128x96 px


def test_real_weights_backward_is_finite(real_weights, tubingen_128):
    net = VGG19.load(real_weights)
    taps = net.forward(tubingen_128, ["conv1_1", "conv4_2", "conv5_1"])
    g = net.backward({k: np.ones_like(v) for k, v in taps.items()})
    assert g.shape == tubingen_128.shape and g.dtype == np.float32
    assert np.isfinite(g).all() and np.abs(g).max() > 0
