"""Captures: taking them from every kind of source, the format's validation and bounds, annotations.

References: the bytes come from files lspci reads (checked with `lspci -F ... -xxxx`), the MSI-X
layout from the PCIe spec (Message Control at cap+2 with Function Mask in bit 14, Table Offset/BIR
at cap+4, PBA Offset/BIR at cap+8, 16-byte table entries, one PBA bit per vector).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

import pciexplore
from pciexplore.address import Address
from pciexplore.capture import Capture, open_capture, take
from pciexplore.capture import format as fmt
from pciexplore.errors import InputError, NotSupported, ReadOnlyError
from pciexplore.sources.fake_sysfs import build_tree

REPO = Path(__file__).resolve().parents[1]
Q35 = "qemu/q35-e1000e-nvme-virtio.lspci"
VM = "vm/virtio-msix-only-vm.lspci"
E1000E = Address(0, 1, 0, 0)  # in the q35 dump: MSI-X table in BAR 3 at 0, PBA in BAR 3 at 0x2000, 5 vectors


def _lspci_hex(path: Path) -> str:
    return subprocess.run(["lspci", "-F", str(path), "-xxxx"], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def q35_capture(corpus, tmp_path) -> Path:
    cap = take(pciexplore.open(corpus / Q35))
    return cap.save(tmp_path / "q35.json")


@pytest.mark.lspci
@pytest.mark.parametrize("name", [Q35, VM])
def test_capture_of_dump_keeps_every_byte_lspci_reads(corpus, tmp_path, name):
    from pciexplore.commands.export import lspci_text

    path = take(pciexplore.open(corpus / name)).save(tmp_path / "c.json")
    (tmp_path / "back.lspci").write_text(lspci_text(open_capture(path)))
    assert _lspci_hex(tmp_path / "back.lspci") == _lspci_hex(corpus / name)


def test_msix_windows_located_from_the_capability(corpus):
    fn = pciexplore.open(corpus / Q35).function(E1000E)
    cap = fn.cap("msix")
    cfg = fn.config
    ctl = int.from_bytes(cfg[cap.offset + 2: cap.offset + 4], "little")
    table = int.from_bytes(cfg[cap.offset + 4: cap.offset + 8], "little")
    pba = int.from_bytes(cfg[cap.offset + 8: cap.offset + 12], "little")
    from pciexplore.capture import msix_windows

    vectors = (ctl & 0x7FF) + 1
    assert msix_windows(fn) == [("msix-table", table & 7, table & ~7, 16 * vectors),
                                ("msix-pba", pba & 7, pba & ~7, 8 * ((vectors + 63) // 64))]
    assert vectors == 5 and table & 7 == 3 and pba & ~7 == 0x2000  # what QEMU's e1000e declares


def _fake_e1000e_tree(corpus, tmp_path, table: bytes, pba: bytes) -> Path:
    cfg = pciexplore.open(corpus / Q35).function(E1000E).config
    bar3 = bytearray(0x4000)
    bar3[: len(table)] = table
    bar3[0x2000: 0x2000 + len(pba)] = pba
    return build_tree(tmp_path / "sys", [(E1000E, cfg)], bar_sizes={E1000E: {0: 0x20000, 1: 0x20000, 3: 0x4000}},
                      bar_contents={(E1000E, 3): bytes(bar3)})


def test_take_reads_msix_table_and_pba_through_read_bar(corpus, tmp_path):
    table = b"".join((0xFEE00000 + n * 0x1000).to_bytes(4, "little") + bytes(4) + (0x4020 + n).to_bytes(4, "little")
                     + (n & 1).to_bytes(4, "little") for n in range(5))
    devices = _fake_e1000e_tree(corpus, tmp_path, table, b"\x14")
    interrupts = tmp_path / "interrupts"
    interrupts.write_text("           CPU0       CPU1\n 24:   1   2   PCI-MSIX-0000:01:00.0  0-edge  eth0\n"
                          " 25:   3   4   IO-APIC  9-fasteoi  acpi\n")
    msi = devices / str(E1000E) / "msi_irqs"
    msi.mkdir()
    (msi / "24").write_text("msix\n")
    cap = take(pciexplore.open(devices), proc_interrupts=interrupts)
    saved = open_capture(cap.save(tmp_path / "c.json"))
    assert saved.read_bar(E1000E, 3, 0, 80) == table
    assert saved.read_bar(E1000E, 3, 32, 16) == table[32:48]  # any part of a captured window
    assert saved.read_bar(E1000E, 3, 0x2000, 8) == b"\x14" + bytes(7)
    assert saved.captured(E1000E).missing == []
    assert saved.kernel_info(E1000E).msi_irqs == [24]
    sample = saved.interrupts(E1000E)
    assert sample.header.split() == ["CPU0", "CPU1"] and len(sample.lines) == 1 and "eth0" in sample.lines[0]
    with pytest.raises(NotSupported, match=r"BAR 0 0x0\+0x4 was not captured .*BAR 3 0x0\+0x50 \(msix-table\)"):
        saved.read_bar(E1000E, 0, 0, 4)
    with pytest.raises(ReadOnlyError):
        saved.write_config(E1000E, 4, b"\0\0")


def test_requested_windows_and_unreadable_ones_are_recorded(corpus, tmp_path):
    devices = _fake_e1000e_tree(corpus, tmp_path, b"", b"")
    cap = take(pciexplore.open(devices), bars=[(0, 0x10, 8), (2, 0, 4), (3, 0x3FFC, 8)])
    cf = cap.captured(E1000E)
    assert [(w.what, w.bar, w.offset, len(w.data)) for w in cf.windows] == [
        ("msix-table", 3, 0, 80), ("msix-pba", 3, 0x2000, 8), ("requested", 0, 0x10, 8)]
    # BAR 2 is an I/O BAR (no resource2 file); BAR 3 is 16 KiB so 0x3ffc+8 runs past its end
    assert [(m.bar, m.what) for m in cf.missing] == [(2, "requested"), (3, "requested")]
    assert all(m.reason for m in cf.missing)


def test_dump_source_cannot_read_bars_and_says_so(corpus):
    cf = take(pciexplore.open(corpus / Q35)).captured(E1000E)
    assert cf.windows == []
    assert {m.what for m in cf.missing} == {"msix-table", "msix-pba"}
    assert all("config space only" in m.reason for m in cf.missing)


def test_raw_binary_imports_as_a_capture(corpus, tmp_path):
    cfg = pciexplore.open(corpus / Q35).function(E1000E).config
    (tmp_path / "e1000e.bin").write_bytes(cfg)
    cap = open_capture(take(pciexplore.open(tmp_path / "e1000e.bin")).save(tmp_path / "c.json"))
    assert cap.metadata["source_kind"] == "raw"
    assert cap.read_config(Address(0, 0, 0, 0)) == cfg


@pytest.mark.qemu
def test_capture_of_qemu_has_the_msix_table_qemu_initialised(tmp_path):
    # QEMU's msix_init leaves every vector masked (PCI_MSIX_ENTRY_CTRL_MASKBIT set), nothing pending
    with pciexplore.open("qemu:e1000e") as src:
        cap = take(src)
    saved = open_capture(cap.save(tmp_path / "q.json"))
    fn = next(f for f in saved if f.vendor_id == 0x8086 and f.device_id == 0x10D3)
    table = next(w for w in saved.windows(fn.address) if w.what == "msix-table")
    assert len(table.data) == 5 * 16
    assert all(table.data[n * 16 + 12] & 1 for n in range(5))
    pba = next(w for w in saved.windows(fn.address) if w.what == "msix-pba")
    assert pba.data == bytes(8)


# -- annotations ----------------------------------------------------------------------------------------
def test_annotate_by_field_name_finds_the_spec_bytes(q35_capture):
    cap = open_capture(q35_capture)
    fn = cap.function(E1000E)
    msix = fn.cap("msix").offset
    note = cap.annotate(fn, "PCI_MSIX_FLAGS_MASKALL", "Function Mask", author="ann", tags=["msix"])
    assert (note.offset, note.length) == (msix + 3, 1)  # bit 14 of the 16-bit Message Control at cap+2
    note = cap.annotate(fn, "PCI_MSIX_TABLE", "where the table is")
    assert (note.offset, note.length) == (msix + 4, 4)
    note = cap.annotate(fn, "PCI_COMMAND_MASTER", "bus master")
    assert (note.offset, note.length) == (4, 1)
    with pytest.raises(InputError, match="did you mean PCI_MSIX_FLAGS_MASKALL"):
        cap.annotate(fn, "PCI_MSIX_FLAGS_MASKAL", "typo")


def test_annotations_survive_resave_and_merge(q35_capture, tmp_path):
    mine, theirs = open_capture(q35_capture), open_capture(q35_capture)
    mine.annotate("01:00.0", (0x50, 4), "mine", author="a", tags=["t1"])
    theirs.annotate("01:00.0", "PCI_MSIX_FLAGS_ENABLE", "theirs", author="b")
    theirs.annotate("00:02.0", 0x34, "capability pointer", author="b")
    mine.save()
    theirs.save(tmp_path / "theirs.json")
    again = open_capture(q35_capture)
    assert [(a.text, a.author, a.tags) for a in again.annotations] == [("mine", "a", ["t1"])]
    assert again.merge(open_capture(tmp_path / "theirs.json")) == 2
    assert again.merge(open_capture(tmp_path / "theirs.json")) == 0  # merging twice adds nothing
    again.save()
    final = open_capture(q35_capture)
    assert sorted(a.text for a in final.annotations) == ["capability pointer", "mine", "theirs"]
    assert final.notes("01:00.0") == [a for a in final.annotations if a.function == E1000E]


def test_merge_refuses_a_different_device_state(q35_capture, tmp_path):
    doc = json.loads(Path(q35_capture).read_text())
    cfg = bytearray.fromhex(doc["functions"][1]["config"])
    cfg[4] ^= 4
    doc["functions"][1]["config"] = cfg.hex()
    (tmp_path / "other.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match="different config bytes"):
        open_capture(q35_capture).merge(open_capture(tmp_path / "other.json"))


def test_annotation_bounds(q35_capture):
    cap = open_capture(q35_capture)
    with pytest.raises(InputError, match="past the 4096 captured"):
        cap.annotate("01:00.0", (4095, 2), "x")
    with pytest.raises(InputError, match="not in a captured window"):
        cap.annotate("01:00.0", (0, 16), "x", bar=3)
    with pytest.raises(InputError, match="empty"):
        cap.annotate("01:00.0", 4, "  ")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [k for k, _ in attrs]


EVIL = "<script>window.__pwned=1</script><img src=x onerror=\"document.title='pwned'\"><u>underlined</u>"


def test_notebook_views_escape_annotation_text(q35_capture):
    cap = open_capture(q35_capture)
    cap.annotate("01:00.0", 4, EVIL, author="<marquee>eve</marquee>", tags=["<s>t</s>"])
    cap.metadata["title"] = "<script>x()</script>"
    for page in (cap._repr_html_(), cap.annotations_frame().to_html()):
        parser = _Tags()
        parser.feed(page)
        assert not {"script", "img", "u", "marquee", "s"} & set(parser.tags)
        assert "onerror" not in parser.attrs
        assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page


# -- the format: validation and bounds -----------------------------------------------------------------
def _doc(q35_capture) -> dict:
    return json.loads(Path(q35_capture).read_text())


def _bad(tmp_path, doc_or_text) -> str:
    path = tmp_path / "bad.json"
    if isinstance(doc_or_text, (bytes, str)):
        path.write_bytes(doc_or_text if isinstance(doc_or_text, bytes) else doc_or_text.encode())
    else:
        path.write_text(json.dumps(doc_or_text))
    with pytest.raises(InputError) as info:
        open_capture(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


MUTATIONS = [
    (lambda d: d["functions"][2].update(config="zz" + d["functions"][2]["config"][2:]),
     "functions[2].config: not hex (character 0: 'z')"),
    (lambda d: d["functions"][0].update(config="abc"), "functions[0].config: not hex (odd number of digits)"),
    (lambda d: d["functions"][0].update(config="00" * 4097), "functions[0].config: 4097 bytes, expected 1 to 4096"),
    (lambda d: d["functions"][0].update(config=""), "functions[0].config: 0 bytes, expected 1 to 4096"),
    (lambda d: d["functions"][0].update(config=12), "functions[0].config: expected a string, got an integer"),
    (lambda d: d["functions"][1].update(address="01:20.0"), "functions[1].address: not a PCI address"),
    (lambda d: d["functions"][1].update(address=d["functions"][0]["address"]),
     "functions[1].address: 0000:00:00.0 appears twice"),
    (lambda d: d["functions"][0].update(confg="00"), "functions[0].confg: unknown field"),
    (lambda d: d["functions"][0].pop("address"), "functions[0].address: missing"),
    (lambda d: d.update(version=2), "capture format version 2 is not supported"),
    (lambda d: d.update(format="something"), "not a pciexplore capture"),
    (lambda d: d.update(functions={}), "functions: expected a list, got an object"),
    (lambda d: d["functions"][0].update(windows=[{"bar": True, "offset": 0, "data": "00"}]),
     "functions[0].windows[0].bar: expected an integer, got a boolean"),
    (lambda d: d["functions"][0].update(windows=[{"bar": 9, "offset": 0, "data": "00"}]),
     "functions[0].windows[0].bar: 9 out of range 0..6"),
    (lambda d: d["functions"][0].update(windows=[{"bar": 0, "offset": -1, "data": "00"}]),
     "functions[0].windows[0].offset: -1 out of range"),
    (lambda d: d["functions"][0].update(windows=[{"bar": 0, "offset": 0, "data": "00" * (fmt.MAX_WINDOW + 1)}]),
     f"functions[0].windows[0].data: {fmt.MAX_WINDOW + 1} bytes, expected 1 to {fmt.MAX_WINDOW}"),
    (lambda d: d["functions"][0].update(kernel={"driver": ["x"]}),
     "functions[0].kernel.driver: expected a string, got a list"),
    (lambda d: d["functions"][0].update(kernel={"ids": {"vendor": "8086"}}),
     "functions[0].kernel.ids.vendor: expected an integer, got a string"),
    (lambda d: d.update(annotations=[{"function": "07:00.0", "offset": 0, "length": 1, "text": "x"}]),
     "annotations[0].function: 0000:07:00.0 is not one of the captured functions"),
    (lambda d: d.update(annotations=[{"function": "01:00.0", "offset": 4095, "length": 2, "text": "x"}]),
     "annotations[0].length: 2 out of range 1..1"),
    (lambda d: d.update(annotations=[{"function": "01:00.0", "offset": 0, "length": 1, "text": "x" * 20000}]),
     "annotations[0].text: string of 20000 characters, more than 16384"),
    (lambda d: d.update(metadata={"title": {"a": 1}}), "metadata.title: expected a string, got an object"),
    (lambda d: d.update(extra=1), "extra: unknown field"),
]


@pytest.mark.parametrize("mutate,message", MUTATIONS, ids=[m for _, m in MUTATIONS])
def test_bad_field_is_named(q35_capture, tmp_path, mutate, message):
    doc = _doc(q35_capture)
    mutate(doc)
    assert message in _bad(tmp_path, doc)


@pytest.mark.parametrize("text,message", [
    (b"{\"format\": \"pciexplore-capture\", \"format\": 1}", "key 'format' appears twice"),
    (b"{\"format\": NaN}", "NaN is not allowed"),
    (b"{\"format\": 1" + b"1" * 5000 + b"}", "not a valid capture"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b"{\"format\": \"\xff\"}", "not UTF-8 text (byte 12)"),
    (b"{\"format\": ", "broken JSON"),
    (b"[1, 2]", "(top level): expected an object, got a list"),
    (b"[" + b"0," * 4_000_001 + b"0]", "more than 4000000 JSON values"),
])
def test_malformed_json_is_one_clear_line(tmp_path, text, message):
    assert message in _bad(tmp_path, text)


def test_size_bounds(q35_capture, tmp_path, monkeypatch):
    monkeypatch.setattr(fmt, "MAX_FILE_BYTES", 1000)
    assert "more than the 1000 allowed" in _bad(tmp_path, Path(q35_capture).read_bytes())
    monkeypatch.setattr(fmt, "MAX_FUNCTIONS", 3)
    monkeypatch.setattr(fmt, "MAX_FILE_BYTES", 64 << 20)
    assert "functions: 11 entries, more than 3" in _bad(tmp_path, _doc(q35_capture))


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        open_capture(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        pciexplore.open(fifo)  # the content sniffing of open() must not block either


def test_cli_error_is_one_line_without_traceback(q35_capture, tmp_path):
    doc = _doc(q35_capture)
    doc["functions"][2]["config"] = "nothex"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    run = subprocess.run([sys.executable, "-m", "pciexplore", "show", str(bad)], capture_output=True, text=True,
                         cwd=REPO, timeout=60)
    assert run.returncode == 1
    assert run.stderr == f"pciexplore: {bad}: functions[2].config: not hex (character 0: 'n')\n"


def test_saved_file_is_the_documented_format(q35_capture):
    doc = _doc(q35_capture)
    assert (doc["format"], doc["version"]) == ("pciexplore-capture", 1)
    assert set(doc) == {"format", "version", "metadata", "functions", "annotations"}
    documented = (REPO / "docs" / "capture-format.md").read_text()
    for key in [*doc["functions"][0], *fmt.KERNEL_FIELDS, *fmt.METADATA_KEYS, "windows", "missing", "interrupts"]:
        assert f"`{key}`" in documented, key


def test_cli_capture_annotate_list(corpus, tmp_path):
    out = tmp_path / "c.json"

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pciexplore", *args], capture_output=True, text=True,
                              cwd=REPO, timeout=60)

    assert cli("capture", str(corpus / Q35), "-o", str(out), "--title", "q35").returncode == 0
    run = cli("annotate", str(out), "-s", "01:00.0", "--field", "PCI_MSIX_FLAGS_MASKALL", "--text", "mask", "--tag", "x",
              "--author", "me")
    assert run.returncode == 0, run.stderr
    run = cli("annotate", str(out), "--list")
    assert "0000:01:00.0 config 0x" in run.stdout and "(PCI_MSIX_FLAGS_MASKALL) [x] me" in run.stdout
    cap = open_capture(out)
    assert cap.metadata["title"] == "q35" and cap.metadata["how"].startswith("pciexplore capture")
    assert isinstance(pciexplore.open(out), Capture)
    assert isinstance(pciexplore.open(f"capture:{out}"), Capture)


@pytest.mark.parametrize("name", ["default.json", "virtio-msix-only-host.json", "q35-e1000e-nvme.json"])
def test_bundled_captures_open_and_teach(name):
    path = REPO / "data" / name
    if not path.exists():
        pytest.skip(f"{path} not bundled")
    cap = open_capture(path)
    assert len(cap.annotations) >= 3
    assert all(a.text and a.author for a in cap.annotations)
    assert any(f.cap("msix") for f in cap)



def test_capture_of_the_simulator_sees_its_verbs(tmp_path):
    # PCIe: entry n's Vector Control is at table + 16n + 12, bit 0 is the mask; Function Mask is bit 14
    with pciexplore.open("sim:nic") as src:
        fn = src.functions()[0]
        fn.msix.mask(2)
        fn.msix.unmask(1)
        fn.msix.mask_all()
        saved = open_capture(take(src).save(tmp_path / "sim.json"))
    fn = saved.functions()[0]
    table = next(w for w in saved.windows(fn.address) if w.what == "msix-table").data
    assert table[2 * 16 + 12] & 1 == 1 and table[1 * 16 + 12] & 1 == 0
    assert fn.cap("msix").get("PCI_MSIX_FLAGS", "PCI_MSIX_FLAGS_MASKALL") == 1
    assert saved.metadata["source_kind"] == "sim"


def test_capture_cannot_be_opened_for_writing(q35_capture):
    with pytest.raises(ReadOnlyError, match="cannot be written"):
        pciexplore.open(q35_capture, allow_writes=True)


def test_save_keeps_permissions_and_reports_bad_paths(q35_capture, tmp_path):
    os.chmod(q35_capture, 0o640)
    cap = open_capture(q35_capture)
    cap.annotate("01:00.0", 4, "note")
    cap.save()
    assert os.stat(q35_capture).st_mode & 0o777 == 0o640
    assert not list(Path(q35_capture).parent.glob(".*.tmp"))  # no temporary file left after a save
    with pytest.raises(InputError, match=r"nowhere/c\.json: cannot save: No such file or directory"):
        cap.save(tmp_path / "nowhere" / "c.json")


def test_cli_merge(q35_capture, tmp_path):
    from pciexplore.cli import main

    other = tmp_path / "other.json"
    theirs = open_capture(q35_capture)
    theirs.annotate("02:00.0", "PCI_MSIX_FLAGS_QSIZE", "65 vectors", author="b")
    theirs.save(other)
    assert main(["annotate", str(q35_capture), "--merge", str(other)]) == 0
    assert [a.text for a in open_capture(q35_capture).annotations] == ["65 vectors"]
    assert main(["annotate", str(q35_capture), "-s", "01:00.0", "--field", "PCI_NOPE", "--text", "x"]) == 1


def test_unplugged_and_cut_short_functions_are_reported(corpus, tmp_path):
    q35 = pciexplore.open(corpus / Q35)
    devices = build_tree(tmp_path / "sys", [(f.address, f.config) for f in q35.functions()[:3]])
    src = pciexplore.open(devices)
    first, second, third = src.addresses()
    shutil.rmtree(devices / str(second))  # hot-unplugged after the source was opened
    src.limited[third] = 4096  # as SysfsSource records a non-root read of a 4096-byte config file
    cap = take(src)
    assert cap.addresses() == [first, third]
    assert cap.metadata["extra"]["gone"].startswith(f"could not be read while capturing: {second} (")
    assert "1 function was cut short" in cap.metadata["extra"]["limited"]


def test_capture_of_a_capture_keeps_its_notes(q35_capture, tmp_path):
    cap = open_capture(q35_capture)
    cap.annotate("01:00.0", 4, "kept")
    cap.annotate("02:00.0", 4, "not selected")
    cut = take(cap, "01:00.0")
    assert cut.addresses() == [E1000E] and [a.text for a in cut.annotations] == ["kept"]
    assert cut.read_config(E1000E) == cap.read_config(E1000E)


def test_two_annotators_saving_the_same_file_lose_nothing(q35_capture, tmp_path):
    notebook, other = open_capture(q35_capture), open_capture(q35_capture)
    notebook.annotate("01:00.0", 4, "from the notebook")
    other.annotate("02:00.0", 4, "from the command line")
    other.save()
    notebook.save()  # sees the file changed since it was opened and takes the other note in first
    assert sorted(a.text for a in open_capture(q35_capture).annotations) == ["from the command line",
                                                                               "from the notebook"]
    # a file replaced by a different state of the device is not silently overwritten
    doc = json.loads(Path(q35_capture).read_text())
    doc["functions"][0]["config"] = "00" + doc["functions"][0]["config"][2:]
    Path(q35_capture).write_text(json.dumps(doc))
    notebook.annotate("01:00.0", 8, "late")
    with pytest.raises(InputError, match="cannot merge"):
        notebook.save()
    notebook.save(tmp_path / "elsewhere.json")


def test_notes_and_metadata_are_held_to_the_readers_bounds(q35_capture, tmp_path):
    cap = open_capture(q35_capture)
    with pytest.raises(InputError, match=r"^annotation\.author: string of 300 characters, more than 256$"):
        cap.annotate("01:00.0", 4, "hi", author="x" * 300)
    with pytest.raises(InputError, match=r"^annotation\.tags\[0\]: string of 70 characters"):
        cap.annotate("01:00.0", 4, "hi", tags=["t" * 70])
    assert cap.annotations == []
    cap.metadata["title"] = "x" * (fmt.MAX_TEXT + 1)
    with pytest.raises(InputError, match="metadata.title: string of"):
        cap.save(tmp_path / "never.json")  # a file no reader would accept is never written
    assert not (tmp_path / "never.json").exists()


def test_every_kernelinfo_field_is_kept_by_captures():
    # a field added to KernelInfo that captures do not keep would silently vanish from bug reports
    from pciexplore.sources.base import KernelInfo

    info = KernelInfo()
    assert not hasattr(info, "__dict__")  # __slots__: it can hold no attribute beyond FIELDS
    assert all(hasattr(info, name) for name in KernelInfo.FIELDS)
    assert set(KernelInfo.FIELDS) <= set(fmt.KERNEL_FIELDS)
