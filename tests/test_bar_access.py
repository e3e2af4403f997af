"""BARs on a live host: every access to the MSI-X table and PBA is an aligned DWORD (recorded by wrapping
periphery's MMIO on file-backed sysfs-like trees, whose resourceN files are the reference bytes), and
why a BAR cannot be read, through the real mmap path: no resourceN (this machine), EPERM from a real
mmap refusal (a write-sealed memfd) under lockdown, EINVAL with a driver bound and
CONFIG_IO_STRICT_DEVMEM=y, EACCES at open."""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path
from types import SimpleNamespace

import periphery
import periphery.mmio
import pytest
from conftest import tree_from_sim

import pciexplore
from pciexplore.errors import NotSupported
from pciexplore.sources import bar_access
from pciexplore.sources.sysfs import SysfsSource

NIC = "0000:00:02.0"


@pytest.fixture
def accesses(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, int]]:
    """(verb, absolute offset in the BAR, width) of every access made through periphery's MMIO."""
    log: list[tuple[str, int, int]] = []

    class Recording(periphery.MMIO):
        def _rec(self, verb: str, offset: int, width: int) -> None:
            log.append((verb, self._physaddr + offset, width))

        def read32(self, offset):
            self._rec("read", offset, 4)
            return super().read32(offset)

        def read16(self, offset):
            self._rec("read", offset, 2)
            return super().read16(offset)

        def read8(self, offset):
            self._rec("read", offset, 1)
            return super().read8(offset)

        def read(self, offset, length):
            self._rec("read", offset, length)  # a memcpy of any width: must not be used
            return super().read(offset, length)

        def write32(self, offset, value):
            self._rec("write", offset, 4)
            return super().write32(offset, value)

        def write8(self, offset, value):
            self._rec("write", offset, 1)
            return super().write8(offset, value)

        def write(self, offset, data):
            self._rec("write", offset, len(data))
            return super().write(offset, data)

    real_run = bar_access.dword_run

    def recorded_run(mmio, offset, count):  # a run of read32-getter loads: one DWORD each
        log.extend(("read", mmio._physaddr + offset + 4 * i, 4) for i in range(count))
        return real_run(mmio, offset, count)

    monkeypatch.setattr(periphery, "MMIO", Recording)
    monkeypatch.setattr(bar_access, "dword_run", recorded_run)
    return log


def test_dword_run_reads_what_read32_reads(tmp_path: Path) -> None:
    path = tmp_path / "bar"
    path.write_bytes(os.urandom(0x3000))
    mmio = periphery.MMIO(0x1000, 0x2000, path=str(path))
    try:
        assert list(bar_access.dword_run(mmio, 8, 0x7FE)) == [mmio.read32(o) for o in range(8, 0x2000, 4)]
        with pytest.raises(ValueError):
            bar_access.dword_run(mmio, 8, 0x800)  # past the map
    finally:
        mmio.close()


def test_table_and_pba_accesses_are_aligned_dwords(tmp_path: Path, accesses) -> None:
    devices, _ = tree_from_sim(tmp_path, "sim:nic,vectors=64,driver")
    src = pciexplore.open(str(devices), allow_writes=True, journal=tmp_path / "j.jsonl", announce=lambda s: None)
    m = src.function(NIC).msix
    r = m.regs()
    table = m.table
    raw = (devices / NIC / f"resource{r.table_bir}").read_bytes()
    for v in (0, 1, 63):  # the file's bytes are the reference
        assert table.loc[v, "address"] == int.from_bytes(raw[r.table_offset + 16 * v : r.table_offset + 16 * v + 8],
                                                          "little")
    m.mask(5)
    m.unmask(5)
    assert accesses and {w for _, _, w in accesses} == {4}
    assert all(off % 4 == 0 for _, off, _ in accesses)
    writes = [a for a in accesses if a[0] == "write"]
    assert writes == [("write", r.table_offset + 16 * 5 + 12, 4)] * 2  # Vector Control, DWORD, twice
    # every read lies in the table or the PBA
    table_end, pba_end = r.table_offset + 16 * r.size, r.pba_offset + r.pba_bytes
    assert all(r.table_offset <= off < table_end or r.pba_offset <= off < pba_end for _, off, _ in accesses)


def test_unaligned_window_is_bytes_then_dwords(tmp_path: Path, accesses) -> None:
    devices, _ = tree_from_sim(tmp_path, "sim:nic,vectors=64,driver")
    path = devices / NIC / "resource0"
    path.write_bytes(bytes(range(256)) * (path.stat().st_size // 256))
    data = SysfsSource(devices).read_bar(pciexplore.Address.parse(NIC), 0, 0x101, 10)
    assert data == path.read_bytes()[0x101:0x10B]
    assert [(o, w) for _, o, w in accesses] == [(0x101, 1), (0x102, 1), (0x103, 1), (0x104, 4), (0x108, 1), (0x109, 1),
                                                (0x10A, 1)]


# -- why a BAR cannot be read ----------------------------------------------------------------------------
def _host(devices: Path, lockdown: str | None = None, cmdline: str = "ro quiet", config: str | None = None) -> None:
    root = devices.parent
    (root / "proc").mkdir(exist_ok=True)
    (root / "proc" / "cmdline").write_text(cmdline + "\n")
    if lockdown is not None:
        (root / "kernel" / "security").mkdir(parents=True, exist_ok=True)
        (root / "kernel" / "security" / "lockdown").write_text(lockdown + "\n")
    if config is not None:
        (root / "boot").mkdir(exist_ok=True)
        (root / "boot" / "config").write_text(config)


def _bind(devices: Path, driver: str = "e1000e") -> None:
    drivers = devices.parent / "bus" / "pci" / "drivers" / driver
    drivers.mkdir(parents=True)
    (devices / NIC / "driver").symlink_to(os.path.relpath(drivers, devices / NIC))


def _table_error(devices: Path) -> NotSupported:
    with pytest.raises(NotSupported) as e:
        _ = pciexplore.open(str(devices)).function(NIC).msix.table
    assert "\n" not in str(e.value) and NIC in str(e.value)
    return e.value


def test_no_resource_files(tmp_path: Path) -> None:
    devices, _ = tree_from_sim(tmp_path, "sim:nic,vectors=64,driver")
    for f in (devices / NIC).glob("resource[0-9]*"):
        f.unlink()
    e = _table_error(devices)
    assert "resource3 does not exist: this kernel made no resourceN files" in str(e)
    assert "attach to the VM from outside" in str(e) and "capture" in str(e)
    why = bar_access.explain(devices / NIC, 3, None, bar_access.HostFiles.beside(devices.parent))
    assert why.cause == bar_access.NO_RESOURCE_FILES


@pytest.fixture
def sealed(tmp_path: Path):
    """A file whose shared writable mmap the kernel refuses with EPERM (a write-sealed memfd)."""
    fd = os.memfd_create("bar", os.MFD_ALLOW_SEALING)
    os.ftruncate(fd, 0x4000)
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_WRITE)
    yield f"/proc/{os.getpid()}/fd/{fd}"
    os.close(fd)


def test_eperm_from_the_real_mmap_under_lockdown(tmp_path: Path, sealed: str) -> None:
    devices, _ = tree_from_sim(tmp_path)
    (devices / NIC / "resource3").unlink()
    (devices / NIC / "resource3").symlink_to(sealed)
    _host(devices, lockdown="none [integrity] confidentiality")
    e = _table_error(devices)
    assert "refused (EPERM): the kernel is locked down [integrity]" in str(e) and "lockdown=none" in str(e)
    # without a readable lockdown file the errno alone cannot say; the hint names securityfs
    (devices.parent / "kernel" / "security" / "lockdown").unlink()
    assert "securityfs" in str(_table_error(devices))


def test_einval_with_a_driver_and_strict_devmem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    devices, _ = tree_from_sim(tmp_path)
    _bind(devices)
    _host(devices, lockdown="[none] integrity confidentiality", config="CONFIG_PCI=y\nCONFIG_IO_STRICT_DEVMEM=y\n")

    def refuse(*args, **kwargs):  # what pci_mmap_resource returns when iomem_is_exclusive()
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))

    monkeypatch.setattr(periphery.mmio, "mmap", SimpleNamespace(mmap=refuse, MAP_SHARED=1, PROT_READ=1, PROT_WRITE=2))
    e = str(_table_error(devices))
    assert "refused (EINVAL): driver e1000e has claimed the region and the kernel has CONFIG_IO_STRICT_DEVMEM=y" in e
    assert f"echo {NIC} > /sys/bus/pci/drivers/e1000e/unbind" in e and "iomem=relaxed" in e
    _host(devices, cmdline="ro iomem=relaxed")
    assert "iomem=relaxed is on the command line" in str(_table_error(devices))
    (devices / NIC / "driver").unlink()  # no driver: the errno means something else
    assert "no driver is bound" in str(_table_error(devices))


def test_eacces_at_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    devices, _ = tree_from_sim(tmp_path)

    def denied(path, flags, *args):  # os.open of a 0600 file by a user who is not root
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(periphery.mmio, "os", SimpleNamespace(open=denied, close=os.close, sysconf=os.sysconf,
                                                               sysconf_names=os.sysconf_names, O_RDWR=os.O_RDWR,
                                                               O_SYNC=os.O_SYNC))
    e = str(_table_error(devices))
    assert "Permission denied (resourceN is mode 0600: root only). To read it: run as root" in e


@pytest.mark.skipif(not Path("/sys/bus/pci/devices").is_dir(), reason="no sysfs")
def test_this_host_says_which_applies() -> None:
    src = SysfsSource()
    for fn in src.functions():
        if fn.msix is None:
            continue
        d = Path(src._dirs[fn.address])
        bir = fn.msix.regs().table_bir
        has_files = any(n.startswith("resource") and n[8:9].isdigit() for n in os.listdir(d))
        why = bar_access.explain(d, bir, None)
        if not has_files:  # this Firecracker guest: no resourceN, whatever the driver or lockdown
            assert why.cause == bar_access.NO_RESOURCE_FILES
            assert why.state.driver == (os.path.basename(os.readlink(d / "driver")) if (d / "driver").exists() else None)
