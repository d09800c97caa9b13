"""Multi-scale (coarse-to-fine) style transfer: the sizes, the iteration schedule and the upsampling.

Optimising a 512 px image from white noise is slow: every L-BFGS iteration costs a forward and a
backward pass through VGG19 at full size, and the early iterations lay out the coarse structure
(where the sky is, the large strokes), which a 128 px image shows at a sixteenth of the cost.
Coarse-to-fine therefore runs the *same objective* at a sequence of sizes, smallest first, and
starts each size from the previous result, upsampled.

What it does not do, measured (``bench/bench_multiscale.py``, README): reach a given loss at the
final size sooner. At 512 px it was 0.73x to 0.95x as fast as a single-scale run, never faster,
for every loss both reached; at 256 px 0.99x to 1.03x for every loss below the single-scale
100-iteration one. The upsampled start is good for the shallow style layers but poor for conv4_1,
whose style term is most of the loss: at 256 px, after 50 iterations at 128 px and upsampling, it
is 1.5e11, against 4.1e10 after 10 iterations from noise. VGG is not scale-invariant, so texture
that matches the style's conv4_1 statistics at 128 px, upsampled, does not match them at 256 px.
From there the final size's loss falls along the same curve as from noise: the coarse sizes'
iterations are spent, not saved.

Sizes are long sides in pixels (the other side follows the content's aspect ratio, as ``--size``):

* ``--scales 256,512``: exactly these sizes (any order; run smallest first; no duplicates).
* ``--size 512 --levels 3``: ``levels`` sizes, each half the next: ``size / 2^k`` rounded half up,
  i.e. 128, 256, 512. ``--levels 1`` is a plain single-size run.

**Iteration schedule** (:func:`iteration_schedule`). ``--iterations N`` is the count at the
*smallest* size; each larger size gets half the previous one's (rounded up), but never fewer than
``MIN_SCALE_ITERATIONS`` (20, or N itself if N is smaller): ``N=400`` over 128, 256, 512 gives
400, 200, 100. An iteration at twice the size costs four times as much, so the big sizes still
take most of the time -- but much less than N iterations at full size would. To choose every count
yourself give one per size, smallest size first: ``--scale-iterations 300,100,50`` on the command
line, ``iterations=(300, 100, 50)`` (or ``"300,100,50"``) in Python.

**Balance across sizes** (:func:`balanced_style_weight`, ``--balance-size``). With the paper's
normalisations the same alpha and beta do not give the same picture at every size: eq. 1 sums over
the M positions of its layer, so each pixel's content gradient keeps its size as the picture grows,
while eq. 4 divides by M^2 a Gram that grows as M, so each pixel's style gradient shrinks as 1/M. At
twice the long side beta weighs a quarter as much against alpha (and against TV, also a sum over
pixels): defaults that paint at 256 px leave a 2048 px print close to the photo. ``--balance-size
B`` multiplies beta at every size by its pixel count over the count at B px, so each size gets the
balance alpha and beta give at B -- and coarse-to-fine levels all aim at the same look.

**Upsampling** (:func:`upsample_init`). The previous result is turned back into a picture
(:func:`~minivgg.image.deprocess`, which rounds and clips to 0..255), resized with the package's one
resize function (:func:`~minivgg.app.pictures.resize_image`, LANCZOS) to the next size's exact shape, and
preprocessed again. Rounding to 8 bits costs at most half a grey level per pixel, which the next
size's optimisation removes in its first steps.
"""

from __future__ import annotations

import numpy as np

from ..errors import UsageError
from .cli import whole_number
from .pictures import round_half_up

#: The fewest iterations any size but the smallest gets under the halving rule.
MIN_SCALE_ITERATIONS = 20


def parse_scales(text) -> tuple:
    """``"256,512"`` (or a sequence of ints) -> ``(256, 512)``: sizes sorted smallest first.

    UsageError for an empty list, a non-integer or non-positive size, or a size given twice.
    """
    parts = text.split(",") if isinstance(text, str) else list(text)
    if isinstance(text, str) and not text.strip():
        raise UsageError("--scales: give sizes separated by commas, such as 256,512")
    sizes = [whole_number(p, "--scales") for p in parts]
    if not sizes:
        raise UsageError("--scales: give sizes separated by commas, such as 256,512")
    if len(set(sizes)) != len(sizes):
        raise UsageError(f"--scales lists a size twice: {','.join(map(str, sizes))}")
    return tuple(sorted(sizes))


def level_sizes(size: int, levels: int) -> tuple:
    """``levels`` sizes ending at ``size``, each half the next (``size / 2^k`` rounded half up), smallest first."""
    size, levels = whole_number(size, "--size"), whole_number(levels, "--levels")
    sizes = tuple(max(1, round_half_up(size / 2 ** k)) for k in range(levels - 1, -1, -1))
    if len(set(sizes)) != len(sizes):
        raise UsageError(f"--size {size} cannot be halved {levels - 1} times (sizes {sizes}): use fewer --levels")
    return sizes


def resolve_scales(size=None, scales=None, levels=None, min_size: int = 1) -> tuple:
    """The sizes of a run, smallest first, from the command line's ``--size``, ``--scales``, ``--levels``.

    * neither scales nor levels: ``(size,)``;
    * scales (a string or a sequence): those; ``size``, if given, must equal the largest of them;
    * levels: :func:`level_sizes` of ``size`` (which is then required).

    ``min_size``: the smallest size the layers need (see :func:`minivgg.vgg.min_input_size`); a
    smaller one is a UsageError. (It bounds the long side; the short side is checked when the
    images are loaded, since it depends on their aspect ratio.)
    """
    if scales is not None and levels is not None:
        raise UsageError("give --scales or --levels, not both")
    if scales is not None:
        sizes = parse_scales(scales)
        if size is not None and int(size) != sizes[-1]:
            raise UsageError(f"--size {size} differs from the largest of --scales {','.join(map(str, sizes))}; "
                             "drop --size (the largest scale is the output size)")
    elif levels is not None:
        if size is None:
            raise UsageError("--levels needs --size (the output size, the largest level)")
        sizes = level_sizes(size, levels)
    else:
        if size is None:
            raise UsageError("no output size given")
        sizes = (whole_number(size, "--size"),)
    if sizes[0] < min_size:
        raise UsageError(f"the smallest scale, {sizes[0]} px, is below the {min_size} px the chosen layers need: "
                         "use fewer --levels or larger --scales")
    return sizes


def iteration_schedule(iterations: int, n_scales: int, minimum: int = MIN_SCALE_ITERATIONS) -> tuple:
    """Iterations per size, smallest first: ``iterations`` at the smallest, halved (rounded up) at each
    larger one, never below ``min(minimum, iterations)``. One size: ``(iterations,)``."""
    iterations, n_scales = whole_number(iterations, "--iterations"), whole_number(n_scales, "number of scales")
    floor = min(int(minimum), iterations)
    return tuple(max(floor, -(-iterations // 2 ** k)) for k in range(n_scales))


def balanced_style_weight(beta: float, hw, balance_hw) -> float:
    """beta for a picture of ``hw = (H, W)`` px that keeps the content/style balance ``beta`` has at
    ``balance_hw``: beta times the ratio of pixel counts (module docstring, "Balance across sizes").
    The per-pixel style gradient (eq. 6) is ~1/M of the content's (eq. 2), and M, every layer's
    number of positions, is proportional to the pixels."""
    return float(beta) * (int(hw[0]) * int(hw[1])) / (int(balance_hw[0]) * int(balance_hw[1]))


def parse_iterations(value, n_scales: int) -> tuple:
    """``--iterations``: one count (the halving schedule) or a comma list with one count per size."""
    if isinstance(value, str) and "," in value:
        counts = tuple(whole_number(p, "--iterations") for p in value.split(","))
    elif isinstance(value, (list, tuple)):
        counts = tuple(whole_number(p, "--iterations") for p in value)
        if len(counts) == 1:
            return iteration_schedule(counts[0], n_scales)
    else:
        return iteration_schedule(whole_number(value, "--iterations"), n_scales)
    if len(counts) != n_scales:
        raise UsageError(f"--iterations has {len(counts)} counts for {n_scales} scales: give one count, "
                         "or one per scale (smallest scale first)")
    return counts


def upsample_init(x_prev, new_shape):
    """The previous scale's result resized to ``new_shape = (H, W)``, as the next scale's start.

    ``x_prev``: an RGB uint8 picture ``(h, w, 3)`` -> RGB uint8 ``(H, W, 3)``; or a network input
    ``(3, h, w)`` (NumPy or CuPy, any float dtype) -> ``(3, H, W)`` of the same array module and dtype.
    ``new_shape`` may also be ``(3, H, W)``. Resizing is :func:`minivgg.app.pictures.resize_image` (LANCZOS).
    """
    from ..backend import get_array_module, to_numpy
    from ..image import deprocess, preprocess
    from .pictures import resize_image

    shape = tuple(int(s) for s in new_shape)
    if len(shape) == 3 and shape[0] == 3:
        shape = shape[1:]
    if len(shape) != 2:
        raise UsageError(f"upsample_init: new_shape must be (H, W), got {tuple(new_shape)}")
    if isinstance(x_prev, np.ndarray) and x_prev.dtype == np.uint8:
        return resize_image(x_prev, shape=shape)
    if x_prev.ndim != 3 or x_prev.shape[0] != 3:
        raise UsageError(f"upsample_init: expected an RGB uint8 (h, w, 3) or a network input (3, h, w), "
                         f"got {x_prev.dtype} {tuple(x_prev.shape)}")
    xp = get_array_module(x_prev)
    rgb = resize_image(deprocess(to_numpy(x_prev)), shape=shape)
    return xp.asarray(preprocess(rgb).astype(x_prev.dtype, copy=False))


__all__ = ["MIN_SCALE_ITERATIONS", "parse_scales", "level_sizes", "resolve_scales", "iteration_schedule",
           "parse_iterations", "upsample_init"]
