"""``import cupy`` gives the strict stand-in (tests/gpu/fakecupy.py) in any process that has
tests/gpu/standin on its path: how bench/gpu_check.sh and the subprocess tests run the GPU path
without a GPU, child processes included. Never on the path where a real CuPy should be used."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))        # tests/gpu, for fakecupy

from fakecupy import make_standin  # noqa: E402

sys.modules[__name__] = make_standin()
