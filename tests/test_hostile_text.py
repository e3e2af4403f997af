"""Text from a shared file cannot hurt the terminal it is printed on or the files written from it:
terminal escapes and line forgeries are shown escaped, lone surrogates (a non-UTF-8 sysfs label, a
non-UTF-8 argv) are written representably, and the capture validator reads JSON as JSON does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pciexplore import cli, open_source
from pciexplore.address import Address
from pciexplore.capture import open_capture
from pciexplore.errors import InputError
from pciexplore.render.safe import printable
from pciexplore.sources.fake_sysfs import build_tree

REPO = Path(__file__).resolve().parents[1]
CAPTURE = REPO / "data" / "default.json"
# ECMA-48 / xterm: OSC 0 sets the window title, CSI 2 J clears the screen, OSC 52 writes the clipboard;
# a carriage return lets the rest of a line overwrite what came before it
HOSTILE = "\x1b]0;owned\x07 \x1b[2J \x1b]52;c;ZWNobyBwd25lZA==\x07 ok\rFORGED\nsecond line \u202egnp.exe"


def _pciexplore(*argv: str) -> subprocess.CompletedProcess:
    """The command as a user runs it: its real stdout bytes, no test harness in between."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "LC_ALL": "C.UTF-8"}
    return subprocess.run([sys.executable, "-m", "pciexplore", *argv], capture_output=True, env=env, timeout=120)


def _capture(tmp_path) -> Path:
    path = tmp_path / "c.json"
    path.write_bytes(CAPTURE.read_bytes())
    return path


def test_printable_escapes_controls_bidi_and_surrogates():
    assert printable("a\x1b[2Jb\rc\nd\x07\x9b\u202e\udcff\ud800") == "a\\x1b[2Jb\\rc\\nd\\x07\\x9b\\u202e\\xff\\ud800"
    assert printable("line\n\tindented\x1b", lines=True) == "line\n\tindented\\x1b"
    assert printable("µs — ok") == "µs — ok"


def test_annotate_list_prints_every_note_on_one_harmless_line(tmp_path):
    path = _capture(tmp_path)
    fn = str(open_capture(path).functions()[0].address)
    added = _pciexplore("annotate", str(path), "-s", fn, "--offset", "0", "--text", HOSTILE, "--author", "\x1b[31mroot",
                        "--tag", "\x1b]52;c;eA==\x07")
    assert added.returncode == 0, added.stderr
    listed = _pciexplore("annotate", str(path), "--list")
    assert listed.returncode == 0, listed.stderr
    out = listed.stdout
    for raw in (b"\x1b", b"\x07", b"\r", "\u202e".encode()):
        assert raw not in out
    lines = out.decode().splitlines()
    assert len(lines) == len(open_capture(path).annotations)  # no note spans two lines
    assert "\\x1b]0;owned\\x07" in lines[-1] and "ok\\rFORGED\\nsecond line" in lines[-1]
    assert open_capture(path).annotations[-1].text == HOSTILE  # the file keeps the text as it was given


def test_errors_quoting_a_file_name_are_escaped(tmp_path):
    bad = tmp_path / "x\x1b]0;t\x07.json"
    bad.write_text("{")
    result = _pciexplore("show", str(bad))
    assert result.returncode == 1 and b"\x1b" not in result.stderr and b"\\x1b]0;t\\x07" in result.stderr


def test_lone_surrogates_survive_capture_annotate_and_export(tmp_path):
    out = tmp_path / "s.json"
    title = "bad \udcff\udcfe bytes and a lone \ud800"
    assert cli.main(["capture", "-o", str(out), "--title", title, str(CAPTURE)]) == 0
    assert open_capture(out).metadata["title"] == title  # \\udcXX escapes read back as the same string
    fn = str(open_capture(out).functions()[0].address)
    assert cli.main(["annotate", str(out), "-s", fn, "--offset", "4", "--text", "note \udc80"]) == 0
    assert open_capture(out).annotations[-1].text == "note \udc80"
    html, text = tmp_path / "r.html", tmp_path / "r.lspci"
    assert cli.main(["export", "--html", str(html), "--lspci", str(text), str(out)]) == 0
    assert "bad \\udcff\\udcfe bytes" in html.read_text(encoding="utf-8")  # still UTF-8, the bytes visible


def _tree_with_label(tmp_path, label: bytes) -> Path:
    cfg = bytearray(256)
    cfg[0:4] = bytes.fromhex("86801e10")
    devices = build_tree(tmp_path / "sys", [(Address(0, 0, 3, 0), bytes(cfg))])
    (devices / "0000:00:03.0" / "label").write_bytes(label)
    return devices


@pytest.mark.lspci
def test_non_utf8_sysfs_label_is_captured_and_shown_as_lspci_shows_it(tmp_path):
    devices = _tree_with_label(tmp_path, b"Onboard \xff\xfe LAN\n")
    out = tmp_path / "l.json"
    assert cli.main(["capture", "-o", str(out), str(devices)]) == 0
    assert open_source(out).functions()[0].kernel.label == open_source(devices).functions()[0].kernel.label
    html = tmp_path / "l.html"
    assert cli.main(["export", "--html", str(html), "--lspci", str(tmp_path / "l.lspci"), str(out)]) == 0
    ours = _pciexplore("show", "-v", str(devices)).stdout
    lspci = subprocess.run(["lspci", "-v", "-A", "linux-sysfs", "-O", f"sysfs.path={devices.parent}"],
                           capture_output=True).stdout
    assert b"DeviceName: Onboard \xff\xfe LAN" in lspci and ours == lspci  # the raw bytes, as lspci prints


@pytest.mark.parametrize("version", ["true", "1.0", "\"1\""])
def test_capture_version_must_be_the_integer_1(tmp_path, version):
    doc = CAPTURE.read_text().replace("\"version\": 1,", f"\"version\": {version},", 1)
    assert doc != CAPTURE.read_text()
    (tmp_path / "v.json").write_text(doc)
    with pytest.raises(InputError, match="version"):
        open_capture(tmp_path / "v.json")


def test_a_capture_with_a_utf8_bom_is_read_as_a_capture(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + CAPTURE.read_bytes())
    src = open_source(path)
    assert src.kind == "capture"
    assert [fn.config for fn in src.functions()] == [fn.config for fn in open_source(CAPTURE).functions()]
    assert json.loads(path.read_text(encoding="utf-8-sig"))["format"] == "pciexplore-capture"


def test_irqs_shows_handler_names_from_a_file_escaped(tmp_path):
    d = tmp_path / "devices" / "0000:00:02.0" / "msi_irqs"
    d.mkdir(parents=True)
    (d / "140").write_text("msix\n")
    proc = tmp_path / "interrupts"  # kernel/irq/proc.c prints handler names as the driver gave them
    proc.write_text("   CPU0\n 140: 7 PCI-MSIX-0000:00:02.0 0-edge eth0\x1b]0;owned\x07\n")
    result = _pciexplore("irqs", "--proc", str(proc), str(tmp_path / "devices"))
    assert result.returncode == 0, result.stderr
    assert b"\x1b" not in result.stdout and b"eth0\\x1b]0;owned\\x07" in result.stdout
