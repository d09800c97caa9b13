"""The labelled contact sheet: size follows the layout, labels are recorded, cells land where the layout says."""

import numpy as np
import pytest

from minivgg.app.sheet import contact_sheet


def _img(h, w, colour):
    a = np.zeros((h, w, 3), dtype=np.uint8)
    a[:] = colour
    return a


def test_grid_labels_size_and_cell_positions():
    red, blue = _img(20, 30, (255, 0, 0)), _img(20, 30, (0, 0, 255))
    rgb, layout = contact_sheet([[red, blue, red], [blue, None, blue]], row_labels=["row a", "row b"],
                                col_labels=["c1", "c2", "c3"], title="A title", pad=6)
    assert rgb.dtype == np.uint8 and rgb.shape == (layout.size[1], layout.size[0], 3)
    assert (layout.rows, layout.cols) == (2, 3)
    assert layout.texts == ["A title", "c1", "c2", "c3", "row a", "row b"]
    cw, ch = layout.cell_size
    assert ch == 20 and cw >= 30
    # Width and height are exactly the sum of their parts: cells, gaps, labels, margins.
    left0, top0 = layout.boxes[0][0]
    assert layout.size[0] == left0 + 3 * cw + 2 * 6 + 6
    assert layout.size[1] == top0 + 2 * ch + 6 + 6
    # Each image is centred in its box; the empty cell stays white inside its frame.
    for r, row in enumerate([[red, blue, red], [blue, None, blue]]):
        for c, a in enumerate(row):
            left, top = layout.boxes[r][c]
            centre = rgb[top + ch // 2, left + cw // 2]
            expect = (255, 255, 255) if a is None else a[0, 0]
            assert tuple(centre) == tuple(expect)
    # Text was drawn: the title and label areas are not blank.
    assert (rgb[:top0, :] < 128).any() and (rgb[top0:, :left0] < 128).any()


def test_long_labels_wrap_and_widen_columns_scale_and_empty_sheet():
    small = _img(8, 8, (0, 255, 0))
    rgb, layout = contact_sheet([[small, small]], col_labels=["conv1_1 + ... + conv5_1", "x"], scale=2)
    assert layout.cell_size[1] == 16 and layout.cell_size[0] > 16       # column widened for the label's words
    assert layout.texts == ["conv1_1 + ... + conv5_1", "x"]
    # All cells empty: image_size reserves their room.
    rgb, layout = contact_sheet([[None, None]], image_size=(10, 12))
    assert layout.cell_size == (10, 12) and rgb.shape[:2] == (layout.size[1], layout.size[0])
    with pytest.raises(ValueError):
        contact_sheet([[None]])
    with pytest.raises(ValueError):
        contact_sheet([[small]], col_labels=["a", "b"])
