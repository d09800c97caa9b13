"""ReLU, ``max(x, 0)``, forward and backward.

Shapes: any; ``x`` and ``out`` alike.

The gradient passes where the unit was active and is cut where it was not. At exactly ``x == 0``
the function has no derivative; we use 0 there (the usual subgradient choice, and Caffe's).
The cache is the output itself: ``out > 0`` is the same mask as ``x > 0``, so nothing extra is stored.
"""

from ..backend import get_array_module


def relu_forward(x):
    """out = max(x, 0). Returns (out, cache)."""
    xp = get_array_module(x)
    out = xp.maximum(x, 0)
    return out, out


def relu_backward(dout, cache):
    """dx = dout where the unit was active (out > 0), else 0."""
    out = cache
    return dout * (out > 0)
