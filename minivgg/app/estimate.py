"""How long a run will take: one honest line before it starts, and an ETA while it runs.

**Before the run** (:func:`plan`): one evaluation (forward to the deepest tap and back) is timed at
the output's size, after one untimed evaluation that pays the first-touch costs (page faults,
buffer allocation) a long run pays only once. The other scales of a coarse-to-fine run are priced
by the cost model (:func:`minivgg.machine.cost.layer_costs`: a step's FLOP grow with the pixels). The count
of evaluations comes from recorded runs: SciPy's L-BFGS-B makes about one evaluation per iteration
plus ``LBFGS_EXTRA_EVALS`` (the first iteration's line search tries 6-8 step lengths), lbfgs-xp
likewise plus ``LBFGS_XP_EXTRA_EVALS``; Adam makes exactly one.

A level evaluated in tiles (:mod:`minivgg.tiling`) is priced by the FLOP of what it runs
(:func:`step_flop` with ``tile``): every tile's window, halo included, forward in pass 1 and forward
and backward in pass 2. Its timed evaluation is then one tile's window, not the whole image, which
would need the memory the tiles are there to save.

**During the run** (:class:`Eta`): the time per iteration is the mean over the last
``window`` iterations of the current scale, never including a scale's first iteration. The old
estimate divided the elapsed time by the iterations done, so iteration 1, which carries the warm-up
and the first line search (8-10 evaluations), made the first printed ETA 9-36x too long.
"""

from __future__ import annotations

import time
from collections import deque

#: Evaluations SciPy's L-BFGS-B makes beyond one per iteration, per scale (measured: 100
#: iterations took 111-113 evaluations at 128 px, 200 took 210-215 at 64 px, from noise or photo).
LBFGS_EXTRA_EVALS = 12
#: The same for lbfgs-xp (minivgg.lbfgs): its line search also starts at 1/|g| and then at 1 and
#: accepts the first strong Wolfe point, so the first iteration takes 5-6 evaluations and the others
#: about one (measured, chelsea x the_scream, 100 iterations: 108 evaluations at 64 px from the photo
#: and 113 from noise, 110 at 256 px from the photo; SciPy's made 109, 114 and 107).
LBFGS_XP_EXTRA_EVALS = 12
#: A forward pass alone (a style target) costs about this fraction of an evaluation.
FORWARD_FRACTION = 0.4
#: An evaluation inside a run costs more than the lone one that is timed: SciPy's own work, the
#: callback, and caches and memory that the optimiser's arrays disturb. Recorded runs (256 and
#: 512 px, 2026-11-29) spent 1.15-1.5x the timed evaluation per evaluation; this is their middle.
STEP_OVERHEAD = 1.3
#: A run estimated to take longer than this is announced as long, plainly.
LONG_RUN_SECONDS = 600


def expected_evaluations(iterations: int, optimizer: str = "lbfgs") -> int:
    """Evaluations of the objective that ``iterations`` iterations of ``optimizer`` make at one scale."""
    extra = {"lbfgs": LBFGS_EXTRA_EVALS, "lbfgs-xp": LBFGS_XP_EXTRA_EVALS}.get(optimizer, 0)
    return int(iterations) + extra


def step_flop(hw, upto: str, tile: int | None = None) -> float:
    """FLOP of one evaluation (forward and input gradient) through VGG19 to ``upto`` at ``hw = (H, W)``;
    with ``tile``, of its two tiled passes (:func:`minivgg.tiling.evaluation_windows`)."""
    from collections import Counter

    from ..machine.cost import layer_costs
    from ..tiling import evaluation_windows

    total = 0.0
    for (window, kind), count in Counter(evaluation_windows(hw, tile, (upto,))).items():
        rows = layer_costs(window, upto)
        total += count * sum(r.flop_forward + (r.flop_dx if kind == "step" else 0.0) for r in rows)
    return total


def measure_evaluation(net, hw, taps, repeats: int = 1) -> float:
    """Seconds of one forward-and-backward pass of ``net`` to ``taps`` at ``hw = (H, W)``.

    A random image stands in for the picture (the cost does not depend on the pixel values). One
    untimed pass first: it pays the first-touch memory costs that a long run pays once.
    """
    import numpy as np

    x = net.backend.asarray(np.random.default_rng(0).standard_normal((3,) + tuple(hw)) * 20.0)
    best = float("inf")
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        out = net.forward(x, taps)
        dx = net.backward({name: net.xp.ones_like(v) for name, v in out.items()})
        float(dx[0, 0, 0])                           # on a GPU, waits for the queued kernels
        if i:
            best = min(best, time.perf_counter() - t0)
    return best


def plan(eval_seconds: float, shapes, schedule, upto: str, optimizer: str = "lbfgs", n_styles: int = 1,
         tiles=None, measured_hw=None) -> dict:
    """The whole run's estimate from one measured evaluation.

    eval_seconds: seconds of one untiled evaluation at ``measured_hw`` (default ``shapes[-1]``);
    shapes: ``(H, W)`` per scale, smallest first; schedule: iterations per scale; upto: the deepest
    tap (None: no layer); tiles: the tile of each scale (None: untiled). Returns ``{"seconds": total,
    "per_eval": [seconds of one evaluation at each scale], "per_scale": [seconds of each scale]}``; a
    scale's time includes building its targets (one forward pass of the content and of each style)
    and ``STEP_OVERHEAD``.
    """
    tiles = list(tiles) if tiles is not None else [None] * len(shapes)
    flops = [step_flop(hw, upto, t) if upto else 0.0 for hw, t in zip(shapes, tiles, strict=True)]
    unit = step_flop(measured_hw, upto) if upto and measured_hw is not None else flops[-1]
    per_eval = [eval_seconds * f / unit if unit else eval_seconds for f in flops]
    per_scale = [s * (STEP_OVERHEAD * expected_evaluations(n, optimizer) + FORWARD_FRACTION * (1 + n_styles))
                 for s, n in zip(per_eval, schedule, strict=True)]
    return {"seconds": sum(per_scale), "per_eval": per_eval, "per_scale": per_scale}


class Eta:
    """Remaining time of a run of ``schedule`` iterations per scale, from the recent iteration rate.

    per_eval: the planned seconds of one evaluation at each scale (:func:`plan`), used until the
    current scale has shown its own rate, and to price the scales still to come (at the plan's
    rate: a small scale's own rate says little about a larger one, where the fixed costs matter less).
    Call :meth:`update` at the end of every iteration; it returns ``(seconds per iteration,
    seconds left)``.
    """

    def __init__(self, schedule, per_eval, optimizer: str = "lbfgs", window: int = 10):
        self.schedule = [int(n) for n in schedule]
        self.per_eval = [float(s) for s in per_eval]
        self.optimizer = optimizer
        self.times = deque(maxlen=window + 1)        # (iteration, time) of the current scale
        self.scale = None

    def update(self, scale: int, iteration: int, now: float | None = None) -> tuple:
        """Iteration ``iteration`` (1-based, within scale ``scale``) just ended at ``now``."""
        now = time.perf_counter() if now is None else now
        if scale != self.scale:
            self.scale = scale
            self.times.clear()
        self.times.append((iteration, now))
        k = scale
        if len(self.times) >= 2:
            (i0, t0), (i1, t1) = self.times[0], self.times[-1]
            per_iter = (t1 - t0) / (i1 - i0)
        else:                                        # nothing but iteration 1 seen: the plan's rate
            per_iter = STEP_OVERHEAD * self.per_eval[k]
        left = per_iter * (self.schedule[k] - iteration)
        for j in range(k + 1, len(self.schedule)):
            left += self.per_eval[j] * (STEP_OVERHEAD * expected_evaluations(self.schedule[j], self.optimizer)
                                        + FORWARD_FRACTION * 2)
        return per_iter, max(0.0, left)


def level_line(k: int, n_levels: int, hw, iterations: int, seconds: float, peak_bytes: int, tile=None,
               upto: str | None = None) -> str:
    """One level's estimate: ``  level 2/3: 1024x768 px, 100 iterations, untiled: about 3m10s, 2.9 GB``;
    a tiled level says its tiles and the work they cost against an untiled evaluation (``upto``)."""
    from ..tiling import needs_tiles, tiles
    from .progress import fmt_duration

    how = "untiled"
    if upto is not None and needs_tiles(hw, tile, (upto,)):
        n = len(tiles(hw, tile, (upto,)))
        how = (f"{n} tiles of {tile} px ({step_flop(hw, upto, tile) / step_flop(hw, upto):.1f}x the work "
               "of an untiled evaluation)")
    return (f"  level {k + 1}/{n_levels}: {hw[1]}x{hw[0]} px, {iterations} iterations, {how}: about "
            f"{fmt_duration(seconds)}, {peak_bytes / 2**30:.1f} GB")


def plan_line(seconds: float, peak_bytes: int, what: str) -> str:
    """``estimate: about 4m10s and 0.8 GB of memory for <what>``, with a plain warning when long."""
    from .progress import fmt_duration

    line = f"estimate: about {fmt_duration(seconds)} and {peak_bytes / 2**30:.1f} GB of memory for {what}"
    if seconds > LONG_RUN_SECONDS:
        line += (f". This is a long run (over {LONG_RUN_SECONDS // 60} minutes): a smaller --size or fewer "
                 "--iterations is quicker")
    return line


__all__ = ["STEP_OVERHEAD", "LBFGS_EXTRA_EVALS", "LBFGS_XP_EXTRA_EVALS", "LONG_RUN_SECONDS", "expected_evaluations",
           "step_flop", "measure_evaluation", "plan", "Eta", "plan_line", "level_line"]
