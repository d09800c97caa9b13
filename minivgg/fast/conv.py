"""The frozen convolution layer of :mod:`minivgg.layers.conv`, by the engine room's algorithms.

A frozen network's weights never change, so whatever an algorithm derives from them is computed
once, on first use, and kept on the layer: the flipped kernel of dx, MEC's kernel rows, shift-add's
stacked taps, Winograd's transformed weights ``U = G W G^T``. :class:`PreparedKernel` holds one
kernel and its layouts; a :class:`FastConv2d` holds two, W for the forward and W_flipped for dx.

:func:`conv_layers` is the one call the network makes: ``conv_algo`` in, one layer object per
convolution out.
"""

from __future__ import annotations

from functools import cached_property

from ..backend import device_of
from ..layers.conv import FrozenConv2d, flip_kernel
from .direct import conv2d_im2col, conv2d_mec, conv2d_shiftadd, mec_weights, shiftadd_weights
from .policy import DEFAULT_ALGO, ConvPlan, check_conv_algo
from .policy import plan as policy_plan
from .winograd import conv2d_winograd, transform_weights


class PreparedKernel:
    """A kernel ``W (O, C, k, k)`` and its layout for each algorithm, each made on first use."""

    def __init__(self, W):
        self.W = W

    @cached_property
    def mec_rows(self):
        return mec_weights(self.W)

    @cached_property
    def shiftadd_taps(self):
        return shiftadd_weights(self.W)

    @cached_property
    def winograd_f4(self):
        return transform_weights(self.W, 4)

    @cached_property
    def winograd_f2(self):
        return transform_weights(self.W, 2)

    def layouts(self) -> dict:
        """The layouts made so far: name -> array (W itself included)."""
        return {"W": self.W, **{k: v for k, v in vars(self).items() if k != "W"}}

    def conv(self, algorithm: str, x, b, pad: int):
        """The convolution of x (C, H, W) with this kernel, + b (O,) or None, by ``algorithm``: a name
        that :func:`~minivgg.fast.policy.algorithm` returns, not a policy. -> (O, Ho, Wo)."""
        if algorithm == "im2col":
            return conv2d_im2col(x, self.W, b, pad)
        if algorithm == "mec":
            return conv2d_mec(x, self.W, b, pad, Wrows=self.mec_rows)
        if algorithm == "shiftadd":
            return conv2d_shiftadd(x, self.W, b, pad, Wtaps=self.shiftadd_taps)
        if algorithm == "winograd":
            return conv2d_winograd(x, self.W, b, pad, U=self.winograd_f4, m=4)
        if algorithm == "winograd2":
            return conv2d_winograd(x, self.W, b, pad, U=self.winograd_f2, m=2)
        raise ValueError(f"no such convolution algorithm here: {algorithm!r}")


class FastConv2d(FrozenConv2d):
    """:class:`~minivgg.layers.conv.FrozenConv2d` (same methods, same numbers up to rounding) with
    the algorithms :func:`~minivgg.fast.policy.plan` picks for each pass. The reference it must equal is the
    loops: :func:`~minivgg.layers.conv.conv2d_naive_forward` and
    :func:`~minivgg.layers.conv.conv2d_naive_backward_dx`.
    """

    def __init__(self, W, b, pad: int = 1, conv_algo: str = DEFAULT_ALGO):
        super().__init__(W, b, pad)
        self.conv_algo = conv_algo
        self.kernel = PreparedKernel(W)

    @cached_property
    def flipped(self) -> PreparedKernel:
        """The kernel of dx, ``flip_kernel(W)`` (C, O, k, k): made on the first backward pass."""
        return PreparedKernel(flip_kernel(self.W))

    def plan(self, H: int, W: int) -> ConvPlan:
        """The algorithms this layer runs, forward and dx, for an input of H x W (on its weights' device)."""
        O, C, k, _ = self.W.shape
        return policy_plan(self.conv_algo, C, O, H, W, k, self.pad, device_of(self.W))

    def forward(self, x):
        """x: (C, H, W) -> (out: (O, Ho, Wo), cache): the book's (1) by ``plan(H, W).forward``."""
        return self.kernel.conv(self.plan(x.shape[1], x.shape[2]).forward, x, self.b, self.pad), x.shape

    def backward_dx(self, dout, cache):
        """dout: (O, Ho, Wo) -> dx: (C, H, W): the book's (2), ``conv(dout, W_flipped, pad=k-1-pad)``,
        by ``plan(H, W).dx``."""
        k = self.W.shape[2]
        if self.pad > k - 1:
            raise ValueError(f"pad {self.pad} > k-1 = {k - 1} is not supported by the fast backward")
        return self.flipped.conv(self.plan(cache[1], cache[2]).dx, dout, None, k - 1 - self.pad)


def _layer(W, b, pad: int, conv_algo: str) -> FrozenConv2d:
    return FrozenConv2d(W, b, pad) if conv_algo == "naive" else FastConv2d(W, b, pad, conv_algo)


def make_conv(W, b, pad: int = 1, conv_algo: str | None = None) -> FrozenConv2d:
    """The layer object for one frozen convolution: the book's loops for ``"naive"``, else a FastConv2d.

    W: (O, C, k, k); b: (O,) or None; conv_algo: one of :data:`~minivgg.fast.policy.CONV_ALGOS` (None: the default).
    """
    return _layer(W, b, pad, check_conv_algo(conv_algo))


def conv_layers(params: dict, conv_algo: str | None = None, pad: int = 1) -> dict:
    """One layer object per convolution: ``params`` name -> (W, b) in, name -> layer out.

    ``conv_algo`` is checked here, once (a UsageError if unknown; None: the default), and handed to
    every layer as it is.
    """
    conv_algo = check_conv_algo(conv_algo)
    return {name: _layer(W, b, pad, conv_algo) for name, (W, b) in params.items()}
