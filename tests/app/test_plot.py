"""The loss plot: a PNG with matplotlib, a one-line install hint without it."""

import os
import sys

import pytest

from minivgg.app.plot import check_plot_path, plot_losses, require_matplotlib
from minivgg.errors import MinivggError, UsageError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _history(n=12, tv=0.0, size=None):
    rows = [{"iter": i, "total": 1e6 / i, "content": 1e3 / i ** 0.5, "style": 1e2 / i, "tv": tv}
            for i in range(1, n + 1)]
    if size is not None:
        for r in rows:
            r["size"] = size
    return rows


def test_plot_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "sub" / "losses.png"
    assert plot_losses(_history(), out) == str(out)
    data = out.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000
    assert [p for p in os.listdir(out.parent) if p.endswith(".tmp")] == []


def test_plot_tv_multiscale_and_dict_history(tmp_path):
    pytest.importorskip("matplotlib")
    hist = _history(5, tv=3.0, size=32) + _history(4, tv=2.0, size=64)
    plot_losses(hist, tmp_path / "ms.png")
    plot_losses(hist, tmp_path / "no_tv.png", show_tv=False)
    plot_losses({"total": [3.0, 2.0], "content": [1.0, 0.5], "style": [0.0, 0.1], "tv": [0, 0]}, tmp_path / "d.png")
    assert (tmp_path / "ms.png").read_bytes().startswith(PNG_MAGIC)
    assert (tmp_path / "d.png").read_bytes().startswith(PNG_MAGIC)


def test_plot_bad_arguments(tmp_path):
    with pytest.raises(UsageError, match=r"\.png"):
        check_plot_path(tmp_path / "losses.jpg")
    with pytest.raises(UsageError, match="is a folder"):
        check_plot_path(_mkdir(tmp_path / "d.png"))
    with pytest.raises(UsageError, match="is a folder"):
        check_plot_path(_mkdir(tmp_path / "plots"))
    pytest.importorskip("matplotlib")
    with pytest.raises(UsageError, match="empty"):
        plot_losses([], tmp_path / "e.png")


def _mkdir(p):
    p.mkdir()
    return p


def test_missing_matplotlib_message(tmp_path, monkeypatch):
    # A None entry in sys.modules makes `import matplotlib` raise ImportError, as if not installed.
    for name in ("matplotlib", "matplotlib.pyplot"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(MinivggError) as info:
        plot_losses(_history(), tmp_path / "x.png")
    msg = str(info.value)
    assert "\n" not in msg and "pip install 'minivgg[plot]'" in msg and "matplotlib" in msg
    assert not (tmp_path / "x.png").exists()
    with pytest.raises(MinivggError, match="pip install"):
        require_matplotlib()
