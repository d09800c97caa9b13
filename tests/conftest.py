"""Shared pytest fixtures, for the tests of every part (tests/book, tests/fast, tests/machine, tests/app).

Most tests run on a tiny random network (same layer names and file format as VGG19, a few channels
per layer) so they take milliseconds; tests that need the real VGG19 numbers ask for
``real_weights`` and are skipped, with the reason, when the converted file is absent.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The tests live in book/, fast/, machine/ and app/ (as the package does); helpers.py, shared by all
# of them, sits here.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from minivgg.weights import default_weights_path, make_random_weights


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory):
    """Path of a tiny random weights file (widths 4, 8, 8, 16, 16), written once per test session."""
    return make_random_weights(tmp_path_factory.mktemp("weights") / "tiny.npz")


@pytest.fixture(scope="session")
def real_weights():
    """Path of the converted VGG19 weights; skips the test when they have not been fetched."""
    path = default_weights_path()
    if not path.is_file():
        pytest.skip(f"real VGG19 weights not found at {path} "
                    "(run `python -m minivgg.weights fetch` or set MINIVGG_WEIGHTS)")
    return path
