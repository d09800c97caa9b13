"""Progress lines shared by the command-line tools: durations and the per-iteration line."""

from __future__ import annotations


def fmt_duration(seconds: float) -> str:
    """``5s``, ``3m07s``, ``1h02m03s``."""
    seconds = int(round(max(0.0, seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def iteration_line(it: int, iterations: int, parts: dict, seconds_per_iter: float, eta_seconds: float) -> str:
    """``iter  10/500  total 1.2e+05  content ...  style ...  0.84 s/iter  ETA 6m52s`` (parts: StyleTransfer.losses)."""
    return (f"iter {it:>{len(str(iterations))}}/{iterations}  total {parts['total']:.4e}  "
            f"content {parts['content']:.4e}  style {parts['style']:.4e}  "
            f"{seconds_per_iter:.2f} s/iter  ETA {fmt_duration(eta_seconds)}")


__all__ = ["fmt_duration", "iteration_line"]
