"""Which algorithm computes each convolution, forward and dx: the one place that decides (and says).

``conv_algo`` (``VGG19.load(..., conv_algo=...)``) names one algorithm for every convolution, or
a policy that picks one per convolution:

* ``naive``: the loops of :mod:`minivgg.layers.conv` (the reference; slow).
* ``im2col``, ``mec``, ``shiftadd``: the direct method's multiplies, :mod:`minivgg.fast.direct`.
* ``winograd``: F(4x4, 3x3); ``winograd2``: F(2x2, 3x3) (:mod:`minivgg.fast.winograd`). Kernels
  other than 3x3, or pads outside 0..2, run im2col instead.
* ``direct``: per convolution, the fastest of those that do the direct method's multiplies
  (:func:`choose_direct`).
* ``auto`` (the default): per convolution, Winograd F(4x4, 3x3) where it pays (>= 128 channels on
  both sides, >= 16 x 16 pixels), else as ``direct`` (:func:`choose_algo`).

The table depends on the device. On the CPU the choice is by BLAS efficiency and cache size (the
measurements below). On a GPU the cost that dominates is different: every array operation is a
kernel launch with a fixed cost of several microseconds, and cuBLAS wants large contiguous
matrices. So there ``direct`` is im2col over the whole layer (one GEMM: MEC's k GEMMs take strided
windows that CuPy would copy first, shift-add is k*k adds), and ``auto`` is Winograd where the CPU
table puts it and the layer has the work to pay for its extra launches (``GPU_WINOGRAD_MIN_WORK``),
else that im2col; the engine's chunks are the whole layer up to a bound
(:func:`minivgg.fast.direct.chunk_pixels`). Timed on an H200 (bench/README.md, "GPU").

A layer runs two convolutions a step: the forward, C -> O channels on its input, and dx, the
book's equation (2): the flipped kernel over ``dout``, O -> C channels with pad ``k-1-pad``. The
policy sees each as a convolution in its own right, so dx may run another algorithm than the
forward: VGG's conv1_1 (3 -> 64) runs im2col forward but shift-add for dx (64 -> 3).
:func:`plan` gives both for one layer at one size; the layers call it on every pass, and
``python -m minivgg.vgg summary --size N`` prints it for the whole network.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError

CONV_ALGOS = ("naive", "im2col", "mec", "shiftadd", "direct", "winograd", "winograd2", "auto")

# auto = per layer, Winograd F(4x4, 3x3) where it pays, a direct algorithm where it does not:
# the fastest here (see bench/bench_vgg.py).
DEFAULT_ALGO = "auto"

# Fewer channels than this on one side make im2col's and MEC's GEMMs too thin: the direct
# choice is im2col for few inputs (VGG's conv1_1, C = 3) and shiftadd for few outputs (its dx,
# 64 -> 3 channels).
FEW_CHANNELS = 16

# Winograd's tile transforms cost per channel what its products save per channel *pair*, so it
# pays only with many channels on both sides. Measured on the 2-core machine (bench/bench_vgg.py,
# 2026-11-29): MEC wins at 64 -> 64 (146 vs 176 ms at 512 px) and 64 <-> 128; Winograd wins from
# 128 -> 128 (106 vs 134 ms at 256 px) up.
WINOGRAD_MIN_CHANNELS = 128

# ... and enough pixels: on a tiny map (VGG's conv4/conv5 of a 32-64 px image) the tiles are
# mostly padding and its 38 BLAS calls per chunk cost more than the multiplies. Measured: at 512
# channels MEC wins at 8 x 8 (2.5 vs 3.4 ms), Winograd from 16 x 16 (5.3 vs 8.5 ms).
WINOGRAD_MIN_PIXELS = 16 * 16

# On a GPU a small layer's time is its kernel launches, and Winograd launches more of them than
# im2col (8 to 5 a pass): it pays only on layers with enough work, C*O*H*W >= this (about 19 GFLOP
# a pass). Measured on an H200 (bench/bench_vgg.py --device gpu, 2026-11-30, forward ms im2col vs
# Winograd): im2col won at 128 -> 128 on 128 x 128 (0.4 vs 0.5) and at 128 -> 256 on 128 x 128
# (0.5 vs 0.6, C*O*H*W = 2^29), tied at 256 -> 512 on 64 x 64; Winograd won from 2^30 up
# (256 -> 256 on 128 x 128 and 512 -> 512 on 64 x 64: 0.5 vs 0.8).
GPU_WINOGRAD_MIN_WORK = 1 << 30


def check_conv_algo(conv_algo: str | None) -> str:
    """``conv_algo``, or DEFAULT_ALGO for None; a UsageError for an unknown name."""
    if conv_algo is None:
        return DEFAULT_ALGO
    if conv_algo not in CONV_ALGOS:
        raise UsageError(f"unknown conv algorithm {conv_algo!r}: choose one of {', '.join(CONV_ALGOS)}")
    return conv_algo


def choose_direct(C: int, O: int, device: str = "cpu") -> str:
    """What ``direct`` runs for a C -> O channel convolution: the fastest algorithm that does the
    direct method's multiplies (no Winograd), i.e. on the CPU im2col with few inputs, shiftadd with
    few outputs, else MEC; on a GPU im2col (see the module docstring)."""
    if device != "cpu":
        return "im2col"
    if O < FEW_CHANNELS <= C:
        return "shiftadd"
    if C < FEW_CHANNELS:
        return "im2col"
    return "mec"


def choose_algo(C: int, O: int, k: int = 3, pad: int = 1, pixels: int | None = None, device: str = "cpu") -> str:
    """What ``auto`` runs for a C -> O channel k x k convolution of an input of ``pixels`` = H*W
    (None: a large one) on ``device`` ("cpu" or "gpu")."""
    big = pixels is None or pixels >= WINOGRAD_MIN_PIXELS
    if device != "cpu" and pixels is not None:
        big = C * O * pixels >= GPU_WINOGRAD_MIN_WORK
    if k == 3 and 0 <= pad <= 2 and min(C, O) >= WINOGRAD_MIN_CHANNELS and big:
        return "winograd"
    return choose_direct(C, O, device)


def algorithm(conv_algo: str, C: int, O: int, k: int, pad: int, pixels: int, device: str = "cpu") -> str:
    """The algorithm that runs one C -> O channel k x k convolution of an input of ``pixels`` = H*W
    under ``conv_algo`` on ``device``: never a policy ("auto", "direct"), always what actually runs."""
    if conv_algo == "auto":
        return choose_algo(C, O, k, pad, pixels, device)
    if conv_algo == "direct":
        return choose_direct(C, O, device)
    if conv_algo in ("winograd", "winograd2") and not (k == 3 and 0 <= pad <= 2):
        return "im2col"
    return conv_algo


@dataclass(frozen=True)
class ConvPlan:
    """The algorithms one layer runs at one input size: ``forward`` and ``dx``."""

    forward: str
    dx: str


def plan(conv_algo: str, C: int, O: int, H: int, W: int, k: int = 3, pad: int = 1, device: str = "cpu") -> ConvPlan:
    """What a C -> O channel k x k layer runs, forward and dx, on an input of H x W under ``conv_algo``
    on ``device`` ("cpu" or "gpu").

    dx is a convolution of dout (Ho x Wo) with the flipped kernel: O -> C channels, pad k-1-pad.
    """
    Ho, Wo = H + 2 * pad - k + 1, W + 2 * pad - k + 1
    return ConvPlan(forward=algorithm(conv_algo, C, O, k, pad, H * W, device),
                    dx=algorithm(conv_algo, O, C, k, k - 1 - pad, Ho * Wo, device))
