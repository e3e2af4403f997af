"""A function that does not answer (config space all 0xFF) or has a header type lspci does not know
(3-0x7f): lspci prints "Unknown header type" and goes on, and so must every layer of the kit — show,
doctor, the HTML export, a capture and the Explorer the dashboard serves."""

from __future__ import annotations

import json

import pytest
from fuzzing import dump_text
from lspcicmp import lspci_text, our_text

from pciexplore import cli, open_source


def _healthy() -> bytes:
    cfg = bytearray(256)
    cfg[0:4] = bytes.fromhex("86801e10")  # 8086:101e
    cfg[0x0A:0x0C] = b"\x00\x02"  # Ethernet
    cfg[0x06] = 0x10
    cfg[0x34] = 0x40
    cfg[0x40:0x42] = b"\x05\x00"  # MSI, end of chain
    return bytes(cfg)


def _header_type(htype: int) -> bytes:
    cfg = bytearray(_healthy())
    cfg[0x0E] = htype
    return bytes(cfg)


@pytest.fixture
def dead_dump(tmp_path):
    path = tmp_path / "dead.lspci"
    path.write_text(dump_text([("00:01.0", b"\xff" * 256), ("00:02.0", _header_type(0x05)),
                               ("00:03.0", _header_type(0x7F)), ("00:04.0", _healthy())]))
    return path


@pytest.mark.lspci
def test_show_matches_lspci_which_goes_on_past_unknown_headers(dead_dump):
    theirs = lspci_text(str(dead_dump), ["-vvv"])
    assert theirs.count("!!! Unknown header type 7f") == 2 and "!!! Unknown header type 05" in theirs
    assert "04.0 Ethernet controller" in theirs  # lspci went on to the next function
    assert our_text(str(dead_dump), ["-vvv"]) == theirs


def test_doctor_names_the_silent_functions_and_checks_the_others(dead_dump, capsys):
    assert cli.main(["doctor", "--json", str(dead_dump)]) == 1
    findings = {f["device"]: f for f in json.loads(capsys.readouterr().out)}
    assert findings["0000:00:01.0"]["check"] == "no_answer"
    assert findings["0000:00:01.0"]["message"] == "the function does not answer: all 0xFF"
    assert findings["0000:00:02.0"]["check"] == "unknown_header"
    assert "Unknown header type 05" in findings["0000:00:02.0"]["message"]
    assert "Unknown header type 7f" in findings["0000:00:03.0"]["message"]
    assert "0000:00:04.0" not in findings  # a sound function still gets its checks, and passes them


def test_no_capabilities_are_read_behind_an_unknown_header(dead_dump):
    # lspci shows none (show_verbose returns at "Unknown header type"); the chain at 0x34 means nothing
    src = open_source(dead_dump)
    for fn in src.functions()[:3]:
        assert fn.capabilities == [] and fn.msi is None and fn.msix is None
        assert [p.kind for p in fn.problems] in (["no_answer"], ["unknown_header"])
    assert [c.key for c in src.functions()[3].capabilities] == ["msi"]


def test_export_and_capture_go_on(dead_dump, tmp_path, capsys):
    html_path, capture = tmp_path / "r.html", tmp_path / "c.json"
    assert cli.main(["export", "--html", str(html_path), str(dead_dump)]) == 0
    page = html_path.read_text()
    assert "the function does not answer: all 0xFF" in page and "Unknown header type 05" in page
    assert cli.main(["capture", "-o", str(capture), str(dead_dump)]) == 0
    assert [fn.config for fn in open_source(capture).functions()] == [fn.config for fn in open_source(dead_dump).functions()]
    assert cli.main(["export", "--html", str(html_path), str(capture)]) == 0


def test_explorer_shows_every_function(dead_dump):
    from pciexplore.widgets.explorer import Explorer

    src = open_source(dead_dump)
    explorer = Explorer(src)
    for fn in src.functions():
        explorer.show(fn)
        assert "Unknown header" in explorer.chain.fields.value or fn.header_type == 0
    explorer.show(src.functions()[0])
    assert "does not answer" in explorer.chain.problems.value
    assert explorer.msix_box.children[0].value == "<i>This function has no MSI-X capability.</i>"
