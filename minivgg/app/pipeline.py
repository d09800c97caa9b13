"""The picture pipeline: from image files (or RGB pictures) to a stylised picture, with every extension.

:class:`minivgg.objective.StyleTransfer` is the paper's objective on preprocessed arrays. This module
does what a picture needs around it: load and resize the images, pick the starting image
(:func:`initial_image`), recolour for ``preserve_color`` (:mod:`minivgg.app.color`), fit masks to
each size (:mod:`minivgg.app.masks`), run coarse-to-fine (:mod:`minivgg.app.multiscale`), and turn
the result back into a picture (:func:`finish_image`).

* :func:`stylize_files` -- paths in, RGB uint8 out; settings not given come from a preset
  (:mod:`minivgg.app.presets`).
* :func:`stylize_images` -- the same on RGB uint8 arrays with a loaded network, every setting explicit.

**Initialisation** (:func:`initial_image`): ``"noise"`` (the paper's white noise), ``"content"``,
``"style"`` (the first style image resized to the content's shape) or an image path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..architecture import check_input_size, check_layer_names, deepest_layer
from ..errors import UsageError
from ..objective import DEFAULT_BETA, StyleTransfer, check_mask_count
from ..optim import DEFAULT_ADAM_LR, check_optimizer, make_state
from .cli import whole_number
from .color import PRESERVE_MODES
from .pictures import round_half_up
from .presets import DEFAULT_ITERATIONS

DEFAULT_SIZE = 256
INITS = ("noise", "content", "style")
#: Standard deviation of the white-noise init, in grey levels (the image is on the 0..255 scale
#: minus the mean, so the noise sits around the mean colour). Large enough to hold every frequency
#: the optimiser can sculpt, small enough that L-BFGS does not spend its first iterations
#: removing out-of-range pixels.
NOISE_STD = 20.0


def initial_image(init, content, styles=(), seed: int = 0, backend=None, noise_std: float = NOISE_STD):
    """The starting image ``x0: (3, H, W)`` for a content image of that shape.

    init: ``"noise"`` -- Gaussian white noise of std ``noise_std`` grey levels around the mean
    colour, from ``numpy.random.default_rng(seed)`` (the same seed gives the same image on any
    device); ``"content"`` -- a copy of the content; ``"style"`` -- the first style image resized to
    the content's shape; an RGB uint8 ``(h, w, 3)`` array (NumPy or CuPy) or the path of an image --
    that image resized to the content's shape. content, styles: preprocessed arrays.
    backend: where x0 lives (default: NumPy, content's dtype).
    """
    from ..backend import to_numpy
    from ..image import check_rgb, deprocess, preprocess
    from .pictures import load_image, resize_image

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
    elif not isinstance(init, (str, bytes)) and hasattr(init, "shape"):      # a picture, host or device
        rgb = check_rgb(to_numpy(init), "the init image")
    else:
        rgb = load_image(str(init))
    return put(preprocess(resize_image(rgb, shape=shape[1:])))


def stylize_files(content_path, style_paths, size: int | None = None, iterations=None,
            content_weight: float | None = None, style_weight: float | None = None,
            content_layers=None, style_layers=None,
            style_layer_weights=None, style_blend=None, tv_weight: float | None = None, pooling: str | None = None,
            init=None, seed: int | None = None, optimizer: str | None = None, lr: float = DEFAULT_ADAM_LR,
            bounds: bool = False, device: str = "cpu", weights=None, dtype: str = "float32",
            style_size: int | None = None, callback=None, net=None, preserve_color: str | None = None,
            scales=None, levels: int | None = None, style_scale: float | None = None, content_masks=None,
            plot=None, preset: str | None = None, tile: int | None = None, max_memory=None,
            balance_size: int | None = None):
    """Paint the photo at ``content_path`` in the style of ``style_paths``; returns RGB uint8 ``(H, W, 3)``.

    ``preset``: ``"clean"`` (the default) or ``"paper"`` (:mod:`minivgg.app.presets`) fills in every one of
    iterations, content_weight, style_weight, content_layers, style_layers, tv_weight, pooling, init,
    seed and optimizer left as None; a value given explicitly always wins. The preset's optimizer is
    L-BFGS for the device: SciPy's ``"lbfgs"`` on the CPU, ``"lbfgs-xp"`` on the GPU (without ``bounds``).
    The content is resized to ``size`` pixels on its long side (default ``DEFAULT_SIZE``), the styles
    to ``style_size`` (default: the same long side). ``net``: an already loaded VGG19 (else loaded
    from ``weights`` with ``pooling``, ``device``, ``dtype``). callback as in :meth:`StyleTransfer.run`
    (multi-scale: see :func:`stylize_images`). Everything else as in :class:`StyleTransfer` and
    :func:`initial_image`. The extensions (each as the command line's flag of the same name):

    * ``preserve_color``: ``"luminance"`` or ``"histogram"`` (:mod:`minivgg.app.color`);
    * ``scales`` (``"256,512"`` or a sequence) or ``levels`` (with ``size``): coarse-to-fine
      (:mod:`minivgg.app.multiscale`); ``iterations`` is then one count (halved per larger scale) or one
      per scale;
    * ``style_scale``: the style's long side as a multiple of the output's (:func:`style_long_side`);
    * ``content_masks``: one mask per style, paths or arrays (:mod:`minivgg.app.masks`);
    * ``balance_size``: keep at every size the content/style balance that the weights give at this long
      side (:func:`minivgg.app.multiscale.balanced_style_weight`);
    * ``plot``: write the loss curves to this PNG (:func:`minivgg.app.plot.plot_losses`, needs matplotlib);
    * ``max_memory`` (bytes; default: what is free) and ``tile``: a size too big for the memory runs in
      tiles, with the same result up to rounding (:func:`plan_levels`, :mod:`minivgg.tiling`).
    """
    from ..vgg import VGG19
    from .masks import load_mask
    from .multiscale import parse_iterations, resolve_scales
    from .pictures import load_image
    from .presets import resolve

    s = resolve(preset, dict(iterations=iterations, content_weight=content_weight, style_weight=style_weight,
                             content_layers=content_layers, style_layers=style_layers, tv_weight=tv_weight,
                             pooling=pooling, init=init, seed=seed, optimizer=optimizer),
                device=device if net is None else net.backend.device, bounds=bounds)
    iterations, content_weight, style_weight = s["iterations"], s["content_weight"], s["style_weight"]
    content_layers, style_layers, tv_weight = s["content_layers"], s["style_layers"], s["tv_weight"]
    pooling, init, seed, optimizer = s["pooling"], s["init"], s["seed"], s["optimizer"]
    check_optimizer(optimizer, bounds)

    if isinstance(style_paths, (str, bytes)) or hasattr(style_paths, "__fspath__"):
        style_paths = [style_paths]
    if scales is None and size is None:
        size = DEFAULT_SIZE
    sizes = resolve_scales(size=size, scales=scales, levels=levels)
    parse_iterations(iterations, len(sizes))
    if preserve_color is not None and preserve_color not in PRESERVE_MODES:
        raise UsageError(f"unknown colour preservation {preserve_color!r}: choose {' or '.join(PRESERVE_MODES)}")
    if style_scale is not None and not (float(style_scale) > 0 and math.isfinite(float(style_scale))):
        raise UsageError(f"style_scale must be a number > 0, got {style_scale}")
    if balance_size is not None:
        balance_size = whole_number(balance_size, "balance_size")
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
    levels = plan_levels(content, styles, sizes, content_layers, style_layers, content_weight, style_weight,
                         style_scale=style_scale, style_size=style_size, device=device, dtype=dtype, tile=tile,
                         max_memory=max_memory, optimizer=optimizer, n_masks=len(masks or ()))
    if net is None:
        net = VGG19.load(weights, pooling=pooling, device=device, dtype=dtype)    # no CuPy: one line here
    if device == "gpu" and max_memory is not None:
        from ..machine.memory import limit_device_memory

        limit_device_memory(max_memory)

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
                         style_layer_weights=style_layer_weights, tiles=[level.tile for level in levels],
                         balance_size=balance_size)
    if plot is not None:
        from .plot import plot_losses

        plot_losses(history, plot, show_tv=tv_weight > 0)
    return out


# ---------------------------------------------------------------------------------------------
# The whole run on pictures: colour preservation, style scale, masks, coarse-to-fine
# ---------------------------------------------------------------------------------------------
def style_long_side(size: int, final_size: int, style_scale=None, style_size=None) -> int:
    """The style images' long side at a scale whose output long side is ``size``.

    ``style_scale`` S: ``S * size`` (relative to the output; S = 2 paints with strokes half as big
    relative to the picture). ``style_size``: that absolute size at the final scale, proportionally
    smaller at the coarser ones. Neither: ``size`` (the style gets the output's long side).
    """
    if style_scale is not None:
        return max(1, round_half_up(float(style_scale) * size))
    if style_size is not None:
        return max(1, round_half_up(int(style_size) * size / final_size))
    return int(size)


def working_images(content_rgb, style_rgbs, preserve_color=None):
    """The images the network works on, at their loaded size: ``(content, styles)`` RGB uint8.

    ``preserve_color``: None -- as given; ``"histogram"`` -- each style recoloured to the content's
    colour mean and covariance (:func:`minivgg.app.color.match_color_histogram`); ``"luminance"`` -- grey
    luminance images, each style's luminance matched to the content's (:func:`minivgg.app.color.luminance_inputs`).
    """
    from .color import luminance_inputs, match_color_histogram

    if preserve_color is None:
        return content_rgb, list(style_rgbs)
    if preserve_color == "histogram":
        return content_rgb, [match_color_histogram(s, content_rgb) for s in style_rgbs]
    if preserve_color == "luminance":
        return luminance_inputs(content_rgb, style_rgbs)
    raise UsageError(f"unknown colour preservation {preserve_color!r}: choose {' or '.join(PRESERVE_MODES)}")


def finish_image(x, content_rgb, preserve_color=None) -> np.ndarray:
    """The result as a picture of the final size: RGB uint8 shaped like ``content_rgb`` (the content at
    the output size). ``x``: the image being optimised (any scale; resized if it is a coarser one).
    Luminance mode puts the content's colours back (:func:`minivgg.app.color.recombine_luminance`)."""
    from ..backend import to_numpy
    from ..image import deprocess
    from .color import recombine_luminance
    from .pictures import resize_image

    rgb = deprocess(to_numpy(x))
    if rgb.shape != content_rgb.shape:
        rgb = resize_image(rgb, shape=content_rgb.shape[:2])
    if preserve_color == "luminance":
        rgb = recombine_luminance(rgb, content_rgb)
    return rgb


@dataclass(frozen=True)
class Level:
    """One size of a run, as planned before it starts: the output's long side ``size`` and shape
    ``hw = (H, W)``, its ``tile`` (None: one untiled pass) and its estimated peak memory in bytes."""

    size: int
    hw: tuple
    tile: int | None
    peak_bytes: int


def plan_levels(content_rgb, style_rgbs, sizes, content_layers, style_layers, alpha, beta, style_scale=None,
                style_size=None, device: str = "cpu", dtype="float32", tile: int | None = None, max_memory=None,
                optimizer: str = "lbfgs", n_masks: int = 0) -> list:
    """Check every size before any network work and plan its memory: a list of :class:`Level`, smallest first.

    UsageError if an image is too small for the layers at some size once resized (a small source is
    upscaled: a 10 x 10 icon at size 64 is fine), or too big for the memory even in tiles.
    Memory: ``max_memory`` bytes (default: what is free now, :func:`minivgg.machine.memory.memory_budget`;
    on ``device="gpu"`` the GPU's). A level whose passes (the output's steps, each style's target
    pass) fit untiled runs untiled; else in the largest tile that fits
    (:func:`minivgg.machine.memory.choose_tile`). ``tile``: that tile wherever a level is larger,
    checked against the same budget. ``n_masks``: region masks held at every layer.
    """
    from ..machine.memory import choose_tile, memory_budget
    from .pictures import long_side_shape

    active_content = tuple(content_layers if alpha > 0 else ())
    active_style = tuple(style_layers if beta > 0 else ())
    # (picture, its name in messages, the layers it must reach, the long side it gets at a scale)
    sources = [(content_rgb, "content image", active_content + active_style, lambda size: size)] + [
        (s, "style image" if len(style_rgbs) == 1 else f"style image {k + 1}", active_style,
         lambda size: style_long_side(size, sizes[-1], style_scale, style_size)) for k, s in enumerate(style_rgbs)]
    for size in sizes:
        for rgb, what, layers, long_side in sources:
            hw = long_side_shape(*rgb.shape[:2], long_side(size))
            check_input_size(hw, layers, what, f" at the {size} px scale" if len(sizes) > 1 else " after resizing")
    taps = active_content + active_style
    shapes = [long_side_shape(*content_rgb.shape[:2], size) for size in sizes]
    if not taps:
        return [Level(size, hw, None, 0) for size, hw in zip(sizes, shapes, strict=True)]
    budget, already = memory_budget(max_memory, device)
    levels = []
    for size, hw in reversed(list(zip(sizes, shapes, strict=True))):      # the largest, likeliest refused, first
        # The output takes steps (forward and backward), each style one forward pass for its targets.
        passes = [("the output" if k == 0 else f"the {what}, resized for its Gram targets,",
                   long_side_shape(*rgb.shape[:2], long_side(size)), k == 0)
                  for k, (rgb, what, layers, long_side) in enumerate(sources) if layers]
        t, peak = choose_tile(passes, deepest_layer(taps), budget, tile=tile,
                              itemsize=np.dtype(dtype).itemsize, device=device, optimizer=optimizer,
                              content_layers=active_content, n_masks=n_masks,
                              budget_name="is available" if max_memory is None else "is allowed (--max-memory)",
                              already=already)
        levels.append(Level(size, hw, t, peak))
    return levels[::-1]


def stylize_images(net, content_rgb, style_rgbs, sizes=None, iterations=DEFAULT_ITERATIONS, preserve_color=None,
                   style_scale=None, style_size=None, content_masks=None, init="noise", seed: int = 0,
                   optimizer: str = "lbfgs", lr: float = DEFAULT_ADAM_LR, bounds: bool = False, callback=None,
                   resume=None, on_state=None, tiles=None, balance_size: int | None = None, **objective):
    """Style transfer on pictures, with every extension; returns RGB uint8 at the final size.

    content_rgb, style_rgbs: RGB uint8 pictures at any size (best: as loaded, unresized).
    sizes: the output's long side at each scale, smallest first (:mod:`minivgg.app.multiscale`; default:
    the content's own long side). iterations: one count (the halving schedule of
    :func:`minivgg.app.multiscale.iteration_schedule`) or one per scale. preserve_color: None,
    ``"luminance"`` or ``"histogram"`` (:mod:`minivgg.app.color`). style_scale / style_size: see
    :func:`style_long_side`. content_masks: one mask per style (uint8 or 0..1 float, any size: resized
    to the content at every scale), for spatial control. tiles: the tile of each scale (None: untiled),
    as :func:`plan_levels` chooses them. balance_size: at each scale, beta scaled to keep the balance it
    has at this long side (:func:`minivgg.app.multiscale.balanced_style_weight`; None: beta as given
    at every scale, as in the paper). objective: :class:`StyleTransfer`'s keywords.

    At each scale: the content is resized from ``content_rgb`` (not from the previous scale), the
    styles likewise; the objective is built (its targets once per scale) and minimised from the
    previous scale's result, upsampled (:func:`minivgg.app.multiscale.upsample_init`) -- the first scale
    starts from ``init``. callback(iteration, x, parts) as in :meth:`StyleTransfer.run`, with
    ``parts["size"]`` and ``parts["scale"]`` (0 = smallest) added; iteration counts within the scale;
    raising StopIteration ends the current scale (the next one, if any, starts from its result).

    Resuming (:mod:`minivgg.app.checkpoint`): ``resume`` (a :class:`~minivgg.app.checkpoint.Checkpoint`,
    or anything with its ``level``, ``level_iteration``, ``image`` and ``optimizer_state``) starts at
    scale ``resume.level`` from ``resume.image`` after ``resume.level_iteration`` of its iterations, with
    a copy of the optimiser's saved state; the callback's iteration goes on from there. The optimiser
    state each scale starts with is passed to ``on_state(state)`` (None for SciPy's L-BFGS-B, which has
    none); the optimiser keeps it up to date, so a callback that wants the state *of its iteration*
    takes ``state.copy()``.
    """
    from ..image import preprocess
    from .masks import mask_to_uint8, resize_mask
    from .multiscale import balanced_style_weight, parse_iterations, upsample_init
    from .pictures import long_side_shape, resize_image

    sizes = tuple(sizes) if sizes is not None else (max(content_rgb.shape[:2]),)
    counts = parse_iterations(iterations, len(sizes))
    tiles = tuple(tiles) if tiles is not None else (None,) * len(sizes)
    if len(tiles) != len(sizes):
        raise UsageError(f"got {len(tiles)} tiles for {len(sizes)} scales")
    if content_masks is not None:
        check_mask_count(len(content_masks), len(style_rgbs), "content masks")
    for k, m in enumerate(content_masks or ()):
        if not mask_to_uint8(m, f"content mask {k + 1}").any():
            # Almost surely a wrong file: the style would act nowhere, yet cost its whole forward pass.
            raise UsageError(f"content mask {k + 1} is black everywhere, so style {k + 1} would act nowhere: "
                             "white marks where a style goes")
    work_content, work_styles = working_images(content_rgb, style_rgbs, preserve_color)
    if content_masks is not None or style_scale is not None:
        objective.setdefault("style_target_scale", "positions")

    x = None
    for k, (size, count, tile) in enumerate(zip(sizes, counts, tiles, strict=True)):
        if resume is not None and k < resume.level:
            continue
        hw = long_side_shape(*content_rgb.shape[:2], size)
        c = resize_image(work_content, shape=hw)
        ss = style_long_side(size, sizes[-1], style_scale, style_size)
        styles = [resize_image(s, size=ss) for s in work_styles]
        masks = None if content_masks is None else [resize_mask(m, hw) for m in content_masks]
        content = preprocess(c, backend=net.backend)
        style_x = [preprocess(s, backend=net.backend) for s in styles]
        level_objective = objective
        if balance_size is not None:
            balance_hw = long_side_shape(*content_rgb.shape[:2], balance_size)
            level_objective = dict(objective, beta=balanced_style_weight(objective.get("beta", DEFAULT_BETA), hw,
                                                                         balance_hw))
        st = StyleTransfer(net, content, style_x, style_masks=masks, tile=tile, **level_objective)
        done, state = 0, make_state(optimizer)
        if resume is not None and k == resume.level:
            if tuple(resume.image.shape) != (3,) + tuple(hw):
                raise UsageError(f"the saved image is {tuple(resume.image.shape)}, scale {k + 1} needs "
                                 f"{(3,) + tuple(hw)}")
            x0 = net.backend.asarray(resume.image)
            done = resume.level_iteration
            if resume.optimizer_state is not None:
                state = resume.optimizer_state.copy()   # the checkpoint's own stays as it was saved
        elif x is None:
            x0 = initial_image(init, content, style_x, seed=seed, backend=net.backend)
        else:
            x0 = net.backend.asarray(upsample_init(x, (3,) + tuple(hw)))
        if on_state is not None:
            on_state(state)
        if done >= count:                      # saved at the end of this scale
            x = x0
            continue

        def cb(it, xi, parts, size=size, k=k, done=done):
            callback(done + it, xi, dict(parts, size=size, scale=k))
        x = st.run(x0, count - done, optimizer=optimizer, callback=None if callback is None else cb, lr=lr,
                   bounds=bounds, state=state)
    return finish_image(x, resize_image(content_rgb, shape=long_side_shape(*content_rgb.shape[:2], sizes[-1])),
                        preserve_color)


__all__ = ["stylize_files", "stylize_images", "initial_image", "finish_image", "working_images", "style_long_side",
           "plan_levels", "Level", "DEFAULT_SIZE", "INITS", "NOISE_STD"]
