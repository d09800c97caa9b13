"""Spatial masks (Gatys et al. 2017): loading, resizing, and the mask pyramid that matches the feature maps."""

import numpy as np
import pytest

from minivgg.app.masks import load_mask, resize_mask
from minivgg.architecture import random_params
from minivgg.errors import UsageError
from minivgg.objective import layer_masks, mask_to_float
from minivgg.vgg import VGG19


def _net():
    return VGG19(random_params(), dtype="float64")


def test_layer_masks_shapes_and_values():
    m = np.zeros((13, 10))
    m[:, :5] = 1.0
    pyr = layer_masks(m, ("conv1_1", "conv2_1", "conv3_2", "conv4_1"))
    for name, (h, w) in [("conv1_1", (13, 10)), ("conv2_1", (6, 5)), ("conv3_2", (3, 2)), ("conv4_1", (1, 1))]:
        assert pyr[name].shape == (1, h, w)
    assert np.allclose(pyr["conv2_1"][0, :, :2], 1) and np.allclose(pyr["conv2_1"][0, :, 3:], 0)
    assert np.allclose(pyr["conv2_1"][0, :, 2], 0.5)    # a window half inside the region
    # The pyramid has the feature maps' exact shapes, odd sizes included.
    net = _net()
    x = np.random.default_rng(0).standard_normal((3, 13, 10))
    taps = net.forward(x, ("conv1_1", "conv2_1", "conv3_2", "conv4_1"))
    assert all(taps[n].shape[1:] == pyr[n].shape[1:] for n in taps)


def test_mask_conversions(tmp_path):
    from PIL import Image

    a = np.zeros((6, 8), dtype=np.uint8)
    a[:, 4:] = 255
    Image.fromarray(a).save(tmp_path / "m.png")
    assert (load_mask(tmp_path / "m.png") == a).all()
    assert np.allclose(mask_to_float(a)[:, 4:], 1) and np.allclose(mask_to_float(a)[:, :4], 0)
    r = resize_mask(a, (12, 16))
    assert r.shape == (12, 16) and r.min() >= 0 and r.max() <= 1
    assert np.allclose(r[:, :3], 0, atol=0.02) and np.allclose(r[:, 13:], 1, atol=0.02)  # LANCZOS rings near the edge
    with pytest.raises(UsageError, match="0..1"):
        mask_to_float(np.full((3, 3), 1.5))
    with pytest.raises(UsageError):
        mask_to_float(np.zeros((3, 3, 2)))
