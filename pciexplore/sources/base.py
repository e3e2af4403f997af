"""The one Source protocol every backend implements.

Everything above this module (decoding, MSI-X model, renderers, widgets) only ever asks a source for
bytes of config space, bytes of a BAR window, what it knows of BAR placement and what the kernel
says; it never knows which backend it has (cf. pciutils' access methods).
"""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from ..address import Address, Selector
from ..errors import InputError, NotSupported, ReadOnlyError, SourceClosed
from ..words import plural

TYPE_CHECKING = False  # typing's constant without importing typing: every command's start-up pays for it
if TYPE_CHECKING:
    from typing import Any

    from ..model import Function


def path_text(text: str) -> str:
    """What str(pathlib.Path(text)) is on POSIX (empty and "." parts dropped; exactly two leading slashes
    kept), without importing pathlib: its import is a tenth of a plain `show`'s start-up."""
    parts = [p for p in text.split("/") if p and p != "."]
    lead = "//" if text.startswith("//") and not text.startswith("///") else "/" if text.startswith("/") else ""
    return lead + "/".join(parts) or "."


# The small value types below are namedtuples or plain classes, not dataclasses: every command imports
# this module, and dataclasses' import (inspect, ast, dis) cost each command's start-up more than the rest.


class BarRegion(namedtuple("BarRegion", "index base size flags", defaults=(0,))):
    """Where a BAR is mapped, as the source knows it (sysfs `resource`, QEMU's assignment): index (0..5,
    or 6 for the expansion ROM), base, size, and flags (IORESOURCE_* as in sysfs `resource`, 0 when unknown)."""

    __slots__ = ()


class ByteRange(namedtuple("ByteRange", "bar offset size")):
    """Bytes to read in one go: `size` bytes at `offset` of config space (`bar` None) or of BAR `bar`."""

    __slots__ = ()


class KernelInfo:
    """What the host kernel says about a function (live host and captures of it)."""

    FIELDS = ("driver", "modules", "irq", "msi_irqs", "numa_node", "iommu_group", "ids", "resources", "label",
              "phys_slot")
    __slots__ = FIELDS

    def __init__(self, driver: str | None = None, modules: list[str] | None = None, irq: int | None = None,
                 msi_irqs: list[int] | None = None, numa_node: int | None = None, iommu_group: str | None = None,
                 ids: dict[str, int] | None = None, resources: list[tuple[int, int, int]] | None = None,
                 label: str | None = None, phys_slot: str | None = None) -> None:
        self.driver = driver
        self.modules: list[str] = [] if modules is None else modules
        self.irq = irq
        self.msi_irqs: list[int] = [] if msi_irqs is None else msi_irqs
        self.numa_node = numa_node
        self.iommu_group = iommu_group
        #: the kernel's view of identity (sysfs vendor, device, class, revision, subsystem_vendor/_device)
        self.ids: dict[str, int] = {} if ids is None else ids
        #: sysfs `resource` lines (start, end, IORESOURCE_* flags): BARs 0-5, ROM, IOV, bridge windows
        self.resources: list[tuple[int, int, int]] = [] if resources is None else resources
        self.label = label  # firmware label (sysfs `label`)
        self.phys_slot = phys_slot  # hot-plug slot name (sysfs `slots/NAME/address` names this device)

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.FIELDS)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # mutable, so not hashable (as the dataclass it was)

    def __repr__(self) -> str:
        return f"KernelInfo({', '.join(f'{n}={v!r}' for n, v in zip(self.FIELDS, self._values(), strict=True))})"


class Delivery(namedtuple("Delivery", "seq address data function vector via", defaults=(None, None, None))):
    """One MSI/MSI-X message the source saw the device write (a DWORD `data` to `address`): seq (order of
    delivery within the source, from 0), address, data, function (who sent it, when the source can tell),
    vector (the MSI-X entry / MSI vector that produced it, when the source can tell) and via (the delivery
    path that took it, e.g. sim's "emulated" or "irqfd route ...", if known)."""

    __slots__ = ()

    @property
    def warning(self) -> str | None:
        """Why this message interrupted no CPU (x86: an address outside the MSI window), or None."""
        from ..msi.x86 import not_an_interrupt

        return not_an_interrupt(self.address)

    def __repr__(self) -> str:  # addresses and data in hex, as people read them
        who = f" from {self.function}" if self.function is not None else ""
        vec = f" (vector {self.vector})" if self.vector is not None else ""
        warn = f" NOT AN INTERRUPT: {self.warning}" if self.warning else ""
        via = f" via {self.via}" if self.via else ""
        return f"<Delivery #{self.seq}: 0x{self.address:x} ← 0x{self.data:x}{who}{vec}{via}{warn}>"


#: the Source methods that change a device: each backend's own version is wrapped (Source.__init_subclass__)
#: so that the change is announced to the function's observers once it is done, whatever backend it is
CHANGING_METHODS = ("write_config", "write_bar", "trigger")


#: the methods that reach the device: after `close()` they refuse in one line instead of failing deep in
#: a backend (a closed QEMU socket: "[Errno 9] Bad file descriptor")
READING_METHODS = ("read_config", "read_bar", "read_ranges", "act_then_read")


def _announcing(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Source, addr: Address, *args: Any, **kwargs: Any) -> Any:
        self._refuse_if_closed(addr)
        with self.changing():
            result = method(self, addr, *args, **kwargs)
            self._changed_addresses.add(addr)
        return result

    return wrapper


def _open_only(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Source, addr: Address, *args: Any, **kwargs: Any) -> Any:
        self._refuse_if_closed(addr)
        return method(self, addr, *args, **kwargs)

    return wrapper


def _closing(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Source) -> None:
        if self.closed:
            return
        self.closed = True
        method(self)
        for fn in self._functions or ():  # views disable their controls and say why, once
            fn.changed("closed")

    return wrapper


class Source:
    """A place config space and BARs can be read from.  Subclasses override what they support.

    Every change a backend makes to a device (a config or BAR write, a trigger) is announced once to the
    observers of that function (`Function.observe`) when the outermost change is done; `changing()`
    groups several changes, as one verb of a model makes them, into one announcement."""

    kind = "?"
    #: config space writes allowed right now (live hosts need an explicit opt-in)
    writable = False
    #: set by close(): the device can no longer be reached through this source
    closed = False
    _change_depth = 0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for names, wrap in ((CHANGING_METHODS, _announcing), (READING_METHODS, _open_only), (("close",), _closing)):
            for name in names:
                if name in cls.__dict__:
                    setattr(cls, name, wrap(cls.__dict__[name]))

    def _refuse_if_closed(self, addr: Address) -> None:
        if self.closed:
            raise SourceClosed(f"the {self.kind} source was closed: open it again to go on", file=self.name,
                               device=str(addr))

    @contextmanager
    def changing(self) -> Iterator[None]:
        """Changes made inside this block are announced once, when the outermost block ends."""
        if self._change_depth == 0:
            self._changed_addresses: set[Address] = set()
        self._change_depth += 1
        try:
            yield
        finally:
            self._change_depth -= 1
            if self._change_depth == 0 and self._changed_addresses:
                changed, self._changed_addresses = self._changed_addresses, set()
                for fn in self._functions or ():
                    if fn.address in changed:
                        fn.changed("write")

    def __init__(self, name: str) -> None:
        self.name = name
        self._functions: list[Function] | None = None

    # -- what backends implement -------------------------------------------------------------
    def addresses(self) -> list[Address]:
        raise NotImplementedError

    def read_config(self, addr: Address) -> bytes:
        """All config bytes the source can give for `addr` (64, 256, 4096 or any length)."""
        raise NotImplementedError

    def read_config_head(self, addr: Address, length: int) -> bytes:
        """The first `length` config bytes (fewer when the source has fewer), for output that shows only
        the header.  Sources where every dword is a config cycle (the live host) read no more than that."""
        return self.read_config(addr)[:length]

    def write_config(self, addr: Address, offset: int, data: bytes) -> None:
        raise ReadOnlyError(f"{self.kind} source is read-only", file=self.name, device=str(addr))

    def bar_regions(self, addr: Address) -> dict[int, BarRegion] | None:
        """Placement of BARs when the source knows it independently of config space, else None."""
        return None

    def read_bar(self, addr: Address, bar: int, offset: int, size: int) -> bytes:
        raise NotSupported(
            f"{self.kind} source cannot read BAR {bar} contents", file=self.name, device=str(addr)
        )

    def write_bar(self, addr: Address, bar: int, offset: int, data: bytes) -> None:
        raise ReadOnlyError(
            f"{self.kind} source cannot write BAR {bar}", file=self.name, device=str(addr)
        )

    def read_ranges(self, addr: Address, ranges: Sequence[ByteRange]) -> list[bytes]:
        """The bytes of each range, in order.  A config range gives what the source has of it (shorter
        past the end of readable config space).  Sources that talk to a device override this to read
        them all in one exchange (QEMU: one pipelined qtest batch); this one reads config space once."""
        config: bytes | None = None
        out = []
        for r in ranges:
            if r.bar is None:
                if config is None:
                    config = self.read_config(addr)
                out.append(config[r.offset : r.offset + r.size])
            else:
                out.append(self.read_bar(addr, r.bar, r.offset, r.size))
        return out

    def act_then_read(self, addr: Address, action: Callable[[], None], ranges: Sequence[ByteRange]) -> list[bytes]:
        """Run `action`, then read `ranges` as `read_ranges` does: the state the action left.  QEMU puts
        the reads at the end of the action's last exchange instead of a round trip of their own."""
        action()
        return self.read_ranges(addr, ranges)

    def kernel_info(self, addr: Address) -> KernelInfo | None:
        return None

    def read_vpd(self, addr: Address) -> bytes | None:
        """Vital Product Data as the kernel exposes it (sysfs `vpd`); None when the source has none."""
        return None

    # -- interrupts: sources that can make a device raise one, or see the messages it sends ----
    def triggers(self, addr: Address) -> dict[str, str]:
        """Device-side interrupt causes this source can raise for `addr`: name -> description."""
        return {}

    def trigger(self, addr: Address, cause: str) -> None:
        """Make the device itself signal `cause` (a name from `triggers()`), as its hardware would."""
        raise NotSupported(f"{self.kind} source cannot make a device raise interrupts",
                           file=self.name, device=str(addr))

    def deliveries(self) -> list[Delivery] | None:
        """Every message delivered so far, in order; None when the source cannot observe them."""
        return None

    def close(self) -> None:
        pass

    # -- what everyone gets --------------------------------------------------------------------
    @property
    def can_read_bars(self) -> bool:
        return type(self).read_bar is not Source.read_bar

    def functions(self, selector: str | None = None) -> list[Function]:
        if self._functions is None:
            self._functions = self._build_functions()
        fns = list(self._functions)
        if selector:
            sel = Selector(selector)
            fns = [f for f in fns if sel.matches(f.address)]
        return fns

    def function(self, bdf: str | Address) -> Function:
        addr = bdf if isinstance(bdf, Address) else None
        if addr is None:
            text = str(bdf)
            addr = Address.parse(text) if text.count(":") == 2 else None
            if addr is None:
                matches = self.functions(text)
                if len(matches) == 1:
                    return matches[0]
                raise InputError(f"{plural(len(matches), 'function')} match {text!r}", file=self.name)
        for fn in self.functions():
            if fn.address == addr:
                return fn
        raise InputError(f"no function {addr} in this source", file=self.name)

    def _build_functions(self) -> list[Function]:
        from ..model import Function

        return [Function(self, a) for a in sorted(self.addresses())]

    def __iter__(self):
        return iter(self.functions())

    def __len__(self) -> int:
        return len(self.functions())

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        n = len(self._functions) if self._functions is not None else "?"
        count = plural(n, "function") if isinstance(n, int) else f"{n} functions"
        return f"<{type(self).__name__} {self.name!r}: {count}>"
