"""The gradient checker: its suite passes, it catches wrong gradients, its command line explains itself."""

import numpy as np
import pytest

from minivgg import gradcheck
from minivgg.gradcheck import check_gradient, check_layer, suite_cases
from minivgg.layers import conv2d_forward, relu_forward
from minivgg.layers.conv import conv2d_naive_forward

# --- the finite-difference suite, the same cases as `python -m minivgg.gradcheck` -------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradcheck_suite(seed):
    failures = []
    for case in suite_cases(seed):
        res = case.run()
        if not res.ok:
            failures.append(f"{case.layer} {case.what} {case.shapes}: {res.max_rel_error:.2e}")
    assert not failures, failures


def test_checker_catches_a_wrong_gradient():
    """A deliberately wrong backward (unflipped kernel) must fail the check, or the suite proves nothing."""
    rng = np.random.default_rng(6)
    x, W, b = rng.standard_normal((2, 5, 6)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)

    def wrong_backward(d):
        return conv2d_naive_forward(d, np.ascontiguousarray(W.transpose(1, 0, 2, 3)), np.zeros(2), 1)[0]

    res = check_layer(lambda z: conv2d_forward(z, W, b)[0], wrong_backward, x)
    assert not res.ok and res.max_rel_error > 1e-2
    # ... and a relu that lets the gradient through everywhere
    x = gradcheck._relu_input(rng, (2, 4, 4))
    res = check_layer(lambda z: relu_forward(z)[0], lambda d: d, x)
    assert not res.ok


def test_check_gradient_direction_mode_catches_scaling_error():
    x = np.random.default_rng(7).standard_normal((3, 4))
    assert check_gradient(lambda z: float((z ** 2).sum()), x, 2 * x, mode="direction").ok
    assert not check_gradient(lambda z: float((z ** 2).sum()), x, 2.01 * x, mode="direction").ok


def test_gradcheck_needs_float64():
    with pytest.raises(ValueError):
        check_gradient(lambda z: float(z.sum()), np.ones(3, np.float32), np.ones(3, np.float32))


def test_gradcheck_suite_covers_every_layer_every_algorithm_the_network_and_the_losses():
    """Every backward is finite-difference checked, every conv algorithm held to the loops, one row each."""
    cases = suite_cases(0)
    names = " ".join(c.layer for c in cases)
    for part in ("conv2d_naive_*", "conv2d_* (im2col", "conv2d dx: the loops = eq. 2", "relu", "avg_pool2d",
                 "max_pool2d", "conv-relu-pool-conv-relu", "VGG19 pooling=avg", "VGG19 pooling=max", "content loss",
                 "style layer loss", "masked style", "total variation", "StyleTransfer eq. 7"):
        assert part in names, part
    for algo in ("im2col", "mec", "shiftadd", "winograd", "winograd2"):
        rows = [c for c in cases if c.layer.startswith(f"conv[{algo}]")]
        assert [c.what for c in rows] == ["forward", "dx"], algo         # grouped: one row per check
        assert len(rows[1].shapes) == 4
    for book in ("conv2d_naive_* (loops)", "conv2d_* (im2col, dx by eq. 2)"):
        assert [c.what for c in cases if c.layer == book] == ["dx", "dW", "db"]
    assert len(cases) < 40


def test_gradcheck_cli_prints_a_legend_and_the_table_and_exits_0(capsys):
    assert gradcheck.main([]) == 0
    out = capsys.readouterr().out
    legend, table = out.split("\n\n", 1)
    for word in ("rel err", "central difference", "h ", "elements", "direction", "equal", "random_params", "+3"):
        assert word in legend, word
    lines = table.splitlines()
    assert lines[0].split() == ["layer", "grad", "shape", "mode", "h", "rel", "err", "result"]
    assert "FAIL" not in table and table.rstrip().endswith("(tolerance 1e-06)")
    assert any("+3" in line and "conv[mec]" in line for line in lines)
