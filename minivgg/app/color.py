"""Colour preservation: Gatys, Bethge, Hertzmann & Shechtman (2016), "Preserving Color in Neural
Artistic Style Transfer" (arXiv:1606.05897).

Plain style transfer copies the painting's *colours* along with its brush strokes. The paper gives
two ways to keep the photo's colours instead; both work on the images only, before and after the
optimisation, and leave the objective (:mod:`minivgg.objective`) untouched.

**1. Luminance-only transfer** (the paper's "luminance-only transfer"). Split every image into a luminance channel and
two chroma channels in the **YIQ** colour space (the one the paper uses; NTSC, FCC 1987 values)::

    [Y]   [0.299     0.587     0.114   ] [R]        Y: luminance (brightness), in 0..255
    [I] = [0.595716 -0.274453 -0.321263] [G]        I: orange-blue chroma
    [Q]   [0.211456 -0.522591  0.311135] [B]        Q: purple-green chroma

and back with the exact inverse of that matrix (``YIQ_TO_RGB``, about
``[[1, 0.9563, 0.6210], [1, -0.2721, -0.6474], [1, -1.1070, 1.7046]]``; computed, not rounded, so
RGB -> YIQ -> RGB is the identity to float precision). The Y row sums to 1 and the I and Q rows
to 0, so a grey pixel (R = G = B = v) has Y = v and I = Q = 0.

* The network sees luminance only: each image becomes the grey picture (Y, Y, Y)
  (:func:`luminance_image`), which VGG19 takes like any RGB photo.
* Before that, the style's luminance is shifted and scaled so that its mean and standard deviation
  equal the content's (:func:`match_luminance`, as the paper does: ``L_S' = sigma_C / sigma_S *
  (L_S - mu_S) + mu_C``), so that the transfer does not brighten or darken the photo as a whole.
* After the optimisation, the output's Y is combined with the *content's* I and Q and converted
  back to RGB (:func:`recombine_luminance`): the result has the painting's strokes in its light and
  shade and the photo's colours.

**2. Colour histogram matching** (the paper's "color histogram matching"). Before the transfer, recolour the style image
with the affine map ``x -> A x + b`` (x a pixel's RGB vector) chosen so that the recoloured style's
pixel mean and 3x3 covariance equal the content's (:func:`match_color_histogram`)::

    b = mu_C - A mu_S,      A Sigma_S A^T = Sigma_C

Many A satisfy the second equation. The paper names two; both are implemented (``method=``):

* ``"eigen"`` (the default; the paper's "image analogies" variant, after Hertzmann et al. 2001):
  ``A = Sigma_C^(1/2) Sigma_S^(-1/2)`` with the *symmetric* matrix square roots,
  computed from the eigendecompositions ``Sigma = U diag(lambda) U^T`` as
  ``U diag(sqrt(lambda)) U^T``. It is the map that moves the pixel cloud least (no rotation
  beyond what the shapes of the two clouds demand).
* ``"cholesky"``: ``A = L_C L_S^(-1)`` with ``Sigma = L L^T`` the Cholesky factorisations.

Conventions, stated because an independent implementation must make the same choices:

* Statistics are over all pixels of an image, with the *population* normalisation
  (``mean = sum / n``, ``Sigma = sum (x - mu)(x - mu)^T / n``, ``std`` with ddof 0), computed in
  float64 on the 0..255 scale.
* A singular style covariance (a grey or a flat style image has zero variance in some colour
  direction) has no inverse square root. Its eigenvalues are floored at ``COV_FLOOR``
  (1e-2 grey levels^2, i.e. a standard deviation of 0.1 grey level -- below the 0.29 grey level
  noise of 8-bit quantisation, and far below any real photograph's eigenvalues), which leaves a
  full-rank covariance unchanged and sends the zero-variance directions of a degenerate one to
  zero variance (those pixels sit exactly on the mean there, so any finite gain maps them to 0).
  ``"cholesky"`` adds the same floor to the diagonal only when the plain factorisation fails.
  A flat style luminance (sigma_S = 0) is only shifted to the content's mean.
* The ``*_float`` functions return the exact, unclipped float64 result; the uint8 ones round it
  to the nearest integer and clip to 0..255. Clipping moves the statistics a little (out-of-gamut
  pixels are pulled in), which is why the float versions exist and are what the tests check.
"""

from __future__ import annotations

import numpy as np

from ..errors import UsageError

#: RGB -> YIQ (NTSC 1953 colorimetry as revised by the FCC in 1987); rows Y, I, Q.
RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114],
                       [0.595716, -0.274453, -0.321263],
                       [0.211456, -0.522591, 0.311135]])
#: YIQ -> RGB: the exact inverse of :data:`RGB_TO_YIQ`.
YIQ_TO_RGB = np.linalg.inv(RGB_TO_YIQ)

#: Floor for the eigenvalues of a colour covariance, in grey levels squared (see the module docstring).
COV_FLOOR = 1e-2
HISTOGRAM_METHODS = ("eigen", "cholesky")
PRESERVE_MODES = ("luminance", "histogram")


# ---------------------------------------------------------------------------------------------
# checks and conversions
# ---------------------------------------------------------------------------------------------
def _as_rgb_float(rgb, what: str) -> np.ndarray:
    """``rgb`` (H, W, 3), uint8 or float, as float64; UsageError for anything else."""
    if not isinstance(rgb, np.ndarray):
        raise UsageError(f"{what} must be a NumPy array of shape (H, W, 3), got {type(rgb).__name__}")
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise UsageError(f"{what} must have shape (H, W, 3) with H, W >= 1, got {rgb.shape}")
    if not (rgb.dtype == np.uint8 or np.issubdtype(rgb.dtype, np.floating)):
        raise UsageError(f"{what} must be uint8 or float, got {rgb.dtype}")
    return rgb.astype(np.float64)


def to_uint8(rgb_float) -> np.ndarray:
    """Round to the nearest integer and clip to 0..255 (the only lossy step)."""
    return np.clip(np.rint(rgb_float), 0, 255).astype(np.uint8)


def rgb_to_yiq(rgb) -> np.ndarray:
    """RGB (H, W, 3), uint8 or float in 0..255 -> YIQ (H, W, 3) float64 (Y in 0..255)."""
    return _as_rgb_float(rgb, "RGB image") @ RGB_TO_YIQ.T


def yiq_to_rgb(yiq) -> np.ndarray:
    """YIQ (H, W, 3) -> RGB (H, W, 3) float64, unclipped (the exact inverse of :func:`rgb_to_yiq`)."""
    return _as_rgb_float(yiq, "YIQ image") @ YIQ_TO_RGB.T


def luminance(rgb) -> np.ndarray:
    """The Y channel (H, W) float64 of an RGB image: ``0.299 R + 0.587 G + 0.114 B``."""
    return _as_rgb_float(rgb, "RGB image") @ RGB_TO_YIQ[0]


def gray_rgb(Y) -> np.ndarray:
    """A luminance (H, W) as the grey RGB uint8 picture (Y, Y, Y), rounded and clipped."""
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim != 2:
        raise UsageError(f"a luminance channel must have shape (H, W), got {Y.shape}")
    return np.repeat(to_uint8(Y)[:, :, None], 3, axis=2)


# ---------------------------------------------------------------------------------------------
# 1. luminance-only transfer
# ---------------------------------------------------------------------------------------------
def luminance_image(rgb) -> np.ndarray:
    """What the network sees in luminance mode: the grey RGB uint8 image (Y, Y, Y) of ``rgb``."""
    return gray_rgb(luminance(rgb))


def match_luminance(style_Y, content_Y) -> np.ndarray:
    """The style luminance with the content's mean and standard deviation, float64.

    ``L_S' = sigma_C / sigma_S * (L_S - mu_S) + mu_C`` (population std). A flat style (sigma_S = 0)
    is only shifted: ``L_S - mu_S + mu_C``. Both arguments are luminance arrays of any shape.
    """
    s = np.asarray(style_Y, dtype=np.float64)
    c = np.asarray(content_Y, dtype=np.float64)
    if s.size == 0 or c.size == 0:
        raise UsageError("match_luminance: empty luminance channel")
    mu_s, sd_s = float(s.mean()), float(s.std())
    mu_c, sd_c = float(c.mean()), float(c.std())
    if sd_s == 0.0:
        return s - mu_s + mu_c
    return (s - mu_s) * (sd_c / sd_s) + mu_c


def luminance_inputs(content_rgb, style_rgbs):
    """The images the network works on in luminance mode: ``(content_gray, [style_gray, ...])``.

    content_gray is :func:`luminance_image` of the content; each style's luminance is first matched
    to the content's with :func:`match_luminance`, then made a grey RGB uint8 image.
    """
    cY = luminance(content_rgb)
    styles = [gray_rgb(match_luminance(luminance(s), cY)) for s in style_rgbs]
    return gray_rgb(cY), styles


def recombine_luminance_float(styled_rgb, content_rgb) -> np.ndarray:
    """Float64 RGB (H, W, 3), unclipped: Y of ``styled_rgb`` with I and Q of ``content_rgb``.

    Both images must have the same height and width (the output of a transfer has the content's).
    """
    styled = rgb_to_yiq(styled_rgb)
    content = rgb_to_yiq(content_rgb)
    if styled.shape != content.shape:
        raise UsageError(f"recombine_luminance: the stylised image {styled.shape[1]}x{styled.shape[0]} and "
                         f"the content {content.shape[1]}x{content.shape[0]} differ in size")
    yiq = content
    yiq[:, :, 0] = styled[:, :, 0]
    return yiq_to_rgb(yiq)


def recombine_luminance(styled_rgb, content_rgb) -> np.ndarray:
    """RGB uint8: the stylised luminance with the content's chroma (I, Q), rounded and clipped."""
    return to_uint8(recombine_luminance_float(styled_rgb, content_rgb))


# ---------------------------------------------------------------------------------------------
# 2. colour histogram matching
# ---------------------------------------------------------------------------------------------
def color_stats(rgb):
    """``(mean (3,), covariance (3, 3))`` of an image's pixels, float64, population normalisation."""
    x = _as_rgb_float(rgb, "RGB image").reshape(-1, 3)
    mu = x.mean(axis=0)
    d = x - mu
    return mu, (d.T @ d) / x.shape[0]


def _sym_power(S, power: float) -> np.ndarray:
    """``S^power`` of a symmetric positive semi-definite 3x3 matrix via its eigendecomposition,
    with the eigenvalues floored at :data:`COV_FLOOR`."""
    lam, U = np.linalg.eigh((S + S.T) / 2)
    lam = np.maximum(lam, COV_FLOOR)
    return (U * lam ** power) @ U.T


def _cholesky(S) -> np.ndarray:
    try:
        return np.linalg.cholesky(S)
    except np.linalg.LinAlgError:       # singular (grey or flat image): floor the diagonal
        return np.linalg.cholesky(S + COV_FLOOR * np.eye(3))


def color_transfer_matrix(style_cov, content_cov, method: str = "eigen") -> np.ndarray:
    """The 3x3 ``A`` with ``A style_cov A^T = content_cov`` (see the module docstring)."""
    if method == "eigen":
        return _sym_power(content_cov, 0.5) @ _sym_power(style_cov, -0.5)
    if method == "cholesky":
        return _cholesky(content_cov) @ np.linalg.inv(_cholesky(style_cov))
    raise UsageError(f"unknown histogram matching method {method!r}: choose one of {', '.join(HISTOGRAM_METHODS)}")


def match_color_histogram_float(style_rgb, content_rgb, method: str = "eigen") -> np.ndarray:
    """The style image recoloured to the content's pixel mean and covariance: float64 (H, W, 3), unclipped.

    ``x' = A (x - mu_S) + mu_C`` for every pixel x of the style (``b = mu_C - A mu_S``).
    """
    s = _as_rgb_float(style_rgb, "style image")
    mu_s, cov_s = color_stats(s)
    mu_c, cov_c = color_stats(content_rgb)
    A = color_transfer_matrix(cov_s, cov_c, method)
    return (s - mu_s) @ A.T + mu_c


def match_color_histogram(style_rgb, content_rgb, method: str = "eigen") -> np.ndarray:
    """:func:`match_color_histogram_float`, rounded and clipped to RGB uint8 (H, W, 3)."""
    return to_uint8(match_color_histogram_float(style_rgb, content_rgb, method))


__all__ = ["RGB_TO_YIQ", "YIQ_TO_RGB", "COV_FLOOR", "HISTOGRAM_METHODS", "PRESERVE_MODES", "rgb_to_yiq",
           "yiq_to_rgb", "luminance", "gray_rgb", "luminance_image", "match_luminance", "luminance_inputs",
           "recombine_luminance", "recombine_luminance_float", "color_stats", "color_transfer_matrix",
           "match_color_histogram", "match_color_histogram_float", "to_uint8"]
