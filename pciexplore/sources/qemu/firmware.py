"""What firmware does before an OS runs, done over qtest: config access, bus numbers, BARs, windows.

Config space: the first 256 bytes through the legacy 0xCF8/0xCFC ports (PCI Local Bus 3.0, 3.2.2.3.2):
enumeration, BAR sizing and every config write below 0x100; the extended 4 KiB through ECAM (PCIe 4.0,
7.2.2) once the Q35 host bridge's PCIEXBAR (MCH config register 0x60: base in bits 35:28, length in
bits 2:1, enable in bit 0) points a 256 MiB window at `ECAM_BASE`.  Whole-function reads after
enumeration take all 4096 bytes from ECAM in one command, which is 3-4x faster (`read_ecam`).

Enumeration walks bus 0 depth first; every type-1 header gets the next bus number as secondary and,
after its subtree is walked, the highest bus found as subordinate.  BARs are sized by writing all-ones
and reading back (PCI 3.0, 6.2.5.1), placed naturally aligned in one memory window below 4 GiB and one
I/O window, and every bridge's memory and I/O windows are set to cover what lies behind it (its
prefetchable window is left closed; prefetchable BARs sit in the plain memory window, which is legal).
Memory and I/O decode and bus mastering are then enabled, as a BIOS leaves them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...address import Address
from .qtest import QtestClient, read_cmd, split_aligned, write_cmd

ECAM_BASE = 0xB000_0000
#: MCH (00:00.0) config register holding the ECAM base (Q35 datasheet: PCIEXBAR)
MCH_PCIEXBAR = 0x60
MEM_WINDOW = (0xC000_0000, 0xFE00_0000)
IO_WINDOW = (0xC000, 0x1_0000)
BRIDGE_MEM_ALIGN = 1 << 20  # PCI-to-PCI Bridge 1.2, 3.2.5.8: memory windows in 1 MiB units
BRIDGE_IO_ALIGN = 1 << 12  # 3.2.5.6: I/O windows in 4 KiB units

# pci_regs.h names
PCI_COMMAND = 0x04
PCI_COMMAND_IO = 0x1
PCI_COMMAND_MEMORY = 0x2
PCI_COMMAND_MASTER = 0x4
PCI_HEADER_TYPE = 0x0E
PCI_BASE_ADDRESS_0 = 0x10
PCI_BASE_ADDRESS_SPACE_IO = 0x1
PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x4
PCI_BASE_ADDRESS_MEM_PREFETCH = 0x8
PCI_ROM_ADDRESS = 0x30
PCI_ROM_ADDRESS1 = 0x38
PCI_PRIMARY_BUS = 0x18
PCI_IO_BASE = 0x1C
PCI_MEMORY_BASE = 0x20
PCI_PREF_MEMORY_BASE = 0x24
PCI_PREF_BASE_UPPER32 = 0x28
PCI_IO_BASE_UPPER16 = 0x30

# sysfs `resource` flags (include/linux/ioport.h), as BarRegion.flags carries them
IORESOURCE_IO = 0x100
IORESOURCE_MEM = 0x200
IORESOURCE_PREFETCH = 0x2000
IORESOURCE_MEM_64 = 0x0010_0000


@dataclass
class Bar:
    index: int  # 0..5, 6 = expansion ROM
    io: bool
    is64: bool
    prefetch: bool
    size: int
    base: int = 0

    @property
    def flags(self) -> int:
        f = IORESOURCE_IO if self.io else IORESOURCE_MEM
        if self.prefetch:
            f |= IORESOURCE_PREFETCH
        if self.is64:
            f |= IORESOURCE_MEM_64
        return f


@dataclass
class Node:
    """One enumerated function; bridges carry the functions behind them."""

    address: Address
    header_type: int
    bars: list[Bar] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    secondary: int | None = None

    @property
    def is_bridge(self) -> bool:
        return self.header_type == 1


class ConfigAccess:
    """Config reads and writes for any bus/device/function through legacy ports or ECAM."""

    def __init__(self, qt: QtestClient) -> None:
        self.qt = qt

    @staticmethod
    def _cf8(a: Address, offset: int) -> int:
        return 0x8000_0000 | a.bus << 16 | a.device << 11 | a.function << 8 | (offset & 0xFC)

    @staticmethod
    def ecam(a: Address, offset: int) -> int:
        return ECAM_BASE | a.bus << 20 | a.device << 15 | a.function << 12 | offset

    def read_cmds(self, a: Address, offset: int, width: int) -> list[str]:
        if offset < 0x100:
            return [write_cmd("io", 0xCF8, 4, self._cf8(a, offset)), read_cmd("io", 0xCFC + (offset & 3), width)]
        return [read_cmd("mem", self.ecam(a, offset), width)]

    def write_cmds(self, a: Address, offset: int, width: int, value: int) -> list[str]:
        if offset < 0x100:
            return [write_cmd("io", 0xCF8, 4, self._cf8(a, offset)),
                    write_cmd("io", 0xCFC + (offset & 3), width, value)]
        return [write_cmd("mem", self.ecam(a, offset), width, value)]

    def read(self, a: Address, offset: int, width: int) -> int:
        return int(self.qt.batch(self.read_cmds(a, offset, width))[-1], 16)

    def write(self, a: Address, offset: int, width: int, value: int) -> None:
        self.qt.batch(self.write_cmds(a, offset, width, value))

    def write_bytes(self, a: Address, offset: int, data: bytes) -> None:
        cmds: list[str] = []
        for at, width, value in split_aligned(offset, data):
            cmds += self.write_cmds(a, at, width, value)
        self.qt.batch(cmds)

    def read_legacy(self, a: Address) -> bytes:
        """The first 256 bytes through the ports (64 pipelined port pairs, about 1 ms)."""
        cmds = [c for off in range(0, 0x100, 4) for c in self.read_cmds(a, off, 4)]
        return b"".join(int(v, 16).to_bytes(4, "little") for v in self.qt.batch(cmds)[1::2])

    def read_ecam(self, a: Address, size: int = 0x1000) -> bytes:
        """Config bytes from 0 in one ECAM read (all 4096: 0.3 ms); the tests check both paths agree."""
        return self.qt.read(self.ecam(a, 0), size)

    def enable_ecam(self) -> None:
        host = Address(0, 0, 0, 0)
        self.write(host, MCH_PCIEXBAR + 4, 4, 0)
        self.write(host, MCH_PCIEXBAR, 4, ECAM_BASE | 1)  # length 00 = 256 MiB, bit 0 = enable


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


class Firmware:
    """Enumerates the machine and assigns resources; keeps the result as a tree of `Node`s."""

    def __init__(self, cfg: ConfigAccess) -> None:
        self.cfg = cfg
        self.roots: list[Node] = []
        self._next_bus = 1
        self._mem = MEM_WINDOW[0]
        self._io = IO_WINDOW[0]

    def run(self) -> list[Node]:
        self.cfg.enable_ecam()
        self.roots = self._scan(0)
        self._assign(self.roots)
        self._enable(self.roots)
        return self.roots

    def nodes(self) -> list[Node]:
        out: list[Node] = []

        def visit(ns: list[Node]) -> None:
            for n in ns:
                out.append(n)
                visit(n.children)

        visit(self.roots)
        return out

    # -- bus numbers -----------------------------------------------------------------------------
    def _present(self, bus: int) -> list[tuple[int, int]]:
        """(device, header type byte) for every device 0..31 answering on `bus` (one batch)."""
        cmds: list[str] = []
        for dev in range(32):
            a = Address(0, bus, dev, 0)
            cmds += self.cfg.read_cmds(a, 0, 4) + self.cfg.read_cmds(a, PCI_HEADER_TYPE, 1)
        ans = self.cfg.qt.batch(cmds)
        return [(dev, int(ans[dev * 4 + 3], 16)) for dev in range(32)
                if int(ans[dev * 4 + 1], 16) & 0xFFFF != 0xFFFF]

    def _scan(self, bus: int) -> list[Node]:
        found = []
        for dev, htype in self._present(bus):
            for fn in range(8 if htype & 0x80 else 1):
                a = Address(0, bus, dev, fn)
                if fn and self.cfg.read(a, 0, 2) == 0xFFFF:
                    continue
                node = Node(a, self.cfg.read(a, PCI_HEADER_TYPE, 1) & 0x7F)
                node.bars = self._size_bars(node)
                if node.is_bridge:
                    node.secondary = self._next_bus
                    self._next_bus += 1
                    # primary, secondary, subordinate (open until the subtree is known)
                    self.cfg.write(a, PCI_PRIMARY_BUS, 4, (0xFF << 16) | (node.secondary << 8) | bus)
                    node.children = self._scan(node.secondary)
                    self.cfg.write(a, PCI_PRIMARY_BUS + 2, 1, self._next_bus - 1)
                found.append(node)
        return found

    # -- BARs ------------------------------------------------------------------------------------
    def _size_bars(self, node: Node) -> list[Bar]:
        """Write all-ones to every BAR register and the ROM register, read back, restore: two pipelined
        batches per function (decode is still off, as reset leaves it)."""
        if node.header_type not in (0, 1):
            return []
        a = node.address
        count = 6 if node.header_type == 0 else 2
        rom = PCI_ROM_ADDRESS if node.header_type == 0 else PCI_ROM_ADDRESS1
        offs = [PCI_BASE_ADDRESS_0 + 4 * i for i in range(count)] + [rom]
        cmds = [c for off in offs for c in self.cfg.read_cmds(a, off, 4)]
        orig = [int(v, 16) for v in self.cfg.qt.batch(cmds)[1::2]]
        cmds = []
        for off, value in zip(offs, orig, strict=True):
            cmds += self.cfg.write_cmds(a, off, 4, 0xFFFF_F800 if off == rom else 0xFFFF_FFFF)
            cmds += self.cfg.read_cmds(a, off, 4)
            cmds += self.cfg.write_cmds(a, off, 4, value)
        probes = [int(v, 16) for v in self.cfg.qt.batch(cmds)[3::6]]
        bars: list[Bar] = []
        i = 0
        while i < count:
            probe = probes[i]
            io = bool(probe & PCI_BASE_ADDRESS_SPACE_IO)
            is64 = not io and (probe & 0x6) == PCI_BASE_ADDRESS_MEM_TYPE_64 and i + 1 < count
            mask = probe & (0xFFFF_FFFC if io else 0xFFFF_FFF0)
            if is64:
                mask |= probes[i + 1] << 32
            if mask:
                # 16-bit I/O decoders read back zeros in the upper half (PCI 3.0, 6.2.5.1)
                width = 64 if is64 else 16 if io and not probe >> 16 else 32
                size = ((~mask) & ((1 << width) - 1)) + 1
                bars.append(Bar(i, io, is64, bool(probe & PCI_BASE_ADDRESS_MEM_PREFETCH) and not io, size))
            i += 2 if is64 else 1
        mask = probes[-1] & 0xFFFF_F800
        if mask:
            bars.append(Bar(6, False, False, False, ((~mask) & 0xFFFF_FFFF) + 1))
        return bars

    def _place(self, bar: Bar) -> None:
        if bar.io:
            self._io = _align(self._io, bar.size)
            bar.base, self._io = self._io, self._io + bar.size
        else:
            self._mem = _align(self._mem, bar.size)
            bar.base, self._mem = self._mem, self._mem + bar.size
        if bar.base + bar.size > (IO_WINDOW if bar.io else MEM_WINDOW)[1]:
            from .qtest import QemuError

            raise QemuError(f"BAR {bar.index} of {bar.size:#x} bytes does not fit the window")

    def _assign(self, nodes: list[Node]) -> None:
        for node in nodes:
            for bar in sorted(node.bars, key=lambda b: -b.size):
                self._place(bar)
                self._program_bar(node, bar)
        for node in nodes:
            if not node.is_bridge:
                continue
            self._mem = _align(self._mem, BRIDGE_MEM_ALIGN)
            self._io = _align(self._io, BRIDGE_IO_ALIGN)
            mem0, io0 = self._mem, self._io
            self._assign(node.children)
            self._mem = _align(self._mem, BRIDGE_MEM_ALIGN)
            self._io = _align(self._io, BRIDGE_IO_ALIGN)
            self._program_window(node, mem0, self._mem, io0, self._io)

    def _program_bar(self, node: Node, bar: Bar) -> None:
        a = node.address
        if bar.index == 6:
            self.cfg.write(a, PCI_ROM_ADDRESS if node.header_type == 0 else PCI_ROM_ADDRESS1, 4, bar.base)
            return
        off = PCI_BASE_ADDRESS_0 + 4 * bar.index
        self.cfg.write(a, off, 4, bar.base & 0xFFFF_FFFF)
        if bar.is64:
            self.cfg.write(a, off + 4, 4, bar.base >> 32)

    def _program_window(self, node: Node, mem0: int, mem1: int, io0: int, io1: int) -> None:
        a = node.address
        if mem1 > mem0:
            self.cfg.write(a, PCI_MEMORY_BASE, 4, ((mem1 - 1) >> 16 & 0xFFF0) << 16 | (mem0 >> 16 & 0xFFF0))
        else:
            self.cfg.write(a, PCI_MEMORY_BASE, 4, 0x0000_FFF0)  # base above limit: closed
        if io1 > io0:
            self.cfg.write(a, PCI_IO_BASE, 2, (((io1 - 1) >> 8) & 0xF0) << 8 | ((io0 >> 8) & 0xF0))
            self.cfg.write(a, PCI_IO_BASE_UPPER16, 4, ((io1 - 1) >> 16) << 16 | (io0 >> 16))
        else:
            self.cfg.write(a, PCI_IO_BASE, 2, 0x00F0)
        self.cfg.write(a, PCI_PREF_MEMORY_BASE, 4, 0x0000_FFF0)
        self.cfg.write(a, PCI_PREF_BASE_UPPER32, 4, 0)
        self.cfg.write(a, PCI_PREF_BASE_UPPER32 + 4, 4, 0)

    def _enable(self, nodes: list[Node]) -> None:
        for node in nodes:
            cmd = PCI_COMMAND_MASTER
            if node.is_bridge or any(b.io for b in node.bars if b.index < 6):
                cmd |= PCI_COMMAND_IO
            if node.is_bridge or any(not b.io for b in node.bars if b.index < 6):
                cmd |= PCI_COMMAND_MEMORY
            old = self.cfg.read(node.address, PCI_COMMAND, 2)
            self.cfg.write(node.address, PCI_COMMAND, 2, old | cmd)
            self._enable(node.children)
