"""minivgg: neural style transfer (Gatys, Ecker & Bethge 2015) from scratch in NumPy."""

__version__ = "0.1.0"
