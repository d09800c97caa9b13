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


def _corners(x):
    """The four corners of every full 2x2 window, each (C, H2, W2), in row-major window order:
    top-left, top-right, bottom-left, bottom-right (strided views, no copies)."""
    w = _windows(x)                                   # (C, H2, 2, W2, 2)
    return w[:, :, 0, :, 0], w[:, :, 0, :, 1], w[:, :, 1, :, 0], w[:, :, 1, :, 1]


def max_pool2d_forward(x):
    """Max of each 2x2 window. Returns (out, cache = (x.shape, which corner was the max)).

    Ties: the gradient goes to the first maximum in row-major window order (top-left, top-right,
    bottom-left, bottom-right), as ``argmax`` over the window would. Computed as three elementwise
    maxima of the corners rather than an argmax over a transposed copy (2x faster here), and the
    corner index is kept as uint8: 1 byte per output instead of argmax's 8.
    """
    xp = get_array_module(x)
    a, b, c, d = _corners(x)
    out = xp.maximum(xp.maximum(a, b), xp.maximum(c, d))
    idx = xp.where(a == out, 0, xp.where(b == out, 1, xp.where(c == out, 2, 3))).astype(xp.uint8)
    return out, (x.shape, idx)


def max_pool2d_backward(dout, cache):
    """The whole gradient of a window goes to the input that was its maximum; the rest get 0."""
    xp = get_array_module(dout)
    shape, idx = cache
    dx = xp.zeros(shape, dtype=dout.dtype)
    for k, corner in enumerate(_corners(dx)):          # views into dx: writing them fills dx
        xp.multiply(dout, idx == k, out=corner)
    return dx
