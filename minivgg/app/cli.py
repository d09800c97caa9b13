"""Shared plumbing for the ``python -m minivgg.<tool>`` command lines.

Every entry point runs through :func:`run_main`, so that a user error is one line on stderr and a
documented exit code, never a traceback:

* ``UsageError``  -> exit 2 (bad flags, bad arguments; argparse itself also exits 2),
* ``MinivggError`` -> exit 1 (a runtime failure: bad file, NaN loss, failed download),
* ``KeyboardInterrupt`` -> exit 130 (tools that must save work on Ctrl-C handle it themselves first),
  and :class:`Terminated`, SIGTERM turned into a KeyboardInterrupt by :class:`StopSignals`, -> exit 143,
* anything unexpected -> exit 1 with its type and message (set ``MINIVGG_DEBUG=1`` for the traceback).
"""

from __future__ import annotations

import argparse
import operator
import os
import signal
import sys

from ..errors import MinivggError, UsageError


def error_line(exc: BaseException) -> str:
    """The one-line message for ``exc`` (newlines folded, so it really is one line)."""
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def run_main(main, argv=None, prog=None) -> int:
    """Call ``main(argv)`` and turn every failure into ``error: ...`` on stderr plus an exit code."""
    try:
        return int(main(argv) or 0)
    except MinivggError as exc:
        print(f"{prog + ': ' if prog else ''}error: {error_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except Terminated:
        print(f"{prog + ': ' if prog else ''}terminated", file=sys.stderr)
        return Terminated.exit_code
    except KeyboardInterrupt:
        print(f"{prog + ': ' if prog else ''}interrupted", file=sys.stderr)
        return 130
    except (MemoryError, OSError, ValueError, RuntimeError, Exception) as exc:  # noqa: B014
        if os.environ.get("MINIVGG_DEBUG"):
            raise
        if type(exc).__name__ == "OutOfMemoryError":       # CuPy's, named without importing CuPy
            print(f"{prog + ': ' if prog else ''}error: the GPU's memory ran out ({error_line(exc)}): a lower "
                  "--max-memory, or --tile with a smaller T, evaluates in smaller tiles", file=sys.stderr)
            return 1
        print(f"{prog + ': ' if prog else ''}error: {type(exc).__name__}: {error_line(exc)}", file=sys.stderr)
        return 1


class Terminated(KeyboardInterrupt):
    """SIGTERM -- what ``timeout``, ``docker stop`` and job schedulers send -- raised where Ctrl-C raises
    KeyboardInterrupt (this is one), so that the code that saves the work on Ctrl-C saves it on SIGTERM
    too; the exit code then says which signal it was: 143 = 128 + 15, as a shell reports a SIGTERM death."""

    exit_code = 128 + int(signal.SIGTERM)


class StopSignals:
    """``with StopSignals() as stop:`` -- inside, SIGTERM raises :class:`Terminated` (Ctrl-C raises
    KeyboardInterrupt as always); after catching either, ``stop.hold()`` ignores both, so that a second
    signal cannot cut the saving short. Leaving the block puts the previous handlers back.

    Outside the block SIGTERM keeps its default, ending the process at once: before a run starts
    there is nothing to save, and a tool that saves nothing should not delay the stop."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.previous = {}

    def __enter__(self):
        self.previous = {s: signal.getsignal(s) for s in self.SIGNALS}
        try:
            signal.signal(signal.SIGTERM, self._terminate)
        except ValueError:                    # not the main thread: signals are not ours to handle
            self.previous = {}
        return self

    @staticmethod
    def _terminate(signum, frame):
        raise Terminated

    def hold(self):
        for s in self.SIGNALS:
            if s in self.previous:
                signal.signal(s, signal.SIG_IGN)

    def __exit__(self, *exc):
        for s, handler in self.previous.items():
            if handler is not None:           # None: set outside Python, cannot be put back from here
                signal.signal(s, handler)
        return False


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but its errors are one line and exit 2 like every other usage error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {error_line(message)} (see --help)\n")


def whole_number(value, what: str | None = None, lowest: int = 1) -> int:
    """``value`` -- an int, or text holding one -- as an int >= ``lowest``.

    Else UsageError ``{what}: expected a positive integer, got ...`` (no prefix when ``what`` is
    None). Booleans and floats are refused, not truncated: ``size=2.7`` is a mistake, not 2.
    """
    expected = "a positive integer" if lowest == 1 else f"an integer >= {lowest}"
    prefix = f"{what}: " if what else ""
    if isinstance(value, str):
        try:
            n = int(value.strip())
        except ValueError:
            raise UsageError(f"{prefix}expected {expected}, got {value.strip()!r}") from None
    elif isinstance(value, bool):
        raise UsageError(f"{prefix}expected {expected}, got {value!r}")
    else:
        try:
            n = operator.index(value)
        except TypeError:
            raise UsageError(f"{prefix}expected {expected}, got {value!r}") from None
    if n < lowest:
        raise UsageError(f"{prefix}expected {expected}, got {n}")
    return n


def _argparse_type(parse):
    """An argparse ``type=`` from a parser raising UsageError (argparse wants ArgumentTypeError)."""
    def convert(text):
        try:
            return parse(text)
        except UsageError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    convert.__name__ = parse.__name__
    return convert


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _argparse_type(whole_number)(text)


def nonnegative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _argparse_type(lambda t: whole_number(t, lowest=0))(text)


def _float_from(text: str, ok, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (ok(value) and value != float("inf")):         # NaN fails every comparison
        raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
    return value


def nonnegative_float(text: str) -> float:
    """argparse type: a finite float >= 0."""
    return _float_from(text, lambda v: v >= 0, "a finite number >= 0")


def positive_float(text: str) -> float:
    """argparse type: a finite float > 0."""
    return _float_from(text, lambda v: v > 0, "a finite number > 0")


#: Units of :func:`memory_size`, binary as in every memory figure minivgg prints (1G = 2^30 bytes).
MEMORY_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def memory_size(text: str) -> int:
    """argparse type: a memory size in bytes, ``4G``, ``1.5G``, ``500M`` (also ``4GB``, ``4GiB``, plain bytes).
    K, M, G, T are binary: 1G = 2^30 bytes."""
    import re

    m = re.fullmatch(r"([0-9]*\.?[0-9]+)([KMGT]?)(I?B)?", text.strip().upper().replace(" ", ""))
    if m is None or (m.group(3) == "IB" and not m.group(2)):
        raise argparse.ArgumentTypeError(f"expected a memory size such as 4G, 1.5G or 500M, got {text!r}")
    value = int(float(m.group(1)) * MEMORY_UNITS[m.group(2)])
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a memory size > 0, got {text!r}")
    return value


def grid_multiple(grid: int):
    """argparse type: a positive multiple of ``grid`` (a tile on the pooling grid)."""
    def parse(text: str) -> int:
        value = positive_int(text)
        if value % grid:
            lo, hi = max(grid, value // grid * grid), -(-value // grid) * grid
            raise argparse.ArgumentTypeError(f"expected a multiple of {grid} px (the pooling grid), got {value}: "
                                             f"e.g. {lo} or {hi}")
        return value
    return parse


__all__ = ["run_main", "Terminated", "StopSignals", "ArgumentParser", "whole_number", "positive_int",
           "nonnegative_int", "positive_float", "nonnegative_float", "memory_size", "grid_multiple", "error_line",
           "UsageError", "MEMORY_UNITS"]
