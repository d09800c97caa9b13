"""The run options every image-optimising command shares (``stylize``, ``reconstruct``).

One definition of each flag, so ``--size``, ``--iterations``, ``--optimizer``, ``--lr``,
``--bounds``, ``--pooling``, ``--device``, ``--weights``, ``--seed``, ``--init``, ``--print-every``
and ``--quiet`` mean the same thing, with the same defaults and help, in every tool::

    from .options import add_run_options
    add_run_options(parser)                                  # every run option
    add_run_options(parser, init=False, iterations=200)      # no --init; another default

``add_run_options`` also accepts a dict of argument groups (``{"images": g1, "objective": g2,
"optimisation": g3, "running": g4}``) so that a tool can keep its ``--help`` sections; a flag goes
to its section's group, or to the first group given when its section is missing.
"""

from __future__ import annotations

from ..optim import DEFAULT_ADAM_LR, OPTIMIZERS

# positive_float and nonnegative_int live in cli.py with the other argparse types; they stay
# importable from here (and in __all__) for code written against the older layout.
from .cli import nonnegative_int, positive_float, positive_int
from .pipeline import DEFAULT_SIZE, NOISE_STD
from .presets import DEFAULT_ITERATIONS

#: The option names :func:`add_run_options` defines (argparse ``dest`` names), in --help order.
RUN_OPTIONS = ("size", "init", "seed", "pooling", "iterations", "optimizer", "lr", "bounds", "device", "weights",
               "print_every", "quiet")


def layer_list(values) -> tuple:
    """Layer names given as separate words and/or comma-separated: ``conv1_1 conv2_1`` or ``conv1_1,conv2_1``."""
    return tuple(n for v in values for n in v.split(",") if n)


def add_run_options(target, *, init: bool = True, size: int = DEFAULT_SIZE, iterations: int = DEFAULT_ITERATIONS,
                    print_every: int = 10, preset: bool = False):
    """Add the shared run options to ``target``: an ArgumentParser, an argument group, or a dict of
    groups keyed ``"images"``, ``"objective"``, ``"optimisation"``, ``"running"`` (see the module doc).

    init: also add ``--init`` (a tool whose starting image is fixed, e.g. white noise, leaves it out;
    ``--seed`` is always there, it seeds the noise). size, iterations, print_every: the defaults
    (stylize's by default). preset: the settings a preset governs (:data:`minivgg.app.presets.PRESET_KEYS`:
    --init, --seed, --pooling, --iterations, --optimizer) default to None, for the preset to fill in.
    Returns ``target``.
    """
    def default(value, text):
        """(argparse default, help text) of a setting: the preset's when ``preset``."""
        return (None, "default: the preset's") if preset else (value, f"default {text}")

    if isinstance(target, dict):
        first = next(iter(target.values()))

        def group(section):
            return target.get(section, first)
    else:
        def group(section):
            return target

    g = group("images")
    g.add_argument("--size", type=positive_int, default=size, metavar="N",
                   help=f"long side of the content (and style) images in pixels (default {size})")
    if init:
        value, text = default("noise", "noise")
        g.add_argument("--init", default=value, metavar="noise|content|style|PATH",
                       help=f"starting image: white noise (the paper; std {NOISE_STD:g} grey levels, see --seed), "
                            f"the content, the first style resized, or an image file ({text})")
    value, text = default(0, "0")
    g.add_argument("--seed", type=nonnegative_int, default=value, metavar="N", help=f"seed of the noise init ({text})")

    value, text = default("avg", "avg")
    group("objective").add_argument(
        "--pooling", choices=("avg", "max"), default=value,
        help=f"VGG19 pooling; the paper replaces max by average pooling ({text})")

    g = group("optimisation")
    value, text = default(iterations, str(iterations))
    g.add_argument("--iterations", type=positive_int, default=value, metavar="N",
                   help=f"optimiser iterations ({text})")
    value, text = default("lbfgs", "lbfgs")
    if preset:
        text = "default: the preset's L-BFGS: lbfgs, or lbfgs-xp with --device gpu unless --bounds is given"
    g.add_argument("--optimizer", choices=OPTIMIZERS, default=value,
                   help=f"lbfgs (L-BFGS, the paper's method, by SciPy's L-BFGS-B), lbfgs-xp (L-BFGS written in the "
                        f"array module: on a GPU the image stays there; no --bounds) or adam ({text})")
    g.add_argument("--lr", type=positive_float, default=DEFAULT_ADAM_LR, metavar="X",
                   help=f"Adam's learning rate in grey levels per step (default {DEFAULT_ADAM_LR:g})")
    g.add_argument("--bounds", action="store_true", help="keep every pixel inside 0..255 during the optimisation")

    g = group("running")
    g.add_argument("--device", choices=("cpu", "gpu"), default="cpu", help="cpu (NumPy) or gpu (CuPy)")
    g.add_argument("--weights", metavar="PATH", default=None,
                   help="converted VGG19 weights (default: weights/vgg19.npz or $MINIVGG_WEIGHTS)")
    g.add_argument("--print-every", type=positive_int, default=print_every, metavar="N",
                   help=f"progress line every N iterations (default {print_every})")
    g.add_argument("--quiet", action="store_true", help="no progress output")
    return target


__all__ = ["add_run_options", "RUN_OPTIONS", "positive_float", "nonnegative_int", "layer_list"]
