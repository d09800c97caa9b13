"""``python -m minivgg.stylize``: paint a photo in the style of one or more paintings.

    python -m minivgg.stylize --content photo.jpg --style painting.jpg --output out.png --size 256

Everything the user can get wrong -- flags, layer names, weights, image files, image sizes, the
weights file, the output path -- is checked before the optimisation starts, and reported as one
line on stderr with exit code 2 (usage) or 1 (runtime: unreadable file, missing weights, NaN loss).
Ctrl-C during the optimisation writes the image reached so far to ``--output`` and exits 130.
No path the run writes (--output, --log, --plot, every --save-every snapshot) may be an input or another
output (:func:`minivgg.app.atomic.check_outputs`).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from .app.atomic import check_outputs, check_writable_destination, create_folders
from .app.cli import (
    ArgumentParser,
    grid_multiple,
    memory_size,
    nonnegative_float,
    positive_float,
    positive_int,
    run_main,
)
from .app.color import PRESERVE_MODES as PRESERVE_COLOR
from .app.options import add_run_options, layer_list
from .app.pipeline import DEFAULT_SIZE, INITS, NOISE_STD
from .app.presets import DEFAULT_PRESET, PRESET_KEYS, PRESETS, preset_text
from .app.presets import resolve as resolve_preset
from .app.progress import fmt_duration, iteration_line
from .errors import MinivggError, UsageError
from .vgg import check_layer_names

PROG = "python -m minivgg.stylize"
#: --tile must lie on the pooling grid of the deepest layer any run can use (conv5_x: 4 poolings).
TILE_GRID = 16


def iteration_counts(text: str) -> tuple:
    """argparse type: ``N1,N2,...`` (one count per scale), each a positive integer."""
    return tuple(positive_int(t.strip()) for t in text.split(","))


def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="Neural style transfer (Gatys, Ecker & Bethge 2015): minimise "
                    "alpha * content loss + beta * style loss over the image's pixels.",
        epilog="Exit codes: 0 done, 1 runtime error (unreadable image, missing weights, NaN loss), "
               "2 usage error, 130 interrupted (the current image is written to --output first).")
    io = p.add_argument_group("images")
    io.add_argument("--content", required=True, metavar="PATH", help="the photo whose layout is kept")
    io.add_argument("--style", required=True, nargs="+", metavar="PATH", help="one or more style images")
    io.add_argument("--style-blend", nargs="+", type=nonnegative_float, metavar="W",
                    help="one weight per style image, normalised to sum 1 (default: equal)")
    io.add_argument("--output", required=True, metavar="PATH",
                    help="the result; the format follows the extension (.png, .jpg, ...); written atomically")

    obj = p.add_argument_group("objective (eq. 7: alpha L_content + beta L_style + tv_weight TV)")
    obj.add_argument("--preset", choices=tuple(PRESETS), default=DEFAULT_PRESET,
                     help=f"where a flag is not given, take its value from this preset (default {DEFAULT_PRESET}): "
                          + "; ".join(f"{name}: {preset_text(name)}" for name in PRESETS))
    obj.add_argument("--content-weight", type=nonnegative_float, metavar="ALPHA", help="alpha (default: the preset's)")
    obj.add_argument("--style-weight", type=nonnegative_float, metavar="BETA", help="beta (default: the preset's)")
    obj.add_argument("--content-layers", nargs="+", metavar="NAME", help="content taps (default: the preset's)")
    obj.add_argument("--style-layers", nargs="+", metavar="NAME", help="style taps (default: the preset's)")
    obj.add_argument("--style-layer-weights", nargs="+", type=nonnegative_float, metavar="W",
                     help="w_l, one per style layer, used as given (default 1/number of style layers)")
    obj.add_argument("--tv-weight", type=nonnegative_float, metavar="X",
                     help="weight of the total-variation smoothness term (default: the preset's; 0 = off)")

    opt = p.add_argument_group("optimisation")     # --iterations --optimizer --lr --bounds: add_run_options

    ext = p.add_argument_group("beyond the paper: colour, scale, regions")
    ext.add_argument("--preserve-color", choices=PRESERVE_COLOR, default=None,
                     help="keep the photo's colours (Gatys et al. 2016): 'luminance' = transfer on the YIQ "
                          "luminance only (the style's luminance matched to the content's mean/std) and put the "
                          "content's chroma back; 'histogram' = recolour the style to the content's colour mean "
                          "and covariance before the transfer")
    ext.add_argument("--scales", metavar="N,N,...",
                     help="coarse-to-fine: run at each of these long sides, smallest first, each starting from the "
                          "previous result upsampled; the largest is the output size (e.g. 256,512)")
    ext.add_argument("--scale-iterations", type=iteration_counts, metavar="N,N,...",
                     help="with --scales/--levels: the iterations at each scale, smallest first (default: "
                          "--iterations at the smallest scale, halved at each larger one, at least 20)")
    ext.add_argument("--levels", type=positive_int, metavar="L",
                     help="coarse-to-fine over L sizes, each half the next, ending at --size "
                          "(--size 512 --levels 3 = --scales 128,256,512)")
    ext.add_argument("--style-scale", type=positive_float, metavar="S",
                     help="resize the style images to S times the output's long side (S > 1: smaller strokes "
                          "relative to the picture; S < 1: larger); style Grams are then compared per position")
    ext.add_argument("--content-mask", nargs="+", metavar="PATH",
                     help="spatial control (Gatys et al. 2017): one greyscale mask per --style image, in order; "
                          "white = that style here, black = not here; resized to the output")
    ext.add_argument("--plot", metavar="PATH",
                     help="write the loss curves (total, content, style; log scale) to this PNG "
                          "(needs matplotlib: pip install 'minivgg[plot]')")

    run = p.add_argument_group("running")
    run.add_argument("--save-every", type=positive_int, metavar="N",
                     help="also write OUTPUT_STEM_0050.png etc. beside the output every N iterations")
    run.add_argument("--max-memory", type=memory_size, metavar="SIZE",
                     help="memory the run may use, e.g. 4G, 1.5G, 500M (GPU memory with --device gpu; default: what "
                          "is free now). A size that does not fit is evaluated in the largest tiles that do, with the "
                          "same result up to rounding (one Gram matrix over the whole image); refused only if even "
                          "the smallest tile does not fit")
    run.add_argument("--tile", type=grid_multiple(TILE_GRID), metavar="T",
                     help=f"evaluate in tiles of T x T px (a multiple of {TILE_GRID}), each read with a halo of "
                          "VGG19's receptive field, wherever the image is larger (default: only where the memory "
                          "needs it)")
    run.add_argument("--log", metavar="PATH",
                     help="JSON Lines: a first line {\"config\": ...}, then one object per iteration "
                          "(iter, loss, content, style, tv, seconds since the start)")
    # --size --init --seed, --pooling, --iterations --optimizer --lr --bounds, --device --weights
    # --print-every --quiet: shared with python -m minivgg.reconstruct.
    add_run_options({"images": io, "objective": obj, "optimisation": opt, "running": run}, preset=True)
    # No --size means DEFAULT_SIZE, or the largest of --scales: resolved in validate().
    p.set_defaults(size=None)
    return p


def snapshot_path(output: str, iteration: int) -> str:
    """``out.png`` -> ``out_0050.png`` (same folder, same format as the output)."""
    p = Path(output)
    return str(p.with_name(f"{p.stem}_{iteration:04d}{p.suffix}"))


def snapshot_paths(output: str, every, iterations: int) -> list:
    """Every snapshot a run of ``iterations`` with ``--save-every every`` (None: off) could write."""
    return [snapshot_path(output, n) for n in range(every, iterations + 1, every)] if every else []


def validate(args):
    """Every check that needs no file contents: layer names, counts, paths. Raises UsageError.

    First the preset fills in every preset setting the command line left out (None)."""
    for key, value in resolve_preset(args.preset, {k: getattr(args, k) for k in PRESET_KEYS}).items():
        setattr(args, key, value)
    args.content_layers = check_layer_names(layer_list(args.content_layers), "content layer")
    args.style_layers = check_layer_names(layer_list(args.style_layers), "style layer")
    if args.style_layer_weights is not None and len(args.style_layer_weights) != len(args.style_layers):
        raise UsageError(f"--style-layer-weights has {len(args.style_layer_weights)} values for "
                         f"{len(args.style_layers)} style layers")
    if args.style_blend is not None:
        if len(args.style_blend) != len(args.style):
            raise UsageError(f"--style-blend has {len(args.style_blend)} values for {len(args.style)} style images")
        if sum(args.style_blend) <= 0:
            raise UsageError("--style-blend weights sum to 0")
    from .app.multiscale import parse_iterations, resolve_scales

    if args.scales is None and args.size is None:
        args.size = DEFAULT_SIZE
    args.sizes = resolve_scales(size=args.size, scales=args.scales, levels=args.levels)
    args.size = args.sizes[-1]
    args.schedule = parse_iterations(args.scale_iterations or args.iterations, len(args.sizes))
    if args.content_mask is not None:
        if len(args.content_mask) != len(args.style):
            raise UsageError(f"--content-mask has {len(args.content_mask)} masks for {len(args.style)} style images: "
                             "give one per style, in the same order")
        if args.style_blend is not None:
            raise UsageError("--style-blend does not apply with --content-mask: each style paints its own region")
    from .weights import default_weights_path

    inputs = ([("--content", args.content)] + [("--style", p) for p in args.style]
              + [("--content-mask", p) for p in args.content_mask or []]
              + ([] if args.init in INITS else [("--init", args.init)])
              + [("--weights", args.weights) if args.weights else ("the default --weights", default_weights_path())])
    check_outputs([("--output", args.output), ("--log", args.log), ("--plot", args.plot)]
                  + [("--save-every snapshot", p) for p in snapshot_paths(args.output, args.save_every,
                                                                          sum(args.schedule))], inputs)
    args.inputs = [p for _, p in inputs]
    if args.plot:
        from .app.plot import check_plot_path

        check_plot_path(args.plot)
    if args.log:
        if os.path.isdir(args.log):
            raise UsageError(f"--log {args.log} is a folder; give a file name such as {args.log.rstrip('/')}/log.jsonl")
        check_writable_destination(args.log, f"the log {args.log!r}")


def config_dict(args, content_rgb, style_rgbs, net) -> dict:
    keys = ("preset", "content", "style", "style_blend", "output", "size", "iterations", "content_weight",
            "style_weight", "content_layers", "style_layers", "style_layer_weights", "pooling", "init", "seed",
            "optimizer", "lr", "tv_weight", "bounds", "device", "weights", "save_every", "print_every",
            "preserve_color", "style_scale", "content_mask", "plot", "tile", "max_memory")
    cfg = {k: getattr(args, k) for k in keys}
    cfg.update(scales=list(args.sizes), iterations=sum(args.schedule), iterations_per_scale=list(args.schedule))
    cfg.update(content_layers=list(args.content_layers), style_layers=list(args.style_layers),
               content_shape=list(content_rgb.shape[:2]), style_shapes=[list(s.shape[:2]) for s in style_rgbs],
               dtype=str(net.dtype), noise_std=NOISE_STD if args.init == "noise" else None)
    from . import __version__

    cfg["minivgg_version"] = __version__
    return cfg


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    validate(args)
    import numpy as np

    from .machine import tune_process

    tune_process()

    # Overflow shows up as an inf/NaN loss, which the optimisers report as one line; NumPy's own
    # RuntimeWarnings would only add noise to stderr first.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _run(args)


def _run(args) -> int:
    from .app.estimate import Eta, level_line, measure_evaluation, plan, plan_line
    from .app.masks import load_mask
    from .app.pictures import check_output_path, load_image, long_side_shape, resize_image, save_image
    from .app.pipeline import finish_image, plan_levels, style_long_side, stylize_images, working_images
    from .backend import get_backend
    from .objective import active_taps
    from .tiling import largest_window
    from .vgg import LAYER_NAMES, VGG19

    check_output_path(args.output, forbid=args.inputs)
    if args.save_every:
        check_output_path(snapshot_path(args.output, args.save_every), forbid=args.inputs)
    if args.plot:
        from .app.plot import require_matplotlib

        require_matplotlib()                      # before the run, not after it
    get_backend(args.device)                      # no CuPy -> one line, before any file is read
    content = load_image(args.content)
    styles = [load_image(p) for p in args.style]
    masks = [load_mask(p) for p in args.content_mask] if args.content_mask else None
    levels = plan_levels(content, styles, args.sizes, args.content_layers, args.style_layers, args.content_weight,
                         args.style_weight, style_scale=args.style_scale, device=args.device, tile=args.tile,
                         max_memory=args.max_memory, optimizer=args.optimizer, n_masks=len(masks or ()))
    peak = max(level.peak_bytes for level in levels)
    init = args.init if args.init in INITS else load_image(args.init)
    net = VGG19.load(args.weights, pooling=args.pooling, device=args.device)

    final = resize_image(content, shape=long_side_shape(*content.shape[:2], args.size))   # the output's size
    sizes, schedule = args.sizes, args.schedule
    multiscale = len(sizes) > 1
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    H, W = final.shape[:2]
    extras = "".join([f", scales {','.join(map(str, sizes))} ({'+'.join(map(str, schedule))} iterations)"
                      if multiscale else "",
                      f", preserve colour: {args.preserve_color}" if args.preserve_color else "",
                      f", style scale {args.style_scale:g}" if args.style_scale else "",
                      ", masks " + ", ".join(args.content_mask) if args.content_mask else ""])
    say(f"content {args.content} {W}x{H}, style {', '.join(args.style)}; {sum(schedule)} {args.optimizer} "
        f"iterations, alpha {args.content_weight:g}, beta {args.style_weight:g}, tv {args.tv_weight:g}, "
        f"init {args.init} (preset {args.preset}){extras}")
    style_side = style_long_side(args.size, args.size, args.style_scale)
    for rgb, what, side in [(content, "the photo", args.size)] + [(s, f"style {p}", style_side)
                                                                   for s, p in zip(styles, args.style, strict=True)]:
        if side > max(rgb.shape[:2]):
            say(f"{what} is {rgb.shape[1]}x{rgb.shape[0]} px: upscaled {side / max(rgb.shape[:2]):.1f}x "
                f"to {side} px on its long side")

    for folder in create_folders(p for p in (args.output, args.log, args.plot) if p):   # snapshots: --output's
        say(f"created folder {folder}")
    log = None
    if args.log:
        try:
            log = open(args.log, "w", encoding="utf-8")
        except OSError as exc:
            raise MinivggError(f"cannot write the log {args.log}: {exc.strerror or exc}") from None
    total_iters = sum(schedule)
    shapes = [long_side_shape(*content.shape[:2], s) for s in sizes]
    taps = active_taps(args.content_layers, args.style_layers, args.content_weight, args.style_weight)
    upto = max(taps, key=LAYER_NAMES.index) if taps else None
    tiles = [level.tile for level in levels]
    # A tiled last level is timed on one tile's window: the whole image would need the memory the
    # tiles save. No active layer (alpha = beta = 0) leaves only the TV term: nothing worth timing.
    timed = shapes[-1] if tiles[-1] is None else largest_window(shapes[-1], tiles[-1], (upto,))
    estimate = plan(measure_evaluation(net, timed, taps) if taps else 0.0, shapes, schedule, upto,
                    optimizer=args.optimizer, n_styles=len(styles), tiles=tiles, measured_hw=timed)
    if multiscale or any(tiles):
        for k, level in enumerate(levels):
            say(level_line(k, len(levels), level.hw, schedule[k], estimate["per_scale"][k], level.peak_bytes,
                           level.tile, upto))
    what = f"{total_iters} iterations at {W}x{H} px" + (f" over {len(sizes)} scales" if multiscale else "")
    say(plan_line(estimate["seconds"], peak, what))
    eta = Eta(schedule, estimate["per_eval"], optimizer=args.optimizer)
    history = []
    state = {"x": None, "iter": 0, "scale": 0}
    try:
        if log:
            final_styles = [resize_image(s, size=style_long_side(args.size, args.size, args.style_scale))
                            for s in working_images(content, styles, args.preserve_color)[1]]
            # The estimate goes in too: a log is then a recorded trace to check the estimator on.
            plan_record = {"seconds": round(estimate["seconds"], 3), "eval_seconds": round(estimate["per_eval"][-1], 4),
                           "peak_bytes": peak}
            log.write(json.dumps({"config": config_dict(args, final, final_styles, net), "estimate": plan_record})
                      + "\n")
            log.flush()
        t0 = time.perf_counter()

        def callback(it, x, parts):
            k = parts["scale"]
            now = time.perf_counter()
            per, left = eta.update(k, it, now)
            state["x"] = x
            state["iter"] += 1
            n = state["iter"]
            elapsed = now - t0
            row = {"iter": n, "loss": parts["total"], "content": parts["content"], "style": parts["style"],
                   "tv": parts["tv"], "seconds": round(elapsed, 4)}
            if multiscale:
                row.update(size=parts["size"], scale_iter=it)
            history.append(dict(parts, iter=n))
            if log:
                log.write(json.dumps(row) + "\n")
                log.flush()
            if n == 1 or n % args.print_every == 0 or n == total_iters or (multiscale and it == 1):
                where = f"  [{parts['size']} px, {it}/{schedule[k]}]" if multiscale else ""
                say(iteration_line(n, total_iters, parts, per, left) + where)
            if args.save_every and n % args.save_every == 0:
                save_image(snapshot_path(args.output, n), finish_image(x, final, args.preserve_color),
                           forbid=args.inputs)

        try:
            rgb = stylize_images(net, content, styles, sizes=sizes, iterations=schedule,
                                 preserve_color=args.preserve_color, style_scale=args.style_scale,
                                 content_masks=masks, init=init, seed=args.seed, optimizer=args.optimizer, lr=args.lr,
                                 bounds=args.bounds, callback=callback, content_layers=args.content_layers,
                                 style_layers=args.style_layers, alpha=args.content_weight, beta=args.style_weight,
                                 style_blend=args.style_blend, tv_weight=args.tv_weight,
                                 style_layer_weights=args.style_layer_weights, tiles=tiles)
        except KeyboardInterrupt:
            signal.signal(signal.SIGINT, signal.SIG_IGN)     # a second Ctrl-C must not cut the save short
            if state["x"] is None:
                kept = f" ({args.log} has only its config line)" if log else ""
                print(f"{PROG}: interrupted before the first iteration finished: nothing was written to "
                      f"{args.output}{kept}", file=sys.stderr)
                return 130
            save_image(args.output, finish_image(state["x"], final, args.preserve_color), forbid=args.inputs)
            print(f"{PROG}: interrupted at iteration {state['iter']}: wrote {args.output}", file=sys.stderr)
            if args.plot and history:
                _write_plot(args.plot, history, args.tv_weight > 0)
            return 130
        save_image(args.output, rgb, forbid=args.inputs)
    finally:
        if log:
            log.close()
    if args.plot:
        _write_plot(args.plot, history, args.tv_weight > 0)
        say(f"wrote the loss plot {args.plot}")
    say(f"wrote {args.output} ({W}x{H}) in {fmt_duration(time.perf_counter() - t0)}")
    return 0


def _write_plot(path, history, show_tv: bool):
    from .app.plot import plot_losses

    plot_losses(history, path, show_tv=show_tv,
                title="style transfer losses (total = alpha content + beta style + tv_weight TV)")


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
