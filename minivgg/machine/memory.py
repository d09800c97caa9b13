"""Will a size fit in memory? Refuse one that cannot before any of it is allocated (:func:`check_fits`).

A step keeps every activation up to the deepest tap for the backward pass, plus work buffers,
gradients and L-BFGS's history, all in proportion to the pixels. Measured peak
resident memory of ``python -m minivgg.stylize`` (3 iterations, float32, default layers) on
Tübingen at 256, 512 and 1024 px: 0.83, 1.51 and 4.10 GB, i.e. about 0.65 GB plus 3.6 times the
activation bytes that :func:`minivgg.machine.cost.layer_costs` counts (60, 240, 960 MB). A size
whose estimate exceeds the memory available now is refused with a one-line error -- otherwise Pillow
would allocate the resized picture and the kernel would kill the process half-way.
"""

from __future__ import annotations

import os

#: Peak memory of a stylisation step ~= STEP_FIXED_BYTES + STEP_ACTIVATION_FACTOR * activation bytes
#: (fitted to the measurements in the module docstring). A forward-only pass (style targets) keeps
#: the activations and a work buffer: FORWARD_ACTIVATION_FACTOR.
STEP_FIXED_BYTES = 650 * 2**20
STEP_ACTIVATION_FACTOR = 3.6
FORWARD_ACTIVATION_FACTOR = 2.0


def available_bytes(device: str = "cpu"):
    """Memory free for new arrays now, None if unknown: Linux's MemAvailable (CPU), or (GPU) the
    device's free memory plus the blocks CuPy's memory pool holds free -- freed arrays stay in the
    pool for reuse, so the driver counts them as used, yet new arrays get them first."""
    if device == "gpu":
        try:
            import cupy

            return int(cupy.cuda.runtime.memGetInfo()[0]) + int(cupy.get_default_memory_pool().free_bytes())
        except Exception:                                   # no CuPy or no GPU: get_backend says so later
            return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def resident_bytes() -> int:
    """This process's resident memory now (Linux ``/proc/self/statm``); 0 if unknown."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return 0


def step_bytes(hw, upto: str, itemsize: int = 4, backward: bool = True) -> int:
    """Estimated peak memory of one pass through VGG19 up to ``upto`` at ``hw = (H, W)``, in bytes:
    forward and backward (a step) or, with ``backward=False``, forward only (a style target)."""
    from .cost import layer_costs

    act = sum(r.act_bytes for r in layer_costs(tuple(hw), upto, itemsize=itemsize))
    return int(STEP_FIXED_BYTES + (STEP_ACTIVATION_FACTOR if backward else FORWARD_ACTIVATION_FACTOR) * act)


def _gb(n: float) -> str:
    return f"{n / 2**30:.1f} GB" if n < 2**40 else f"{n / 2**40:.1f} TB"


def check_fits(passes, upto: str, device: str = "cpu", itemsize: int = 4, available=None) -> int:
    """UsageError if a pass would need more memory than is available; else the largest pass's estimate in bytes.

    passes: ``[(what, (H, W), backward)]``, e.g. ``("the output", (384, 512), True)``.
    available: bytes (default :func:`available_bytes`; when that is unknown nothing is checked).
    The estimate's fixed part (interpreter, libraries, weights) is partly resident already, and
    then no longer counted in the available memory: on the CPU, measured, the resident part is
    taken off it, so that small runs on a small machine are not refused.
    """
    from ..errors import UsageError

    measured = available is None
    free = available_bytes(device) if measured else available
    peak = max(step_bytes(hw, upto, itemsize, backward) for _, hw, backward in passes)
    if free is None:
        return peak
    already = min(resident_bytes(), STEP_FIXED_BYTES) if measured and device != "gpu" else 0
    for what, hw, backward in passes:
        need = step_bytes(hw, upto, itemsize, backward)
        if need - already > free:
            # Memory grows with the pixels: the largest scale factor on both sides that fits.
            room = (free + already - STEP_FIXED_BYTES) / (need - STEP_FIXED_BYTES)
            hint = (f"a long side of about {max(1, int(max(hw) * room ** 0.5))} px would fit"
                    if room > 0 else "close other programs")
            raise UsageError(f"{what} at {hw[1]}x{hw[0]} px needs about {_gb(need)} of "
                             f"{'GPU ' if device == 'gpu' else ''}memory, but {_gb(free)} is available: {hint}")
    return peak
