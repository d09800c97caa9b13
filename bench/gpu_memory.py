"""``python -m minivgg.stylize`` with CuPy's memory pool watched (bench/gpu_check.sh's print step).

    python bench/gpu_memory.py --device gpu --max-memory 8G ... (any stylize arguments)

Runs the command in this process, then prints one JSON line: the exit code, the pool's peak bytes in
use and held (a CuPy memory hook sees every allocation), the pool's limit (``--max-memory`` less
``DEVICE_CONTEXT_BYTES``), and the device memory used outside the pool at the end (CUDA's context,
cuBLAS; exact only on a GPU no other process uses). On the CuPy stand-in, which has no hooks, the
peaks are null.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv) -> int:
    import cupy

    from minivgg.app.cli import run_main
    from minivgg.stylize import PROG
    from minivgg.stylize import main as stylize_main

    pool = cupy.get_default_memory_pool()
    peak = {"used": None, "held": None}
    hook = None
    try:
        from cupy.cuda import memory_hook

        class Peak(memory_hook.MemoryHook):
            name = "peak"

            def malloc_postprocess(self, **kwargs):
                peak["used"] = max(peak["used"] or 0, pool.used_bytes())
                peak["held"] = max(peak["held"] or 0, pool.total_bytes())

        hook = Peak()
    except (ImportError, AttributeError):
        pass                                               # the stand-in: no hooks
    if hook is not None:
        with hook:
            rc = run_main(stylize_main, argv, prog=PROG)
    else:
        rc = run_main(stylize_main, argv, prog=PROG)
    result = {"exit": rc, "pool_peak_used_bytes": peak["used"], "pool_peak_held_bytes": peak["held"],
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
