"""VGG19 (Simonyan & Zisserman 2014), the frozen feature extractor of Gatys et al.

The network is 16 3x3 convolutions in 5 blocks, each followed by a ReLU, with a 2x2 pooling
between blocks (the table is :mod:`minivgg.architecture`)::

    block 1: conv1_1 conv1_2            pool1   (64 channels)
    block 2: conv2_1 conv2_2            pool2   (128)
    block 3: conv3_1 .. conv3_4         pool3   (256)
    block 4: conv4_1 .. conv4_4         pool4   (512)
    block 5: conv5_1 .. conv5_4                 (512)

A *tap* named ``convB_C`` is the ReLU output of that convolution: Caffe applies ReLU in place,
so in the paper "conv4_2" means the rectified response. ``forward`` runs only as deep as the
deepest tap asked for, recording each layer's cache on a tape; ``backward`` takes gradients at any
number of taps and carries them to the image in one pass down the tape, adding each tap's gradient
in as the pass reaches it. No weight gradients are ever computed here: the network is frozen, only
the image is optimised.

Each convolution is a layer object with ``forward(x) -> (out, cache)`` and
``backward_dx(dout, cache) -> dx``: :class:`minivgg.layers.conv.FrozenConv2d` (the loops) or, by
default, its faster twin from the engine room (:func:`minivgg.fast.conv_layers`, chosen by
``conv_algo``), which computes the same numbers.

Input ``x: (3, H, W)``, BGR, 0..255 minus the ImageNet mean (see :mod:`minivgg.image`).
"""

from __future__ import annotations

from .architecture import LAYER_NAMES, check_input_size, check_layer_names
from .backend import get_backend
from .errors import UsageError
from .fast import conv_layers
from .layers import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
    relu_backward,
    relu_forward,
)

POOLINGS = {"avg": (avg_pool2d_forward, avg_pool2d_backward),
            "max": (max_pool2d_forward, max_pool2d_backward)}


class VGG19:
    """The frozen VGG19 feature extractor. Build it with :meth:`load` (or from a params dict)."""

    def __init__(self, params: dict, pooling: str = "avg", device="cpu", dtype="float32",
                 conv_algo: str | None = None, meta: dict | None = None):
        if pooling not in POOLINGS:
            raise UsageError(f"unknown pooling {pooling!r}: choose avg or max")
        self.backend = get_backend(device, dtype)
        self.xp = self.backend.xp
        self.dtype = self.backend.dtype
        self.pooling = pooling
        self.meta = meta or {}
        missing = [n for n in LAYER_NAMES if n not in params]
        if missing:
            raise UsageError(f"weights lack layer {missing[0]}")
        self.params = {n: (self.backend.asarray(params[n][0]), self.backend.asarray(params[n][1]))
                       for n in LAYER_NAMES}
        self.layer_names = LAYER_NAMES
        # One layer object per convolution, by conv_algo (None: the default). They keep whatever
        # they derive from the weights: valid because the weights never change.
        self.convs = conv_layers(self.params, conv_algo)
        self.conv_algo = self.convs[LAYER_NAMES[0]].conv_algo
        self._tape = None

    @classmethod
    def load(cls, path=None, pooling: str = "avg", device="cpu", dtype="float32", conv_algo: str | None = None):
        """The network with the converted weights at ``path`` (default: see ``weights.default_weights_path``)."""
        from .weights import load_weights

        params, meta = load_weights(path, dtype=dtype)
        return cls(params, pooling=pooling, device=device, dtype=dtype, conv_algo=conv_algo, meta=meta)

    def channels(self, name: str) -> int:
        """Number of feature maps N_l of tap ``name``."""
        return int(self.params[name][0].shape[0])

    # ------------------------------------------------------------------------------------------
    def forward(self, x, layers):
        """Run the image to the deepest of ``layers``. x: (3, H, W) -> {name: (N_l, H_l, W_l)}.

        Remembers what :meth:`backward` needs (the ReLU masks, the pooling caches).
        """
        layers = check_layer_names(layers)
        if not layers:
            raise UsageError("no layers requested")
        if x.ndim != 3 or x.shape[0] != 3:
            raise UsageError(f"input must be (3, H, W), got shape {tuple(x.shape)}")
        check_input_size(x.shape[1:], layers, "input")
        x = self.backend.asarray(x)
        wanted = set(layers)
        last = max(LAYER_NAMES.index(n) for n in layers)
        pool_fwd, _ = POOLINGS[self.pooling]
        tape = []          # (kind, name, cache) in forward order
        taps = {}
        h = x
        for i, name in enumerate(LAYER_NAMES[:last + 1]):
            if i > 0 and name.endswith("_1"):          # a new block starts: pool the previous one
                h, cache = pool_fwd(h)
                tape.append(("pool", None, cache))
            h, cache = self.convs[name].forward(h)
            tape.append(("conv", name, cache))
            h, cache = relu_forward(h, inplace=True)      # h is the conv's fresh output: ours to overwrite
            tape.append(("relu", name, cache))
            if name in wanted:
                taps[name] = h
        self._tape = tape
        return taps

    def backward(self, grads_by_tap: dict):
        """dL/dx, given dL/d(tap) for some taps of the last forward. Returns (3, H, W)."""
        if self._tape is None:
            raise RuntimeError("backward() before forward()")
        names = check_layer_names(grads_by_tap)
        recorded = {name for kind, name, _ in self._tape if kind == "relu"}
        for n in names:
            if n not in recorded:
                raise ValueError(f"no gradient path: tap {n} was not reached by the last forward()")
        _, pool_bwd = POOLINGS[self.pooling]
        g = None
        for kind, name, cache in reversed(self._tape):
            if kind == "relu":
                # ``g`` may be overwritten in place unless it is the caller's own tap gradient.
                owned = g is not None
                if name in grads_by_tap:
                    tap_grad = self.backend.asarray(grads_by_tap[name])
                    g = tap_grad if g is None else g + tap_grad
                if g is None:        # nothing flows yet: below the deepest tap with a gradient
                    continue
                g = relu_backward(g, cache, inplace=owned)
            elif g is None:
                continue
            elif kind == "conv":
                g = self.convs[name].backward_dx(g, cache)
            else:
                g = pool_bwd(g, cache)
        if g is None:
            raise ValueError("backward() got no tap gradients")
        return g


def main(argv=None) -> int:
    """``python -m minivgg.vgg summary --size N``: what each layer costs (see :mod:`minivgg.machine.cost`)."""
    from .machine.cost import summary_main

    return summary_main(argv)


if __name__ == "__main__":
    import sys

    from .app.cli import run_main

    sys.exit(run_main(main, prog="python -m minivgg.vgg"))
