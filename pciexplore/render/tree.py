"""The bus tree exactly as `lspci -t` (3.9) draws it, from any source; also the bridge path of a
function (lspci -P/-PP).

lspci builds the tree from bridge bus numbers (ls-tree.c grow_tree): every PCI-to-PCI or CardBus
bridge owns its secondary bus; a device goes on the bus of the first bridge (latest found first) whose
secondary..subordinate range holds its bus number, or on a new bus of the host bridge.  We follow the
same steps, so a tree with inconsistent bus numbers comes out as lspci shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .. import names
from .lspci_header import DeviceFacts

if TYPE_CHECKING:
    from ..model import Function
    from ..sources.base import Source

U32 = 0xFFFFFFFF


@dataclass(eq=False)
class _Bus:
    domain: int
    number: int
    bridge: _Bridge
    devices: list[Function] = field(default_factory=list)


@dataclass(eq=False)
class _Bridge:
    domain: int
    primary: int
    secondary: int
    subordinate: int
    device: Function | None = None
    children: list[_Bridge] = field(default_factory=list)  # newest first, as lspci prepends
    buses: list[_Bus] = field(default_factory=list)

    def bus(self, domain: int, number: int) -> _Bus | None:
        return next((b for b in self.buses if b.domain == domain and b.number == number), None)

    def new_bus(self, domain: int, number: int) -> _Bus:
        bus = _Bus(domain, number, self)
        self.buses.append(bus)
        return bus


def grow_tree(fns: list[Function]) -> tuple[_Bridge, dict[int, _Bridge]]:
    """The host bridge (root) and, by id(function), the bridge each bridge function leads to."""
    host = _Bridge(0, U32, 0, U32)
    chain = [host]
    by_device: dict[int, _Bridge] = {}
    for fn in fns:
        d = DeviceFacts(fn)
        if d.cls >> 8 == 0x06 and d.htype in (1, 2):
            br = _Bridge(fn.address.domain, d.read(0x18, 1), d.read(0x19, 1), d.read(0x1A, 1), fn)
            chain.append(br)
            by_device[id(fn)] = br
    for b in chain:
        best = None
        for c in chain:
            if c is not b and (c is host or b.domain == c.domain) and c.secondary <= b.primary <= c.subordinate \
                    and (best is None or (best.subordinate - best.primary) & U32 > (c.subordinate - c.primary) & U32):
                best = c
        if best is not None:
            best.children.insert(0, b)
    for b in chain:
        if b.bus(b.domain, b.secondary) is None:
            b.new_bus(b.domain, b.secondary)
    for fn in fns:
        _insert(fn, host)
    return host, by_device


def _insert(fn: Function, b: _Bridge) -> None:
    a = fn.address
    bus = b.bus(a.domain, a.bus)
    if bus is None:
        for c in b.children:
            if c.domain == a.domain and c.secondary <= a.bus <= c.subordinate:
                _insert(fn, c)
                return
        bus = b.new_bus(a.domain, a.bus)
    bus.devices.append(fn)


class _Drawing:
    """lspci's line buffer: text is written at a position; printing a line turns it into the prefix
    of the next one ('+' and '|' become '|', everything else a blank)."""

    def __init__(self, host: _Bridge, by_device: dict[int, _Bridge], wanted: Callable[[Function], bool] | None,
                 verbose: bool, numeric: int) -> None:
        self.host, self.by_device, self.wanted = host, by_device, wanted
        self.verbose, self.numeric = verbose, numeric
        self.buf: list[str] = []
        self.lines: list[str] = []

    def put(self, p: int, text: str) -> int:
        del self.buf[p:]
        self.buf.extend(text)
        return p + len(text)

    def print_it(self, p: int) -> None:
        del self.buf[p:]
        self.lines.append("".join(self.buf))
        self.buf = ["|" if c in "+|" else " " for c in self.buf]

    # -- lspci's filters: a bridge is shown when anything below it matches
    def dev_wanted(self, fn: Function) -> bool:
        if self.wanted is None or self.wanted(fn):
            return True
        br = self.by_device.get(id(fn))
        return br is not None and any(self.bus_wanted(b) for b in br.buses)

    def bus_wanted(self, bus: _Bus) -> bool:
        return self.wanted is None or any(self.dev_wanted(fn) for fn in bus.devices)

    def device(self, fn: Function, p: int) -> None:
        a = fn.address
        p = self.put(p, f"{a.device:02x}.{a.function:x}")
        br = self.by_device.get(id(fn))
        if br is not None:
            if br.secondary == 0:
                p = self.put(p, "-")
            elif br.secondary == br.subordinate:
                p = self.put(p, f"-[{br.secondary:02x}]-")
            else:
                p = self.put(p, f"-[{br.secondary:02x}-{br.subordinate:02x}]-")
            self.bridge(br, p)
            return
        if self.verbose:
            d = DeviceFacts(fn)
            p = self.put(p, "  " + names.fit(names.default().vendor_device_text(d.vendor, d.device, self.numeric), 256))
        self.print_it(p)

    def bus(self, bus: _Bus, p: int) -> None:
        devs = bus.devices
        if not devs:
            self.print_it(p)
        elif len(devs) == 1:
            if self.dev_wanted(devs[0]):
                self.device(devs[0], self.put(p, "--"))
            else:
                self.print_it(p)
        else:
            empty = True
            for fn in devs[:-1]:
                if self.dev_wanted(fn):
                    self.device(fn, self.put(p, "+-"))
                    empty = False
            if self.dev_wanted(devs[-1]):
                self.device(devs[-1], self.put(p, "\\-"))
                empty = False
            if empty:
                self.print_it(p)

    def bridge(self, b: _Bridge, p: int) -> None:
        p = self.put(p, "-")
        if len(b.buses) == 1:
            if self.bus_wanted(b.buses[0]):
                if b is self.host:
                    p = self.put(p, f"[{b.domain:04x}:{b.buses[0].number:02x}]-")
                self.bus(b.buses[0], p)
            else:
                self.print_it(p)
            return
        empty = True
        for i, u in enumerate(b.buses):
            if self.bus_wanted(u):
                lead = "\\-" if i == len(b.buses) - 1 else "+-"
                self.bus(u, self.put(p, f"{lead}[{u.domain:04x}:{u.number:02x}]-"))
                empty = False
        if empty:
            self.print_it(p)


def tree_text(source: Source, wanted: Callable[[Function], bool] | None = None, verbose: bool = False,
              numeric: int = 0) -> str:
    """`lspci -t` (with -v: names; -n/-nn: numbers) for the functions of `source`; `wanted` is lspci's
    -s/-d filter (branches leading to a wanted function are drawn)."""
    fns = source.functions()
    host, by_device = grow_tree(fns)
    drawing = _Drawing(host, by_device, wanted, verbose, numeric)
    drawing.bridge(host, 0)
    return "".join(line + "\n" for line in drawing.lines)


def tree_json(source: Source, wanted: Callable[[Function], bool] | None = None) -> list[dict]:
    """The same tree as data: each bus with its devices, each bridge with the buses behind it (and the
    secondary and subordinate numbers it claims); `wanted` keeps the branches `tree_text` would draw."""
    fns = source.functions()
    host, by_device = grow_tree(fns)
    drawing = _Drawing(host, by_device, wanted, False, 0)

    def device(fn: Function) -> dict:
        d = DeviceFacts(fn)
        out: dict = {"address": str(fn.address), "vendor_id": d.vendor, "device_id": d.device, "class": d.cls}
        br = by_device.get(id(fn))
        if br is not None:
            out.update(secondary=br.secondary, subordinate=br.subordinate,
                       buses=[bus(u) for u in br.buses if drawing.bus_wanted(u)])
        return out

    def bus(u: _Bus) -> dict:
        return {"domain": u.domain, "bus": u.number,
                "devices": [device(fn) for fn in u.devices if drawing.dev_wanted(fn)]}

    return [bus(u) for u in host.buses if drawing.bus_wanted(u)]


def bridge_paths(fns: list[Function], buses: int = 1) -> dict[int, str]:
    """id(function) -> its name with the path of bridges above it, as lspci -P (buses=2: -PP) prints it."""
    host, _ = grow_tree(fns)
    parent: dict[int, Function | None] = {}

    def visit(b: _Bridge) -> None:
        for bus in b.buses:
            for fn in bus.devices:
                parent[id(fn)] = b.device
        for child in b.children:
            visit(child)

    visit(host)
    paths: dict[int, str] = {}

    visiting: set[int] = set()

    def path(fn: Function) -> str:
        if id(fn) not in paths:
            up = parent.get(id(fn))
            a = fn.address
            visiting.add(id(fn))
            if up is not None and id(up) in visiting:  # bridges behind each other: lspci recurses forever
                up = None
            if up is None:
                paths[id(fn)] = a.short
            elif buses > 1:
                paths[id(fn)] = f"{path(up)}/{a.short}"
            else:
                paths[id(fn)] = f"{path(up)}/{a.device:02x}.{a.function}"
            visiting.discard(id(fn))
        return paths[id(fn)]

    for fn in fns:
        path(fn)
    return paths
