"""Writing output files safely: all or nothing, and checking the destination before the work.

minivgg's outputs (images, weights, plots, records) are written at the end of minutes of work, so
a failure then (disk full, Ctrl-C, an encoder error) must neither leave a half-written file nor
destroy the previous one, and a bad destination should be reported before the work starts.

The output policy, one check for every file a command writes: :func:`check_outputs` refuses an
output that is one of the run's inputs or another of its outputs (through ``./x``, relative paths,
hard links and symlinks), before any work.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager

from ..errors import MinivggError, UsageError


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


def _file_keys(path) -> set:
    """What identifies the file ``path`` names: its resolved path, and its inode where it exists.

    Two paths are the same file when their keys meet: the inode sees through hard links and
    symlinks, the resolved path through ``./x``, ``a/../x`` and links to files not written yet.
    """
    where = os.fspath(path)
    keys = {("path", os.path.normcase(os.path.realpath(where)))}
    try:
        st = os.stat(where)
    except OSError:
        pass
    else:
        keys.add(("inode", st.st_dev, st.st_ino))
    return keys


def same_file(a, b) -> bool:
    """Whether paths ``a`` and ``b`` name the same file (through links), existing or not."""
    return bool(_file_keys(a) & _file_keys(b))


def check_outputs(outputs, inputs=()) -> None:
    """Refuse, writing nothing, a run whose outputs would overwrite one of its inputs or each other.

    ``outputs`` and ``inputs`` are iterables of ``(flag, path)`` pairs, e.g. ``("--plot", "c.png")``;
    a ``None`` path (an option not given) is skipped. Raises UsageError naming both, e.g.
    ``--plot c.png is the same file as --content c.png: choose another path``. An input listed
    twice is fine (the same photo as content and style); an output is checked against every input
    first, then against the outputs before it.
    """
    def keyed(pairs):
        return [(flag, os.fspath(path), _file_keys(path)) for flag, path in pairs if path is not None]

    # Index by key so that a long list (every --save-every snapshot of a 10000-iteration run) costs
    # one stat per path, not one per pair.
    taken = {}
    for flag, path, keys in keyed(inputs):
        for key in keys:
            taken.setdefault(key, (0, flag, path))
    for flag, path, keys in keyed(outputs):
        hits = sorted(taken[k] for k in keys if k in taken)     # an input (0) before an output (1)
        if hits:
            _, other_flag, other = hits[0]
            raise UsageError(f"{flag} {path} is the same file as {other_flag} {other}: choose another path")
        for key in keys:
            taken[key] = (1, flag, path)


def create_folders(paths) -> list:
    """Create the missing folders that are to hold the files ``paths``; returns those it created.

    Each is returned as its file's folder was given (``out/``, ``runs/a/``), once, so that a command
    can say what it made: a folder appearing unannounced surprises. MinivggError when one cannot be
    made.
    """
    created, seen = [], set()
    for path in paths:
        where = os.fspath(path)
        folder = os.path.dirname(where)
        full = os.path.abspath(folder or ".")
        if full in seen:
            continue
        seen.add(full)
        if os.path.isdir(full):
            continue
        try:
            os.makedirs(full, exist_ok=True)
        except OSError as exc:
            raise MinivggError(f"cannot create folder {folder!r}: {exc.strerror or exc}") from None
        created.append(folder.rstrip(os.sep) + os.sep)
    return created


__all__ = ["atomic_write", "check_writable_destination", "same_file", "check_outputs", "create_folders"]
