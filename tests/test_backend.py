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
