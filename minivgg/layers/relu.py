"""ReLU, ``max(x, 0)``, forward and backward.

Shapes: any; ``x`` and ``out`` alike.

The gradient passes where the unit was active and is cut where it was not. At exactly ``x == 0``
the function has no derivative; we use 0 there (the usual subgradient choice, and Caffe's).
The cache is the output itself: ``out > 0`` is the same mask as ``x > 0``, so nothing extra is stored.

``inplace=True`` overwrites the input instead of allocating a new array, like Caffe's in-place
ReLU. Only for arrays nobody else holds (a conv output the network just made): at 512 px one
conv1 map is 67 MB, and a fresh array that size costs more in page faults than the ReLU itself.
"""

from ..backend import get_array_module


def relu_forward(x, inplace: bool = False):
    """out = max(x, 0). Returns (out, cache)."""
    xp = get_array_module(x)
    out = xp.maximum(x, 0, out=x if inplace else None)
    return out, out


def relu_backward(dout, cache, inplace: bool = False):
    """dx = dout where the unit was active (out > 0), else 0."""
    xp = get_array_module(dout)
    out = cache
    return xp.multiply(dout, out > 0, out=dout if inplace else None)
