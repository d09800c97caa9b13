"""Multi-scale helpers: sizes from --scales / --size --levels, the iteration schedule, upsampling."""

import numpy as np
import pytest

from minivgg.app.multiscale import (
    MIN_SCALE_ITERATIONS,
    iteration_schedule,
    level_sizes,
    parse_iterations,
    parse_scales,
    resolve_scales,
    upsample_init,
)
from minivgg.app.pictures import resize_image
from minivgg.errors import UsageError
from minivgg.image import deprocess, preprocess


def test_parse_scales():
    assert parse_scales("256,512") == (256, 512)
    assert parse_scales(" 512 , 128,256") == (128, 256, 512)
    assert parse_scales([64, 32]) == (32, 64)
    for bad, msg in [("", "commas"), ("256,,512", "integer"), ("0,256", "positive"), ("a,256", "integer"),
                     ("256,256", "twice"), ("-5", "positive")]:
        with pytest.raises(UsageError, match=msg):
            parse_scales(bad)


def test_level_sizes():
    assert level_sizes(512, 3) == (128, 256, 512)
    assert level_sizes(512, 1) == (512,)
    assert level_sizes(500, 3) == (125, 250, 500)
    assert level_sizes(100, 3) == (25, 50, 100)
    assert level_sizes(90, 3) == (23, 45, 90)          # 22.5 rounds half up
    with pytest.raises(UsageError, match="fewer --levels"):
        level_sizes(2, 3)
    with pytest.raises(UsageError):
        level_sizes(512, 0)


def test_resolve_scales():
    assert resolve_scales(size=256) == (256,)
    assert resolve_scales(size=512, levels=2) == (256, 512)
    assert resolve_scales(scales="128,256") == (128, 256)
    assert resolve_scales(size=256, scales="128,256") == (128, 256)
    with pytest.raises(UsageError, match="not both"):
        resolve_scales(size=256, scales="128,256", levels=2)
    with pytest.raises(UsageError, match="differs"):
        resolve_scales(size=512, scales="128,256")
    with pytest.raises(UsageError, match="needs --size"):
        resolve_scales(levels=3)
    with pytest.raises(UsageError, match="smallest scale, 8 px"):
        resolve_scales(size=32, levels=3, min_size=16)


def test_iteration_schedule():
    assert iteration_schedule(400, 3) == (400, 200, 100)
    assert iteration_schedule(100, 1) == (100,)
    assert iteration_schedule(101, 2) == (101, 51)                       # rounded up
    assert iteration_schedule(100, 5) == (100, 50, 25, MIN_SCALE_ITERATIONS, MIN_SCALE_ITERATIONS)
    assert iteration_schedule(5, 3) == (5, 5, 5)                         # floor = min(minimum, iterations)
    s = iteration_schedule(1000, 4)
    assert all(a >= b for a, b in zip(s, s[1:], strict=False))                         # never more at a larger size
    assert parse_iterations("30,20,10", 3) == (30, 20, 10)
    assert parse_iterations(["30", "20"], 2) == (30, 20)
    assert parse_iterations(["40"], 2) == (40, 20)
    assert parse_iterations(80, 2) == (80, 40)
    with pytest.raises(UsageError, match="2 counts for 3 scales"):
        parse_iterations("30,20", 3)
    with pytest.raises(UsageError):
        parse_iterations("30,0", 2)


def test_upsample_rgb_uses_the_shared_resize():
    rgb = np.random.default_rng(0).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    up = upsample_init(rgb, (12, 16))
    assert up.dtype == np.uint8 and up.shape == (12, 16, 3)
    assert (up == resize_image(rgb, shape=(12, 16))).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_upsample_preprocessed(dtype):
    rgb = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    x = preprocess(rgb).astype(dtype)
    up = upsample_init(x, (3, 10, 14))
    assert up.shape == (3, 10, 14) and up.dtype == dtype and isinstance(up, np.ndarray)
    assert (deprocess(up) == resize_image(rgb, shape=(10, 14))).all()
    # Out-of-range values (the optimiser overshoots) are clipped like any deprocess.
    wild = x + 500.0
    assert np.isfinite(upsample_init(wild, (10, 14))).all()


def test_upsample_bad_input():
    with pytest.raises(UsageError):
        upsample_init(np.zeros((4, 5), dtype=np.float32), (8, 10))
    with pytest.raises(UsageError):
        upsample_init(np.zeros((3, 4, 5), dtype=np.float32), (8, 10, 2))
