"""Winograd convolution for 3x3 kernels: the same result as the book's convolution with fewer multiplies.

The 1-D idea: F(m, 3)
---------------------
Two outputs of a 3-tap filter ``g`` over four inputs ``d`` cost 6 multiplies done directly::

    y0 = d0 g0 + d1 g1 + d2 g2
    y1 = d1 g0 + d2 g1 + d3 g2

Winograd's minimal filtering algorithm F(2, 3) does it with 4::

    m1 = (d0 - d2) g0              m2 = (d1 + d2) (g0 + g1 + g2) / 2
    m4 = (d1 - d3) g2              m3 = (d2 - d1) (g0 - g1 + g2) / 2
    y0 = m1 + m2 + m3              y1 = m2 - m3 - m4

The filter-side factors (``g0``, ``(g0+g1+g2)/2``, ...) depend only on the weights, so they are
computed once. In matrix form (Lavin & Gray 2015, "Fast Algorithms for Convolutional Neural
Networks", arXiv:1509.09308)::

    y = A^T [ (G g) * (B^T d) ]          (* elementwise: the only multiplies that involve data)

    B^T = [[1, 0,-1, 0],     G = [[ 1,   0,   0 ],     A^T = [[1, 1, 1, 0],
           [0, 1, 1, 0],          [1/2, 1/2, 1/2],            [0, 1,-1,-1]]
           [0,-1, 1, 0],          [1/2,-1/2, 1/2],
           [0, 1, 0,-1]]          [ 0,   0,   1 ]]

The multiplies come from interpolation: a product of a degree-1 and a degree-2 polynomial is
determined by its values at 4 points (0, 1, -1 and "infinity"), so 4 products suffice.

In 2-D the transforms nest: an output tile ``Y`` (m x m) from an input tile ``d`` ((m+2) x (m+2))::

    Y = A^T [ (G g G^T) * (B^T d B) ] A

F(2x2, 3x3) uses 16 multiplies for 4 outputs (direct: 36), a 2.25x saving; F(4x4, 3x3) uses 36
for 16 outputs (direct: 144), a 4x saving, with interpolation points 0, +-1, +-2, infinity::

    B^T = [[4, 0,-5, 0, 1, 0],      G = [[ 1/4,    0,    0 ],      A^T = [[1, 1, 1, 1, 1, 0],
           [0,-4,-4, 1, 1, 0],           [-1/6, -1/6, -1/6 ],             [0, 1,-1, 2,-2, 0],
           [0, 4,-4,-1, 1, 0],           [-1/6,  1/6, -1/6 ],             [0, 1, 1, 4, 4, 0],
           [0,-2,-1, 2, 1, 0],           [1/24, 1/12,  1/6 ],             [0, 1,-1, 8,-8, 1]]
           [0, 2,-1,-2, 1, 0],           [1/24,-1/12,  1/6 ],
           [0, 4, 0,-5, 0, 1]]           [  0,    0,    1  ]]

Across channels the elementwise product becomes a sum over ``c``, so for each of the (m+2)^2
positions ``p`` of the transformed tile it is one matrix product::

    M[p] (O, T) = U[p] (O, C) @ V[p] (C, T)       U = G W G^T (weights), V = B^T d B (data tiles)

That is the whole algorithm: transform the input tiles, (m+2)^2 GEMMs, transform back. Here the
two tile transforms are themselves small GEMMs with the Kronecker matrices ``B^T (x) B^T``
((m+2)^2 x (m+2)^2) and ``A^T (x) A^T`` (m^2 x (m+2)^2), so every step is a BLAS call and the data
lands directly in the layout the batched product wants.

Accuracy: the transforms grow the numbers (entries up to 8 in A^T, 5 in B^T; G has 1/6 and 1/24,
not exact in binary), so rounding errors are larger than a direct conv's. For F(2x2, 3x3) they
are about the same as direct; for F(4x4, 3x3) in float32 expect errors of ~1e-6 to 1e-5 of the
output's scale (larger tiles, F(6x6, 3x3) and up, get much worse: the points +-1/2, +-3 ... blow up).
That is harmless for style transfer, whose gradients are summed over millions of pixels in float32
anyway; gradient *checks* run in float64 where it is ~1e-15.

Ragged maps (H or W not a multiple of m) are padded up to whole tiles and the extra outputs cropped.
"""

from __future__ import annotations

import functools

import numpy as np

from ..backend import device_of, get_array_module
from .direct import GPU_CHUNK_FLOATS, store

# F(2x2, 3x3)
_BT2 = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
_G2 = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64)
_AT2 = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)

# F(4x4, 3x3)
_BT4 = np.array([[4, 0, -5, 0, 1, 0],
                 [0, -4, -4, 1, 1, 0],
                 [0, 4, -4, -1, 1, 0],
                 [0, -2, -1, 2, 1, 0],
                 [0, 2, -1, -2, 1, 0],
                 [0, 4, 0, -5, 0, 1]], dtype=np.float64)
_G4 = np.array([[1 / 4, 0, 0],
                [-1 / 6, -1 / 6, -1 / 6],
                [-1 / 6, 1 / 6, -1 / 6],
                [1 / 24, 1 / 12, 1 / 6],
                [1 / 24, -1 / 12, 1 / 6],
                [0, 0, 1]], dtype=np.float64)
_AT4 = np.array([[1, 1, 1, 1, 1, 0],
                 [0, 1, -1, 2, -2, 0],
                 [0, 1, 1, 4, 4, 0],
                 [0, 1, -1, 8, -8, 1]], dtype=np.float64)

MATRICES = {2: (_BT2, _G2, _AT2), 4: (_BT4, _G4, _AT4)}
DEFAULT_M = 4

# Tiles per chunk: enough that one chunk's transformed data V = (m+2)^2 * C * tiles floats (and the
# products M, likewise with O) stays about CHUNK_FLOATS (16 MB at float32), but never fewer than
# MIN_TILES tiles, or the (m+2)^2 products get too thin to run near the GEMM peak. Smaller chunks
# (~2 MB, cache-resident) were up to ~10 % faster on a quiet 2-core machine, but every chunk costs
# (m+2)^2 + 2 BLAS calls, each ending in a thread barrier, and on a machine shared with other
# processes those barriers dominate: few large chunks are the robust choice. The result does
# not depend on these numbers.
CHUNK_FLOATS = 1 << 22
MIN_TILES = 256


def transform_weights(W, m: int = DEFAULT_M):
    """U = G W G^T for every (o, c): W (O, C, 3, 3) -> U ((m+2)^2, O, C), in W's dtype.

    Computed in float64 and rounded once, so the transform adds no error of its own beyond that
    rounding. Do this once per weight array; :func:`conv2d_winograd` takes the result as ``U``.
    """
    xp = get_array_module(W)
    O, C, k, k2 = W.shape
    if (k, k2) != (3, 3):
        raise ValueError(f"Winograd convolution here is for 3x3 kernels, got {k}x{k2}")
    G = xp.asarray(MATRICES[m][1])
    a = m + 2
    Gk = xp.kron(G, G)                                        # (a*a, 9): vec(G g G^T) = (G (x) G) vec(g)
    U = Gk @ W.reshape(O * C, 9).astype(xp.float64).T        # (a*a, O*C)
    return xp.ascontiguousarray(U.reshape(a * a, O, C).astype(W.dtype))


@functools.lru_cache(maxsize=16)
def data_transforms(m: int, xp, dtype) -> tuple:
    """``(B^T (x) B^T, (A^T (x) A^T)^T)`` in ``dtype`` on xp's device, made once per (m, xp, dtype)
    and kept: on a GPU, making them per call would be two host->device copies per convolution."""
    BT, _, AT = MATRICES[m]
    return xp.asarray(np.kron(BT, BT), dtype=dtype), xp.asarray(np.kron(AT, AT).T.copy(), dtype=dtype)


def conv2d_winograd(x, W, b=None, pad: int = 1, U=None, m: int = DEFAULT_M):
    """3x3, stride-1 convolution by Winograd F(m x m, 3 x 3). Same contract as :mod:`minivgg.fast.direct`'s.

    x: (C, H, W); W: (O, C, 3, 3); b: (O,) or None; pad in 0..2 -> (O, H + 2 pad - 2, W + 2 pad - 2).
    U: ``transform_weights(W, m)`` if the caller has it (saves the weight transform every call).
    m: output tile size, 2 or 4.
    """
    xp = get_array_module(x, W)
    O, C, k, _ = W.shape
    if k != 3 or W.shape[3] != 3:
        raise ValueError(f"Winograd convolution here is for 3x3 kernels, got {W.shape[2]}x{W.shape[3]}")
    if m not in MATRICES:
        raise ValueError(f"tile size m must be one of {sorted(MATRICES)}, got {m}")
    if x.shape[0] != C:
        raise ValueError(f"input has {x.shape[0]} channels, weights expect {C}")
    _, H, Wd = x.shape
    Ho, Wo = H + 2 * pad - 2, Wd + 2 * pad - 2
    if Ho < 1 or Wo < 1:
        raise ValueError(f"empty output: input {H}x{Wd} with pad {pad}")
    dtype = x.dtype
    if U is None:
        U = transform_weights(W, m)
    a = m + 2
    nH, nW = -(-Ho // m), -(-Wo // m)
    # Zero-padded input covering whole tiles: (nH*m + 2) x (nW*m + 2).
    xpad = xp.zeros((C, nH * m + 2, nW * m + 2), dtype=dtype)
    xpad[:, pad:pad + H, pad:pad + Wd] = x[:, :nH * m + 2 - pad, :nW * m + 2 - pad]
    BK, AKt = data_transforms(m, xp, np.dtype(dtype))
    out = xp.empty((O, Ho, Wo), dtype=dtype)

    if device_of(x) == "cpu":
        tiles_per_chunk = max(CHUNK_FLOATS // (a * a * max(C, O)), MIN_TILES)
        rows = max(1, min(nH, tiles_per_chunk // nW))
    else:                    # on a GPU, the whole layer where it fits: see minivgg.fast.direct.chunk_pixels
        rows = max(1, min(nH, GPU_CHUNK_FLOATS // (a * a * (2 * C + O) + O * m * m) // nW))
    T = rows * nW
    # Flat work buffers, reused by every chunk; each chunk takes a contiguous prefix of them.
    tiles = xp.empty(C * T * a * a, dtype=dtype)
    V = xp.empty(a * a * C * T, dtype=dtype)
    M = xp.empty(a * a * O * T, dtype=dtype)
    Y = xp.empty(O * T * m * m, dtype=dtype)
    sC, sH, sW = xpad.strides
    for i0 in range(0, nH, rows):
        r = min(rows, nH - i0)
        t = r * nW
        # the (m+2) x (m+2) input tiles overlapping by 2, as a strided view, gathered once
        view = xp.lib.stride_tricks.as_strided(xpad[:, i0 * m:], shape=(C, r, nW, a, a),
                                               strides=(sC, m * sH, m * sW, sH, sW))
        tl = tiles[:C * t * a * a].reshape(C, r, nW, a, a)
        tl[...] = view
        # V = (B^T (x) B^T) vec(d) for every (c, tile): one GEMM, lands as (a*a, C, t)
        Vc = V[:a * a * C * t].reshape(a * a, C * t)
        xp.matmul(BK, tl.reshape(C * t, a * a).T, out=Vc)
        # the a*a products over channels
        Mc = M[:a * a * O * t].reshape(a * a, O, t)
        xp.matmul(U, Vc.reshape(a * a, C, t), out=Mc)
        # Y = (A^T (x) A^T) vec(M) for every (o, tile)
        Yc = Y[:O * t * m * m].reshape(O * t, m * m)
        xp.matmul(Mc.reshape(a * a, O * t).T, AKt, out=Yc)
        y0, y1 = i0 * m, min(Ho, (i0 + r) * m)
        blk = Yc.reshape(O, r, nW, m, m).transpose(0, 1, 3, 2, 4).reshape(O, r * m, nW * m)
        store(out[:, y0:y1], blk[:, :y1 - y0, :Wo], b)
    return out
