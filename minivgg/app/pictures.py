"""Pictures in and out: loading any image file as RGB uint8, resizing, and saving safely.

Everything here is about getting an ordinary RGB ``uint8`` picture ``(H, W, 3)`` in and out
robustly: any Pillow mode, EXIF rotation, corrupt files and safe (atomic) saving, with one-line
:class:`~minivgg.errors.MinivggError` messages instead of tracebacks. The conversion to and from
the network's input convention is the book's (:mod:`minivgg.image`).
"""

from __future__ import annotations

import math
import os
import re
import warnings

import numpy as np
from PIL import Image, ImageOps

from ..errors import MinivggError, UsageError
from ..image import check_rgb
from .atomic import atomic_write, check_outputs, check_writable_destination, same_file
from .cli import whole_number

# Pillow >= 9.1 has the Resampling enum; LANCZOS is the sharpest of its filters, which matters
# because style transfer reproduces fine texture and a blurry resize loses it.
_LANCZOS = Image.Resampling.LANCZOS

# Extensions suggested when the user gives one Pillow cannot write.
_COMMON_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


# --------------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------


def _high_bit_to_uint8(img: Image.Image, where: str) -> np.ndarray:
    """A (H, W) uint8 array for a 16-bit, 32-bit integer or float single-channel image.

    Pillow's own ``convert('RGB')`` *clips* these modes at 255, which turns an ordinary 16-bit
    photograph almost entirely white. We scale the range instead:

    * ``I;16*`` (16-bit): divide by 257, which maps 0..65535 exactly onto 0..255 (65535 = 255 * 257).
    * ``I`` (32-bit int): no fixed range. Values already in 0..255 are kept, values in 0..65535
      are treated as 16-bit (older Pillow opened 16-bit PNGs as ``I``), anything else is stretched
      from its minimum to its maximum.
    * ``F`` (float): 0..1 is scaled by 255, 0..255 is kept, anything else is stretched.
    """
    a = np.asarray(img).astype(np.float64)
    if a.ndim != 2:  # pragma: no cover - Pillow's high-bit modes are single-channel
        raise MinivggError(f"{where}: unsupported image layout {a.shape} for mode {img.mode}")
    if not np.all(np.isfinite(a)):
        raise MinivggError(f"{where}: image contains NaN or infinite pixel values")
    lo, hi = float(a.min()), float(a.max())
    if img.mode.startswith("I;16"):
        a = a / 257.0
    elif img.mode == "F" and lo >= 0.0 and hi <= 1.0:
        a = a * 255.0
    elif lo >= 0.0 and hi <= 255.0:
        pass
    elif img.mode == "I" and lo >= 0.0 and hi <= 65535.0:
        a = a / 257.0
    elif hi > lo:
        a = (a - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def _to_rgb_array(img: Image.Image, where: str) -> np.ndarray:
    """Any Pillow image as an RGB uint8 array (H, W, 3)."""
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        gray = _high_bit_to_uint8(img, where)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    has_alpha = "A" in img.getbands() or "a" in img.getbands() or "transparency" in img.info
    try:
        if has_alpha:
            # A transparent pixel has no colour: its stored RGB is arbitrary (often black), and
            # the network cannot take an alpha channel. Composite over white, as a viewer on a
            # white page would show it, so transparent areas become neutral background.
            rgba = img.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            rgb = Image.alpha_composite(white, rgba).convert("RGB")
        else:
            # L, 1, P, CMYK, YCbCr, LAB, HSV, ...: Pillow knows the conversion.
            rgb = img.convert("RGB")
    except (ValueError, OSError) as exc:
        raise MinivggError(f"{where}: unsupported image mode {img.mode!r} ({exc})") from None
    return np.array(rgb, dtype=np.uint8)  # np.array, not asarray: a writable copy


def _bomb_message(where: str, exc: Exception) -> str:
    """One line saying the image is too large, in pixels (the count is taken from Pillow's message)."""
    # Pillow raises above 2 * MAX_IMAGE_PIXELS and only warns above MAX_IMAGE_PIXELS; we refuse
    # both, so the limit to report is MAX_IMAGE_PIXELS itself.
    found = re.search(r"\((\d+) pixels\)", str(exc))
    count = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
    limit = Image.MAX_IMAGE_PIXELS
    limit_text = f"{limit:,} pixels" if limit else "Pillow's limit"
    return (f"{where}: image is too large ({count}; the limit is {limit_text}, "
            f"PIL.Image.MAX_IMAGE_PIXELS, which guards against decompression bombs)")


def load_image(path, size=None) -> np.ndarray:
    """Read an image file as an upright RGB uint8 array of shape (H, W, 3).

    Any Pillow mode is accepted (see :func:`_to_rgb_array`); transparency is composited over
    white; EXIF orientation is applied; an animated image gives its first frame. With ``size``,
    the image is resized so that its *long* side equals ``size`` (aspect kept, LANCZOS).

    Raises MinivggError (one line, naming ``path``) for a missing, unreadable, non-image,
    corrupt, truncated, empty or too large file, and UsageError for ``size`` <= 0.
    """
    if size is not None:
        size = whole_number(size, "image size")
    where = os.fspath(path)
    if os.path.isdir(where):
        raise MinivggError(f"{where}: is a directory, not an image file")
    if not os.path.exists(where):
        raise MinivggError(f"{where}: no such file")

    # Pillow only *warns* between MAX_IMAGE_PIXELS and twice that, then would go on to allocate
    # gigabytes. Turn the warning into an error so that both cases fail cleanly.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(where) as img:
                if img.width < 1 or img.height < 1:
                    raise MinivggError(f"{where}: image is empty ({img.width}x{img.height} pixels)")
                # Image.open only reads the header. Decode everything now, inside this try, so a
                # truncated or corrupt file fails here with our message, not later in NumPy.
                # (For an animated file this decodes the current frame, which is the first.)
                img.load()
                try:
                    upright = ImageOps.exif_transpose(img)
                except Exception:
                    # A damaged EXIF block should not make a decodable picture unusable;
                    # keep the stored orientation.
                    upright = img
                rgb = _to_rgb_array(upright, where)
        except MinivggError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise MinivggError(_bomb_message(where, exc)) from None
        except Image.UnidentifiedImageError:
            raise MinivggError(f"{where}: not an image file (or a format Pillow cannot read)") from None
        except PermissionError:
            raise MinivggError(f"{where}: cannot read: permission denied") from None
        except MemoryError:
            raise MinivggError(f"{where}: not enough memory to decode this image") from None
        except Exception as exc:
            # Pillow's decoders raise a zoo of types on damaged input (OSError "image file is
            # truncated", SyntaxError "broken PNG file", ValueError, EOFError, struct.error, ...).
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise MinivggError(f"{where}: corrupt or unreadable image ({reason})") from None

    if rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise MinivggError(f"{where}: image is empty ({rgb.shape[1]}x{rgb.shape[0]} pixels)")
    if size is not None:
        rgb = resize_image(rgb, size=size)
    return rgb


# --------------------------------------------------------------------------------------------
# resizing
# --------------------------------------------------------------------------------------------


def round_half_up(x: float) -> int:
    # Python's round() rounds halves to even (2.5 -> 2); half-up is what people expect for sizes.
    return int(math.floor(x + 0.5))


def long_side_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """The (H, W) with the long side equal to ``size``, aspect ratio kept, each side >= 1."""
    size = whole_number(size, "image size")
    if height >= width:
        return size, max(1, round_half_up(width * size / height))
    return max(1, round_half_up(height * size / width)), size


def resize_image(rgb, size=None, shape=None) -> np.ndarray:
    """Resize an RGB uint8 image (H, W, 3) with LANCZOS; returns uint8 (H', W', 3).

    Give either ``size`` (the long side becomes ``size``, aspect kept) or ``shape=(H', W')``
    (exactly that, aspect not kept). With neither, the image is returned unchanged. An image that
    already has the target shape is returned as a copy without resampling (no needless blur).
    """
    rgb = check_rgb(rgb)
    if size is not None and shape is not None:
        raise UsageError("resize_image: give size or shape, not both")
    h, w = rgb.shape[:2]
    if size is not None:
        th, tw = long_side_shape(h, w, size)
    elif shape is not None:
        try:
            th, tw = shape
        except (TypeError, ValueError):
            raise UsageError(f"resize shape must be (height, width), got {shape!r}") from None
        th, tw = whole_number(th, "resize height"), whole_number(tw, "resize width")
    else:
        return rgb.copy()
    if (th, tw) == (h, w):
        return rgb.copy()
    img = Image.fromarray(np.ascontiguousarray(rgb))
    return np.array(img.resize((tw, th), _LANCZOS), dtype=np.uint8)  # Pillow takes (W, H)


# --------------------------------------------------------------------------------------------
# saving
# --------------------------------------------------------------------------------------------


def _writable_formats() -> dict:
    """{'.png': 'PNG', ...} for every extension Pillow can *write* (some formats are read-only)."""
    return {ext: fmt for ext, fmt in Image.registered_extensions().items() if fmt in Image.SAVE}


def check_output_path(path, forbid=()) -> str:
    """Validate an output image path without writing anything; returns Pillow's format name.

    A command line calls this before minutes of optimisation, so a bad ``--output`` fails at once
    rather than at the very end. Checks: ``path`` is not a directory (UsageError), its extension is
    one Pillow can write (else UsageError), it is not one of the ``forbid`` input paths (UsageError,
    :func:`~minivgg.app.atomic.check_outputs`), and its parent directory exists and is writable or can
    be created (else MinivggError).
    """
    where = os.fspath(path)
    if isinstance(forbid, (str, bytes, os.PathLike)):
        forbid = (forbid,)
    # A folder first: "out/ has no extension" would send the user looking for the wrong mistake.
    if os.path.isdir(where):
        raise UsageError(f"output {where!r} is a folder; give a file name such as {where.rstrip('/')}/out.png")
    ext = os.path.splitext(where)[1].lower()
    formats = _writable_formats()
    if ext not in formats:
        known = ", ".join(e for e in _COMMON_EXTENSIONS if e in formats)
        got = f"extension {ext!r}" if ext else "no extension"
        raise UsageError(f"output {where!r} has {got}; use an image extension such as {known}")
    check_outputs([("output", where)], [("input", other) for other in forbid])

    # save_image creates the missing directories, so the nearest existing ancestor must be writable.
    check_writable_destination(where, repr(where))
    return formats[ext]


def save_image(path, rgb, forbid=()) -> None:
    """Write an RGB uint8 image (H, W, 3) to ``path``, format chosen by the extension.

    Missing parent directories are created (``-o out/x.png`` should just work). The write is
    atomic: the image goes to a temporary file in the same directory, which then replaces ``path``
    with ``os.replace``, so a failure (disk full, Ctrl-C, encoder error) never leaves a half-written
    file nor destroys an existing one; the temporary file is removed on any failure. ``forbid``
    lists input paths the output must not overwrite (UsageError). JPEG is written at quality 95.
    Validation is :func:`check_output_path`.
    """
    fmt = check_output_path(path, forbid)
    rgb = check_rgb(rgb)
    where = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(where))
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise MinivggError(f"cannot create directory {directory!r}: {exc.strerror or exc}") from None

    img = Image.fromarray(np.ascontiguousarray(rgb))
    options = {}
    if fmt == "JPEG":
        img = img.convert("RGB")  # already RGB here; JPEG cannot store alpha or palettes
        options["quality"] = 95
    try:
        with atomic_write(where) as f:
            img.save(f, format=fmt, **options)
    except (OSError, ValueError, KeyError, TypeError) as exc:  # Pillow's encoders raise all of these
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise MinivggError(f"cannot write {where!r} as {fmt}: {reason}") from None


__all__ = ["load_image", "resize_image", "long_side_shape", "round_half_up", "save_image", "check_output_path",
           "same_file"]
