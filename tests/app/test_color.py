"""Colour preservation (Gatys et al. 2016): YIQ conversions, luminance-only transfer, histogram matching."""

import numpy as np
import pytest

from minivgg.app.color import (
    RGB_TO_YIQ,
    YIQ_TO_RGB,
    color_stats,
    color_transfer_matrix,
    luminance,
    luminance_image,
    luminance_inputs,
    match_color_histogram,
    match_color_histogram_float,
    match_luminance,
    recombine_luminance,
    recombine_luminance_float,
    rgb_to_yiq,
    yiq_to_rgb,
)
from minivgg.errors import UsageError


def _img(seed, shape=(12, 9), lo=0, hi=256):
    return np.random.default_rng(seed).integers(lo, hi, size=shape + (3,), dtype=np.uint8)


def _colourful(seed, shape=(16, 12)):
    """A photo-like image with correlated channels (a random 3x3 mix of smooth-ish noise)."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal(shape + (3,))
    mix = rng.standard_normal((3, 3)) + 2 * np.eye(3)
    x = base @ mix.T
    x = 128 + 40 * x / x.std()
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def test_yiq_matrices_and_roundtrip():
    assert np.allclose(RGB_TO_YIQ.sum(axis=1), [1, 0, 0], atol=1e-6)  # grey -> Y = v, I = Q = 0
    assert np.allclose(RGB_TO_YIQ @ YIQ_TO_RGB, np.eye(3), atol=1e-12)
    assert np.allclose(YIQ_TO_RGB, [[1, 0.9563, 0.6210], [1, -0.2721, -0.6474], [1, -1.1070, 1.7046]], atol=2e-3)
    rgb = _img(0)
    assert np.allclose(yiq_to_rgb(rgb_to_yiq(rgb)), rgb, atol=1e-9)
    r, g, b = (rgb[..., k].astype(float) for k in range(3))
    assert np.allclose(luminance(rgb), 0.299 * r + 0.587 * g + 0.114 * b)


def test_luminance_image_is_grey_with_the_luminance():
    rgb = _img(1)
    gray = luminance_image(rgb)
    assert gray.dtype == np.uint8 and gray.shape == rgb.shape
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    assert np.abs(gray[..., 0] - luminance(rgb)).max() <= 0.5 + 1e-9
    iq = rgb_to_yiq(gray)[..., 1:]
    assert np.abs(iq).max() < 1e-5


def test_match_luminance_mean_and_std():
    s = np.random.default_rng(2).uniform(0, 50, (10, 7))
    c = np.random.default_rng(3).uniform(100, 250, (6, 9))
    m = match_luminance(s, c)
    assert m.shape == s.shape
    assert abs(m.mean() - c.mean()) < 1e-9 and abs(m.std() - c.std()) < 1e-9
    # It is affine and increasing: the order of the pixels is kept.
    assert (np.argsort(m, axis=None) == np.argsort(s, axis=None)).all()
    flat = match_luminance(np.full((3, 3), 7.0), c)
    assert np.allclose(flat, c.mean())


def test_luminance_inputs():
    content, style = _colourful(4), _colourful(5, (20, 14))
    cg, (sg,) = luminance_inputs(content, [style])
    assert (cg == luminance_image(content)).all()
    assert sg.shape == style.shape and (sg[..., 0] == sg[..., 2]).all()
    Y = sg[..., 0].astype(float)
    cY = luminance(content)
    assert abs(Y.mean() - cY.mean()) < 0.6 and abs(Y.std() - cY.std()) < 0.6


def test_recombine_keeps_content_chroma_and_styled_luminance():
    content = _img(6, lo=60, hi=200)       # moderate colours: no clipping in the recombination
    styled = _img(7, lo=60, hi=200)
    out_f = recombine_luminance_float(styled, content)
    yiq_out, yiq_c, yiq_s = rgb_to_yiq(out_f), rgb_to_yiq(content), rgb_to_yiq(styled)
    assert np.allclose(yiq_out[..., 1:], yiq_c[..., 1:], atol=1e-9)   # chroma: the content's, exactly
    assert np.allclose(yiq_out[..., 0], yiq_s[..., 0], atol=1e-9)      # luminance: the stylised image's
    out = recombine_luminance(styled, content)
    assert out.dtype == np.uint8 and out.shape == content.shape
    # After rounding to uint8 each RGB channel moves by <= 0.5, so I and Q move by at most
    # 0.5 * (sum of |row|) of their rows of the matrix.
    tol = 0.5 * np.abs(RGB_TO_YIQ[1:]).sum(axis=1) + 1e-9
    err = np.abs(rgb_to_yiq(out)[..., 1:] - yiq_c[..., 1:]).reshape(-1, 2).max(axis=0)
    assert (err <= tol).all()
    # A grey stylised image (what luminance mode produces) gives the same.
    out2 = recombine_luminance_float(luminance_image(styled), content)
    assert np.allclose(rgb_to_yiq(out2)[..., 1:], yiq_c[..., 1:], atol=1e-9)


def test_recombine_refuses_other_sizes():
    with pytest.raises(UsageError, match="differ in size"):
        recombine_luminance(_img(0, (4, 4)), _img(1, (4, 5)))


@pytest.mark.parametrize("method", ["eigen", "cholesky"])
def test_histogram_matching_stats(method):
    style, content = _colourful(8, (20, 15)), _colourful(9, (12, 17))
    m = match_color_histogram_float(style, content, method=method)
    assert m.shape == style.shape and m.dtype == np.float64
    mu_m, cov_m = color_stats(m)
    mu_c, cov_c = color_stats(content)
    scale = np.abs(cov_c).max()
    assert np.abs(mu_m - mu_c).max() < 1e-6
    assert np.abs(cov_m - cov_c).max() < 1e-6 * scale
    # Population (ddof 0) statistics, as documented.
    x = content.reshape(-1, 3).astype(float)
    assert np.allclose(cov_c, np.cov(x.T, ddof=0))
    out = match_color_histogram(style, content, method=method)
    assert out.dtype == np.uint8 and out.shape == style.shape
    assert np.abs(out.astype(float) - np.clip(m, 0, 255)).max() <= 0.5 + 1e-9


def test_eigen_matrix_is_the_symmetric_square_root_form():
    rng = np.random.default_rng(10)
    B, C = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    Ss, Sc = B @ B.T + np.eye(3), C @ C.T + np.eye(3)
    A = color_transfer_matrix(Ss, Sc, "eigen")
    assert np.allclose(A @ Ss @ A.T, Sc)
    # Sigma_C^(1/2) Sigma_S^(-1/2), both factors symmetric.
    lam, U = np.linalg.eigh(Sc)
    half_c = U @ np.diag(np.sqrt(lam)) @ U.T
    assert np.allclose(np.linalg.inv(half_c) @ A, (np.linalg.inv(half_c) @ A).T)
    L = color_transfer_matrix(Ss, Sc, "cholesky")
    assert np.allclose(L @ Ss @ L.T, Sc)
    assert np.allclose(L, np.linalg.cholesky(Sc) @ np.linalg.inv(np.linalg.cholesky(Ss)))
    with pytest.raises(UsageError, match="unknown histogram"):
        color_transfer_matrix(Ss, Sc, "pca")


@pytest.mark.parametrize("method", ["eigen", "cholesky"])
def test_histogram_matching_grey_style_is_finite(method):
    grey = luminance_image(_img(11))
    out = match_color_histogram_float(grey, _colourful(12), method=method)
    assert np.isfinite(out).all()
    assert np.abs(out.reshape(-1, 3).mean(axis=0) - color_stats(_colourful(12))[0]).max() < 1e-6


def test_bad_inputs():
    with pytest.raises(UsageError):
        luminance(np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(UsageError):
        match_color_histogram([[1, 2, 3]], _img(0))
