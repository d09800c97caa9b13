"""``python -m minivgg``: the package is not one command but several; list them.

Each tool is its own module so that its ``--help`` is about one job; a user who types the package
name is pointed to them instead of getting Python's "No module named minivgg.__main__".
"""

from __future__ import annotations

import sys

from .app.cli import run_main
from .errors import UsageError

PROG = "python -m minivgg"

COMMANDS = (
    ("python -m minivgg.stylize", "paint a photo in the style of one or more paintings (the paper's method)"),
    ("python -m minivgg.reconstruct", "the paper's Figures 1 and 3: content and style reconstructions, "
                                      "the alpha/beta grid"),
    ("python -m minivgg.weights", "fetch, convert and inspect the VGG19 weights (run `fetch` first)"),
    ("python -m minivgg.gradcheck", "check every backward pass against finite differences"),
    ("python -m minivgg.vgg summary", "what each VGG19 layer costs: shapes, parameters, memory, FLOP"),
)


def commands_text() -> str:
    width = max(len(cmd) for cmd, _ in COMMANDS)
    rows = "\n".join(f"  {cmd:<{width}}  {what}" for cmd, what in COMMANDS)
    return (f"minivgg: neural style transfer (Gatys, Ecker & Bethge 2015) in NumPy. Commands:\n{rows}\n"
            "Each takes --help.")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # The list goes to stdout either way; on a wrong argument the one-line error follows on stderr.
    print(commands_text())
    if argv and argv != ["-h"] and argv != ["--help"]:
        raise UsageError(f"unknown argument {' '.join(argv)!r}: {PROG} takes no arguments; run one of the "
                         "commands above")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
