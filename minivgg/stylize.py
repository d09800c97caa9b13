"""``python -m minivgg.stylize``: paint a photo in the style of one or more paintings.

    python -m minivgg.stylize --content photo.jpg --style painting.jpg --output out.png --size 256

Everything the user can get wrong -- flags, layer names, weights, image files, image sizes, the
weights file, the output path -- is checked before the optimisation starts, and reported as one
line on stderr with exit code 2 (usage) or 1 (runtime: unreadable file, missing weights, NaN loss).
Ctrl-C during the optimisation writes the image reached so far to ``--output`` and exits 130.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from .cli import ArgumentParser, nonnegative_float, positive_int, run_main
from .options import add_run_options, layer_list
from .progress import fmt_duration, iteration_line
from .errors import MinivggError, UsageError
from .image import same_file
from .transfer import DEFAULT_ALPHA, DEFAULT_BETA, DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, INITS, NOISE_STD
from .vgg import check_layer_names

PROG = "python -m minivgg.stylize"


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
    obj.add_argument("--content-weight", type=nonnegative_float, default=DEFAULT_ALPHA, metavar="ALPHA",
                     help=f"alpha (default {DEFAULT_ALPHA:g})")
    obj.add_argument("--style-weight", type=nonnegative_float, default=DEFAULT_BETA, metavar="BETA",
                     help=f"beta (default {DEFAULT_BETA:g})")
    obj.add_argument("--content-layers", nargs="+", default=list(DEFAULT_CONTENT_LAYERS), metavar="NAME",
                     help=f"content taps (default {' '.join(DEFAULT_CONTENT_LAYERS)})")
    obj.add_argument("--style-layers", nargs="+", default=list(DEFAULT_STYLE_LAYERS), metavar="NAME",
                     help=f"style taps (default {' '.join(DEFAULT_STYLE_LAYERS)})")
    obj.add_argument("--style-layer-weights", nargs="+", type=nonnegative_float, metavar="W",
                     help="w_l, one per style layer, used as given (default 1/number of style layers)")
    obj.add_argument("--tv-weight", type=nonnegative_float, default=0.0, metavar="X",
                     help="weight of the total-variation smoothness term (default 0: off, as in the paper)")

    opt = p.add_argument_group("optimisation")     # --iterations --optimizer --lr --bounds: add_run_options

    run = p.add_argument_group("running")
    run.add_argument("--save-every", type=positive_int, metavar="N",
                     help="also write OUTPUT_STEM_0050.png etc. beside the output every N iterations")
    run.add_argument("--log", metavar="PATH",
                     help="JSON Lines: a first line {\"config\": ...}, then one object per iteration "
                          "(iter, loss, content, style, tv, seconds since the start)")
    # --size --init --seed, --pooling, --iterations --optimizer --lr --bounds, --device --weights
    # --print-every --quiet: shared with python -m minivgg.reconstruct.
    add_run_options({"images": io, "objective": obj, "optimisation": opt, "running": run})
    return p


def snapshot_path(output: str, iteration: int) -> str:
    """``out.png`` -> ``out_0050.png`` (same folder, same format as the output)."""
    p = Path(output)
    return str(p.with_name(f"{p.stem}_{iteration:04d}{p.suffix}"))


def validate(args):
    """Every check that needs no file contents: layer names, counts, paths. Raises UsageError."""
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
    inputs = [args.content, *args.style] + ([] if args.init in INITS else [args.init])
    if args.weights:
        inputs.append(args.weights)
    args.inputs = inputs
    if args.log:
        for other in inputs + [args.output]:
            if same_file(args.log, other):
                raise UsageError(f"--log {args.log} is the same file as {other}: choose another path")
        if os.path.isdir(args.log):
            raise UsageError(f"--log {args.log} is a directory")


def config_dict(args, content_rgb, style_rgbs, net) -> dict:
    keys = ("content", "style", "style_blend", "output", "size", "iterations", "content_weight", "style_weight",
            "content_layers", "style_layers", "style_layer_weights", "pooling", "init", "seed", "optimizer", "lr",
            "tv_weight", "bounds", "device", "weights", "save_every", "print_every")
    cfg = {k: getattr(args, k) for k in keys}
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

    # Overflow shows up as an inf/NaN loss, which the optimisers report as one line; NumPy's own
    # RuntimeWarnings would only add noise to stderr first.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _run(args)


def _run(args) -> int:

    from .backend import get_backend, to_numpy
    from .image import check_output_path, deprocess, load_image, save_image
    from .transfer import build, prepare
    from .vgg import VGG19

    check_output_path(args.output, forbid=args.inputs)
    if args.save_every:
        check_output_path(snapshot_path(args.output, args.save_every), forbid=args.inputs)
    get_backend(args.device)                      # no CuPy -> one line, before any file is read
    content, styles = prepare(args.content, args.style, size=args.size, content_layers=args.content_layers,
                              style_layers=args.style_layers, alpha=args.content_weight, beta=args.style_weight)
    init = args.init if args.init in INITS else load_image(args.init)
    net = VGG19.load(args.weights, pooling=args.pooling, device=args.device)
    st, x0 = build(net, content, styles, init=init, seed=args.seed, content_layers=args.content_layers,
                   style_layers=args.style_layers, alpha=args.content_weight, beta=args.style_weight,
                   style_blend=args.style_blend, tv_weight=args.tv_weight,
                   style_layer_weights=args.style_layer_weights)

    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    H, W = content.shape[:2]
    say(f"content {args.content} {W}x{H}, style {', '.join(args.style)}; {args.iterations} {args.optimizer} "
        f"iterations, alpha {args.content_weight:g}, beta {args.style_weight:g}, init {args.init}")

    log = None
    if args.log:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(args.log)), exist_ok=True)
            log = open(args.log, "w", encoding="utf-8")
        except OSError as exc:
            raise MinivggError(f"cannot write the log {args.log}: {exc.strerror or exc}") from None
    try:
        if log:
            log.write(json.dumps({"config": config_dict(args, content, styles, net)}) + "\n")
            log.flush()
        state = {"x": x0, "iter": 0}
        t0 = time.perf_counter()

        def callback(it, x, parts):
            state["x"], state["iter"] = x, it
            elapsed = time.perf_counter() - t0
            if log:
                log.write(json.dumps({"iter": it, "loss": parts["total"], "content": parts["content"],
                                      "style": parts["style"], "tv": parts["tv"],
                                      "seconds": round(elapsed, 4)}) + "\n")
                log.flush()
            if it == 1 or it % args.print_every == 0 or it == args.iterations:
                per = elapsed / it
                say(iteration_line(it, args.iterations, parts, per, per * (args.iterations - it)))
            if args.save_every and it % args.save_every == 0:
                save_image(snapshot_path(args.output, it), deprocess(to_numpy(x)), forbid=args.inputs)

        try:
            x = st.run(x0, args.iterations, optimizer=args.optimizer, callback=callback, lr=args.lr,
                       bounds=args.bounds)
        except KeyboardInterrupt:
            signal.signal(signal.SIGINT, signal.SIG_IGN)     # a second Ctrl-C must not cut the save short
            save_image(args.output, deprocess(to_numpy(state["x"])), forbid=args.inputs)
            print(f"{PROG}: interrupted at iteration {state['iter']}: wrote {args.output}", file=sys.stderr)
            return 130
        save_image(args.output, deprocess(to_numpy(x)), forbid=args.inputs)
    finally:
        if log:
            log.close()
    say(f"wrote {args.output} ({W}x{H}) in {fmt_duration(time.perf_counter() - t0)}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
