"""The losses of eq. 1-6 and TV: values against the definitions written out, gradients against finite differences."""

import numpy as np
import pytest

from minivgg.gradcheck import check_gradient
from minivgg.losses import content_loss, gram, gram_backward, style_layer_loss, style_loss, tv_loss


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_content_loss_is_half_the_squared_error(rng):
    F, P = rng.standard_normal((4, 5, 3)), rng.standard_normal((4, 5, 3))
    L, dF = content_loss(F, P)
    assert L == pytest.approx(0.5 * sum((f - p) ** 2 for f, p in zip(F.ravel(), P.ravel(), strict=True)))
    np.testing.assert_allclose(dF, F - P)
    assert check_gradient(lambda z: content_loss(z, P)[0], F, dF).ok


def test_gram_is_f_f_transpose_summed_over_positions(rng):
    F = rng.standard_normal((3, 4, 5))
    G = gram(F)
    assert G.shape == (3, 3)
    for i in range(3):
        for j in range(3):
            assert G[i, j] == pytest.approx(np.sum(F[i] * F[j]))
    # gram_backward is the adjoint: <dG, G(F + e) - G(F)> ~ <gram_backward(dG), e>
    dG = rng.standard_normal((3, 3))
    g = gram_backward(dG, F)
    assert g.shape == F.shape
    assert check_gradient(lambda z: float((gram(z) * dG).sum()), F, g).ok


def test_style_layer_loss_matches_eq_4_and_its_gradient_eq_6(rng):
    N, H, W = 4, 3, 5
    M = H * W
    F = np.abs(rng.standard_normal((N, H, W)))
    A = gram(np.abs(rng.standard_normal((N, 7, 2))))       # a target from another image size
    E, dF = style_layer_loss(F, A)
    G = F.reshape(N, M) @ F.reshape(N, M).T
    assert E == pytest.approx(np.sum((G - A) ** 2) / (4 * N ** 2 * M ** 2))
    # eq. 6: dE/dF = 1/(N^2 M^2) (F^T (G - A))^T
    np.testing.assert_allclose(dF.reshape(N, M), (F.reshape(N, M).T @ (G - A)).T / (N ** 2 * M ** 2))
    assert check_gradient(lambda z: style_layer_loss(z, A)[0], F, dF).ok


def test_style_loss_weights_the_layers_equally_by_default(rng):
    taps = {"a": rng.random((2, 3, 3)), "b": rng.random((3, 2, 2))}
    targets = {"a": rng.random((2, 2)), "b": rng.random((3, 3))}
    L, grads = style_loss(taps, targets)
    Ea, ga = style_layer_loss(taps["a"], targets["a"])
    Eb, gb = style_layer_loss(taps["b"], targets["b"])
    assert L == pytest.approx(0.5 * Ea + 0.5 * Eb)
    np.testing.assert_allclose(grads["b"], 0.5 * gb)
    L, grads = style_loss(taps, targets, {"a": 2.0, "b": 0.0})
    assert L == pytest.approx(2 * Ea)
    np.testing.assert_allclose(grads["a"], 2 * ga)


def test_tv_loss_sums_both_directions(rng):
    x = rng.standard_normal((3, 5, 4))
    L, g = tv_loss(x)
    expect = sum((x[c, i + 1, j] - x[c, i, j]) ** 2 for c in range(3) for i in range(4) for j in range(4))
    expect += sum((x[c, i, j + 1] - x[c, i, j]) ** 2 for c in range(3) for i in range(5) for j in range(3))
    assert L == pytest.approx(expect)
    assert check_gradient(lambda z: tv_loss(z)[0], x, g, max_elements=None).ok
    assert tv_loss(np.full((3, 4, 4), 7.0))[0] == 0


def test_float32_stays_float32(rng):
    F = rng.random((4, 3, 3)).astype(np.float32)
    A = gram(rng.random((4, 5, 5)).astype(np.float32))
    for loss, grad in [content_loss(F, F * 0.5), style_layer_loss(F, A), tv_loss(F)]:
        assert isinstance(loss, float)
        assert grad.dtype == np.float32
    assert style_loss({"a": F}, {"a": A})[1]["a"].dtype == np.float32
