"""The Python steps of bench/gpu_check.sh.

    python bench/gpu_check.py compare --weights W.npz --size 512 [--repeats 5]   # device vs CPU, one evaluation
    python bench/gpu_check.py timing RUN.jsonl                                 # per-iteration seconds of a --log

``compare`` builds the same objective (examples/chelsea.png x examples/the_scream.jpg, default layers,
noise start) on the CPU and with ``--device gpu``, and prints one JSON line: the loss parts on each,
their relative differences, the gradient's (max |gpu - cpu| / max |cpu|), the median seconds of one
evaluation on each, and on the CuPy stand-in the traffic of one evaluation. ``timing`` reads a
``python -m minivgg.stylize --log`` file and prints the per-iteration seconds: the first iteration
(which includes the setup: targets, first evaluations) apart, then the median, mean and slowest of the
rest, and the total.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _median_seconds(f, repeats: int, sync) -> float:
    f()
    sync()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        sync()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def compare(args) -> dict:
    import numpy as np

    from minivgg.app.pictures import load_image, long_side_shape, resize_image
    from minivgg.app.pipeline import initial_image
    from minivgg.backend import to_numpy
    from minivgg.image import preprocess
    from minivgg.objective import StyleTransfer
    from minivgg.vgg import VGG19

    content_rgb = load_image(ROOT / "examples" / "chelsea.png")
    style_rgb = load_image(ROOT / "examples" / "the_scream.jpg")
    hw = long_side_shape(*content_rgb.shape[:2], args.size)
    content = resize_image(content_rgb, shape=hw)
    style = resize_image(style_rgb, size=args.size)
    result = {"size": list(hw)}
    grads = {}
    for device in ("cpu", "gpu"):
        net = VGG19.load(args.weights, device=device)
        xp = net.xp
        st = StyleTransfer(net, preprocess(content, backend=net.backend), [preprocess(style, backend=net.backend)])
        x = initial_image("noise", preprocess(content), seed=0, backend=net.backend)
        loss, grad = st.loss_and_grad(x)
        grads[device] = to_numpy(grad).astype(np.float64)
        result[device] = dict(st.last_losses)

        def sync(xp=xp):
            if xp.__name__ == "cupy":
                xp.cuda.Device().synchronize()

        result[f"{device}_seconds_per_evaluation"] = round(
            _median_seconds(lambda st=st, x=x: st.loss_and_grad(x), args.repeats, sync), 5)
        if getattr(xp, "is_standin", False):
            with xp.counting() as t:
                st.loss_and_grad(x)
            result["standin_traffic_per_evaluation"] = {k: getattr(t, k) for k in ("syncs", "h2d", "d2h", "ops",
                                                                                      "hidden_copies")}
    result["relative_difference"] = {k: abs(result["gpu"][k] - result["cpu"][k]) / max(abs(result["cpu"][k]), 1e-300)
                                     for k in result["cpu"]}
    result["gradient_relative_difference"] = float(np.abs(grads["gpu"] - grads["cpu"]).max()
                                                   / np.abs(grads["cpu"]).max())
    return result


def timing(args) -> dict:
    rows = [json.loads(line) for line in Path(args.log).read_text().splitlines()]
    config = rows[0].get("config", {})
    rows = [r for r in rows if "iter" in r]
    if not rows:
        return {"error": f"{args.log} has no iterations"}
    seconds = [rows[0]["seconds"]] + [b["seconds"] - a["seconds"] for a, b in zip(rows[:-1], rows[1:], strict=True)]
    rest = seconds[1:] or [0.0]
    return {"iterations": len(rows), "optimizer": config.get("optimizer"), "device": config.get("device"),
            "size": config.get("size"), "total_seconds": round(rows[-1]["seconds"], 3),
            "first_iteration_seconds": round(seconds[0], 4),
            "later_iterations": {"median": round(statistics.median(rest), 5), "mean": round(statistics.mean(rest), 5),
                                 "max": round(max(rest), 5), "sum": round(sum(rest), 3)},
            "final_loss": rows[-1]["loss"], "per_iteration_seconds": [round(s, 5) for s in seconds]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compare", help="one evaluation on the device and on the CPU")
    c.add_argument("--weights", required=True)
    c.add_argument("--size", type=int, default=512)
    c.add_argument("--repeats", type=int, default=5)
    t = sub.add_parser("timing", help="per-iteration seconds of a stylize --log")
    t.add_argument("log")
    args = p.parse_args(argv)
    print(json.dumps(compare(args) if args.command == "compare" else timing(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
