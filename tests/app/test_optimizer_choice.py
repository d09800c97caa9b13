"""``--optimizer lbfgs-xp`` on both command lines and in the Python API; which L-BFGS a run gets when it
names none (SciPy's on the CPU, lbfgs-xp on the GPU unless --bounds); lbfgs-xp with --bounds refused."""

import json

import numpy as np
import pytest
from helpers import call_cli
from PIL import Image

from minivgg import reconstruct, stylize
from minivgg.app.estimate import LBFGS_XP_EXTRA_EVALS, expected_evaluations
from minivgg.app.presets import PRESETS, resolve
from minivgg.errors import UsageError


def stylize_argv(imgs, tmp_path, tiny_weights, *extra):
    return ["--content", imgs["content"], "--style", imgs["style"], "--output", str(tmp_path / "out.png"),
            "--size", "32", "--iterations", "5", "--weights", str(tiny_weights), "--quiet", *extra]


def test_stylize_runs_lbfgs_xp(imgs, tmp_path, tiny_weights, capsys):
    log = tmp_path / "run.jsonl"
    rc, out, err = call_cli(stylize.main, stylize_argv(imgs, tmp_path, tiny_weights, "--optimizer", "lbfgs-xp",
                                                       "--log", str(log)), capsys, prog=stylize.PROG)
    assert rc == 0, err
    assert out == "" and err == ""
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines[0]["config"]["optimizer"] == "lbfgs-xp"
    rows = lines[1:]
    assert [r["iter"] for r in rows] == [1, 2, 3, 4, 5] and rows[-1]["loss"] < rows[0]["loss"]
    with Image.open(tmp_path / "out.png") as im:
        assert im.size == (32, 24)


@pytest.mark.parametrize("tool", ["stylize", "reconstruct"])
def test_lbfgs_xp_with_bounds_is_a_one_line_usage_error(imgs, tmp_path, tiny_weights, capsys, tool):
    if tool == "stylize":
        argv, mod = stylize_argv(imgs, tmp_path, tiny_weights, "--optimizer", "lbfgs-xp", "--bounds"), stylize
    else:
        argv = ["content", "--content", imgs["content"], "--output-dir", str(tmp_path / "cells"), "--size", "32",
                "--iterations", "2", "--weights", str(tiny_weights), "--optimizer", "lbfgs-xp", "--bounds"]
        mod = reconstruct
    rc, _, err = call_cli(mod.main, argv, capsys, prog=mod.PROG)
    assert rc == 2 and "lbfgs-xp does not keep pixel bounds" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "out.png").exists() and not (tmp_path / "cells").exists()


def test_reconstruct_runs_lbfgs_xp(imgs, tmp_path, tiny_weights, capsys):
    out = tmp_path / "cells"
    rc, _, err = call_cli(reconstruct.main, ["content", "--content", imgs["content"], "--output-dir", str(out),
                                             "--size", "32", "--iterations", "3", "--weights", str(tiny_weights),
                                             "--layers", "conv1_1", "--optimizer", "lbfgs-xp", "--quiet"],
                          capsys, prog=reconstruct.PROG)
    assert rc == 0, err
    record = json.loads((out / "content.json").read_text())
    assert record["settings"]["optimizer"] == "lbfgs-xp" and record["complete"] is True


@pytest.mark.parametrize("flags, expected", [
    ([], "lbfgs"),
    (["--device", "gpu"], "lbfgs-xp"),                          # the preset's L-BFGS, on the device
    (["--device", "gpu", "--bounds"], "lbfgs"),                 # only L-BFGS-B keeps the box
    (["--device", "gpu", "--optimizer", "lbfgs"], "lbfgs"),     # named: taken as given
    (["--device", "gpu", "--optimizer", "adam"], "adam"),
    (["--optimizer", "lbfgs-xp"], "lbfgs-xp"),
    (["--device", "gpu", "--preset", "paper"], "lbfgs-xp"),
])
def test_the_optimizer_a_stylize_run_gets(imgs, tmp_path, tiny_weights, flags, expected):
    # validate() resolves the preset without touching the device: no CuPy needed to check the choice.
    args = stylize.build_parser().parse_args(stylize_argv(imgs, tmp_path, tiny_weights, *flags))
    stylize.validate(args)
    assert args.optimizer == expected


def test_presets_resolve_the_device_l_bfgs():
    assert PRESETS["paper"]["optimizer"] == PRESETS["clean"]["optimizer"] == "lbfgs"
    assert resolve()["optimizer"] == "lbfgs" and resolve(device="cpu", bounds=True)["optimizer"] == "lbfgs"
    assert resolve("paper", device="gpu")["optimizer"] == "lbfgs-xp"
    assert resolve("paper", device="gpu", bounds=True)["optimizer"] == "lbfgs"
    assert resolve("clean", {"optimizer": "lbfgs"}, device="gpu")["optimizer"] == "lbfgs"


def test_python_api_takes_lbfgs_xp(imgs, tiny_weights):
    from minivgg.app.pipeline import stylize_files
    from minivgg.vgg import VGG19

    net = VGG19.load(tiny_weights)
    kw = dict(size=32, iterations=3, net=net)
    a = stylize_files(imgs["content"], imgs["style"], optimizer="lbfgs-xp", **kw)
    b = stylize_files(imgs["content"], imgs["style"], optimizer="lbfgs-xp", **kw)
    assert a.shape == (24, 32, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    with pytest.raises(UsageError, match="lbfgs-xp does not keep pixel bounds"):
        stylize_files(imgs["content"], imgs["style"], optimizer="lbfgs-xp", bounds=True, **kw)
    with pytest.raises(UsageError, match="unknown optimizer 'sgd'"):
        stylize_files(imgs["content"], imgs["style"], optimizer="sgd", **kw)


def test_the_estimate_counts_lbfgs_xp_evaluations():
    assert expected_evaluations(100, "lbfgs-xp") == 100 + LBFGS_XP_EXTRA_EVALS
    assert expected_evaluations(100, "adam") == 100


def test_help_names_lbfgs_xp(capsys):
    rc, out, _ = call_cli(stylize.main, ["--help"], capsys, prog=stylize.PROG)
    assert rc == 0 and "lbfgs-xp" in out
