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

Run ``python -m minivgg.gradcheck`` for the table over every layer, the network and the losses
(a legend above it says how to read it).

Check your own backward
-----------------------
``python -m minivgg.gradcheck --mine FILE.py`` imports FILE.py and checks every function in it
that has one of these names, with minivgg's signature (the layers of :mod:`minivgg.layers`, the
Gram matrix of :mod:`minivgg.losses`)::

    conv2d_naive_forward(x, W, b, pad) -> (out, cache)   x: (C, H, W), W: (O, C, k, k), b: (O,)
    conv2d_naive_backward(dout, cache) -> (dx, dW, db)
    conv2d_forward(x, W, b, pad) -> (out, cache)         (the same pair, any algorithm)
    conv2d_backward(dout, cache) -> (dx, dW, db)
    relu_forward(x) -> (out, cache)                      x: any shape
    relu_backward(dout, cache) -> dx
    avg_pool2d_forward(x) -> (out, cache)                x: (C, H, W) -> out: (C, H//2, W//2)
    avg_pool2d_backward(dout, cache) -> dx
    max_pool2d_forward(x) -> (out, cache)
    max_pool2d_backward(dout, cache) -> dx
    gram(F) -> G                                         F: (N, H, W) or (N, M) -> G: (N, N)
    gram_backward(dG, F) -> dF

The cache is yours: a backward gets what your forward returned (a backward without its forward in
the file gets minivgg's forward's cache). On small random float64 inputs, a forward is compared
with minivgg's, and each gradient a backward returns with finite differences of the true layer
and with minivgg's backward; the first wrong element is named (index, expected, got). Exit status
0 if everything is right, 1 if anything is wrong, 2 if FILE.py is missing, fails to import or
defines none of the names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .app.cli import error_line
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
    h: float | None = None     # the finite-difference step (None: not a finite difference)

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
        return CheckResult(err, tol, mode, n if idx is None else len(idx), h)
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
        return CheckResult(worst, tol, mode, directions, h)
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

TOL = 1e-6           # a right backward pass shows ~1e-8 or less here, a wrong one ~1e-2 and more
EQUAL_TOL = 1e-10    # two computations of the same numbers in float64 (an algorithm vs the loops)

# (C, H, W, O, k, pad): odd sizes, a 1x1 kernel, pads 0 and 1
CONV_SHAPES = [(3, 7, 5, 4, 3, 1), (2, 6, 6, 3, 3, 1), (2, 5, 4, 2, 3, 0), (3, 4, 5, 2, 1, 0)]
# Winograd's: 3x3 only, ragged tiles, pad 2, and a map smaller than one tile
WINOGRAD_SHAPES = [(3, 7, 5, 4, 3, 1), (2, 9, 6, 3, 3, 0), (3, 4, 5, 2, 3, 2), (2, 1, 1, 3, 3, 1)]
# The engine room's algorithms, by the conv_algo that selects each alone (the policies "direct"
# and "auto" choose among them; the VGG19 rows run "auto").
FAST_ALGOS = {"im2col": CONV_SHAPES, "mec": CONV_SHAPES, "shiftadd": CONV_SHAPES,
              "winograd": WINOGRAD_SHAPES, "winograd2": WINOGRAD_SHAPES}


@dataclass
class Case:
    """One row: ``run()`` -> CheckResult for the gradient ``what`` of ``layer``, the worst over ``shapes``."""

    layer: str
    what: str
    shapes: list
    run: object


def _worst(results) -> CheckResult:
    """One row's result from the checks of its shapes: the worst of them."""
    worst = max(results, key=lambda r: r.max_rel_error / r.tol)
    return CheckResult(worst.max_rel_error, worst.tol, worst.mode, sum(r.probes for r in results), worst.h)


def _equal(got, want) -> CheckResult:
    return CheckResult(rel_error(got, want), EQUAL_TOL, "equal", int(np.size(got)))


def _conv_problems(rng, shapes):
    """``(x, W, b, pad, r)`` for each (C, H, W, O, k, pad); r weights the outputs in L = sum(out * r)."""
    problems = []
    for C, H, W_, O, k, pad in shapes:
        x, W, b = rng.standard_normal((C, H, W_)), rng.standard_normal((O, C, k, k)), rng.standard_normal(O)
        problems.append((x, W, b, pad, rng.standard_normal((O, H + 2 * pad - k + 1, W_ + 2 * pad - k + 1))))
    return problems


def _book_conv_cases(rng):
    """The book's two forward/backward pairs (dx, dW, db against finite differences of L = sum(out * r)),
    and the book's two views of dx: the loops and eq. (2), the flipped-kernel convolution."""
    from .layers.conv import (
        conv2d_backward,
        conv2d_backward_dx,
        conv2d_forward,
        conv2d_naive_backward,
        conv2d_naive_backward_dx,
        conv2d_naive_forward,
    )

    cases = []
    for label, fwd, bwd, shapes in [("conv2d_naive_* (loops)", conv2d_naive_forward, conv2d_naive_backward,
                                     CONV_SHAPES[:2]),
                                    ("conv2d_* (im2col, dx by eq. 2)", conv2d_forward, conv2d_backward, CONV_SHAPES)]:
        problems = _conv_problems(rng, shapes)
        for i, what in enumerate(("dx", "dW", "db")):
            def run(fwd=fwd, bwd=bwd, problems=problems, i=i):
                results = []
                for x, W, b, pad, r in problems:
                    args = [x, W, b]
                    grad = bwd(r, fwd(x, W, b, pad)[1])[i]

                    def loss(z, args=args, pad=pad, r=r):
                        return float((fwd(*(z if j == i else a for j, a in enumerate(args)), pad)[0] * r).sum())

                    results.append(check_gradient(loss, args[i], grad))
                return _worst(results)

            cases.append(Case(label, what, [p[i].shape for p in problems], run))
    problems = _conv_problems(rng, CONV_SHAPES)
    cases.append(Case("conv2d dx: the loops = eq. 2", "dx", [p[0].shape for p in problems], lambda: _worst(
        [_equal(conv2d_backward_dx(r, W, pad), conv2d_naive_backward_dx(r, W, pad)) for x, W, b, pad, r in problems])))
    return cases


def _fast_conv_cases(rng):
    """Each engine-room algorithm as the network gets it (a layer from ``conv_layers``): its forward
    equal to the loops, its dx (eq. 2 by that algorithm) against finite differences."""
    from .layers.conv import conv2d_naive_forward
    from .vgg import conv_layers  # the network's own call: conv_algo -> layer objects

    cases = []
    for algo, shapes in FAST_ALGOS.items():
        problems = _conv_problems(rng, shapes)
        layers = [conv_layers({"conv": (W, b)}, algo, pad)["conv"] for x, W, b, pad, r in problems]

        def forward(problems=problems, layers=layers):
            return _worst([_equal(layer.forward(x)[0], conv2d_naive_forward(x, W, b, pad)[0])
                           for layer, (x, W, b, pad, r) in zip(layers, problems, strict=True)])

        def dx(problems=problems, layers=layers):
            results = []
            for layer, (x, _, _, _, r) in zip(layers, problems, strict=True):
                analytic = layer.backward_dx(r, layer.forward(x)[1])
                results.append(check_gradient(lambda z, layer=layer, r=r: float((layer.forward(z)[0] * r).sum()),
                                              x, analytic))
            return _worst(results)

        shapes_x = [p[0].shape for p in problems]
        cases += [Case(f"conv[{algo}] (engine room)", "forward", shapes_x, forward),
                  Case(f"conv[{algo}] (engine room)", "dx", shapes_x, dx)]
    return cases


def _relu_input(rng, shape):
    """Random values kept away from 0, where ReLU has a kink that a finite difference would straddle."""
    x = rng.standard_normal(shape)
    return x + 0.1 * np.sign(x)


def suite_cases(seed: int = 0):
    """Every gradient check of the package (float64, small random inputs), in reading order."""
    from .architecture import random_params
    from .layers import (
        avg_pool2d_backward,
        avg_pool2d_forward,
        conv2d_backward,
        conv2d_forward,
        max_pool2d_backward,
        max_pool2d_forward,
        relu_backward,
        relu_forward,
    )
    from .vgg import VGG19

    rng = np.random.default_rng(seed)

    def fwd(f):
        return lambda z: f(z)[0]

    x = _relu_input(rng, (3, 5, 7))
    cases = [Case("relu", "dx", [x.shape], lambda x=x: check_layer(
        fwd(relu_forward), lambda d: relu_backward(d, relu_forward(x)[1]), x))]
    for name, pf, pb in [("avg_pool2d", avg_pool2d_forward, avg_pool2d_backward),
                         ("max_pool2d", max_pool2d_forward, max_pool2d_backward)]:
        xs = [rng.standard_normal((3, H, W_)) for H, W_ in [(6, 8), (7, 5)]]
        cases.append(Case(name, "dx", [x.shape for x in xs], lambda xs=xs, pf=pf, pb=pb: _worst(
            [check_layer(fwd(pf), lambda d, x=x: pb(d, pf(x)[1]), x) for x in xs])))
    cases += _book_conv_cases(rng)

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
    cases.append(Case("conv-relu-pool-conv-relu", "dx", [x.shape],
                      lambda: check_layer(fwd(chain_forward), chain_backward, x, h=1e-3)))
    cases += _fast_conv_cases(rng)

    # The whole network: gradients given at taps of several depths, carried to the image at once.
    params = random_params(seed=seed)
    taps = ("conv1_1", "conv2_2", "conv3_1", "conv4_2", "conv5_1")
    for pooling, algo in [("avg", None), ("max", None), ("avg", "winograd"), ("avg", "im2col"), ("avg", "mec")]:
        net = VGG19(params, pooling=pooling, dtype="float64", conv_algo=algo)
        x = 40.0 * rng.standard_normal((3, 16, 16))
        R = {k: rng.standard_normal(v.shape) for k, v in net.forward(x, taps).items()}
        label = f"VGG19[{net.conv_algo}] pooling={pooling}" if algo else f"VGG19 pooling={pooling}"
        cases.append(_network_case(net, x, R, taps, label))
    cases += _loss_cases(np.random.default_rng(seed + 2000), params)
    return cases


def _loss_cases(rng, params):
    """The losses of eq. 1, 4 and TV (w.r.t. their input), and the whole eq. 7 objective w.r.t. the image."""
    from .losses import content_loss, gram, masked_style_layer_loss, style_layer_loss, tv_loss
    from .objective import StyleTransfer
    from .vgg import VGG19

    F = np.abs(rng.standard_normal((4, 5, 6)))          # a tap: ReLU outputs are >= 0
    P = np.abs(rng.standard_normal(F.shape))
    A = gram(np.abs(rng.standard_normal((4, 7, 3))))    # a style target from another "image" size
    m = rng.uniform(0, 1, (5, 6))
    img = rng.standard_normal((3, 6, 7))
    cases = [
        Case("content loss (eq. 1/2)", "dF", [F.shape],
             lambda: check_gradient(lambda z: content_loss(z, P)[0], F, content_loss(F, P)[1])),
        Case("style layer loss (eq. 4/6)", "dF", [F.shape],
             lambda: check_gradient(lambda z: style_layer_loss(z, A)[0], F, style_layer_loss(F, A)[1])),
        Case("masked style layer loss", "dF", [F.shape],
             lambda: check_gradient(lambda z: masked_style_layer_loss(z, A, m)[0], F,
                                    masked_style_layer_loss(F, A, m)[1])),
        Case("total variation", "dx", [img.shape],
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

        cases.append(Case(f"StyleTransfer eq. 7 (2 styles blended, TV) pooling={pooling}", "dx", [x.shape], run))
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

    return Case(label, "dx", [x.shape], run)


LEGEND = f"""\
Finite-difference checks of every backward pass in minivgg, float64, small random inputs.
  rel err  max over the checked elements of |a - n| / max(|a|, |n|, 1e-3 * the largest |a|, |n|):
           a is the backward pass's gradient, n the central difference (L(x + h e) - L(x - h e)) / 2h
           of a scalar loss L (for a layer, L = sum(output * r), r random). A right backward shows
           ~1e-8 or less, a wrong one ~1e-2 and more. Pass: rel err <= {TOL:.0e}.
  h        the step: 1e-5; 1e-3 through chains and networks, which are piecewise linear, so a large
           step costs no truncation error and keeps the rounding error of the summed loss small.
  mode     elements: each element (at most 200, picked at random) nudged on its own;
           direction: the whole input nudged along 4 random unit directions, n compared with <a, d>;
           equal: no finite difference, an algorithm's output against the loops' (pass: <= {EQUAL_TOL:.0e}).
  shape    the input checked; "+3": the row checks 3 more shapes (odd sizes, pads 0..2) and shows the worst.
  VGG19    rows: the whole network, gradients given at taps conv1_1, conv2_2, conv3_1, conv4_2, conv5_1
           at once; [algo]: its conv_algo, else the default. Small random weights
           (minivgg.architecture.random_params: block widths 4, 6, 6, 8, 8) and a 16 x 16 image, not the
           real network: the same code, in seconds.
"""


def _shape_text(shapes) -> str:
    text = "x".join(map(str, shapes[0]))
    return text if len(shapes) == 1 else f"{text} +{len(shapes) - 1}"


def run_suite(seed: int = 0) -> int:
    """Print the legend and the table of :func:`suite_cases`; the number of failed rows."""
    print(LEGEND)
    rows, failed = [], 0
    for case in suite_cases(seed):
        res = case.run()
        failed += not res.ok
        h = "-" if res.h is None else f"{res.h:.0e}"
        rows.append((case.layer, case.what, _shape_text(case.shapes), res.mode, h, f"{res.max_rel_error:.2e}",
                     "pass" if res.ok else "FAIL"))
    head = ("layer", "grad", "shape", "mode", "h", "rel err", "result")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    print(f"{len(rows) - failed} passed, {failed} failed (tolerance {TOL:.0e})")
    return failed


# ----------------------------------------------------------------------------------------------
# --mine FILE.py: a learner's own layer functions against finite differences and against minivgg
# ----------------------------------------------------------------------------------------------

# (forward, backward, the gradients the backward returns, the inputs): the names and signatures
# of the module docstring.
MINE_PAIRS = [
    ("conv2d_naive_forward", "conv2d_naive_backward", ("dx", "dW", "db"), "conv"),
    ("conv2d_forward", "conv2d_backward", ("dx", "dW", "db"), "conv"),
    ("relu_forward", "relu_backward", ("dx",), "relu"),
    ("avg_pool2d_forward", "avg_pool2d_backward", ("dx",), "pool"),
    ("max_pool2d_forward", "max_pool2d_backward", ("dx",), "pool"),
    ("gram", "gram_backward", ("dF",), "gram"),
]


def _mine_inputs(kind: str, rng) -> list:
    """The forward's arguments: its arrays first (one per gradient), then the rest (conv's pad)."""
    if kind == "conv":
        return [rng.standard_normal((2, 5, 6)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3), 1]
    if kind == "relu":
        return [_relu_input(rng, (2, 4, 5))]
    if kind == "pool":
        return [rng.standard_normal((2, 6, 7))]        # odd width: the last column drops out
    return [rng.standard_normal((3, 4, 5))]


def _call_forward(f, kind: str, args):
    """``(out, cache)`` of a forward, on copies of its arguments (it may write into them).
    gram returns G alone, and its backward takes F: that F is its "cache"."""
    args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    return (f(*args), args[0]) if kind == "gram" else f(*args)


def _first_wrong(got, want, tol: float):
    """``(index, want, got)`` of the first element (C order) off by more than ``tol`` relative, or None.

    Relative as in :func:`rel_error`, with the floor 1e-3 * max |want| (want's scale, not got's: a
    wild ``got`` must not excuse itself).
    """
    floor = max(1e-3 * float(np.abs(want).max(initial=0.0)), 1e-30)
    err = np.abs(got - want) / np.maximum(np.maximum(np.abs(got), np.abs(want)), floor)
    bad = np.argwhere(~(err <= tol))            # NaN counts as wrong
    if not len(bad):
        return None
    i = tuple(int(v) for v in bad[0])
    return i, float(want[i]), float(got[i])


def _reference(name: str):
    from . import layers, losses

    return getattr(layers, name, None) or getattr(losses, name)


def check_mine(module, seed: int = 0, tol: float = TOL, h: float = 1e-5):
    """Check the functions ``module`` defines with minivgg's names (module docstring).

    Returns ``(lines, wrong, checked)``: one report line per check, how many were wrong, how many ran.
    """
    lines, wrong, checked = [], 0, 0

    def report(name, what, ok, text):
        nonlocal wrong, checked
        checked += 1
        wrong += not ok
        lines.append(f"{name:22} {what:4} {'right' if ok else 'WRONG'}  {text}")

    for fwd_name, bwd_name, grads, kind in MINE_PAIRS:
        my_f, my_b = getattr(module, fwd_name, None), getattr(module, bwd_name, None)
        if not callable(my_f) and not callable(my_b):
            continue
        rng = np.random.default_rng(seed)
        args = _mine_inputs(kind, rng)
        ref_f, ref_b = _reference(fwd_name), _reference(bwd_name)
        want_out, _ = _call_forward(ref_f, kind, args)
        cache = None
        if callable(my_f):
            try:
                out, cache = _call_forward(my_f, kind, args)
                out = np.asarray(out)
            except Exception as exc:                       # noqa: BLE001 -- their bug, reported as such
                report(fwd_name, "out", False, f"raised {type(exc).__name__}: {error_line(exc)}")
                if callable(my_b):
                    lines.append(f"{bwd_name:22} {'':4} not checked: its forward failed")
                continue
            if out.shape != want_out.shape:
                report(fwd_name, "out", False, f"has shape {out.shape}, expected {want_out.shape}")
            else:
                bad = _first_wrong(out, want_out, tol)
                report(fwd_name, "out", bad is None, "= minivgg's forward" if bad is None else
                       f"first wrong element out{list(bad[0])}: expected {bad[1]:.6g}, got {bad[2]:.6g}")
        if not callable(my_b):
            continue
        if cache is None:
            cache = _call_forward(ref_f, kind, args)[1]
        r = rng.standard_normal(want_out.shape)
        try:
            got = my_b(r.copy(), cache)
            got = tuple(got) if len(grads) > 1 else (got,)
            if len(got) != len(grads):
                raise ValueError(f"returned {len(got)} values, expected {len(grads)} ({', '.join(grads)})")
        except Exception as exc:                           # noqa: BLE001
            report(bwd_name, ",".join(grads), False, f"raised {type(exc).__name__}: {error_line(exc)}")
            continue
        want = ref_b(r.copy(), _call_forward(ref_f, kind, args)[1])
        want = tuple(want) if len(grads) > 1 else (want,)
        for i, what in enumerate(grads):
            g = np.asarray(got[i]) if got[i] is not None else None
            if g is None or g.shape != args[i].shape:
                report(bwd_name, what, False, f"has shape {None if g is None else g.shape}, expected {args[i].shape}")
                continue

            def loss(z, i=i, ref_f=ref_f, kind=kind, args=args, r=r):
                inputs = [z if j == i else a for j, a in enumerate(args)]
                return float((np.asarray(_call_forward(ref_f, kind, inputs)[0]) * r).sum())

            numeric = numerical_gradient(loss, args[i].copy(), h=h)
            bad = _first_wrong(g, to_numpy(want[i]), tol)
            err = rel_error(g, numeric)
            if bad is None and err <= tol:
                report(bwd_name, what, True, f"rel err {err:.1e} against finite differences, = minivgg's")
            elif bad is None:
                report(bwd_name, what, False, f"rel err {err:.1e} against finite differences, though = minivgg's")
            else:
                report(bwd_name, what, False, f"rel err {err:.1e} against finite differences; first wrong element "
                       f"{what}{list(bad[0])}: expected {bad[1]:.6g}, got {bad[2]:.6g} "
                       f"(finite difference {float(numeric[bad[0]]):.6g})")
    return lines, wrong, checked


def load_mine(path):
    """Import the file at ``path`` as a module; a UsageError (one line) if it is missing or fails to import."""
    import importlib.util
    import sys

    from .errors import UsageError

    p = Path(path)
    if not p.is_file():
        raise UsageError(f"--mine {path}: no such file")
    spec = importlib.util.spec_from_file_location(f"_mine_{abs(hash(str(p.resolve())))}", p)
    if spec is None or spec.loader is None:
        raise UsageError(f"--mine {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(p.resolve().parent))            # so that it can import its neighbours
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:                  # noqa: BLE001 -- any failure of theirs, one line
        raise UsageError(f"--mine {path}: importing it failed: {type(exc).__name__}: {error_line(exc)}") from None
    finally:
        sys.path.remove(str(p.resolve().parent))
    return module


def run_mine(path, seed: int = 0) -> int:
    """``--mine FILE.py``: print one line per check; 0 if all are right, 1 if any is wrong."""
    from .errors import UsageError

    module = load_mine(path)
    lines, wrong, checked = check_mine(module, seed)
    if not checked:
        names = ", ".join(n for f, b, _, _ in MINE_PAIRS for n in (f, b))
        raise UsageError(f"--mine {path} defines none of the functions checked here: {names}")
    print(f"{path} against minivgg: float64, small random inputs, finite differences with h = 1e-05;\n"
          f"wrong = a relative error above {TOL:.0e}")
    print("\n".join(lines))
    missing = [n for f, b, _, _ in MINE_PAIRS for n in (f, b) if not callable(getattr(module, n, None))]
    if missing:
        print(f"not defined in {Path(path).name}, not checked: {', '.join(missing)}")
    print(f"{checked - wrong} right, {wrong} wrong")
    return 1 if wrong else 0


def main(argv=None) -> int:
    from .app.cli import ArgumentParser

    parser = ArgumentParser(prog="python -m minivgg.gradcheck",
                            description="Finite-difference checks of every backward pass in minivgg (float64), "
                                        "or of your own (--mine).")
    parser.add_argument("--seed", type=int, default=0, help="seed for the random inputs (default 0)")
    parser.add_argument("--mine", metavar="FILE.py",
                        help="check the layer functions FILE.py defines with minivgg's names and signatures "
                             "(conv2d_forward/backward, relu_*, avg_pool2d_*, max_pool2d_*, gram/gram_backward; "
                             "see the module docstring) and name the first wrong element")
    args = parser.parse_args(argv)
    if args.mine is not None:
        return run_mine(args.mine, args.seed)
    return 1 if run_suite(args.seed) else 0


if __name__ == "__main__":
    import sys

    from .app.cli import run_main

    sys.exit(run_main(main, prog="python -m minivgg.gradcheck"))
