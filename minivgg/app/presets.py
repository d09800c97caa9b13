"""Presets: named sets of run settings, applied above the objective (``--preset``, ``stylize(preset=)``).

* ``paper`` -- exactly Gatys, Ecker & Bethge (2015): white-noise start (seed 0), alpha = 1,
  beta = 1e3, no total-variation term, average pooling, L-BFGS (SciPy's L-BFGS-B on the CPU, lbfgs-xp
  on the GPU, see :func:`resolve`), content layer conv4_2,
  style layers conv1_1 ... conv5_1 with equal weights, 500 iterations.
* ``clean`` (the default) -- the same objective and layers, started from the photo and with a small
  total-variation term, so the result carries no single-pixel speckle; chosen by measurement
  (``bench/quality.py``, numbers in bench/README.md).

A preset only fills in settings the caller left unset: an explicit flag or keyword always wins.
:class:`~minivgg.objective.StyleTransfer` stays the pure objective; it knows nothing of presets.
"""

from __future__ import annotations

import numpy as np

from ..errors import UsageError
from ..objective import DEFAULT_ALPHA, DEFAULT_BETA, DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS
from ..optim import default_optimizer

#: The paper does not say how many L-BFGS iterations it ran; 500 is what the anchors use at 512 px.
DEFAULT_ITERATIONS = 500

# The objective's own defaults are the paper's (see minivgg.objective).
_PAPER = dict(init="noise", seed=0, content_weight=DEFAULT_ALPHA, style_weight=DEFAULT_BETA, tv_weight=0.0,
              pooling="avg", optimizer="lbfgs", content_layers=DEFAULT_CONTENT_LAYERS,
              style_layers=DEFAULT_STYLE_LAYERS, iterations=DEFAULT_ITERATIONS)

PRESETS = {
    "clean": dict(_PAPER, init="content", tv_weight=10.0, iterations=300),
    "paper": dict(_PAPER),
}
DEFAULT_PRESET = "clean"
#: The settings a preset fills in: the command line's dest names, the keywords of
#: :func:`minivgg.app.pipeline.stylize_files`.
PRESET_KEYS = tuple(_PAPER)


def preset_text(name: str) -> str:
    """One line for --help: ``init content, tv_weight 10, 300 iterations, ...`` (the preset's differences
    from the paper are listed first)."""
    s = PRESETS[name]
    if name == "paper":
        return "the paper exactly: white-noise start (seed 0), alpha 1, beta 1e3, no TV, average pooling, L-BFGS, " \
               f"{s['iterations']} iterations"
    diff = [f"{k.replace('_', ' ')} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in s.items()
            if v != _PAPER[k]]
    return "the paper's objective, with " + ", ".join(diff)


def resolve(preset: str | None = None, given: dict | None = None, device: str = "cpu", bounds: bool = False) -> dict:
    """The settings of ``preset`` (default :data:`DEFAULT_PRESET`) with ``given`` on top; keys whose
    given value is None keep the preset's. device, bounds: the run's, which pick the preset's L-BFGS."""
    name = DEFAULT_PRESET if preset is None else preset
    if name not in PRESETS:
        raise UsageError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
    out = dict(PRESETS[name])
    # A preset's "lbfgs" names the paper's algorithm, not an implementation: the device picks that
    # (SciPy's L-BFGS-B on the CPU, lbfgs-xp on the GPU: minivgg.optim.default_optimizer). An
    # optimizer given explicitly is taken as given, so "lbfgs" given on the GPU stays SciPy's.
    if out["optimizer"] == "lbfgs":
        out["optimizer"] = default_optimizer(device, bounds)
    out.update({k: v for k, v in (given or {}).items() if v is not None})
    return out


def grain(rgb) -> float:
    """Mean absolute difference between neighbouring pixels, over RGB channels on 0..255.

    rgb: ``(H, W, 3)``. Both directions count: the mean over all horizontal and all vertical pairs.
    """
    a = np.asarray(rgb, dtype=np.float64)
    dh = np.abs(a[:, 1:] - a[:, :-1])
    dv = np.abs(a[1:] - a[:-1])
    return float((dh.sum() + dv.sum()) / (dh.size + dv.size))


def relative_grain(result, photo, painting) -> float:
    """``grain(result) / max(grain(photo), grain(painting))``, all three at the result's size."""
    return grain(result) / max(grain(photo), grain(painting), 1e-12)
