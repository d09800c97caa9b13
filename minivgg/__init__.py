"""minivgg: neural style transfer (Gatys, Ecker & Bethge 2015) from scratch in NumPy.

The public API::

    from minivgg import VGG19, load_image, preprocess, deprocess, StyleTransfer, stylize

    net = VGG19.load()                                        # weights/vgg19.npz (python -m minivgg.weights fetch)
    rgb = stylize("photo.jpg", ["painting.jpg"], size=256)    # RGB uint8 (H, W, 3)
"""

import importlib

__version__ = "0.1.0"

# Resolved on first use (PEP 562) rather than imported here: `python -m minivgg.weights` (or
# .vgg, .stylize) would otherwise find its own module already imported by the package and warn.
_EXPORTS = {
    "VGG19": "vgg",
    "load_image": "image", "preprocess": "image", "deprocess": "image", "save_image": "image",
    "StyleTransfer": "transfer", "stylize": "transfer",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
