"""Keep freed memory for reuse (:func:`keep_freed_memory`), a process setting made by the commands
through :func:`minivgg.machine.tune_process`, never by a library call.

Why this matters here: one VGG19 step at 512 px allocates and frees a few GB of activations and
work buffers (one conv1 map alone is 64 x 512 x 512 floats = 67 MB). glibc's malloc serves every
block above 32 MB with a fresh ``mmap`` and unmaps it on ``free``, so the next step's arrays come
back as untouched pages: the first write to each page is a page fault in which the kernel zeroes
it. Measured on the 2-core benchmark machine, that was ~0.25 s of a 2.1 s step (its "sys" time).

With mmap off and trimming off (``mallopt``), freed blocks stay in the heap and the next array of
that size reuses one that is already mapped. The price: the process does not give memory back to
the system after a peak until it exits. That suits a stylisation run; set
``MINIVGG_KEEP_FREED_MEMORY=0`` to keep the C library's defaults (e.g. in a long-lived server).

Linux with glibc only; elsewhere (macOS, musl, Windows) this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

# mallopt parameters from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4

_done = None


def keep_freed_memory() -> bool:
    """Switch glibc malloc to reuse freed memory (once per process). Returns whether it is in effect."""
    global _done
    if _done is None:
        _done = False
        if os.environ.get("MINIVGG_KEEP_FREED_MEMORY", "1") != "0" and platform.system() == "Linux" \
                and platform.libc_ver()[0] == "glibc":
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                # trim threshold: the largest int; 2**31-1 bytes is already far beyond any free top chunk we make
                _done = bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
            except (OSError, AttributeError):
                _done = False
    return _done


__all__ = ["keep_freed_memory"]
