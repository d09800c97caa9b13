"""``python -m minivgg.stylize``: paint a photo in the style of one or more paintings.

    python -m minivgg.stylize --content photo.jpg --style painting.jpg --output out.png --size 256

Everything the user can get wrong -- flags, layer names, weights, image files, image sizes, the
weights file, the output path -- is checked before the optimisation starts, and reported as one
line on stderr with exit code 2 (usage) or 1 (runtime: unreadable file, missing weights, NaN loss).
Ctrl-C during the optimisation writes the image reached so far to ``--output`` and exits 130; SIGTERM
(``timeout``, ``docker stop``, job schedulers) does the same and exits 143. With ``--checkpoint-every N``
both also write a checkpoint, as does every N-th iteration, and rerunning the same command resumes
(:mod:`minivgg.app.checkpoint`). No path the run writes (--output, the checkpoint, --log, --plot, every
--save-every snapshot) may be an input or another output (:func:`minivgg.app.atomic.check_outputs`).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from .app.atomic import check_outputs, check_writable_destination, create_folders
from .app.checkpoint import checkpoint_path
from .app.cli import (
    ArgumentParser,
    StopSignals,
    Terminated,
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
from .objective import check_mask_count
from .optim import check_optimizer
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
               "2 usage error, 130 interrupted by Ctrl-C, 143 stopped by SIGTERM (either way the current image "
               "is written to --output first, and with --checkpoint-every a checkpoint beside it).")
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
    ext.add_argument("--balance-size", type=positive_int, metavar="B",
                     help="keep at every size the balance of content and style that --content-weight and "
                          "--style-weight give at B px (long side): beta is multiplied by the pixel count over "
                          "the count at B px, since eq. 1 sums over pixels while eq. 4 divides by M^2 (default: "
                          "the weights as given at every size, as in the paper; the presets' look was set at 256)")
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
                          "(iter, loss, content, style, tv, seconds since the start); a resumed run appends "
                          "a line {\"resumed\": ...} and goes on numbering")
    run.add_argument("--checkpoint-every", type=positive_int, metavar="N",
                     help="every N iterations, and when stopped by Ctrl-C or SIGTERM, save the run to "
                          "OUTPUT_STEM.checkpoint.npz beside the output; rerunning the same command resumes from "
                          "it (Adam: exactly; L-BFGS: from the saved image, with a new history). Removed when "
                          "the run finishes")
    run.add_argument("--restart", action="store_true",
                     help="delete the checkpoint of an earlier, unfinished run of this output and start over")
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
    for key, value in resolve_preset(args.preset, {k: getattr(args, k) for k in PRESET_KEYS}, device=args.device,
                                     bounds=args.bounds).items():
        setattr(args, key, value)
    check_optimizer(args.optimizer, args.bounds)
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
        check_mask_count(len(args.content_mask), len(args.style), "--content-mask")
        if args.style_blend is not None:
            raise UsageError("--style-blend does not apply with --content-mask: each style paints its own region")
    from .weights import default_weights_path

    inputs = ([("--content", args.content)] + [("--style", p) for p in args.style]
              + [("--content-mask", p) for p in args.content_mask or []]
              + ([] if args.init in INITS else [("--init", args.init)])
              + [("--weights", args.weights) if args.weights else ("the default --weights", default_weights_path())])
    # The checkpoint comes right after --output, whose name it takes: a flag that collides with it is
    # the one to change.
    args.checkpoint = checkpoint_path(args.output)
    writes_checkpoint = args.checkpoint if args.checkpoint_every or args.restart else None
    check_outputs([("--output", args.output), ("the checkpoint", writes_checkpoint), ("--log", args.log),
                   ("--plot", args.plot)]
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


#: The long side at which the presets' alpha and beta were chosen (minivgg.objective, "Choice of beta").
PRESET_BALANCE_SIZE = 256


def balance_text(args, content_rgb) -> str:
    """The header's words on ``--balance-size``: beta at each size ("" without it)."""
    from .app.multiscale import balanced_style_weight
    from .app.pictures import long_side_shape

    if args.balance_size is None:
        return ""
    ref = long_side_shape(*content_rgb.shape[:2], args.balance_size)
    betas = [f"{balanced_style_weight(args.style_weight, long_side_shape(*content_rgb.shape[:2], size), ref):.4g} "
             f"at {size} px" for size in args.sizes]
    return f", beta balanced as at {args.balance_size} px: {', '.join(betas)}"


def balance_note(args) -> str | None:
    """A note for a large picture without ``--balance-size``: beta there paints much less than where
    the presets were set (:func:`minivgg.app.multiscale.balanced_style_weight`). None where it does not apply."""
    if args.balance_size is not None or not (args.content_weight > 0 and args.style_weight > 0) \
            or args.size < 4 * PRESET_BALANCE_SIZE:
        return None
    return (f"note: at {args.size} px beta weighs {(args.size / PRESET_BALANCE_SIZE) ** 2:g}x less against the "
            f"content than at {PRESET_BALANCE_SIZE} px, where the presets were set (eq. 1 sums over pixels, eq. 4 "
            f"divides by M^2); --balance-size {PRESET_BALANCE_SIZE} keeps their look")


def config_dict(args, content_rgb, style_rgbs, net) -> dict:
    keys = ("preset", "content", "style", "style_blend", "output", "size", "iterations", "content_weight",
            "style_weight", "content_layers", "style_layers", "style_layer_weights", "pooling", "init", "seed",
            "optimizer", "lr", "tv_weight", "bounds", "device", "weights", "save_every", "print_every",
            "preserve_color", "style_scale", "content_mask", "plot", "checkpoint_every", "tile", "max_memory",
            "balance_size")
    cfg = {k: getattr(args, k) for k in keys}
    cfg.update(scales=list(args.sizes), iterations=sum(args.schedule), iterations_per_scale=list(args.schedule))
    cfg.update(content_layers=list(args.content_layers), style_layers=list(args.style_layers),
               content_shape=list(content_rgb.shape[:2]), style_shapes=[list(s.shape[:2]) for s in style_rgbs],
               dtype=str(net.dtype), noise_std=NOISE_STD if args.init == "noise" else None)
    from . import __version__

    cfg["minivgg_version"] = __version__
    return cfg


#: The settings of the log's config line that decide the result's pixels: a checkpoint made under other
#: values of any of them is refused, not continued. The rest (paths written, --print-every, --plot,
#: the checkpoint's own period) only decide what is written where.
RESULT_KEYS = ("content", "style", "style_blend", "content_mask", "preserve_color", "style_scale", "balance_size",
               "scales",
               "iterations_per_scale", "content_weight", "style_weight", "tv_weight", "content_layers",
               "style_layers", "style_layer_weights", "pooling", "init", "seed", "noise_std", "optimizer", "lr",
               "bounds", "weights", "device", "dtype", "tile", "minivgg_version")
#: How a setting is named in the refusal (the others: ``--key-as-flag``).
SETTING_NAMES = {"scales": "--size/--scales/--levels", "iterations_per_scale": "--iterations/--scale-iterations",
                 "noise_std": "the noise's std", "dtype": "the dtype", "minivgg_version": "minivgg's version"}


def result_settings(cfg: dict) -> dict:
    """The part of the config ``cfg`` (:func:`config_dict`) that decides the result (:data:`RESULT_KEYS`),
    each input file as its contents' digest. A setting the run does not use (the seed without noise, the
    learning rate without Adam) is left out, so that it cannot refuse a resume."""
    from .app.checkpoint import file_digest
    from .weights import default_weights_path

    settings = {k: cfg[k] for k in RESULT_KEYS}
    settings["content"] = file_digest(cfg["content"])
    settings["style"] = [file_digest(p) for p in cfg["style"]]
    if cfg["content_mask"]:
        settings["content_mask"] = [file_digest(p) for p in cfg["content_mask"]]
    if cfg["init"] not in INITS:
        settings["init"] = file_digest(cfg["init"])
    settings["weights"] = file_digest(cfg["weights"] or default_weights_path())
    if cfg["init"] != "noise":
        del settings["seed"]
    if cfg["optimizer"] != "adam":
        del settings["lr"]
    return settings


def open_checkpoint(args, settings, say):
    """The checkpoint to resume, with its loss history: ``(Checkpoint, history)``, or None to start afresh.

    --restart deletes it; without --checkpoint-every it is left alone (the run says so); one made
    under other settings than ``settings`` (:func:`result_settings`) is a UsageError naming them."""
    from .app.atomic import same_file
    from .app.checkpoint import Checkpoint, setting_differences

    path = args.checkpoint
    if not os.path.isfile(path) or any(same_file(path, p) for p in args.inputs):   # an input: not ours
        return None
    if args.restart:
        try:
            os.remove(path)
        except OSError as exc:
            raise MinivggError(f"cannot remove the checkpoint {path}: {exc.strerror or exc}") from None
        say(f"--restart: removed the checkpoint {path}")
        return None
    if not args.checkpoint_every:
        say(f"note: {path} holds an unfinished run of this output, left as it is: add --checkpoint-every N to "
            "resume it, or --restart to delete it")
        return None
    point, history = Checkpoint.load(path)
    differences = setting_differences(point.settings, settings, SETTING_NAMES)
    if differences:
        raise UsageError(f"the checkpoint {path} was made with other settings ({'; '.join(differences)}): "
                         "rerun with its settings to resume it, or add --restart to start over")
    return point, history


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
    from .app.checkpoint import Checkpoint, cut_log
    from .app.estimate import Eta, level_line, measure_evaluation, plan, plan_line
    from .app.masks import load_mask
    from .app.pictures import check_output_path, load_image, long_side_shape, resize_image, save_image
    from .app.pipeline import finish_image, plan_levels, style_long_side, stylize_images, working_images
    from .architecture import deepest_layer
    from .backend import get_backend
    from .objective import active_taps
    from .tiling import largest_window
    from .vgg import VGG19

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
    if args.device == "gpu" and args.max_memory is not None:
        from .machine.memory import limit_device_memory

        limit_device_memory(args.max_memory)
    init = args.init if args.init in INITS else load_image(args.init)
    net = VGG19.load(args.weights, pooling=args.pooling, device=args.device)

    final = resize_image(content, shape=long_side_shape(*content.shape[:2], args.size))   # the output's size
    sizes, schedule = args.sizes, args.schedule
    multiscale = len(sizes) > 1
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    config = None
    if args.log or args.checkpoint_every:
        final_styles = [resize_image(s, size=style_long_side(args.size, args.size, args.style_scale))
                        for s in working_images(content, styles, args.preserve_color)[1]]
        config = config_dict(args, final, final_styles, net)
    settings = result_settings(config) if args.checkpoint_every else None
    # Before the optimisation: a refused checkpoint leaves everything as it was.
    resumed, history = open_checkpoint(args, settings, say) or (None, [])
    H, W = final.shape[:2]
    extras = "".join([f", scales {','.join(map(str, sizes))} ({'+'.join(map(str, schedule))} iterations)"
                      if multiscale else "",
                      f", preserve colour: {args.preserve_color}" if args.preserve_color else "",
                      f", style scale {args.style_scale:g}" if args.style_scale else "",
                      balance_text(args, content),
                      ", masks " + ", ".join(args.content_mask) if args.content_mask else ""])
    say(f"content {args.content} {W}x{H}, style {', '.join(args.style)}; {sum(schedule)} {args.optimizer} "
        f"iterations, alpha {args.content_weight:g}, beta {args.style_weight:g}, tv {args.tv_weight:g}, "
        f"init {args.init} (preset {args.preset}){extras}")
    note = balance_note(args)
    if note:
        say(note)
    style_side = style_long_side(args.size, args.size, args.style_scale)
    for rgb, what, side in [(content, "the photo", args.size)] + [(s, f"style {p}", style_side)
                                                                   for s, p in zip(styles, args.style, strict=True)]:
        if side > max(rgb.shape[:2]):
            say(f"{what} is {rgb.shape[1]}x{rgb.shape[0]} px: upscaled {side / max(rgb.shape[:2]):.1f}x "
                f"to {side} px on its long side")
    total_iters = sum(schedule)
    if resumed:
        where = (f"level {resumed.level + 1} of {len(sizes)} ({sizes[resumed.level]} px), " if multiscale else "")
        how = ("" if resumed.optimizer_state is not None else
               "; SciPy's L-BFGS-B cannot save its history, so it starts a new one from the saved image")
        say(f"resumed at {where}iteration {resumed.iteration} of {total_iters} from {args.checkpoint}{how}")
    elif args.checkpoint_every:
        say(f"checkpoint every {args.checkpoint_every} iterations: {args.checkpoint}")

    for folder in create_folders(p for p in (args.output, args.log, args.plot) if p):   # snapshots: --output's
        say(f"created folder {folder}")
    shapes = [long_side_shape(*content.shape[:2], s) for s in sizes]
    taps = active_taps(args.content_layers, args.style_layers, args.content_weight, args.style_weight)
    upto = deepest_layer(taps) if taps else None
    tiles = [level.tile for level in levels]
    # A tiled last level is timed on one tile's window: the whole image would need the memory the
    # tiles save. No active layer (alpha = beta = 0) leaves only the TV term: nothing worth timing.
    timed = shapes[-1] if tiles[-1] is None else largest_window(shapes[-1], tiles[-1], (upto,))
    eval_seconds = measure_evaluation(net, timed, taps) if taps else 0.0
    estimate = plan(eval_seconds, shapes, schedule, upto, optimizer=args.optimizer, n_styles=len(styles),
                    tiles=tiles, measured_hw=timed)
    if multiscale or any(tiles):
        for k, level in enumerate(levels):
            say(level_line(k, len(levels), level.hw, schedule[k], estimate["per_scale"][k], level.peak_bytes,
                           level.tile, upto))
    what = f"{total_iters} iterations at {W}x{H} px" + (f" over {len(sizes)} scales" if multiscale else "")
    seconds_left = estimate["seconds"]
    if resumed:
        k0 = resumed.level
        left = [schedule[k0] - resumed.level_iteration] + list(schedule[k0 + 1:])
        seconds_left = plan(eval_seconds, shapes[k0:], left, upto, optimizer=args.optimizer,
                            n_styles=len(styles), tiles=tiles[k0:], measured_hw=timed)["seconds"]
        what = f"the {total_iters - resumed.iteration} iterations left of {what}"
    say(plan_line(seconds_left, peak, what))
    eta = Eta(schedule, estimate["per_eval"], optimizer=args.optimizer)
    # The last iteration the callback saw, as a checkpoint would hold it: what Ctrl-C and SIGTERM save.
    # It is replaced in one assignment, so a signal never finds it half-updated.
    run = {"point": resumed, "state": None}
    log = None
    try:
        if args.log:
            had_config = cut_log(args.log, resumed.iteration) if resumed else False
            try:
                log = open(args.log, "a" if resumed else "w", encoding="utf-8")
            except OSError as exc:
                raise MinivggError(f"cannot write the log {args.log}: {exc.strerror or exc}") from None
            if not had_config:
                # The estimate goes in too: a log is then a recorded trace to check the estimator on.
                plan_record = {"seconds": round(estimate["seconds"], 3),
                               "eval_seconds": round(estimate["per_eval"][-1], 4), "peak_bytes": peak}
                log.write(json.dumps({"config": config, "estimate": plan_record}) + "\n")
            if resumed:
                mark = {"iter": resumed.iteration, "seconds": round(resumed.seconds, 4),
                        "optimizer_state": "restored" if resumed.optimizer_state is not None else "restarted"}
                if multiscale:
                    mark.update(size=sizes[resumed.level], scale_iter=resumed.level_iteration)
                log.write(json.dumps({"resumed": mark}) + "\n")
            log.flush()
        t0 = time.perf_counter()
        seconds_before = resumed.seconds if resumed else 0.0
        first = (resumed.iteration if resumed else 0) + 1

        def on_state(state):
            run["state"] = state

        def callback(it, x, parts):
            k = parts["scale"]
            now = time.perf_counter()
            per, left = eta.update(k, it, now)
            n = (run["point"].iteration if run["point"] else 0) + 1
            elapsed = seconds_before + now - t0
            row = {"iter": n, "loss": parts["total"], "content": parts["content"], "style": parts["style"],
                   "tv": parts["tv"], "seconds": round(elapsed, 4)}
            if multiscale:
                row.update(size=parts["size"], scale_iter=it)
            history.append(dict(parts, iter=n))
            state = run["state"]
            run["point"] = Checkpoint(image=x, level=k, level_iteration=it, iteration=n, seconds=elapsed,
                                      settings=settings, optimizer=args.optimizer,
                                      optimizer_state=None if state is None else state.copy())
            if log:
                log.write(json.dumps(row) + "\n")
                log.flush()
            if n == first or n % args.print_every == 0 or n == total_iters or (multiscale and it == 1):
                where = f"  [{parts['size']} px, {it}/{schedule[k]}]" if multiscale else ""
                say(iteration_line(n, total_iters, parts, per, left) + where)
            if args.save_every and n % args.save_every == 0:
                save_image(snapshot_path(args.output, n), finish_image(x, final, args.preserve_color),
                           forbid=args.inputs)
            if args.checkpoint_every and n % args.checkpoint_every == 0:
                run["point"].save(args.checkpoint, history[:n])

        with StopSignals() as stop:
            try:
                rgb = stylize_images(net, content, styles, sizes=sizes, iterations=schedule,
                                     preserve_color=args.preserve_color, style_scale=args.style_scale,
                                     content_masks=masks, init=init, seed=args.seed, optimizer=args.optimizer,
                                     lr=args.lr, bounds=args.bounds, callback=callback,
                                     content_layers=args.content_layers, style_layers=args.style_layers,
                                     alpha=args.content_weight, beta=args.style_weight, style_blend=args.style_blend,
                                     tv_weight=args.tv_weight, style_layer_weights=args.style_layer_weights,
                                     resume=resumed, on_state=on_state, tiles=tiles, balance_size=args.balance_size)
            except KeyboardInterrupt as exc:
                stop.hold()                      # a second Ctrl-C or SIGTERM must not cut the save short
                return _save_stopped(args, run["point"], history, final, log,
                                     Terminated.exit_code if isinstance(exc, Terminated) else 130)
        save_image(args.output, rgb, forbid=args.inputs)
    finally:
        if log:
            log.close()
    if args.checkpoint_every and os.path.isfile(args.checkpoint):
        os.remove(args.checkpoint)               # the run is done: nothing to resume
    if args.plot:
        _write_plot(args.plot, history, args.tv_weight > 0)
        say(f"wrote the loss plot {args.plot}")
    say(f"wrote {args.output} ({W}x{H}) in {fmt_duration(time.perf_counter() - t0)}")
    return 0


def _save_stopped(args, point, history, final, log, code: int) -> int:
    """Ctrl-C (code 130) or SIGTERM (143) stopped the run: write the image of ``point`` (the last
    iteration seen) and, with --checkpoint-every, the checkpoint; say what was written; return ``code``."""
    from .app.pictures import save_image
    from .app.pipeline import finish_image

    how = "terminated (SIGTERM)" if code == Terminated.exit_code else "interrupted"
    if point is None:
        kept = f" ({args.log} has only its config line)" if log else ""
        print(f"{PROG}: {how} before the first iteration finished: nothing was written to "
              f"{args.output}{kept}", file=sys.stderr)
        return code
    save_image(args.output, finish_image(point.image, final, args.preserve_color), forbid=args.inputs)
    written = f"wrote {args.output}"
    if args.checkpoint_every:
        point.save(args.checkpoint, history[:point.iteration])
        written += f" and {args.checkpoint}; rerun the same command to resume"
    print(f"{PROG}: {how} at iteration {point.iteration}: {written}", file=sys.stderr)
    if args.plot and history:
        _write_plot(args.plot, history[:point.iteration], args.tv_weight > 0)
    return code


def _write_plot(path, history, show_tv: bool):
    from .app.plot import plot_losses

    plot_losses(history, path, show_tv=show_tv,
                title="style transfer losses (total = alpha content + beta style + tv_weight TV)")


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
