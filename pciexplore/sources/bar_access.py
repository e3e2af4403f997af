"""Reaching a BAR from user space: the accesses themselves, and why the kernel refuses them.

Accesses.  A BAR is mapped from sysfs `resourceN` with python-periphery's MMIO.  periphery always opens
the file O_RDWR|O_SYNC and maps it PROT_READ|PROT_WRITE (2.4 has no read-only mode, and its read32 and
write32 go through ctypes' from_buffer, which needs a writable buffer), so the map is read-write even
when the kit only reads; nothing is written through it unless the source was opened with
allow_writes=True.  Reads and writes are aligned DWORDs (read32's getter over a run, write32), as the MSI-X table and PBA
require (PCIe 6.0 §6.1.4.2: DWORD or QWORD accesses, naturally aligned; QEMU's msix ops accept only
4-8 byte accesses); the unaligned head and tail of any other window are single bytes (read8/write8),
never a memcpy whose widths the C library chooses, and never a byte outside the window.

Refusals (drivers/pci/pci-sysfs.c pci_mmap_resource and its callers):
- no `resourceN` at all: the kernel made none for this device (this Firecracker guest is such a case);
- the open fails with EACCES/EPERM: resourceN is mode 0600, root only;
- the mmap fails with EPERM: kernel lockdown (security_locked_down(LOCKDOWN_PCI_ACCESS));
- the mmap fails with EINVAL: iomem_is_exclusive(), i.e. a driver claimed the region and the kernel has
  CONFIG_IO_STRICT_DEVMEM=y without `iomem=relaxed` (Debian's cloud kernels have it), or the window does
  not fit the BAR.
`explain` tells which one applies from the errno and the kernel's state, and what would make it work.
"""

from __future__ import annotations

import ctypes
import errno as errnos
import gzip
import os
import platform
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .kernel_files import read_kernel_file

#: the kernel's own files, on a live host
LOCKDOWN = "/sys/kernel/security/lockdown"
CMDLINE = "/proc/cmdline"
CONFIGS = (f"/boot/config-{platform.release()}", "/proc/config.gz")

NO_RESOURCE_FILES = "no_resource_files"
NOT_A_MEMORY_BAR = "not_a_memory_bar"
PERMISSION = "permission"
LOCKDOWN_CAUSE = "lockdown"
STRICT_DEVMEM = "strict_devmem"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class HostFiles:
    """Where the kernel's state is read from: this host's files, or (for sysfs-like trees) the same
    paths below the tree's root: ROOT/kernel/security/lockdown, ROOT/proc/cmdline, ROOT/boot/config."""

    lockdown: str = LOCKDOWN
    cmdline: str = CMDLINE
    configs: tuple[str, ...] = CONFIGS

    @classmethod
    def beside(cls, root: str | Path) -> HostFiles:
        r = Path(root)
        return cls(str(r / "kernel/security/lockdown"), str(r / "proc/cmdline"), (str(r / "boot/config"),))


@dataclass(frozen=True)
class KernelState:
    driver: str | None  # the function's driver link
    lockdown: str | None  # "none [integrity] confidentiality" as the kernel prints it; None when unreadable
    cmdline: str | None
    io_strict_devmem: bool | None  # CONFIG_IO_STRICT_DEVMEM, None when no config could be read
    config_file: str | None = None

    @property
    def lockdown_mode(self) -> str | None:
        """The bracketed word of the lockdown file ("none", "integrity", "confidentiality")."""
        if not self.lockdown or "[" not in self.lockdown:
            return None
        return self.lockdown.split("[", 1)[1].split("]", 1)[0]

    @property
    def iomem_relaxed(self) -> bool:
        return bool(self.cmdline and "iomem=relaxed" in self.cmdline.split())


@dataclass(frozen=True)
class BarAccess:
    """Why a BAR cannot be read (`cause`), in words, with what would make it work."""

    cause: str
    message: str
    fixes: list[str] = field(default_factory=list)
    state: KernelState | None = None

    def __str__(self) -> str:
        return self.message + (". To read it: " + "; or ".join(self.fixes) if self.fixes else "")

    def to_dict(self) -> dict[str, Any]:
        return {"cause": self.cause, "message": self.message, "fixes": self.fixes,
                "state": None if self.state is None else self.state.__dict__}


def _text(path: str, limit: int = 1 << 16) -> str | None:
    if not path.endswith(".gz"):
        return read_kernel_file(path, limit)
    try:
        if not os.path.isfile(path):
            return None
        with gzip.open(path, "rt", errors="replace") as f:
            return f.read(limit)
    except (OSError, EOFError, gzip.BadGzipFile):
        return None


def kernel_state(device_dir: str | Path, files: HostFiles | None = None) -> KernelState:
    files = files or HostFiles()
    d = str(device_dir)
    try:
        driver: str | None = os.path.basename(os.readlink(f"{d}/driver"))
    except OSError:
        driver = None
    lockdown, cmdline = _text(files.lockdown), _text(files.cmdline)
    strict, used = None, None
    for path in files.configs:
        text = _text(path, 1 << 22)
        if text is not None:
            strict, used = "\nCONFIG_IO_STRICT_DEVMEM=y" in "\n" + text, path
            break
    return KernelState(driver, None if lockdown is None else lockdown.strip(),
                       None if cmdline is None else cmdline.strip(), strict, used)


def explain(device_dir: str | Path, bar: int, err: int | None, files: HostFiles | None = None,
            stage: str = "mmap") -> BarAccess:
    """Why BAR `bar` of the function in `device_dir` cannot be read: `err` is the errno of the failed
    `stage` ("open" or "mmap"), or None when resourceN does not exist."""
    st = kernel_state(device_dir, files)
    d = Path(device_dir)
    outside = ("attach to the VM from outside (the hypervisor sees the device model: a QEMU source "
               "qemu:..., or its monitor)")
    capture = "take a capture (pciexplore capture) where resourceN can be read and open that"
    if err is None:
        if not any(d.glob("resource[0-9]*")):
            return BarAccess(NO_RESOURCE_FILES, f"{d}/resource{bar} does not exist: this kernel made no resourceN "
                             "files for the device (some VM guests, e.g. Firecracker's, and kernels without PCI "
                             "mmap support)",
                             [outside, capture], st)
        return BarAccess(NOT_A_MEMORY_BAR, f"{d}/resource{bar} does not exist: BAR {bar} is not implemented "
                         "or not a memory BAR", [], st)
    if stage == "open" and err in (errnos.EACCES, errnos.EPERM):
        return BarAccess(PERMISSION, f"cannot open {d}/resource{bar}: {os.strerror(err)} (resourceN is mode "
                         "0600: root only)", ["run as root"], st)
    mode = st.lockdown_mode
    if err == errnos.EPERM and mode not in (None, "none"):
        return BarAccess(LOCKDOWN_CAUSE, f"mmap of resource{bar} refused (EPERM): the kernel is locked down "
                         f"[{mode}] ({st.lockdown}), which forbids PCI BAR access from user space",
                         ["boot without lockdown (lockdown=none; on Secure Boot systems, disable Secure Boot or "
                          "the distribution's lockdown policy)", outside, capture], st)
    if err == errnos.EINVAL and st.driver:
        strict = {True: "the kernel has CONFIG_IO_STRICT_DEVMEM=y" + (f" ({st.config_file})" if st.config_file else ""),
                  False: "although the kernel config says CONFIG_IO_STRICT_DEVMEM is off",
                  None: "the kernel config is unreadable; CONFIG_IO_STRICT_DEVMEM=y is the usual cause"}
        relaxed = " and iomem=relaxed is on the command line" if st.iomem_relaxed else ""
        return BarAccess(STRICT_DEVMEM, f"mmap of resource{bar} refused (EINVAL): driver {st.driver} has claimed "
                         f"the region and {strict[st.io_strict_devmem]}{relaxed}, so the kernel treats it as "
                         "exclusive (iomem_is_exclusive)",
                         [f"unbind the driver (echo {d.name} > /sys/bus/pci/drivers/{st.driver}/unbind)",
                          "boot with iomem=relaxed", capture], st)
    why = os.strerror(err)
    extra = ""
    if err == errnos.EPERM and mode is None:
        extra = ("; lockdown cannot be read (securityfs not mounted? mount -t securityfs securityfs "
                 "/sys/kernel/security) and is the usual cause")
    elif err == errnos.EINVAL:
        extra = "; no driver is bound, so the window may not fit the BAR (pci_mmap_fits)"
    return BarAccess(UNKNOWN, f"{stage} of resource{bar} failed: {why}{extra}", [capture], st)


# -- the accesses --------------------------------------------------------------------------------------
def _pieces(offset: int, size: int) -> list[tuple[int, int]]:
    """(offset, width) of each access covering [offset, offset+size): bytes up to a DWORD boundary, then
    aligned DWORDs, then the bytes left."""
    out = []
    end = offset + size
    at = offset
    while at < end and at % 4:
        out.append((at, 1))
        at += 1
    while at + 4 <= end:
        out.append((at, 4))
        at += 4
    while at < end:
        out.append((at, 1))
        at += 1
    return out


def read_window(mmio: Any, start: int, size: int) -> bytes:
    """`size` bytes of a periphery MMIO map made at BAR offset `start` (MMIO(start, size, path=...)), by
    DWORDs aligned in the BAR (bytes at unaligned ends)."""
    if start % 4 == 0 and size % 4 == 0:  # the MSI-X table and PBA: DWORDs only
        return struct.pack(f"<{size // 4}I", *dword_run(mmio, 0, size // 4))
    out = bytearray()
    for at, width in _pieces(start, size):
        value = mmio.read32(at - start) if width == 4 else mmio.read8(at - start)
        out += value.to_bytes(width, "little")
    return bytes(out)


def dword_run(mmio: Any, offset: int, count: int) -> Any:
    """`count` DWORDs from `offset` (4-aligned) of a periphery MMIO map, each one 32-bit load through the
    same ctypes c_uint32 getter periphery's read32 uses, without read32's per-call checks (a 2048-vector
    table is 8192 DWORDs: 22 ms by read32 calls, 1.8 ms this way, measured in one run)."""
    if offset % 4 or count < 0:
        raise ValueError("DWORD runs start 4-aligned")
    at = mmio._adjust_offset(offset)
    mmio._validate_offset(at, 4 * count)
    return (ctypes.c_uint32 * count).from_buffer(mmio.mapping, at)


def write_window(mmio: Any, start: int, data: bytes) -> None:
    """Write `data` through a map made at BAR offset `start`, with the accesses read_window makes."""
    for at, width in _pieces(start, len(data)):
        chunk = data[at - start : at - start + width]
        if width == 4:
            mmio.write32(at - start, int.from_bytes(chunk, "little"))
        else:
            mmio.write8(at - start, chunk[0])
