"""The engine room: faster ways to compute the book's convolution, and which one runs where.

Optional reading. Every number computed here is defined in :mod:`minivgg.layers.conv` (the loops,
im2col, dx as the flipped-kernel convolution), and the tests hold each algorithm to it.

* :mod:`~minivgg.fast.direct`: chunked im2col, MEC, shift-add (the direct convolution's
  multiplies, laid out for BLAS).
* :mod:`~minivgg.fast.winograd`: Winograd F(4x4, 3x3) and F(2x2, 3x3) (fewer multiplies).
* :mod:`~minivgg.fast.policy`: ``conv_algo``, and which algorithm it runs for each layer's
  forward and dx (:func:`plan`).
* :mod:`~minivgg.fast.conv`: one object per frozen layer, holding its weights in each
  algorithm's layout; :func:`conv_layers` makes them, the one call the network makes.
"""

from .conv import FastConv2d, PreparedKernel, conv_layers, make_conv
from .policy import CONV_ALGOS, DEFAULT_ALGO, ConvPlan, check_conv_algo, plan

__all__ = ["conv_layers", "make_conv", "FastConv2d", "PreparedKernel",
           "CONV_ALGOS", "DEFAULT_ALGO", "ConvPlan", "check_conv_algo", "plan"]
