"""`show` of a big sysfs tree reads its files in a child process (sources/read_ahead.py): the same text as
lspci's, nothing read twice, the same errors as direct reads, and no child left behind."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from conftest import corpus_dumps
from lspcicmp import lspci_text, options

from pciexplore import Address, open_source
from pciexplore.render.lspci import render_source
from pciexplore.sources import read_ahead, sysfs
from pciexplore.sources.fake_sysfs import build_tree

pytestmark = pytest.mark.lspci
REAL_WORTH_IT = read_ahead.worth_it  # the tests below but one force the child (see `single_threaded`)

def _configs() -> list[bytes]:
    configs = []
    for path in corpus_dumps()[:30]:
        with open_source(str(path)) as src:
            configs += [fn.config for fn in src.functions() if len(fn.config) >= 64]
    return configs


def big_tree(tmp_path: Path, n: int = 96) -> Path:
    """`n` functions of corpus configs, with the kernel attributes lspci prints on some of them: a driver
    and an IOMMU group (links, relative as sysfs has them), a NUMA node, a firmware label."""
    configs = _configs()
    if len(configs) < 8:
        pytest.skip("the shared corpus of lspci dumps is not beside the repository")
    fns = [(Address(0, i >> 5, i & 0x1F, 0), configs[i % len(configs)]) for i in range(n)]
    devices = build_tree(tmp_path, fns)
    (tmp_path / "bus" / "pci" / "drivers" / "virtio-pci").mkdir(parents=True)
    for i, (addr, _) in enumerate(fns):
        d = devices / str(addr)
        if i % 3 == 0:
            os.symlink("../../bus/pci/drivers/virtio-pci", d / "driver")
        if i % 4 == 0:
            (tmp_path / "kernel" / "iommu_groups" / str(i)).mkdir(parents=True)
            os.symlink(f"../../kernel/iommu_groups/{i}", d / "iommu_group")
        if i % 5 == 0:
            (d / "numa_node").write_text(f"{i % 2}\n")
        if i % 7 == 0:
            (d / "label").write_text(f"Onboard LAN {i}\n")
    return devices


@pytest.fixture(autouse=True)
def single_threaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line is single-threaded, the suite's process may not be (threads earlier tests left):
    these tests are about the child, so it is forked whatever else runs here. The thread rule has its own
    test below, which takes the real `worth_it`."""
    monkeypatch.setattr(read_ahead, "worth_it", lambda count: count >= 64 and hasattr(os, "fork"))


@pytest.fixture
def direct_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths this process opens itself (the child's reads happen in the child and are not counted)."""
    seen: list[str] = []
    small, regular = sysfs._read_small, sysfs._read_regular
    monkeypatch.setattr(sysfs, "_read_small", lambda path: seen.append(path) or small(path))
    monkeypatch.setattr(sysfs, "_read_regular", lambda path, limit: seen.append(path) or regular(path, limit))
    return seen


@pytest.mark.parametrize("flags", [["-vvv"], [], ["-x"], ["-vk", "-nn"], ["-vmm"]], ids=" ".join)
def test_a_big_tree_read_ahead_is_lspci_text_with_no_file_read_twice(tmp_path: Path, flags: list[str],
                                                                     direct_reads: list[str]) -> None:
    devices = big_tree(tmp_path)
    want = lspci_text(None, [*flags, "-A", "linux-sysfs", "-O", f"sysfs.path={tmp_path}"])
    with open_source(str(devices)) as src:
        got = render_source(src, options(flags))
    assert got == want
    # the child read every config and kernel file; here only what it does not read: slot names, VPD
    assert [p for p in direct_reads if not p.endswith("/vpd")] == []


def test_without_the_child_the_same_text_is_read_directly(tmp_path: Path, direct_reads: list[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    devices = big_tree(tmp_path)
    with open_source(str(devices)) as src:
        ahead = render_source(src, options(["-vvv"]))
    monkeypatch.setattr(read_ahead, "worth_it", lambda count: False)
    with open_source(str(devices)) as src:
        direct = render_source(src, options(["-vvv"]))
    assert ahead == direct
    assert sum(p.endswith("/config") for p in direct_reads) == 96  # the check above counts what it should


def test_an_unreadable_config_fails_as_a_direct_read_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from pciexplore.cli import main

    devices = big_tree(tmp_path, 80)
    config = devices / str(Address(0, 1, 0x1B, 0)) / "config"  # the 60th function: the child is well ahead
    config.unlink()
    os.mkfifo(config)  # a FIFO where sysfs has a regular file: never opened blocking, never waited on
    results = []
    for worth in (read_ahead.worth_it, lambda count: False):
        monkeypatch.setattr(read_ahead, "worth_it", worth)
        code = main(["show", "-vvv", str(devices)])
        out, err = capsys.readouterr()
        results.append((code, err))
    assert results[0] == results[1]
    code, err = results[0]
    assert code != 0 and str(config) in err and "not a regular file" in err, err


def test_the_child_is_stopped_and_reaped_when_the_source_closes_early(tmp_path: Path) -> None:
    devices = big_tree(tmp_path, 512)
    with open_source(str(devices)) as src:
        fns = src.functions()
        src.read_ahead([fn.address for fn in fns])
        child = src._ahead._pid
        assert fns[0].kernel.irq == 0 and len(fns[0].config) > 64  # one function taken, 511 still coming
    with pytest.raises(ChildProcessError):
        os.waitpid(child, os.WNOHANG)  # already reaped: no zombie left behind
    assert src._ahead is None


def test_functions_asked_for_out_of_order_or_again_are_read_directly(tmp_path: Path,
                                                                     direct_reads: list[str]) -> None:
    devices = big_tree(tmp_path, 100)
    with open_source(str(devices)) as src:
        fns = src.functions()
        src.read_ahead([fn.address for fn in fns[:90]])
        last, first = fns[95], fns[0]
        assert last.config == (devices / str(last.address) / "config").read_bytes()[:4096]  # not read ahead
        assert direct_reads == [f"{devices}/{last.address}/config"]
        cfg = first.config
        first.refresh()
        assert first.config == cfg  # read again: directly, not from what the child sent
        assert direct_reads[-1] == f"{devices}/{first.address}/config"


def test_no_child_for_a_few_functions_or_beside_other_threads() -> None:
    worth_it = REAL_WORTH_IT
    assert not worth_it(6)
    assert worth_it(4096) == (threading.active_count() == 1)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not worth_it(4096)  # forking beside a thread (a Jupyter kernel) is not safe
    finally:
        stop.set()
        thread.join()
