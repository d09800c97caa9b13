"""The direct convolution's multiplies, laid out for BLAS: chunked im2col, MEC and shift-add.

Each computes :mod:`minivgg.layers.conv`'s equation (1) exactly as the loops there define it (the
same products, summed in another order) and is tested equal to them. Contract, for all three::

    conv2d_<algo>(x, W, b=None, pad=1, ...) -> out
    x: (C, H, W); W: (O, C, k, k); b: (O,) or None -> out: (O, Ho, Wo), stride 1

The input gradient is the same call with the flipped kernel (the book's equation (2)), so each
function serves both directions. All three start from one layout, :func:`padded_flat`: the zero-padded
input with its rows laid end to end, where the window offset (i, j) of output row y starts at
``(y + i) * Wp + j``. A window column is then one contiguous run (a memcpy, not a strided gather),
at the price of computing every output row ``Wp`` wide instead of ``Wo`` (the k-1 extra columns
straddle the row end and are thrown away): under 1 % waste at 512 px, 6 % at 32 px.

The weights' layouts (:func:`mec_weights`, :func:`shiftadd_weights`) are made once per frozen
layer by :class:`minivgg.fast.layers.PreparedKernel`.
"""

from __future__ import annotations

from ..backend import device_of, get_array_module

# Output pixels per im2col chunk: bounds the column buffer at C*k*k*CHUNK floats
# (4608 * 8192 * 4 bytes = 151 MB for conv5 at float32) while keeping the GEMM large. Fewer, larger
# GEMM calls also matter on a busy machine: every multithreaded BLAS call ends in a barrier, and
# when other processes hold the cores each barrier can cost a scheduler time slice.
IM2COL_CHUNK = 8192

# Output pixels per MEC chunk: its buffer is C*k*(rows+k-1)*Wp floats (3.5 MB at C = 64, 512 px), small
# enough to stay in cache between being written and being read by the k GEMMs.
MEC_CHUNK = 4096


# On a GPU a chunk costs its kernel launches (k*k + 3 for im2col), not cache misses, so a layer is
# one chunk wherever its work buffers stay under this many floats (1 GB at float32: conv1_2's
# columns and output at 512 x 512 px take 670 MB). Past it, chunks: a whole-layer buffer grows with
# the picture, 3.5 GB in one allocation for a 2048 x 1362 tile (seen on an H200), beyond what
# --max-memory plans.
GPU_CHUNK_FLOATS = 1 << 28


def chunk_pixels(x, pixels, floats_per_pixel: int = 1):
    """Output pixels per chunk for an input on x's device: ``pixels`` (the CPU's figure above) on the
    CPU; on a GPU as many as keep the work buffers, ``floats_per_pixel`` per output pixel, under
    ``GPU_CHUNK_FLOATS`` (the whole layer, for any picture up to 512 x 512 px)."""
    return pixels if device_of(x) == "cpu" else max(1, GPU_CHUNK_FLOATS // max(1, floats_per_pixel))


def _out_size(n: int, k: int, pad: int) -> int:
    return n + 2 * pad - k + 1


def _rows_per_chunk(Ho: int, width: int, pixels) -> int:
    """How many output rows of ``width`` pixels make a chunk of about ``pixels`` (at least 1; all
    ``Ho`` for None)."""
    if pixels is None:
        return Ho
    return max(1, min(Ho, pixels // max(width, 1)))


def _row_chunks(Ho: int, rows: int):
    """(y0, y1) for chunks of ``rows`` output rows, the last one possibly shorter."""
    for y0 in range(0, Ho, rows):
        yield y0, min(Ho, y0 + rows)


def store(dst, block, b):
    """dst[...] = block (+ b per output channel), one pass: adding the bias while the block is in
    cache saves a second sweep over the whole output. dst, block: (O, rows, Wo); b: (O,) or None."""
    if b is None:
        dst[...] = block
    else:
        get_array_module(dst).add(block, b.reshape(-1, 1, 1), out=dst)


def padded_flat(x, pad: int):
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
    """The book's :func:`~minivgg.layers.conv.conv2d_forward` (im2col + one GEMM), in chunks of
    output rows over the flat padded layout, so the column buffer stays small at any image size.
    """
    xp = get_array_module(x)
    O, C, k, _ = W.shape
    _, H, Wd = x.shape
    Ho, Wo = _out_size(H, k, pad), _out_size(Wd, k, pad)
    xflat, _, Wp = padded_flat(x, pad)
    Wmat = W.reshape(O, C * k * k)
    out = xp.empty((O, Ho, Wo), dtype=x.dtype)
    rows = _rows_per_chunk(Ho, Wp, chunk_pixels(x, IM2COL_CHUNK, C * k * k + O))
    colstore = xp.empty(C * k * k * rows * Wp, dtype=x.dtype)
    outstore = xp.empty(O * rows * Wp, dtype=x.dtype)
    sC, s1 = xflat.strides
    for y0, y1 in _row_chunks(Ho, rows):
        n = (y1 - y0) * Wp
        cols = colstore[:C * k * k * n].reshape(C, k, k, n)
        # cols[:, i, j] = xflat[:, (y0 + i) * Wp + j:][:n] for every tap, as one strided copy: one
        # kernel on a GPU instead of k*k
        cols[...] = xp.lib.stride_tricks.as_strided(xflat[:, y0 * Wp:], shape=(C, k, k, n),
                                                    strides=(sC, Wp * s1, s1, s1))
        res = outstore[:O * n].reshape(O, n)
        xp.matmul(Wmat, cols.reshape(C * k * k, n), out=res)
        store(out[:, y0:y1], res.reshape(O, y1 - y0, Wp)[:, :, :Wo], b)
    return out


def mec_weights(W):
    """W (O, C, k, k) -> (k, O, C*k): kernel row i as the matrix of MEC's i-th GEMM, columns (c, j)."""
    xp = get_array_module(W)
    O, C, k, _ = W.shape
    return xp.ascontiguousarray(W.transpose(2, 0, 1, 3)).reshape(k, O, C * k)


def conv2d_mec(x, W, b=None, pad: int = 1, Wrows=None):
    """im2col lowered along one axis only (MEC, Cho & Brand 2017, "MEC: Memory-efficient Convolution
    for Deep Neural Network").

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
    xflat, _, Wp = padded_flat(x, pad)
    if Wrows is None:
        Wrows = mec_weights(W)
    out = xp.empty((O, Ho, Wo), dtype=x.dtype)
    rows = _rows_per_chunk(Ho, Wp, chunk_pixels(x, MEC_CHUNK, C * k + 2 * O))
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
        store(out[:, y0:y1], res.reshape(O, y1 - y0, Wp)[:, :, :Wo], b)
    return out


def shiftadd_weights(W):
    """W (O, C, k, k) -> (k*k*O, C): every tap's (O, C) matrix stacked, tap-major, for one GEMM."""
    xp = get_array_module(W)
    O, C, k, _ = W.shape
    return xp.ascontiguousarray(W.transpose(2, 3, 0, 1)).reshape(k * k * O, C)


def conv2d_shiftadd(x, W, b=None, pad: int = 1, Wtaps=None):
    """Convolution as ONE GEMM over all k*k taps, then k*k shifted adds.

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
    xflat, _, Wp = padded_flat(x, pad)
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
    store(out, acc.reshape(O, Ho, Wp)[:, :, :Wo], b)
    return out
