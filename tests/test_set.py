"""`pciexplore set` against setpci 3.9 itself, on sysfs-like trees made from every corpus dump:
`setpci -A linux-sysfs -O sysfs.path=TREE ...` beside `pciexplore set --write --source TREE/devices ...`
must print the same reads, write the same bytes and refuse the same operations (both non-zero)."""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import corpus_dumps

import pciexplore
from pciexplore import cli
from pciexplore.setpci import REGISTERS, dumpregs
from pciexplore.sources.fake_sysfs import build_tree

pytestmark = pytest.mark.skipif(shutil.which("setpci") is None, reason="setpci (Debian package pciutils) not installed")


def make_tree(dump: Path, where: Path) -> Path:
    """The `sys/bus/pci` directory (setpci's sysfs.path) of a tree holding every function of `dump`."""
    src = pciexplore.open(str(dump))
    build_tree(where, [(fn.address, fn.config) for fn in src.functions()])
    return where


def setpci(tree: Path, *words: str) -> tuple[int, str]:
    p = subprocess.run(["setpci", "-A", "linux-sysfs", "-O", f"sysfs.path={tree}", *words],
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout


def ours(tree: Path, *words: str, journal: Path | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    extra = ["--journal", str(journal)] if journal else []
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(["set", "--write", "--source", str(tree / "devices"), *extra, *words])
    return status, out.getvalue(), err.getvalue()


def configs(tree: Path) -> dict[str, bytes]:
    return {d.name: (d / "config").read_bytes() for d in sorted((tree / "devices").iterdir())}


def read_ops(fn) -> list[str]:
    """Every setpci register the function's header type has, and every capability the kit finds in
    it, read in each width (the n-th of a repeated capability with @n)."""
    htype = fn.config[0x0E] & 0x7F if len(fn.config) > 0x0E else 0
    ops = [r.name for r in REGISTERS.values() if r.cap is None and (not r.header_types or htype in r.header_types)]
    ops += ["0.L", "4.W", "3c.B", "34.B"]
    seen: dict[tuple[bool, int], int] = {}
    for cap in fn.capabilities:
        key = (cap.extended, cap.id)
        n = seen.get(key, 0)
        seen[key] = n + 1
        name = f"ECAP{cap.id:x}" if cap.extended else f"CAP{cap.id:x}"
        at = f"@{n:x}" if n else ""
        ops += [f"{name}.L{at}", f"{name}+2.W{at}", f"{name}+4.L{at}", f"{name}+3.B{at}"]
    return ops


DUMPS = corpus_dumps()


@pytest.mark.parametrize("dump", DUMPS, ids=[p.name for p in DUMPS])
def test_reads_print_what_setpci_prints(dump: Path, tmp_path: Path) -> None:
    tree = make_tree(dump, tmp_path / "t")
    for fn in pciexplore.open(str(tree / "devices")).functions():
        ops = read_ops(fn)
        want = setpci(tree, "-s", str(fn.address), *ops)
        got = ours(tree, "-s", str(fn.address), *ops)
        assert got[:2] == want, f"{fn.address}: {got[2]}"
        assert len(want[1].splitlines()) == len(ops)


WRITES = [
    ["COMMAND=0400:0400", "LATENCY_TIMER=40", "CACHE_LINE_SIZE=fffffff0", "40.L=12345678,9abcdef0,0:ff00ff00"],
    ["44.B=1,2,3,4", "48.W=ffff:00f0", "4c.L=0x10", "INTERRUPT_LINE= 0b"],
    ["50.B=-0", "52.W=fffffffe:0000fff0", "COMMAND=0:ffff", "STATUS=0"],
]


@pytest.mark.parametrize("dump", DUMPS, ids=[p.name for p in DUMPS])
def test_writes_change_the_same_bytes(dump: Path, tmp_path: Path) -> None:
    a, b = make_tree(dump, tmp_path / "a"), make_tree(dump, tmp_path / "b")
    original = configs(a)
    for fn in pciexplore.open(str(a / "devices")).functions():
        if len(fn.config) < 0x60:
            continue
        caps = [f"{'ECAP' if c.extended else 'CAP'}{c.id:x}+{4 if c.extended else 2}.W=1:1" for c in fn.capabilities]
        for ops in [*WRITES, caps[:3]]:
            if not ops:
                continue
            want = setpci(a, "-s", str(fn.address), *ops)
            got = ours(b, "-s", str(fn.address), *ops, journal=tmp_path / "j.jsonl")
            assert got[:2] == want, f"{fn.address} {ops}: {got[2]}"
    assert configs(b) == configs(a)
    if any(len(c) >= 0x60 for c in original.values()):
        assert configs(a) != original  # setpci did write


def first_dump_with(pred) -> Path:
    for dump in DUMPS:
        if any(pred(fn) for fn in pciexplore.open(str(dump)).functions()):
            return dump
    pytest.skip("no corpus function fits")


REFUSED = ["FOO", "COMMAND=", "COMMAND=1,", "COMMAND=zz", "COMMAND=1:zz", "COMMAND.Q", "COMMAND.BW", "10",
           "11.W", "13.L", "1000.B", "ffe.L", "ffc.L=1,2", "COMMAND=10000", "COMMAND=1:10000", "LATENCY_TIMER=100",
           "CAP_NOPE.W", "CAP100.W", "ECAP1000.L", "CAPxyz.W", "CAP_EXP+1000.W", "CAP_EXP+zz.W", "CAP_EXP.W@zz",
           "COMMAND=-1", "CAP_AGP.L", "ECAP_MRIOV.L", "CAP_EXP.L@1", "PRIMARY_BUS", "CB_CARDBUS_BASE",
           "CAP_EXP+1.W", "-x", "-s"]
ACCEPTED = ["command", "Cap_Exp.w", "cap10+2.w", "COMMAND=0x0", "COMMAND=+0", "0X4.W", "COMMAND=fffffff0",
            "COMMAND=0:0", "4.w=0:0", "CAP_EXP.L@0"]


@pytest.mark.parametrize("word", REFUSED + ACCEPTED)
def test_refuses_what_setpci_refuses(word: str, tmp_path: Path) -> None:
    dump = first_dump_with(lambda fn: fn.cap("exp") is not None and fn.header_type == 0)
    a, b = make_tree(dump, tmp_path / "a"), make_tree(dump, tmp_path / "b")
    fn = next(f for f in pciexplore.open(str(a / "devices")).functions()
              if f.cap("exp") is not None and f.header_type == 0)
    want_rc, want_out = setpci(a, "-s", str(fn.address), word)
    rc, out, err = ours(b, "-s", str(fn.address), word, journal=tmp_path / "j.jsonl")
    assert (rc != 0) == (want_rc != 0), f"setpci exit {want_rc}, ours {rc}: {err}"
    assert out == want_out
    if rc:
        assert len(err.strip().splitlines()) == 1 and err.startswith("pciexplore: ")
    assert configs(b) == configs(a)


def test_a_bridge_has_no_type_0_registers(tmp_path: Path) -> None:
    dump = first_dump_with(lambda fn: fn.header_type == 1)
    tree = make_tree(dump, tmp_path / "t")
    fn = next(f for f in pciexplore.open(str(tree / "devices")).functions() if f.header_type == 1)
    for word in ("BASE_ADDRESS_2", "SUBSYSTEM_ID", "PRIMARY_BUS", "BRIDGE_CONTROL", "CB_IO_BASE_0"):
        want = setpci(tree, "-s", str(fn.address), word)
        got = ours(tree, "-s", str(fn.address), word)
        assert (got[0] != 0, got[1]) == (want[0] != 0, want[1]), word


def test_register_names_are_those_of_dumpregs() -> None:
    want = subprocess.run(["setpci", "--dumpregs"], capture_output=True, text=True, check=True).stdout
    assert dumpregs() == want


def test_kit_names_write_what_the_setpci_form_writes(tmp_path: Path) -> None:
    dump = first_dump_with(lambda fn: fn.cap("exp") is not None and fn.header_type == 0)
    a, b = make_tree(dump, tmp_path / "a"), make_tree(dump, tmp_path / "b")
    fn = next(f for f in pciexplore.open(str(a / "devices")).functions()
              if f.cap("exp") is not None and f.header_type == 0)
    dev = str(fn.address)
    pairs = [("PCI_COMMAND_MASTER=1", "COMMAND=4:4"), ("PCI_COMMAND_MASTER=0", "COMMAND=0:4"),
             ("PCI_EXP_DEVCTL_READRQ=2", "CAP_EXP+8.W=2000:7000"), ("PCI_COMMAND=0146", "COMMAND=0146"),
             ("PCI_COMMAND=0400:0400", "COMMAND=0400:0400")]
    for kit, raw in pairs:
        assert setpci(a, "-s", dev, raw)[0] == 0
        rc, out, err = ours(b, "-s", dev, kit, journal=tmp_path / "j.jsonl")
        assert rc == 0 and out == "", err
        assert configs(b) == configs(a), kit
    # reads: a register as setpci prints it, a field as its value
    assert ours(b, "-s", dev, "PCI_COMMAND", "PCI_EXP_DEVCTL_READRQ", "PCI_COMMAND_MASTER")[1] == (
        setpci(a, "-s", dev, "COMMAND")[1] + "2\n" + "1\n")
    for bad in ("PCI_EXP_DEVCTL_READRQ=8", "PCI_COMMAND_MASTER=1:1", "PCI_COMMAND=10000", "PCI_NOPE=1",
                "PCI_COMMAND_MASTER=1,0"):
        rc, out, err = ours(b, "-s", dev, bad, journal=tmp_path / "j.jsonl")
        assert rc == 1 and len(err.strip().splitlines()) == 1, bad
    assert configs(b) == configs(a)


def test_without_write_nothing_is_written_and_the_write_is_shown(tmp_path: Path) -> None:
    dump = first_dump_with(lambda fn: fn.header_type == 0)
    tree = make_tree(dump, tmp_path / "t")
    before = configs(tree)
    fn = next(f for f in pciexplore.open(str(tree / "devices")).functions() if f.header_type == 0)
    old = int.from_bytes(fn.config[4:6], "little")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["set", "--source", str(tree / "devices"), "-s", str(fn.address), "PCI_COMMAND_MASTER=1",
                         "COMMAND"]) == 0
    assert out.getvalue() == (f"would write {fn.address} config offset 0x4 (2 bytes, PCI_COMMAND_MASTER): "
                              f"0x{old:04x} → 0x{old | 4:04x}\n{old:04x}\n")
    assert configs(tree) == before


def test_write_is_journaled_and_undo_reverts_it(tmp_path: Path) -> None:
    dump = first_dump_with(lambda fn: fn.header_type == 0)
    tree = make_tree(dump, tmp_path / "t")
    before = configs(tree)
    fn = next(f for f in pciexplore.open(str(tree / "devices")).functions() if f.header_type == 0)
    journal = tmp_path / "j.jsonl"
    rc, _, err = ours(tree, "-s", str(fn.address), "COMMAND=0400:0400", "LATENCY_TIMER=20", journal=journal)
    assert rc == 0 and err.count("pciexplore: write ") == 2  # each write shown before it is done
    assert configs(tree) != before
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert cli.main(["undo", str(tree / "devices"), "--steps", "2", "--journal", str(journal)]) == 0
    assert out.getvalue() == "2 writes undone\n"
    assert configs(tree) == before


def test_msix_entries_by_vector(tmp_path: Path) -> None:
    from conftest import tree_from_sim

    root, _ = tree_from_sim(tmp_path, "sim:nic,vectors=8,driver")
    resource = root / "0000:00:02.0" / "resource3"  # the table's BAR (BIR 3 in this profile)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(["set", "--write", "--source", str(root), "--journal", str(tmp_path / "j"), "-s", "02.0",
                           "MSIX[3].VECTOR_CTRL=1", "MSIX[5].DATA=4025", "MSIX[3].MASKBIT", "MSIX[5].DATA"])
    assert status == 0, err.getvalue()
    raw = resource.read_bytes()  # the spec's layout: 16 bytes per entry, data at +8, vector control at +12
    assert raw[3 * 16 + 12 : 3 * 16 + 16] == b"\x01\x00\x00\x00"
    assert raw[5 * 16 + 8 : 5 * 16 + 12] == b"\x25\x40\x00\x00"
    assert out.getvalue() == "1\n00004025\n"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        assert cli.main(["set", "--source", str(root), "-s", "02.0", "MSIX[8].DATA"]) == 1
    assert "vector 8 is past the table's 8 entries" in err.getvalue()


def test_read_only_source_refuses_write_in_one_line(tmp_path: Path, capsys) -> None:
    dump = DUMPS[0] if DUMPS else pytest.skip("no corpus")
    assert cli.main(["set", "--write", "--source", str(dump), "-s", "0.0", "COMMAND=0"]) == 1
    _, err = capsys.readouterr()
    assert "cannot be written" in err and len(err.strip().splitlines()) == 1
    assert cli.main(["set", "--source", str(dump), "-s", "ff:1f.7", "COMMAND"]) == 1  # matches nothing
    assert "no function matches -s ff:1f.7" in capsys.readouterr()[1]


def test_annotate_takes_msix_entry_names(tmp_path: Path, capsys) -> None:
    from pciexplore.capture import take

    sim = pciexplore.open("sim:nic,vectors=8,driver")
    path = take(sim).save(tmp_path / "c.json")
    regs = sim.functions()[0].msix.regs()
    assert cli.main(["annotate", str(path), "-s", "02.0", "--field", "MSIX[3].MASKBIT", "--text", "masked here"]) == 0
    assert capsys.readouterr().out == (f"0000:00:02.0 BAR {regs.table_bir} 0x{regs.table_offset + 0x3c:x} "
                                       "(MSIX[3].CTRL_MASKBIT): noted\n")
    [note] = pciexplore.open(str(path)).annotations
    # the spec's entry layout: 16 bytes per vector, Vector Control at +12, its Mask Bit in the first byte
    assert (note.bar, note.offset, note.length) == (regs.table_bir, regs.table_offset + 3 * 16 + 12, 1)
    assert note.field == "MSIX[3].CTRL_MASKBIT"


def test_reads_past_what_a_user_may_read_say_why(tmp_path: Path) -> None:
    dump = first_dump_with(lambda fn: fn.cap("msix") is not None and len(fn.config) >= 256)
    src = pciexplore.open(str(dump))
    fn = next(f for f in src.functions() if f.cap("msix") is not None and len(f.config) >= 256)
    devices = build_tree(tmp_path / "t", [(fn.address, fn.config)])
    sysfs = pciexplore.open(str(devices))
    sysfs.limited[fn.address] = 4096  # what SysfsSource records when the kernel gives a non-root user 64 bytes
    (devices / str(fn.address) / "config").write_bytes(fn.config[:64])
    out: list[str] = []
    from pciexplore.setpci import Runner, parse_words

    Runner(sysfs, False, out.append).run(parse_words(["-s", str(fn.address), "40.L"]))
    assert out == ["ffffffff"]  # what libpci gives setpci for bytes it cannot read
    with pytest.raises(pciexplore.PciError, match="not readable: only the first 64 bytes .* run as root"):
        Runner(sysfs, False, out.append).run(parse_words(["-s", str(fn.address), "CAP_MSIX.W"]))


COMMAND_LINES = [
    ["-s", "00:02.0", "COMMAND", "-s", "00:03.0", "STATUS", "VENDOR_ID"],
    ["-s", "0:0:02.0", "COMMAND"], ["-s", "02.0", "COMMAND"], ["-s", "2", "COMMAND"], ["-s00:02.0", "COMMAND"],
    ["-s=00:02.0", "COMMAND"], ["-s", "00:02.0", "-s", "00:03.0", "COMMAND"], ["-s", "zz", "COMMAND"],
    ["COMMAND"], ["-d", "zzzz:", "COMMAND"], ["-d", "1af4:1041", "ECAP_DSN.L"], ["-x"], ["-s"],
    ["-d", "1af4:", "COMMAND=0400:0400", "LATENCY_TIMER=20"],  # a write to several functions
    ["-s", "00:02.0", "COMMAND.B=1,2,3", "4.L"], ["-s", "01:00.0", "CAP_EXP+8.W=2000:7000", "CAP_EXP+8.W"],
]


@pytest.mark.parametrize("words", COMMAND_LINES, ids=[" ".join(w) for w in COMMAND_LINES])
def test_whole_command_lines_against_setpci(words: list[str], tmp_path: Path) -> None:
    q35 = next((d for d in DUMPS if d.name == "q35-e1000e-nvme-virtio.lspci"), None) or pytest.skip("no q35 dump")
    a, b = make_tree(q35, tmp_path / "a"), make_tree(q35, tmp_path / "b")
    want_rc, want_out = setpci(a, *words)
    rc, out, err = ours(b, *words, journal=tmp_path / "j.jsonl")
    assert (rc != 0, out) == (want_rc != 0, want_out), err
    assert configs(b) == configs(a)


def test_dumpregs_prints_setpcis_table() -> None:
    want = subprocess.run(["setpci", "--dumpregs"], capture_output=True, text=True, check=True).stdout
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["set", "--dumpregs"]) == 0
    assert out.getvalue() == want


def test_function_set_writes_what_setpci_writes(tmp_path: Path) -> None:
    dump = first_dump_with(lambda fn: fn.cap("exp") is not None and fn.header_type == 0)
    a, b = make_tree(dump, tmp_path / "a"), make_tree(dump, tmp_path / "b")
    src = pciexplore.open(str(b / "devices"), allow_writes=True, journal=tmp_path / "j", announce=lambda s: None)
    fn = next(f for f in src.functions() if f.cap("exp") is not None and f.header_type == 0)
    assert setpci(a, "-s", str(fn.address), "CAP_EXP+8.W=3000:7000", "COMMAND=0:4")[0] == 0
    old, new = fn.set("PCI_EXP_DEVCTL_READRQ", 3)
    assert new == (old & ~0x7000) | 0x3000
    fn.set("PCI_COMMAND_MASTER", 0)
    assert configs(b) == configs(a)
    with pytest.raises(pciexplore.PciError, match="does not fit PCI_EXP_DEVCTL_READRQ"):
        fn.set("PCI_EXP_DEVCTL_READRQ", 8)


@pytest.mark.qemu
def test_writes_reach_qemus_device_model() -> None:
    """On QEMU the read-back is the device model's own answer: Bus Master cleared in PCI_COMMAND, and
    vector 0's mask bit cleared in the MSI-X table QEMU keeps (hw/pci/msix.c)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(["set", "--write", "--source", "qemu:e1000e", "-s", "01.0", "PCI_COMMAND_MASTER=0",
                           "PCI_COMMAND_MASTER", "MSIX[0].MASKBIT=0", "MSIX[0].VECTOR_CTRL", "MSIX[0].MASKBIT=1",
                           "MSIX[0].VECTOR_CTRL"])
    assert status == 0, err.getvalue()
    assert out.getvalue() == "0\n00000000\n00000001\n"
    assert err.getvalue().count("pciexplore: wrote 0000:00:01.0 ") == 3  # each write said
