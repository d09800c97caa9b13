"""The book's layers: the conv loops and im2col agree (with each other and with SciPy), dx's two views
agree, pooling and ReLU details. Their finite-difference checks are tests/test_gradcheck.py's; the
engine room's algorithms are tested against these in tests/test_fast_conv.py."""

import numpy as np
import pytest
from scipy.signal import correlate

from minivgg.layers import (
    FrozenConv2d,
    avg_pool2d_backward,
    avg_pool2d_forward,
    conv2d_backward,
    conv2d_backward_dx,
    conv2d_forward,
    conv2d_naive_backward,
    conv2d_naive_backward_dx,
    conv2d_naive_forward,
    max_pool2d_backward,
    max_pool2d_forward,
    relu_backward,
    relu_forward,
)
from minivgg.layers.conv import flip_kernel, im2col

SHAPES = [(3, 8, 8, 4), (2, 7, 5, 3), (5, 1, 1, 2), (1, 3, 9, 6)]   # (C, H, W, O), odd sizes included


def _conv_inputs(rng, C, H, W, O, dtype, k=3):
    return (rng.standard_normal((C, H, W)).astype(dtype), rng.standard_normal((O, C, k, k)).astype(dtype),
            rng.standard_normal(O).astype(dtype))


@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [0, 1])
def test_im2col_pair_equals_the_loops(shape, seed, dtype, tol):
    rng = np.random.default_rng(seed)
    x, W, b = _conv_inputs(rng, *shape, dtype)
    ref, ref_cache = conv2d_naive_forward(x, W, b)
    out, cache = conv2d_forward(x, W, b)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, ref, rtol=tol, atol=tol)
    d = rng.standard_normal(out.shape).astype(dtype)
    for got, want in zip(conv2d_backward(d, cache), conv2d_naive_backward(d, ref_cache), strict=True):
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("forward", [conv2d_naive_forward, conv2d_forward], ids=["naive", "im2col"])
@pytest.mark.parametrize("k,pad", [(3, 1), (3, 0), (3, 2), (1, 0)])
def test_conv_matches_scipy_correlate(forward, k, pad):
    rng = np.random.default_rng(3)
    x, W, b = _conv_inputs(rng, 3, 6, 7, 4, np.float64, k=k)
    out, _ = forward(x, W, b, pad)
    xpad = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    ref = np.stack([sum(correlate(xpad[c], W[o, c], mode="valid") for c in range(3)) + b[o] for o in range(4)])
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k,pad", [(3, 1), (3, 0), (3, 2), (1, 0), (5, 2), (5, 4)])
@pytest.mark.parametrize("shape", SHAPES)
def test_dx_loops_equal_the_flipped_kernel_convolution(shape, k, pad):
    """The book's two views of dx: adding each output's gradient into its window (the loops), and
    eq. (2), dout convolved with the flipped kernel and pad k-1-pad."""
    C, H, W_, O = shape
    rng = np.random.default_rng(11)
    W = rng.standard_normal((O, C, k, k))
    Ho, Wo = H + 2 * pad - k + 1, W_ + 2 * pad - k + 1
    if min(Ho, Wo) < 1:
        pytest.skip("empty output")
    d = rng.standard_normal((O, Ho, Wo))
    loops = conv2d_naive_backward_dx(d, W, pad)
    assert loops.shape == (C, H, W_)
    np.testing.assert_allclose(conv2d_backward_dx(d, W, pad), loops, rtol=1e-12, atol=1e-12)
    Wf = flip_kernel(W)                   # (C, O, k, k): channels swapped, turned 180 degrees
    assert Wf.shape == (C, O, k, k) and Wf[0, 0, 0, 0] == W[0, 0, k - 1, k - 1]
    np.testing.assert_allclose(conv2d_naive_forward(d, Wf, np.zeros(C), k - 1 - pad)[0], loops, rtol=1e-12, atol=1e-12)


def test_dx_as_a_convolution_needs_pad_at_most_k_minus_1():
    with pytest.raises(ValueError, match="negative pad"):
        conv2d_backward_dx(np.ones((2, 5, 5)), np.ones((2, 1, 3, 3)), pad=3)
    # the loops have no such limit
    assert conv2d_naive_backward_dx(np.ones((2, 5, 5)), np.ones((2, 1, 3, 3)), pad=3).shape == (1, 1, 1)


def test_im2col_columns_are_the_windows():
    x = np.arange(2 * 3 * 4, dtype=np.float64).reshape(2, 3, 4)
    cols = im2col(x, 3, 1)
    assert cols.shape == (2 * 9, 3 * 4)
    xpad = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    for y in range(3):
        for xx in range(4):
            np.testing.assert_array_equal(cols[:, y * 4 + xx], xpad[:, y:y + 3, xx:xx + 3].ravel())


def test_frozen_conv_layer_runs_the_loops_and_keeps_no_activation():
    rng = np.random.default_rng(5)
    x, W, b = _conv_inputs(rng, 2, 5, 6, 3, np.float64)
    layer = FrozenConv2d(W, b)
    assert layer.conv_algo == "naive"
    out, cache = layer.forward(x)
    assert cache == x.shape                                  # the input's shape, not the input
    np.testing.assert_array_equal(out, conv2d_naive_forward(x, W, b)[0])
    d = rng.standard_normal(out.shape)
    np.testing.assert_array_equal(layer.backward_dx(d, cache), conv2d_naive_backward(d, (x, W, b, 1))[0])
    assert not hasattr(layer, "backward")                    # no weight gradients in a frozen layer


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
