"""The shape of VGG19 (Simonyan & Zisserman 2014): which convolutions, how wide, in what order.

Sixteen 3x3 convolutions (stride 1, pad 1) in five blocks, each followed by a ReLU, with a 2x2
pooling between blocks::

    block 1: conv1_1 conv1_2            pool1   (64 channels)
    block 2: conv2_1 conv2_2            pool2   (128)
    block 3: conv3_1 .. conv3_4         pool3   (256)
    block 4: conv4_1 .. conv4_4         pool4   (512)
    block 5: conv5_1 .. conv5_4                 (512)

Only the shape lives here, no computation, so that the network (:mod:`minivgg.vgg`), the weights
file (:mod:`minivgg.weights`) and the cost table (:mod:`minivgg.machine.cost`) can all read it without
importing one another.
"""

from __future__ import annotations

import numpy as np

from .errors import UsageError

BLOCK_SIZES = (2, 2, 4, 4, 4)                  # convolutions per block
VGG19_CHANNELS = (64, 128, 256, 512, 512)      # output channels of every convolution in a block
LAYER_NAMES = tuple(f"conv{b}_{c}" for b, n in enumerate(BLOCK_SIZES, 1) for c in range(1, n + 1))


def layer_widths(block_widths=VGG19_CHANNELS) -> tuple:
    """Output channels of each convolution, in LAYER_NAMES order, from one width per block."""
    return tuple(w for n, w in zip(BLOCK_SIZES, block_widths, strict=True) for _ in range(n))


def check_layer_names(names, what: str = "layer") -> tuple:
    """The names as a tuple, or a UsageError naming the first unknown one."""
    names = tuple(names)
    for n in names:
        if n not in LAYER_NAMES:
            raise UsageError(f"unknown {what} {n!r}: VGG19 layers are {', '.join(LAYER_NAMES)}")
    return names


def poolings_above(name: str) -> int:
    """How many 2x2 poolings lie between the image and tap ``name``: convB_C has B - 1."""
    return int(check_layer_names([name])[0][4]) - 1


def min_input_size(layers) -> int:
    """Smallest H (and W) for which every tap in ``layers`` exists: each pool before it halves the map."""
    deepest = max(LAYER_NAMES.index(n) for n in check_layer_names(layers))
    return 2 ** poolings_above(LAYER_NAMES[deepest])


def tap_shape(hw, name: str) -> tuple:
    """``(H_l, W_l)`` of tap ``name`` for an image of ``hw = (H, W)``: halved (rounded down) once
    per pooling above it; the padded 3x3 convolutions keep the size."""
    h, w = (int(v) for v in hw)
    for _ in range(poolings_above(name)):
        h, w = h // 2, w // 2
    return h, w


def receptive_field(name: str) -> int:
    """Side in input pixels of the square that one position of tap ``name`` sees (its receptive field).

    Walk down the network with the field ``r`` and the step ``s`` between neighbouring positions of
    the current map, in input pixels: a 3x3 convolution adds a neighbour on each side (``r += 2 s``);
    a 2x2 pooling adds one more position (``r += s``) and doubles the step. conv1_1: 3 px,
    conv4_2: 84 px, conv5_1: 156 px.
    """
    name = check_layer_names([name])[0]
    r, s = 1, 1
    for i, layer in enumerate(LAYER_NAMES[:LAYER_NAMES.index(name) + 1]):
        if i > 0 and layer.endswith("_1"):       # a new block: the previous one was pooled
            r, s = r + s, 2 * s
        r += 2 * s
    return r


def deepest_layer(layers) -> str:
    """The tap of ``layers`` furthest down the network (the one a forward pass must reach)."""
    return max(check_layer_names(layers), key=LAYER_NAMES.index)


def check_input_size(hw, layers, what: str = "image", where: str = "") -> None:
    """UsageError unless an image of ``hw = (H, W)`` reaches every tap of ``layers``.

    The one message for "too small": ``the {what} is WxH px{where}, too small for layer L: it needs
    at least N px on each side`` (``where``: e.g. " after resizing").
    """
    if not layers:
        return
    need = min_input_size(layers)
    if min(int(v) for v in hw) < need:
        raise UsageError(f"the {what} is {hw[1]}x{hw[0]} px{where}, too small for layer {deepest_layer(layers)}: "
                         f"it needs at least {need} px on each side (each pooling halves the image)")


def random_params(widths=(4, 6, 6, 8, 8), seed: int = 0) -> dict:
    """Random VGG19-shaped parameters, float64: name -> (W (O, C, 3, 3), b (O,)).

    ``widths``: output channels of the 5 blocks (VGG19's are VGG19_CHANNELS; small ones make a
    network that runs in milliseconds, for tests and gradient checks). W is He-normal,
    ``N(0, 2 / (C * 9))``, so activations keep their scale through the ReLU chain as a trained
    network's roughly do; b is small noise, so that biases take part too.
    """
    rng = np.random.default_rng(seed)
    params, cin = {}, 3
    for name, out in zip(LAYER_NAMES, layer_widths(widths), strict=True):
        W = rng.standard_normal((out, cin, 3, 3)) * np.sqrt(2.0 / (cin * 9))
        params[name] = (W, 0.01 * rng.standard_normal(out))
        cin = out
    return params
