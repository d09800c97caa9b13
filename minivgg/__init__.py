"""minivgg: neural style transfer (Gatys, Ecker & Bethge 2015) from scratch in NumPy.

The public API::

    from minivgg import VGG19, load_image, preprocess, deprocess, StyleTransfer, stylize

    net = VGG19.load()                                   # weights/vgg19.npz (python -m minivgg.weights fetch)
    rgb = stylize("photo.jpg", ["painting.jpg"], size=256)   # RGB uint8 (H, W, 3)
"""

from .image import deprocess, load_image, preprocess, save_image
from .transfer import StyleTransfer, stylize
from .vgg import VGG19

__version__ = "0.1.0"

__all__ = ["VGG19", "load_image", "preprocess", "deprocess", "save_image", "StyleTransfer", "stylize"]
