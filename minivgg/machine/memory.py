"""Will a size fit in memory? Refuse one that cannot before any of it is allocated (:func:`check_fits`),
or pick the largest tile that fits (:func:`choose_tile`).

A step keeps every activation up to the deepest tap for the backward pass, plus work buffers,
gradients and L-BFGS's history, all in proportion to the pixels. Measured peak
resident memory of ``python -m minivgg.stylize`` (3 iterations, float32, default layers) on
Tübingen at 256, 512 and 1024 px: 0.83, 1.51 and 4.10 GB, i.e. about 0.65 GB plus 3.6 times the
activation bytes that :func:`minivgg.machine.cost.layer_costs` counts (60, 240, 960 MB). A size
whose estimate exceeds the memory available now is refused with a one-line error -- otherwise Pillow
would allocate the resized picture and the kernel would kill the process half-way.

**Tiled** (:mod:`minivgg.tiling`): a run holds one tile's activations at a time, but still every
array of the whole image's size, so :func:`tiled_bytes` counts both sides: the tile's window (its
interior and halo) at ``TILE_ACTIVATION_FACTOR`` times its activations, and at full size the
optimiser's state (SciPy's L-BFGS-B: ``LBFGS_FLOATS_PER_ELEMENT`` float64 numbers per element),
``IMAGE_ARRAYS`` whole images in the working dtype, the content targets and the layer masks. With
``--device gpu`` the budget is the GPU's memory, and SciPy's vectors live on the host: they are not
counted there.

**On a GPU** the same terms have other sizes (``GPU_ACTIVATION_FACTOR``, measured on an H200): what
CuPy's memory pool holds in use, plus CUDA's own context outside it (``DEVICE_CONTEXT_BYTES``), and
``--max-memory`` is enforced, not only planned for: :func:`limit_device_memory` caps the pool.
"""

from __future__ import annotations

import os

#: Peak memory of a stylisation step ~= STEP_FIXED_BYTES + STEP_ACTIVATION_FACTOR * activation bytes
#: (fitted to the measurements in the module docstring). A forward-only pass (style targets) keeps
#: the activations and a work buffer: FORWARD_ACTIVATION_FACTOR.
STEP_FIXED_BYTES = 650 * 2**20
STEP_ACTIVATION_FACTOR = 3.6
FORWARD_ACTIVATION_FACTOR = 2.0
#: SciPy's L-BFGS-B (m = 10 corrections) holds about this many float64 numbers per element of the
#: image, on the host: its workspace of 2m + 5 vectors, the bounds, the integer work arrays, and the
#: copies of x and the gradient kept by its wrapper. Measured (SciPy 1.17): 36 alone (2.4 million
#: elements, 15 iterations), 42 in a tiled 12-iteration run at 1024 x 768 over its evaluations' own
#: peak: 1 KB per pixel, 3.0 GB at 2048 x 1536.
LBFGS_FLOATS_PER_ELEMENT = 42
#: Arrays of the image's size, in the working dtype and on the device, that the other optimisers
#: keep: Adam m, v, the step and the new image; the array-module L-BFGS (``lbfgs-xp``) its m = 10
#: pairs (s, y), x, g, the direction and the line search's point and gradient.
OPTIMIZER_ARRAYS = {"adam": 4, "lbfgs-xp": 2 * 10 + 5}
#: Whole-image arrays in the working dtype a tiled run holds besides the optimiser's: the image, its
#: gradient, the content photo and style images at the output's size, TV's differences and gradient,
#: the float64 copies handed to SciPy (two each). Fitted with the two below to tiled evaluations at
#: 512 x 384 and 1024 x 768 (bench/bench_print.py, 2026-11-29): 194 bytes per pixel with the content
#: target, a fixed 664 MB, and 2.26 times the window's activations; rounded up.
IMAGE_ARRAYS = 14
#: A tile's step peaks at this many times the activations of its window (the tape, the tap
#: gradients, the backward's work buffers); fitted 2.26, see IMAGE_ARRAYS.
TILE_ACTIVATION_FACTOR = 2.5
#: On a GPU (CuPy), measured on an H200 (``bench/gpu_memory.py eval``, 2026-11-30; the pool's peak in
#: use against the activations): 3.1 times the activations untiled and 2.6-4.0 times a tile window's,
#: plus one layer's work buffer (im2col's columns and output, 640 floats a pixel at conv1_2, in chunks
#: of at most ``minivgg.fast.direct.GPU_CHUNK_FLOATS``), plus the whole-image arrays. The pool cannot
#: always give a freed block to a request of another size, so the plan keeps ``GPU_POOL_SLACK`` over
#: that; outside the pool, ``DEVICE_CONTEXT_BYTES``.
GPU_ACTIVATION_FACTOR = 4.0
GPU_WORK_FLOATS_PER_PIXEL = 640
GPU_POOL_SLACK = 1.15


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


def step_bytes(hw, upto: str, itemsize: int = 4, backward: bool = True, device: str = "cpu") -> int:
    """Estimated peak memory of one pass through VGG19 up to ``upto`` at ``hw = (H, W)``, in bytes:
    forward and backward (a step) or, with ``backward=False``, forward only (a style target)."""
    act = activation_bytes(hw, upto, itemsize)
    if device == "gpu":
        return gpu_bytes(hw, act, itemsize, backward)
    return int(STEP_FIXED_BYTES + (STEP_ACTIVATION_FACTOR if backward else FORWARD_ACTIVATION_FACTOR) * act)


def gpu_bytes(window_hw, act: int, itemsize: int, backward: bool, whole: int = 0) -> int:
    """A pass's device memory on a GPU: a window of ``window_hw`` px whose activations are ``act``
    bytes, and ``whole`` bytes of whole-image arrays (see ``GPU_ACTIVATION_FACTOR``)."""
    from ..fast.direct import GPU_CHUNK_FLOATS

    H, W = (int(v) for v in window_hw)
    work = min(GPU_CHUNK_FLOATS, GPU_WORK_FLOATS_PER_PIXEL * H * W) * itemsize
    factor = GPU_ACTIVATION_FACTOR if backward else FORWARD_ACTIVATION_FACTOR
    return int(DEVICE_CONTEXT_BYTES + GPU_POOL_SLACK * (work + factor * act + whole))


def activation_bytes(hw, upto: str, itemsize: int = 4) -> int:
    """Bytes of VGG19's activations (every conv and pooling output) to ``upto`` at ``hw = (H, W)``."""
    from .cost import layer_costs

    return sum(r.act_bytes for r in layer_costs(tuple(int(v) for v in hw), upto, itemsize=itemsize))


def whole_image_bytes(hw, itemsize: int = 4, device: str = "cpu", optimizer: str | None = "lbfgs",
                      content_layers=(), n_masks: int = 0) -> int:
    """What a tiled run holds at the whole image's size ``hw``: the optimiser's state (none for a
    forward pass, ``optimizer=None``; SciPy's L-BFGS-B lives on the host, so not on ``device="gpu"``),
    ``IMAGE_ARRAYS`` images, the content targets at ``content_layers`` and ``n_masks`` region masks
    at every layer (a third more than the mask itself)."""
    from .cost import layer_costs

    H, W = (int(v) for v in hw)
    n = 3 * H * W
    total = IMAGE_ARRAYS * n * itemsize if optimizer is not None else 2 * n * itemsize
    if optimizer == "lbfgs":
        total += LBFGS_FLOATS_PER_ELEMENT * n * 8 if device != "gpu" else 0
    elif optimizer is not None:
        total += OPTIMIZER_ARRAYS.get(optimizer, OPTIMIZER_ARRAYS["lbfgs-xp"]) * n * itemsize
    for name in content_layers:
        total += layer_costs((H, W), name, itemsize=itemsize)[-1].act_bytes
    total += int(n_masks * H * W * itemsize * 4 / 3)
    return total


def tiled_bytes(hw, upto: str, tile: int | None, itemsize: int = 4, backward: bool = True, device: str = "cpu",
                optimizer: str | None = "lbfgs", content_layers=(), n_masks: int = 0) -> int:
    """Estimated peak memory of a run at ``hw`` evaluated in tiles of ``tile`` px (:mod:`minivgg.tiling`)
    down to ``upto``: one tile's window and the whole-image arrays (:func:`whole_image_bytes`;
    ``backward=False``: a forward pass for a target, no optimiser). An image that fits in one tile
    (or ``tile=None``) is one untiled pass: :func:`step_bytes`."""
    from ..tiling import largest_window, needs_tiles

    if not needs_tiles(hw, tile, (upto,)):
        return step_bytes(hw, upto, itemsize, backward, device)
    window = largest_window(hw, tile, (upto,))
    factor = TILE_ACTIVATION_FACTOR if backward else FORWARD_ACTIVATION_FACTOR
    whole = whole_image_bytes(hw, itemsize, device, optimizer if backward else None,
                              content_layers if backward else (), n_masks if backward else 0)
    if device == "gpu":
        return gpu_bytes(window, activation_bytes(window, upto, itemsize), itemsize, backward, whole)
    return int(STEP_FIXED_BYTES + factor * activation_bytes(window, upto, itemsize) + whole)


def memory_budget(max_memory=None, device: str = "cpu") -> tuple:
    """``(budget, already)``: the bytes a run may use and how much of an estimate is resident already.

    ``max_memory`` if given (the whole peak must fit: already = 0), else what is free now
    (:func:`available_bytes`; None if unknown), with the part of the fixed cost this process already
    holds on the CPU: it is in every estimate but no longer free (as in :func:`check_fits`)."""
    if max_memory is not None:
        return int(max_memory), 0
    free = available_bytes(device)
    if free is None:
        return None, 0
    return free, (min(resident_bytes(), STEP_FIXED_BYTES) if device != "gpu" else 0)


def choose_tile(passes, upto: str, budget, tile: int | None = None, itemsize: int = 4, device: str = "cpu",
                optimizer: str = "lbfgs", content_layers=(), n_masks: int = 0, budget_name: str = "is available",
                already: int = 0):
    """``(tile, peak bytes)`` for a level whose passes are ``[(what, (H, W), backward)]`` (the output's
    steps, each style's target pass) under ``budget`` bytes (None: unknown, nothing is checked), of
    which ``already`` are held already (:func:`memory_budget`).

    ``tile`` None: untiled if every pass fits (None), else the largest multiple of the pooling grid
    that does. ``tile`` given: that tile, checked. A UsageError names the first pass that does not
    fit even then, and what it would need.
    """
    from ..errors import UsageError
    from ..tiling import fitted_tile, needs_tiles, tile_grid

    def peak(t):
        return max(tiled_bytes(hw, upto, t, itemsize, backward, device, optimizer, content_layers, n_masks)
                   for _, hw, backward in passes)

    if tile is not None:
        candidates = [int(tile)]
    else:
        grid = tile_grid((upto,))
        longest = max(max(hw) for _, hw, _ in passes)
        candidates = [None] + list(range((longest - 1) // grid * grid, 0, -grid))
    if budget is None:
        return candidates[0], peak(candidates[0])
    for t in candidates:
        need = peak(t)
        if need - already <= budget:
            if t is not None and tile is None:      # the same tiles, named by their real size
                t = max((fitted_tile(hw, t, (upto,)) for _, hw, _ in passes if needs_tiles(hw, t, (upto,))),
                        default=t)
            return t, need
    smallest = candidates[-1]
    for what, hw, backward in passes:
        need = tiled_bytes(hw, upto, smallest, itemsize, backward, device, optimizer, content_layers, n_masks)
        if need - already > budget:
            how = "untiled" if smallest is None or max(hw) <= smallest else f"in tiles of {smallest} px"
            hint = "a smaller --size" + (", or --optimizer lbfgs-xp or adam (SciPy's L-BFGS keeps "
                                         f"{LBFGS_FLOATS_PER_ELEMENT} float64 numbers per pixel and channel)"
                                         if backward and optimizer == "lbfgs" and device != "gpu" else "")
            if tile is not None:
                hint = "a smaller --tile or " + hint
            raise UsageError(f"{what} at {hw[1]}x{hw[0]} px needs about {_gb(need)} of "
                             f"{'GPU ' if device == 'gpu' else ''}memory {how}, but {_gb(budget)} {budget_name}: "
                             f"try {hint}")
    raise AssertionError("unreachable: the peak is a pass's")        # pragma: no cover


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
    peak = max(step_bytes(hw, upto, itemsize, backward, device) for _, hw, backward in passes)
    if free is None:
        return peak
    already = min(resident_bytes(), STEP_FIXED_BYTES) if measured and device != "gpu" else 0
    for what, hw, backward in passes:
        need = step_bytes(hw, upto, itemsize, backward, device)
        if need - already > free:
            # Memory grows with the pixels: the largest scale factor on both sides that fits.
            room = (free + already - STEP_FIXED_BYTES) / (need - STEP_FIXED_BYTES)
            hint = (f"a long side of about {max(1, int(max(hw) * room ** 0.5))} px would fit"
                    if room > 0 else "close other programs")
            raise UsageError(f"{what} at {hw[1]}x{hw[0]} px needs about {_gb(need)} of "
                             f"{'GPU ' if device == 'gpu' else ''}memory, but {_gb(free)} is available: {hint}")
    return peak


#: Device memory a CuPy process holds outside CuPy's memory pool: CUDA's context, cuBLAS's handle and
#: workspace, the loaded kernels. ``--max-memory`` on the GPU leaves this much to them.
DEVICE_CONTEXT_BYTES = 700 * 2**20          # 636-664 MB measured on an H200 (CUDA 13, CuPy 14)


def limit_device_memory(max_memory) -> int:
    """Hold CuPy's memory pool to ``max_memory`` bytes less :data:`DEVICE_CONTEXT_BYTES`; returns the limit.

    Why: the pool keeps every freed block for reuse, so without a limit it grows past what a run
    needs at any one moment -- a 2048 px run planned at 6.4 GB held 13.2 GB of an H200 (nvidia-smi,
    2026-11-30). At the limit the pool frees its cached blocks and tries again before it fails
    (CuPy's ``OutOfMemoryError``), so the plan's peak, not the cache, is what must fit: the GPU's
    memory model (``GPU_ACTIVATION_FACTOR``) plans for what the pool holds in use, and slack."""
    import cupy

    limit = max(int(max_memory) - DEVICE_CONTEXT_BYTES, 2**20)
    cupy.get_default_memory_pool().set_limit(size=limit)
    return limit
