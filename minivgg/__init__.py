"""minivgg: neural style transfer (Gatys, Ecker & Bethge 2015) from scratch in NumPy.

The public API::

    from minivgg import VGG19, load_image, preprocess, deprocess, StyleTransfer, stylize_files

    net = VGG19.load()                                            # weights/vgg19.npz (minivgg.weights fetch)
    rgb = stylize_files("photo.jpg", ["painting.jpg"], size=256)  # RGB uint8 (H, W, 3)

The layout: the book (``layers``, ``gradcheck``, ``vgg``, ``losses``, ``objective``, ``optim``,
``image``, ``backend``) is what a reader learns backpropagation from; ``fast`` is the engine room
(faster convolutions), ``machine`` the process tuning and the memory and cost models, ``app`` the
picture pipeline. The commands are ``python -m minivgg.stylize``, ``.reconstruct``, ``.weights``,
``.gradcheck`` and ``.vgg summary``; ``python -m minivgg`` lists them.

The file-level function is ``stylize_files``, not ``stylize``: ``minivgg.stylize`` is the command's
module, and after ``import minivgg.stylize`` a function of that name would be shadowed by it.
"""

import importlib

__version__ = "0.1.0"

# Resolved on first use (PEP 562) rather than imported here: `python -m minivgg.weights` (or
# .vgg, .stylize) would otherwise find its own module already imported by the package and warn.
_EXPORTS = {
    "VGG19": "vgg",
    "preprocess": "image", "deprocess": "image",
    "load_image": "app.pictures", "save_image": "app.pictures",
    "StyleTransfer": "objective",
    "stylize_files": "app.pipeline", "stylize_images": "app.pipeline",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
