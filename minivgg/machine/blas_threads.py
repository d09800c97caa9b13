"""Two BLAS libraries in one process: give SciPy's own OpenBLAS a single thread.

The PyPI wheels of NumPy and SciPy each bundle an OpenBLAS (``numpy.libs/libscipy_openblas64_*.so``
and ``scipy.libs/libscipy_openblas*.so``), and each starts a pool with one thread per core. Our
convolutions run on NumPy's; SciPy's L-BFGS-B (``setulb``, C since SciPy 1.15) calls SciPy's for
its dot products and vector updates over the whole image -- memory-bound work that a second thread
hardly speeds up. An OpenBLAS worker spins for a while after each call before it sleeps, so two
pools can take the cores from each other. SciPy has sporadic reports of exactly this, L-BFGS-B
running much slower unless ``OPENBLAS_NUM_THREADS=1`` (OpenBLAS issue #5383; SciPy issues #22438,
#23161, #23191), and we saw it too, just as sporadically: in one series on the 2-core machine,
50 iterations at 128 px took 13.4 s, 2.5 s of it outside our loss and gradient, and 7.0 s with
SciPy's pool at one thread; in later series both took 7-10 s, noise hiding any difference.
``OPENBLAS_NUM_THREADS=1`` would also stop NumPy's GEMMs from using both cores, so only SciPy's
pool is limited.

:func:`single_thread_scipy_blas` finds the OpenBLAS that SciPy loaded from its own folder (Linux:
``/proc/self/maps``) and sets that one to one thread. NumPy's pool is untouched. Where SciPy uses
the same BLAS as NumPy (a system or conda build) or the library is not found, it does nothing.
"""

from __future__ import annotations

import ctypes
import os

# The thread-count setters of OpenBLAS builds: scipy-openblas (32- and 64-bit integer) and plain.
_SETTERS = ("scipy_openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
            "openblas_set_num_threads", "openblas_set_num_threads64_")
_GETTERS = ("scipy_openblas_get_num_threads", "scipy_openblas_get_num_threads64_",
            "openblas_get_num_threads", "openblas_get_num_threads64_")

_done = None


def _loaded_libraries() -> list:
    """Paths of the shared libraries mapped into this process (Linux); [] elsewhere."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split(None, 5)[5].strip() for line in f if line.count(" ") >= 5 and "/" in line}
    except (OSError, IndexError):
        return []
    return sorted(p for p in paths if ".so" in os.path.basename(p))


def bundled_openblas(package) -> str | None:
    """The loaded OpenBLAS that ``package`` (a module: numpy, scipy) ships in its wheel, or None."""
    # A wheel keeps its bundled libraries in site-packages/<name>.libs, beside site-packages/<name>.
    folder = os.path.dirname(os.path.realpath(package.__file__))
    own = (folder, folder + ".libs")
    for path in _loaded_libraries():
        if "openblas" in os.path.basename(path).lower() and os.path.dirname(os.path.realpath(path)) in own:
            return path
    return None


def scipy_own_openblas() -> str | None:
    """The path of the OpenBLAS that SciPy's wheel ships and has loaded, or None."""
    import scipy
    import scipy.optimize._lbfgsb  # noqa: F401  (loads SciPy's BLAS)

    return bundled_openblas(scipy)


def _call(path: str, names, *args):
    lib = ctypes.CDLL(path)                      # already loaded: the same handle, nothing new runs
    for name in names:
        fn = getattr(lib, name, None)
        if fn is not None:
            return fn(*args)
    return None


def blas_threads(path) -> int | None:
    """The thread count of the OpenBLAS at ``path`` (None: no library, None returned)."""
    return None if path is None else _call(path, _GETTERS)


def scipy_blas_threads() -> int | None:
    """The thread count of SciPy's own OpenBLAS, or None when there is none to see."""
    return blas_threads(scipy_own_openblas())


def single_thread_scipy_blas() -> bool:
    """Set SciPy's own OpenBLAS to one thread (once per process). Returns whether it did."""
    global _done
    if _done is None:
        _done = False
        try:
            path = scipy_own_openblas()
            if path is not None:
                _call(path, _SETTERS, ctypes.c_int(1))
                _done = blas_threads(path) == 1
        except (OSError, AttributeError):
            _done = False
    return _done


__all__ = ["bundled_openblas", "scipy_own_openblas", "blas_threads", "scipy_blas_threads",
           "single_thread_scipy_blas"]
