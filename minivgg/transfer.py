"""Style transfer: the objective of Gatys, Ecker & Bethge (2015), eq. 7, and the loop that minimises it.

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

**Initialisation** (:func:`initial_image`): ``"noise"`` (the paper's white noise), ``"content"``,
``"style"`` (the first style image resized to the content's shape) or an image path.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import MinivggError, UsageError
from .losses import content_loss, gram, masked_style_loss, style_loss, tv_loss
from .optim import DEFAULT_ADAM_LR, minimize_image, pixel_bounds
from .vgg import LAYER_NAMES, check_layer_names, min_input_size

DEFAULT_CONTENT_LAYERS = ("conv4_2",)
DEFAULT_STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
DEFAULT_ALPHA = 1.0
#: See the module docstring.
DEFAULT_BETA = 1e3
DEFAULT_ITERATIONS = 500
DEFAULT_SIZE = 256
INITS = ("noise", "content", "style")
STYLE_TARGET_SCALES = ("sum", "positions")
PRESERVE_COLOR = ("luminance", "histogram")
#: Standard deviation of the white-noise init, in grey levels (the image is on the 0..255 scale
#: minus the mean, so the noise sits around the mean colour). Large enough to hold every frequency
#: the optimiser can sculpt, small enough that L-BFGS does not spend its first iterations
#: removing out-of-range pixels.
NOISE_STD = 20.0


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
    need = min_input_size(layers)
    if min(x.shape[1:]) < need:
        deepest = max(layers, key=LAYER_NAMES.index)
        raise UsageError(f"the {what} is {x.shape[2]}x{x.shape[1]} px, too small for layer {deepest}: "
                         f"it needs at least {need} px on each side (each pooling halves the image)")


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

    :meth:`losses` reports ``content`` = L_c and ``style`` = L_s *unweighted*, ``tv`` = TV unweighted,
    and ``total`` = alpha L_c + beta L_s + tv_weight TV, the number that is minimised.
    """

    def __init__(self, net, content, styles, content_layers=DEFAULT_CONTENT_LAYERS,
                 style_layers=DEFAULT_STYLE_LAYERS, alpha: float = DEFAULT_ALPHA, beta: float = DEFAULT_BETA,
                 style_blend=None, tv_weight: float = 0.0, style_layer_weights=None, style_masks=None,
                 style_target_scale: str = "sum"):
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
        self.style_layer_weights = dict(zip(self.style_layers, w))

        # Layers with zero weight cost a forward pass and add nothing: leave them out.
        self._content_taps = self.content_layers if self.alpha > 0 else ()
        self._style_taps = self.style_layers if self.beta > 0 else ()

        self._taps = active_taps(self.content_layers, self.style_layers, self.alpha, self.beta)
        self.content_targets = {}
        if content is not None:
            content = self._to_net(content)
            # The result has the content's shape and must reach every tap, content and style.
            _check_image_size(content, self._taps, "content image")
        if self._content_taps:
            if content is None:
                raise UsageError("a content image is needed when the content weight is > 0")
            # P_l of eq. 1. Copies: the network may reuse its buffers on the next forward.
            self.content_targets = {k: v.copy() for k, v in net.forward(content, self._content_taps).items()}
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
            if len(style_masks) != len(styles):
                raise UsageError(f"got {len(style_masks)} masks for {len(styles)} style image(s): give one per style")
        self.style_blend = normalise_blend(style_blend, len(styles)) if styles else ()
        self.style_targets = {}
        self.style_regions = None       # with masks: [(targets {l: A_l^k}, masks {l: m_l^k})] per style
        if self._style_taps:
            if not styles:
                raise UsageError("at least one style image is needed when the style weight is > 0")
            if (style_masks is not None or style_target_scale == "positions") and self.shape is None:
                if style_masks is None:
                    raise UsageError("style_target_scale 'positions' needs the content image (the output's size)")
                self.shape = (3,) + tuple(np.shape(style_masks[0])[:2])
            styles = [self._to_net(s) for s in styles]
            for k, s in enumerate(styles):
                _check_image_size(s, self._style_taps, "style image" if len(styles) == 1 else f"style image {k + 1}")
            targets, masks = style_targets_and_masks(
                net, styles, self._style_taps, blend=self.style_blend, masks=style_masks,
                output_hw=None if self.shape is None else self.shape[1:], scale=style_target_scale)
            if masks is None:
                self.style_targets = targets
            else:
                self.style_regions = list(zip(targets, masks))
        self.last_losses = None

    def _to_net(self, x):
        """x on the network's device in its dtype (no copy when it already is)."""
        return self.net.backend.asarray(x)

    # ------------------------------------------------------------------------------------------
    def _evaluate(self, x, want_grad: bool):
        """The loss parts at x and, if ``want_grad``, dL/dx. One forward and one backward pass."""
        x = self._to_net(x)
        _check_image_size(x, self._taps, "image")
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

        tv, dtv = tv_loss(x)
        total = self.alpha * Lc + self.beta * Ls + self.tv_weight * tv
        parts = {"total": total, "content": Lc, "style": Ls, "tv": tv}
        if not math.isfinite(total):
            raise MinivggError(f"the loss is {total} (content {Lc}, style {Ls}, tv {tv}): the image holds "
                               "NaN/inf values or the weights are too large for the dtype")
        self.last_losses = parts
        if not want_grad:
            return parts, None
        grad = self.net.backward(tap_grads) if tap_grads else self.xp.zeros_like(x)
        if self.tv_weight > 0:
            grad = grad + self.tv_weight * dtv
        return parts, grad

    def loss_and_grad(self, x):
        """``(L, dL/dx)`` at ``x: (3, H, W)``: the eq. 7 total as a float and its gradient like x."""
        parts, grad = self._evaluate(x, want_grad=True)
        return parts["total"], grad

    def losses(self, x) -> dict:
        """``{"total", "content", "style", "tv"}`` at x: content = L_c, style = L_s, tv = TV unweighted;
        total = alpha L_c + beta L_s + tv_weight TV. One forward pass, no backward."""
        return self._evaluate(x, want_grad=False)[0]

    # ------------------------------------------------------------------------------------------
    def run(self, x0, iterations: int, optimizer: str = "lbfgs", callback=None, lr: float = DEFAULT_ADAM_LR,
            bounds: bool = False, max_evals: int | None = None):
        """Minimise the objective from ``x0`` and return the image (net's dtype and device).

        callback(iteration, x, losses): once per iteration, ``losses`` the dict of :meth:`losses`
        at that iteration (L-BFGS: at the new image; Adam: at the image the step was computed from).
        It may raise StopIteration to end early. bounds: keep ``x + mean`` inside 0..255 per pixel.
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
                              callback=report if callback is not None else None, max_evals=max_evals)


# ---------------------------------------------------------------------------------------------
# Style targets, with the extensions: spatial masks and per-position rescaling
# ---------------------------------------------------------------------------------------------
def tap_shape(hw, name: str) -> tuple:
    """``(H_l, W_l)`` of tap ``name`` for an image of ``hw = (H, W)``: halved (rounded down) once
    per pooling above it; the padded 3x3 convolutions keep the size."""
    h, w = (int(v) for v in hw)
    for _ in range(int(name[4]) - 1):
        h, w = h // 2, w // 2
    return h, w


def style_targets_and_masks(net, styles, layers, blend=None, masks=None, output_hw=None, scale: str = "sum"):
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
    mask average-pooled to layer l (:func:`minivgg.masks.layer_masks`), and ::

        A_l^k = (sum_p (m_l^k)_p^2 / M_l^k) * Gram(style_k)_l

    the Gram of the *whole* style image rescaled to the region's size. The image's guided Gram
    ``G_l^k = (F_l o m_l^k)(F_l o m_l^k)^T`` (:func:`minivgg.losses.masked_style_layer_loss`) sums
    ``m^2``-weighted positions; ``sum_p m_p^2`` is that many positions' worth, so the target is what a
    region of the style's statistics would have. A mask of ones over an output of the style's size
    gives ``A_l^k = Gram(style_k)_l``: with one full mask the objective is exactly the plain one.
    """
    from .masks import layer_masks, mask_to_float

    if scale not in STYLE_TARGET_SCALES:
        raise UsageError(f"unknown style target scale {scale!r}: choose one of {', '.join(STYLE_TARGET_SCALES)}")
    if blend is None:
        blend = normalise_blend(None, len(styles))
    per_position = scale == "positions" or masks is not None
    if per_position and output_hw is None:
        raise UsageError("per-position style targets need the output's size")
    region_masks = None
    if masks is not None:
        if len(masks) != len(styles):
            raise UsageError(f"got {len(masks)} masks for {len(styles)} style image(s): give one per style")
        region_masks = []
        for k, m in enumerate(masks):
            m = mask_to_float(m, f"mask {k + 1}")
            if tuple(m.shape) != tuple(output_hw):
                raise UsageError(f"mask {k + 1} is {m.shape[1]}x{m.shape[0]} px but the output is "
                                 f"{output_hw[1]}x{output_hw[0]}: resize it (minivgg.masks.resize_mask)")
            region_masks.append(layer_masks(m, layers, backend=net.backend))

    shared, per_style = {}, []
    for k, s in enumerate(styles):
        taps = net.forward(s, layers)
        own = {}
        for name in layers:
            G = gram(taps[name])
            M_style = taps[name].shape[1] * taps[name].shape[2]
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
def initial_image(init, content, styles=(), seed: int = 0, backend=None, noise_std: float = NOISE_STD):
    """The starting image ``x0: (3, H, W)`` for a content image of that shape.

    init: ``"noise"`` -- Gaussian white noise of std ``noise_std`` grey levels around the mean
    colour, from ``numpy.random.default_rng(seed)`` (the same seed gives the same image on any
    device); ``"content"`` -- a copy of the content; ``"style"`` -- the first style image resized to
    the content's shape; an RGB uint8 ``(h, w, 3)`` array or the path of an image -- that image
    resized to the content's shape. content, styles: preprocessed arrays.
    backend: where x0 lives (default: NumPy, content's dtype).
    """
    from .backend import to_numpy
    from .image import deprocess, load_image, preprocess, resize_image

    shape = tuple(content.shape)

    def put(a):
        return backend.asarray(a) if backend is not None else np.asarray(a, dtype=content.dtype)

    if isinstance(init, str) and init == "noise":
        rng = np.random.default_rng(seed)
        return put(noise_std * rng.standard_normal(shape))
    if isinstance(init, str) and init == "content":
        return put(np.array(to_numpy(content), copy=True))
    if isinstance(init, str) and init == "style":
        if not len(styles):
            raise UsageError("init 'style' needs a style image")
        rgb = deprocess(to_numpy(styles[0]))
    elif isinstance(init, np.ndarray):
        rgb = init
    else:
        rgb = load_image(str(init))
    return put(preprocess(resize_image(rgb, shape=shape[1:])))


def build(net, content_rgb, style_rgbs, init="noise", seed: int = 0, **objective):
    """The objective and the starting image for RGB uint8 images: ``(StyleTransfer, x0)``.

    objective: the keyword arguments of :class:`StyleTransfer` (alpha, beta, layers, blend, ...).
    """
    from .image import preprocess

    content = preprocess(content_rgb, backend=net.backend)
    styles = [preprocess(s, backend=net.backend) for s in style_rgbs]
    st = StyleTransfer(net, content, styles, **objective)
    return st, initial_image(init, content, styles, seed=seed, backend=net.backend)


def stylize(content_path, style_paths, size: int | None = None, iterations=None,
            content_weight: float | None = None, style_weight: float | None = None,
            content_layers=None, style_layers=None,
            style_layer_weights=None, style_blend=None, tv_weight: float | None = None, pooling: str | None = None,
            init=None, seed: int | None = None, optimizer: str | None = None, lr: float = DEFAULT_ADAM_LR,
            bounds: bool = False, device: str = "cpu", weights=None, dtype: str = "float32",
            style_size: int | None = None, callback=None, net=None, preserve_color: str | None = None,
            scales=None, levels: int | None = None, style_scale: float | None = None, content_masks=None,
            plot=None, preset: str | None = None):
    """Paint the photo at ``content_path`` in the style of ``style_paths``; returns RGB uint8 ``(H, W, 3)``.

    ``preset``: ``"clean"`` (the default) or ``"paper"`` (:mod:`minivgg.presets`) fills in every one of
    iterations, content_weight, style_weight, content_layers, style_layers, tv_weight, pooling, init,
    seed and optimizer left as None; a value given explicitly always wins.
    The content is resized to ``size`` pixels on its long side (default ``DEFAULT_SIZE``), the styles
    to ``style_size`` (default: the same long side). ``net``: an already loaded VGG19 (else loaded
    from ``weights`` with ``pooling``, ``device``, ``dtype``). callback as in :meth:`StyleTransfer.run`
    (multi-scale: see :func:`stylize_images`). Everything else as in :class:`StyleTransfer` and
    :func:`initial_image`. The extensions (each as the command line's flag of the same name):

    * ``preserve_color``: ``"luminance"`` or ``"histogram"`` (:mod:`minivgg.color`);
    * ``scales`` (``"256,512"`` or a sequence) or ``levels`` (with ``size``): coarse-to-fine
      (:mod:`minivgg.multiscale`); ``iterations`` is then one count (halved per larger scale) or one
      per scale;
    * ``style_scale``: the style's long side as a multiple of the output's (:func:`style_long_side`);
    * ``content_masks``: one mask per style, paths or arrays (:mod:`minivgg.masks`);
    * ``plot``: write the loss curves to this PNG (:func:`minivgg.plot.plot_losses`, needs matplotlib).
    """
    from .image import load_image
    from .masks import load_mask
    from .multiscale import parse_iterations, resolve_scales
    from .presets import resolve
    from .vgg import VGG19

    s = resolve(preset, dict(iterations=iterations, content_weight=content_weight, style_weight=style_weight,
                             content_layers=content_layers, style_layers=style_layers, tv_weight=tv_weight,
                             pooling=pooling, init=init, seed=seed, optimizer=optimizer))
    iterations, content_weight, style_weight = s["iterations"], s["content_weight"], s["style_weight"]
    content_layers, style_layers, tv_weight = s["content_layers"], s["style_layers"], s["tv_weight"]
    pooling, init, seed, optimizer = s["pooling"], s["init"], s["seed"], s["optimizer"]

    if isinstance(style_paths, (str, bytes)) or hasattr(style_paths, "__fspath__"):
        style_paths = [style_paths]
    if scales is None and size is None:
        size = DEFAULT_SIZE
    sizes = resolve_scales(size=size, scales=scales, levels=levels)
    parse_iterations(iterations, len(sizes))
    if preserve_color is not None and preserve_color not in PRESERVE_COLOR:
        raise UsageError(f"unknown colour preservation {preserve_color!r}: choose {' or '.join(PRESERVE_COLOR)}")
    if style_scale is not None and not (float(style_scale) > 0 and math.isfinite(float(style_scale))):
        raise UsageError(f"style_scale must be a number > 0, got {style_scale}")
    if plot is not None:
        from .plot import check_plot_path, require_matplotlib

        check_plot_path(plot)
        require_matplotlib()
    content_layers = check_layer_names(content_layers, "content layer")
    style_layers = check_layer_names(style_layers, "style layer")
    content = load_image(str(content_path))
    styles = [load_image(str(p)) for p in style_paths]
    masks = None
    if content_masks is not None:
        masks = [load_mask(str(m)) if isinstance(m, (str, bytes)) or hasattr(m, "__fspath__") else m
                 for m in content_masks]
    check_scale_sizes(content, styles, sizes, content_layers, style_layers, content_weight, style_weight,
                      style_scale=style_scale, style_size=style_size, device=device, dtype=dtype)
    if net is None:
        net = VGG19.load(weights, pooling=pooling, device=device, dtype=dtype)

    history = []

    def record(it, x, parts):
        history.append(dict(parts, iter=it))
        if callback is not None:
            callback(it, x, parts)

    out = stylize_images(net, content, styles, sizes=sizes, iterations=iterations, preserve_color=preserve_color,
                         style_scale=style_scale, style_size=style_size, content_masks=masks, init=init, seed=seed,
                         optimizer=optimizer, lr=lr, bounds=bounds, callback=record,
                         content_layers=content_layers, style_layers=style_layers, alpha=content_weight,
                         beta=style_weight, style_blend=style_blend, tv_weight=tv_weight,
                         style_layer_weights=style_layer_weights)
    if plot is not None:
        from .plot import plot_losses

        plot_losses(history, plot, show_tv=tv_weight > 0)
    return out


# ---------------------------------------------------------------------------------------------
# The whole run on pictures: colour preservation, style scale, masks, coarse-to-fine
# ---------------------------------------------------------------------------------------------
def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def style_long_side(size: int, final_size: int, style_scale=None, style_size=None) -> int:
    """The style images' long side at a scale whose output long side is ``size``.

    ``style_scale`` S: ``S * size`` (relative to the output; S = 2 paints with strokes half as big
    relative to the picture). ``style_size``: that absolute size at the final scale, proportionally
    smaller at the coarser ones. Neither: ``size`` (the style gets the output's long side).
    """
    if style_scale is not None:
        return max(1, _round_half_up(float(style_scale) * size))
    if style_size is not None:
        return max(1, _round_half_up(int(style_size) * size / final_size))
    return int(size)


def working_images(content_rgb, style_rgbs, preserve_color=None):
    """The images the network works on, at their loaded size: ``(content, styles)`` RGB uint8.

    ``preserve_color``: None -- as given; ``"histogram"`` -- each style recoloured to the content's
    colour mean and covariance (:func:`minivgg.color.match_color_histogram`); ``"luminance"`` -- grey
    luminance images, each style's luminance matched to the content's (:func:`minivgg.color.luminance_inputs`).
    """
    from .color import luminance_inputs, match_color_histogram

    if preserve_color is None:
        return content_rgb, list(style_rgbs)
    if preserve_color == "histogram":
        return content_rgb, [match_color_histogram(s, content_rgb) for s in style_rgbs]
    if preserve_color == "luminance":
        return luminance_inputs(content_rgb, style_rgbs)
    raise UsageError(f"unknown colour preservation {preserve_color!r}: choose {' or '.join(PRESERVE_COLOR)}")


def finish_image(x, content_rgb, preserve_color=None) -> np.ndarray:
    """The result as a picture of the final size: RGB uint8 shaped like ``content_rgb`` (the content at
    the output size). ``x``: the image being optimised (any scale; resized if it is a coarser one).
    Luminance mode puts the content's colours back (:func:`minivgg.color.recombine_luminance`)."""
    from .backend import to_numpy
    from .color import recombine_luminance
    from .image import deprocess, resize_image

    rgb = deprocess(to_numpy(x))
    if rgb.shape != content_rgb.shape:
        rgb = resize_image(rgb, shape=content_rgb.shape[:2])
    if preserve_color == "luminance":
        rgb = recombine_luminance(rgb, content_rgb)
    return rgb


def active_taps(content_layers, style_layers, alpha, beta) -> tuple:
    """The layers an objective computes: the content layers if alpha > 0 and the style layers if
    beta > 0 (a term with weight 0 costs a forward pass and adds nothing), in network order."""
    wanted = set(content_layers if alpha > 0 else ()) | set(style_layers if beta > 0 else ())
    return tuple(n for n in LAYER_NAMES if n in wanted)


def check_scale_sizes(content_rgb, style_rgbs, sizes, content_layers, style_layers, alpha, beta,
                      style_scale=None, style_size=None, device: str = "cpu", dtype="float32"):
    """UsageError, before any network work, if an image is too small for the layers at some scale
    once resized (a small source is upscaled: a 10 x 10 icon at size 64 is fine), or too big for
    the memory of ``device`` (:func:`minivgg.memory.check_fits`). Returns the estimated peak memory
    of the largest scale in bytes (0 when no layer is active)."""
    from .image import long_side_shape
    from .memory import check_fits

    active_content = tuple(content_layers if alpha > 0 else ())
    active_style = tuple(style_layers if beta > 0 else ())
    # (picture, its name in messages, the layers it must reach, the long side it gets at a scale)
    sources = [(content_rgb, "content image", active_content + active_style, lambda size: size)] + [
        (s, "style image" if len(style_rgbs) == 1 else f"style image {k + 1}", active_style,
         lambda size: style_long_side(size, sizes[-1], style_scale, style_size)) for k, s in enumerate(style_rgbs)]
    for size in sizes:
        for rgb, what, layers, long_side in sources:
            hw = long_side_shape(*rgb.shape[:2], long_side(size))
            if layers and min(hw) < min_input_size(layers):
                deepest = max(layers, key=LAYER_NAMES.index)
                where = f" at the {size} px scale" if len(sizes) > 1 else " after resizing"
                raise UsageError(f"the {what} is {hw[1]}x{hw[0]} px{where}, too small for layer {deepest}: "
                                 f"it needs at least {min_input_size(layers)} px on each side")
    taps = active_content + active_style
    if not taps:
        return 0
    # The largest scale is the costliest: the output there takes steps (forward and backward),
    # each style one forward pass for its targets.
    passes = [("the output" if k == 0 else f"the {what}, resized for its Gram targets,",
               long_side_shape(*rgb.shape[:2], long_side(sizes[-1])), k == 0)
              for k, (rgb, what, layers, long_side) in enumerate(sources) if layers]
    return check_fits(passes, max(taps, key=LAYER_NAMES.index), device=device, itemsize=np.dtype(dtype).itemsize)


def stylize_images(net, content_rgb, style_rgbs, sizes=None, iterations=DEFAULT_ITERATIONS, preserve_color=None,
                   style_scale=None, style_size=None, content_masks=None, init="noise", seed: int = 0,
                   optimizer: str = "lbfgs", lr: float = DEFAULT_ADAM_LR, bounds: bool = False, callback=None,
                   **objective):
    """Style transfer on pictures, with every extension; returns RGB uint8 at the final size.

    content_rgb, style_rgbs: RGB uint8 pictures at any size (best: as loaded, unresized).
    sizes: the output's long side at each scale, smallest first (:mod:`minivgg.multiscale`; default:
    the content's own long side). iterations: one count (the halving schedule of
    :func:`minivgg.multiscale.iteration_schedule`) or one per scale. preserve_color: None,
    ``"luminance"`` or ``"histogram"`` (:mod:`minivgg.color`). style_scale / style_size: see
    :func:`style_long_side`. content_masks: one mask per style (uint8 or 0..1 float, any size: resized
    to the content at every scale), for spatial control. objective: :class:`StyleTransfer`'s keywords.

    At each scale: the content is resized from ``content_rgb`` (not from the previous scale), the
    styles likewise; the objective is built (its targets once per scale) and minimised from the
    previous scale's result, upsampled (:func:`minivgg.multiscale.upsample_init`) -- the first scale
    starts from ``init``. callback(iteration, x, parts) as in :meth:`StyleTransfer.run`, with
    ``parts["size"]`` and ``parts["scale"]`` (0 = smallest) added; iteration counts within the scale;
    raising StopIteration ends the current scale (the next one, if any, starts from its result).
    """
    from .image import long_side_shape, preprocess, resize_image
    from .masks import mask_to_uint8, resize_mask
    from .multiscale import parse_iterations, upsample_init

    sizes = tuple(sizes) if sizes is not None else (max(content_rgb.shape[:2]),)
    counts = parse_iterations(iterations, len(sizes))
    if content_masks is not None and len(content_masks) != len(style_rgbs):
        raise UsageError(f"got {len(content_masks)} content masks for {len(style_rgbs)} style image(s): "
                         "give one per style")
    for k, m in enumerate(content_masks or ()):
        if not mask_to_uint8(m, f"content mask {k + 1}").any():
            # Almost surely a wrong file: the style would act nowhere, yet cost its whole forward pass.
            raise UsageError(f"content mask {k + 1} is black everywhere, so style {k + 1} would act nowhere: "
                             "white marks where a style goes")
    work_content, work_styles = working_images(content_rgb, style_rgbs, preserve_color)
    if content_masks is not None or style_scale is not None:
        objective.setdefault("style_target_scale", "positions")

    x = None
    for k, (size, count) in enumerate(zip(sizes, counts)):
        hw = long_side_shape(*content_rgb.shape[:2], size)
        c = resize_image(work_content, shape=hw)
        ss = style_long_side(size, sizes[-1], style_scale, style_size)
        styles = [resize_image(s, size=ss) for s in work_styles]
        masks = None if content_masks is None else [resize_mask(m, hw) for m in content_masks]
        content = preprocess(c, backend=net.backend)
        style_x = [preprocess(s, backend=net.backend) for s in styles]
        st = StyleTransfer(net, content, style_x, style_masks=masks, **objective)
        if x is None:
            x0 = initial_image(init, content, style_x, seed=seed, backend=net.backend)
        else:
            x0 = net.backend.asarray(upsample_init(x, (3,) + tuple(hw)))

        def cb(it, xi, parts, size=size, k=k):
            callback(it, xi, dict(parts, size=size, scale=k))
        x = st.run(x0, count, optimizer=optimizer, callback=None if callback is None else cb, lr=lr, bounds=bounds)
    return finish_image(x, resize_image(content_rgb, shape=long_side_shape(*content_rgb.shape[:2], sizes[-1])),
                        preserve_color)


__all__ = ["StyleTransfer", "stylize", "stylize_images", "style_targets_and_masks", "finish_image",
           "working_images", "style_long_side", "check_scale_sizes", "tap_shape", "STYLE_TARGET_SCALES",
           "PRESERVE_COLOR", "initial_image", "build", "normalise_blend", "DEFAULT_CONTENT_LAYERS",
           "DEFAULT_STYLE_LAYERS", "DEFAULT_ALPHA", "DEFAULT_BETA", "DEFAULT_ITERATIONS", "DEFAULT_SIZE", "INITS",
           "NOISE_STD"]
