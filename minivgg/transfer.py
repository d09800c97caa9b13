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
from .losses import content_loss, gram, style_loss, tv_loss
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

    :meth:`losses` reports ``content`` = L_c and ``style`` = L_s *unweighted*, ``tv`` = TV unweighted,
    and ``total`` = alpha L_c + beta L_s + tv_weight TV, the number that is minimised.
    """

    def __init__(self, net, content, styles, content_layers=DEFAULT_CONTENT_LAYERS,
                 style_layers=DEFAULT_STYLE_LAYERS, alpha: float = DEFAULT_ALPHA, beta: float = DEFAULT_BETA,
                 style_blend=None, tv_weight: float = 0.0, style_layer_weights=None):
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

        self._taps = tuple(n for n in LAYER_NAMES if n in set(self._content_taps) | set(self._style_taps))
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
        self.style_blend = normalise_blend(style_blend, len(styles)) if styles else ()
        self.style_targets = {}
        if self._style_taps:
            if not styles:
                raise UsageError("at least one style image is needed when the style weight is > 0")
            for k, (s, b) in enumerate(zip(styles, self.style_blend)):
                s = self._to_net(s)
                what = "style image" if len(styles) == 1 else f"style image {k + 1}"
                _check_image_size(s, self._style_taps, what)
                taps = net.forward(s, self._style_taps)
                for name in self._style_taps:       # A_l = sum_k b_k Gram(style_k)_l (eq. 3)
                    G = b * gram(taps[name])
                    self.style_targets[name] = G if k == 0 else self.style_targets[name] + G
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
        if self._style_taps:                        # eq. 5 over eq. 4, gradients eq. 6
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


def stylize(content_path, style_paths, size: int = DEFAULT_SIZE, iterations: int = DEFAULT_ITERATIONS,
            content_weight: float = DEFAULT_ALPHA, style_weight: float = DEFAULT_BETA,
            content_layers=DEFAULT_CONTENT_LAYERS, style_layers=DEFAULT_STYLE_LAYERS,
            style_layer_weights=None, style_blend=None, tv_weight: float = 0.0, pooling: str = "avg",
            init="noise", seed: int = 0, optimizer: str = "lbfgs", lr: float = DEFAULT_ADAM_LR,
            bounds: bool = False, device: str = "cpu", weights=None, dtype: str = "float32",
            style_size: int | None = None, callback=None, net=None):
    """Paint the photo at ``content_path`` in the style of ``style_paths``; returns RGB uint8 ``(H, W, 3)``.

    The content is resized to ``size`` pixels on its long side, the styles to ``style_size``
    (default: the same long side). ``net``: an already loaded VGG19 (else loaded from ``weights``
    with ``pooling``, ``device``, ``dtype``). callback as in :meth:`StyleTransfer.run`.
    Everything else as in :class:`StyleTransfer` and :func:`initial_image`.
    """
    from .image import deprocess
    from .vgg import VGG19

    if isinstance(style_paths, (str, bytes)) or hasattr(style_paths, "__fspath__"):
        style_paths = [style_paths]
    content, styles = prepare(content_path, style_paths, size=size, style_size=style_size,
                              content_layers=content_layers, style_layers=style_layers,
                              alpha=content_weight, beta=style_weight)
    if net is None:
        net = VGG19.load(weights, pooling=pooling, device=device, dtype=dtype)
    st, x0 = build(net, content, styles, init=init, seed=seed, content_layers=content_layers,
                   style_layers=style_layers, alpha=content_weight, beta=style_weight, style_blend=style_blend,
                   tv_weight=tv_weight, style_layer_weights=style_layer_weights)
    return deprocess(st.run(x0, iterations, optimizer=optimizer, callback=callback, lr=lr, bounds=bounds))


def prepare(content_path, style_paths, size=DEFAULT_SIZE, style_size=None, content_layers=DEFAULT_CONTENT_LAYERS,
            style_layers=DEFAULT_STYLE_LAYERS, alpha=DEFAULT_ALPHA, beta=DEFAULT_BETA) -> dict:
    """Load and resize the images, and refuse ones too small for the layers, before any network work.

    Returns ``(content, styles)``: RGB uint8 ``(H, W, 3)`` and a list of them.
    """
    from .image import load_image

    if size is not None and int(size) < 1:
        raise UsageError(f"size must be a positive number of pixels, got {size}")
    content_layers = check_layer_names(content_layers, "content layer")
    style_layers = check_layer_names(style_layers, "style layer")
    content = load_image(str(content_path), size=size)
    styles = [load_image(str(p), size=style_size or size) for p in style_paths]
    active_content = tuple(content_layers if alpha > 0 else ())
    active_style = tuple(style_layers if beta > 0 else ())
    # The result has the content's shape, so the content must reach every tap; a style only its own.
    checks = [(content, "content image", active_content + active_style)]
    checks += [(s, "style image" if len(styles) == 1 else f"style image {k + 1}", active_style)
               for k, s in enumerate(styles)]
    for rgb, what, layers in checks:
        if layers and min(rgb.shape[:2]) < min_input_size(layers):
            deepest = max(layers, key=LAYER_NAMES.index)
            raise UsageError(f"the {what} is {rgb.shape[1]}x{rgb.shape[0]} px after resizing, too small for "
                             f"layer {deepest}: it needs at least {min_input_size(layers)} px on each side "
                             f"(use a larger --size)")
    return content, styles


__all__ = ["StyleTransfer", "stylize", "initial_image", "prepare", "build", "normalise_blend", "DEFAULT_CONTENT_LAYERS",
           "DEFAULT_STYLE_LAYERS", "DEFAULT_ALPHA", "DEFAULT_BETA", "DEFAULT_ITERATIONS", "DEFAULT_SIZE", "INITS",
           "NOISE_STD"]
