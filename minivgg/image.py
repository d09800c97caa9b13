"""The network's input convention: pictures to VGG19 inputs and back.

The VGG19 weights minivgg uses were trained in Caffe (Simonyan & Zisserman, 2014). Caffe read
images with OpenCV, which stores channels as **B, G, R**, kept pixel values in **0..255** and
subtracted the **per-channel mean of the ImageNet training set**. The first convolution's filters
learned that exact convention, so the network only "sees" properly if we feed it the same thing:

* channel order BGR (feeding RGB swaps what the red- and blue-sensitive filters look at),
* values 0..255, not 0..1 (the filters' weights and biases assume that scale),
* minus ``MEAN_BGR`` (so inputs are roughly centred, as in training),
* layout ``(3, H, W)``: channels first, as our convolution layers expect.

Loading, resizing and saving pictures is the application's business (:mod:`minivgg.app.pictures`).
"""

from __future__ import annotations

import numpy as np

from .backend import device_of, to_numpy
from .errors import MinivggError, UsageError

#: ImageNet mean pixel in B, G, R order, in 0..255 (the Caffe VGG release's values).
MEAN_BGR = (103.939, 116.779, 123.68)


def check_rgb(rgb, what: str = "image") -> np.ndarray:
    """``rgb`` as a host NumPy uint8 array of shape (H, W, 3) with H, W >= 1, else UsageError.

    A CuPy array is copied to the host: pictures are read, written and resized there.
    """
    if device_of(rgb) == "gpu":
        rgb = to_numpy(rgb)
    if not isinstance(rgb, np.ndarray):
        raise UsageError(f"{what} must be a NumPy uint8 array of shape (H, W, 3), got {type(rgb).__name__}")
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise UsageError(f"{what} must be a uint8 array of shape (H, W, 3), got {rgb.dtype} {rgb.shape}")
    if rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise UsageError(f"{what} is empty: shape {rgb.shape}")
    return rgb


def preprocess(rgb, backend=None):
    """RGB uint8 (H, W, 3) -> network input (3, H, W): BGR, 0..255, minus ``MEAN_BGR``.

    Without ``backend`` the result is a NumPy float32 array; with one (a
    :class:`minivgg.backend.Backend`) it is ``backend.asarray(...)``: on its device, in its dtype.
    """
    rgb = check_rgb(rgb, "preprocess input")
    dtype = np.float32 if backend is None else backend.dtype
    # [..., ::-1] turns RGB into BGR; transpose makes it channels-first.
    x = rgb[:, :, ::-1].transpose(2, 0, 1).astype(dtype)
    x -= np.asarray(MEAN_BGR, dtype=dtype).reshape(3, 1, 1)
    x = np.ascontiguousarray(x)
    return x if backend is None else backend.asarray(x)


def deprocess(x) -> np.ndarray:
    """Network input (3, H, W) (NumPy or CuPy) -> RGB uint8 (H, W, 3).

    Adds ``MEAN_BGR`` back, reorders BGR to RGB, rounds to the nearest integer and clips to 0..255
    (optimisation happily pushes pixels outside the displayable range). NaN -> MinivggError.
    """
    a = to_numpy(x)
    if a.ndim != 3 or a.shape[0] != 3 or a.shape[1] < 1 or a.shape[2] < 1:
        raise UsageError(f"deprocess expects an array of shape (3, H, W), got {a.shape}")
    a = a.astype(np.float64)
    if np.isnan(a).any():
        raise MinivggError("the image contains NaN values (the optimisation diverged; try a "
                           "smaller learning rate or style weight)")
    a = a + np.asarray(MEAN_BGR).reshape(3, 1, 1)
    rgb = a[::-1].transpose(1, 2, 0)  # BGR -> RGB, channels-last
    return np.ascontiguousarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8))


__all__ = ["MEAN_BGR", "check_rgb", "preprocess", "deprocess"]
