"""The losses of Gatys, Ecker & Bethge (2015), each with its hand-written gradient.

Every function here is a pure function of arrays and returns ``(loss, grad)``: the loss as a
float64 number on the arrays' device (a 0-d array; on the CPU a NumPy float64, which is a Python
float) and the gradient with respect to its first argument, an array of the same shape and dtype
on the same device (NumPy or CuPy: the array module comes from
:func:`~minivgg.backend.get_array_module`). Only Python scalars meet the arrays, so a float32
input stays float32 all the way. The losses stay on the device because on a GPU every ``float()``
waits for the device: the objective adds them up there and fetches the total once.

Notation (the paper's): a layer ``l`` has ``N_l`` feature maps of ``M_l = H_l * W_l`` positions.
Its response to the image is ``F_l`` of shape ``(N_l, M_l)`` -- the tap ``(N_l, H_l, W_l)``
flattened. ``P_l`` is the response to the content photo, ``A_l`` the style Gram target.

=========================  ==========================================================
eq. 1 (content loss)       ``L_c = 1/2 * sum (F - P)^2``
eq. 2 (its gradient)       ``dL_c/dF = F - P``
eq. 3 (Gram matrix)        ``G = F F^T``                        ``(N, N)``
eq. 4 (style layer loss)   ``E_l = 1/(4 N^2 M^2) * sum (G - A)^2``
eq. 6 (its gradient)       ``dE_l/dF = 1/(N^2 M^2) * (G - A) F``
eq. 5 (style loss)         ``L_s = sum_l w_l E_l``
total variation            ``TV = sum (x[:,i+1,j]-x[:,i,j])^2 + sum (x[:,i,j+1]-x[:,i,j])^2``
=========================  ==========================================================

About eq. 2 and 6: the paper writes the gradients as zero where ``F < 0``. Our taps are ReLU
*outputs*, so ``F >= 0`` always and that zeroing is exactly what the network's ReLU backward
does when the gradient continues into the net; here we return the plain derivative by ``F``.
"""

from __future__ import annotations

from .backend import get_array_module


def _sum_of_squares(d):
    """``sum d^2`` as a float64 0-d array on d's device: the sum in d's dtype, then widened, so that
    the loss parts combine in float64 as Python floats would, with the same numbers."""
    return (d * d).sum().astype("float64")


def _as_matrix(F):
    """A tap ``(N, H, W)`` (or already ``(N, M)``) as the paper's ``F: (N, M)`` -- a view, no copy."""
    return F.reshape(F.shape[0], -1)


# ---------------------------------------------------------------------------------------------
# Content: eq. 1 and 2
# ---------------------------------------------------------------------------------------------
def content_loss(F, P):
    """Content loss of one layer, eq. 1, and its gradient, eq. 2.

    F: the image's response, any shape (a tap ``(N, H, W)``); P: the content photo's, same shape.
    Returns ``(L_c, dL_c/dF)`` with ``L_c = 1/2 * sum (F - P)^2`` and ``dL_c/dF = F - P``.
    """
    diff = F - P
    return 0.5 * _sum_of_squares(diff), diff


# ---------------------------------------------------------------------------------------------
# Style: eq. 3, 4, 6 and 5
# ---------------------------------------------------------------------------------------------
def gram(F):
    """Gram matrix, eq. 3: ``G = F F^T``, the feature correlations summed over positions.

    F: ``(N, M)`` or a tap ``(N, H, W)`` -> G: ``(N, N)``. Positions are summed over, so G does not
    depend on the image size -- the style image may be any size.
    """
    F = _as_matrix(F)
    return F @ F.T


def gram_backward(dG, F):
    """Backward of :func:`gram`: given ``dL/dG (N, N)``, return ``dL/dF = (dG + dG^T) F`` shaped like F.

    ``G_ij = sum_k F_ik F_jk`` depends on F twice (row i and row j), hence the two terms.
    """
    F2 = _as_matrix(F)
    return ((dG + dG.T) @ F2).reshape(F.shape)


def style_layer_loss(F, A):
    """Style loss of one layer, eq. 4, and its gradient, eq. 6.

    F: the image's tap ``(N, H, W)`` (or ``(N, M)``); A: the target Gram ``(N, N)``.
    Returns ``(E_l, dE_l/dF)`` with ``E_l = 1/(4 N^2 M^2) * sum (G - A)^2``.

    Through the chain rule, ``dE/dG = (G - A) / (2 N^2 M^2)`` and :func:`gram_backward` gives
    ``dE/dF = (G - A) F / (N^2 M^2)`` (G and A are symmetric) -- the paper's eq. 6.
    """
    N = F.shape[0]
    M = F.size // N
    c = 1.0 / (4.0 * N * N * M * M)           # a Python float: keeps float32 as float32
    diff = gram(F) - A
    E = c * _sum_of_squares(diff)
    return E, gram_backward((2.0 * c) * diff, F)


def style_loss(taps, targets, weights=None):
    """Style loss, eq. 5: ``L_s = sum_l w_l E_l``, and the gradient at every tap.

    taps: ``{layer: F_l (N_l, H_l, W_l)}``; targets: ``{layer: A_l (N_l, N_l)}`` (same keys);
    weights: ``{layer: w_l}`` (default ``1 / len(targets)`` each).
    Returns ``(L_s, {layer: dL_s/dF_l})``.
    """
    if weights is None:
        weights = {name: 1.0 / len(targets) for name in targets}
    total, grads = 0.0, {}
    for name, A in targets.items():
        E, dF = style_layer_loss(taps[name], A)
        w = float(weights[name])
        total += w * E
        grads[name] = w * dF
    return total, grads


# ---------------------------------------------------------------------------------------------
# Total variation (a smoothness prior; not in the 2015 paper, default weight 0)
# ---------------------------------------------------------------------------------------------
def tv_loss(x):
    """Squared total variation of an image and its gradient.

    x: ``(C, H, W)``. ``TV = sum_{c,i,j} (x[c,i+1,j] - x[c,i,j])^2 + sum_{c,i,j} (x[c,i,j+1] - x[c,i,j])^2``,
    each sum over every pair of neighbours that exists (vertical: i < H-1; horizontal: j < W-1).
    Returns ``(TV, dTV/dx)`` with dx shaped like x.

    Each difference ``d = x[b] - x[a]`` adds ``2 d`` to ``dx[b]`` and ``-2 d`` to ``dx[a]``.
    """
    xp = get_array_module(x)
    dv = x[:, 1:, :] - x[:, :-1, :]            # (C, H-1, W)
    dh = x[:, :, 1:] - x[:, :, :-1]            # (C, H, W-1)
    loss = _sum_of_squares(dv) + _sum_of_squares(dh)
    g = xp.zeros_like(x)
    g[:, 1:, :] += 2.0 * dv
    g[:, :-1, :] -= 2.0 * dv
    g[:, :, 1:] += 2.0 * dh
    g[:, :, :-1] -= 2.0 * dh
    return loss, g


# ---------------------------------------------------------------------------------------------
# Spatially guided style loss (Gatys, Ecker, Bethge, Hertzmann & Shechtman 2017, "Controlling
# Perceptual Factors in Neural Style Transfer", section 4.1: guided Gram matrices)
# ---------------------------------------------------------------------------------------------
def masked_style_layer_loss(F, A, mask):
    """Style loss of one layer on the features inside a region, and its gradient.

    F: the image's tap ``(N, H, W)``; mask: the region's guidance channel at this layer's
    resolution, ``(H, W)`` or ``(1, H, W)``, values in 0..1; A: the region's target Gram ``(N, N)``.
    The guided Gram matrix is the Gram of the masked features, ``G = (F o m)(F o m)^T`` (``o`` the
    elementwise product, the mask broadcast over the N channels), and the loss is eq. 4 on it::

        E = 1/(4 N^2 M^2) * sum (G - A)^2          (M = H * W, the layer's positions, as in eq. 4)

    Gradient: :func:`style_layer_loss` gives ``dE/d(F o m)`` (eq. 6 applied to the masked
    features); the product rule through ``F o m`` multiplies it by the mask once more:
    ``dE/dF = m o dE/d(F o m)``. A mask of ones is exactly :func:`style_layer_loss`.
    """
    m = mask.reshape((1,) + tuple(F.shape[1:]))
    E, dFm = style_layer_loss(F * m, A)
    return E, dFm * m


def masked_style_loss(taps, regions, weights):
    """Style loss, eq. 5, with one guided term per region: ``L_s = sum_l w_l sum_k E_l^k``.

    taps: ``{layer: F_l}``; regions: a list, one per style image, of ``(targets, masks)`` with
    ``targets = {layer: A_l^k}`` and ``masks = {layer: m_l^k}`` (see :func:`masked_style_layer_loss`);
    weights: ``{layer: w_l}``. Returns ``(L_s, {layer: dL_s/dF_l})``.
    """
    total, grads = 0.0, {}
    for targets, masks in regions:
        for name, A in targets.items():
            E, dF = masked_style_layer_loss(taps[name], A, masks[name])
            w = float(weights[name])
            total += w * E
            grads[name] = w * dF if name not in grads else grads[name] + w * dF
    return total, grads


__all__ = ["content_loss", "gram", "gram_backward", "style_layer_loss", "style_loss", "tv_loss",
           "masked_style_layer_loss", "masked_style_loss"]
