"""2x2, stride-2 pooling (average and max), forward and backward.

Shapes: ``x: (C, H, W) -> out: (C, H // 2, W // 2)``.

Odd sizes: the output has ``floor(H / 2)`` rows (and columns); the last input row (column) of an
odd-sized map belongs to no window, so it does not affect the output and its gradient is 0.
(This is Keras's "valid" pooling. Caffe rounds up instead; for the even sizes the style-transfer
CLI produces the two agree.)

Both poolings are written as a reshape: ``x[:, :2*H2, :2*W2]`` viewed as ``(C, H2, 2, W2, 2)``
puts each 2x2 window on axes 2 and 4, so pooling is a reduction over those two axes.

The paper (section 2) swaps VGG's max pooling for average pooling because it "improves the
gradient flow and one obtains slightly more appealing results": the gradient of an average
reaches all four inputs, that of a max only one.
"""

from ..backend import get_array_module


def _windows(x):
    """View of the full 2x2 windows of x: (C, H2, 2, W2, 2)."""
    C, H, W = x.shape
    H2, W2 = H // 2, W // 2
    if H2 == 0 or W2 == 0:
        raise ValueError(f"cannot 2x2-pool a map of size {H}x{W}")
    return x[:, :2 * H2, :2 * W2].reshape(C, H2, 2, W2, 2)


def avg_pool2d_forward(x):
    """Mean of each 2x2 window. Returns (out: (C, H//2, W//2), cache = x.shape).

    Same as ``_windows(x).mean(axis=(2, 4))``, but that reduction over two strided axes of a 5-D
    view is ~8x slower in NumPy than two pairwise adds: first of whole row pairs (long contiguous
    runs), then of column pairs on the half-size result.
    """
    _windows(x)                                   # the size check
    C, H, W = x.shape
    rows = x[:, 0:2 * (H // 2):2] + x[:, 1:2 * (H // 2):2]          # (C, H2, W)
    out = rows[:, :, 0:2 * (W // 2):2] + rows[:, :, 1:2 * (W // 2):2]
    out *= 0.25
    return out, x.shape


def avg_pool2d_backward(dout, cache):
    """Each input of a window gets a quarter of the window's gradient; leftover odd rows/cols get 0."""
    xp = get_array_module(dout)
    H2, W2 = dout.shape[1:]
    g = xp.repeat(xp.repeat(dout * 0.25, 2, axis=1), 2, axis=2)     # (C, 2*H2, 2*W2)
    if g.shape == tuple(cache):
        return g
    dx = xp.zeros(cache, dtype=dout.dtype)
    dx[:, :2 * H2, :2 * W2] = g
    return dx


def max_pool2d_forward(x):
    """Max of each 2x2 window. Returns (out, cache = (x.shape, argmax within each window)).

    Ties: the gradient goes to the first maximum in row-major window order (top-left, top-right,
    bottom-left, bottom-right), because that is what ``argmax`` returns.
    """
    xp = get_array_module(x)
    C = x.shape[0]
    win = _windows(x)
    H2, W2 = win.shape[1], win.shape[3]
    flat = win.transpose(0, 1, 3, 2, 4).reshape(C, H2, W2, 4)
    idx = flat.argmax(axis=-1)
    out = xp.take_along_axis(flat, idx[..., None], axis=-1)[..., 0]
    return out, (x.shape, idx)


def max_pool2d_backward(dout, cache):
    """The whole gradient of a window goes to the input that was its maximum."""
    xp = get_array_module(dout)
    shape, idx = cache
    C, H, W = shape
    H2, W2 = dout.shape[1:]
    onehot = idx[..., None] == xp.arange(4)                       # (C, H2, W2, 4)
    g = (onehot * dout[..., None]).reshape(C, H2, W2, 2, 2).transpose(0, 1, 3, 2, 4)
    dx = xp.zeros(shape, dtype=dout.dtype)
    dx[:, :2 * H2, :2 * W2] = g.reshape(C, 2 * H2, 2 * W2)
    return dx
