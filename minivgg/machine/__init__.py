"""The machine under the book: process settings, the memory budget and the cost model.

* :func:`tune_process` -- the one call a command makes (``python -m minivgg.stylize``,
  ``.reconstruct``, the benchmarks) before its work: glibc keeps freed memory for reuse
  (:mod:`~minivgg.machine.malloc`) and SciPy's own OpenBLAS runs on one thread
  (:mod:`~minivgg.machine.blas_threads`). Both change the whole process, so no constructor and no
  library function makes them: a program that imports minivgg decides for itself.
* :mod:`~minivgg.machine.memory` -- will a size fit? (refused before anything is allocated).
* :mod:`~minivgg.machine.cost` -- each layer's shape, parameters, activation bytes and FLOP
  (``python -m minivgg.vgg summary``).
"""

from __future__ import annotations


def tune_process() -> dict:
    """Make the process settings a stylisation run wants; returns ``{setting: whether it took effect}``.

    Safe to call more than once (each setting is made once per process).
    """
    from .blas_threads import single_thread_scipy_blas
    from .malloc import keep_freed_memory

    return {"keep_freed_memory": keep_freed_memory(), "single_thread_scipy_blas": single_thread_scipy_blas()}


__all__ = ["tune_process"]
