"""Layers: naive vs fast agree, conv matches SciPy, every backward passes finite differences."""

import numpy as np
import pytest
from scipy.signal import correlate

from minivgg import gradcheck
from minivgg.gradcheck import check_gradient, check_layer, suite_cases
from minivgg.layers import (avg_pool2d_backward, avg_pool2d_forward, conv2d_backward, conv2d_forward,
                            conv2d_naive_backward, conv2d_naive_forward, max_pool2d_backward,
                            max_pool2d_forward, relu_backward, relu_forward)
from minivgg.layers import conv as conv_module

SHAPES = [(3, 8, 8, 4), (2, 7, 5, 3), (5, 1, 1, 2), (1, 3, 9, 6)]   # (C, H, W, O), odd sizes included


def _conv_inputs(rng, C, H, W, O, dtype, k=3):
    return (rng.standard_normal((C, H, W)).astype(dtype), rng.standard_normal((O, C, k, k)).astype(dtype),
            rng.standard_normal(O).astype(dtype))


@pytest.mark.parametrize("algo", ["im2col", "mec", "direct"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [0, 1])
def test_fast_conv_equals_naive_float32(shape, seed, algo):
    rng = np.random.default_rng(seed)
    x, W, b = _conv_inputs(rng, *shape, np.float32)
    ref, ref_cache = conv2d_naive_forward(x, W, b)
    out, cache = conv2d_forward(x, W, b, algo=algo)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    d = rng.standard_normal(out.shape).astype(np.float32)
    for got, want in zip(conv2d_backward(d, cache, weight_grads=True), conv2d_naive_backward(d, ref_cache)):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("algo", ["naive", "im2col", "mec"])
@pytest.mark.parametrize("k,pad", [(3, 1), (3, 0), (1, 0)])
def test_conv_matches_scipy_correlate(algo, k, pad):
    rng = np.random.default_rng(3)
    x, W, b = _conv_inputs(rng, 3, 6, 7, 4, np.float64, k=k)
    out, _ = conv2d_forward(x, W, b, pad=pad, algo=algo)
    xpad = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    ref = np.stack([sum(correlate(xpad[c], W[o, c], mode="valid") for c in range(3)) + b[o] for o in range(4)])
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("algo,knob", [("im2col", "IM2COL_CHUNK"), ("mec", "MEC_CHUNK")])
def test_chunking_does_not_change_the_result(monkeypatch, algo, knob):
    rng = np.random.default_rng(4)
    x, W, b = _conv_inputs(rng, 3, 11, 9, 5, np.float64)
    whole, _ = conv2d_forward(x, W, b, algo=algo)
    monkeypatch.setattr(conv_module, knob, 11 * 2)      # 2 padded rows a chunk, last chunk short
    np.testing.assert_allclose(conv2d_forward(x, W, b, algo=algo)[0], whole, rtol=1e-13)
    d = rng.standard_normal(whole.shape)
    monkeypatch.setattr(conv_module, knob, 11 * 3)
    dx, dW, db = conv2d_backward(d, conv2d_forward(x, W, b, algo=algo)[1], weight_grads=True)
    for got, want in zip((dx, dW, db), conv2d_naive_backward(d, (x, W, b, 1))):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_fast_backward_skips_weight_gradients_unless_asked(monkeypatch):
    rng = np.random.default_rng(5)
    x, W, b = _conv_inputs(rng, 2, 5, 5, 3, np.float32)
    out, cache = conv2d_forward(x, W, b)

    def boom(*a, **k):
        raise AssertionError("weight gradients computed without being asked")

    monkeypatch.setattr(conv_module, "_weight_grads_im2col", boom)
    dx, dW, db = conv2d_backward(np.ones_like(out), cache)
    assert dW is None and db is None and dx.shape == x.shape


# --- the finite-difference suite, the same cases as `python -m minivgg.gradcheck` -------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradcheck_suite(seed):
    failures = []
    for case in suite_cases(seed):
        res = case.run()
        if not res.ok:
            failures.append(f"{case.layer} {case.what} {case.shape}: {res.max_rel_error:.2e}")
    assert not failures, failures


def test_checker_catches_a_wrong_gradient():
    """A deliberately wrong backward (unflipped kernel) must fail the check, or the suite proves nothing."""
    rng = np.random.default_rng(6)
    x, W, b = _conv_inputs(rng, 2, 5, 6, 3, np.float64)

    def wrong_backward(d):
        return conv_module.conv2d_im2col(d, np.ascontiguousarray(W.transpose(1, 0, 2, 3)), None, 1)

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


# --- pooling and relu details ----------------------------------------------------------------

def test_pooling_odd_sizes_drop_the_last_row_and_column():
    x = np.arange(3 * 5 * 7, dtype=np.float64).reshape(3, 5, 7)
    for fwd, bwd in [(avg_pool2d_forward, avg_pool2d_backward), (max_pool2d_forward, max_pool2d_backward)]:
        out, cache = fwd(x)
        assert out.shape == (3, 2, 3)
        dx = bwd(np.ones_like(out), cache)
        assert dx.shape == x.shape
        assert not dx[:, 4, :].any() and not dx[:, :, 6].any()
    np.testing.assert_allclose(avg_pool2d_forward(x)[0][0, 0, 0], (0 + 1 + 7 + 8) / 4)
    np.testing.assert_allclose(max_pool2d_forward(x)[0][0, 0, 0], 8)


@pytest.mark.parametrize("shape", [(3, 8, 8), (2, 5, 7), (1, 2, 3)])
def test_avg_pool_equals_the_window_mean_and_spreads_quarters_back(shape):
    """The fast pairwise-add forward and repeat backward against the plain definitions."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape).astype(np.float32)
    C, H, W = shape
    H2, W2 = H // 2, W // 2
    want = x[:, :2 * H2, :2 * W2].reshape(C, H2, 2, W2, 2).mean(axis=(2, 4))
    out, cache = avg_pool2d_forward(x)
    np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-6)
    assert out.dtype == np.float32
    d = rng.standard_normal(out.shape).astype(np.float32)
    dx = avg_pool2d_backward(d, cache)
    for y in range(H):
        for xx in range(W):
            inside = y < 2 * H2 and xx < 2 * W2
            assert dx[0, y, xx] == (d[0, y // 2, xx // 2] / 4 if inside else 0)


@pytest.mark.parametrize("shape", [(2, 6, 8), (3, 5, 7)])
def test_max_pool_equals_a_loop_over_windows_with_many_ties(shape):
    rng = np.random.default_rng(6)
    x = rng.integers(0, 3, shape).astype(np.float32)          # values 0, 1, 2: ties everywhere
    out, cache = max_pool2d_forward(x)
    d = rng.standard_normal(out.shape).astype(np.float32)
    dx = max_pool2d_backward(d, cache)
    want_dx = np.zeros_like(x)
    for c in range(shape[0]):
        for i in range(shape[1] // 2):
            for j in range(shape[2] // 2):
                win = x[c, 2 * i:2 * i + 2, 2 * j:2 * j + 2].ravel()
                assert out[c, i, j] == win.max()
                k = int(np.argmax(win))                          # the first maximum, row-major
                want_dx[c, 2 * i + k // 2, 2 * j + k % 2] = d[c, i, j]
    np.testing.assert_array_equal(dx, want_dx)


def test_max_pool_ties_go_to_the_first_maximum():
    x = np.ones((1, 2, 2))
    out, cache = max_pool2d_forward(x)
    dx = max_pool2d_backward(np.full((1, 1, 1), 5.0), cache)
    np.testing.assert_array_equal(dx[0], [[5.0, 0.0], [0.0, 0.0]])


def test_relu_gradient_is_zero_at_zero_and_below():
    x = np.array([-1.0, 0.0, 2.0])
    out, cache = relu_forward(x)
    np.testing.assert_array_equal(out, [0, 0, 2])
    np.testing.assert_array_equal(relu_backward(np.ones(3), cache), [0, 0, 1])


def test_pooling_too_small_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot 2x2-pool"):
        avg_pool2d_forward(np.ones((1, 1, 4)))


def test_gradcheck_suite_covers_every_layer_the_network_and_the_losses():
    """Every backward is finite-difference checked here, incl. the suite's chain_forward/chain_backward."""
    names = " ".join(c.layer for c in suite_cases(0))
    for part in ("conv2d[naive]", "conv2d[im2col]", "conv2d[winograd]", "relu", "avg_pool2d", "max_pool2d",
                 "conv-relu-pool-conv-relu", "VGG19 pooling=avg", "VGG19 pooling=max", "content loss",
                 "style layer loss", "masked style", "total variation", "StyleTransfer eq. 7"):
        assert part in names, part


def test_gradcheck_cli_prints_the_table_and_exits_0(capsys):
    assert gradcheck.main([]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["layer", "grad", "shape"]
    assert "FAIL" not in out and out.rstrip().endswith("(tolerance 1e-06)")
