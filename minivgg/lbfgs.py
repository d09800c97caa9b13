"""L-BFGS written out in the array module: the image, its gradient and the history stay on the device.

SciPy's L-BFGS-B (:func:`minivgg.optim.lbfgs`) works on host float64 vectors, so on a GPU every
evaluation would copy the image and its gradient to the host and back. Here every vector operation is
an ``xp`` operation on arrays of x's dtype and device; the host only makes the line search's decisions,
from numbers it is handed: the loss and the slope along the search direction (Nocedal & Wright,
*Numerical Optimization*, 2nd ed., Algorithm 7.5)::

    p_k = -H_k g_k                         the two-loop recursion, Algorithm 7.4    (two_loop)
    alpha_k: a strong Wolfe step along p_k Algorithm 3.5, zoom Algorithm 3.6        (strong_wolfe)
    x_{k+1} = x_k + alpha_k p_k,  s_k = alpha_k p_k,  y_k = g_{k+1} - g_k,  rho_k = 1 / (y_k . s_k)

H_k, the inverse-Hessian approximation, is never formed: it is the BFGS update (eq. 6.17) applied,
oldest pair first, to H_k^0 = gamma_k I with gamma_k = s.y / y.y of the newest pair (eq. 7.20); only
the last m pairs are kept. With phi(alpha) = f(x_k + alpha p_k), the strong Wolfe conditions (eq. 3.7) ::

    phi(alpha) <= phi(0) + c1 alpha phi'(0)       sufficient decrease
    |phi'(alpha)| <= c2 |phi'(0)|                curvature, 0 < c1 < c2 < 1

The curvature condition makes ``y_k . s_k = alpha_k (phi'(alpha_k) - phi'(0)) >= alpha_k (1 - c2)
|phi'(0)| > 0``: every pair keeps H_k positive definite, and rho_k comes from two numbers the line
search already holds on the host -- no transfer.

**Transfers.** Per iteration the host needs phi'(0) = g_k . p_k (one 0-d array converted: one
device->host sync) and, per evaluation, the loss and phi'(alpha) (:func:`minivgg.optim.lbfgs_xp`
fetches both in one transfer). An iteration with one evaluation, the usual case, makes 2 syncs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .backend import get_array_module, to_numpy

#: Pairs kept (SciPy's ``maxcor`` default); c1, c2 of eq. 3.7 (N&W's values for quasi-Newton
#: methods); the most evaluations one line search may make (SciPy's ``maxls``).
MEMORY, C1, C2, LINE_SEARCH_EVALS = 10, 1e-4, 0.9, 20


@dataclass
class LBFGSState:
    """Everything a run needs to continue: the point, its loss and gradient, the last m pairs, counters.

    x, g: arrays like the image (its dtype and device); f: float; s, y: lists of arrays like x, oldest
    first; rho: floats, rho_i = 1 / (y_i . s_i); iteration: iterations done; evals: evaluations made.
    """

    x: object = None
    f: float = math.nan
    g: object = None
    s: list = field(default_factory=list)
    y: list = field(default_factory=list)
    rho: list = field(default_factory=list)
    iteration: int = 0
    evals: int = 0

    def state_dict(self) -> dict:
        """Host NumPy arrays and numbers (``np.savez(path, **state.state_dict())`` saves it);
        :meth:`from_state_dict` restores it exactly."""
        def stack(vs):
            return np.stack([to_numpy(v) for v in vs]) if vs else np.zeros((0,) + self.x.shape, self.x.dtype)

        return {"x": to_numpy(self.x), "f": np.float64(self.f), "g": to_numpy(self.g), "s": stack(self.s),
                "y": stack(self.y), "rho": np.array(self.rho, dtype=np.float64),
                "iteration": np.int64(self.iteration), "evals": np.int64(self.evals)}

    def copy(self) -> LBFGSState:
        """A snapshot that later iterations leave alone: they append to and trim the lists and replace
        the arrays, never writing into one, so copying the lists is enough."""
        return LBFGSState(self.x, self.f, self.g, list(self.s), list(self.y), list(self.rho), self.iteration,
                          self.evals)

    def to_device(self, xp) -> None:
        """Put the arrays on ``xp``'s device (a state read from a file is on the host)."""
        if get_array_module(self.x) is not xp:
            self.x, self.g = xp.asarray(self.x), xp.asarray(self.g)
            self.s, self.y = [xp.asarray(v) for v in self.s], [xp.asarray(v) for v in self.y]

    @classmethod
    def from_state_dict(cls, d, xp=np) -> LBFGSState:
        """The state :meth:`state_dict` gave (or ``np.load`` read back), its arrays put on ``xp``'s device."""
        s, y = xp.asarray(np.asarray(d["s"])), xp.asarray(np.asarray(d["y"]))
        return cls(x=xp.asarray(np.asarray(d["x"])), f=float(d["f"]), g=xp.asarray(np.asarray(d["g"])),
                   s=[s[i] for i in range(len(s))], y=[y[i] for i in range(len(y))],
                   rho=[float(r) for r in np.asarray(d["rho"])], iteration=int(d["iteration"]),
                   evals=int(d["evals"]))


def two_loop(g, s, y, rho):
    """``H_k g`` by the two-loop recursion (N&W Algorithm 7.4), without forming H_k.

    g: (C, H, W) gradient; s, y: the pairs, oldest first; rho: 1 / (y_i . s_i). Returns an array like g.
    H_k^0 = gamma_k I (eq. 7.20); I when there are no pairs. The dot products stay 0-d device arrays.
    """
    xp = get_array_module(g)
    q = g.copy()
    alphas = []
    for s_i, y_i, rho_i in zip(reversed(s), reversed(y), reversed(rho), strict=True):   # newest first
        a_i = rho_i * xp.vdot(s_i, q)
        q -= a_i * y_i
        alphas.append(a_i)
    if s:
        q *= (1.0 / rho[-1]) / xp.vdot(y[-1], y[-1])              # r = H_k^0 q, gamma_k = s.y / y.y
    for s_i, y_i, rho_i, a_i in zip(s, y, rho, reversed(alphas), strict=True):          # oldest first
        b = rho_i * xp.vdot(y_i, q)
        q += (a_i - b) * s_i
    return q


def _cubic(p, q, lo, hi, fallback):
    """The minimiser of the cubic matching phi and phi' at the steps of ``p`` and ``q`` (``(alpha, phi,
    phi', ...)`` tuples; N&W eq. 3.59), kept inside [lo, hi]; ``fallback`` when it has none."""
    (a, fa, da), (b, fb, db) = p[:3], q[:3]
    if a == b:
        return fallback
    d1 = da + db - 3.0 * (fa - fb) / (a - b)
    disc = d1 * d1 - da * db
    if not disc >= 0:                                # no real minimiser (or NaN from overflow)
        return fallback
    d2 = math.copysign(math.sqrt(disc), b - a)
    den = db - da + 2.0 * d2
    t = b - (b - a) * (db + d2 - d1) / den if den else math.nan
    return min(max(t, lo), hi) if math.isfinite(t) else fallback


def strong_wolfe(phi, f0: float, d0: float, alpha: float, c1: float = C1, c2: float = C2,
                 max_evals: int = LINE_SEARCH_EVALS):
    """A step satisfying the strong Wolfe conditions (eq. 3.7): N&W Algorithm 3.5, with zoom (3.6).

    phi(alpha) -> (phi, phi', extra): the function along the line, its slope (host floats), and what the
    caller wants back from that evaluation. f0, d0: phi(0) and phi'(0) < 0; alpha: the first trial.
    Returns ``((alpha, phi, phi', extra), evaluations)``. When ``max_evals`` pass without a Wolfe point,
    the lowest point with sufficient decrease if it is lower than phi(0), else ``(0.0, f0, d0, None)``.
    """
    def sufficient(a, fa):
        return fa <= f0 + c1 * a * d0

    def best(p):                                     # out of evaluations: a step only if it went down
        return p if p[1] < f0 else (0.0, f0, d0, None)

    def zoom(lo, hi, n):
        """lo, hi bracket a Wolfe point: lo the lowest sufficient-decrease point seen, phi'(lo)(hi - lo) < 0."""
        while n < max_evals:
            a_lo, a_hi = lo[0], hi[0]
            if a_lo == a_hi:                          # the bracket is below float resolution
                break
            margin = 0.1 * abs(a_hi - a_lo)          # the interval shrinks by >= 10 % per trial
            a = _cubic(lo, hi, min(a_lo, a_hi) + margin, max(a_lo, a_hi) - margin, 0.5 * (a_lo + a_hi))
            cur = (a, *phi(a))
            n += 1
            # N&W write phi(a) >= phi(lo); a tie goes to the slope instead, which still has digits
            # where phi, near its minimum, has run out of them.
            if not sufficient(a, cur[1]) or cur[1] > lo[1]:
                hi = cur
            else:
                if abs(cur[2]) <= -c2 * d0:
                    return cur, n
                if cur[2] * (a_hi - a_lo) >= 0:
                    hi = lo
                lo = cur
        return best(lo), n

    prev, n = (0.0, f0, d0, None), 0
    while n < max_evals:
        cur = (alpha, *phi(alpha))
        n += 1
        if not sufficient(alpha, cur[1]) or (n > 1 and cur[1] >= prev[1]):
            return zoom(prev, cur, n)                # too far: a Wolfe point lies between
        if abs(cur[2]) <= -c2 * d0:
            return cur, n
        if cur[2] >= 0:                              # past the minimum along the line
            return zoom(cur, prev, n)
        step = alpha - prev[0]                       # still going down: extrapolate, 2x to 5x as far
        alpha, prev = _cubic(prev, cur, alpha + step, alpha + 4 * step, alpha + 4 * step), cur
    return best(prev), n


def lbfgs_iteration(state: LBFGSState, evaluate, memory: int = MEMORY, max_evals: int = LINE_SEARCH_EVALS) -> bool:
    """One iteration of L-BFGS from ``state``, which it updates in place.

    evaluate(x, p) -> (f, g . p, g): the loss and the slope along p as host floats, g on the device.
    Returns False, with x, f and g as they were, when no step along -H g (nor, with the pairs
    forgotten, along -g) lowers the loss: the run is over (a zero gradient, or float precision reached).
    """
    xp = get_array_module(state.g)
    while True:
        p = -two_loop(state.g, state.s, state.y, state.rho)
        d0 = float(xp.vdot(state.g, p))             # phi'(0): the iteration's own device->host sync
        if d0 < 0:                                   # a descent direction (False for NaN too)
            # Without pairs p = -g is not scaled to the problem: the first trial moves x by 1 in norm.
            alpha = 1.0 if state.s else 1.0 / math.sqrt(-d0)

            def phi(a, p=p):
                x = state.x + a * p                  # a new array: the caller may keep the old one
                f, slope, g = evaluate(x, p)
                return f, slope, (x, g)

            (a, f, d, extra), n = strong_wolfe(phi, state.f, d0, alpha, max_evals=max_evals)
            state.evals += n
            max_evals -= n
            if extra is not None:
                break
        # No descent along p: forget the pairs and try steepest descent once; with none, stop.
        if not state.s or max_evals <= 0:
            return False
        state.s, state.y, state.rho = [], [], []
    x, g = extra
    if d > d0:          # y.s = alpha (phi'(alpha) - phi'(0)) > 0: always so at a Wolfe point
        state.s.append(a * p)
        state.y.append(g - state.g)
        state.rho.append(1.0 / (a * (d - d0)))
        if len(state.s) > memory:
            del state.s[0], state.y[0], state.rho[0]
    state.x, state.f, state.g = x, f, g
    state.iteration += 1
    return True


__all__ = ["LBFGSState", "two_loop", "strong_wolfe", "lbfgs_iteration", "MEMORY", "C1", "C2",
           "LINE_SEARCH_EVALS"]
