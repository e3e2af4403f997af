"""Build a directory laid out like /sys/bus/pci (`devices/<dddd:bb:dd.f>/...`) from config images.

For tests, benchmarks and teaching: the tree has what the kernel would show (config, vendor, device,
class, revision, subsystem ids, irq, resource) and, for memory BARs, `resourceN` as regular files of
the BAR's size, so the real mmap path of the sysfs source runs on it.  Real `lspci -A linux-sysfs -O
sysfs.path=ROOT` reads the same tree, which makes it a reference for our sysfs source too.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..address import Address

IORESOURCE_IO = 0x00000100
IORESOURCE_MEM = 0x00000200
IORESOURCE_PREFETCH = 0x00002000
IORESOURCE_MEM_64 = 0x00100000
IORESOURCE_SIZEALIGN = 0x00040000


def _bars(cfg: bytes, sizes: dict[int, int]) -> dict[int, tuple[int, int, int]]:
    """BAR index -> (base, size, flags) for type-0 headers, from the config bytes and given sizes."""
    out: dict[int, tuple[int, int, int]] = {}
    if len(cfg) < 0x28 or cfg[0x0E] & 0x7F != 0:
        return out
    i = 0
    while i < 6:
        raw = int.from_bytes(cfg[0x10 + 4 * i : 0x14 + 4 * i], "little")
        # like the kernel's decode_bar(): the BAR's own low bits ride along in the flags (lspci reads them)
        if raw & 1:
            base, flags, step = raw & ~3, IORESOURCE_IO | IORESOURCE_SIZEALIGN | raw & 3, 1
        else:
            is64 = (raw >> 1) & 3 == 2
            base = raw & ~0xF
            if is64 and i < 5:
                base |= int.from_bytes(cfg[0x14 + 4 * i : 0x18 + 4 * i], "little") << 32
            flags = (IORESOURCE_MEM | IORESOURCE_SIZEALIGN | (IORESOURCE_PREFETCH if raw & 8 else 0)
                     | (IORESOURCE_MEM_64 if is64 else 0) | raw & 0xF)
            step = 2 if is64 else 1
        if i in sizes and sizes[i]:
            out[i] = (base, sizes[i], flags)
        i += step
    return out


def build_tree(
    root: str | Path,
    functions: Iterable[tuple[Address, bytes]],
    bar_sizes: dict[Address, dict[int, int]] | None = None,
    bar_contents: dict[tuple[Address, int], bytes] | None = None,
    readable_config: int | None = None,
) -> Path:
    """Write the tree under `root` and return the `devices` directory (what SysfsSource opens).

    `bar_sizes[addr][i]` gives BAR i's size (sysfs knows sizes, config space alone does not);
    `bar_contents[(addr, i)]` the initial bytes of resourceN; `readable_config` cuts `config` short as
    an unprivileged read would see it (the kernel gives non-root users the first 64 bytes).
    """
    devices = Path(root) / "devices"
    devices.mkdir(parents=True, exist_ok=True)
    bar_sizes = bar_sizes or {}
    bar_contents = bar_contents or {}
    for addr, cfg in functions:
        d = devices / str(addr)
        d.mkdir(exist_ok=True)
        (d / "config").write_bytes(cfg if readable_config is None else cfg[:readable_config])

        def word(off: int, n: int = 2, cfg: bytes = cfg) -> int:
            return int.from_bytes(cfg[off : off + n], "little") if len(cfg) >= off + n else 0

        (d / "vendor").write_text(f"0x{word(0):04x}\n")
        (d / "device").write_text(f"0x{word(2):04x}\n")
        (d / "class").write_text(f"0x{word(9, 3):06x}\n")
        (d / "revision").write_text(f"0x{word(8, 1):02x}\n")
        if len(cfg) >= 0x30 and cfg[0x0E] & 0x7F == 0:
            (d / "subsystem_vendor").write_text(f"0x{word(0x2C):04x}\n")
            (d / "subsystem_device").write_text(f"0x{word(0x2E):04x}\n")
        (d / "irq").write_text("0\n")
        bars = _bars(cfg, bar_sizes.get(addr, {}))
        lines = []
        for i in range(13):
            if i in bars:
                base, size, flags = bars[i]
                lines.append(f"0x{base:016x} 0x{base + size - 1:016x} 0x{flags:016x}")
            else:
                lines.append(f"0x{0:016x} 0x{0:016x} 0x{0:016x}")
        (d / "resource").write_text("\n".join(lines) + "\n")
        for i, (_, size, flags) in bars.items():
            if flags & IORESOURCE_MEM:
                path = d / f"resource{i}"
                with open(path, "wb") as f:
                    f.truncate(size)
                    content = bar_contents.get((addr, i))
                    if content:
                        f.seek(0)
                        f.write(content[:size])
    return devices
