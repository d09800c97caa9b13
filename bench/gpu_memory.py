"""``python -m minivgg.stylize`` with CuPy's memory pool watched (bench/gpu_check.sh's print step).

    python bench/gpu_memory.py --device gpu --max-memory 8G ... (any stylize arguments)
    python bench/gpu_memory.py eval W.npz 1024:0 2048:1024 ...        # SIZE:TILE evaluations (0: untiled)

Runs the command in this process, then prints one JSON line: the exit code, the pool's peak bytes in
use and held (a CuPy memory hook sees every allocation), the pool's limit (``--max-memory`` less
``DEVICE_CONTEXT_BYTES``), and the device memory used outside the pool at the end (CUDA's context,
cuBLAS; exact only on a GPU no other process uses). On the CuPy stand-in, which has no hooks, the
peaks are null.

``eval``: for each SIZE:TILE, the default objective on random 4:3 images (its targets, then two
evaluations), one JSON line each: the pool's peak bytes in use against the memory model's estimate
(:func:`minivgg.machine.memory.tiled_bytes` with no optimiser, less the fixed ``STEP_FIXED_BYTES``
that a process holds outside the pool), and the seconds of the second evaluation.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class PoolPeak:
    """The pool's peak bytes in use and held since :meth:`reset`, seen by a CuPy memory hook."""

    def __init__(self, cupy):
        import contextlib

        pool = cupy.get_default_memory_pool()
        self.hook, self.pool, self.watching = contextlib.nullcontext(), pool, False
        self.reset()
        try:
            from cupy.cuda import memory_hook
        except (ImportError, AttributeError):
            return                                         # the stand-in: no hooks, peaks stay 0
        watcher = self
        self.watching = True

        class Hook(memory_hook.MemoryHook):
            name = "pool_peak"

            def malloc_postprocess(self, **kwargs):
                watcher.used = max(watcher.used, pool.used_bytes())
                watcher.held = max(watcher.held, pool.total_bytes())

        self.hook = Hook()

    def reset(self):
        self.pool.free_all_blocks()
        self.used = self.held = 0


def evaluations(argv) -> int:
    import time

    import cupy
    import numpy as np

    from minivgg.machine.memory import STEP_FIXED_BYTES, tiled_bytes
    from minivgg.objective import StyleTransfer
    from minivgg.vgg import VGG19

    net = VGG19.load(argv[0], device="gpu")
    peak = PoolPeak(cupy)
    with peak.hook:
        for spec in argv[1:]:
            size, tile = (int(v) for v in spec.split(":"))
            hw = (round(size * 3 / 4), size)
            rng = np.random.default_rng(0)
            content, style, x = (cupy.asarray((40 * rng.standard_normal((3, *hw))).astype(np.float32))
                                 for _ in range(3))
            peak.reset()
            st = StyleTransfer(net, content, [style], tile=tile or None)
            st.loss_and_grad(x)
            cupy.cuda.Device().synchronize()
            t0 = time.perf_counter()
            st.loss_and_grad(x)
            cupy.cuda.Device().synchronize()
            seconds = time.perf_counter() - t0
            model = tiled_bytes(hw, "conv5_1", tile or None, device="gpu", optimizer=None,
                                content_layers=("conv4_2",)) - STEP_FIXED_BYTES
            print(json.dumps({"size": size, "hw": list(hw), "tile": tile, "pool_peak_used_bytes": peak.used,
                              "pool_peak_held_bytes": peak.held, "model_bytes_in_pool": model,
                              "used_over_model": round(peak.used / max(model, 1), 3), "seconds": round(seconds, 4)}),
                  flush=True)
            del st, content, style, x
    return 0


def main(argv) -> int:
    if argv[:1] == ["eval"]:
        return evaluations(argv[1:])
    import cupy

    from minivgg.app.cli import run_main
    from minivgg.stylize import PROG
    from minivgg.stylize import main as stylize_main

    peak = PoolPeak(cupy)
    pool = peak.pool
    with peak.hook:
        rc = run_main(stylize_main, argv, prog=PROG)
    result = {"exit": rc, "pool_peak_used_bytes": peak.used if peak.watching else None,
              "pool_peak_held_bytes": peak.held if peak.watching else None,
              "pool_limit_bytes": int(pool.get_limit()) if hasattr(pool, "get_limit") else None}
    try:
        free, total = cupy.cuda.runtime.memGetInfo()
        result["outside_pool_bytes"] = int(total - free - pool.total_bytes())
    except Exception:
        result["outside_pool_bytes"] = None
    print(json.dumps(result), flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
