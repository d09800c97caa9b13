"""``python -m minivgg``: the list of commands, not "No module named minivgg.__main__"."""

import subprocess
import sys
from pathlib import Path

from helpers import call_cli

from minivgg.__main__ import COMMANDS, PROG, main

ROOT = Path(__file__).resolve().parents[2]


def test_lists_every_command_and_exits_0(capsys):
    for argv in ([], ["--help"], ["-h"]):
        rc, out, err = call_cli(main, argv, capsys, prog=PROG)
        assert rc == 0 and err == ""
        for cmd, what in COMMANDS:
            assert f"{cmd}  " in out and what in out


def test_unknown_argument_lists_the_commands_and_exits_2(capsys):
    rc, out, err = call_cli(main, ["stylize", "--content", "x.png"], capsys, prog=PROG)
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and "unknown argument" in err and "Traceback" not in err
    assert all(cmd in out for cmd, _ in COMMANDS)


def test_each_listed_module_exists():
    import importlib

    for cmd, _ in COMMANDS:
        module = cmd.split()[2]
        assert hasattr(importlib.import_module(module), "main"), module


def test_python_dash_m_minivgg(tmp_path):
    r = subprocess.run([sys.executable, "-m", "minivgg"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "" and "python -m minivgg.stylize" in r.stdout
