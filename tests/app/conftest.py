"""Fixtures of the picture pipeline's tests."""

import pytest
from helpers import random_pictures


@pytest.fixture
def imgs(tmp_path):
    """A 24 x 32 content, a 30 x 20 style and a 16 x 16 second style (random PNGs), and the paths of an
    output and a log in the same folder."""
    return random_pictures(tmp_path, style2=(16, 16)) | {"out": str(tmp_path / "out.png"),
                                                        "log": str(tmp_path / "run.jsonl")}
