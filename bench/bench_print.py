"""Print sizes: tiled against untiled evaluation, and whole runs under a memory budget.

    python bench/bench_print.py --sizes 512 1024 2048 --tile 512            # evaluations
    python bench/bench_print.py --sizes 512 1024 --untiled 512 1024 --tile 256 512
    python bench/bench_print.py --run 1024:1.5G:3 --run 2048:4G:2          # python -m minivgg.stylize runs

Every measurement runs in a fresh subprocess, so that peaks do not mix, and reports that process's
peak resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``):

* **evaluation** (``--sizes``, ``--untiled``, ``--tile``): the objective (conv4_2 content, the five
  style layers, float32, real weights) on random images of S x 3S/4 px: its targets, then one untimed
  and ``--repeats`` timed evaluations (loss and gradient) -- untiled, or in tiles of T. The *halo
  overhead* is the tiled CPU seconds per evaluation over the untiled at the same size (CPU time:
  on a shared machine the wall time of the same evaluation drifts 3x between minutes); the work it
  should cost (:func:`minivgg.app.estimate.step_flop`) is printed beside it.
* **run** (``--run SIZE:MAX_MEMORY:ITERATIONS[:LEVELS[:OPTIMIZER]]``): ``python -m minivgg.stylize``
  on a 4:3 crop of examples/chelsea.png with ``--max-memory``, the given iterations (and ``--levels``,
  ``--optimizer``; default L-BFGS): its per-level plan lines, the wall time and the peak RSS, against
  the budget.

On a CPU shared with other processes, run it with ``OMP_NUM_THREADS=1``: OpenBLAS's threads then
do not wait for each other's scheduler slices (bench/README.md, "Shared machines").

Timings on a shared machine drift; the load average is printed with each row.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MB = 2**20


def peak_rss() -> int:
    """This process's peak resident memory in bytes (Linux reports ru_maxrss in KB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def shape(size: int) -> tuple:
    """(H, W) of a 4:3 landscape picture with long side ``size``."""
    return (round(size * 3 / 4), size)


# ----------------------------------------------------------------------------------------------
def child_eval(args) -> dict:
    import numpy as np

    from minivgg.app.estimate import step_flop
    from minivgg.machine import tune_process
    from minivgg.machine.memory import resident_bytes
    from minivgg.objective import StyleTransfer
    from minivgg.tiling import tiles
    from minivgg.vgg import VGG19

    tune_process()
    net = VGG19.load(args.weights)
    H, W = shape(args.size)
    rng = np.random.default_rng(0)
    content = (40 * rng.standard_normal((3, H, W))).astype(np.float32)
    style = (40 * rng.standard_normal((3, H, W))).astype(np.float32)
    x = (40 * rng.standard_normal((3, H, W))).astype(np.float32)
    tile = args.tile or None
    t0 = time.perf_counter()
    st = StyleTransfer(net, content, [style], tile=tile)
    targets = time.perf_counter() - t0
    rss_targets = resident_bytes()
    times, cpu = [], []
    for i in range(args.repeats + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        loss, grad = st.loss_and_grad(x)
        if i:
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        del grad
    upto = "conv5_1"
    return {"size": args.size, "hw": [H, W], "tile": tile, "seconds": statistics.median(times),
            "cpu_seconds": statistics.median(cpu),
            "min_seconds": min(times), "targets_seconds": targets, "peak_rss": peak_rss(), "rss_targets": rss_targets,
            "tiles": len(tiles((H, W), tile, (upto,))) if tile else 1, "loss": loss,
            "work": step_flop((H, W), upto, tile) / step_flop((H, W), upto), "load": os.getloadavg()[0]}


def child_run(args) -> dict:
    from minivgg.stylize import main

    t0 = time.perf_counter()
    rc = main(args.argv)
    return {"rc": rc, "seconds": time.perf_counter() - t0, "peak_rss": peak_rss(), "load": os.getloadavg()[0]}


def run_child(argv) -> dict:
    """Run this script as a child with ``argv``; its last stdout line is the JSON result. The
    child's other output is passed through (a run's plan lines)."""
    p = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True)
    lines = p.stdout.strip().splitlines()
    for line in lines[:-1]:
        print("    " + line, flush=True)
    if p.returncode != 0 or not lines:
        print(p.stderr.strip()[-2000:], file=sys.stderr)
        return {"error": (p.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(lines[-1])


def crop_43(path: Path, out: Path) -> Path:
    """A 4:3 centre crop of the picture at ``path``, written to ``out``."""
    from PIL import Image

    img = Image.open(path).convert("RGB")
    w, h = img.size
    cw, ch = (w, w * 3 // 4) if w * 3 // 4 <= h else (h * 4 // 3, h)
    img.crop(((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch)).save(out)
    return out


# ----------------------------------------------------------------------------------------------
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="*", default=[], help="long sides for tiled evaluations")
    p.add_argument("--untiled", type=int, nargs="*", default=None,
                   help="long sides for untiled evaluations (default: the same as --sizes)")
    p.add_argument("--tile", type=int, nargs="*", default=[512], help="tile sizes (multiples of 16)")
    p.add_argument("--repeats", type=int, default=1, help="timed evaluations per measurement (after one untimed)")
    p.add_argument("--run", action="append", default=[], metavar="SIZE:MAX_MEMORY:ITERATIONS[:LEVELS[:OPTIMIZER]]",
                   help="a python -m minivgg.stylize run, e.g. 2048:4G:2 or 2048:4G:20:3:adam (--levels 3, Adam)")
    p.add_argument("--style", default=str(ROOT / "examples" / "the_scream.jpg"))
    p.add_argument("--content", default=str(ROOT / "examples" / "chelsea.png"))
    p.add_argument("--weights", default=None)
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--child", choices=["eval", "run"], help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, help=argparse.SUPPRESS)
    p.add_argument("--child-tile", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("argv", nargs="*", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.child == "eval":
        args.tile = args.child_tile
        print(json.dumps(child_eval(args)))
        return 0
    if args.child == "run":
        print(json.dumps(child_run(args)))
        return 0

    weights = ["--weights", args.weights] if args.weights else []
    untiled = args.sizes if args.untiled is None else args.untiled
    results = {"evaluations": [], "runs": []}
    print(f"# print sizes ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs)\n", flush=True)
    if args.sizes or untiled:
        print("| size | tile | tiles | work | s / eval | CPU s / eval | halo overhead (CPU) | peak RSS | load |")
        print("|---|---|---|---|---|---|---|---|---|")
    for size in sorted(set(args.sizes) | set(untiled)):
        base = None
        for tile in ([0] if size in untiled else []) + (list(args.tile) if size in args.sizes else []):
            if tile and max(shape(size)) <= tile:
                continue
            r = run_child(["--child", "eval", "--size", str(size), "--child-tile", str(tile),
                           "--repeats", str(args.repeats), *weights])
            results["evaluations"].append(r)
            H, W = shape(size)
            if "error" in r:
                print(f"| {W}x{H} | {tile or 'untiled'} | | | failed: {r['error']} | | | | |", flush=True)
                continue
            if not tile:
                base = r["cpu_seconds"]
            over = f"{r['cpu_seconds'] / base:.2f}x" if tile and base else ""
            print(f"| {W}x{H} | {tile or 'untiled'} | {r['tiles']} | {r['work']:.2f}x | {r['seconds']:.1f} | "
                  f"{r['cpu_seconds']:.1f} | {over} | {r['peak_rss'] / MB:.0f} MB | {r['load']:.1f} |", flush=True)

    if args.run:
        with tempfile.TemporaryDirectory() as tmp:
            content = crop_43(Path(args.content), Path(tmp) / "content43.png")
            print("\n| run | levels | optimizer | iterations | wall time | peak RSS | budget | within |")
            print("|---|---|---|---|---|---|---|---|")
            for spec in args.run:
                size, budget, iterations, *more = spec.split(":")
                n_levels = int(more[0]) if more else 1
                optimizer = more[1] if len(more) > 1 else "lbfgs"
                levels = ["--levels", str(n_levels)] if n_levels > 1 else []
                cmd = ["--content", str(content), "--style", args.style, "--output", str(Path(tmp) / "out.png"),
                       "--size", size, "--max-memory", budget, "--iterations", iterations, "--print-every", "1",
                       "--optimizer", optimizer, *levels, *weights]
                print(f"  python -m minivgg.stylize {' '.join(cmd)}", flush=True)
                r = run_child(["--child", "run", "--", *cmd])
                results["runs"].append(dict(r, spec=spec))
                from minivgg.app.cli import memory_size

                limit = memory_size(budget)
                if "error" in r:
                    print(f"| {spec} | | | | failed: {r['error']} | | | |", flush=True)
                    continue
                print(f"| {size} px | {n_levels} | {optimizer} | {iterations} | {r['seconds']:.0f} s | "
                      f"{r['peak_rss'] / 2**30:.2f} GB | {budget} | {'yes' if r['peak_rss'] <= limit else 'NO'} |",
                      flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
