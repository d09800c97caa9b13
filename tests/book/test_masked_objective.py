"""Spatial masks (Gatys et al. 2017) in the objective: guided Gram loss, its hand-written gradient (finite
differences, float64, tiny random VGG19), region-scaled targets, per-position targets."""

import numpy as np
import pytest

from minivgg.architecture import random_params
from minivgg.errors import UsageError
from minivgg.gradcheck import check_gradient
from minivgg.losses import masked_style_layer_loss, style_layer_loss
from minivgg.objective import StyleTransfer, style_targets_and_masks
from minivgg.vgg import VGG19

STYLE = ("conv1_1", "conv2_1", "conv3_1")


def _net(pooling="avg"):
    return VGG19(random_params(), pooling=pooling, dtype="float64")


def _masks(H, W, seed=0):
    rng = np.random.default_rng(seed)
    left = np.zeros((H, W))
    left[:, : W // 2] = 1.0
    soft = rng.uniform(0, 1, (H, W))             # a soft mask: grey values too
    return [left, soft]


def test_masked_layer_loss_ones_is_plain_and_gradient():
    rng = np.random.default_rng(1)
    F = np.abs(rng.standard_normal((4, 5, 6)))
    A = rng.standard_normal((4, 4))
    A = A @ A.T
    E1, g1 = masked_style_layer_loss(F, A, np.ones((1, 5, 6)))
    E0, g0 = style_layer_loss(F, A)
    assert E1 == pytest.approx(E0) and np.allclose(g1, g0)
    m = rng.uniform(0, 1, (5, 6))
    E, g = masked_style_layer_loss(F, A, m)
    Fm = (F * m).reshape(4, -1)
    G = Fm @ Fm.T
    assert E == pytest.approx(((G - A) ** 2).sum() / (4 * 16 * 30 ** 2))
    res = check_gradient(lambda z: masked_style_layer_loss(z, A, m)[0], F, g)
    assert res.ok, res


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_masked_objective_gradient(pooling):
    net = _net(pooling)
    rng = np.random.default_rng(2)
    content = 30 * rng.standard_normal((3, 16, 12))
    styles = [30 * rng.standard_normal((3, 16, 16)), 30 * rng.standard_normal((3, 12, 20))]
    st = StyleTransfer(net, content, styles, content_layers=("conv3_1",), style_layers=STYLE, beta=1e2,
                       tv_weight=1e-3, style_masks=_masks(16, 12))
    assert st.style_regions is not None and len(st.style_regions) == 2
    x = 30 * rng.standard_normal((3, 16, 12))
    _, g = st.loss_and_grad(x)
    res = check_gradient(lambda z: st.loss_and_grad(z)[0], x, g, mode="direction", h=1e-3, directions=4)
    assert res.ok, res
    res = check_gradient(lambda z: st.loss_and_grad(z)[0], x, g, h=1e-4, max_elements=20, tol=1e-5)
    assert res.ok, res


def test_full_mask_equals_plain_objective():
    net = _net()
    rng = np.random.default_rng(3)
    content = 30 * rng.standard_normal((3, 16, 12))
    style = 30 * rng.standard_normal((3, 16, 12))          # the output's size: targets agree exactly
    plain = StyleTransfer(net, content, [style], content_layers=("conv2_1",), style_layers=STYLE)
    masked = StyleTransfer(net, content, [style], content_layers=("conv2_1",), style_layers=STYLE,
                           style_masks=[np.ones((16, 12))])
    x = 30 * rng.standard_normal((3, 16, 12))
    (l0, g0), (l1, g1) = plain.loss_and_grad(x), masked.loss_and_grad(x)
    assert l1 == pytest.approx(l0, rel=1e-12) and np.allclose(g1, g0, rtol=1e-10, atol=1e-12)


def test_masked_targets_scaled_to_region():
    net = _net()
    rng = np.random.default_rng(4)
    style = 30 * rng.standard_normal((3, 20, 20))
    m = np.zeros((16, 12))
    m[:8] = 1.0
    targets, masks = style_targets_and_masks(net, [style], STYLE, masks=[m], output_hw=(16, 12))
    taps = net.forward(style, STYLE)
    for name in STYLE:
        F = taps[name].reshape(taps[name].shape[0], -1)
        mm = masks[0][name]
        assert np.allclose(targets[0][name], (mm ** 2).sum() / F.shape[1] * F @ F.T)


def test_positions_scale():
    net = _net()
    rng = np.random.default_rng(5)
    content = 30 * rng.standard_normal((3, 16, 16))
    style = 30 * rng.standard_normal((3, 32, 32))
    a = StyleTransfer(net, content, [style], style_layers=STYLE, content_layers=("conv1_1",))
    b = StyleTransfer(net, content, [style], style_layers=STYLE, content_layers=("conv1_1",),
                      style_target_scale="positions")
    for name in STYLE:
        assert np.allclose(b.style_targets[name], a.style_targets[name] / 4)    # 4x the positions
    with pytest.raises(UsageError, match="style_target_scale"):
        StyleTransfer(net, content, [style], style_layers=STYLE, content_layers=("conv1_1",),
                      style_target_scale="mean")


def test_mask_errors():
    net = _net()
    rng = np.random.default_rng(6)
    c = 30 * rng.standard_normal((3, 16, 12))
    s = 30 * rng.standard_normal((3, 16, 16))
    kw = dict(content_layers=("conv2_1",), style_layers=STYLE)
    with pytest.raises(UsageError, match="one per style"):
        StyleTransfer(net, c, [s, s], style_masks=[np.ones((16, 12))], **kw)
    with pytest.raises(UsageError, match="resize"):
        StyleTransfer(net, c, [s], style_masks=[np.ones((8, 6))], **kw)
    with pytest.raises(UsageError, match="blend"):
        StyleTransfer(net, c, [s, s], style_masks=_masks(16, 12), style_blend=(1, 2), **kw)

