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

Pixel bounds: the image is stored as BGR minus the ImageNet mean, so "0..255 after adding the
mean back" is the per-channel box ``-mean_c <= x[c] <= 255 - mean_c`` (:func:`pixel_bounds`).
L-BFGS-B handles the box natively (projected steps); Adam clips after each step; lbfgs-xp refuses it
(a box needs a projected line search, which L-BFGS-B already is).
"""

from __future__ import annotations

import math

import numpy as np

from .backend import get_array_module, to_numpy
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
    state = {"evals": 0, "iter": 0, "x": x0}

    def to_work(v):                              # scipy's float64 vector -> x0's world
        return xp.asarray(v.reshape(shape), dtype=dtype)

    def f(v):
        state["evals"] += 1
        loss, grad = fun(to_work(v))
        grad = to_numpy(grad).astype(np.float64).ravel()
        return _finite(float(loss), grad, state["iter"] + 1), grad

    def cb(intermediate_result):                 # scipy >= 1.11: called once per iteration
        state["iter"] += 1
        state["x"] = to_work(intermediate_result.x)
        if callback is not None:
            callback(state["iter"], state["x"], float(intermediate_result.fun))

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


def _host_floats(*values) -> list:
    """Python floats of numbers and 0-d arrays; the device's fetched together: one device->host transfer."""
    xp = get_array_module(*values)
    if xp is np:
        return [float(v) for v in values]
    on_device = [v for v in values if get_array_module(v) is xp]
    fetched = iter(xp.stack([v.astype(xp.float64) for v in on_device]).tolist())     # the one sync
    return [next(fetched) if get_array_module(v) is xp else float(v) for v in values]


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
    cap, start = int(max_evals or default_max_evals(iterations)), state.evals
    if state.x is None:
        loss, g = fun(x0)
        state.x, state.f, state.g, state.evals = x0.copy(), _finite(float(loss), g, 1), g, state.evals + 1
    xp = get_array_module(state.x)

    def evaluate(x, p):
        loss, g = fun(x)
        f, slope = _host_floats(loss, xp.vdot(g, p))
        return _finite(f, slope, state.iteration + 1), slope, g
    try:
        for _ in range(iterations):
            budget = min(LINE_SEARCH_EVALS, cap - (state.evals - start))
            if budget <= 0 or not lbfgs_iteration(state, evaluate, memory, budget):
                break
            if callback is not None:
                callback(state.iteration, state.x, state.f)
    except StopIteration:
        pass
    return state.x


def adam(fun, x0, iterations: int, lr: float = DEFAULT_ADAM_LR, betas=(0.9, 0.999), eps: float = 1e-8,
         bounds=None, callback=None):
    """Minimise ``fun`` from ``x0`` with Adam (Kingma & Ba 2015), written out.

    Per iteration t = 1..iterations, with g = dL/dx at the current x::

        m = b1 m + (1 - b1) g            # running mean of the gradient
        v = b2 v + (1 - b2) g^2          # running mean of its square
        x = x - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)   # bias-corrected step

    then x is clipped into ``bounds`` if given. The callback gets the image *after* the step and the
    loss evaluated during the iteration (before the step), as training loops usually report it.
    Returns the final image, like x0 (same dtype and device; x0 itself is not modified).
    """
    if iterations < 1:
        raise UsageError(f"iterations must be >= 1, got {iterations}")
    if not (lr > 0 and math.isfinite(lr)):
        raise UsageError(f"the learning rate must be a positive number, got {lr}")
    xp = get_array_module(x0)
    b1, b2 = betas
    x = x0.copy()
    m = xp.zeros_like(x)
    v = xp.zeros_like(x)
    lo = hi = None
    if bounds is not None:
        lo, hi = (xp.asarray(b, dtype=x.dtype) for b in bounds)
    try:
        for t in range(1, iterations + 1):
            loss, g = fun(x)
            _finite(float(loss), g, t)
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * (g * g)
            step = (lr / (1.0 - b1 ** t)) * m / (xp.sqrt(v / (1.0 - b2 ** t)) + eps)
            x = x - step                         # a new array: the callback may keep the old one
            if lo is not None:
                x = xp.clip(x, lo, hi)
            if callback is not None:
                callback(t, x, float(loss))
    except StopIteration:
        pass
    return x


def minimize_image(fun, x0, iterations: int, optimizer: str = "lbfgs", lr: float = DEFAULT_ADAM_LR,
                   bounds=None, callback=None, max_evals: int | None = None):
    """Dispatch to :func:`lbfgs`, :func:`lbfgs_xp` or :func:`adam` by name (``lr`` serves Adam only,
    ``max_evals`` the L-BFGS ones only)."""
    check_optimizer(optimizer, bounds is not None)
    if optimizer == "lbfgs":
        return lbfgs(fun, x0, iterations, bounds=bounds, callback=callback, max_evals=max_evals)
    if optimizer == "lbfgs-xp":
        return lbfgs_xp(fun, x0, iterations, callback=callback, max_evals=max_evals)
    return adam(fun, x0, iterations, lr=lr, bounds=bounds, callback=callback)


__all__ = ["OPTIMIZERS", "DEFAULT_ADAM_LR", "LBFGS_XP_NO_BOUNDS", "pixel_bounds", "lbfgs", "lbfgs_xp", "adam",
           "minimize_image", "default_max_evals", "default_optimizer", "check_optimizer", "LBFGSState"]
