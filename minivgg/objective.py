"""The objective of Gatys, Ecker & Bethge (2015), eq. 7: :class:`StyleTransfer`, its targets and its layer masks.

Given a content photo ``p`` and one or more style images ``a_k``, find the image ``x`` minimising ::

    L(x) = alpha * L_c(x) + beta * L_s(x) + tv_weight * TV(x)            (eq. 7, plus an optional TV term)

    L_c = 1/2 sum_{l in content} sum (F_l(x) - P_l)^2                     (eq. 1)
    L_s = sum_{l in style} w_l E_l,  E_l = sum (G_l(x) - A_l)^2 / (4 N_l^2 M_l^2)   (eq. 4, 5)
    A_l = sum_k b_k Gram(F_l(a_k))                                        (eq. 3; blend b sums to 1)

The targets ``P_l`` and ``A_l`` are computed once, in ``__init__``. One evaluation of the objective
is one forward pass to the deepest tap needed, the losses at the taps (:mod:`minivgg.losses`),
and one backward pass with the tap gradients summed (a layer that is both a content and a style
tap gets both), plus the TV gradient, which acts on the image directly.

**Choice of beta.** These are exactly the paper's normalisations (eq. 1's ``1/2``, eq. 4's
``1/(4 N^2 M^2)``, eq. 5's ``w_l = 1/5``), and VGG19's Keras weights are the Caffe network the
paper used, on the same 0..255 BGR-minus-mean input scale. So the paper's own ratio carries over:
its Figure 2 B-D use alpha/beta = 1e-3, hence the defaults ``alpha = 1``, ``beta = 1e3``. Looked
at on Tübingen x Starry Night at 256 px (noise init, L-BFGS): the houses, the tower and the river
stay readable under the painting's swirls and palette, as in Figure 2 C. beta = 1e4 (the paper's
1e-4, Figure 2 E-F) is almost pure texture at 256 px. Raise beta for more style, lower it for
more photo.

This module is the objective and nothing else: no files, no resizing, no presets. The picture
pipeline that builds it from image files, at one or several sizes and with the starting image
(:func:`minivgg.app.pipeline.initial_image`), lives in :mod:`minivgg.app.pipeline`.
"""

from __future__ import annotations

import math

import numpy as np

from . import tiling
from .architecture import LAYER_NAMES, check_input_size, check_layer_names, tap_shape
from .backend import to_floats, to_numpy
from .errors import MinivggError, UsageError
from .losses import content_loss, masked_style_loss, style_loss, tv_loss
from .optim import DEFAULT_ADAM_LR, minimize_image, pixel_bounds

DEFAULT_CONTENT_LAYERS = ("conv4_2",)
DEFAULT_STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
DEFAULT_ALPHA = 1.0
#: See the module docstring.
DEFAULT_BETA = 1e3
STYLE_TARGET_SCALES = ("sum", "positions")


def _check_weight(name: str, value) -> float:
    value = float(value)
    if not (value >= 0 and math.isfinite(value)):
        raise UsageError(f"{name} must be a finite number >= 0, got {value}")
    return value


def normalise_blend(style_blend, n_styles: int) -> tuple:
    """The blend weights b_k as floats summing to 1 (equal by default); UsageError when unusable."""
    if style_blend is None:
        return (1.0 / n_styles,) * n_styles
    blend = [_check_weight("style blend weight", b) for b in style_blend]
    if len(blend) != n_styles:
        raise UsageError(f"got {len(blend)} style blend weights for {n_styles} style image(s)")
    total = sum(blend)
    if total <= 0:
        raise UsageError("the style blend weights sum to 0")
    return tuple(b / total for b in blend)


def _check_image_size(x, layers, what: str):
    """UsageError naming ``what`` if ``x: (3, H, W)`` is too small to reach the deepest of ``layers``."""
    if not layers:
        return
    if x.ndim != 3 or x.shape[0] != 3:
        raise UsageError(f"the {what} must be a preprocessed (3, H, W) array, got shape {tuple(x.shape)}")
    check_input_size(x.shape[1:], layers, what)


class StyleTransfer:
    """The objective of eq. 7 for one content image and a blend of style images.

    net: a :class:`~minivgg.vgg.VGG19`. content: ``(3, H, W)`` preprocessed photo (may be None when
    ``alpha == 0`` or there are no content layers). styles: a list of ``(3, H_k, W_k)`` preprocessed
    style images, any sizes (or one array). style_blend: b_k per style (normalised to sum 1; equal by
    default). style_layer_weights: w_l per style layer (default ``1/len(style_layers)`` each; used as
    given, not normalised). Layers unused because their weight is 0 are not computed.

    style_masks (spatial control, Gatys et al. 2017): one mask per style image, each an ``(H, W)``
    array in 0..1 (or uint8) of the content's height and width; style k then acts only where its mask
    is on, through guided Gram matrices (see :func:`style_targets_and_masks`). style_blend does not
    apply with masks. style_target_scale: ``"sum"`` (default, eq. 3 as it stands: the style Gram sums
    over the style image's positions) or ``"positions"`` (each style Gram rescaled to the output's
    number of positions at that layer, see :func:`style_targets_and_masks`; used for ``--style-scale``).

    tile (large images): evaluate in tiles of at most ``tile`` x ``tile`` output pixels, a multiple of
    the pooling grid (16 px with conv5_1), holding one tile's activations at a time; the targets are
    computed the same way. The loss and gradient are the untiled ones up to rounding
    (:mod:`minivgg.tiling` says why). None (default): one pass over the whole image.

    :meth:`losses` reports ``content`` = L_c and ``style`` = L_s *unweighted*, ``tv`` = TV unweighted
    (0 when tv_weight is 0: the term is then not computed), and ``total`` = alpha L_c + beta L_s +
    tv_weight TV, the number that is minimised.
    """

    def __init__(self, net, content, styles, content_layers=DEFAULT_CONTENT_LAYERS,
                 style_layers=DEFAULT_STYLE_LAYERS, alpha: float = DEFAULT_ALPHA, beta: float = DEFAULT_BETA,
                 style_blend=None, tv_weight: float = 0.0, style_layer_weights=None, style_masks=None,
                 style_target_scale: str = "sum", tile: int | None = None):
        self.net = net
        self.xp = net.xp
        self.alpha = _check_weight("the content weight alpha", alpha)
        self.beta = _check_weight("the style weight beta", beta)
        self.tv_weight = _check_weight("the TV weight", tv_weight)
        self.content_layers = check_layer_names(content_layers, "content layer")
        self.style_layers = check_layer_names(style_layers, "style layer")
        for what, names in (("content", self.content_layers), ("style", self.style_layers)):
            if len(set(names)) != len(names):
                raise UsageError(f"a {what} layer is listed twice")
        if style_layer_weights is None:
            w = [1.0 / len(self.style_layers)] * len(self.style_layers) if self.style_layers else []
        else:
            w = [_check_weight("a style layer weight", v) for v in style_layer_weights]
            if len(w) != len(self.style_layers):
                raise UsageError(f"got {len(w)} style layer weights for {len(self.style_layers)} style layers")
        self.style_layer_weights = dict(zip(self.style_layers, w, strict=True))

        # Layers with zero weight cost a forward pass and add nothing: leave them out.
        self._content_taps = self.content_layers if self.alpha > 0 else ()
        self._style_taps = self.style_layers if self.beta > 0 else ()

        self._taps = active_taps(self.content_layers, self.style_layers, self.alpha, self.beta)
        self.tile = None if tile is None or not self._taps else tiling.check_tile(tile, self._taps)
        self.content_targets = {}
        if content is not None:
            content = self._to_net(content)
            # The result has the content's shape and must reach every tap, content and style.
            _check_image_size(content, self._taps, "content image")
        if self._content_taps:
            if content is None:
                raise UsageError("a content image is needed when the content weight is > 0")
            # P_l of eq. 1. Fresh arrays: the network may reuse its buffers on the next forward.
            self.content_targets = tiling.features(net, content, self._content_taps, self.tile)
        self.shape = None if content is None else tuple(content.shape)

        if styles is not None and not isinstance(styles, (list, tuple)):
            styles = [styles]
        styles = list(styles or [])
        if style_target_scale not in STYLE_TARGET_SCALES:
            raise UsageError(f"unknown style_target_scale {style_target_scale!r}: choose one of "
                             f"{', '.join(STYLE_TARGET_SCALES)}")
        self.style_target_scale = style_target_scale
        if style_masks is not None:
            if style_blend is not None:
                raise UsageError("style blend weights do not apply with masks: each style has its own region")
            check_mask_count(len(style_masks), len(styles))
        self.style_blend = normalise_blend(style_blend, len(styles)) if styles else ()
        self.style_targets = {}
        self.style_regions = None       # with masks: [(targets {l: A_l^k}, masks {l: m_l^k})] per style
        if self._style_taps:
            if not styles:
                raise UsageError("at least one style image is needed when the style weight is > 0")
            if (style_masks is not None or style_target_scale == "positions") and self.shape is None:
                if style_masks is None:
                    raise UsageError("style_target_scale 'positions' needs the content image (the output's size)")
                self.shape = (3,) + tuple(mask_to_float(style_masks[0], "mask 1").shape)
            styles = [self._to_net(s) for s in styles]
            for k, s in enumerate(styles):
                _check_image_size(s, self._style_taps, "style image" if len(styles) == 1 else f"style image {k + 1}")
            targets, masks = style_targets_and_masks(
                net, styles, self._style_taps, blend=self.style_blend, masks=style_masks,
                output_hw=None if self.shape is None else self.shape[1:], scale=style_target_scale, tile=self.tile)
            if masks is None:
                self.style_targets = targets
            else:
                self.style_regions = list(zip(targets, masks, strict=True))
        self.last_losses = None

    def _to_net(self, x):
        """x on the network's device in its dtype (no copy when it already is)."""
        return self.net.backend.asarray(x)

    # ------------------------------------------------------------------------------------------
    def _evaluate(self, x, want_grad: bool):
        """The loss parts at x and, if ``want_grad``, dL/dx. One forward and one backward pass."""
        x = self._to_net(x)
        _check_image_size(x, self._taps, "image")
        if tiling.needs_tiles(x.shape[1:], self.tile, self._taps):     # the same numbers, tile by tile
            return tiling.evaluate(self, x, want_grad)
        taps = self.net.forward(x, self._taps) if self._taps else {}
        tap_grads = {}

        Lc = 0.0
        for name in self._content_taps:             # eq. 1, gradient eq. 2
            loss, dF = content_loss(taps[name], self.content_targets[name])
            Lc += loss
            tap_grads[name] = self.alpha * dF

        Ls = 0.0
        if self._style_taps:
            if self.style_regions is not None:      # guided Grams, one term per region (masks)
                Ls, dFs = masked_style_loss(taps, self.style_regions, self.style_layer_weights)
            else:                                   # eq. 5 over eq. 4, gradients eq. 6
                Ls, dFs = style_loss(taps, self.style_targets, self.style_layer_weights)
            for name, dF in dFs.items():
                dF = self.beta * dF
                tap_grads[name] = tap_grads[name] + dF if name in tap_grads else dF

        parts, dtv = self._parts(Lc, Ls, x)
        if not want_grad:
            return parts, None
        grad = self.net.backward(tap_grads) if tap_grads else self.xp.zeros_like(x)
        if self.tv_weight > 0:
            grad = grad + self.tv_weight * dtv
        return parts, grad

    def _parts(self, Lc, Ls, x):
        """eq. 7 from L_c and L_s (0-d device arrays or floats) and the image's TV: ``(parts, dTV/dx)``.

        Shared by the whole-image and the tiled evaluation (:mod:`minivgg.tiling`)."""
        tv, dtv = tv_loss(x) if self.tv_weight > 0 else (0.0, None)     # weight 0: the term is off
        total = self.alpha * Lc + self.beta * Ls + self.tv_weight * tv
        # The parts are still on the device: one copy brings them back (one wait for a GPU).
        total, Lc, Ls, tv = to_floats(total, Lc, Ls, tv)
        parts = {"total": total, "content": Lc, "style": Ls, "tv": tv}
        if not math.isfinite(total):
            raise MinivggError(f"the loss is {total} (content {Lc}, style {Ls}, tv {tv}): the image holds "
                               "NaN/inf values or the weights are too large for the dtype")
        self.last_losses = parts
        return parts, dtv

    def loss_and_grad(self, x):
        """``(L, dL/dx)`` at ``x: (3, H, W)``: the eq. 7 total as a float and its gradient like x."""
        parts, grad = self._evaluate(x, want_grad=True)
        return parts["total"], grad

    def losses(self, x) -> dict:
        """``{"total", "content", "style", "tv"}`` at x, Python floats: content = L_c, style = L_s, tv = TV
        unweighted (0 when tv_weight is 0); total = alpha L_c + beta L_s + tv_weight TV. One forward
        pass, no backward."""
        return self._evaluate(x, want_grad=False)[0]

    # ------------------------------------------------------------------------------------------
    def run(self, x0, iterations: int, optimizer: str = "lbfgs", callback=None, lr: float = DEFAULT_ADAM_LR,
            bounds: bool = False, max_evals: int | None = None, state=None):
        """Minimise the objective from ``x0`` and return the image (net's dtype and device).

        callback(iteration, x, losses): once per iteration, ``losses`` the dict of :meth:`losses`
        at that iteration (L-BFGS: at the new image; Adam: at the image the step was computed from).
        It may raise StopIteration to end early. bounds: keep ``x + mean`` inside 0..255 per pixel.
        state: the optimiser's state to continue from (:func:`minivgg.optim.minimize_image`).
        """
        from .image import MEAN_BGR

        x0 = self._to_net(x0)
        box = pixel_bounds(x0.shape, MEAN_BGR) if bounds else None

        def report(it, x, loss):
            parts = self.last_losses
            if parts is None or parts["total"] != loss:   # the last evaluation was elsewhere
                parts = self.losses(x)
            callback(it, x, parts)

        return minimize_image(self.loss_and_grad, x0, iterations, optimizer=optimizer, lr=lr, bounds=box,
                              callback=report if callback is not None else None, max_evals=max_evals, state=state)


# ---------------------------------------------------------------------------------------------
# Style targets, with the extensions: spatial masks and per-position rescaling
# ---------------------------------------------------------------------------------------------
def style_targets_and_masks(net, styles, layers, blend=None, masks=None, output_hw=None, scale: str = "sum",
                            tile: int | None = None):
    """The style targets of the objective, computed once (one forward pass per style image).

    styles: preprocessed style images ``(3, H_k, W_k)``; layers: the style taps; blend: b_k.

    **Without masks** returns ``({layer: A_l}, None)`` with ::

        A_l = sum_k b_k c_l^k Gram(style_k)_l                                    (eq. 3 blended)

    where ``c_l^k = 1`` for ``scale="sum"`` (the paper's definition) and ``c_l^k = M_l / M_l^k`` for
    ``scale="positions"``: ``M_l`` the output's number of positions at layer l, ``M_l^k`` the style
    image's. A Gram matrix *sums* over positions, so a style image with four times the pixels of the
    output has a Gram four times larger than any output can reach with the same statistics; the
    optimiser then answers with features of twice the magnitude -- an over-saturated, clipped image.
    ``"positions"`` compares per-position statistics instead; it is what ``style_scale`` uses, and
    changes nothing when the style has the output's size.

    **With masks** (one per style, the output's ``(H, W)``, values 0..1) returns
    ``([{layer: A_l^k}, ...], [{layer: m_l^k}, ...])``, one dict of each per style: ``m_l^k`` the
    mask average-pooled to layer l (:func:`minivgg.objective.layer_masks`), and ::

        A_l^k = (sum_p (m_l^k)_p^2 / M_l^k) * Gram(style_k)_l

    the Gram of the *whole* style image rescaled to the region's size. The image's guided Gram
    ``G_l^k = (F_l o m_l^k)(F_l o m_l^k)^T`` (:func:`minivgg.losses.masked_style_layer_loss`) sums
    ``m^2``-weighted positions; ``sum_p m_p^2`` is that many positions' worth, so the target is what a
    region of the style's statistics would have. A mask of ones over an output of the style's size
    gives ``A_l^k = Gram(style_k)_l``: with one full mask the objective is exactly the plain one.

    tile: compute each style image's Grams tile by tile (:func:`minivgg.tiling.grams`).
    """
    if scale not in STYLE_TARGET_SCALES:
        raise UsageError(f"unknown style target scale {scale!r}: choose one of {', '.join(STYLE_TARGET_SCALES)}")
    if blend is None:
        blend = normalise_blend(None, len(styles))
    per_position = scale == "positions" or masks is not None
    if per_position and output_hw is None:
        raise UsageError("per-position style targets need the output's size")
    region_masks = None
    if masks is not None:
        check_mask_count(len(masks), len(styles))
        region_masks = []
        for k, m in enumerate(masks):
            m = mask_to_float(m, f"mask {k + 1}")
            if tuple(m.shape) != tuple(output_hw):
                raise UsageError(f"mask {k + 1} is {m.shape[1]}x{m.shape[0]} px but the output is "
                                 f"{output_hw[1]}x{output_hw[0]}: resize it (minivgg.app.masks.resize_mask)")
            region_masks.append(layer_masks(m, layers, backend=net.backend))

    shared, per_style = {}, []
    for k, s in enumerate(styles):
        grams = tiling.grams(net, s, layers, tile)
        own = {}
        for name in layers:
            G = grams[name]
            M_style = math.prod(tap_shape(s.shape[1:], name))
            if region_masks is not None:
                m = region_masks[k][name]
                own[name] = (float((m * m).sum()) / M_style) * G
            else:
                c = 1.0
                if per_position:
                    h, w = tap_shape(output_hw, name)
                    c = (h * w) / M_style
                G = (blend[k] * c) * G
                shared[name] = G if k == 0 else shared[name] + G
        per_style.append(own)
    if region_masks is None:
        return shared, None
    return per_style, region_masks


# ---------------------------------------------------------------------------------------------
# Masks at the layers (spatial control: Gatys, Ecker, Bethge, Hertzmann & Shechtman 2017)
# ---------------------------------------------------------------------------------------------
def check_mask_count(n_masks: int, n_styles: int, what: str = "masks") -> None:
    """UsageError unless there is exactly one mask per style image (what: the masks' name in the message)."""
    if n_masks != n_styles:
        raise UsageError(f"{what}: got {n_masks} for {n_styles} style image(s); give one per style, in the same order")


def mask_to_float(mask, what: str = "mask") -> np.ndarray:
    """A region mask (host or device) as host ``(H, W)`` float64 in 0..1: uint8 is divided by 255,
    floats must lie in 0..1."""
    m = to_numpy(mask)
    if m.ndim != 2 or m.shape[0] < 1 or m.shape[1] < 1:
        raise UsageError(f"{what} must be a greyscale image (H, W), got shape {m.shape}")
    if m.dtype == np.uint8:
        return m.astype(np.float64) / 255.0
    m = m.astype(np.float64)
    if not np.isfinite(m).all() or m.min() < 0 or m.max() > 1:
        raise UsageError(f"{what} values must lie in 0..1 (or be uint8 0..255)")
    return m


def layer_masks(mask, layers, backend=None) -> dict:
    """``{layer: m_l (1, H_l, W_l)}``: the mask (float ``(H, W)``, the image's size, values 0..1)
    average-pooled to each layer's resolution (see the module docstring)."""
    from .layers import avg_pool2d_forward

    m = np.asarray(to_numpy(mask), dtype=np.float64)[None]
    out = {}
    pools_done = 0
    for name in sorted(set(layers), key=lambda n: int(n[4])):
        need = int(name[4]) - 1                    # convB_C: B - 1 poolings above it
        while pools_done < need:
            m, _ = avg_pool2d_forward(m)
            pools_done += 1
        out[name] = m if backend is None else backend.asarray(m)
    return out


def active_taps(content_layers, style_layers, alpha, beta) -> tuple:
    """The layers an objective computes: the content layers if alpha > 0 and the style layers if
    beta > 0 (a term with weight 0 costs a forward pass and adds nothing), in network order."""
    wanted = set(content_layers if alpha > 0 else ()) | set(style_layers if beta > 0 else ())
    return tuple(n for n in LAYER_NAMES if n in wanted)


__all__ = ["StyleTransfer", "style_targets_and_masks", "tap_shape", "active_taps", "normalise_blend", "layer_masks",
           "mask_to_float", "check_mask_count", "STYLE_TARGET_SCALES", "DEFAULT_CONTENT_LAYERS",
           "DEFAULT_STYLE_LAYERS", "DEFAULT_ALPHA", "DEFAULT_BETA"]
