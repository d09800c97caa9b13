"""Labelled contact sheets: a grid of images with a title, column labels above and row labels on the left.

    from minivgg.app.sheet import contact_sheet
    rgb, layout = contact_sheet([[a, b, c]], col_labels=["conv1_1", "conv2_1", "conv3_1"],
                                row_labels=["content"], title="Content reconstructions")
    save_image("sheet.png", rgb)

Cells may differ in size (each is centred in a cell as large as the largest image) and may be
``None`` (left blank: a cell not computed yet). Text is drawn with Pillow's default font --
the scalable one Pillow >= 10.1 ships when FreeType is available, else its small bitmap font -- in
black on white, so the sheet needs no font files. ``layout`` records what was drawn (pixel size,
grid, cell boxes and every text), so tests and callers can check a sheet without OCR.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: Font size of labels and title in pixels (when the scalable default font is available).
LABEL_SIZE = 14
TITLE_SIZE = 16


@dataclass
class SheetLayout:
    """What :func:`contact_sheet` drew. size: (width, height) of the sheet; rows, cols: the grid;
    cell_size: (width, height) of one cell; boxes[r][c]: (left, top) of cell r, c; texts: every
    string drawn, title first, then column labels, then row labels."""

    size: tuple
    rows: int
    cols: int
    cell_size: tuple
    boxes: list = field(default_factory=list)
    texts: list = field(default_factory=list)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)       # Pillow >= 10.1 with FreeType: scalable, readable
    except TypeError:                                  # pragma: no cover - older Pillow
        return ImageFont.load_default()


def _text_size(draw, text: str, font) -> tuple:
    if not text:
        return 0, 0
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return right - left, bottom - top


def _wrap(draw, text: str, font, width: int) -> list:
    """``text`` split at spaces into lines no wider than ``width`` px where possible."""
    words, lines = text.split(" "), []
    for w in words:
        if lines and _text_size(draw, lines[-1] + " " + w, font)[0] <= width:
            lines[-1] += " " + w
        else:
            lines.append(w)
    return lines or [""]


def contact_sheet(images, row_labels=None, col_labels=None, title=None, pad: int = 8, scale: int = 1,
                  label_size: int = LABEL_SIZE, title_size: int = TITLE_SIZE, image_size=None):
    """Draw ``images`` (a list of rows, each a list of RGB uint8 ``(H, W, 3)`` arrays or None) as a sheet.

    row_labels: one string per row (drawn left of the row) or None; col_labels: one per column
    (drawn above the first row; a long label wraps at spaces to the cell width) or None; title: one
    line across the top or None. pad: pixels between cells and around the sheet. scale: integer
    nearest-neighbour enlargement of every image (small reconstructions stay crisp). image_size:
    ``(width, height)`` reserved for each image before scaling (default: the largest image given;
    needed when every cell is None), so a sheet keeps its size while it fills up.
    Returns ``(rgb uint8 (H, W, 3), SheetLayout)``.
    """
    rows = [list(r) for r in images]
    if not rows or not any(rows):
        raise ValueError("contact_sheet needs at least one row with at least one cell")
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    if row_labels is not None and len(row_labels) != n_rows:
        raise ValueError(f"{len(row_labels)} row labels for {n_rows} rows")
    if col_labels is not None and len(col_labels) != n_cols:
        raise ValueError(f"{len(col_labels)} column labels for {n_cols} columns")
    scale = max(1, int(scale))
    shown = [r for row in rows for r in row if r is not None]
    if not shown and image_size is None:
        raise ValueError("contact_sheet needs an image that is not None, or image_size")
    img_w = max([a.shape[1] for a in shown] + ([int(image_size[0])] if image_size else [])) * scale
    img_h = max([a.shape[0] for a in shown] + ([int(image_size[1])] if image_size else [])) * scale

    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    font, tfont = _font(label_size), _font(title_size)
    line_h = max(_text_size(measure, "Ag_19", font)[1], 1) + 4
    # A column is as wide as its image or its longest unbreakable word, whichever is wider.
    words = [w for lab in (col_labels or []) for w in str(lab).split(" ")]
    cell_w = max([img_w] + [_text_size(measure, w, font)[0] + 4 for w in words])
    col_lines = [_wrap(measure, str(lab), font, cell_w) for lab in (col_labels or [])]
    head_h = (max(len(ls) for ls in col_lines) * line_h + pad // 2) if col_lines else 0
    row_w = (max(_text_size(measure, str(lab), font)[0] for lab in row_labels) + pad) if row_labels else 0
    title_h = (_text_size(measure, "Ag_19", tfont)[1] + 8 + pad // 2) if title else 0
    cell_h = img_h

    width = pad + row_w + n_cols * cell_w + (n_cols - 1) * pad + pad
    if title:
        width = max(width, _text_size(measure, title, tfont)[0] + 2 * pad)
    height = pad + title_h + head_h + n_rows * cell_h + (n_rows - 1) * pad + pad

    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    texts = []
    if title:
        draw.text((pad, pad), title, fill=(0, 0, 0), font=tfont)
        texts.append(title)
    x0, y0 = pad + row_w, pad + title_h + head_h
    for c, lines in enumerate(col_lines):
        left = x0 + c * (cell_w + pad)
        for i, line in enumerate(lines):
            tw = _text_size(draw, line, font)[0]
            draw.text((left + (cell_w - tw) // 2, pad + title_h + i * line_h), line, fill=(0, 0, 0), font=font)
        texts.append(str(col_labels[c]))
    boxes = []
    for r, row in enumerate(rows):
        top = y0 + r * (cell_h + pad)
        if row_labels is not None:
            th = _text_size(draw, str(row_labels[r]), font)[1]
            draw.text((pad, top + (cell_h - th) // 2), str(row_labels[r]), fill=(0, 0, 0), font=font)
        box_row = []
        for c in range(n_cols):
            left = x0 + c * (cell_w + pad)
            box_row.append((left, top))
            a = row[c] if c < len(row) else None
            if a is None:
                draw.rectangle([left, top, left + cell_w - 1, top + cell_h - 1], outline=(200, 200, 200))
                continue
            im = Image.fromarray(np.ascontiguousarray(a))
            if scale > 1:
                im = im.resize((a.shape[1] * scale, a.shape[0] * scale), Image.Resampling.NEAREST)
            sheet.paste(im, (left + (cell_w - im.width) // 2, top + (cell_h - im.height) // 2))
        boxes.append(box_row)
    if row_labels is not None:
        texts.extend(str(s) for s in row_labels)
    layout = SheetLayout(size=(width, height), rows=n_rows, cols=n_cols, cell_size=(cell_w, cell_h), boxes=boxes,
                         texts=texts)
    return np.asarray(sheet, dtype=np.uint8).copy(), layout


__all__ = ["contact_sheet", "SheetLayout", "LABEL_SIZE", "TITLE_SIZE"]
