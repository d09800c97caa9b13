"""Exact tiled evaluation (minivgg.tiling): the geometry (receptive fields, halo, grid, tiles), the targets
and the two-pass loss and gradient equal the untiled ones (float64, tiny and real VGG19, masks and TV
included), the halo is needed, and the tiled objective passes the gradient check."""

import numpy as np
import pytest

from minivgg.architecture import LAYER_NAMES, random_params, receptive_field, tap_shape
from minivgg.errors import UsageError
from minivgg.gradcheck import check_gradient
from minivgg.objective import StyleTransfer
from minivgg.tiling import check_tile, evaluation_windows, features, grams, halo, needs_tiles, reach, split, tiles
from minivgg.vgg import VGG19

ALL_STYLE = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")


def test_receptive_fields_and_halo_from_the_architecture():
    assert [receptive_field(n) for n in ("conv1_1", "conv1_2", "conv2_1", "conv3_1", "conv4_2", "conv5_1")] == \
        [3, 5, 10, 24, 84, 156]
    assert reach("conv5_1") == 70 and reach("conv4_2") == 38 and reach("conv1_1") == 1
    assert halo(ALL_STYLE) == 80 >= receptive_field("conv5_1") / 2       # on the 16 px grid
    assert halo(("conv4_2",)) == 40 and halo(("conv1_1",)) == 1
    # the reach is the dependency cone measured on the network itself: nudge one input pixel
    net = VGG19(random_params(), dtype="float64")
    x = np.random.default_rng(0).standard_normal((3, 64, 64))
    F0 = net.forward(x, ["conv3_1"])["conv3_1"].copy()
    x[:, 40, 40] += 1.0
    changed = np.nonzero(np.abs(net.forward(x, ["conv3_1"])["conv3_1"] - F0).max(axis=(0, 2)) > 0)[0]
    cell, r = 4, reach("conv3_1")                      # two poolings above conv3_1
    assert list(changed) == [p for p in range(16) if cell * p - r <= 40 <= cell * p + cell - 1 + r]


def test_split_and_tiles_partition_every_tap():
    assert split(224, 64, 16) == [(0, 64), (64, 128), (128, 176), (176, 224)]
    assert split(100, 48, 16) == [(0, 48), (48, 80), (80, 100)]
    for a, b in split(1000, 96, 16):
        assert a % 16 == 0 and b - a <= 96
    hw = (150, 203)
    ts = tiles(hw, 64, ALL_STYLE)
    for name in LAYER_NAMES:
        covered = np.zeros(tap_shape(hw, name), int)
        for t in ts:
            covered[t.at(name, local=False)] += 1
            r, c = t.at(name)
            assert r.start >= 0 and c.start >= 0
        assert (covered == 1).all(), name
    for t in ts:
        for (a, b), (w0, w1), n in zip(t.interior, t.window, hw, strict=True):
            assert w0 == max(0, a - 80) and w1 == min(n, b + 80)


def test_tile_must_be_on_the_grid():
    assert check_tile(64, ALL_STYLE) == 64 and check_tile(8, ("conv4_2",)) == 8
    for bad in (0, 8, 100, 64.5):
        with pytest.raises(UsageError, match="multiple of 16"):
            check_tile(bad, ALL_STYLE)
    assert not needs_tiles((224, 224), None, ALL_STYLE) and not needs_tiles((224, 200), 224, ALL_STYLE)
    assert needs_tiles((224, 200), 208, ALL_STYLE)
    assert evaluation_windows((64, 64), None, ALL_STYLE) == [((64, 64), "step")]
    w = evaluation_windows((224, 224), 112, ALL_STYLE)
    assert [k for _, k in w] == ["forward"] * 3 + ["step"] * 4 and w[0][0] == (192, 192)


def _net(weights=None):
    if weights is None:
        return VGG19(random_params(), dtype="float64")
    return VGG19.load(weights, dtype="float64")


def _problem(H=224, W=224, seed=0, style_side=200):
    rng = np.random.default_rng(seed)
    content = 40 * rng.standard_normal((3, H, W))
    styles = [40 * rng.standard_normal((3, style_side, style_side + 40)),
              40 * rng.standard_normal((3, style_side - 24, style_side - 24))]
    left = np.zeros((H, W))
    left[:, : W // 3] = 1.0
    masks = [left, rng.uniform(0, 1, (H, W))]          # a hard and a soft region, overlapping
    x = 40 * rng.standard_normal((3, H, W))
    return content, styles, masks, x


def _rel(a, b):
    return float(np.linalg.norm(np.ravel(a) - np.ravel(b)) / np.linalg.norm(np.ravel(b)))


def _compare(net, tile, beta, H=224, W=224, cases=None, style_side=200):
    """Largest relative error of the tiled objective's parts and gradient against the untiled one,
    for each case ``(label, use masks, tv_weight)``."""
    content, styles, masks, x = _problem(H, W, style_side=style_side)
    worst = {}
    for label, masked, tv in cases:
        kw = dict(styles=styles, style_masks=masks) if masked else dict(styles=styles[:1])
        objs = [StyleTransfer(net, content, beta=beta, tv_weight=tv, tile=t, **kw) for t in (None, tile)]
        assert objs[1].tile == tile and needs_tiles(x.shape[1:], tile, objs[1]._taps)
        (l0, g0), (l1, g1) = (o.loss_and_grad(x) for o in objs)
        p0, p1 = objs[0].last_losses, objs[1].last_losses
        assert l1 == p1["total"] and p1["tv"] == p0["tv"]
        for key in ("total", "content", "style"):
            worst[label, key] = abs(p1[key] - p0[key]) / abs(p0[key])
        worst[label, "grad"] = _rel(g1, g0)
    return worst


def test_tiled_equals_untiled_tiny_network():
    net = _net()
    worst = _compare(net, 64, beta=1e2, H=150, W=203,
                     cases=[("plain", False, 0.0), ("plain+tv", False, 1e-2), ("masks+tv", True, 1e-2)])
    assert max(worst.values()) <= 1e-12, worst
    content, styles, _, x = _problem(150, 203)
    st = StyleTransfer(net, content, styles[:1], tile=64)
    parts = st.loss_and_grad(x) and st.last_losses
    assert st.losses(x) == parts                       # pass 1 alone: the same parts


def test_tiled_equals_untiled_real_weights(real_weights):
    # One objective with everything at once (the plain Gram path is the tiny test's): content,
    # two styles under masks, TV. Small styles keep the targets cheap; the output is 224 px.
    worst = _compare(_net(real_weights), 64, beta=1e3, cases=[("masks+tv", True, 1e-3)], style_side=96)
    assert max(worst.values()) <= 1e-9, worst


def test_targets_tiled_equal_untiled():
    net = _net()
    content, styles, _, _ = _problem(150, 203)
    layers = ("conv2_1", "conv4_2")
    f0, f1 = features(net, content, layers), features(net, content, layers, tile=48)
    g0, g1 = grams(net, styles[0], ALL_STYLE), grams(net, styles[0], ALL_STYLE, tile=32)
    for name in layers:
        assert f1[name].shape == f0[name].shape and _rel(f1[name], f0[name]) < 1e-13
    for name in ALL_STYLE:
        assert _rel(g1[name], g0[name]) < 1e-13


def test_a_short_halo_is_not_exact(monkeypatch):
    import minivgg.tiling as tiling

    net = _net()
    content, styles, _, x = _problem(150, 203)
    kw = dict(alpha=0.0, style_layers=("conv5_1",))
    exact = StyleTransfer(net, content, styles[:1], tile=64, **kw).loss_and_grad(x)
    monkeypatch.setattr(tiling, "halo", lambda layers: 48)        # below conv5_1's reach of 70 px
    short = StyleTransfer(net, content, styles[:1], tile=64, **kw).loss_and_grad(x)
    assert _rel(short[1], exact[1]) > 1e-2 and abs(short[0] - exact[0]) > 1e-3 * exact[0]


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_tiled_objective_gradient_check(pooling):
    net = VGG19(random_params(), pooling=pooling, dtype="float64")
    content, styles, masks, x = _problem(72, 56, seed=3)
    content, x = content[:, :72, :56], x[:, :72, :56]
    small = [m[:72, :56] for m in masks]
    st = StyleTransfer(net, content, styles, content_layers=("conv3_1",),
                       style_layers=("conv1_1", "conv2_1", "conv3_1"), beta=1e2, tv_weight=1e-3,
                       style_masks=small, tile=16)
    assert len(tiles((72, 56), 16, st._taps)) == 20
    _, g = st.loss_and_grad(x)
    res = check_gradient(lambda z: st.loss_and_grad(z)[0], x, g, mode="direction", h=1e-3, directions=3)
    assert res.ok, res
    res = check_gradient(lambda z: st.loss_and_grad(z)[0], x, g, h=1e-4, max_elements=12, tol=1e-5)
    assert res.ok, res
