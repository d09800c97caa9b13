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

The relative error ``|a - n| / max(|a|, |n|, floor)`` is scale free. The floor is 1e-3 of the
largest gradient element: an element a thousand times smaller than the largest is judged by the
absolute error it makes at that scale, because near-zero gradients (dead ReLUs, cancelling sums)
would otherwise turn the harmless rounding error of the difference quotient into a huge ratio.
A wrong backward pass still shows errors of order 1.

Run ``python -m minivgg.gradcheck`` for the table over every layer, the network and the losses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .backend import get_array_module, to_numpy


def rel_error(analytic, numeric, floor: float | None = None) -> float:
    """Max elementwise relative error ``|a - n| / max(|a|, |n|, floor)`` (host float).

    floor: default 1e-3 * max(|a|, |n|) over all elements (and never below 1e-30).
    """
    a = to_numpy(analytic).astype(np.float64)
    n = to_numpy(numeric).astype(np.float64)
    if not a.size:
        return 0.0
    if floor is None:
        floor = max(1e-3 * float(max(np.abs(a).max(), np.abs(n).max())), 1e-30)
    denom = np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)
    return float(np.max(np.abs(a - n) / denom))


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


# ----------------------------------------------------------------------------------------------
# The suite: every backward pass of the package, as a list of cases that both the command line
# (``python -m minivgg.gradcheck``) and the test suite run.
# ----------------------------------------------------------------------------------------------

@dataclass
class Case:
    """One check: ``run()`` -> CheckResult for the gradient ``what`` of ``layer`` at ``shape``."""

    layer: str
    what: str
    shape: tuple
    run: object


def _conv_cases(rng, algo, C, H, W_, O, k, pad):
    """dx, dW and db of one convolution, each against finite differences of L = sum(conv(x, W, b) * r)."""
    from .layers.conv import conv2d_backward, conv2d_forward

    x = rng.standard_normal((C, H, W_))
    W = rng.standard_normal((O, C, k, k))
    b = rng.standard_normal(O)
    out, cache = conv2d_forward(x, W, b, pad, algo)
    r = rng.standard_normal(out.shape)
    dx, dW, db = conv2d_backward(r, cache, weight_grads=True)

    def loss(x, W, b):
        return float((conv2d_forward(x, W, b, pad, algo)[0] * r).sum())

    name = f"conv2d[{algo}] k={k} pad={pad}"
    return [
        Case(name, "dx", x.shape, lambda: check_gradient(lambda z: loss(z, W, b), x, dx)),
        Case(name, "dW", W.shape, lambda: check_gradient(lambda z: loss(x, z, b), W, dW)),
        Case(name, "db", b.shape, lambda: check_gradient(lambda z: loss(x, W, z), b, db)),
    ]


def _relu_input(rng, shape):
    """Random values kept away from 0, where ReLU has a kink that a finite difference would straddle."""
    x = rng.standard_normal(shape)
    return x + 0.1 * np.sign(x)


def suite_cases(seed: int = 0):
    """Every gradient check of the package (float64, small random inputs)."""
    from .architecture import random_params
    from .layers import (avg_pool2d_backward, avg_pool2d_forward, conv2d_backward, conv2d_forward,
                         max_pool2d_backward, max_pool2d_forward, relu_backward, relu_forward)
    from .vgg import VGG19

    rng = np.random.default_rng(seed)
    shapes = [(3, 7, 5, 4, 3, 1), (2, 6, 6, 3, 3, 1), (2, 5, 4, 2, 3, 0), (3, 4, 5, 2, 1, 0)]
    cases = [c for algo, sh in [("im2col", shapes), ("mec", shapes), ("shiftadd", shapes), ("naive", shapes[:2])]
             for s in sh
             for c in _conv_cases(rng, algo, *s)]

    def fwd(f):
        return lambda z: f(z)[0]

    x = _relu_input(rng, (3, 5, 7))
    cases.append(Case("relu", "dx", x.shape, lambda x=x: check_layer(
        fwd(relu_forward), lambda d: relu_backward(d, relu_forward(x)[1]), x)))
    for H, W_ in [(6, 8), (7, 5)]:
        x = rng.standard_normal((3, H, W_))
        cases.append(Case("avg_pool2d", "dx", x.shape, lambda x=x: check_layer(
            fwd(avg_pool2d_forward), lambda d: avg_pool2d_backward(d, avg_pool2d_forward(x)[1]), x)))
        cases.append(Case("max_pool2d", "dx", x.shape, lambda x=x: check_layer(
            fwd(max_pool2d_forward), lambda d: max_pool2d_backward(d, max_pool2d_forward(x)[1]), x)))

    # A composite chain, conv -> relu -> pool -> conv -> relu, as in a VGG block boundary.
    W1, b1 = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    W2, b2 = rng.standard_normal((5, 4, 3, 3)), rng.standard_normal(5)
    x = rng.standard_normal((3, 9, 8))

    def chain_forward(z):
        h, c1 = conv2d_forward(z, W1, b1)
        h, c2 = relu_forward(h)
        h, c3 = avg_pool2d_forward(h)
        h, c4 = conv2d_forward(h, W2, b2)
        h, c5 = relu_forward(h)
        return h, (c1, c2, c3, c4, c5)

    def chain_backward(d):
        c1, c2, c3, c4, c5 = chain_forward(x)[1]
        d = relu_backward(d, c5)
        d = conv2d_backward(d, c4)[0]
        d = avg_pool2d_backward(d, c3)
        d = relu_backward(d, c2)
        return conv2d_backward(d, c1)[0]

    # The chain is piecewise linear, so a large step costs no truncation error and keeps the
    # rounding error (~ eps * |L| / h) of the summed loss far below the tolerance.
    cases.append(Case("conv-relu-pool-conv-relu", "dx", x.shape,
                      lambda: check_layer(fwd(chain_forward), chain_backward, x, h=1e-3)))

    # The whole network: gradients given at taps of several depths, carried to the image at once.
    params = random_params(seed=seed)
    taps = ("conv1_1", "conv2_2", "conv3_1", "conv4_2", "conv5_1")
    for pooling in ("avg", "max"):
        net = VGG19(params, pooling=pooling, dtype="float64")
        x = 40.0 * rng.standard_normal((3, 16, 16))
        R = {k: rng.standard_normal(v.shape) for k, v in net.forward(x, taps).items()}
        cases.append(_network_case(net, x, R, taps, f"VGG19 pooling={pooling}"))
    cases += _winograd_cases(np.random.default_rng(seed + 1000), params, taps)
    cases += _loss_cases(np.random.default_rng(seed + 2000), params)
    return cases


def _loss_cases(rng, params):
    """The losses of eq. 1, 4 and TV (w.r.t. their input), and the whole eq. 7 objective w.r.t. the image."""
    from .losses import content_loss, gram, masked_style_layer_loss, style_layer_loss, tv_loss
    from .transfer import StyleTransfer
    from .vgg import VGG19

    F = np.abs(rng.standard_normal((4, 5, 6)))          # a tap: ReLU outputs are >= 0
    P = np.abs(rng.standard_normal(F.shape))
    A = gram(np.abs(rng.standard_normal((4, 7, 3))))    # a style target from another "image" size
    m = rng.uniform(0, 1, (5, 6))
    img = rng.standard_normal((3, 6, 7))
    cases = [
        Case("content loss (eq. 1/2)", "dF", F.shape,
             lambda: check_gradient(lambda z: content_loss(z, P)[0], F, content_loss(F, P)[1])),
        Case("style layer loss (eq. 4/6)", "dF", F.shape,
             lambda: check_gradient(lambda z: style_layer_loss(z, A)[0], F, style_layer_loss(F, A)[1])),
        Case("masked style layer loss", "dF", F.shape,
             lambda: check_gradient(lambda z: masked_style_layer_loss(z, A, m)[0], F,
                                    masked_style_layer_loss(F, A, m)[1])),
        Case("total variation", "dx", img.shape,
             lambda: check_gradient(lambda z: tv_loss(z)[0], img, tv_loss(img)[1])),
    ]
    for pooling in ("avg", "max"):
        net = VGG19(params, pooling=pooling, dtype="float64")
        content = 40.0 * rng.standard_normal((3, 16, 16))
        styles = [40.0 * rng.standard_normal((3, 16, 20)), 40.0 * rng.standard_normal((3, 18, 16))]
        st = StyleTransfer(net, content, styles, content_layers=("conv4_2",), alpha=1.0, beta=1e3,
                           style_blend=(0.3, 0.7), tv_weight=1e-2)
        x = 40.0 * rng.standard_normal((3, 16, 16))

        def run(st=st, x=x):
            return check_gradient(lambda z: st.loss_and_grad(z)[0], x, st.loss_and_grad(x)[1],
                                  mode="direction", h=1e-3, directions=4)

        cases.append(Case(f"StyleTransfer eq. 7 (2 styles blended, TV) pooling={pooling}", "dx", x.shape, run))
    return cases


def _network_case(net, x, R, taps, label) -> Case:
    """The whole network's dx: the loss sum_k <R[k], tap k> (gradients given at taps of several
    depths at once), its backward against finite differences along random directions.

    Directions, not elements: one loss evaluation is a whole forward pass, so checking every pixel
    would be slow; the network is piecewise linear, so the large step h costs no truncation error.
    """
    def run():
        net.forward(x, taps)
        g = net.backward(R)
        return check_gradient(lambda z: sum(float((v * R[k]).sum()) for k, v in net.forward(z, taps).items()),
                              x, g, mode="direction", h=1e-3, directions=4)

    return Case(f"{label} taps {','.join(taps)}", "dx", x.shape, run)


def _winograd_cases(rng, params, taps):
    """Winograd F(4x4,3x3) and F(2x2,3x3): forward equal to the naive loops, dx (the flipped-kernel
    conv, also Winograd) against finite differences, and the whole network with each algorithm."""
    from .layers.conv import conv2d_naive_forward, conv2d_forward
    from .vgg import VGG19

    cases = []
    for algo in ("winograd", "winograd2"):
        for C, H, W_, O, pad in [(3, 7, 5, 4, 1), (2, 9, 6, 3, 0), (3, 4, 5, 2, 2), (2, 1, 1, 3, 1)]:
            x = rng.standard_normal((C, H, W_))
            W = rng.standard_normal((O, C, 3, 3))
            b = rng.standard_normal(O)

            def fwd_equal(x=x, W=W, b=b, pad=pad, algo=algo):
                got = conv2d_forward(x, W, b, pad, algo)[0]
                want = conv2d_naive_forward(x, W, b, pad)[0]
                return CheckResult(rel_error(got, want), 1e-10, "elements", got.size)

            name = f"conv2d[{algo}] k=3 pad={pad}"
            cases.append(Case(name + " vs naive", "forward", x.shape, fwd_equal))
            cases += [c for c in _conv_cases(rng, algo, C, H, W_, O, 3, pad) if c.what == "dx"]
    for algo in ("winograd", "im2col", "mec"):
        net = VGG19(params, pooling="avg", dtype="float64", conv_algo=algo)
        x = 40.0 * rng.standard_normal((3, 16, 16))
        R = {k: rng.standard_normal(v.shape) for k, v in net.forward(x, taps).items()}
        cases.append(_network_case(net, x, R, taps, f"VGG19[{algo}] pooling=avg"))
    return cases


def main(argv=None) -> int:
    from .cli import ArgumentParser

    parser = ArgumentParser(prog="python -m minivgg.gradcheck",
                            description="Finite-difference checks of every backward pass in minivgg (float64).")
    parser.add_argument("--seed", type=int, default=0, help="seed for the random inputs (default 0)")
    args = parser.parse_args(argv)
    rows, failed = [], 0
    for case in suite_cases(args.seed):
        res = case.run()
        failed += not res.ok
        rows.append((case.layer, case.what, "x".join(map(str, case.shape)), f"{res.max_rel_error:.2e}",
                     "pass" if res.ok else "FAIL"))
    head = ("layer", "grad", "shape", "max rel err", "result")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    print(f"{len(rows) - failed} passed, {failed} failed (tolerance {CheckResult(0, 1e-6, '', 0).tol:.0e})")
    return 1 if failed else 0


if __name__ == "__main__":
    import sys

    from .cli import run_main

    sys.exit(run_main(main, prog="python -m minivgg.gradcheck"))
