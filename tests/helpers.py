"""Helpers shared by the test files (not a conftest: plain functions, imported as ``from helpers import ...``;
pytest's default import mode puts this directory on sys.path, as it has no __init__.py)."""

from __future__ import annotations

from minivgg.cli import run_main


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
