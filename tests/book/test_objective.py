"""StyleTransfer: the eq. 7 objective's gradient against finite differences, targets, optimisers, errors."""

import numpy as np
import pytest

from minivgg.architecture import random_params
from minivgg.errors import MinivggError, UsageError
from minivgg.gradcheck import check_gradient
from minivgg.losses import gram
from minivgg.objective import DEFAULT_STYLE_LAYERS, StyleTransfer
from minivgg.optim import adam, lbfgs, pixel_bounds
from minivgg.vgg import VGG19


@pytest.fixture(scope="module")
def params():
    return random_params(seed=5)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(11)
    return {"content": 40 * rng.standard_normal((3, 16, 16)),
            "style1": 40 * rng.standard_normal((3, 20, 18)),
            "style2": 40 * rng.standard_normal((3, 16, 24)),
            "x": 40 * rng.standard_normal((3, 16, 16))}


def net64(params, pooling="avg"):
    return VGG19(params, pooling=pooling, dtype="float64")


def assert_gradient_ok(st, x):
    """Directional finite differences of the whole objective (float64), plus a few single pixels."""
    x = x.copy()
    loss, grad = st.loss_and_grad(x)
    assert np.isfinite(loss) and loss > 0 and grad.shape == x.shape and grad.dtype == np.float64
    res = check_gradient(lambda z: st.loss_and_grad(z)[0], x, grad, mode="direction", h=1e-3, directions=3)
    assert res.ok, res.max_rel_error
    res = check_gradient(lambda z: st.loss_and_grad(z)[0], x, grad, mode="elements", h=1e-3, max_elements=8)
    assert res.ok, res.max_rel_error


POOLINGS = ["avg", "max"]


@pytest.mark.parametrize("pooling", POOLINGS)
def test_gradient_content_only(params, images, pooling):
    st = StyleTransfer(net64(params, pooling), images["content"], [images["style1"]], alpha=1.0, beta=0.0)
    assert st.style_targets == {}           # beta = 0: the style layers are never computed
    assert_gradient_ok(st, images["x"])


@pytest.mark.parametrize("pooling", POOLINGS)
def test_gradient_style_only(params, images, pooling):
    st = StyleTransfer(net64(params, pooling), images["content"], [images["style1"]], alpha=0.0, beta=1e3)
    assert st.content_targets == {}
    assert_gradient_ok(st, images["x"])


def test_gradient_tv_only(params, images):
    st = StyleTransfer(net64(params), images["content"], [images["style1"]], alpha=0.0, beta=0.0, tv_weight=0.5)
    assert_gradient_ok(st, images["x"])


@pytest.mark.parametrize("pooling", POOLINGS)
def test_gradient_several_styles_with_blend_and_a_shared_tap(params, images, pooling):
    # conv3_1 is both a content and a style tap: its two gradients must add up before the backward.
    st = StyleTransfer(net64(params, pooling), images["content"], [images["style1"], images["style2"]],
                       content_layers=("conv3_1",), style_layers=("conv1_1", "conv3_1", "conv4_1"),
                       style_layer_weights=(0.2, 1.0, 3.0), style_blend=(1, 3), alpha=0.5, beta=1e3)
    assert_gradient_ok(st, images["x"])


@pytest.mark.parametrize("pooling", POOLINGS)
def test_gradient_full_objective(params, images, pooling):
    st = StyleTransfer(net64(params, pooling), images["content"], [images["style1"]], alpha=1.0, beta=1e3,
                       tv_weight=0.01)
    assert_gradient_ok(st, images["x"])


def test_blended_targets_and_loss_parts(params, images):
    net = net64(params)
    s1, s2 = images["style1"], images["style2"]
    st = StyleTransfer(net, images["content"], [s1, s2], style_blend=[1.0, 3.0], alpha=2.0, beta=10.0,
                       tv_weight=0.1)
    assert st.style_blend == (0.25, 0.75)
    layers = DEFAULT_STYLE_LAYERS
    t1, t2 = net.forward(s1, layers), net.forward(s2, layers)
    for name in layers:
        np.testing.assert_allclose(st.style_targets[name], 0.25 * gram(t1[name]) + 0.75 * gram(t2[name]))
    parts = st.losses(images["x"])
    assert set(parts) == {"total", "content", "style", "tv"}
    assert parts["total"] == pytest.approx(2 * parts["content"] + 10 * parts["style"] + 0.1 * parts["tv"])
    assert st.loss_and_grad(images["x"])[0] == pytest.approx(parts["total"])
    # the content image has zero content loss; equal blend by default
    assert st.losses(images["content"])["content"] == 0
    assert StyleTransfer(net, images["content"], [s1, s2]).style_blend == (0.5, 0.5)


def test_float32_path_stays_float32(params, images):
    net = VGG19(params, dtype="float32")
    st = StyleTransfer(net, images["content"].astype(np.float32), [images["style1"].astype(np.float32)],
                       tv_weight=0.1)
    loss, grad = st.loss_and_grad(images["x"].astype(np.float32))
    assert isinstance(loss, float) and grad.dtype == np.float32
    assert all(v.dtype == np.float32 for v in st.style_targets.values())


@pytest.mark.parametrize("kwargs, message", [
    ({"content_layers": ("conv9_9",)}, "unknown content layer"),
    ({"style_layers": ("conv1_1", "pool1")}, "unknown style layer"),
    ({"alpha": -1.0}, ">= 0"),
    ({"beta": float("nan")}, ">= 0"),
    ({"tv_weight": -0.1}, ">= 0"),
    ({"style_blend": (1.0, -1.0)}, ">= 0"),
    ({"style_blend": (1.0, 2.0, 3.0)}, "3 style blend weights for 2"),
    ({"style_blend": (0.0, 0.0)}, "sum to 0"),
    ({"style_layer_weights": (1.0,)}, "1 style layer weights for 5"),
    ({"style_layer_weights": (1, 1, 1, 1, -1)}, ">= 0"),
])
def test_bad_arguments_are_usage_errors(params, images, kwargs, message):
    with pytest.raises(UsageError, match=message):
        StyleTransfer(net64(params), images["content"], [images["style1"], images["style2"]], **kwargs)


def test_too_small_images_are_refused_with_the_layer_named(params, images):
    net = net64(params)
    with pytest.raises(UsageError, match="content image is 12x12 px, too small for layer conv5_1.*16"):
        StyleTransfer(net, images["content"][:, :12, :12], [images["style1"]])
    with pytest.raises(UsageError, match="style image 2 is 8x8 px"):
        StyleTransfer(net, images["content"], [images["style1"], images["style2"][:, :8, :8]])
    # shallow layers need less
    StyleTransfer(net, images["content"][:, :4, :5], [images["style1"][:, :5, :4]],
                  content_layers=("conv2_1",), style_layers=("conv1_1", "conv3_1"))


def test_nan_loss_is_a_runtime_error(params, images):
    st = StyleTransfer(net64(params), images["content"], [images["style1"]])
    x = images["x"].copy()
    x[0, 3, 3] = np.nan
    with pytest.raises(MinivggError, match="loss is nan"):
        st.loss_and_grad(x)


# ---------------------------------------------------------------------------------------------
# Optimisers on a tiny problem
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_problem(params, images):
    net = VGG19(params, dtype="float32")
    st = StyleTransfer(net, images["content"].astype(np.float32), [images["style1"].astype(np.float32)],
                       beta=1e3)
    x0 = (20 * np.random.default_rng(3).standard_normal((3, 16, 16))).astype(np.float32)
    return st, x0


def test_lbfgs_lowers_the_loss_substantially_and_reports_each_iteration(tiny_problem):
    st, x0 = tiny_problem
    seen = []
    x = st.run(x0, 30, optimizer="lbfgs", callback=lambda it, x, parts: seen.append((it, parts["total"])))
    assert x.dtype == np.float32 and x.shape == x0.shape
    start, end = st.losses(x0)["total"], st.losses(x)["total"]
    assert end < 0.05 * start
    assert [it for it, _ in seen] == list(range(1, len(seen) + 1)) and 20 <= len(seen) <= 30
    assert seen[-1][1] == pytest.approx(end, rel=1e-5)


def test_adam_lowers_the_loss(tiny_problem):
    st, x0 = tiny_problem
    seen = []
    x = st.run(x0, 60, optimizer="adam", lr=2.0, callback=lambda it, x, parts: seen.append(parts["total"]))
    assert len(seen) == 60 and x.dtype == np.float32
    assert st.losses(x)["total"] < 0.3 * st.losses(x0)["total"]


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_same_seed_same_result_and_callback_can_stop(tiny_problem, optimizer):
    st, x0 = tiny_problem
    a = st.run(x0, 5, optimizer=optimizer)
    b = st.run(x0, 5, optimizer=optimizer)
    np.testing.assert_array_equal(a, b)

    def stop(it, x, parts):
        if it == 2:
            raise StopIteration

    c = st.run(x0, 5, optimizer=optimizer, callback=stop)
    assert not np.array_equal(c, a)


def test_bounds_keep_pixels_in_range():
    # A loss pulling every pixel far outside the box: the result must sit on the box.
    mean = np.array([103.939, 116.779, 123.68])
    lo, hi = pixel_bounds((3, 4, 5), mean)
    assert lo[2, 0, 0] == -123.68 and hi[0, 3, 4] == pytest.approx(255 - 103.939)
    target = np.where(np.arange(60).reshape(3, 4, 5) % 2, 1000.0, -1000.0)

    def f(x):
        return float(((x - target) ** 2).sum()), 2 * (x - target)

    x0 = np.zeros((3, 4, 5))
    for x in (lbfgs(f, x0, 20, bounds=(lo, hi)), adam(f, x0, 200, lr=50, bounds=(lo, hi))):
        assert (x >= lo - 1e-9).all() and (x <= hi + 1e-9).all()
        np.testing.assert_allclose(x, np.where(target > 0, hi, lo), atol=1e-3)


def test_optimisers_stop_on_nan():
    for f, message in [(lambda x: (float("nan"), x), "loss became nan at iteration 1"),
                       (lambda x: (1.0, x + np.inf), "gradient overflowed .* at iteration 1")]:
        for opt in (lbfgs, adam):
            with pytest.raises(MinivggError, match=message):
                opt(f, np.zeros((3, 2, 2)), 5)


# ---------------------------------------------------------------------------------------------
# Initial images and the one-call stylize_files()
# ---------------------------------------------------------------------------------------------
def test_initial_images(tmp_path):
    from PIL import Image

    from minivgg.app.pipeline import NOISE_STD, initial_image
    from minivgg.image import preprocess

    rng = np.random.default_rng(0)
    content = preprocess(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8))
    style = preprocess(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8))
    a, b = initial_image("noise", content, seed=3), initial_image("noise", content, seed=3)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (3, 12, 10) and a.dtype == np.float32
    assert abs(a.std() - NOISE_STD) < 0.2 * NOISE_STD
    assert not np.array_equal(a, initial_image("noise", content, seed=4))
    c = initial_image("content", content)
    np.testing.assert_array_equal(c, content)
    assert c is not content
    assert initial_image("style", content, [style]).shape == (3, 12, 10)
    path = tmp_path / "init.png"
    Image.fromarray(rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)).save(path)
    assert initial_image(str(path), content).shape == (3, 12, 10)
    with pytest.raises(MinivggError, match="no such file"):
        initial_image(str(tmp_path / "missing.png"), content)


def test_stylize_one_call(params, tmp_path):
    from PIL import Image

    from minivgg.app.pipeline import stylize_files

    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(tmp_path / "c.png")
    Image.fromarray(rng.integers(0, 256, (40, 20, 3), dtype=np.uint8)).save(tmp_path / "s.png")
    net = VGG19(params, dtype="float32")
    out = stylize_files(tmp_path / "c.png", tmp_path / "s.png", size=32, iterations=3, net=net)
    assert out.shape == (24, 32, 3) and out.dtype == np.uint8
    with pytest.raises(UsageError, match="too small for layer conv5_1"):
        stylize_files(tmp_path / "c.png", [tmp_path / "s.png"], size=12, iterations=3, net=net)
