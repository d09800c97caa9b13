"""``python -m minivgg.reconstruct``: the paper's Figures 1 and 3, from any photo and painting.

    python -m minivgg.reconstruct content --content photo.jpg --output-dir fig1            # Fig. 1, bottom row
    python -m minivgg.reconstruct style --style painting.jpg --output-dir fig1             # Fig. 1, top row
    python -m minivgg.reconstruct grid --content photo.jpg --style painting.jpg --output-dir fig3   # Fig. 3

Every cell is the same objective as ``python -m minivgg.stylize`` -- :class:`~minivgg.objective.StyleTransfer`,
eq. 7 -- with one of the weights set to zero; nothing here computes a loss of its own:

* **content** -- one cell per layer of ``--layers`` (default conv1_1, conv2_1, conv3_1, conv4_1,
  conv5_1): from white noise, match that one layer's feature maps of the photo
  (``content_layers=(layer,), alpha=1, beta=0``). Low layers give the photo back almost exactly;
  from conv4_1 on, the exact pixels are lost and only the layout ("what is where") survives.
* **style** -- one cell per growing layer set ``{L1}, {L1, L2}, ..., {L1 ... L5}`` of ``--layers``:
  from white noise, match only those layers' Gram matrices of the painting (``alpha=0``,
  ``beta=--style-weight``, each layer weighted 1/|set|, as in stylize). The reconstruction has the
  painting's own shape (long side ``--size``). More layers: the texture's structures grow from
  pixel-sized colour noise to the painting's large brush strokes.
* **grid** -- rows = those growing style layer sets, columns = the alpha/beta ratios of ``--ratios``
  (default 1e-5, 1e-4, 1e-3, 1e-2), each cell a full style transfer with content layer
  ``--content-layer`` (default conv4_2). **Ratio to weights:** beta stays at ``--style-weight``
  (default 1e3, stylize's default) and ``alpha = ratio * beta``; so the 1e-3 column is exactly
  stylize's default run (alpha 1, beta 1e3), and the style term keeps one scale across the sheet.
  Our losses are the paper's normalisations (eq. 1, 4, 5; see :mod:`minivgg.objective`), but note
  that eq. 1 sums over all M_l positions while eq. 4 divides by M_l^2: the content term grows with
  the image area and the style term does not, so at 128 px (16x fewer pixels than the paper's
  ~512 px) a given ratio is about a decade more style-heavy than in the paper. On Tuebingen x
  Starry Night at 128 px the columns still go from texture (1e-5) to photo (1e-2) for the rows up to
  conv3_1; the rows with conv4_1 and conv5_1 (whose Gram losses dominate) show the houses only in
  the 1e-2 column; at this size, ``--ratios`` up to 1e-1 should bring them out (not checked).

**Output**, all in ``--output-dir``: one PNG per cell (``content_conv3_1.png``,
``style_conv1_1-conv3_1.png``, ``grid_conv1_1-conv3_1_ratio1e-04.png``), the labelled contact sheet
``MODE_sheet.png`` (rewritten after every cell, so it can be watched; a cell not computed yet is
an empty frame) and ``MODE.json``: the settings, and per cell its file, label, layers, alpha,
beta, final losses (``StyleTransfer.losses``: total, content, style, tv), iterations and seconds,
plus ``run``, the number of the invocation that computed it.

**Resume.** Cell images are written atomically (temporary file, then rename) and the JSON is
rewritten atomically after each cell, so an interrupted run (Ctrl-C exits 130) leaves only
finished cells. Running the same command again keeps every cell that the JSON lists as finished
*and* whose image still exists, and computes the others. Settings that change the pictures (images,
size, iterations, optimiser, lr, bounds, pooling, seed, init, layers, ratios, weights) are recorded;
a rerun with different ones is refused with exit code 2 and the list of differences, unless
``--restart`` is given, which recomputes every cell. ``--device``, ``--print-every`` and ``--quiet``
may change between runs. So the optimiser does not follow the device here: it is ``lbfgs`` (SciPy's)
unless ``--optimizer`` says otherwise (``lbfgs-xp`` keeps a GPU run on the device), where
``stylize`` picks ``lbfgs-xp`` on the GPU by itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

from .app.atomic import atomic_write, check_outputs, create_folders
from .app.cli import ArgumentParser, StopSignals, Terminated, positive_float, run_main
from .app.options import add_run_options, layer_list
from .app.pipeline import INITS, NOISE_STD
from .app.progress import fmt_duration, iteration_line
from .architecture import LAYER_NAMES, check_input_size, check_layer_names, deepest_layer
from .errors import MinivggError, UsageError
from .objective import DEFAULT_BETA, DEFAULT_STYLE_LAYERS
from .optim import check_optimizer

PROG = "python -m minivgg.reconstruct"
MODES = ("content", "style", "grid")
DEFAULT_LAYERS = DEFAULT_STYLE_LAYERS
DEFAULT_RATIOS = (1e-5, 1e-4, 1e-3, 1e-2)
DEFAULT_CONTENT_LAYER = "conv4_2"
DEFAULT_SIZE = 128
#: Iterations per cell: reconstructions from noise need a few hundred L-BFGS steps to settle;
#: the grid has 20 cells, so it gets fewer per cell (see README for timings on 2 cores).
DEFAULT_ITERATIONS = {"content": 200, "style": 200, "grid": 100}
#: Keys of the recorded settings that may differ on a resume.
FREE_SETTINGS = ("device", "print_every", "quiet")


# ---------------------------------------------------------------------------------------------
# naming
# ---------------------------------------------------------------------------------------------
def ratio_text(r: float) -> str:
    """1e-4 -> ``1e-04``, 2.5e-4 -> ``2.5e-04`` (exact enough to tell ratios apart, safe in file names)."""
    mantissa, exponent = f"{r:.6e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{exponent}"


def set_label(layers) -> str:
    """A readable label for a growing layer set: ``conv1_1``, ``conv1_1 + conv2_1``, ``conv1_1 + ... + conv4_1``."""
    layers = list(layers)
    if len(layers) <= 2:
        return " + ".join(layers)
    return f"{layers[0]} + ... + {layers[-1]}"


def set_stem(layers) -> str:
    """``conv1_1`` or ``conv1_1-conv4_1`` (first and last of a growing set: unique among the prefixes)."""
    return layers[0] if len(layers) == 1 else f"{layers[0]}-{layers[-1]}"


def plan_cells(mode: str, layers, ratios=DEFAULT_RATIOS, content_layer: str = DEFAULT_CONTENT_LAYER,
               style_weight: float = DEFAULT_BETA) -> list:
    """The cells of a sheet, in computing order: dicts with ``key`` (file stem), ``row``, ``col``, ``label``,
    ``content_layers``, ``style_layers``, ``alpha``, ``beta`` (and ``ratio`` in the grid).

    content: one row, a column per layer (column 0 of the sheet is the photo itself, not a cell);
    style: one row, a column per growing set; grid: a row per growing set, a column per ratio.
    """
    layers = list(layers)
    sets = [layers[:k] for k in range(1, len(layers) + 1)]
    cells = []
    if mode == "content":
        for c, name in enumerate(layers):
            cells.append(dict(key=f"content_{name}", row=0, col=c, label=name, content_layers=[name],
                              style_layers=[], alpha=1.0, beta=0.0))
    elif mode == "style":
        for c, s in enumerate(sets):
            cells.append(dict(key=f"style_{set_stem(s)}", row=0, col=c, label=set_label(s), content_layers=[],
                              style_layers=s, alpha=0.0, beta=float(style_weight)))
    elif mode == "grid":
        for r, s in enumerate(sets):
            for c, ratio in enumerate(ratios):
                cells.append(dict(key=f"grid_{set_stem(s)}_ratio{ratio_text(ratio)}", row=r, col=c,
                                  label=f"{set_label(s)}, alpha/beta {ratio_text(ratio)}", ratio=float(ratio),
                                  content_layers=[content_layer], style_layers=s,
                                  alpha=float(ratio) * float(style_weight), beta=float(style_weight)))
    else:
        raise UsageError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
    return cells


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------
def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="Regenerate the figures of Gatys, Ecker & Bethge (2015) from any photo and painting: "
                    "content reconstructions (Fig. 1 bottom), style reconstructions (Fig. 1 top) and the "
                    "alpha/beta grid (Fig. 3), each as labelled contact sheet, single images and a JSON file.",
        epilog="Run `%(prog)s MODE --help` for a mode's options. Exit codes: 0 done, 1 runtime error, "
               "2 usage error (also: resuming with other settings), 130 interrupted by Ctrl-C, 143 stopped by SIGTERM "
               "(either way finished cells are kept; "
               "run the same command again to resume).")
    sub = p.add_subparsers(dest="mode", required=True, metavar="{content,style,grid}")
    helps = {"content": "Fig. 1 bottom: match one layer's content features of the photo, from white noise",
             "style": "Fig. 1 top: match the Gram matrices of the painting on growing layer sets, from white noise",
             "grid": "Fig. 3: full style transfers, rows = growing style layer sets, columns = alpha/beta ratios"}
    for mode in MODES:
        s = sub.add_parser(mode, help=helps[mode], description=helps[mode] + ".",
                           epilog="Finished cells in --output-dir are kept; a rerun computes only the missing ones.")
        io = s.add_argument_group("images")
        io.add_argument("--content", required=mode != "style", metavar="PATH",
                        help="the photo" + (" (not used by this mode)" if mode == "style" else ""))
        io.add_argument("--style", required=mode != "content", metavar="PATH",
                        help="the painting" + (" (not used by this mode)" if mode == "content" else ""))
        io.add_argument("--output-dir", required=True, metavar="DIR",
                        help="where the cells, MODE_sheet.png and MODE.json go (created if missing)")
        obj = s.add_argument_group("objective")
        what = {"content": "one cell per layer", "style": "the cells use the growing sets {L1}, {L1, L2}, ...",
                "grid": "the rows use the growing sets {L1}, {L1, L2}, ..."}[mode]
        obj.add_argument("--layers", nargs="+", default=list(DEFAULT_LAYERS), metavar="NAME",
                         help=f"{what} (default {' '.join(DEFAULT_LAYERS)})")
        if mode != "content":
            obj.add_argument("--style-weight", type=positive_float, default=DEFAULT_BETA, metavar="BETA",
                             help=f"beta (default {DEFAULT_BETA:g})" +
                                  ("; alpha = ratio * beta" if mode == "grid" else ""))
        if mode == "grid":
            obj.add_argument("--ratios", nargs="+", type=positive_float, default=list(DEFAULT_RATIOS), metavar="R",
                             help="alpha/beta of the columns (default "
                                  f"{' '.join(ratio_text(r) for r in DEFAULT_RATIOS)})")
            obj.add_argument("--content-layer", default=DEFAULT_CONTENT_LAYER, metavar="NAME",
                             help=f"content tap of every cell (default {DEFAULT_CONTENT_LAYER})")
        s.add_argument("--restart", action="store_true",
                       help="recompute every cell, even when --output-dir holds cells made with other settings")
        add_run_options({"images": io, "objective": obj, "optimisation": s.add_argument_group("optimisation"),
                         "running": s.add_argument_group("running")},
                        init=mode == "grid", size=DEFAULT_SIZE, iterations=DEFAULT_ITERATIONS[mode])
    return p


def validate(args) -> list:
    """Flag checks that need no files. Returns the planned cells; raises UsageError."""
    layers = check_layer_names(layer_list(args.layers), "layer")
    if not layers:
        raise UsageError("--layers needs at least one layer name")
    if len(set(layers)) != len(layers):
        raise UsageError("a layer is listed twice in --layers")
    args.layers = list(layers)
    check_optimizer(args.optimizer, args.bounds)
    if args.mode == "grid":
        args.content_layer = check_layer_names([args.content_layer], "content layer")[0]
        texts = [ratio_text(r) for r in args.ratios]
        if len(set(texts)) != len(texts):
            raise UsageError("a ratio is listed twice in --ratios")
    if os.path.exists(args.output_dir) and not os.path.isdir(args.output_dir):
        raise UsageError(f"--output-dir {args.output_dir} exists and is not a directory")
    cells = plan_cells(args.mode, args.layers, getattr(args, "ratios", DEFAULT_RATIOS),
                       getattr(args, "content_layer", DEFAULT_CONTENT_LAYER),
                       getattr(args, "style_weight", DEFAULT_BETA))
    for c in cells:
        c["file"] = f"{c['key']}.png"
    from .weights import default_weights_path

    init = getattr(args, "init", "noise")
    # Every path given is an input, even one this mode does not read (--content of a style sheet).
    inputs = [("--content", args.content), ("--style", args.style), ("--init", None if init in INITS else init),
              ("--weights", args.weights) if args.weights else ("the default --weights", default_weights_path())]
    check_outputs([("--output-dir", p) for p in output_paths(args.output_dir, args.mode, cells)], inputs)
    args.inputs = [p for _, p in inputs if p is not None]
    return cells


def output_paths(out: str, mode: str, cells) -> list:
    """Every file a sheet writes in ``out``: the record ``MODE.json``, ``MODE_sheet.png``, then each cell's."""
    return [os.path.join(out, f"{mode}.json"), os.path.join(out, f"{mode}_sheet.png")] + [
        os.path.join(out, c["file"]) for c in cells]


def _sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def settings_dict(args, images: dict) -> dict:
    """Everything that decides the pictures (compared on a resume), plus the free keys of FREE_SETTINGS."""
    from .weights import default_weights_path

    weights = Path(args.weights) if args.weights else default_weights_path()
    cfg = {"mode": args.mode, "size": args.size, "iterations": args.iterations, "optimizer": args.optimizer,
           "lr": args.lr if args.optimizer == "adam" else None, "bounds": args.bounds, "pooling": args.pooling,
           "seed": args.seed, "noise_std": NOISE_STD, "init": getattr(args, "init", "noise"),
           "layers": list(args.layers), "dtype": "float32",
           "weights": {"path": str(weights.resolve()), "bytes": weights.stat().st_size if weights.is_file() else None}}
    if args.mode != "content":
        cfg["style_weight"] = args.style_weight
    if args.mode == "grid":
        cfg.update(ratios=list(args.ratios), content_layer=args.content_layer, alpha_from_ratio="alpha = ratio * beta")
    for what, (path, rgb) in images.items():
        cfg[what] = {"path": str(path), "sha256": _sha256(path), "shape": list(rgb.shape[:2])}
    if cfg["init"] not in INITS:
        cfg["init"] = {"path": str(cfg["init"]), "sha256": _sha256(cfg["init"])}
    cfg.update({k: getattr(args, k) for k in FREE_SETTINGS})
    return cfg


def _differences(old: dict, new: dict) -> list:
    keys = [k for k in sorted(set(old) | set(new)) if k not in FREE_SETTINGS]
    return [k for k in keys if old.get(k) != new.get(k)]


def _write_json(path: str, data: dict) -> None:
    """Atomic (see :func:`~minivgg.app.atomic.atomic_write`): a resumed run reads this record back."""
    with atomic_write(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
        f.write("\n")


def _load_image_for(path, size, layers, what, device="cpu"):
    """The picture at ``path`` resized to long side ``size``; UsageError first if it would then be too
    small for the deepest of ``layers`` or too big for the memory of ``device``."""
    from .app.pictures import load_image, long_side_shape, resize_image
    from .machine.memory import check_fits

    rgb = load_image(str(path))
    hw = long_side_shape(*rgb.shape[:2], size)
    if layers:
        check_input_size(hw, layers, what, " after resizing")
        check_fits([(f"the {what}", hw, True)], deepest_layer(layers), device=device)
    return resize_image(rgb, size=size)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    cells = validate(args)
    import numpy as np

    from .machine import tune_process

    tune_process()

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _run(args, cells)


def _run(args, cells) -> int:
    from .app.estimate import Eta, expected_evaluations, measure_evaluation, plan_line
    from .app.pictures import check_output_path, load_image, save_image
    from .app.pipeline import initial_image
    from .app.sheet import contact_sheet
    from .backend import get_backend, to_numpy
    from .image import deprocess, preprocess
    from .machine.cost import unit_flop
    from .machine.memory import step_bytes
    from .objective import StyleTransfer
    from .vgg import VGG19

    mode, out = args.mode, args.output_dir
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    deepest_all = sorted({n for c in cells for n in c["content_layers"] + c["style_layers"]}, key=LAYER_NAMES.index)

    # --- images (checked before any network work) ---
    images = {}
    if mode in ("content", "grid"):
        images["content"] = (args.content, _load_image_for(args.content, args.size, deepest_all, "content image",
                                                            args.device))
    if mode in ("style", "grid"):
        images["style"] = (args.style, _load_image_for(args.style, args.size, args.layers, "style image", args.device))
    inputs = args.inputs
    init = getattr(args, "init", "noise")
    if init not in INITS:
        init = load_image(init)
    settings = settings_dict(args, images)

    # --- resume or start ---
    json_path, sheet_path = output_paths(out, mode, [])
    for c in cells:
        check_output_path(os.path.join(out, c["file"]), forbid=inputs)
    check_output_path(sheet_path, forbid=inputs)
    record, runs_before = None, 0
    if os.path.isfile(json_path):
        try:
            with open(json_path, encoding="utf-8") as f:
                record = json.load(f)
            old = record["settings"]
        except (OSError, ValueError, KeyError, TypeError):
            raise MinivggError(f"{json_path} is not a sheet record this tool wrote; move it away or use "
                               "another --output-dir") from None
        diff = _differences(old, settings)
        if diff and not args.restart:
            raise UsageError(f"{json_path} was made with other settings ({', '.join(diff)} differ): run the "
                             "same command as before to resume, add --restart to recompute every cell, or use "
                             "another --output-dir")
        runs_before = int(record.get("runs", 0)) if isinstance(record.get("runs"), int) else 0
        if diff:
            record = None
    done = {}
    if record is not None and not args.restart:
        for c in record.get("cells", []):
            if c.get("losses") is not None and os.path.isfile(os.path.join(out, c.get("file", ""))):
                done[c["key"]] = c
    run_no = runs_before + 1
    for c in cells:
        c.update(done.get(c["key"], {"losses": None, "iterations_run": None, "seconds": None, "run": None}))

    get_backend(args.device)
    net = VGG19.load(args.weights, pooling=args.pooling, device=args.device)
    for folder in create_folders([json_path]):
        say(f"created folder {folder}")
    from . import __version__

    def write_record(layout, complete=False):
        sheet = {"file": os.path.basename(sheet_path), "size": list(layout.size), "rows": layout.rows,
                 "cols": layout.cols, "labels": layout.texts}
        _write_json(json_path, {"tool": PROG, "minivgg_version": __version__, "settings": settings, "runs": run_no,
                                "complete": complete, "sheet": sheet, "cells": cells})

    # --- the sheet ---
    content_rgb = images.get("content", (None, None))[1]
    style_rgb = images.get("style", (None, None))[1]
    n_cols = max(c["col"] for c in cells) + 1
    n_rows = max(c["row"] for c in cells) + 1
    lead = {"content": ("photo", content_rgb), "style": ("painting", style_rgb)}.get(mode)
    col_labels = ([lead[0]] if lead else []) + (
        [c["label"] for c in cells if c["row"] == 0] if mode != "grid"
        else [f"alpha/beta {ratio_text(r)}" for r in args.ratios])
    row_labels = [set_label(args.layers[:r + 1]) for r in range(n_rows)] if mode == "grid" else None
    src = {"content": os.path.basename(args.content or ""), "style": os.path.basename(args.style or "")}
    shape = (content_rgb if mode != "style" else style_rgb).shape
    how = f"{shape[1]}x{shape[0]} px, {args.iterations} {args.optimizer} iterations"
    title = {"content": f"Content reconstructions from white noise: {src['content']}, {how}",
             "style": f"Style reconstructions from white noise: {src['style']}, beta "
                      f"{getattr(args, 'style_weight', 0):g}, {how}",
             "grid": f"{src['content']} x {src['style']}: rows = style layers, columns = alpha/beta "
                     f"(beta {getattr(args, 'style_weight', 0):g}, content {getattr(args, 'content_layer', '')}), "
                     f"{how}"}[mode]

    def write_sheet():
        grid = [[None] * n_cols for _ in range(n_rows)]
        for c in cells:
            p = os.path.join(out, c["file"])
            if c["losses"] is not None and os.path.isfile(p):
                grid[c["row"]][c["col"]] = load_image(p)
        if lead:
            grid[0] = [lead[1]] + grid[0]
        sizes = [(a.shape[1], a.shape[0]) for a in (content_rgb, style_rgb) if a is not None]
        rgb, layout = contact_sheet(grid, row_labels=row_labels, col_labels=col_labels, title=title,
                                    image_size=(max(w for w, _ in sizes), max(h for _, h in sizes)))
        save_image(sheet_path, rgb, forbid=inputs)
        return layout

    # --- the cells ---
    content_x = preprocess(content_rgb, backend=net.backend) if content_rgb is not None else None
    style_x = preprocess(style_rgb, backend=net.backend) if style_rgb is not None else None
    template = content_x if mode != "style" else style_x
    # Relative cost of one iteration of each cell, for the sheet's ETA: the FLOPs of a forward and
    # backward pass to its deepest tap, plus those to conv2_1 as a floor for the memory-bound start.
    hw = tuple(template.shape[1:])
    costs = [unit_flop(hw, deepest_layer(c["content_layers"] + c["style_layers"]))
             + unit_flop(hw, "conv2_1") for c in cells]
    todo = [i for i, c in enumerate(cells) if c["losses"] is None]
    n = len(cells)
    say(f"{mode}: {n} cells ({n - len(todo)} already in {out}), {shape[1]}x{shape[0]} px, "
        f"{args.iterations} {args.optimizer} iterations each, pooling {args.pooling}")
    for i, c in enumerate(cells):
        if c["losses"] is not None:
            say(f"cell {i + 1}/{n} {c['label']}: kept {os.path.join(out, c['file'])}")
    layout = write_sheet()
    write_record(layout, complete=not todo)

    # One measured evaluation at the costliest cell's depth prices every cell (by its relative cost).
    eta = None
    if todo:
        deepest = max(todo, key=lambda i: costs[i])
        taps = tuple(cells[deepest]["content_layers"] + cells[deepest]["style_layers"])
        seconds = measure_evaluation(net, hw, taps)
        per_eval = [seconds * costs[i] / costs[deepest] for i in todo]
        total = sum(s * expected_evaluations(args.iterations, args.optimizer) for s in per_eval)
        say(plan_line(total, step_bytes(hw, deepest_layer(taps), device=args.device),
                      f"{len(todo)} cells of {args.iterations} iterations at {hw[1]}x{hw[0]} px"))
        eta = Eta([args.iterations] * len(todo), per_eval, optimizer=args.optimizer)
    state = {"cell": None, "iter": 0}
    t_sheet = time.perf_counter()
    with StopSignals() as stop:
        try:
            for pos, i in enumerate(todo):
                c = cells[i]
                state["cell"], state["iter"] = i, 0
                say(f"cell {i + 1}/{n} {c['label']}: alpha {c['alpha']:g}, beta {c['beta']:g}, content "
                    f"{','.join(c['content_layers']) or '-'}, style {','.join(c['style_layers']) or '-'}")
                st = StyleTransfer(net, content_x if c["alpha"] > 0 else None, [style_x] if c["beta"] > 0 else None,
                                   content_layers=tuple(c["content_layers"]), style_layers=tuple(c["style_layers"]),
                                   alpha=c["alpha"], beta=c["beta"])
                x0 = initial_image(init if mode == "grid" else "noise", template,
                                   [style_x] if style_x is not None else [], seed=args.seed, backend=net.backend)
                t0 = time.perf_counter()

                def callback(it, x, parts, c=c, i=i, pos=pos):
                    state["iter"] = it
                    per, sheet_eta = eta.update(pos, it)
                    if not (it == 1 or it % args.print_every == 0 or it == args.iterations):
                        return
                    say(f"  [cell {i + 1}/{n}] " + iteration_line(it, args.iterations, parts, per,
                                                                   per * (args.iterations - it))
                        + f"  sheet ETA {fmt_duration(sheet_eta)}")

                x = st.run(x0, args.iterations, optimizer=args.optimizer, callback=callback, lr=args.lr,
                           bounds=args.bounds)
                seconds = time.perf_counter() - t0
                losses = {k: float(v) for k, v in st.losses(x).items()}
                save_image(os.path.join(out, c["file"]), deprocess(to_numpy(x)), forbid=inputs)
                c.update(losses=losses, iterations_run=state["iter"], seconds=round(seconds, 3), run=run_no)
                layout = write_sheet()
                write_record(layout, complete=pos == len(todo) - 1)
                say(f"cell {i + 1}/{n} {c['label']}: wrote {os.path.join(out, c['file'])} in {fmt_duration(seconds)} "
                    f"(total {losses['total']:.4e}, content {losses['content']:.4e}, style {losses['style']:.4e})")
        except KeyboardInterrupt as exc:                     # Ctrl-C, or SIGTERM (Terminated)
            stop.hold()                                      # finish the message; nothing half-written exists
            kept = sum(c["losses"] is not None for c in cells)
            i = state["cell"]
            at = f"at iteration {state['iter']}" if state["iter"] else "before its first iteration finished"
            where = f" in cell {i + 1}/{n} ({cells[i]['label']}) {at}" if i is not None else ""
            how = "terminated" if isinstance(exc, Terminated) else "interrupted"
            print(f"{PROG}: {how}{where}: {kept} of {n} cells are finished in {out}; run the same command "
                  "again to compute the rest", file=sys.stderr)
            return Terminated.exit_code if isinstance(exc, Terminated) else 130
    say(f"wrote {sheet_path} ({layout.size[0]}x{layout.size[1]}, {layout.rows}x{layout.cols} cells) and {json_path} "
        f"in {fmt_duration(time.perf_counter() - t_sheet)}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
