"""The optimisers that move the image: L-BFGS (the paper's choice), twice, and a hand-written Adam.

* ``lbfgs``: SciPy's L-BFGS-B, the reference implementation (the default on the CPU);
* ``lbfgs-xp``: L-BFGS written out in the array module (:mod:`minivgg.lbfgs`), so on a GPU the image
  never leaves the device (the default there; no pixel bounds);
* ``adam``: Adam, written out.

All minimise ``fun(x) -> (loss: float, grad like x)`` over the image ``x: (3, H, W)`` -- the
network is frozen, the pixels are the parameters. All call ``callback(iteration, x, loss)`` once
per iteration (1-based ``iteration``; ``x`` the current image, an array like ``x0`` that the
callback must not modify; ``loss`` a float). A callback may raise ``StopIteration`` to end the
run early; the image reached so far is returned. Any other exception (``KeyboardInterrupt``
included) propagates -- the caller keeps the last image it was shown.

SciPy's L-BFGS-B works on flat float64 NumPy vectors, so the conversion happens only at that
boundary (:func:`lbfgs`): the objective itself keeps the network's dtype and device. lbfgs-xp
(:func:`lbfgs_xp`) and Adam keep x0's dtype and device throughout; what crosses to the host is a
few numbers per iteration (the loss, and for lbfgs-xp the line search's slopes).

**Optimiser state** (what a long run saves to resume exactly, :mod:`minivgg.app.checkpoint`). An optimiser
whose memory between iterations is a Python object takes it as ``state=`` and keeps it up to date:
after each step, before the callback, it describes the image the callback gets. The state objects
(:class:`AdamState`; one per name in :data:`STATE_CLASSES`, made by :func:`make_state`) share one
protocol: ``state_dict()`` -> a flat dict of NumPy arrays and Python numbers, ``from_state_dict(d)``
(a classmethod) -> the state back, and ``copy()`` -> a copy the later steps leave alone, taken in a
callback to keep the state *of that iteration*. SciPy's L-BFGS-B keeps its history inside Fortran
code, out of reach: it has no state object, and a resumed run restarts its history.

Pixel bounds: the image is stored as BGR minus the ImageNet mean, so "0..255 after adding the
mean back" is the per-channel box ``-mean_c <= x[c] <= 255 - mean_c`` (:func:`pixel_bounds`).
L-BFGS-B handles the box natively (projected steps); Adam clips after each step; lbfgs-xp refuses it
(a box needs a projected line search, which L-BFGS-B already is).
"""

from __future__ import annotations

import math

import numpy as np

from .backend import get_array_module, to_floats, to_numpy
from .errors import MinivggError, UsageError
from .lbfgs import LINE_SEARCH_EVALS, MEMORY, LBFGSState, lbfgs_iteration

OPTIMIZERS = ("lbfgs", "lbfgs-xp", "adam")
LBFGS_XP_NO_BOUNDS = ("the optimizer lbfgs-xp does not keep pixel bounds (--bounds): use lbfgs (SciPy's "
                      "L-BFGS-B, which does) or adam (which clips)")

#: Adam's step is about ``lr`` per pixel per iteration at first (the update is normalised by the
#: gradient's running RMS), so on the 0..255 scale a step of 10 grey levels moves noise into
#: shape within a few hundred iterations without overshooting; 1e-3 (the deep-learning default)
#: would need ~10^4 iterations.
DEFAULT_ADAM_LR = 10.0


def pixel_bounds(shape, mean):
    """Per-element box keeping ``x + mean`` within 0..255. shape: (C, H, W); mean: (C,) in x's channel order.

    Returns ``(lower, upper)`` host float64 arrays of ``shape``.
    """
    mean = np.asarray(mean, dtype=np.float64).reshape(-1, 1, 1)
    if mean.shape[0] != shape[0]:
        raise ValueError(f"mean has {mean.shape[0]} channels, image has {shape[0]}")
    lower = np.broadcast_to(-mean, shape).copy()
    upper = np.broadcast_to(255.0 - mean, shape).copy()
    return lower, upper


def default_optimizer(device: str = "cpu", bounds: bool = False) -> str:
    """The optimizer of a run that names none: L-BFGS, the paper's, in the implementation that suits the
    device. On the CPU SciPy's L-BFGS-B (the reference, and it keeps a box); on the GPU lbfgs-xp, whose
    vectors stay on the device -- unless there are ``bounds``, which only L-BFGS-B keeps."""
    return "lbfgs-xp" if device == "gpu" and not bounds else "lbfgs"


def check_optimizer(optimizer: str, bounds: bool = False) -> str:
    """``optimizer``, or a one-line UsageError if it is unknown or cannot keep ``bounds``."""
    if optimizer not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer {optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
    if optimizer == "lbfgs-xp" and bounds:
        raise UsageError(LBFGS_XP_NO_BOUNDS)
    return optimizer


def _finite(loss: float, grad, iteration: int) -> float:
    """The loss, or a one-line runtime error if it or the gradient is NaN/inf (the optimiser would
    otherwise wander off silently and return a black or grey image). grad: the gradient, or a float
    made from all of it (a dot product g . p is NaN/inf when an element of g is, for any finite p)."""
    hint = "the weights (alpha, beta, tv) may be too large for the dtype; try smaller ones, a smaller --lr, or --bounds"
    if not math.isfinite(loss):
        raise MinivggError(f"the loss became {loss} at iteration {iteration}: {hint}")
    if not (math.isfinite(grad) if isinstance(grad, float) else bool(get_array_module(grad).isfinite(grad).all())):
        raise MinivggError(f"the gradient overflowed (inf/NaN) at iteration {iteration}: {hint}")
    return loss


def default_max_evals(iterations: int) -> int:
    """The cap on L-BFGS function evaluations: a line search usually needs 1-2 per iteration."""
    return 2 * iterations + 20


def lbfgs(fun, x0, iterations: int, bounds=None, callback=None, max_evals: int | None = None):
    """Minimise ``fun`` from ``x0`` with ``scipy.optimize.minimize(method="L-BFGS-B")``.

    fun: x (like x0) -> (float, grad like x0); x0: (C, H, W) array in the working dtype/device.
    iterations: L-BFGS iterations (``maxiter``); max_evals: cap on evaluations (``maxfun``,
    default :func:`default_max_evals`). bounds: ``(lower, upper)`` arrays of x0's shape or None.
    Returns the final image, like x0.

    SciPy sees ``float64`` vectors; ``fun`` sees x0's dtype and device: the only conversions are here.
    """
    from scipy.optimize import Bounds, minimize

    if iterations < 1:
        raise UsageError(f"iterations must be >= 1, got {iterations}")
    xp = get_array_module(x0)
    dtype, shape = x0.dtype, x0.shape
    state = {"evals": 0, "iter": 0}

    def to_work(v):                              # scipy's float64 vector -> x0's world
        return xp.asarray(v.reshape(shape), dtype=dtype)

    def f(v):
        state["evals"] += 1
        loss, grad = fun(to_work(v))
        grad = to_numpy(grad).astype(np.float64).ravel()
        return _finite(float(loss), grad, state["iter"] + 1), grad

    def cb(intermediate_result):                 # scipy >= 1.11: called once per iteration
        state["iter"] += 1
        if callback is not None:                 # x back to the device only for a callback to see
            callback(state["iter"], to_work(intermediate_result.x), float(intermediate_result.fun))

    box = None
    if bounds is not None:
        lower, upper = (to_numpy(b).astype(np.float64).ravel() for b in bounds)
        box = Bounds(lower, upper)
    # ftol = gtol = 0: run the iterations asked for; the paper's losses are large numbers whose
    # relative decrease late in a run is tiny but still visible in the image.
    res = minimize(f, to_numpy(x0).astype(np.float64).ravel(), jac=True, method="L-BFGS-B",
                   bounds=box, callback=cb,
                   options={"maxiter": int(iterations), "maxfun": int(max_evals or default_max_evals(iterations)),
                            "ftol": 0.0, "gtol": 0.0})
    return to_work(res.x)


class AdamState:
    """Adam's memory between iterations: ``t`` steps taken and the moments ``m``, ``v`` (None before
    the first step). With the image, it is all that decides the next steps, so a run resumed from
    the image and this state takes exactly the steps the uninterrupted run takes.

    :func:`adam` replaces ``m`` and ``v`` by new arrays at each step, never writing into them, so
    :meth:`copy` need not copy the arrays: an O(1) copy, cheap enough to take at every iteration.
    """

    def __init__(self, t: int = 0, m=None, v=None):
        self.t, self.m, self.v = int(t), m, v

    def copy(self) -> AdamState:
        return AdamState(self.t, self.m, self.v)

    def state_dict(self) -> dict:
        """``{"t": int, "m": array, "v": array}`` on the host (arrays only once a step was taken)."""
        d = {"t": self.t}
        if self.m is not None:
            d.update(m=to_numpy(self.m), v=to_numpy(self.v))
        return d

    @classmethod
    def from_state_dict(cls, d) -> AdamState:
        return cls(int(d["t"]), d.get("m"), d.get("v"))


#: The optimisers whose state a run can save (see the module docstring), by name.
STATE_CLASSES = {"adam": AdamState, "lbfgs-xp": LBFGSState}


def make_state(optimizer: str, saved: dict | None = None):
    """A fresh state object for ``optimizer`` (or the one ``saved`` by its ``state_dict()``); None for an
    optimiser that has none (SciPy's L-BFGS-B)."""
    cls = STATE_CLASSES.get(optimizer)
    if cls is None:
        return None
    return cls() if saved is None else cls.from_state_dict(saved)


def lbfgs_xp(fun, x0, iterations: int, bounds=None, callback=None, max_evals: int | None = None,
             state: LBFGSState | None = None, memory: int = MEMORY):
    """Minimise ``fun`` from ``x0`` with L-BFGS written in x0's array module (:mod:`minivgg.lbfgs`).

    fun, x0, iterations, callback, max_evals: as :func:`lbfgs` (the cap counts this call's
    evaluations). bounds: must be None (:data:`LBFGS_XP_NO_BOUNDS`). memory: pairs (s, y) kept.
    state: an :class:`~minivgg.lbfgs.LBFGSState` the run continues and updates in place -- an empty
    one (``LBFGSState()``) starts from x0 and holds the run's state afterwards (``state.state_dict()``);
    one restored with ``LBFGSState.from_state_dict`` continues where it was saved (x0 is then unused),
    and the iterations after the restore are those the unbroken run would have made, bit for bit
    (x0 may then be None).
    Returns the final image, like x0.

    Device->host transfers: the loss and phi'(alpha) = g . p fetched together once per evaluation,
    phi'(0) once per iteration (:mod:`minivgg.lbfgs`), the loss and a gradient check once at the start.
    """
    if iterations < 1:
        raise UsageError(f"iterations must be >= 1, got {iterations}")
    if bounds is not None:
        raise UsageError(LBFGS_XP_NO_BOUNDS)
    state = LBFGSState() if state is None else state
    if state.x is not None and x0 is not None:
        state.to_device(get_array_module(x0))     # a state restored on the host continues on x0's device
    # The callback counts this call's iterations (1, 2, ...), as the other optimisers do, also when
    # the state continues a saved run; the state's own counter goes on across calls.
    cap, start, first = int(max_evals or default_max_evals(iterations)), state.evals, state.iteration
    if state.x is None:
        loss, g = fun(x0)
        state.x, state.f, state.g, state.evals = x0.copy(), _finite(float(loss), g, 1), g, state.evals + 1
    xp = get_array_module(state.x)

    def evaluate(x, p):
        loss, g = fun(x)
        f, slope = to_floats(loss, xp.vdot(g, p))          # one device->host transfer
        return _finite(f, slope, state.iteration + 1), slope, g
    try:
        for _ in range(iterations):
            budget = min(LINE_SEARCH_EVALS, cap - (state.evals - start))
            if budget <= 0 or not lbfgs_iteration(state, evaluate, memory, budget):
                break
            if callback is not None:
                callback(state.iteration - first, state.x, state.f)
    except StopIteration:
        pass
    return state.x


def adam(fun, x0, iterations: int, lr: float = DEFAULT_ADAM_LR, betas=(0.9, 0.999), eps: float = 1e-8,
         bounds=None, callback=None, state: AdamState | None = None):
    """Minimise ``fun`` from ``x0`` with Adam (Kingma & Ba 2015), written out.

    Per iteration t = 1..iterations, with g = dL/dx at the current x::

        m = b1 m + (1 - b1) g            # running mean of the gradient
        v = b2 v + (1 - b2) g^2          # running mean of its square
        x = x - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)   # bias-corrected step

    then x is clipped into ``bounds`` if given. The callback gets the image *after* the step and the
    loss evaluated during the iteration (before the step), as training loops usually report it.
    Returns the final image, like x0 (same dtype and device; x0 itself is not modified).

    state: an :class:`AdamState` to continue from (``x0`` then the image it belongs to): ``t`` goes on
    from ``state.t``, and the object is kept up to date (see the module docstring). The callback's
    iteration still counts from 1 in this call.
    """
    if iterations < 1:
        raise UsageError(f"iterations must be >= 1, got {iterations}")
    if not (lr > 0 and math.isfinite(lr)):
        raise UsageError(f"the learning rate must be a positive number, got {lr}")
    xp = get_array_module(x0)
    b1, b2 = betas
    state = AdamState() if state is None else state
    x = x0.copy()
    if state.m is None:
        m = xp.zeros_like(x)
        v = xp.zeros_like(x)
    else:
        m, v = (xp.asarray(a, dtype=x.dtype) for a in (state.m, state.v))
        if m.shape != x.shape or v.shape != x.shape:
            raise ValueError(f"Adam's saved moments are {tuple(m.shape)}, the image {tuple(x.shape)}")
    lo = hi = None
    if bounds is not None:
        lo, hi = (xp.asarray(b, dtype=x.dtype) for b in bounds)
    try:
        for i in range(1, iterations + 1):
            t = state.t + 1
            loss, g = fun(x)
            _finite(float(loss), g, t)
            # New arrays, not in-place updates (the same arithmetic, bit for bit): a copy of the state
            # taken in an earlier callback keeps its moments.
            m = b1 * m + (1.0 - b1) * g
            v = b2 * v + (1.0 - b2) * (g * g)
            step = (lr / (1.0 - b1 ** t)) * m / (xp.sqrt(v / (1.0 - b2 ** t)) + eps)
            x = x - step                         # a new array: the callback may keep the old one
            if lo is not None:
                x = xp.clip(x, lo, hi)
            state.t, state.m, state.v = t, m, v
            if callback is not None:
                callback(i, x, float(loss))
    except StopIteration:
        pass
    return x


def minimize_image(fun, x0, iterations: int, optimizer: str = "lbfgs", lr: float = DEFAULT_ADAM_LR,
                   bounds=None, callback=None, max_evals: int | None = None, state=None):
    """Dispatch to :func:`lbfgs`, :func:`lbfgs_xp` or :func:`adam` by name (``lr`` serves Adam only,
    ``max_evals`` the L-BFGS ones only).

    state: the optimiser's state object (:func:`make_state`), to continue from and keep up to date;
    None: a fresh one. SciPy's L-BFGS-B has none to take."""
    check_optimizer(optimizer, bounds is not None)
    if optimizer == "lbfgs":
        if state is not None:
            raise ValueError("SciPy's L-BFGS-B keeps no state that can be passed in")
        return lbfgs(fun, x0, iterations, bounds=bounds, callback=callback, max_evals=max_evals)
    if optimizer == "lbfgs-xp":
        return lbfgs_xp(fun, x0, iterations, callback=callback, max_evals=max_evals, state=state)
    if optimizer == "adam":
        return adam(fun, x0, iterations, lr=lr, bounds=bounds, callback=callback, state=state)
    raise UsageError(f"unknown optimizer {optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")


__all__ = ["OPTIMIZERS", "DEFAULT_ADAM_LR", "LBFGS_XP_NO_BOUNDS", "pixel_bounds", "lbfgs", "lbfgs_xp", "adam",
           "minimize_image", "default_max_evals", "default_optimizer", "check_optimizer", "LBFGSState",
           "AdamState", "STATE_CLASSES", "make_state"]
