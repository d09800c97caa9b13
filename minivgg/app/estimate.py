"""How long a run will take: one honest line before it starts, and an ETA while it runs.

**Before the run** (:func:`plan`): one evaluation (forward to the deepest tap and back) is timed at
the output's size, after one untimed evaluation that pays the first-touch costs (page faults,
buffer allocation) a long run pays only once. The other scales of a coarse-to-fine run are priced
by the cost model (:func:`minivgg.machine.cost.layer_costs`: a step's FLOP grow with the pixels). The count
of evaluations comes from recorded runs: SciPy's L-BFGS-B makes about one evaluation per iteration
plus ``LBFGS_EXTRA_EVALS`` (the first iteration's line search tries 6-8 step lengths), lbfgs-xp
likewise plus ``LBFGS_XP_EXTRA_EVALS``; Adam makes exactly one.

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


def step_flop(hw, upto: str) -> float:
    """FLOP of one evaluation (forward and input gradient) through VGG19 to ``upto`` at ``hw = (H, W)``."""
    from ..machine.cost import layer_costs

    return sum(r.flop_forward + r.flop_dx for r in layer_costs(tuple(hw), upto))


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


def plan(eval_seconds: float, shapes, schedule, upto: str, optimizer: str = "lbfgs", n_styles: int = 1) -> dict:
    """The whole run's estimate from one measured evaluation at the *last* shape.

    eval_seconds: seconds of one evaluation at ``shapes[-1]``; shapes: ``(H, W)`` per scale, smallest
    first; schedule: iterations per scale; upto: the deepest tap (None: no layer). Returns ``{"seconds": total,
    "per_eval": [seconds of one timed evaluation at each scale]}``; the total includes building the
    targets (one forward pass of the content and of each style per scale) and ``STEP_OVERHEAD``.
    """
    flops = [step_flop(hw, upto) if upto else 0.0 for hw in shapes]
    per_eval = [eval_seconds * f / flops[-1] if flops[-1] else eval_seconds for f in flops]
    seconds = sum(s * (STEP_OVERHEAD * expected_evaluations(n, optimizer) + FORWARD_FRACTION * (1 + n_styles))
                  for s, n in zip(per_eval, schedule, strict=True))
    return {"seconds": seconds, "per_eval": per_eval}


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


def plan_line(seconds: float, peak_bytes: int, what: str) -> str:
    """``estimate: about 4m10s and 0.8 GB of memory for <what>``, with a plain warning when long."""
    from .progress import fmt_duration

    line = f"estimate: about {fmt_duration(seconds)} and {peak_bytes / 2**30:.1f} GB of memory for {what}"
    if seconds > LONG_RUN_SECONDS:
        line += (f". This is a long run (over {LONG_RUN_SECONDS // 60} minutes): a smaller --size or fewer "
                 "--iterations is quicker")
    return line


__all__ = ["STEP_OVERHEAD", "LBFGS_EXTRA_EVALS", "LBFGS_XP_EXTRA_EVALS", "LONG_RUN_SECONDS", "expected_evaluations",
           "step_flop", "measure_evaluation", "plan", "Eta", "plan_line"]
