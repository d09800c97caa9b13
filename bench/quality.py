"""Benchmark: how clean and how styled each preset's pictures are, on several photo x painting pairs.

    python bench/quality.py                              # the default pairs at 256 px, presets paper and clean
    python bench/quality.py --pairs chelsea.png:the_scream.jpg --presets clean --set tv_weight=5

For every pair and preset it runs the whole transfer (:func:`minivgg.app.stylize_images` through
:func:`minivgg.app.presets.resolve`) and prints one row per checkpoint iteration:

* **grain** -- :func:`minivgg.app.presets.relative_grain`: the mean absolute difference between
  neighbouring pixels of the result (RGB, 0..255), divided by the larger of the photo's and the
  painting's at the same size. About 1 means "no busier than its sources"; the paper's white-noise
  start leaves single-pixel speckle that pushes it to 1.2-2.6.
* **L_c**, **L_s** -- the unweighted content and style losses (eq. 1 and eq. 5) of the final image:
  a lower L_s means the painting's statistics are matched better ("the style stays evident").
* **seconds** -- wall time from the start of that run to the checkpoint.

``--sheet PATH`` writes a contact sheet, one row per pair: photo | painting | one column per preset.
Pairs are ``CONTENT:STYLE``, each looked up in ``examples/`` and then in ``../shared/images/``.
``--set key=value`` overrides a preset's setting (for exploring); ``--json PATH`` keeps every number.

Measured results are in bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_PAIRS = ("chelsea.png:the_scream.jpg", "tubingen.jpg:starry_night.jpg", "golden_gate.jpg:wave.jpg",
                 "coffee.png:composition_vii.jpg", "dog.jpg:shipwreck.jpg")
SEARCH = (ROOT / "examples", ROOT.parent / "shared" / "images")


def find_image(name: str) -> Path:
    for folder in SEARCH:
        if (folder / name).is_file():
            return folder / name
    if Path(name).is_file():
        return Path(name)
    raise SystemExit(f"quality.py: error: no image {name!r} in {', '.join(str(f) for f in SEARCH)}")


def parse_set(items) -> dict:
    out = {}
    for item in items or ():
        key, _, value = item.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", nargs="+", default=list(DEFAULT_PAIRS), metavar="CONTENT:STYLE")
    p.add_argument("--presets", nargs="+", default=["paper", "clean"])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--iterations", type=int, default=None, help="override every preset's iteration count")
    p.add_argument("--checkpoints", default="100,200,300,500",
                   help="iterations at which to measure grain (those past a run's end are skipped)")
    p.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="override preset settings (stylize() keywords)")
    p.add_argument("--weights", default=None)
    p.add_argument("--sheet", default=None, metavar="PNG")
    p.add_argument("--json", default=None, metavar="PATH")
    args = p.parse_args(argv)

    import numpy as np

    from minivgg.app.pictures import load_image, long_side_shape, resize_image, save_image
    from minivgg.app.pipeline import finish_image, stylize_images
    from minivgg.app.presets import grain, resolve
    from minivgg.machine import tune_process
    from minivgg.vgg import VGG19

    tune_process()
    overrides = parse_set(args.set)
    if args.iterations:
        overrides["iterations"] = args.iterations
    checkpoints = sorted(int(c) for c in args.checkpoints.split(","))
    nets = {}
    rows, sheet_rows, results = [], [], []
    print(f"{'pair':<36} {'preset':<8} {'iter':>5} {'grain':>6} {'L_c':>10} {'L_s':>10} {'seconds':>8}")
    for pair in args.pairs:
        cname, sname = pair.split(":")
        content, style = load_image(find_image(cname)), load_image(find_image(sname))
        hw = long_side_shape(*content.shape[:2], args.size)
        photo = resize_image(content, shape=hw)
        painting = resize_image(style, size=args.size)
        reference = max(grain(photo), grain(painting))
        cells = [photo, painting]
        for preset in args.presets:
            s = resolve(preset, overrides)
            key = (s["pooling"],)
            if key not in nets:
                nets[key] = VGG19.load(args.weights, pooling=s["pooling"])
            net = nets[key]
            final = [None]
            marks = {}
            t0 = time.perf_counter()

            def cb(it, x, parts, marks=marks, t0=t0, final=final, photo=photo):
                final[0] = (it, x, parts)
                if it in checkpoints:
                    marks[it] = (finish_image(x, photo), parts, time.perf_counter() - t0)

            stylize_images(net, content, [style], sizes=(args.size,), iterations=s["iterations"], init=s["init"],
                           seed=s["seed"], optimizer=s["optimizer"], callback=cb,
                           content_layers=s["content_layers"], style_layers=s["style_layers"],
                           alpha=s["content_weight"], beta=s["style_weight"], tv_weight=s["tv_weight"])
            it, x, parts = final[0]
            marks[it] = (finish_image(x, photo), parts, time.perf_counter() - t0)
            for i in sorted(marks):
                rgb, parts, sec = marks[i]
                g = grain(rgb) / reference
                row = dict(pair=pair, preset=preset, iter=i, grain=round(g, 3), content=parts["content"],
                           style=parts["style"], seconds=round(sec, 1), settings=s)
                results.append(row)
                print(f"{pair:<36} {preset:<8} {i:>5} {g:>6.2f} {parts['content']:>10.3e} {parts['style']:>10.3e} "
                      f"{sec:>8.1f}", flush=True)
            cells.append(marks[it][0])
        sheet_rows.append(cells)
        rows.append(pair)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    if args.sheet:
        from minivgg.app.sheet import contact_sheet

        rgb, _ = contact_sheet(sheet_rows, row_labels=[r.split(":")[0].rsplit(".", 1)[0] for r in rows],
                               col_labels=["photo", "painting", *args.presets],
                               title=f"presets at {args.size} px")
        save_image(args.sheet, rgb)
        print(f"wrote {args.sheet}")
    del np
    return 0


if __name__ == "__main__":
    sys.exit(main())
