"""Helpers shared by the GPU-path tests (imported as ``from devtools import ...``)."""

from __future__ import annotations

import numpy as np

from minivgg.architecture import random_params
from minivgg.backend import to_numpy

#: A tiny VGG19 (same layers, few channels): milliseconds per pass, on the stand-in too.
TINY = (4, 8, 8, 16, 16)


def params(widths=TINY, dtype="float32", seed: int = 0) -> dict:
    return {k: (W.astype(dtype), b.astype(dtype)) for k, (W, b) in random_params(widths, seed).items()}


def on_device(a) -> bool:
    return type(a).__module__.startswith("cupy")


def assert_close(got, want, rtol: float, what: str = "") -> None:
    """``got`` (device or host) equals ``want`` (host) to ``rtol`` of want's largest magnitude."""
    g, w = np.asarray(to_numpy(got), dtype=np.float64), np.asarray(to_numpy(want), dtype=np.float64)
    assert g.shape == w.shape, (what, g.shape, w.shape)
    scale = max(float(np.abs(w).max()), 1e-300) if w.size else 1.0
    err = float(np.abs(g - w).max()) / scale if w.size else 0.0
    assert err <= rtol, f"{what}: max |device - cpu| / max |cpu| = {err:.2e} > {rtol:.0e}"


def images(rng, *shapes, scale=100.0):
    """Preprocessed-looking random images (3, H, W), float64 on the host."""
    return [rng.uniform(-scale, scale, (3,) + tuple(s)) for s in shapes]
