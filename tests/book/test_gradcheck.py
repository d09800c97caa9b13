"""The gradient checker: its suite passes, it catches wrong gradients, its command line explains itself,
and ``--mine`` checks a learner's own layer functions."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from minivgg import gradcheck
from minivgg.gradcheck import check_gradient, check_layer, suite_cases
from minivgg.layers import conv2d_forward, relu_forward
from minivgg.layers.conv import conv2d_naive_backward_dx, conv2d_naive_forward

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


# --- --mine: check your own backward -----------------------------------------------------------

RIGHT = '''
import numpy as np

def relu_forward(x):
    out = np.maximum(x, 0)
    return out, out

def relu_backward(dout, cache):
    return dout * (cache > 0)

def avg_pool2d_forward(x):
    C, H, W = x.shape
    w = x[:, :H // 2 * 2, :W // 2 * 2].reshape(C, H // 2, 2, W // 2, 2)
    return w.mean(axis=(2, 4)), x.shape

def avg_pool2d_backward(dout, cache):
    dx = np.zeros(cache)
    dx[:, :2 * dout.shape[1], :2 * dout.shape[2]] = np.repeat(np.repeat(dout, 2, 1), 2, 2) / 4
    return dx

def conv2d_naive_forward(x, W, b, pad=1):
    O, C, k, _ = W.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    Ho, Wo = xp.shape[1] - k + 1, xp.shape[2] - k + 1
    out = np.empty((O, Ho, Wo))
    for o in range(O):
        for i in range(Ho):
            for j in range(Wo):
                out[o, i, j] = (xp[:, i:i + k, j:j + k] * W[o]).sum() + b[o]
    return out, (x, W, b, pad)

def conv2d_naive_backward(dout, cache):
    x, W, b, pad = cache
    O, C, k, _ = W.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    dxp, dW = np.zeros_like(xp), np.zeros_like(W)
    for o in range(O):
        for i in range(dout.shape[1]):
            for j in range(dout.shape[2]):
                dxp[:, i:i + k, j:j + k] += dout[o, i, j] * W[o]
                dW[o] += dout[o, i, j] * xp[:, i:i + k, j:j + k]
    return dxp[:, pad:xp.shape[1] - pad, pad:xp.shape[2] - pad], dW, dout.sum(axis=(1, 2))

def gram(F):
    F = F.reshape(F.shape[0], -1)
    return F @ F.T

def gram_backward(dG, F):
    return ((dG + dG.T) @ F.reshape(F.shape[0], -1)).reshape(F.shape)
'''


def _mine(tmp_path, capsys, source, name="mine.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    from helpers import call_cli

    return call_cli(gradcheck.main, ["--mine", str(path)], capsys, prog="python -m minivgg.gradcheck")


def test_mine_passes_right_functions(tmp_path, capsys):
    rc, out, err = _mine(tmp_path, capsys, RIGHT)
    assert rc == 0, out + err
    lines = out.splitlines()
    checked = [line.split()[:3] for line in lines if line.split() and line.split()[0] in RIGHT]
    assert ["conv2d_naive_backward", "dW", "right"] in checked and ["gram_backward", "dF", "right"] in checked
    assert ["avg_pool2d_backward", "dx", "right"] in checked and ["relu_forward", "out", "right"] in checked
    assert "WRONG" not in out and lines[-1] == "10 right, 0 wrong"
    assert "not checked: conv2d_forward, conv2d_backward, max_pool2d_forward" in out


def test_mine_names_the_first_wrong_element(tmp_path, capsys):
    """A deliberately wrong backward -- the kernel not flipped back (dx) and dG^T forgotten (Gram) -- is
    caught, and the first wrong element named with the value expected and the value got."""
    wrong = RIGHT.replace("dxp[:, i:i + k, j:j + k] += dout[o, i, j] * W[o]",
                          "dxp[:, i:i + k, j:j + k] += dout[o, i, j] * W[o, :, ::-1, ::-1]")
    wrong = wrong.replace("(dG + dG.T) @ F", "dG @ F")
    rc, out, err = _mine(tmp_path, capsys, wrong)
    assert rc == 1, out + err
    bad = [line for line in out.splitlines() if "WRONG" in line]
    assert [line.split()[:2] for line in bad] == [["conv2d_naive_backward", "dx"], ["gram_backward", "dF"]]
    assert "first wrong element dx[0, 0, 0]: expected " in bad[0] and ", got " in bad[0]
    assert "finite difference" in bad[0]
    # the numbers named are the real ones
    rng = np.random.default_rng(0)
    rng.standard_normal((2, 5, 6))                                      # x, as --mine draws its inputs
    W = rng.standard_normal((3, 2, 3, 3))
    rng.standard_normal(3)                                              # b
    r = rng.standard_normal((3, 5, 6))
    assert f"expected {conv2d_naive_backward_dx(r, W, 1)[0, 0, 0]:.6g}," in bad[0]
    assert out.splitlines()[-1] == "8 right, 2 wrong"


def test_mine_catches_a_wrong_forward_and_a_backward_that_raises(tmp_path, capsys):
    source = RIGHT.replace("return out, out", "return out * 1.5, out").replace(
        "return dout * (cache > 0)", "return dout * cache.missing")
    rc, out, _ = _mine(tmp_path, capsys, source)
    assert rc == 1
    assert any(line.startswith("relu_forward") and "WRONG" in line and "first wrong element out[" in line
               for line in out.splitlines())
    assert any(line.startswith("relu_backward") and "raised AttributeError" in line for line in out.splitlines())


@pytest.mark.parametrize("source,message", [
    (None, "no such file"),
    ("def relu_forward(x) return x\n", "importing it failed: SyntaxError"),
    ("import not_a_module_anywhere\n", "importing it failed: ModuleNotFoundError"),
    ("x = 1\n", "defines none of the functions checked here"),
])
def test_mine_missing_or_broken_file_is_one_line(tmp_path, capsys, source, message):
    path = tmp_path / "mine.py"
    if source is not None:
        path.write_text(source)
    from helpers import call_cli

    rc, out, err = call_cli(gradcheck.main, ["--mine", str(path)], capsys, prog="python -m minivgg.gradcheck")
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_mine_from_the_command_line(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text(RIGHT.replace("(dG + dG.T) @ F", "dG @ F"))
    p = subprocess.run([sys.executable, "-m", "minivgg.gradcheck", "--mine", str(path)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and "gram_backward          dF   WRONG" in p.stdout and p.stderr == ""
