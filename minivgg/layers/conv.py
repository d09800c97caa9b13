"""2-D convolution (cross-correlation, as in Caffe and every deep-learning library): forward and backward.

Shapes, for one image::

    x:   (C, H, W)            input
    W:   (O, C, k, k)         weights (O output channels)
    b:   (O,)                 bias
    out: (O, Ho, Wo)          Ho = H + 2*pad - k + 1 (stride 1), likewise Wo

    out[o, y, x] = b[o] + sum_{c, i, j} W[o, c, i, j] * xpad[c, y + i, x + j]

VGG only ever uses k = 3, pad = 1 (so Ho = H), but nothing here depends on that except the
Winograd path.

These implementations compute the same thing:

* ``naive``: the definition above as Python loops. Read this one first; it is slow.
* ``im2col``: copy every k x k window into a column of a matrix ("image to columns") so the whole
  convolution becomes one matrix product ``W.reshape(O, C*k*k) @ cols``, which BLAS runs near the
  machine's peak. Done in chunks of output rows so the column buffer stays small.
* ``winograd`` (:mod:`minivgg.layers.winograd`): Winograd F(4x4, 3x3), 4x fewer multiplications
  for 3x3 kernels (``winograd2``: F(2x2, 3x3), 2.25x fewer, more accurate in float32). Other
  kernel sizes fall back to im2col.
* ``mec``: im2col lowered along one axis only (k copies instead of k*k), then k GEMMs on
  overlapping windows of the copy. The fastest direct method here for 16..128 channels.
* ``shiftadd``: one GEMM for all k*k taps at once, then k*k shifted adds; for few output channels.
* ``direct``: per layer, the fastest of those that do the direct method's multiplies
  (see :func:`choose_direct`).
* ``auto`` (the default): per layer, Winograd F(4x4, 3x3) where it pays (>= 128 channels on both
  sides, >= 16 x 16 pixels), else as ``direct`` (see :func:`choose_algo`).

The backward pass w.r.t. the input is itself a convolution: each ``x[c, y, x]`` touched
``out[o, y - i + pad, x - j + pad]`` through ``W[o, c, i, j]``, so

    dx = conv(dout, W_flipped, pad = k - 1 - pad),   W_flipped[c, o, i, j] = W[o, c, k-1-i, k-1-j]

That is why the fast backward re-uses the fast forward: one kernel serves both directions.
Style transfer needs only ``dx``; ``dW`` and ``db`` are computed only when asked
(``weight_grads=True``), because on the stylisation path they would be pure waste.
"""

from __future__ import annotations

import importlib

from ..backend import get_array_module

# Output pixels per im2col chunk: bounds the column buffer at C*k*k*CHUNK floats
# (4608 * 8192 * 4 bytes = 151 MB for conv5 at float32) while keeping the GEMM large. Fewer, larger
# GEMM calls also matter on a busy machine: every multithreaded BLAS call ends in a barrier, and
# when other processes hold the cores each barrier can cost a scheduler time slice.
IM2COL_CHUNK = 8192

ALGOS = ("naive", "im2col", "mec", "shiftadd", "direct")


def _out_size(n: int, k: int, pad: int) -> int:
    return n + 2 * pad - k + 1


# ----------------------------------------------------------------------------------------------
# naive: the definition, as loops
# ----------------------------------------------------------------------------------------------

def conv2d_naive_forward(x, W, b, pad: int = 1):
    """Reference convolution by explicit loops. x: (C, H, W); W: (O, C, k, k); b: (O,) -> (O, Ho, Wo)."""
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


def conv2d_naive_backward(dout, cache):
    """Loops again: every output gradient flows back to the k x k window and the weights that made it.

    dout: (O, Ho, Wo) -> (dx: (C, H, W), dW: (O, C, k, k), db: (O,))
    """
    x, W, b, pad = cache
    xp = get_array_module(x)
    O, C, k, _ = W.shape
    _, Ho, Wo = dout.shape
    xpad = xp.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    dxpad = xp.zeros_like(xpad)
    dW = xp.zeros_like(W)
    for o in range(O):
        for y in range(Ho):
            for xx in range(Wo):
                g = dout[o, y, xx]
                dxpad[:, y:y + k, xx:xx + k] += g * W[o]
                dW[o] += g * xpad[:, y:y + k, xx:xx + k]
    H, Wd = x.shape[1:]
    dx = dxpad[:, pad:pad + H, pad:pad + Wd]
    db = dout.sum(axis=(1, 2))
    return dx, dW, db


# ----------------------------------------------------------------------------------------------
# im2col: the same sum as one matrix product per chunk of output pixels
# ----------------------------------------------------------------------------------------------

def _im2col_rows(xpad, k: int, y0: int, y1: int, Wo: int, buf):
    """Fill ``buf`` (C, k, k, y1-y0, Wo) with the k x k windows of output rows y0..y1-1.

    buf[c, i, j, y, x] = xpad[c, y0 + y + i, x + j]: k*k strided slice copies, no Python loop over pixels.
    """
    for i in range(k):
        for j in range(k):
            buf[:, i, j] = xpad[:, y0 + i:y1 + i, j:j + Wo]
    return buf


def _rows_per_chunk(Ho: int, width: int, pixels: int) -> int:
    """How many output rows of ``width`` pixels make a chunk of about ``pixels`` (at least 1)."""
    return max(1, min(Ho, pixels // max(width, 1)))


def _row_chunks(Ho: int, rows: int):
    """(y0, y1) for chunks of ``rows`` output rows, the last one possibly shorter."""
    for y0 in range(0, Ho, rows):
        yield y0, min(Ho, y0 + rows)


def _store(dst, block, b):
    """dst[...] = block (+ b per output channel), one pass: adding the bias while the block is in
    cache saves a second sweep over the whole output. dst, block: (O, rows, Wo); b: (O,) or None."""
    if b is None:
        dst[...] = block
    else:
        get_array_module(dst).add(block, b.reshape(-1, 1, 1), out=dst)


def _padded_flat(x, pad: int):
    """``(xflat, Hp, Wp)``: ``x`` (C, H, W) zero-padded by ``pad`` and flattened to (C, (Hp+1)*Wp),
    the padded rows laid end to end, so window offset (i, j) of output row y starts at (y+i)*Wp + j.
    """
    xp = get_array_module(x)
    C, H, Wd = x.shape
    Hp, Wp = H + 2 * pad, Wd + 2 * pad
    # One spare zero row (Wp >= k-1 elements): the last window's overhang past the final row stays inside.
    xpad = xp.zeros((C, Hp + 1, Wp), dtype=x.dtype)
    xpad[:, pad:pad + H, pad:pad + Wd] = x
    return xpad.reshape(C, (Hp + 1) * Wp), Hp, Wp


def conv2d_im2col(x, W, b=None, pad: int = 1):
    """Convolution as chunked im2col + GEMM. x: (C, H, W); W: (O, C, k, k); b: (O,) or None -> (O, Ho, Wo).

    The padded input is flattened, rows ``Hp x Wp`` laid end to end. Then the column of window
    offset (i, j) for output rows y0..y1 is ONE contiguous run of the flat input, starting at
    ``(y0 + i) * Wp + j``: the copies are memcpys, not strided gathers. The price is that every
    output row is computed ``Wp`` wide instead of ``Wo`` (the k-1 extra columns straddle the row
    end and are thrown away), a waste of (k-1)/Wp: under 1 % at 512 px, 6 % at 32 px.
    """
    xp = get_array_module(x)
    O, C, k, _ = W.shape
    _, H, Wd = x.shape
    Ho, Wo = _out_size(H, k, pad), _out_size(Wd, k, pad)
    xflat, _, Wp = _padded_flat(x, pad)
    Wmat = W.reshape(O, C * k * k)
    out = xp.empty((O, Ho, Wo), dtype=x.dtype)
    rows = _rows_per_chunk(Ho, Wp, IM2COL_CHUNK)
    colstore = xp.empty(C * k * k * rows * Wp, dtype=x.dtype)
    outstore = xp.empty(O * rows * Wp, dtype=x.dtype)
    for y0, y1 in _row_chunks(Ho, rows):
        n = (y1 - y0) * Wp
        cols = colstore[:C * k * k * n].reshape(C, k, k, n)
        for i in range(k):
            for j in range(k):
                s = (y0 + i) * Wp + j
                cols[:, i, j] = xflat[:, s:s + n]
        res = outstore[:O * n].reshape(O, n)
        xp.matmul(Wmat, cols.reshape(C * k * k, n), out=res)
        _store(out[:, y0:y1], res.reshape(O, y1 - y0, Wp)[:, :, :Wo], b)
    return out


# Output pixels per MEC chunk: its buffer is C*k*(rows+k-1)*Wp floats (3.5 MB at C = 64, 512 px), small
# enough to stay in cache between being written and being read by the k GEMMs.
MEC_CHUNK = 4096


def mec_weights(W):
    """W (O, C, k, k) -> (k, O, C*k): kernel row i as the matrix of MEC's i-th GEMM, columns (c, j)."""
    xp = get_array_module(W)
    O, C, k, _ = W.shape
    return xp.ascontiguousarray(W.transpose(2, 0, 1, 3)).reshape(k, O, C * k)


def conv2d_mec(x, W, b=None, pad: int = 1, Wrows=None):
    """im2col lowered along one axis only (MEC, Cho & Brand 2017, "MEC: Memory-efficient Convolution
    for Deep Neural Network"). Same contract as ``conv2d_im2col``.

    im2col copies the input k*k times. But the column block of tap (i, j) is that of tap (0, j)
    moved down i rows, and in the flattened padded layout "down i rows" is "i*Wp further along".
    So copy only the k column shifts j, as ``B (C*k, n + (k-1)*Wp)`` with rows ordered (c, j);
    then kernel row i is one GEMM on a window of B, with no copy:

        out (O, n) = sum_i W[:, :, i, :] (O, C*k) @ B[:, i*Wp : i*Wp + n]

    k times less copying than im2col (the copies, not the multiplies, are what hold im2col back
    with few channels: conv1_2, conv2_x), for k GEMMs with K = C*k instead of one with K = C*k*k.
    Wrows: ``mec_weights(W)`` if the caller has it (the rearranged weights, else made every call).
    """
    xp = get_array_module(x)
    O, C, k, _ = W.shape
    _, H, Wd = x.shape
    Ho, Wo = _out_size(H, k, pad), _out_size(Wd, k, pad)
    xflat, _, Wp = _padded_flat(x, pad)
    if Wrows is None:
        Wrows = mec_weights(W)
    out = xp.empty((O, Ho, Wo), dtype=x.dtype)
    rows = _rows_per_chunk(Ho, Wp, MEC_CHUNK)
    bstore = xp.empty(C * k * (rows + k - 1) * Wp, dtype=x.dtype)
    acc = xp.empty(O * rows * Wp, dtype=x.dtype)
    part = xp.empty(O * rows * Wp, dtype=x.dtype)
    for y0, y1 in _row_chunks(Ho, rows):
        n = (y1 - y0) * Wp
        L = n + (k - 1) * Wp                       # rows y0 .. y1 + k - 2 of the padded input
        B = bstore[:C * k * L].reshape(C, k, L)
        for j in range(k):
            s = y0 * Wp + j
            B[:, j] = xflat[:, s:s + L]
        B = B.reshape(C * k, L)
        res, tmp = acc[:O * n].reshape(O, n), part[:O * n].reshape(O, n)
        xp.matmul(Wrows[0], B[:, :n], out=res)
        for i in range(1, k):
            xp.matmul(Wrows[i], B[:, i * Wp:i * Wp + n], out=tmp)
            res += tmp
        _store(out[:, y0:y1], res.reshape(O, y1 - y0, Wp)[:, :, :Wo], b)
    return out


def shiftadd_weights(W):
    """W (O, C, k, k) -> (k*k*O, C): every tap's (O, C) matrix stacked, tap-major, for one GEMM."""
    xp = get_array_module(W)
    O, C, k, _ = W.shape
    return xp.ascontiguousarray(W.transpose(2, 3, 0, 1)).reshape(k * k * O, C)


def conv2d_shiftadd(x, W, b=None, pad: int = 1, Wtaps=None):
    """Convolution as ONE GEMM over all k*k taps, then k*k shifted adds. Same contract as im2col.

    ``Z = W_taps (k*k*O, C) @ xflat (C, (Hp+1)*Wp)`` gives every tap's contribution at every pixel;
    tap (i, j)'s block, shifted by ``i*Wp + j`` in the flattened padded image, is added up:

        out[o, y, x] = sum_{i,j} Z[(i, j, o), (y + i) * Wp + x + j]

    Z is k*k times the output, so this is for few output channels: VGG's last backward step,
    dx of conv1_1 (64 -> 3 channels), where im2col's GEMM would have only 3 rows (M = 3), a shape
    BLAS runs at a few % of its peak, and threads badly. Here M = 27 and K = 64.
    Wtaps: ``shiftadd_weights(W)`` if the caller has it.
    """
    xp = get_array_module(x)
    O, C, k, _ = W.shape
    _, H, Wd = x.shape
    Ho, Wo = _out_size(H, k, pad), _out_size(Wd, k, pad)
    xflat, _, Wp = _padded_flat(x, pad)
    if Wtaps is None:
        Wtaps = shiftadd_weights(W)
    Z = Wtaps @ xflat
    n = Ho * Wp
    acc = xp.zeros((O, n), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            s, q = i * Wp + j, (i * k + j) * O
            acc += Z[q:q + O, s:s + n]
    out = xp.empty((O, Ho, Wo), dtype=x.dtype)
    _store(out, acc.reshape(O, Ho, Wp)[:, :, :Wo], b)
    return out


def _weight_grads_im2col(dout, x, k: int, pad: int):
    """dW[o, c, i, j] = sum_{y,x} dout[o, y, x] * xpad[c, y+i, x+j] = dout @ cols.T, chunked like the forward."""
    xp = get_array_module(x)
    O, Ho, Wo = dout.shape
    C = x.shape[0]
    xpad = xp.pad(x, ((0, 0), (pad, pad), (pad, pad))) if pad else x
    dWmat = xp.zeros((O, C * k * k), dtype=x.dtype)
    rows = _rows_per_chunk(Ho, Wo, IM2COL_CHUNK)
    buf = xp.empty((C, k, k, rows, Wo), dtype=x.dtype)
    dflat = dout.reshape(O, Ho * Wo)
    for y0, y1 in _row_chunks(Ho, rows):
        cols = _im2col_rows(xpad, k, y0, y1, Wo, buf[:, :, :, :y1 - y0])
        dWmat += dflat[:, y0 * Wo:y1 * Wo] @ cols.reshape(C * k * k, -1).T
    return dWmat.reshape(O, C, k, k), dout.sum(axis=(1, 2))


def flip_weights(W):
    """W_flipped[c, o, i, j] = W[o, c, k-1-i, k-1-j]: the kernel of the input-gradient convolution."""
    xp = get_array_module(W)
    return xp.ascontiguousarray(W.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])


# ----------------------------------------------------------------------------------------------
# the layer: dispatch to an algorithm, forward/backward pair with a cache
# ----------------------------------------------------------------------------------------------

def _conv_fn(algo: str):
    if algo == "im2col":
        return conv2d_im2col
    if algo == "mec":
        return conv2d_mec
    if algo == "shiftadd":
        return conv2d_shiftadd
    if algo in ("winograd", "winograd2"):
        from .winograd import conv2d_winograd

        return conv2d_winograd
    if algo in ("auto", "direct"):        # chosen per layer by _run
        return lambda x, W, b=None, pad=1: _run(algo, x, W, b, pad, None, "fwd")
    raise ValueError(f"unknown conv algorithm {algo!r}: choose one of {', '.join(available_algos())}")


def available_algos():
    """The algorithms that can be selected on this install."""
    try:
        # Imported, not just found (importlib.util.find_spec): a winograd module that fails to
        # import must not be offered.
        importlib.import_module(".winograd", __package__)
    except ImportError:
        return ALGOS
    return ALGOS + ("winograd", "winograd2", "auto")


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


def choose_direct(C: int, O: int) -> str:
    """What ``direct`` runs for a C -> O channel convolution: the fastest algorithm that does the
    direct method's multiplies (no Winograd), i.e. im2col with few inputs, shiftadd with few outputs,
    else MEC."""
    if O < FEW_CHANNELS <= C:
        return "shiftadd"
    if C < FEW_CHANNELS:
        return "im2col"
    return "mec"


def choose_algo(C: int, O: int, k: int = 3, pad: int = 1, pixels: int | None = None) -> str:
    """What ``auto`` runs for a C -> O channel k x k convolution of an input of ``pixels`` = H*W
    (None: a large one)."""
    big = pixels is None or pixels >= WINOGRAD_MIN_PIXELS
    if k == 3 and 0 <= pad <= 2 and min(C, O) >= WINOGRAD_MIN_CHANNELS and big:
        return "winograd"
    return choose_direct(C, O)


def _winograd_ok(W, pad: int) -> bool:
    return W.shape[2] == W.shape[3] == 3 and 0 <= pad <= 2


def _prepared(wcache, key: str, what, make):
    """``make()``, the weights rearranged for one algorithm: computed once and kept in ``wcache``
    under ``(key, what)`` when the caller keeps one (frozen weights), else computed now."""
    if wcache is None:
        return make()
    ck = (key, what)
    if ck not in wcache:
        wcache[ck] = make()
    return wcache[ck]


def _run(algo: str, x, W, b, pad: int, wcache, key: str):
    """Run the fast algorithm; ``wcache`` (a dict or None) keeps per-weight precomputations under ``key``."""
    if algo == "auto":
        algo = choose_algo(W.shape[1], W.shape[0], W.shape[2], pad, x.shape[1] * x.shape[2])
    elif algo == "direct":
        algo = choose_direct(W.shape[1], W.shape[0])
    if algo in ("winograd", "winograd2") and _winograd_ok(W, pad):
        from .winograd import conv2d_winograd, transform_weights

        m = 4 if algo == "winograd" else 2
        U = _prepared(wcache, key, algo, lambda: transform_weights(W, m))
        return conv2d_winograd(x, W, b, pad, U=U, m=m)
    if algo == "shiftadd":
        return conv2d_shiftadd(x, W, b, pad, Wtaps=_prepared(wcache, key, algo, lambda: shiftadd_weights(W)))
    if algo == "mec":
        return conv2d_mec(x, W, b, pad, Wrows=_prepared(wcache, key, algo, lambda: mec_weights(W)))
    if algo not in ("im2col", "winograd", "winograd2", "auto"):
        _conv_fn(algo)           # raises the "unknown algorithm" error
    return conv2d_im2col(x, W, b, pad)   # also the fallback for kernels Winograd does not cover


def conv2d_forward(x, W, b, pad: int = 1, algo: str | None = None, wcache: dict | None = None):
    """out = conv(x, W) + b. x: (C, H, W); W: (O, C, k, k); b: (O,) -> (out: (O, Ho, Wo), cache).

    wcache: optional dict the caller keeps per weight array, for weights that do not change
    (a frozen network): the flipped kernel and the weights as each algorithm lays them out
    (Winograd-transformed, MEC's kernel rows, shiftadd's taps) are computed once and stored in it
    instead of on every call. Leave it None when W may change between calls.
    """
    algo = algo or DEFAULT_ALGO
    if algo == "naive":
        out, _ = conv2d_naive_forward(x, W, b, pad)
    else:
        out = _run(algo, x, W, b, pad, wcache, "fwd")
    return out, (x, W, b, pad, algo, wcache)


def conv2d_backward(dout, cache, weight_grads: bool = False):
    """Gradients of a conv2d_forward. dout: (O, Ho, Wo) -> (dx: (C, H, W), dW, db).

    dW and db are None unless ``weight_grads=True``: a frozen network never needs them.
    """
    x, W, b, pad, algo = cache[:5]
    wcache = cache[5] if len(cache) > 5 else None
    k = W.shape[2]
    if algo == "naive":
        dx, dW, db = conv2d_naive_backward(dout, (x, W, b, pad))
        return (dx, dW, db) if weight_grads else (dx, None, None)
    if pad > k - 1:
        raise ValueError(f"pad {pad} > k-1 = {k - 1} is not supported by the fast backward")
    Wf = _prepared(wcache, "bwd", "flipped", lambda: flip_weights(W))
    dx = _run(algo, dout, Wf, None, k - 1 - pad, wcache, "bwd")
    if not weight_grads:
        return dx, None, None
    dW, db = _weight_grads_im2col(dout, x, k, pad)
    return dx, dW, db
