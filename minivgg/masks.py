"""Spatial masks for spatially controlled style transfer (Gatys, Ecker, Bethge, Hertzmann & Shechtman
2017, "Controlling Perceptual Factors in Neural Style Transfer", section 4.1).

A mask is a greyscale image, one per style image, that says which region of the *output* receives
that style: white (1) = this style here, black (0) = not here, grey = partly. Masks need not
cover the image nor sum to 1; where no mask is on, only the content loss acts. A mask that is black
everywhere is refused (:func:`minivgg.transfer.stylize_images`): its style would act nowhere.

How a mask reaches a layer (:func:`layer_masks`). A VGG19 tap ``convB_C`` sits after ``B - 1``
2x2 poolings (the 3x3 convolutions are padded and keep the size), so its feature map is the image's
size halved ``B - 1`` times, rounded down. The mask is *average-pooled* alongside the network with
the very same 2x2 pooling function (:func:`minivgg.layers.avg_pool2d_forward`, whatever pooling the
network itself uses), so its shape matches the feature map's exactly, odd sizes included, and each
value is the fraction of that position's 2^(B-1) x 2^(B-1) pixel block that lies inside the region.
(The paper also discusses eroding the mask at deep layers, whose neurons see far beyond their block;
we do not: a soft mask edge is the result.)

Masks are stored and resized as 8-bit images with the package's one resize function
(:func:`minivgg.image.resize_image`), so a mask given at any size is fitted to the content's exact
shape at every scale of a multi-scale run.
"""

from __future__ import annotations

import numpy as np

from .errors import UsageError


def load_mask(path) -> np.ndarray:
    """A mask file as an 8-bit greyscale array ``(H, W)`` uint8 (colour files: their luminance)."""
    from .color import luminance, to_uint8
    from .image import load_image

    return to_uint8(luminance(load_image(path)))


def mask_to_uint8(mask, what: str = "mask") -> np.ndarray:
    """A mask as ``(H, W)`` uint8: uint8 arrays are kept, floats must lie in 0..1 (scaled by 255)."""
    m = np.asarray(mask)
    if m.ndim == 3 and m.shape[2] == 3 and m.dtype == np.uint8:
        from .color import luminance, to_uint8

        m = to_uint8(luminance(m))
    if m.ndim != 2 or m.shape[0] < 1 or m.shape[1] < 1:
        raise UsageError(f"{what} must be a greyscale image (H, W), got shape {m.shape}")
    if m.dtype == np.uint8:
        return m
    m = m.astype(np.float64)
    if not np.isfinite(m).all() or m.min() < 0 or m.max() > 1:
        raise UsageError(f"{what} values must lie in 0..1 (or be uint8 0..255)")
    return np.rint(m * 255).astype(np.uint8)


def mask_to_float(mask, what: str = "mask") -> np.ndarray:
    """A mask as ``(H, W)`` float64 in 0..1 (uint8 is divided by 255; floats must lie in 0..1)."""
    m = np.asarray(mask)
    if m.dtype == np.uint8 or m.ndim == 3:
        return mask_to_uint8(m, what).astype(np.float64) / 255.0
    mask_to_uint8(m, what)                          # validates the shape and the range
    return m.astype(np.float64)


def resize_mask(mask, shape) -> np.ndarray:
    """A mask (uint8 ``(h, w)`` or float in 0..1) resized to ``shape = (H, W)``: float64 in 0..1."""
    from .image import resize_image

    m = mask_to_uint8(mask)
    rgb = resize_image(np.repeat(m[:, :, None], 3, axis=2), shape=tuple(shape))
    return rgb[:, :, 0].astype(np.float64) / 255.0


def layer_masks(mask, layers, backend=None) -> dict:
    """``{layer: m_l (1, H_l, W_l)}``: the mask (float ``(H, W)``, the image's size, values 0..1)
    average-pooled to each layer's resolution (see the module docstring)."""
    from .layers import avg_pool2d_forward

    m = np.asarray(mask, dtype=np.float64)[None]
    out = {}
    pools_done = 0
    for name in sorted(set(layers), key=lambda n: int(n[4])):
        need = int(name[4]) - 1                    # convB_C: B - 1 poolings above it
        while pools_done < need:
            m, _ = avg_pool2d_forward(m)
            pools_done += 1
        out[name] = m if backend is None else backend.asarray(m)
    return out


__all__ = ["load_mask", "mask_to_uint8", "mask_to_float", "resize_mask", "layer_masks"]
