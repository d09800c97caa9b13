"""The application around the book: the picture pipeline and what the commands share.

``pipeline`` (files or pictures in, a stylised picture out), ``pictures`` (load, resize, save),
``color``, ``masks``, ``multiscale`` (the extensions), ``presets``, ``estimate`` (run time),
``options``/``cli``/``progress`` (the command lines), ``plot``, ``sheet``, ``atomic`` (safe writes,
the one output policy).
"""
