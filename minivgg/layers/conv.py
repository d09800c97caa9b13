"""2-D convolution (cross-correlation, as in Caffe and every deep-learning library): forward and backward.

Shapes, for one image::

    x:   (C, H, W)            input
    W:   (O, C, k, k)         weights (O output channels)
    b:   (O,)                 bias
    out: (O, Ho, Wo)          Ho = H + 2*pad - k + 1 (stride 1), likewise Wo

    out[o, y, x] = b[o] + sum_{c, i, j} W[o, c, i, j] * xpad[c, y + i, x + j]           (1)

VGG only ever uses k = 3, pad = 1 (so Ho = H); nothing here depends on that.

Read it in this order:

1. :func:`conv2d_naive_forward` and :func:`conv2d_naive_backward`: (1) as loops, and its gradients
   as loops: each output's gradient is added back into the k x k input window (and the weights)
   that made it.
2. :func:`conv2d_forward`: the same sum as ONE matrix product. :func:`im2col` copies every k x k
   window into a column, so (1) becomes ``W.reshape(O, C*k*k) @ cols``, which BLAS runs near the
   machine's peak.
3. :func:`conv2d_backward_dx`: the input gradient is itself a convolution (below), so the
   forward's code computes it; :func:`conv2d_backward` adds ``dW = dout @ cols^T`` and ``db``.
4. :class:`FrozenConv2d`: the layer as the network holds it (weights fixed, only dx wanted).

The input gradient is a convolution with the flipped kernel
-----------------------------------------------------------
By (1), the padded input ``xpad[c, u, v]`` reached ``out[o, u - i, v - j]`` through ``W[o, c, i, j]``,
so (dout taken as 0 outside its bounds)::

    dxpad[c, u, v] = sum_{o, i, j} dout[o, u - i, v - j] * W[o, c, i, j]

Write i = k-1-i', j = k-1-j' and pad dout by k-1 on every side: ``dout[o, u - i, v - j]`` becomes
``doutpad[o, u + i', v + j']``, and the sum is (1) again, over ``o`` instead of ``c``::

    dxpad[c, u, v] = sum_{o, i', j'} W_flipped[c, o, i', j'] * doutpad[o, u + i', v + j']

    W_flipped[c, o, i, j] = W[o, c, k-1-i, k-1-j]    (in and out channels swapped, turned 180 degrees)

Cropping ``pad`` off dxpad is padding dout by ``k-1-pad`` instead of ``k-1``::

    dx = conv(dout, W_flipped, pad = k-1-pad)                                              (2)

The naive backward's loop and (2) add up the same products in different orders; a test checks
that they agree. Note the swap: dx of a C -> O convolution is an O -> C convolution.

Speed lives in the engine room, :mod:`minivgg.fast`: the same (1) and (2) by chunked im2col, MEC,
shift-add and Winograd, each tested equal to the loops here. Weight gradients are only here: the
network is frozen, so the engine room never computes them.
"""

from __future__ import annotations

from ..backend import get_array_module


def _out_size(n: int, k: int, pad: int) -> int:
    return n + 2 * pad - k + 1


# ----------------------------------------------------------------------------------------------
# 1. the definition, as loops
# ----------------------------------------------------------------------------------------------

def conv2d_naive_forward(x, W, b, pad: int = 1):
    """(1) by explicit loops. x: (C, H, W); W: (O, C, k, k); b: (O,) -> (out: (O, Ho, Wo), cache)."""
    xp = get_array_module(x)
    O, C, k, _ = W.shape
    _, H, Wd = x.shape
    Ho, Wo = _out_size(H, k, pad), _out_size(Wd, k, pad)
    xpad = xp.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    out = xp.empty((O, Ho, Wo), dtype=x.dtype)
    for o in range(O):
        for y in range(Ho):
            for xx in range(Wo):
                out[o, y, xx] = xp.sum(xpad[:, y:y + k, xx:xx + k] * W[o]) + b[o]
    return out, (x, W, b, pad)


def conv2d_naive_backward_dx(dout, W, pad: int = 1):
    """dx by loops: every output's gradient flows back into the k x k input window that made it.

    dout: (O, Ho, Wo); W: (O, C, k, k) -> dx: (C, H, W). The window needs no input values, only W:
    (1) is linear in x. (2) is the same sum, as a convolution (:func:`conv2d_backward_dx`).
    """
    xp = get_array_module(dout)
    O, C, k, _ = W.shape
    _, Ho, Wo = dout.shape
    dxpad = xp.zeros((C, Ho + k - 1, Wo + k - 1), dtype=dout.dtype)      # (C, H + 2 pad, W + 2 pad)
    for o in range(O):
        for y in range(Ho):
            for xx in range(Wo):
                dxpad[:, y:y + k, xx:xx + k] += dout[o, y, xx] * W[o]
    return dxpad[:, pad:Ho + k - 1 - pad, pad:Wo + k - 1 - pad]


def conv2d_naive_backward(dout, cache):
    """All three gradients by loops. dout: (O, Ho, Wo) -> (dx: (C, H, W), dW: (O, C, k, k), db: (O,)).

    The weight W[o] met the window ``xpad[:, y:y+k, x:x+k]`` at every output (o, y, x), so it
    collects that window times the output's gradient.
    """
    x, W, b, pad = cache
    xp = get_array_module(x)
    O, C, k, _ = W.shape
    _, Ho, Wo = dout.shape
    xpad = xp.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    dW = xp.zeros_like(W)
    for o in range(O):
        for y in range(Ho):
            for xx in range(Wo):
                dW[o] += dout[o, y, xx] * xpad[:, y:y + k, xx:xx + k]
    return conv2d_naive_backward_dx(dout, W, pad), dW, dout.sum(axis=(1, 2))


# ----------------------------------------------------------------------------------------------
# 2. the same sum as one matrix product
# ----------------------------------------------------------------------------------------------

def im2col(x, k: int, pad: int):
    """Every k x k window of the padded x as a column. x: (C, H, W) -> cols: (C*k*k, Ho*Wo).

    ``cols[(c, i, j), (y, x)] = xpad[c, y + i, x + j]``: k*k slice copies, no loop over pixels.
    The price is memory: k*k copies of the input (the engine room works in chunks of rows).
    """
    xp = get_array_module(x)
    C, H, Wd = x.shape
    Ho, Wo = _out_size(H, k, pad), _out_size(Wd, k, pad)
    xpad = xp.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    cols = xp.empty((C, k, k, Ho, Wo), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            cols[:, i, j] = xpad[:, i:i + Ho, j:j + Wo]
    return cols.reshape(C * k * k, Ho * Wo)


def conv2d_forward(x, W, b, pad: int = 1):
    """(1) as ``W (O, C*k*k) @ im2col(x) (C*k*k, Ho*Wo)``.

    x: (C, H, W); W: (O, C, k, k); b: (O,) or None -> (out: (O, Ho, Wo), cache).
    """
    O, C, k, _ = W.shape
    _, H, Wd = x.shape
    out = (W.reshape(O, C * k * k) @ im2col(x, k, pad)).reshape(O, _out_size(H, k, pad), _out_size(Wd, k, pad))
    if b is not None:
        out += b.reshape(O, 1, 1)
    return out, (x, W, b, pad)


# ----------------------------------------------------------------------------------------------
# 3. the gradients: dx is (2), a convolution; dW is one more matrix product
# ----------------------------------------------------------------------------------------------

def flip_kernel(W):
    """W (O, C, k, k) -> W_flipped (C, O, k, k), ``W_flipped[c, o, i, j] = W[o, c, k-1-i, k-1-j]``."""
    xp = get_array_module(W)
    return xp.ascontiguousarray(W.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])


def conv2d_backward_dx(dout, W, pad: int = 1):
    """(2): dx as the convolution of dout with the flipped kernel. dout: (O, Ho, Wo) -> dx: (C, H, W).

    The same numbers as :func:`conv2d_naive_backward_dx`'s loops, computed by the forward's code.
    """
    k = W.shape[2]
    if pad > k - 1:
        raise ValueError(f"pad {pad} > k-1 = {k - 1}: dx as a convolution would need a negative pad")
    return conv2d_forward(dout, flip_kernel(W), None, k - 1 - pad)[0]


def conv2d_weight_grads(dout, x, k: int, pad: int):
    """``dW[o, c, i, j] = sum_{y, x} dout[o, y, x] * xpad[c, y+i, x+j]``, i.e. ``dout @ cols^T``; db = sum of dout.

    dout: (O, Ho, Wo); x: (C, H, W) -> (dW: (O, C, k, k), db: (O,)).
    """
    O = dout.shape[0]
    dW = dout.reshape(O, -1) @ im2col(x, k, pad).T
    return dW.reshape(O, x.shape[0], k, k), dout.sum(axis=(1, 2))


def conv2d_backward(dout, cache):
    """Gradients of :func:`conv2d_forward`. dout: (O, Ho, Wo) -> (dx: (C, H, W), dW: (O, C, k, k), db: (O,))."""
    x, W, b, pad = cache
    dW, db = conv2d_weight_grads(dout, x, W.shape[2], pad)
    return conv2d_backward_dx(dout, W, pad), dW, db


# ----------------------------------------------------------------------------------------------
# 4. the layer of a frozen network
# ----------------------------------------------------------------------------------------------

class FrozenConv2d:
    """A convolution whose weights never change, as the network holds it. This one runs the loops.

    ``forward(x) -> (out, cache)`` and ``backward_dx(dout, cache) -> dx``, and no dW: style
    transfer optimises the image, never the network. dx needs only W (see
    :func:`conv2d_naive_backward_dx`), so the cache is just the input's shape ``(C, H, W)``: no
    activation is kept.

    ``conv_algo = "naive"``. The engine room's layers (:func:`minivgg.fast.conv_layers`) are
    subclasses: same two methods, same numbers, other algorithms.
    """

    conv_algo = "naive"

    def __init__(self, W, b, pad: int = 1):
        self.W, self.b, self.pad = W, b, pad

    def forward(self, x):
        """x: (C, H, W) -> (out: (O, Ho, Wo), cache)."""
        return conv2d_naive_forward(x, self.W, self.b, self.pad)[0], x.shape

    def backward_dx(self, dout, cache):
        """dout: (O, Ho, Wo) -> dx: (C, H, W)."""
        return conv2d_naive_backward_dx(dout, self.W, self.pad)
