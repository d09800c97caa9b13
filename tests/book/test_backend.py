import sys

import numpy as np
import pytest

from minivgg.backend import get_array_module, get_backend, to_numpy
from minivgg.errors import UsageError


def test_cpu_backends():
    be = get_backend("cpu", "float32")
    assert be.xp is np and be.dtype == np.float32
    assert be.asarray([1, 2]).dtype == np.float32
    assert get_backend("cpu", np.float64).dtype == np.float64
    assert get_array_module(np.ones(2)) is np
    assert isinstance(to_numpy(np.ones(2)), np.ndarray)


@pytest.mark.parametrize("device,dtype", [("tpu", "float32"), ("cpu", "int8"), ("cpu", "float16")])
def test_bad_backend_arguments(device, dtype):
    with pytest.raises(UsageError):
        get_backend(device, dtype)


def test_gpu_without_cupy_is_one_clear_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)       # makes `import cupy` raise ImportError
    with pytest.raises(UsageError) as info:
        get_backend("gpu")
    msg = str(info.value)
    assert "CuPy" in msg and "\n" not in msg


def test_keep_freed_memory_can_be_switched_off():
    """On by default where glibc exists; MINIVGG_KEEP_FREED_MEMORY=0 leaves malloc alone."""
    import os
    import subprocess
    import sys

    code = "from minivgg.machine.malloc import keep_freed_memory as k; print(k(), k())"
    env = dict(os.environ, MINIVGG_KEEP_FREED_MEMORY="0")
    off = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert off.stdout.split() == ["False", "False"]
    env["MINIVGG_KEEP_FREED_MEMORY"] = "1"
    on = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    import platform
    expect = "True" if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc" else "False"
    assert on.stdout.split() == [expect, expect]
