"""The live host through Linux sysfs, or any directory laid out like /sys/bus/pci/devices.

Reads `config` (root gets all of it, other users the first 64 bytes), `resource` (BAR placement),
`irq`, `msi_irqs/`, `driver`, `numa_node`, `iommu_group`.  BAR contents come from `resourceN`,
mapped with python-periphery's MMIO, which is how a user-space tool reaches a BAR without a driver.
Nothing here writes unless the source was opened with `allow_writes=True`.
"""

from __future__ import annotations

import os
import stat

from ..address import Address
from ..errors import DeviceGone, InputError, NotSupported, ReadOnlyError, limit_reached
from .base import BarRegion, KernelInfo, Source, path_text

TYPE_CHECKING = False  # typing's constant without importing typing (every `show` imports this module)
if TYPE_CHECKING:
    from pathlib import Path

    from . import bar_access

SYSFS_PCI = "/sys/bus/pci/devices"
#: a slot's `address` (compiled by re when a slot is first read: most hosts have none)
_SLOT_ADDRESS = r"\s*([0-9a-fA-F]+):\s*([0-9a-fA-F]+):\s*([0-9a-fA-F]+)"
IORESOURCE_IO = 0x100
IORESOURCE_MEM = 0x200
MAX_VPD = 1 << 15  # the VPD address is 15 bits (PCI 3.0 §6.4)


class SysfsSource(Source):
    kind = "sysfs"

    def __init__(self, root: str | Path = SYSFS_PCI, *, allow_writes: bool = False, journal=None,
                 announce=None, confirm=None) -> None:
        super().__init__(str(root))
        #: writes only with the explicit opt-in; shown, journaled and undoable (see live_writes.py)
        self._writer = None
        if allow_writes:
            from .live_writes import LiveWriter

            self._writer = LiveWriter(self, journal, announce, confirm)
            self.writable = True
        #: the tree's directory as a string (pathlib's import is a tenth of a plain `show`'s start-up)
        self._root = path_text(os.fspath(root))
        if not os.path.isdir(self._root):
            raise InputError("not a directory laid out like /sys/bus/pci/devices", file=str(root))
        #: address -> directory as a plain string (a Path per function is several objects for gc to walk)
        self._dirs: dict[Address, str] = {}
        for entry in sorted(os.listdir(self._root)):
            try:
                addr = Address.parse(entry)
            except InputError:
                continue
            self._dirs[addr] = f"{self._root}/{entry}"
        #: functions whose config file is longer than what this user may read
        self.limited: dict[Address, int] = {}
        #: a child reading ahead for `show` (read_ahead.py), while it runs
        self._ahead = None

    @property
    def root(self) -> Path:
        from pathlib import Path

        return Path(self._root)

    @property
    def is_live_host(self) -> bool:
        return os.path.realpath(self._root) == os.path.realpath(SYSFS_PCI)

    def _dir(self, addr: Address) -> Path:
        from pathlib import Path

        return Path(self.function_dir(addr))

    def function_dir(self, addr: Address) -> str:
        """The function's directory in the tree, as a string."""
        try:
            return self._dirs[addr]
        except KeyError:
            raise InputError(f"no function {addr}", file=self.name) from None

    def addresses(self) -> list[Address]:
        return list(self._dirs)

    def read_config(self, addr: Address) -> bytes:
        return self._read_config(addr, 4096, note_limit=True)

    def read_config_head(self, addr: Address, length: int) -> bytes:
        # the kernel reads config space dword by dword (a trap to the hypervisor in a VM): ask for no more
        return self._read_config(addr, length, note_limit=False)

    def _read_config(self, addr: Address, length: int, note_limit: bool) -> bytes:
        d = self.function_dir(addr)
        path = f"{d}/config"
        try:
            ahead = None if self._ahead is None else self._ahead.config(d, length)
            # unbuffered, regular files only (a FIFO or /dev/zero in a fake tree would hang or never end)
            data, full = _read_regular(path, length) if ahead is None else ahead
            full = full if note_limit else 0
        except FileNotFoundError:
            raise DeviceGone("device vanished (hot-unplugged?)", file=path, device=str(addr)) from None
        except OSError as e:
            raise DeviceGone(f"config read failed: {e.strerror}", file=path, device=str(addr)) from None
        if full > len(data):
            self.limited[addr] = full
        return data

    def read_vpd(self, addr: Address) -> bytes | None:
        path = f"{self.function_dir(addr)}/vpd"
        try:
            data, full = _read_regular(path, MAX_VPD)
        except OSError:  # absent, unreadable, or not a regular file (a FIFO, /dev/zero)
            return None
        if full > MAX_VPD:
            limit_reached(f"vpd has {full} bytes, more than the {MAX_VPD} a VPD address reaches: the first "
                          f"{MAX_VPD} are kept", file=path, device=str(addr))
        return data

    def bar_regions(self, addr: Address) -> dict[int, BarRegion] | None:
        resources = _read_resources(f"{self.function_dir(addr)}/resource")
        if resources is None:
            return None
        return {index: BarRegion(index, start, end - start + 1, flags)
                for index, (start, end, flags) in enumerate(resources[:7])
                if end > start or (start and end == start)}

    def _resource_path(self, addr: Address, bar: int) -> Path:
        path = self._dir(addr) / f"resource{bar}"
        if not path.exists():
            wc = self._dir(addr) / f"resource{bar}_wc"
            if wc.exists():
                return wc
            from . import bar_access  # here, not at import: its ctypes, gzip and platform cost every `show`

            raise NotSupported(f"cannot read BAR {bar}: {bar_access.explain(self.function_dir(addr), bar, None, self._host)}",
                               device=str(addr))
        return path

    def read_bar(self, addr: Address, bar: int, offset: int, size: int) -> bytes:
        path = self._resource_path(addr, bar)
        try:
            length = path.stat().st_size
        except OSError as e:
            raise DeviceGone(f"cannot stat: {e.strerror}", file=str(path), device=str(addr)) from None
        if offset < 0 or offset + size > length:
            raise InputError(
                f"BAR {bar} window 0x{offset:x}+0x{size:x} outside the BAR (size 0x{length:x})",
                file=str(path), device=str(addr), offset=offset,
            )
        if size == 0:
            return b""
        from periphery import MMIO, MMIOError

        from . import bar_access

        try:
            mmio = MMIO(offset, size, path=str(path))
        except MMIOError as e:
            stage = "open" if (e.strerror or "").startswith("Opening") else "mmap"  # periphery's two messages
            why = bar_access.explain(self.function_dir(addr), bar, e.errno, self._host, stage)
            raise NotSupported(f"cannot map {path}: {why}", device=str(addr), offset=offset) from None
        try:
            return bar_access.read_window(mmio, offset, size)  # aligned DWORDs (MSI-X table and PBA rule)
        finally:
            mmio.close()

    @property
    def _host(self) -> bar_access.HostFiles:
        """Where the kernel's state is (lockdown, cmdline, config): this host's, or files beside a tree."""
        from . import bar_access

        return bar_access.HostFiles() if self.is_live_host else bar_access.HostFiles.beside(self.root.parent)

    # -- writes: only after allow_writes=True; the work is in live_writes.py ------------------------
    def _live_writer(self, addr: Address | None):
        if self._writer is None:
            raise ReadOnlyError("the live host is read-only unless opened with allow_writes=True "
                                '(pciexplore.open("sysfs", allow_writes=True))', file=self.name,
                                device=str(addr) if addr else None)
        return self._writer

    def write_config(self, addr: Address, offset: int, data: bytes) -> None:
        self._live_writer(addr).write_config(addr, offset, data)

    def write_bar(self, addr: Address, bar: int, offset: int, data: bytes) -> None:
        self._live_writer(addr).write_bar(addr, bar, offset, data)

    def undo(self, steps: int = 1, force: bool = False) -> list:
        """Revert the last `steps` journaled writes (see live_writes.LiveWriter.undo)."""
        return self._live_writer(None).undo(steps, force)

    def kernel_info(self, addr: Address) -> KernelInfo | None:
        # read when asked for, attribute by attribute: `show` prints some of them, a capture all of them
        d = self.function_dir(addr)
        info = _SysfsKernelInfo(d, self._slots().get((addr.domain, addr.bus, addr.device)))
        for name, value in (self._ahead and self._ahead.kernel(d) or {}).items():
            setattr(info, name, value)
        return info

    def read_ahead(self, addrs: list[Address], config_length: int = 4096) -> None:
        """About to read these functions in this order, each one's first `config_length` config bytes and
        the kernel attributes lspci prints: on a big tree a child process reads them meanwhile
        (read_ahead.py). Anything else, or any of them read again, is read directly as always."""
        from . import read_ahead

        self._stop_reading_ahead()
        if read_ahead.worth_it(len(addrs)):
            self._ahead = read_ahead.ReadAhead([self.function_dir(a) for a in addrs], config_length, _read_regular,
                                               _SHOW_FILES)

    def close(self) -> None:
        self._stop_reading_ahead()

    def _stop_reading_ahead(self) -> None:
        if self._ahead is not None:
            self._ahead.close()
            self._ahead = None

    def _slots(self) -> dict[tuple[int, int, int], str]:
        """(domain, bus, device) -> slot name from the `slots` directory next to `devices`; the first
        slot in directory order wins, as in lspci."""
        if getattr(self, "_slot_names", None) is None:
            names: dict[tuple[int, int, int], str] = {}
            slots = f"{os.path.dirname(self._root) or '.'}/slots"
            try:
                entries = os.listdir(slots)
            except OSError:
                entries = []
            for name in entries:
                if name.startswith("."):
                    continue
                text = _read_small(f"{slots}/{name}/address")
                import re  # here, where a slot is: re's start-up costs ~25M instructions, most hosts have no slots

                m = None if text is None else re.match(_SLOT_ADDRESS, text.decode("ascii", "replace"))
                if m:  # like sscanf("%x:%x:%x"): a slot without a device has only two fields
                    names.setdefault((int(m[1], 16), int(m[2], 16), int(m[3], 16)), name)
            self._slot_names = names
        return self._slot_names


_IDS = ("vendor", "device", "class", "revision", "subsystem_vendor", "subsystem_device")


def _read_ids(d: str) -> dict[str, int]:
    ids = {}
    for name in _IDS:
        value = _read_int(f"{d}/{name}")
        if value is not None:
            ids[name] = value
    return ids


def _read_msi_irqs(d: str) -> list[int]:
    try:
        return sorted(int(n) for n in os.listdir(f"{d}/msi_irqs") if n.isdigit())
    except OSError:
        return []


def _read_label(d: str) -> str | None:
    label = _read_small(f"{d}/label")
    return None if label is None else label.decode("utf-8", "surrogateescape")


#: how each KernelInfo attribute is read from a device's directory (plain string paths and os-level reads:
#: a dozen small files per function, thousands of functions)
_KERNEL_FILES = {
    "driver": lambda d: _link_name(d, "driver"),
    "irq": lambda d: _read_int(f"{d}/irq"),
    "numa_node": lambda d: _read_int(f"{d}/numa_node"),
    "iommu_group": lambda d: _link_name(d, "iommu_group"),
    "msi_irqs": _read_msi_irqs,
    "ids": _read_ids,
    "resources": lambda d: _read_resources(f"{d}/resource") or [],
    "label": _read_label,
}


#: what lspci prints of the kernel's view (not msi_irqs/: it lists no vectors)
_SHOW_FILES = {name: read for name, read in _KERNEL_FILES.items() if name != "msi_irqs"}


class _SysfsKernelInfo(KernelInfo):
    """The kernel's view of one function, each attribute read from its directory when first asked for."""

    __slots__ = ("_dir",)

    def __init__(self, d: str, phys_slot: str | None) -> None:  # not KernelInfo's: the rest is read on demand
        self._dir = d
        self.modules = []
        self.phys_slot = phys_slot

    def __getattr__(self, name: str) -> object:  # only called for an attribute not set yet
        read = _KERNEL_FILES.get(name)
        if read is None:
            raise AttributeError(name)
        value = read(self._dir)
        setattr(self, name, value)
        return value


def _link_name(d: str, name: str) -> str | None:
    """Last component of where the sysfs link `name` leads, resolved as lspci does (the link's text
    appended to the device directory, so only relative links -- the kind sysfs has -- resolve)."""
    try:
        target = os.readlink(f"{d}/{name}")
    except OSError:
        return None
    path = f"{d}/{target}"
    return os.path.basename(os.path.realpath(path)) if os.path.exists(path) else None


_PAGE = 4096  # the most sysfs gives in one read of a binary attribute (kernfs reads a page at a time)


class _NotRegular(OSError):
    def __init__(self) -> None:
        super().__init__(0, "not a regular file (a FIFO or device node, not a sysfs attribute)")


def _read_regular(path: str, limit: int) -> tuple[bytes, int]:
    """At most `limit` bytes of a regular file and its size.  Sysfs attributes are regular files; a FIFO
    (whose read would wait forever: opened non-blocking) or a device node such as /dev/zero (endless)
    in a sysfs-like tree raises _NotRegular."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _NotRegular
        out = b""
        while len(out) < limit:  # sysfs hands out at most a page per read
            want = limit - len(out)
            chunk = os.read(fd, want)
            out += chunk
            # short of what was asked and of a page: the end (no second read of nothing, for each of a dozen
            # attributes of each of thousands of functions)
            if len(chunk) < want and len(chunk) < _PAGE:
                break
        return out, max(st.st_size, len(out))
    finally:
        os.close(fd)


def _read_small(path: str) -> bytes | None:
    """A sysfs text attribute's bytes (the kernel gives at most a page), or None when it cannot be read.
    One open and one read, no fstat: opened non-blocking, a FIFO in a sysfs-like tree reads as empty and
    a device node such as /dev/zero gives one page, so neither hangs."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError:
        return None
    try:
        return os.read(fd, _PAGE)
    except OSError:  # a directory, or a device node that would block
        return None
    finally:
        os.close(fd)


#: the kernel's line for a resource the function does not have (resource_show: "0x%016llx 0x%016llx 0x%016llx")
_UNUSED_RESOURCE = b"0x0000000000000000 0x0000000000000000 0x0000000000000000"


def _read_resources(path: str) -> list[tuple[int, int, int]] | None:
    """sysfs `resource`: one "start end flags" line (hex) per BAR, ROM, IOV BAR and bridge window, up to
    the first line that is not one; None when the file cannot be read."""
    data = _read_small(path)
    if data is None:
        return None
    out = []
    for line in data.splitlines():
        if line == _UNUSED_RESOURCE:  # most of a function's 13 or 17 lines: no need to parse three numbers
            out.append((0, 0, 0))
            continue
        parts = line.split()
        try:
            out.append((int(parts[0], 16), int(parts[1], 16), int(parts[2], 16)))
        except (IndexError, ValueError):
            break
    return out


def _read_int(path: str) -> int | None:
    data = _read_small(path)
    try:
        return None if data is None else int(data.strip(), 0)
    except ValueError:
        return None
