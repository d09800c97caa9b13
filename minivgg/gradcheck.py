"""Finite-difference gradient checking: the tool that tells you a backward pass is right.

A backward pass computes ``dL/dx`` analytically. A finite difference estimates the same thing by
nudging the input and watching the loss move (central difference, error O(h^2))::

    dL/dx_i  ~  (L(x + h e_i) - L(x - h e_i)) / (2 h)

Two modes:

* ``"elements"``: every element (or a random subset of ``max_elements``) is nudged on its own,
  giving the full numerical gradient; cost 2 evaluations per element.
* ``"direction"``: nudge the whole input along one random unit direction ``d`` and compare the
  directional derivative ``(L(x + h d) - L(x - h d)) / 2h`` with ``<grad, d>``; cost 2 evaluations
  per direction, whatever the size of ``x``. Good for whole networks.

Always check in float64: the rounding error of a difference quotient is about ``eps * |L| / h``;
with float32's eps ~ 1e-7 no step ``h`` gives a relative error near 1e-6.

The relative error ``|a - n| / max(|a|, |n|, floor)`` is scale free; the floor keeps elements
whose true gradient is ~0 from dividing by nothing. Run ``python -m minivgg.gradcheck`` for the
table over every layer (see :mod:`minivgg.gradcheck_suite`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .backend import get_array_module, to_numpy


def rel_error(analytic, numeric, floor: float = 1e-8) -> float:
    """Max elementwise relative error ``|a - n| / max(|a|, |n|, floor)`` (host float)."""
    a = to_numpy(analytic).astype(np.float64)
    n = to_numpy(numeric).astype(np.float64)
    denom = np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)
    return float(np.max(np.abs(a - n) / denom)) if a.size else 0.0


def numerical_gradient(f, x, h: float = 1e-5, indices=None):
    """Central-difference gradient of the scalar function ``f`` at ``x`` (any shape).

    ``indices``: flat indices to probe (default: all); the others are left 0.
    ``x`` is modified in place during the probe and restored afterwards.
    """
    xp = get_array_module(x)
    grad = xp.zeros_like(x)
    flat_x = x.reshape(-1)
    flat_g = grad.reshape(-1)
    for i in range(flat_x.size) if indices is None else indices:
        i = int(i)
        old = flat_x[i].item()
        flat_x[i] = old + h
        fp = float(f(x))
        flat_x[i] = old - h
        fm = float(f(x))
        flat_x[i] = old
        flat_g[i] = (fp - fm) / (2 * h)
    return grad


@dataclass
class CheckResult:
    """Outcome of one gradient check: the worst relative error seen and whether it is within ``tol``."""

    max_rel_error: float
    tol: float
    mode: str
    probes: int

    @property
    def ok(self) -> bool:
        return bool(self.max_rel_error <= self.tol)


def check_gradient(f, x, analytic, mode: str = "elements", h: float = 1e-5, tol: float = 1e-6,
                   max_elements: int | None = 200, directions: int = 3, seed: int = 0) -> CheckResult:
    """Compare ``analytic`` (= dL/dx as computed by a backward pass) with finite differences of ``f``.

    f: callable, array like ``x`` -> scalar loss.
    x: the point, float64 (modified during the check and restored).
    analytic: array of x's shape.
    mode: ``"elements"`` (per element, at most ``max_elements`` random ones) or ``"direction"``
    (``directions`` random unit directions).
    """
    if x.dtype != np.float64:
        raise ValueError(f"gradient checks need float64 inputs, got {x.dtype}")
    if analytic.shape != x.shape:
        raise ValueError(f"analytic gradient shape {analytic.shape} != input shape {x.shape}")
    rng = np.random.default_rng(seed)
    xp = get_array_module(x)
    if mode == "elements":
        n = x.size
        idx = None if max_elements is None or n <= max_elements else rng.choice(n, max_elements, replace=False)
        numeric = numerical_gradient(f, x, h=h, indices=idx)
        if idx is not None:
            err = rel_error(to_numpy(analytic).reshape(-1)[idx], to_numpy(numeric).reshape(-1)[idx])
        else:
            err = rel_error(analytic, numeric)
        return CheckResult(err, tol, mode, n if idx is None else len(idx))
    if mode == "direction":
        worst = 0.0
        x0 = x.copy()
        for _ in range(directions):
            d = xp.asarray(rng.standard_normal(x.shape))
            d /= float(xp.linalg.norm(d))
            fp = float(f(x0 + h * d))
            fm = float(f(x0 - h * d))
            numeric = (fp - fm) / (2 * h)
            exact = float(xp.sum(analytic * d))
            worst = max(worst, rel_error(np.array(exact), np.array(numeric)))
        return CheckResult(worst, tol, mode, directions)
    raise ValueError(f"unknown mode {mode!r}: 'elements' or 'direction'")


def check_layer(forward, backward, x, h: float = 1e-5, tol: float = 1e-6, seed: int = 0, **kwargs) -> CheckResult:
    """Gradient-check a layer ``y = forward(x)`` whose ``backward(dy) -> dx``.

    The scalar loss is ``L = sum(y * r)`` for a fixed random ``r``, so ``dL/dy = r`` and
    ``dL/dx = backward(r)``: every output element takes part, with a different weight.
    """
    xp = get_array_module(x)
    rng = np.random.default_rng(seed + 1)
    r = xp.asarray(rng.standard_normal(forward(x).shape))
    analytic = backward(r)

    def loss(z):
        return float(xp.sum(forward(z) * r))

    return check_gradient(loss, x, analytic, h=h, tol=tol, seed=seed, **kwargs)
