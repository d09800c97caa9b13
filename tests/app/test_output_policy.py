"""One output policy for every file a command writes: never an input, never another output of the run.

Each writing flag is aimed at each input flag (and at each other writing flag) of ``stylize``,
``reconstruct`` and ``weights``; every such run must be refused before any work with one line and
exit 2, and leave the folder exactly as it was (the inputs' bytes, and no file created).
"""

import os
import shutil

import numpy as np
import pytest
from helpers import call_cli
from PIL import Image

from minivgg import weights as wmod
from minivgg.app.atomic import check_outputs, same_file
from minivgg.errors import UsageError
from minivgg.reconstruct import PROG as RECONSTRUCT
from minivgg.reconstruct import main as reconstruct_main
from minivgg.stylize import PROG as STYLIZE
from minivgg.stylize import main as stylize_main


def folder_state(root):
    """Every entry under ``root``: a link's target, a file's bytes, or 'dir' (to compare before and after)."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                state[rel] = ("link", os.readlink(p))
            elif os.path.isdir(p):
                state[rel] = "dir"
            else:
                with open(p, "rb") as f:
                    state[rel] = f.read()
    return state


def assert_refused(rc, err, before, root, *words):
    assert rc == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "is the same file as" in err and "choose another path" in err, err
    for w in words:
        assert w in err, (w, err)
    assert folder_state(root) == before               # inputs untouched, nothing created


def write_input(flag, path, tiny_weights):
    """A real input of the kind ``flag`` takes at ``path`` (so a wrongly accepted run would destroy something)."""
    if flag == "--weights":
        shutil.copyfile(tiny_weights, path)
    elif flag == "--content-mask":
        Image.fromarray(np.full((24, 32), 255, dtype=np.uint8)).save(path, format="PNG")
    else:
        rng = np.random.default_rng(len(flag))
        Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(path, format="PNG")


# ------------------------------------------------------------------------------------------------
# the check itself


def test_check_outputs_names_both_flags_and_skips_missing_options(tmp_path):
    c = tmp_path / "c.png"
    c.write_bytes(b"photo")
    with pytest.raises(UsageError) as info:
        check_outputs([("--output", tmp_path / "o.png"), ("--plot", c)], [("--content", c)])
    assert str(info.value) == f"--plot {c} is the same file as --content {c}: choose another path"
    with pytest.raises(UsageError, match="--plot .* is the same file as --output"):
        check_outputs([("--output", tmp_path / "o.png"), ("--plot", tmp_path / "." / "o.png")])
    # An option not given (None) is skipped; the same input twice is fine; distinct paths pass.
    check_outputs([("--output", tmp_path / "o.png"), ("--log", None)], [("--content", c), ("--style", c),
                                                                       ("--init", None)])


def test_same_file_through_dot_relative_hard_and_symbolic_links(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.png").write_bytes(b"x")
    os.link(tmp_path / "a.png", tmp_path / "hard.png")
    (tmp_path / "sym.png").symlink_to(tmp_path / "a.png")
    (tmp_path / "dangling.png").symlink_to(tmp_path / "later.png")
    (tmp_path / "sub").mkdir()
    for other in ("./a.png", "a.png", str(tmp_path / "a.png"), "sub/../a.png", "hard.png", "sym.png"):
        assert same_file("a.png", other), other
    assert same_file("dangling.png", "later.png")     # a link to a file not written yet
    assert not same_file("a.png", "b.png") and not same_file("a.png", "sub")


# ------------------------------------------------------------------------------------------------
# stylize: --output --log --plot --save-every x --content --style --content-mask --init --weights

STYLIZE_INPUTS = ("--content", "--style", "--content-mask", "--init", "--weights")
STYLIZE_OUTPUTS = ("--output", "--log", "--plot", "--save-every")
#: The path every collision below shares: the 4th iteration's snapshot of --output out.png.
VICTIM = "out_0004.png"


def stylize_argv(tmp_path, tiny_weights, inputs=None, **writes):
    """A complete stylize command line in ``tmp_path`` (each input a real file), with ``writes`` applied."""
    paths = {}
    for flag in STYLIZE_INPUTS:
        path = (inputs or {}).get(flag) or str(tmp_path / f"{flag.strip('-')}.png")
        if not os.path.lexists(path):
            write_input(flag, path, tiny_weights)
        paths[flag] = path
    argv = [x for flag in STYLIZE_INPUTS for x in (flag, paths[flag])]
    argv += ["--output", writes.pop("output", str(tmp_path / "out.png")), "--size", "32", "--iterations", "4",
             "--quiet"]
    for flag, value in writes.items():
        argv += [f"--{flag.replace('_', '-')}", value]
    return argv


def writing(flag, path):
    """The flags that make the run write ``path`` through ``flag`` (--save-every: via --output out.png)."""
    if flag == "--save-every":
        return {"save_every": "2"}                    # out_0002.png, out_0004.png
    return {flag.strip("-"): path}


@pytest.mark.parametrize("out_flag", STYLIZE_OUTPUTS)
@pytest.mark.parametrize("in_flag", STYLIZE_INPUTS)
def test_stylize_never_writes_an_input(out_flag, in_flag, tiny_weights, tmp_path, capsys):
    victim = str(tmp_path / VICTIM)
    write_input(in_flag, victim, tiny_weights)
    argv = stylize_argv(tmp_path, tiny_weights, inputs={in_flag: victim}, **writing(out_flag, victim))
    before = folder_state(tmp_path)
    rc, _, err = call_cli(stylize_main, argv, capsys, prog=STYLIZE)
    assert_refused(rc, err, before, tmp_path, f"is the same file as {in_flag} {victim}", out_flag)


@pytest.mark.parametrize("first, second", [
    ("--output", "--log"), ("--output", "--plot"), ("--log", "--plot"),
    ("--save-every", "--log"), ("--save-every", "--plot"),
])
def test_stylize_outputs_never_collide(first, second, tiny_weights, tmp_path, capsys):
    victim = str(tmp_path / VICTIM)
    argv = stylize_argv(tmp_path, tiny_weights, **writing(first, victim), **writing(second, victim))
    before = folder_state(tmp_path)
    rc, _, err = call_cli(stylize_main, argv, capsys, prog=STYLIZE)
    assert_refused(rc, err, before, tmp_path, first, second)


def test_stylize_snapshot_through_a_symlink_to_the_output(tiny_weights, tmp_path, capsys):
    (tmp_path / VICTIM).symlink_to(tmp_path / "out.png")        # dangling: the output is not written yet
    argv = stylize_argv(tmp_path, tiny_weights, save_every="2")
    before = folder_state(tmp_path)
    rc, _, err = call_cli(stylize_main, argv, capsys, prog=STYLIZE)
    assert_refused(rc, err, before, tmp_path, "--save-every snapshot", "--output")


def test_stylize_every_snapshot_the_run_could_write_is_checked(tiny_weights, tmp_path, capsys):
    # --iterations 4 --save-every 2 writes out_0002.png and out_0004.png, never out_0003.png.
    argv = stylize_argv(tmp_path, tiny_weights, save_every="2", plot=str(tmp_path / "out_0002.png"))
    rc, _, err = call_cli(stylize_main, argv, capsys, prog=STYLIZE)
    assert rc == 2 and "--plot" in err and "out_0002.png" in err
    argv = stylize_argv(tmp_path, tiny_weights, save_every="2", log=str(tmp_path / "out_0003.png"))
    assert call_cli(stylize_main, argv, capsys, prog=STYLIZE)[0] == 0


def test_stylize_links_and_relative_paths(tiny_weights, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    stylize_argv(tmp_path, tiny_weights)                # writes content.png, style.png, ... in tmp_path
    (tmp_path / "link.png").symlink_to(tmp_path / "content.png")
    os.link(tmp_path / "style.png", tmp_path / "hard.png")
    (tmp_path / "sub").mkdir()
    before = folder_state(tmp_path)
    for flag, path, words in [("--plot", "link.png", "--content"),              # a symlink to the content
                              ("--log", "./content.png", "--content"),          # ./x for x
                              ("--plot", "sub/../style.png", "--style"),        # through a folder and back
                              ("--log", "hard.png", "--style"),                 # a hard link
                              ("--output", "./init.png", "--init")]:
        argv = stylize_argv(tmp_path, tiny_weights, **writing(flag, path))
        rc, _, err = call_cli(stylize_main, argv, capsys, prog=STYLIZE)
        assert_refused(rc, err, before, tmp_path, f"{flag} {path} is the same file as {words}")


def test_stylize_default_weights_file_is_an_input(tiny_weights, tmp_path, capsys, monkeypatch):
    w = tmp_path / "vgg19.npz"
    shutil.copyfile(tiny_weights, w)
    monkeypatch.setenv("MINIVGG_WEIGHTS", str(w))
    argv = stylize_argv(tmp_path, tiny_weights, log=str(w))
    i = argv.index("--weights")
    del argv[i:i + 2]
    before = folder_state(tmp_path)
    rc, _, err = call_cli(stylize_main, argv, capsys, prog=STYLIZE)
    assert_refused(rc, err, before, tmp_path, "--log", "the default --weights")


# ------------------------------------------------------------------------------------------------
# reconstruct: the files of --output-dir x --content --style --init --weights

RECONSTRUCT_FILES = ("grid.json", "grid_sheet.png", "grid_conv1_1_ratio1e-03.png")
RECONSTRUCT_INPUTS = ("--content", "--style", "--init", "--weights")


def reconstruct_argv(tmp_path, tiny_weights, inputs=None):
    paths = {}
    for flag in RECONSTRUCT_INPUTS:
        path = (inputs or {}).get(flag) or str(tmp_path / f"{flag.strip('-')}.png")
        if not os.path.lexists(path):
            write_input(flag, path, tiny_weights)
        paths[flag] = path
    return ["grid", *[x for flag in RECONSTRUCT_INPUTS for x in (flag, paths[flag])],
            "--output-dir", str(tmp_path / "sheet"), "--layers", "conv1_1", "--ratios", "1e-3", "--size", "32",
            "--iterations", "2", "--quiet"]


@pytest.mark.parametrize("name", RECONSTRUCT_FILES)
@pytest.mark.parametrize("in_flag", RECONSTRUCT_INPUTS)
def test_reconstruct_never_writes_an_input(name, in_flag, tiny_weights, tmp_path, capsys):
    (tmp_path / "sheet").mkdir()
    victim = str(tmp_path / "sheet" / name)
    write_input(in_flag, victim, tiny_weights)
    argv = reconstruct_argv(tmp_path, tiny_weights, inputs={in_flag: victim})
    before = folder_state(tmp_path)
    rc, _, err = call_cli(reconstruct_main, argv, capsys, prog=RECONSTRUCT)
    assert_refused(rc, err, before, tmp_path, f"--output-dir {victim}", f"{in_flag} {victim}")


def test_reconstruct_outputs_never_collide(tiny_weights, tmp_path, capsys):
    (tmp_path / "sheet").mkdir()
    (tmp_path / "sheet" / "grid_sheet.png").symlink_to(tmp_path / "sheet" / "grid.json")
    argv = reconstruct_argv(tmp_path, tiny_weights)
    before = folder_state(tmp_path)
    rc, _, err = call_cli(reconstruct_main, argv, capsys, prog=RECONSTRUCT)
    assert_refused(rc, err, before, tmp_path, "grid_sheet.png", "grid.json")


def test_reconstruct_through_a_relative_path(tiny_weights, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sheet").mkdir()
    write_input("--style", tmp_path / "sheet" / "grid_sheet.png", tiny_weights)
    argv = reconstruct_argv(tmp_path, tiny_weights, inputs={"--style": "./sheet/../sheet/grid_sheet.png"})
    before = folder_state(tmp_path)
    rc, _, err = call_cli(reconstruct_main, argv, capsys, prog=RECONSTRUCT)
    assert_refused(rc, err, before, tmp_path, "--style ./sheet/../sheet/grid_sheet.png")


# ------------------------------------------------------------------------------------------------
# weights: convert -o and fetch -o against the source


@pytest.mark.parametrize("command", ["convert", "fetch"])
@pytest.mark.parametrize("how", ["same", "dot", "symlink"])
def test_weights_never_write_over_the_source(command, how, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "vgg19.h5"
    src.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)))
    (tmp_path / "link.npz").symlink_to(src)
    out = {"same": str(src), "dot": "./vgg19.h5", "symlink": "link.npz"}[how]
    argv = ["convert", "vgg19.h5", "-o", out] if command == "convert" else ["fetch", "--from", "vgg19.h5", "-o", out]
    before = folder_state(tmp_path)
    rc, _, err = call_cli(wmod.main, argv, capsys, prog="python -m minivgg.weights")
    assert_refused(rc, err, before, tmp_path, f"-o {out}", "vgg19.h5")
