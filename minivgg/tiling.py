"""Exact tiled evaluation of the objective (eq. 7): one global Gram matrix, held one tile at a time.

**Why tiles.** An evaluation keeps every activation down to the deepest tap for the backward
pass: about 1.3 KB per pixel in float32 down to conv5_1, 3.8 GB at 2048 x 1536. The usual way out,
stylising tiles separately and feathering their seams, matches each tile to the style on its own
("style shift"): eq. 4 compares the Gram matrix of the *whole* image, ``G = sum_p F_p F_p^T``
(eq. 3), with the target. This module computes the untiled loss and gradient, up to rounding,
while holding one tile's activations at a time.

**Receptive fields.** One position of a tap sees a square of input pixels, its receptive field
(:func:`minivgg.architecture.receptive_field`: 156 px for conv5_1), around its *cell*, the
``2^P`` x ``2^P`` pixels that P poolings fold into it (16 px for conv5_1). The field reaches
``(field - cell) / 2`` px beyond the cell on each side (:func:`reach`: 70 px for conv5_1). A tile
is an *interior* of at most T x T image pixels, read with a *halo* of at least that reach around
it (:func:`halo`: 80 px, the reach rounded up to the grid). No interior position then sees the
zero padding at the tile's cut edges, so its features are the whole image's, value for value.
Where a tile meets the image's border its window stops there too, and is padded as the whole
image is. The interiors' corners lie on the grid of the deepest tap (2^P px, :func:`tile_grid`),
so every 2x2 pooling cuts the tile where it cuts the image: the tile's maps are windows of the
image's maps at every layer, and the interiors partition every tap's positions.

**Two passes** (:func:`evaluate`):

1. For each tile: forward, then add its interior positions' terms to the global sums: per style
   tap ``G += F_int F_int^T`` (with masks, the guided ``(F o m)_int (F o m)_int^T`` per region), and
   the content loss ``1/2 sum (F_int - P_int)^2`` (eq. 1). Then ``E_l = sum (G - A)^2 / (4 N^2 M^2)``
   (eq. 4) with M the whole image's positions.
2. With G known, the gradient at a tap is local: eq. 6, ``dE_l/dF_p = (G - A) F_p / (N^2 M^2)``,
   needs only position p's own F_p, and eq. 2's ``F_p - P_p`` likewise. For each tile: forward again
   (the activations of pass 1 were let go), put these gradients on its interior and 0 in the halo,
   run the backward, and add its ``dx`` -- halo included -- into the image's gradient.

**Why pass 2 is exact.** Backpropagation is linear in the gradient fed in at the taps. Split that
gradient ``g`` by tile, ``g = sum_t g_t`` with ``g_t`` = g on tile t's interior and 0 elsewhere (the
interiors partition the positions). Then ``dL/dx = J^T g = sum_t J^T g_t``. ``J^T g_t`` flows only
through the positions that tile t's interior depends on -- the same cone as in pass 1, which never
reaches a cut edge -- so every ReLU mask and pooling choice it meets is the image's, and it equals
the tile's own backward of ``g_t``, placed at the tile's window.

The TV term is local and cheap: it is computed on the whole image, as untiled.

**Cost.** Every tile's window is larger than its interior (the halo: at 2048 x 1536 in tiles of 512,
1.5x the pixels), and every tile but the last of pass 1 (whose tape is still there: pass 2 walks the
tiles backwards) runs its forward twice: about ``1.5 x halo`` the untiled work
(:func:`evaluation_windows` lists what runs; :func:`minivgg.app.estimate.step_flop` counts it). The
time follows that count (bench/README.md, "Print sizes"): 1.58x the untiled evaluation at 2048 x 1536
in tiles of 768 px, 1.95x in tiles of 512.
"""

from __future__ import annotations

from dataclasses import dataclass

from .architecture import LAYER_NAMES, check_layer_names, min_input_size, poolings_above, receptive_field, tap_shape
from .errors import UsageError
from .losses import content_loss, gram, gram_backward


# ---------------------------------------------------------------------------------------------
# Geometry: the grid, the halo and the tiles
# ---------------------------------------------------------------------------------------------
def tile_grid(layers) -> int:
    """Interior corners lie on multiples of this many pixels: the cell of the deepest of ``layers``,
    2^(poolings above it) (16 for conv5_1), so that every pooling cuts a tile where it cuts the image."""
    return min_input_size(layers)


def reach(name: str) -> int:
    """How far, in input pixels, the receptive field of tap ``name`` reaches beyond its cell on each
    side: ``(field - cell) / 2`` (conv5_1: (156 - 16) / 2 = 70)."""
    return (receptive_field(name) - 2 ** poolings_above(name)) // 2


def halo(layers) -> int:
    """Pixels a tile reads beyond its interior on each side: the longest reach among ``layers``,
    rounded up to the grid (conv5_1: 70 -> 80 px)."""
    layers = check_layer_names(layers)
    grid = tile_grid(layers)
    return -(-max(reach(n) for n in layers) // grid) * grid


def check_tile(tile, layers) -> int:
    """``tile`` as an int, or a UsageError unless it is a positive multiple of the grid of ``layers``."""
    grid = tile_grid(layers)
    if isinstance(tile, bool) or int(tile) != tile or tile < grid or int(tile) % grid:
        raise UsageError(f"the tile must be a multiple of {grid} px (the pooling grid of "
                         f"{max(layers, key=LAYER_NAMES.index)}), got {tile}: e.g. "
                         f"{max(grid, int(tile) // grid * grid)} or {max(grid, -(-int(tile) // grid) * grid)}")
    return int(tile)


def split(n: int, tile: int, grid: int) -> list:
    """``[(a, b), ...]``: ``range(n)`` cut into ``ceil(n / tile)`` runs of at most ``tile``, each
    starting on the grid, as equal as the grid allows (the larger first; the last ends at n)."""
    units = -(-n // grid)                        # grid cells, the last one possibly partial
    parts = -(-n // tile)
    base, extra = divmod(units, parts)
    cuts, a = [], 0
    for i in range(parts):
        b = min(n, a + (base + (i < extra)) * grid)
        cuts.append((a, b))
        a = b
    return cuts


@dataclass(frozen=True)
class Tile:
    """One tile of an image of ``hw``: ``interior`` and ``window`` (what the network reads) as
    ``((y0, y1), (x0, x1))`` in image pixels; the window is the interior plus the halo, cut at the
    image's border."""

    hw: tuple
    interior: tuple
    window: tuple

    def read(self, x):
        """The tile's window of ``x: (C, H, W)``: ``(C, wy1 - wy0, wx1 - wx0)`` (a view)."""
        (y0, y1), (x0, x1) = self.window
        return x[:, y0:y1, x0:x1]

    def at(self, name: str, local: bool = True) -> tuple:
        """The interior at tap ``name`` as ``(slice rows, slice cols)``: in the window's map
        (``local``) or in the image's (its targets and masks). A pooling halves, rounding down."""
        p = 2 ** poolings_above(name)
        out = []
        for (a, b), (w0, _) in zip(self.interior, self.window, strict=True):
            off = w0 // p if local else 0        # w0 is on the grid: a whole number of positions
            out.append(slice(a // p - off, b // p - off))
        return tuple(out)


def tiles(hw, tile: int, layers) -> list:
    """The tiles of an image of ``hw = (H, W)`` for taps ``layers``: interiors of at most ``tile`` px
    (a multiple of the grid, :func:`check_tile`), row by row, each read with :func:`halo` around it."""
    layers = check_layer_names(layers)
    tile = check_tile(tile, layers)
    grid, h = tile_grid(layers), halo(layers)
    H, W = (int(v) for v in hw)
    out = []
    for ry in split(H, tile, grid):
        for rx in split(W, tile, grid):
            window = tuple((max(0, a - h), min(n, b + h)) for (a, b), n in ((ry, H), (rx, W)))
            out.append(Tile((H, W), (ry, rx), window))
    return out


def _largest_interior(n: int, tile: int, grid: int) -> int:
    """The longest run :func:`split` makes of ``range(n)``, without listing the runs, before the last
    run is cut at n: a multiple of the grid, the smallest tile that cuts ``range(n)`` as ``tile`` does."""
    units, parts = -(-n // grid), -(-n // tile)
    return -(-units // parts) * grid


def largest_window(hw, tile: int, layers) -> tuple:
    """``(h, w)``: at most the largest window a tile of an image of ``hw`` reads, per axis (what the
    memory of a tiled evaluation is sized by, :func:`minivgg.machine.memory.tiled_bytes`). Exact up to
    three tiles on an axis; beyond, the longest interior with a halo on both sides (a grid cell over
    at most)."""
    grid, h = tile_grid(layers), halo(layers)
    out = []
    for n in (int(v) for v in hw):
        if -(-n // int(tile)) <= 3:
            out.append(max(min(n, b + h) - max(0, a - h) for a, b in split(n, int(tile), grid)))
        else:
            out.append(min(n, min(n, _largest_interior(n, int(tile), grid)) + 2 * h))
    return tuple(out)


def fitted_tile(hw, tile: int, layers) -> int:
    """The smallest tile, on the grid, that cuts an image of ``hw`` as ``tile`` does (``tile`` 2032 on
    2048 px cuts two halves of 1024, and so does 1024)."""
    grid = tile_grid(layers)
    return max(_largest_interior(int(n), int(tile), grid) for n in hw)


def needs_tiles(hw, tile, layers) -> bool:
    """Whether an image of ``hw`` is evaluated in more than one tile (``tile`` None: never)."""
    if tile is None or not layers:
        return False
    return max(int(v) for v in hw) > check_tile(tile, check_layer_names(layers))


def evaluation_windows(hw, tile, layers, want_grad: bool = True) -> list:
    """What one evaluation runs: ``[((h, w), "forward" | "step"), ...]``, a window per pass of a
    tile (untiled: the whole image once). Pass 1 runs every tile forward; pass 2 a step (forward
    and backward) per tile, but the last tile of pass 1 keeps its tape and runs only its backward
    (counted as a step, its forward being the pass-1 one left out)."""
    if not needs_tiles(hw, tile, layers):
        return [(tuple(int(v) for v in hw), "step" if want_grad else "forward")]
    shapes = [tuple(b - a for a, b in t.window) for t in tiles(hw, tile, layers)]
    if not want_grad:
        return [(s, "forward") for s in shapes]
    return [(s, "forward") for s in shapes[:-1]] + [(s, "step") for s in shapes]


# ---------------------------------------------------------------------------------------------
# Pass 1 on its own: the targets (content features, style Grams) of a large image
# ---------------------------------------------------------------------------------------------
def _tiled_forward(net, x, layers, tile):
    """Yield ``(tile, taps)`` for every tile of ``x``: ``taps`` the window's features, exact on the interior."""
    for t in tiles(x.shape[1:], tile, layers):
        yield t, net.forward(net.xp.ascontiguousarray(t.read(x)), layers)


def features(net, x, layers, tile=None) -> dict:
    """``{layer: F_l (N_l, H_l, W_l)}`` of ``x: (3, H, W)``, fresh arrays (the content targets P_l of
    eq. 1). With ``tile``, each tile's interior is copied in: the same numbers, one tile's memory."""
    if not needs_tiles(x.shape[1:], tile, layers):
        return {k: v.copy() for k, v in net.forward(x, layers).items()}
    out = {}
    for t, taps in _tiled_forward(net, x, layers, tile):
        for name in layers:
            if name not in out:
                out[name] = net.xp.empty((taps[name].shape[0],) + tap_shape(x.shape[1:], name), dtype=taps[name].dtype)
            out[name][(slice(None),) + t.at(name, local=False)] = taps[name][(slice(None),) + t.at(name)]
    return out


def grams(net, x, layers, tile=None) -> dict:
    """``{layer: Gram(F_l) (N_l, N_l)}`` of ``x: (3, H, W)`` (eq. 3; the style targets' Grams).
    With ``tile``: the sum over the tiles' interiors of their own Grams, the same sum regrouped."""
    if not needs_tiles(x.shape[1:], tile, layers):
        taps = net.forward(x, layers)
        return {name: gram(taps[name]) for name in layers}
    out = {}
    for t, taps in _tiled_forward(net, x, layers, tile):
        for name in layers:
            G = gram(taps[name][(slice(None),) + t.at(name)])
            out[name] = G if name not in out else out[name] + G
    return out


# ---------------------------------------------------------------------------------------------
# One evaluation of eq. 7, in two passes
# ---------------------------------------------------------------------------------------------
def _region_terms(st):
    """``[({layer: A_l}, {layer: m_l} or None)]``: the plain style targets as one region without a
    mask, or one region per style image with its masks (guided Grams)."""
    if st.style_regions is None:
        return [(st.style_targets, None)]
    return list(st.style_regions)


def evaluate(st, x, want_grad: bool):
    """``(parts, dL/dx or None)`` of the objective ``st`` (a :class:`~minivgg.objective.StyleTransfer`
    with ``st.tile`` set) at ``x: (3, H, W)``, by the two passes of the module docstring: the same
    numbers as its untiled evaluation, up to rounding. Reads the objective's targets, weights and
    masks; sets ``st.last_losses``."""
    net, xp = st.net, st.xp
    layers = st._taps
    all_tiles = tiles(x.shape[1:], st.tile, layers)
    regions = _region_terms(st) if st._style_taps else []
    hw = x.shape[1:]

    # Pass 1: the global sums. Loss terms stay on the device, in float64 as the losses give them,
    # until the one copy to the host at the end (StyleTransfer._parts).
    Lc = 0.0
    G = [{} for _ in regions]
    taps = None
    for t in all_tiles:
        taps = net.forward(xp.ascontiguousarray(t.read(x)), layers)
        for name in st._content_taps:
            F, P = taps[name][(slice(None),) + t.at(name)], st.content_targets[name][(slice(None),) + t.at(name, False)]
            Lc = Lc + content_loss(F, P)[0]                                              # eq. 1
        for k, (_, masks) in enumerate(regions):
            for name in st._style_taps:
                F = taps[name][(slice(None),) + t.at(name)]
                if masks is not None:
                    F = F * masks[name][(slice(None),) + t.at(name, False)]             # guided Gram
                g = gram(F)
                G[k][name] = g if name not in G[k] else G[k][name] + g                 # eq. 3, summed by tile

    # The style loss from the global Grams (eq. 4, 5), and dE/dG for pass 2. Eq. 4 is eq. 1 between
    # Gram matrices, scaled: E = sum (G - A)^2 / (4 N^2 M^2) = s * 1/2 sum (G - A)^2 with
    # s = 1 / (2 N^2 M^2), M the whole image's positions; so dE/dG = s (G - A), eq. 2 scaled alike.
    Ls = 0.0
    dG = [{} for _ in regions]
    for k, (targets, _) in enumerate(regions):
        for name in st._style_taps:
            N = G[k][name].shape[0]
            h, w = tap_shape(hw, name)
            s = 1.0 / (2.0 * N * N * (h * w) ** 2)
            half, diff = content_loss(G[k][name], targets[name])
            weight = float(st.style_layer_weights[name])
            Ls = Ls + (weight * s) * half
            dG[k][name] = (st.beta * weight * s) * diff

    parts, dtv = st._parts(Lc, Ls, x)
    if not want_grad:
        return parts, None

    # Pass 2: backwards through the tiles, so that the last one reuses pass 1's forward and tape.
    grad = xp.zeros_like(x)
    for i, t in enumerate(reversed(all_tiles)):
        if i > 0:
            taps = net.forward(xp.ascontiguousarray(t.read(x)), layers)
        tap_grads = {}
        for name in layers:
            inner = (slice(None),) + t.at(name)
            outer = (slice(None),) + t.at(name, False)
            F = taps[name][inner]
            g = xp.zeros_like(taps[name])                 # 0 in the halo: its positions are other tiles'
            dF = g[inner]                                 # a view: what is added to it lands in g
            if name in st._content_taps:
                dF += st.alpha * (F - st.content_targets[name][outer])                   # eq. 2
            if name in st._style_taps:
                for k, (_, masks) in enumerate(regions):
                    if masks is None:
                        dF += gram_backward(dG[k][name], F)                                   # eq. 6
                    else:                                  # the product rule through F o m: m o dE/d(F o m)
                        m = masks[name][outer]
                        dF += m * gram_backward(dG[k][name], F * m)
            tap_grads[name] = g
        (y0, y1), (x0, x1) = t.window
        grad[:, y0:y1, x0:x1] += net.backward(tap_grads)
    if st.tv_weight > 0:
        grad = grad + st.tv_weight * dtv
    return parts, grad


__all__ = ["Tile", "tile_grid", "reach", "halo", "check_tile", "split", "tiles", "largest_window", "fitted_tile",
           "needs_tiles",
           "evaluation_windows", "features", "grams", "evaluate"]
