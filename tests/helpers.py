"""Helpers shared by the test files (not a conftest: plain functions, imported as ``from helpers import ...``;
conftest.py puts this directory on sys.path)."""

from __future__ import annotations

import signal
import subprocess

from minivgg.app.cli import run_main


def call_cli(main, argv, capsys, prog=None):
    """Run a command line's ``main`` in this process, as its ``python -m`` entry point would.

    argparse's own errors arrive as SystemExit, as in a real run; returns ``(rc, stdout, stderr)``.
    """
    try:
        rc = run_main(main, argv, prog=prog)
    except SystemExit as exc:
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


def interrupt_when(cmd, ready, sig=signal.SIGINT, **popen_kwargs):
    """Start ``cmd``, send it ``sig`` (default SIGINT, i.e. Ctrl-C) at the first stdout line for which
    ``ready(line)`` is true (or at EOF), and return ``(returncode, stderr)``. The process is killed if
    anything here fails, so a broken test cannot leave a 100000-iteration run behind on the machine."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen_kwargs)
    try:
        for line in proc.stdout:
            if ready(line):
                break
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, err


def random_pictures(folder, seed: int = 0, **shapes) -> dict:
    """Random-pixel PNGs in ``folder`` (the tests that use them look at plumbing, not beauty): one per
    ``name=(H, W)``, default a 24 x 32 ``content`` and a 30 x 20 ``style``; returns {name: path as str}."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    paths = {}
    for name, (H, W) in ({"content": (24, 32), "style": (30, 20)} | shapes).items():
        paths[name] = str(folder / f"{name}.png")
        Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8)).save(paths[name])
    return paths
