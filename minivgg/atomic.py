"""Writing output files safely: all or nothing, and checking the destination before the work.

minivgg's outputs (images, weights, plots, records) are written at the end of minutes of work, so
a failure then (disk full, Ctrl-C, an encoder error) must neither leave a half-written file nor
destroy the previous one, and a bad destination should be reported before the work starts.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager

from .errors import MinivggError


def _umask() -> int:
    # os.umask can only be read by setting it; set it back at once.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_write(path, mode: str = "wb", encoding: str | None = None):
    """Yield a file object whose contents replace ``path`` only if the ``with`` block succeeds.

    The data goes to a temporary file in ``path``'s directory (which must exist): the same file
    system, so the final ``os.replace`` is a rename, which is atomic. On any failure, including
    KeyboardInterrupt, the temporary file is removed, ``path`` is left as it was and the exception
    propagates unchanged (callers turn it into their own messages).
    """
    where = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(where))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(where) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())  # the data is on disk before the rename makes it visible
        # mkstemp creates the file private (0600); give it the permissions a normal file gets.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, where)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def check_writable_destination(path, what: str) -> str:
    """Check, writing nothing, that ``path`` could be created; returns its nearest existing ancestor.

    The missing directories below that ancestor are created when the file is written, so it is the
    ancestor that must be a writable directory; else MinivggError ``cannot write {what}: ...``.
    """
    parent = os.path.dirname(os.path.abspath(os.fspath(path)))
    while not os.path.exists(parent):
        up = os.path.dirname(parent)
        if up == parent:  # the root itself is missing (a vanished drive): report it, do not loop
            break
        parent = up
    if not os.path.isdir(parent):
        raise MinivggError(f"cannot write {what}: {parent!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise MinivggError(f"cannot write {what}: directory {parent!r} is not writable")
    return parent


__all__ = ["atomic_write", "check_writable_destination"]
