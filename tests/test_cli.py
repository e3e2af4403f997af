"""The command line loads only the command it runs, and still knows every command."""

from __future__ import annotations

import json
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pciexplore import cli, commands

DUMP = Path(__file__).resolve().parents[1] / "data" / "qemu" / "q35-e1000e-nvme-rp-virtio-net-switch-edu.lspci"


def _modules_after(argv: list[str]) -> list[str]:
    """pciexplore's modules (and pandas') loaded by a fresh interpreter that ran `pciexplore ARGV`."""
    code = ("import io, json, sys, contextlib\n"
            "from pciexplore import cli\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    status = cli.main({argv!r})\n"
            "print(json.dumps([status, sorted(m for m in sys.modules if m.startswith(('pciexplore', 'pandas')))]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    status, loaded = json.loads(out)
    assert status == 0
    return loaded


def test_show_imports_only_its_own_command():
    loaded = _modules_after(["show", "-vvv", str(DUMP)])
    assert "pciexplore.commands.show" in loaded
    others = [m for m in loaded if m.startswith("pciexplore.commands.") and m != "pciexplore.commands.show"]
    assert others == []
    assert not [m for m in loaded if m.startswith(("pciexplore.capture", "pciexplore.sources.qemu", "pandas"))]


def test_help_lists_every_command_module(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    names = [i.name for i in pkgutil.iter_modules(commands.__path__) if not i.name.startswith("_")]  # _x: a helper of one
    assert len(names) >= 12
    for name in names:
        assert re.search(rf"^    {name}\b", text, re.MULTILINE), name


def test_each_command_parses_its_own_help(capsys):
    for name in cli.command_names():
        with pytest.raises(SystemExit) as e:
            cli.build_parser(name).parse_args([name, "--help"])
        assert e.value.code == 0, name
        assert f"usage: pciexplore {name}" in capsys.readouterr().out


def test_unknown_command_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["bogus"])
    assert e.value.code == 2
    assert "invalid choice: 'bogus'" in capsys.readouterr().err
