"""What the kit builds from one input is bounded: tooltips do not repeat every note of a byte, a note's
claimed length never drives a loop, a dump's entries are counted and weighed, and a sysfs-like tree's
files are read as bounded regular files (never /dev/zero to the end, never a FIFO that blocks).  Where a
limit is reached, one line says so and what was decoded before it is kept."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tracemalloc
import warnings
from pathlib import Path

import pytest

from pciexplore import cli, open_source
from pciexplore.address import Address
from pciexplore.capture import open_capture
from pciexplore.capture.format import Annotation
from pciexplore.capture.source import Capture
from pciexplore.errors import InputError, LimitReached
from pciexplore.render.html import render_html
from pciexplore.render.safe import TIP_CHARS, TIP_NOTES
from pciexplore.sources import dump
from pciexplore.sources.fake_sysfs import build_tree

REPO = Path(__file__).resolve().parents[1]
CAPTURE = REPO / "data" / "q35-e1000e-nvme.json"
NVME = Address(0, 2, 0, 0)  # its MSI-X table was captured: BAR 0, 0x2000+0x410


# a note's claimed length, as large as a test may make it: unbounded code building one entry per claimed
# byte takes ~0.5 GB for it (2**63, which a file could claim, took all memory)
CLAIMED = 1 << 22


def _peak_mib(call) -> float:
    """Peak memory (MiB) Python allocated while `call()` ran."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _pciexplore(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "pciexplore", *argv], capture_output=True, text=True, env=env,
                          timeout=timeout)


def test_many_long_notes_do_not_multiply_into_the_html_report(tmp_path):
    doc = json.loads(CAPTURE.read_text())
    text = "why this byte matters " * 40  # 880 characters
    doc["annotations"] = [{"function": "0000:02:00.0", "offset": 0, "length": 256, "text": f"{i} {text}"}
                          for i in range(200)]
    doc["annotations"] += [{"function": "0000:02:00.0", "bar": 0, "offset": 0x2000, "length": 0x410,
                            "text": f"table {i} {text}"} for i in range(50)]
    path = tmp_path / "notes.json"
    path.write_text(json.dumps(doc))
    page = render_html(open_capture(path))
    # every note once in the list, plus bounded tooltips: before, each of 256 bytes joined all 200 (45 MB)
    assert len(page) < 4 * path.stat().st_size, len(page)
    titles = re.findall(r'title="([^"]*)"', page)
    assert titles and max(len(t) for t in titles) < 2 * TIP_NOTES * TIP_CHARS
    assert "(+197 more notes)" in page
    assert page.count(f"199 {text}"[:60]) >= 1  # the last note is still listed, in full


def test_a_bar_note_claiming_2_63_bytes_is_refused_and_never_looped_over(tmp_path):
    doc = json.loads(CAPTURE.read_text())
    doc["annotations"] = [{"function": "0000:02:00.0", "bar": 0, "offset": 0x2000, "length": 2**63, "text": "x"}]
    path = tmp_path / "long.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"annotations\[0\]: BAR 0 0x2000\+9223372036854775808 is not inside"):
        open_capture(path)  # the reader refuses what Capture.annotate refuses to write
    good = open_capture(CAPTURE)
    notes = [Annotation(NVME, 0x2000, CLAIMED, "over the table"), Annotation(NVME, 0, CLAIMED, "over config")]
    pages = []
    peak = _peak_mib(lambda: pages.append(render_html(Capture("c", [good.captured(a) for a in good.addresses()],
                                                              {}, notes))))
    assert "over the table" in pages[0] and "over config" in pages[0]
    assert peak < 64, f"{peak:.0f} MiB to render notes over {CLAIMED} claimed bytes"


def test_hexview_clips_note_ranges_to_the_rows_shown():
    from pciexplore.widgets.hexview import HexView

    fn = open_source(CAPTURE).function("02:00.0")
    view = HexView(fn)
    peak = _peak_mib(lambda: view.annotate([(0, CLAIMED, "everything"), *[(4, 2, f"note {i} " * 100)
                                                                          for i in range(50)]]))
    assert peak < 64, f"{peak:.0f} MiB for a note over {CLAIMED} claimed bytes"
    cells = re.findall(r"title='([^']*)'", view.value)
    assert len(cells) == 256 and all("everything" in c for c in cells)
    assert max(len(c) for c in cells) < 2 * TIP_NOTES * TIP_CHARS and "(+48 more notes)" in view.value


def test_dump_of_tiny_entries_is_bounded_and_keeps_what_came_first(tmp_path, monkeypatch, capsys):
    # each entry is two short lines, yet its last byte at 0xff0 makes 4 KiB of config
    path = tmp_path / "tiny.lspci"
    path.write_text("".join(f"00:{i >> 3:02x}.{i & 7} x\nff0: {i & 0xFF:02x}\n\n" for i in range(256)))
    monkeypatch.setattr(dump, "MAX_CONFIG_TOTAL", 100 * 0xFF1)  # the real limit is 128 MiB
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        src = open_source(path)
    assert [type(w.message) for w in seen] == [LimitReached]
    assert str(path) in str(seen[0].message) and "the 100 functions before it are kept" in str(seen[0].message)
    assert len(src.functions()) == 100 and src.functions()[99].config[0xFF0] == 99
    monkeypatch.setattr(dump, "MAX_FUNCTIONS", 10)
    assert cli.main(["ls", str(path)]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 10
    assert err.count("\n") == 1 and err.startswith("pciexplore: warning: ") and "more than 10 functions" in err


def test_the_dump_limits_are_far_above_a_real_machine():
    # lspci -xxxx of 16384 functions (what MAX_DUMP_BYTES is sized for) must fit without reaching them
    assert dump.MAX_FUNCTIONS >= 4 * 16384 and dump.MAX_CONFIG_TOTAL >= 2 * 16384 * 4096


def _tree(tmp_path) -> Path:
    cfg = bytearray(256)
    cfg[0:4] = bytes.fromhex("86801e10")
    cfg[0x0A:0x0C] = b"\x00\x02"
    return build_tree(tmp_path / "sys", [(Address(0, 0, 3, 0), bytes(cfg)), (Address(0, 0, 4, 0), bytes(cfg))])


@pytest.mark.lspci
def test_dev_zero_as_vpd_or_slot_address_is_not_read_forever(tmp_path):
    devices = _tree(tmp_path)
    os.symlink("/dev/zero", devices / "0000:00:03.0" / "vpd")
    slot = devices.parent / "slots" / "7"
    slot.mkdir(parents=True)
    os.symlink("/dev/zero", slot / "address")
    result = _pciexplore("show", "-vvv", str(devices))
    assert result.returncode == 0, result.stderr
    lspci = subprocess.run(["lspci", "-vvv", "-A", "linux-sysfs", "-O", f"sysfs.path={devices.parent}"],
                           capture_output=True, text=True, timeout=60).stdout
    assert "00:04.0 Ethernet controller" in result.stdout and "00:04.0 Ethernet controller" in lspci
    assert _pciexplore("capture", "-o", str(tmp_path / "c.json"), str(devices)).returncode == 0


def test_a_huge_regular_vpd_file_is_cut_at_the_vpd_address_space(tmp_path):
    devices = _tree(tmp_path)
    (devices / "0000:00:03.0" / "vpd").write_bytes(b"\x82" * (1 << 20))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        vpd = open_source(devices).read_vpd(Address(0, 0, 3, 0))
    assert len(vpd) == 1 << 15 and [type(w.message) for w in seen] == [LimitReached]


@pytest.mark.parametrize("name", ["config", "vpd"])
def test_a_fifo_in_a_sysfs_like_tree_never_blocks(tmp_path, name):
    devices = _tree(tmp_path)
    target = devices / "0000:00:03.0" / name
    target.unlink(missing_ok=True)
    os.mkfifo(target)
    # before: blocked in open() forever (show reads config; capture reads every function's vpd too)
    result = _pciexplore("capture", "-o", str(tmp_path / "c.json"), str(devices), timeout=60)
    assert result.returncode == 0, result.stderr
    cap = open_capture(tmp_path / "c.json")
    if name == "config":  # that function is left out, saying why; the other is captured
        assert cap.addresses() == [Address(0, 0, 4, 0)]
        assert "0000:00:03.0 (config read failed: not a regular file" in cap.metadata["extra"]["gone"]
    else:
        assert cap.captured(Address(0, 0, 3, 0)).vpd is None
