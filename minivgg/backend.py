"""The array-module backend: NumPy on the CPU, CuPy on the GPU, one code path.

Every layer is written against an "array module" ``xp`` that is either ``numpy`` or ``cupy``;
both offer the same API for everything minivgg uses. This module is the only place that decides
which one is used and with which floating-point type:

* ``float32`` for real work (speed, memory),
* ``float64`` for finite-difference gradient checks (a central difference with step ``h`` has
  rounding error ~ eps/h, which float32's eps ~ 1e-7 makes useless).

Layers never import cupy. They either receive arrays and call :func:`get_array_module` on them
(the idiom CuPy itself recommends), or take a :class:`Backend`. Conversion to host NumPy arrays
happens only at the edges: image I/O, the SciPy optimiser, and once per evaluation the loss, whose
parts come back together (:func:`to_floats`): on a GPU each ``float()`` waits for the device.

``get_backend("gpu")`` imports CuPy, counts the devices and runs one small product on one of them,
so that a CuPy installed without CUDA's libraries fails there, as one line naming the fix, and not
at the first layer.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from .errors import UsageError

DEVICES = ("cpu", "gpu")
DTYPES = ("float32", "float64")


#: What to install when CuPy is missing or cannot run: the CUDA 12 wheel with CUDA's own libraries
#: (cuBLAS, NVRTC, ...). Bare ``cupy-cuda12x`` imports fine without them, then fails at the first kernel.
CUPY_FIX = "pip install 'minivgg[gpu]' (cupy-cuda12x[ctk]; for CUDA 13: cupy-cuda13x)"

# CuPy modules whose smoke test passed (once per process: get_backend("gpu") is called often).
_SMOKE_TESTED = weakref.WeakSet()


def _smoke_test(cupy) -> None:
    """One matrix product, one elementwise op and a copy back: a CuPy without CUDA's libraries, or
    a driver too old for them, imports and counts devices fine and fails only here."""
    a = cupy.arange(4, dtype=cupy.float32).reshape(2, 2)
    b = cupy.matmul(a, a) * 2.0 + 1.0
    if b.get().tolist() != [[5.0, 7.0], [13.0, 23.0]]:
        raise RuntimeError(f"a 2x2 matrix product gave {b.get().tolist()}")


def _import_cupy():
    """Return the cupy module with a usable GPU, or raise a one-line UsageError saying what is missing."""
    try:
        import cupy  # noqa: F401  (optional dependency)
    except ImportError:
        raise UsageError(f"device 'gpu' needs CuPy, which is not installed: {CUPY_FIX}") from None
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA driver missing or broken
        raise UsageError(f"device 'gpu': CuPy is installed but no CUDA GPU is usable ({exc})") from None
    if n < 1:
        raise UsageError("device 'gpu': CuPy is installed but no CUDA GPU was found")
    if cupy not in _SMOKE_TESTED:
        try:
            _smoke_test(cupy)
        except Exception as exc:  # a missing CUDA library shows up as ImportError, OSError, CUDA*Error ...
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())
            raise UsageError(f"device 'gpu': CuPy found {n} GPU(s) but cannot compute on them ({reason}); "
                             f"install CuPy with CUDA's libraries: {CUPY_FIX}") from None
        _SMOKE_TESTED.add(cupy)
    return cupy


def get_array_module(*arrays):
    """``cupy`` if any argument is a CuPy array, else ``numpy`` (never imports cupy itself)."""
    for a in arrays:
        mod = type(a).__module__
        if mod.startswith("cupy"):
            import cupy

            return cupy
    return np


def to_numpy(a) -> np.ndarray:
    """A host NumPy array for ``a`` (a no-op for NumPy arrays)."""
    if type(a).__module__.startswith("cupy"):
        return a.get()
    return np.asarray(a)


def device_of(a) -> str:
    """``"gpu"`` for a CuPy array, ``"cpu"`` for anything else."""
    return "gpu" if get_array_module(a) is not np else "cpu"


def to_floats(*values) -> list:
    """Python floats for ``values``: Python numbers and 0-d arrays of one device.

    On a GPU, every ``float(a)`` waits for the device and copies one number back; here the device's
    values travel together, in one copy.
    """
    xp = get_array_module(*values)
    if xp is np:
        return [float(v) for v in values]
    on_device = [i for i, v in enumerate(values) if get_array_module(v) is xp]
    host = to_numpy(xp.stack([xp.asarray(values[i], dtype=xp.float64) for i in on_device])).tolist()
    out = list(values)
    for i, v in zip(on_device, host, strict=True):
        out[i] = v
    return [float(v) for v in out]


@dataclass(frozen=True)
class Backend:
    """Where arrays live (``device``), which module makes them (``xp``) and their ``dtype``."""

    device: str
    dtype: np.dtype
    xp: object

    def asarray(self, a):
        """``a`` on this backend's device, in its dtype."""
        return self.xp.asarray(a, dtype=self.dtype)

    def zeros(self, shape):
        return self.xp.zeros(shape, dtype=self.dtype)

    @staticmethod
    def to_numpy(a) -> np.ndarray:
        return to_numpy(a)


def get_backend(device: str = "cpu", dtype="float32") -> Backend:
    """The backend for ``device`` ('cpu' or 'gpu') and ``dtype`` ('float32' or 'float64')."""
    if isinstance(device, Backend):
        return device
    if device not in DEVICES:
        raise UsageError(f"unknown device {device!r}: choose one of {', '.join(DEVICES)}")
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in DTYPES:
        raise UsageError(f"unsupported dtype {name!r}: choose one of {', '.join(DTYPES)}")
    xp = _import_cupy() if device == "gpu" else np
    return Backend(device=device, dtype=np.dtype(name), xp=xp)
