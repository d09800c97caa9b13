"""Benchmark of the VGG19 unit of work: forward + input-gradient backward up to conv5_1 (avg pooling).

    python bench/bench_vgg.py [--sizes 256 512] [--device cpu|gpu] [--algo im2col winograd]
    python bench/bench_vgg.py --compare-naive [--naive-sizes 32]

Prints, in one run:
  1. the GEMM peak measured right now (``a @ b``, 2048 x 2048 float32), the yardstick for the rest;
  2. per conv layer and algorithm: forward and backward (dx) time, GFLOP/s, fraction of that peak;
  3. the whole unit per size and algorithm: seconds per step (median), effective GFLOP/s with the
     direct-conv FLOP count (so Winograd, which does fewer multiplies, can show > 100 % of peak),
     and the peak resident memory -- each measured in a fresh subprocess so peaks do not mix;
  4. one L-BFGS stylisation step end to end (losses included) at each size.

FLOP counts come from :mod:`minivgg.machine.cost` (the same numbers as ``python -m minivgg.vgg summary``).
Timings on a shared machine are noisy: every figure is a median, and the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minivgg.backend import get_backend, to_numpy  # noqa: E402
from minivgg.machine.cost import UNIT_UPTO, layer_costs, unit_flop  # noqa: E402

WEIGHTS = ROOT / "weights" / "vgg19.npz"


# ----------------------------------------------------------------------------------------------
def _sync(xp):
    if xp.__name__ == "cupy":
        xp.cuda.Device().synchronize()


def timeit(f, xp, repeats: int, warmup: int = 1) -> float:
    """Median seconds of ``f()`` over ``repeats`` runs after ``warmup`` untimed ones."""
    for _ in range(warmup):
        f()
    _sync(xp)
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        _sync(xp)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def gemm_peak(xp, n: int = 2048, repeats: int = 7) -> float:
    """GFLOP/s of one ``a @ b`` on n x n float32 matrices (median)."""
    rng = np.random.default_rng(0)
    a = xp.asarray(rng.standard_normal((n, n)), dtype=np.float32)
    b = xp.asarray(rng.standard_normal((n, n)), dtype=np.float32)
    out = xp.empty((n, n), dtype=np.float32)
    t = timeit(lambda: xp.matmul(a, b, out=out), xp, repeats, warmup=2)
    return 2.0 * n ** 3 / t / 1e9


def load_params(random: bool = False):
    """(params, where from): the real weights if present, else random ones of the real shapes."""
    from minivgg.architecture import VGG19_CHANNELS, random_params

    if WEIGHTS.exists() and not random:
        from minivgg.weights import load_weights

        params, _ = load_weights(WEIGHTS, dtype="float32")
        return params, f"weights: {WEIGHTS.relative_to(ROOT)}"
    params = {name: (W.astype(np.float32), b.astype(np.float32))
              for name, (W, b) in random_params(VGG19_CHANNELS).items()}
    return params, "weights: random, real VGG19 shapes (weights/vgg19.npz absent; speed is the same)"


def peak_memory_mb(xp) -> float:
    """Peak resident memory of this process in MB (GPU: bytes held by CuPy's memory pool)."""
    if xp.__name__ == "cupy":
        return xp.get_default_memory_pool().total_bytes() / 2 ** 20
    import resource

    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 2 ** 20


# ----------------------------------------------------------------------------------------------
# children: each unit / L-BFGS measurement runs in a fresh process, so its peak memory is its own
# ----------------------------------------------------------------------------------------------

def child_unit(args) -> dict:
    from minivgg.vgg import VGG19

    params, _ = load_params(args.random_weights)
    net = VGG19(params, pooling="avg", device=args.device, dtype="float32", conv_algo=args.algo)
    xp = net.xp
    rng = np.random.default_rng(1)
    x = xp.asarray(rng.uniform(-120, 120, (3, args.size, args.size)), dtype=np.float32)
    g5 = None

    def step():
        nonlocal g5
        taps = net.forward(x, [UNIT_UPTO])
        if g5 is None:
            g5 = xp.asarray(rng.standard_normal(taps[UNIT_UPTO].shape), dtype=np.float32)
        return net.backward({UNIT_UPTO: g5})

    t = timeit(step, xp, args.repeats)
    dx = step()
    return {"seconds": t, "peak_mb": peak_memory_mb(xp), "dtype": str(dx.dtype)}


def child_lbfgs(args) -> dict:
    from minivgg.objective import StyleTransfer
    from minivgg.vgg import VGG19
    params, _ = load_params(args.random_weights)
    net = VGG19(params, pooling="avg", device=args.device, dtype="float32", conv_algo=args.algo)
    xp = net.xp
    rng = np.random.default_rng(2)
    content = xp.asarray(rng.uniform(-120, 120, (3, args.size, args.size)), dtype=np.float32)
    style = xp.asarray(rng.uniform(-120, 120, (3, args.size, args.size)), dtype=np.float32)
    x0 = xp.asarray(rng.uniform(-20, 20, (3, args.size, args.size)), dtype=np.float32)
    t0 = time.perf_counter()
    st = StyleTransfer(net, content, [style])
    setup = time.perf_counter() - t0
    evals = [0]
    inner = st.loss_and_grad

    def counted(x):
        evals[0] += 1
        return inner(x)

    st.loss_and_grad = counted
    t0 = time.perf_counter()
    st.run(x0, iterations=1, optimizer="lbfgs")
    _sync(xp)
    return {"seconds": time.perf_counter() - t0, "evals": evals[0], "setup": setup,
            "what": "StyleTransfer.run(iterations=1, L-BFGS), Gatys losses, conv4_2 + conv1_1..conv5_1"}


def run_child(kind: str, size: int, algo: str, args) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--size", str(size), "--algo", algo,
           "--device", args.device, "--repeats", str(args.repeats)]
    if args.random_weights:
        cmd.append("--random-weights")
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------------
def per_layer(size: int, algos, peak: float, xp, params, repeats: int):
    """Forward and dx time of each conv layer up to conv5_1, on random inputs of that layer's shape."""
    from minivgg.fast import make_conv

    rng = np.random.default_rng(3)
    rows = [r for r in layer_costs(size, UNIT_UPTO) if r.kind == "conv"]
    print(f"\n## per layer at {size}x{size} (conv only; GFLOP/s of the direct-conv count; % of the GEMM peak)")
    head = f"{'layer':8} {'C->O':>9} {'HxW':>9} {'GFLOP':>6}"
    for a in algos:
        head += f" | {a + ' fwd ms':>15} {'GF/s':>5} {'%':>4} {'dx ms':>7} {'GF/s':>5} {'%':>4}"
    print(head)
    totals = {a: [0.0, 0.0] for a in algos}
    seen = {}
    for r in rows:
        W, b = (xp.asarray(v, dtype=np.float32) for v in params[r.name])
        C, (O, H, Wd) = r.in_channels, r.out_shape
        line = f"{r.name:8} {f'{C}->{O}':>9} {f'{H}x{Wd}':>9} {r.gflop_forward:6.2f}"
        key = (C, O, H, Wd)
        for a in algos:
            if (key, a) in seen:
                tf, tb = seen[key, a]              # same shape as an earlier layer: same speed
            else:
                x = xp.asarray(rng.standard_normal((C, H, Wd)), dtype=np.float32)
                layer = make_conv(W, b, 1, a)           # as the network holds it: layouts made once
                out, cache = layer.forward(x)
                d = xp.asarray(rng.standard_normal(out.shape), dtype=np.float32)
                tf = timeit(lambda layer=layer, x=x: layer.forward(x), xp, repeats)
                tb = timeit(lambda layer=layer, d=d, cache=cache: layer.backward_dx(d, cache), xp, repeats)
                seen[key, a] = (tf, tb)
            totals[a][0] += tf
            totals[a][1] += tb
            gf, gb = r.gflop_forward / tf, r.gflop_dx / tb
            line += (f" | {tf * 1e3:15.1f} {gf:5.0f} {100 * gf / peak:4.0f} {tb * 1e3:7.1f} {gb:5.0f}"
                     f" {100 * gb / peak:4.0f}")
        print(line)
    fl = unit_flop(size) / 2e9
    line = f"{'sum':8} {'':>9} {'':>9} {fl:6.2f}"
    for a in algos:
        tf, tb = totals[a]
        line += (f" | {tf * 1e3:15.1f} {fl / tf:5.0f} {100 * fl / tf / peak:4.0f} {tb * 1e3:7.1f} "
                 f"{fl / tb:5.0f} {100 * fl / tb / peak:4.0f}")
    print(line)


def compare_naive(args, xp, params):
    """The unit at small sizes: naive loops vs the fast paths, time and agreement of dx."""
    from minivgg.vgg import VGG19

    print("\n## naive loops vs fast paths: the unit (forward + dx to conv5_1)")
    for size in args.naive_sizes:
        rng = np.random.default_rng(4)
        x = rng.uniform(-120, 120, (3, size, size)).astype(np.float32)
        ref = None
        for algo in ["naive"] + list(args.algo):
            net = VGG19(params, device=args.device, dtype="float32", conv_algo=algo)
            xd = net.backend.asarray(x)
            taps = net.forward(xd, [UNIT_UPTO])
            g5 = net.backend.asarray(np.random.default_rng(5).standard_normal(taps[UNIT_UPTO].shape))
            if algo != "naive":
                net.backward({UNIT_UPTO: g5})          # warm-up: weight transforms are made once
            t0 = time.perf_counter()
            tap = to_numpy(net.forward(xd, [UNIT_UPTO])[UNIT_UPTO])
            dx = to_numpy(net.backward({UNIT_UPTO: g5}))
            _sync(net.xp)
            t = time.perf_counter() - t0
            if ref is None:
                ref, reftap, tref = dx, tap, t
                print(f"{size}x{size} {algo:10} {t:8.3f} s")
            else:
                ef = float(np.abs(tap - reftap).max() / np.abs(reftap).max())
                err = float(np.abs(dx - ref).max() / np.abs(ref).max())
                print(f"{size}x{size} {algo:10} {t:8.3f} s  {tref / t:6.0f}x faster than naive; max rel. difference "
                      f"from naive: {UNIT_UPTO} {ef:.1e}, dx {err:.1e}")
    print("(the rel. differences are max |a - b| / max |b| in float32; a dx difference of ~1e-2 means a ReLU\n"
          " pre-activation within rounding of 0 changed sign between the two computations: a kink, not an error)")


def main(argv=None) -> int:
    from minivgg.fast import CONV_ALGOS, DEFAULT_ALGO

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    p.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    p.add_argument("--algo", nargs="+", default=None, choices=CONV_ALGOS,
                   help="conv algorithms for the unit table (default: im2col, direct, winograd and the "
                        f"default, {DEFAULT_ALGO})")
    p.add_argument("--layer-algo", nargs="+", default=None, choices=CONV_ALGOS,
                   help=f"conv algorithms for the per-layer table (default: direct and {DEFAULT_ALGO})")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per measurement (median)")
    p.add_argument("--no-layers", action="store_true", help="skip the per-layer table")
    p.add_argument("--no-lbfgs", action="store_true", help="skip the L-BFGS step")
    p.add_argument("--compare-naive", action="store_true", help="only: naive loops vs fast paths, small sizes")
    p.add_argument("--naive-sizes", type=int, nargs="+", default=[32])
    p.add_argument("--random-weights", action="store_true", help="random weights even if the real ones exist")
    p.add_argument("--peak-n", type=int, default=2048, metavar="N",
                   help="matrix size of the GEMM-peak yardstick (default 2048; smaller for a quick run)")
    p.add_argument("--child", choices=["unit", "lbfgs"], help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    from minivgg.machine import tune_process

    tune_process()               # the settings a stylisation run makes (every child process too)

    if args.child:
        args.algo = args.algo[0] if args.algo else DEFAULT_ALGO
        res = (child_unit if args.child == "unit" else child_lbfgs)(args)
        print(json.dumps(res))
        return 0

    args.algo = args.algo or list(dict.fromkeys(["im2col", "direct", "winograd", DEFAULT_ALGO]))
    args.layer_algo = args.layer_algo or list(dict.fromkeys(["direct", DEFAULT_ALGO]))
    t_start = time.perf_counter()
    backend = get_backend(args.device, "float32")
    xp = backend.xp
    params, source = load_params(args.random_weights)
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    print(f"# minivgg benchmark  {time.strftime('%Y-%m-%d %H:%M')}  device={args.device}  "
          f"numpy {np.__version__}  cpus={os.cpu_count()}  load avg {load[0]:.2f}")
    print(f"# {source}")
    peak = gemm_peak(xp, args.peak_n)
    print(f"GEMM peak (a @ b, {args.peak_n}x{args.peak_n} float32, median of 7): {peak:.0f} GFLOP/s")

    if args.compare_naive:
        compare_naive(args, xp, params)
        return 0

    if not args.no_layers:
        for size in args.sizes:
            per_layer(size, args.layer_algo, peak, xp, params, max(2, args.repeats // 2))

    print(f"\n## the unit: forward + dx to {UNIT_UPTO}, avg pooling, float32, median of {args.repeats} "
          f"(fresh process each; peak RSS includes the weights and Python)")
    print(f"{'size':>5} {'algo':10} {'GFLOP':>6} {'s/step':>7} {'eff GF/s':>8} {'% peak':>6} {'peak MB':>8}")
    for size in args.sizes:
        fl = unit_flop(size) / 1e9
        for algo in args.algo:
            r = run_child("unit", size, algo, args)
            if "error" in r:
                print(f"{size:5d} {algo:10} failed: {r['error']}")
                continue
            eff = fl / r["seconds"]
            print(f"{size:5d} {algo:10} {fl:6.1f} {r['seconds']:7.3f} {eff:8.0f} {100 * eff / peak:6.0f} "
                  f"{r['peak_mb']:8.0f}" + ("" if r["dtype"] == "float32" else f"  dx dtype {r['dtype']}!"))
    if not args.no_lbfgs:
        print(f"\n## one L-BFGS iteration end to end ({DEFAULT_ALGO}; random content/style images)")
        for size in args.sizes:
            r = run_child("lbfgs", size, DEFAULT_ALGO, args)
            if "error" in r:
                print(f"{size:5d} failed: {r['error']}")
                continue
            print(f"{size:5d}  {r['seconds']:.2f} s for 1 iteration = {r['evals']} loss+gradient evaluations "
                  f"({r['seconds'] / max(r['evals'], 1):.2f} s each); targets set up in {r['setup']:.2f} s  "
                  f"[{r['what']}]")
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),)
    print(f"\n# GEMM peak again at the end: {gemm_peak(xp, args.peak_n):.0f} GFLOP/s; load avg {load[0]:.2f}; "
          f"whole run {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    from minivgg.app.cli import run_main

    sys.exit(run_main(main, prog="bench/bench_vgg.py"))
