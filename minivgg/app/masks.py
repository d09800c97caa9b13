"""Spatial masks for spatially controlled style transfer (Gatys, Ecker, Bethge, Hertzmann & Shechtman
2017, "Controlling Perceptual Factors in Neural Style Transfer", section 4.1).

A mask is a greyscale image, one per style image, that says which region of the *output* receives
that style: white (1) = this style here, black (0) = not here, grey = partly. Masks need not
cover the image nor sum to 1; where no mask is on, only the content loss acts. A mask that is black
everywhere is refused (:func:`minivgg.app.pipeline.stylize_images`): its style would act nowhere.

How a mask reaches a layer (:func:`minivgg.objective.layer_masks`, the book's part). A VGG19 tap
``convB_C`` sits after ``B - 1`` 2x2 poolings (the 3x3 convolutions are padded and keep the size),
so its feature map is the image's size halved ``B - 1`` times, rounded down. The mask is
*average-pooled* alongside the network with the very same 2x2 pooling function
(:func:`minivgg.layers.avg_pool2d_forward`, whatever pooling the network itself uses), so its shape
matches the feature map's exactly, odd sizes included, and each value is the fraction of that
position's 2^(B-1) x 2^(B-1) pixel block that lies inside the region.
(The paper also discusses eroding the mask at deep layers, whose neurons see far beyond their block;
we do not: a soft mask edge is the result.)

Masks are stored and resized as 8-bit images with the package's one resize function
(:func:`minivgg.app.pictures.resize_image`), so a mask given at any size is fitted to the content's
exact shape at every scale of a multi-scale run.
"""

from __future__ import annotations

import numpy as np

from ..backend import to_numpy
from ..objective import mask_to_float


def load_mask(path) -> np.ndarray:
    """A mask file as an 8-bit greyscale array ``(H, W)`` uint8 (colour files: their luminance)."""
    from .color import luminance, to_uint8
    from .pictures import load_image

    return to_uint8(luminance(load_image(path)))


def mask_to_uint8(mask, what: str = "mask") -> np.ndarray:
    """A mask (host or device array) as host ``(H, W)`` uint8: uint8 arrays are kept, RGB pictures give
    their luminance, floats must lie in 0..1 (scaled by 255; checked by :func:`minivgg.objective.mask_to_float`)."""
    m = to_numpy(mask)
    if m.ndim == 3 and m.shape[2] == 3 and m.dtype == np.uint8:
        from .color import luminance, to_uint8

        m = to_uint8(luminance(m))
    if m.dtype == np.uint8 and m.ndim == 2:
        return m
    return np.rint(mask_to_float(m, what) * 255).astype(np.uint8)


def resize_mask(mask, shape) -> np.ndarray:
    """A mask (uint8 ``(h, w)`` or float in 0..1) resized to ``shape = (H, W)``: float64 in 0..1."""
    from .pictures import resize_image

    m = mask_to_uint8(mask)
    rgb = resize_image(np.repeat(m[:, :, None], 3, axis=2), shape=tuple(shape))
    return rgb[:, :, 0].astype(np.float64) / 255.0


__all__ = ["load_mask", "mask_to_uint8", "resize_mask"]
