"""Loss curves as a PNG: ``plot_losses(history, path)`` (``--plot PATH`` of ``python -m minivgg.stylize``).

matplotlib is an optional extra (``pip install 'minivgg[plot]'``): it is imported only inside the
functions here, with the non-interactive Agg backend (no display needed), and its absence is a
one-line :class:`~minivgg.errors.MinivggError` that says how to install it.

``history`` is what a run records, one entry per iteration -- the same objects as the lines of
``--log`` (after its config line): dicts with ``total``, ``content``, ``style`` and ``tv`` (content,
style and tv *unweighted*, total = alpha L_c + beta L_s + tv_weight TV), and optionally ``iter``
and ``size`` (the image's long side, for multi-scale runs). The y axis is logarithmic because the
losses fall by orders of magnitude. The tv curve is drawn when the TV term is part of the objective
(``show_tv=True``, what the command line passes when ``--tv-weight`` > 0) or, by default, when the
history's tv values are nonzero somewhere.
For a multi-scale run (entries with several ``size`` values) the iterations are numbered on
across the scales and a dotted line marks where each scale starts.
"""

from __future__ import annotations

import os

from ..errors import MinivggError, UsageError
from .atomic import atomic_write, check_writable_destination

INSTALL_HINT = "pip install 'minivgg[plot]' (or: pip install matplotlib)"
CURVES = (("total", "total (minimised)"), ("content", "content L_c"), ("style", "style L_s"), ("tv", "TV"))


def _import_pyplot():
    """matplotlib.pyplot on the Agg backend, or a one-line MinivggError saying how to install it."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError:
        raise MinivggError(f"--plot needs matplotlib, which is not installed: {INSTALL_HINT}") from None
    return plt


def require_matplotlib() -> None:
    """Raise the install message now (a command line calls this before a long run, not after it)."""
    _import_pyplot()


def check_plot_path(path) -> str:
    """Validate a plot path before any work: a ``.png`` file whose directory exists or can be made."""
    where = os.fspath(path)
    if os.path.isdir(where):
        raise UsageError(f"plot {where!r} is a folder; give a file name such as {where.rstrip('/')}/losses.png")
    if os.path.splitext(where)[1].lower() != ".png":
        raise UsageError(f"plot {where!r}: the loss plot is a PNG; give a path ending in .png")
    check_writable_destination(where, f"the plot {where!r}")
    return where


def _series(history):
    """``(x, {name: [values]}, boundaries)`` from a list of per-iteration dicts (or a dict of lists)."""
    if isinstance(history, dict):
        n = max((len(v) for v in history.values()), default=0)
        rows = [{k: v[i] for k, v in history.items() if i < len(v)} for i in range(n)]
    else:
        rows = [r for r in history if "config" not in r]       # a --log file's first line is the config
    if not rows:
        raise UsageError("no losses to plot: the history is empty")
    sizes = [r.get("size") for r in rows]
    multiscale = len({s for s in sizes if s is not None}) > 1
    if multiscale or any("iter" not in r for r in rows):
        x = list(range(1, len(rows) + 1))                        # numbered on across scales
    else:
        x = [r["iter"] for r in rows]
    boundaries = []
    if multiscale:
        boundaries = [(i + 1, sizes[i]) for i in range(len(rows)) if i == 0 or sizes[i] != sizes[i - 1]]
    values = {name: [float(r.get(name, float("nan"))) for r in rows] for name, _ in CURVES}
    return x, values, boundaries


def plot_losses(history, path, title: str | None = None, show_tv: bool | None = None) -> str:
    """Write the loss curves of ``history`` (see the module docstring) to the PNG ``path``; returns it.

    Content, style and total are always drawn (tv: see ``show_tv`` in the module docstring), against
    the iteration, on a log y scale; values <= 0 cannot be shown on it and are left out. The file is written atomically:
    to a temporary file in the same directory, then renamed over ``path``.
    """
    where = check_plot_path(path)
    x, values, boundaries = _series(history)
    plt = _import_pyplot()

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    try:
        for name, label in CURVES:
            ys = values[name]
            if name == "tv" and not (show_tv if show_tv is not None else any(v != 0 and v == v for v in ys)):
                continue
            # log scale: positives only (NaN > 0 is False)
            pts = [(a, v) for a, v in zip(x, ys, strict=True) if v > 0]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], label=label,
                        linewidth=2.0 if name == "total" else 1.3)
        if not ax.lines:
            raise UsageError("no positive losses to plot on a log scale")
        for start, size in boundaries:
            ax.axvline(start, color="0.6", linestyle=":", linewidth=1)
            ax.annotate(f"{size} px", (start, 1), xycoords=("data", "axes fraction"), xytext=(3, -12),
                        textcoords="offset points", fontsize=8, color="0.4")
        ax.set_yscale("log")
        ax.set_xlabel("iteration" + (" (all scales)" if boundaries else ""))
        ax.set_ylabel("loss (content, style, TV unweighted)")
        ax.set_title(title or "style transfer losses")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend()
        fig.tight_layout()

        directory = os.path.dirname(os.path.abspath(where))
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as exc:
            raise MinivggError(f"cannot create directory {directory!r}: {exc.strerror or exc}") from None
        try:
            with atomic_write(where) as f:
                fig.savefig(f, format="png")
        except OSError as exc:
            raise MinivggError(f"cannot write the plot {where!r}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
    return where


__all__ = ["plot_losses", "require_matplotlib", "check_plot_path", "INSTALL_HINT"]
