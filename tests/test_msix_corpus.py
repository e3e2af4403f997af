"""The MSI-X and MSI models on every corpus dump, against the installed lspci's reading of the same
file (the outside reference for capability fields), plus the checks on real-world oddities."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import corpus_dumps

import pciexplore
from pciexplore.errors import NotSupported

DUMPS = corpus_dumps()
_MSIX = re.compile(r"MSI-X: Enable(?P<en>[+-]) Count=(?P<n>\d+) Masked(?P<m>[+-])\s+"
                   r"Vector table: BAR=(?P<tb>\d) offset=(?P<to>[0-9a-f]+)\s+PBA: BAR=(?P<pb>\d) offset=(?P<po>[0-9a-f]+)")
_MSI = re.compile(r"MSI: Enable(?P<en>[+-]) Count=(?P<on>\d+)/(?P<cap>\d+) Maskable(?P<mk>[+-]) 64bit(?P<w>[+-])")


def lspci_blocks(path: Path) -> dict[str, str]:
    out = subprocess.run(["lspci", "-F", str(path), "-vvv", "-D"], capture_output=True, text=True).stdout
    return {block.split(" ", 1)[0]: block for block in out.split("\n\n") if block.strip()}


@pytest.mark.lspci
@pytest.mark.skipif(shutil.which("lspci") is None, reason="lspci not installed")
@pytest.mark.parametrize("path", DUMPS, ids=[p.name for p in DUMPS])
def test_capability_fields_match_lspci(path: Path) -> None:
    blocks = lspci_blocks(path)
    seen = 0
    for fn in pciexplore.open(path).functions():
        text = blocks.get(str(fn.address), "")
        m = _MSIX.search(text)
        if fn.msix is not None and m:
            r = fn.msix.regs()
            assert (r.enabled, r.size, r.function_masked) == (m["en"] == "+", int(m["n"]), m["m"] == "+")
            assert (r.table_bir, r.table_offset, r.pba_bir, r.pba_offset) == (
                int(m["tb"]), int(m["to"], 16), int(m["pb"]), int(m["po"], 16))
            fn.msix.checks()
            with pytest.raises(NotSupported):  # a dump has no BAR contents, and says so
                _ = fn.msix.table
            seen += 1
        m = _MSI.search(text)
        if fn.msi is not None and m:
            r = fn.msi.regs()
            assert (r.enabled, r.count, r.capable) == (m["en"] == "+", int(m["on"]), int(m["cap"]))
            assert (r.maskable, r.is_64bit) == (m["mk"] == "+", m["w"] == "+")
            assert len(fn.msi.table) == r.count
            seen += 1
    if not seen:
        pytest.skip("no MSI/MSI-X capability that lspci shows in this dump")


def test_checks_on_real_world_oddities(corpus) -> None:
    doe = pciexplore.open(corpus / "pciutils-tests" / "cap-doe.lspci").function("df:00.0")
    assert [c.kind for c in doe.msix.checks()] == ["memory_off"]  # Control: Mem- in that dump
    bridge = pciexplore.open(corpus / "realworld" / "nvidia-turing-usb-1ad0-xxx.lspci").function("0005:00:00.0")
    checks = bridge.msix.checks()  # BIR 2 on a type-1 header, which has BARs 0-1 only
    assert [c.kind for c in checks] == ["bar_unimplemented", "bar_unimplemented"]
    assert "bridge header" in checks[0].message


@pytest.mark.lspci
@pytest.mark.skipif(shutil.which("lspci") is None, reason="lspci not installed")
def test_msix_command_json_matches_lspci(corpus, capsys) -> None:
    import json

    from pciexplore.cli import main

    path = corpus / "qemu" / "q35-e1000e-nvme-virtio.lspci"
    assert main(["msix", "--json", str(path)]) == 0
    infos = {i["address"]: i for i in json.loads(capsys.readouterr().out)}
    blocks = lspci_blocks(path)
    expected = {a for a, text in blocks.items() if _MSIX.search(text) or _MSI.search(text)}
    assert set(infos) == expected
    for address, info in infos.items():
        m = _MSIX.search(blocks[address])
        if m:
            x = info["msix"]
            assert (x["size"], x["table_bir"], x["table_offset"], x["pba_offset"]) == (
                int(m["n"]), int(m["tb"]), int(m["to"], 16), int(m["po"], 16))
            assert x["vectors"] == [] and "cannot read BAR" in x["unreadable"]
