"""Tests for minivgg.image: loading every Pillow mode, EXIF, resizing, the Caffe convention and safe saving."""

import os

import numpy as np
import pytest
from PIL import Image

from minivgg.app import pictures as mimage
from minivgg.app.pictures import check_output_path, load_image, resize_image, save_image
from minivgg.backend import get_backend
from minivgg.errors import MinivggError, UsageError
from minivgg.image import MEAN_BGR, deprocess, preprocess


def _save(img, tmp_path, name, **kw):
    p = tmp_path / name
    img.save(p, **kw)
    return p


# ---------------------------------------------------------------------------- modes


def test_mode_L(tmp_path):
    p = _save(Image.new("L", (5, 3), 77), tmp_path, "l.png")
    rgb = load_image(p)
    assert rgb.dtype == np.uint8 and rgb.shape == (3, 5, 3)
    assert (rgb == 77).all()


def test_mode_RGB_values_and_writable(tmp_path):
    p = _save(Image.new("RGB", (4, 2), (10, 20, 30)), tmp_path, "rgb.png")
    rgb = load_image(p)
    assert rgb.shape == (2, 4, 3) and tuple(rgb[1, 3]) == (10, 20, 30)
    rgb[0, 0] = 0  # a writable copy, not a view of Pillow's buffer


def test_mode_LA_composited_over_white(tmp_path):
    img = Image.new("LA", (2, 1))
    img.putpixel((0, 0), (0, 0))      # fully transparent black -> white
    img.putpixel((1, 0), (0, 255))    # opaque black stays black
    rgb = load_image(_save(img, tmp_path, "la.png"))
    assert tuple(rgb[0, 0]) == (255, 255, 255)
    assert tuple(rgb[0, 1]) == (0, 0, 0)


def test_mode_RGBA_composited_over_white(tmp_path):
    img = Image.new("RGBA", (3, 1))
    img.putpixel((0, 0), (0, 0, 0, 0))          # transparent: no colour -> white
    img.putpixel((1, 0), (200, 10, 10, 255))    # opaque: unchanged
    img.putpixel((2, 0), (0, 0, 0, 128))        # half-transparent black over white -> mid grey
    rgb = load_image(_save(img, tmp_path, "rgba.png"))
    assert tuple(rgb[0, 0]) == (255, 255, 255)
    assert tuple(rgb[0, 1]) == (200, 10, 10)
    assert all(abs(int(v) - 127) <= 1 for v in rgb[0, 2])


def test_mode_P_and_P_with_transparency(tmp_path):
    img = Image.new("P", (2, 1))
    img.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    img.putpixel((0, 0), 0)
    img.putpixel((1, 0), 1)
    rgb = load_image(_save(img, tmp_path, "p.png"))
    assert tuple(rgb[0, 0]) == (255, 0, 0) and tuple(rgb[0, 1]) == (0, 0, 255)
    rgb = load_image(_save(img, tmp_path, "pt.png", transparency=0))  # index 0 (red) transparent
    assert tuple(rgb[0, 0]) == (255, 255, 255) and tuple(rgb[0, 1]) == (0, 0, 255)


def test_mode_CMYK(tmp_path):
    p = _save(Image.new("CMYK", (2, 2), (0, 255, 255, 0)), tmp_path, "cmyk.tif")  # pure red ink-wise
    rgb = load_image(p)
    assert rgb.shape == (2, 2, 3) and tuple(rgb[0, 0]) == (255, 0, 0)


def test_mode_I16_ramp_scaled_not_clipped(tmp_path):
    ramp = np.array([[0, 257, 1000, 32896, 40000, 65535]], dtype=np.uint16)
    img = Image.fromarray(ramp)
    assert img.mode == "I;16"
    rgb = load_image(_save(img, tmp_path, "ramp16.png"))
    g = rgb[0, :, 0].astype(int)
    assert g[0] == 0 and g[-1] == 255 and g[1] == 1 and g[3] == 128
    assert (np.diff(g) >= 0).all() and g[2] < 10  # clipping would make 1000 -> 255
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()


def test_mode_I16B_big_endian(tmp_path):
    img = Image.new("I;16B", (2, 1))
    img.putpixel((0, 0), 65535)
    rgb = load_image(_save(img, tmp_path, "b16.tif"))
    assert tuple(rgb[0, :, 0]) == (255, 0)


def test_mode_I_and_F(tmp_path):
    i32 = Image.fromarray(np.array([[0, 500000, 1000000]], dtype=np.int32))  # stretched min..max
    assert tuple(load_image(_save(i32, tmp_path, "i.tif"))[0, :, 0]) == (0, 128, 255)
    f01 = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32))  # 0..1 floats
    assert tuple(load_image(_save(f01, tmp_path, "f.tif"))[0, :, 0]) == (0, 128, 255)
    nan = Image.fromarray(np.array([[0.0, np.nan]], dtype=np.float32))
    with pytest.raises(MinivggError, match="NaN"):
        load_image(_save(nan, tmp_path, "nan.tif"))


def test_one_by_one(tmp_path):
    rgb = load_image(_save(Image.new("RGB", (1, 1), (1, 2, 3)), tmp_path, "1.png"))
    assert rgb.shape == (1, 1, 3) and tuple(rgb[0, 0]) == (1, 2, 3)
    assert load_image(tmp_path / "1.png", size=7).shape == (7, 7, 3)


def test_animated_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (4, 4), c) for c in ((255, 0, 0), (0, 0, 255))]
    p = tmp_path / "anim.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=50)
    rgb = load_image(p)
    assert tuple(rgb[0, 0]) == (255, 0, 0)


@pytest.mark.parametrize("orientation", [6, 8])
def test_exif_orientation_applied(tmp_path, orientation):
    # Stored 40 wide x 20 high with a red block in the stored top-left corner.
    img = Image.new("RGB", (40, 20), (128, 128, 128))
    img.paste((255, 0, 0), (0, 0, 8, 8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    p = _save(img, tmp_path, "rot.jpg", exif=exif.tobytes(), quality=95)
    rgb = load_image(p)
    assert rgb.shape == (40, 20, 3)  # transposed: now 20 wide, 40 high
    # 6: display = rotate 90 deg clockwise -> top-left goes to top-right.
    # 8: display = rotate 90 deg counter-clockwise -> top-left goes to bottom-left.
    corner = rgb[2:6, 14:18] if orientation == 6 else rgb[34:38, 2:6]
    assert (corner[..., 0] > 200).all() and (corner[..., 2] < 60).all()
    assert (rgb[20, 10] > 100).all() and (rgb[20, 10] < 160).all()  # the middle is still grey


# ---------------------------------------------------------------------------- resizing


def test_resize_long_side(tmp_path):
    p = _save(Image.new("RGB", (40, 20)), tmp_path, "wide.png")
    assert load_image(p, size=10).shape == (5, 10, 3)
    assert load_image(p, size=80).shape == (40, 80, 3)
    p = _save(Image.new("RGB", (20, 40)), tmp_path, "tall.png")
    assert load_image(p, size=10).shape == (10, 5, 3)
    # a sliver keeps at least one pixel
    assert resize_image(np.zeros((1, 100, 3), np.uint8), size=10).shape == (1, 10, 3)


def test_resize_shape_and_identity():
    rgb = np.random.default_rng(0).integers(0, 256, (6, 9, 3), dtype=np.uint8)
    out = resize_image(rgb, shape=(4, 7))
    assert out.shape == (4, 7, 3) and out.dtype == np.uint8
    same = resize_image(rgb, shape=(6, 9))
    assert (same == rgb).all() and same is not rgb
    const = np.full((8, 8, 3), 99, np.uint8)
    assert (resize_image(const, size=3) == 99).all()  # LANCZOS keeps a flat colour flat
    with pytest.raises(UsageError):
        resize_image(rgb, size=3, shape=(2, 2))
    with pytest.raises(UsageError):
        resize_image(rgb, shape=(0, 2))
    with pytest.raises(UsageError):
        resize_image(rgb.astype(np.float32), size=3)


@pytest.mark.parametrize("size", [0, -3, 2.5, True])
def test_bad_size_is_usage_error(tmp_path, size):
    p = _save(Image.new("RGB", (4, 4)), tmp_path, "x.png")
    with pytest.raises(UsageError):
        load_image(p, size=size)


# ---------------------------------------------------------------------------- pre/deprocess


def test_preprocess_one_pixel_bgr_and_mean():
    rgb = np.array([[[200, 100, 50]]], dtype=np.uint8)
    x = preprocess(rgb)
    assert x.shape == (1 * 3, 1, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 0, 0], [50 - 103.939, 100 - 116.779, 200 - 123.68], rtol=0, atol=1e-4)


def test_preprocess_layout_and_backend():
    rgb = np.random.default_rng(1).integers(0, 256, (3, 5, 3), dtype=np.uint8)
    x = preprocess(rgb, backend=get_backend("cpu", "float64"))
    assert x.shape == (3, 3, 5) and x.dtype == np.float64 and x.flags.c_contiguous
    assert x[2, 1, 4] == rgb[1, 4, 0] - MEAN_BGR[2]  # channel 2 is red


def test_round_trip_exact():
    rgb = np.random.default_rng(2).integers(0, 256, (7, 11, 3), dtype=np.uint8)
    rgb[0, :3] = [[0, 0, 0], [255, 255, 255], [0, 128, 255]]
    for dtype in ("float32", "float64"):
        out = deprocess(preprocess(rgb, backend=get_backend("cpu", dtype)))
        assert out.dtype == np.uint8 and out.shape == rgb.shape
        assert (out == rgb).all()


def test_deprocess_clips_and_rejects_nan():
    x = np.zeros((3, 1, 2))
    x[:, 0, 0] = 1000.0
    x[:, 0, 1] = -1000.0
    out = deprocess(x)
    assert tuple(out[0, 0]) == (255, 255, 255) and tuple(out[0, 1]) == (0, 0, 0)
    x[1, 0, 0] = np.nan
    with pytest.raises(MinivggError, match="NaN"):
        deprocess(x)
    with pytest.raises(UsageError):
        deprocess(np.zeros((2, 2, 3)))


@pytest.mark.parametrize("bad", [np.zeros((2, 2, 3), np.float32), np.zeros((2, 2), np.uint8),
                                 np.zeros((2, 2, 4), np.uint8), [[[0, 0, 0]]]])
def test_preprocess_rejects(bad):
    with pytest.raises(UsageError):
        preprocess(bad)


# ---------------------------------------------------------------------------- load errors


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(MinivggError, match="nope.png.*no such file"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(MinivggError, match="directory"):
        load_image(tmp_path)


def test_text_file_is_not_an_image(tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("hello, I am not a picture\n")
    with pytest.raises(MinivggError, match="notes.png.*not an image"):
        load_image(p)


@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_truncated_image(tmp_path, ext):
    noise = np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    p = _save(Image.fromarray(noise), tmp_path, f"full.{ext}")
    data = p.read_bytes()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MinivggError, match=f"cut.{ext}") as info:
        load_image(cut)
    assert "\n" not in str(info.value)


def test_zero_size_image(tmp_path, monkeypatch):
    # Pillow will not write a 0x0 file, so hand load_image a 0x0 image from Image.open.
    p = _save(Image.new("RGB", (2, 2)), tmp_path, "z.png")
    monkeypatch.setattr(mimage.Image, "open", lambda path: Image.new("RGB", (0, 3)))
    with pytest.raises(MinivggError, match="z.png.*empty"):
        load_image(p)


@pytest.mark.parametrize("side", [20, 12])  # 400 > 2*100: Pillow's error; 144: only its warning
def test_decompression_bomb(tmp_path, monkeypatch, side):
    p = _save(Image.new("RGB", (side, side)), tmp_path, "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(MinivggError, match=r"big.png.*too large.*pixels") as info:
        load_image(p)
    assert f"({side * side:,} pixels; the limit is 100 pixels" in str(info.value)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read anything")
def test_unreadable_file(tmp_path):
    p = _save(Image.new("RGB", (2, 2)), tmp_path, "secret.png")
    p.chmod(0)
    try:
        with pytest.raises(MinivggError, match="permission"):
            load_image(p)
    finally:
        p.chmod(0o644)


# ---------------------------------------------------------------------------- saving


def _rgb(seed=4):
    return np.random.default_rng(seed).integers(0, 256, (6, 8, 3), dtype=np.uint8)


def test_save_png_round_trip_and_creates_parent(tmp_path):
    rgb = _rgb()
    out = tmp_path / "new" / "dir" / "out.png"
    save_image(out, rgb)
    assert (load_image(out) == rgb).all()
    assert sorted(os.listdir(out.parent)) == ["out.png"]
    assert out.stat().st_mode & 0o044  # not left private like mkstemp's file


@pytest.mark.parametrize("name,fmt", [("a.jpg", "JPEG"), ("a.JPEG", "JPEG"), ("a.png", "PNG"), ("a.bmp", "BMP")])
def test_format_follows_extension(tmp_path, name, fmt):
    save_image(tmp_path / name, _rgb())
    with Image.open(tmp_path / name) as img:
        assert img.format == fmt and img.size == (8, 6)


def test_jpeg_quality_95(tmp_path):
    import io

    rgb = np.random.default_rng(7).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    save_image(tmp_path / "q.jpg", rgb)
    expected = io.BytesIO()
    Image.fromarray(rgb).save(expected, format="JPEG", quality=95)
    assert (tmp_path / "q.jpg").read_bytes() == expected.getvalue()


def test_unknown_extension(tmp_path):
    for name in ("out.xyz", "out"):
        with pytest.raises(UsageError, match=r"\.png"):
            save_image(tmp_path / name, _rgb())
        assert not (tmp_path / name).exists()


def test_refuses_to_overwrite_input(tmp_path):
    p = _save(Image.new("RGB", (2, 2), (9, 9, 9)), tmp_path, "in.png")
    before = p.read_bytes()
    link = tmp_path / "alias.png"
    link.symlink_to(p)
    for target in (p, tmp_path / "." / "in.png", link):
        with pytest.raises(UsageError, match="same file as input"):
            save_image(target, _rgb(), forbid=[str(p)])
    assert p.read_bytes() == before
    save_image(tmp_path / "other.png", _rgb(), forbid=[p])  # a different file is fine


def test_save_failure_is_atomic(tmp_path, monkeypatch):
    out = tmp_path / "result.png"
    save_image(out, _rgb(5))
    before = out.read_bytes()

    def broken_save(self, fp, *args, **kwargs):
        fp.write(b"half an image")
        raise OSError("No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(MinivggError, match="result.png.*No space left"):
        save_image(out, _rgb(6))
    assert out.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["result.png"]  # no temp file left behind


def test_save_interrupt_cleans_up(tmp_path, monkeypatch):
    def interrupted(self, fp, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_image(tmp_path / "x.png", _rgb())
    assert os.listdir(tmp_path) == []


def test_check_output_path_writes_nothing(tmp_path):
    target = tmp_path / "a" / "b" / "out.jpg"
    assert check_output_path(target) == "JPEG"
    assert os.listdir(tmp_path) == []
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(MinivggError, match="not a directory"):
        check_output_path(blocker / "out.png")
    (tmp_path / "d.png").mkdir()
    with pytest.raises(UsageError, match="is a folder"):
        check_output_path(tmp_path / "d.png")
    (tmp_path / "folder").mkdir()                     # a folder is named as one, even without an extension
    with pytest.raises(UsageError, match="is a folder"):
        check_output_path(tmp_path / "folder")
