"""The interrupt doctor: find the forgotten step in a function's MSI/MSI-X set-up.

Each check reads the decoded model (config registers through their declarations, the MSI-X table and
PBA through `fn.msix`) and returns findings that name the rule, where it is (device, register or
vector, offset) and what to do.  A healthy set-up gives no finding.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from .errors import PciError

if TYPE_CHECKING:
    from .model import Capability, Function
    from .sources.base import Source

X86_MSI_BASE, X86_MSI_LIMIT = 0xFEE00000, 0xFEEFFFFF  # Intel SDM vol. 3 §11.11.1: the MSI address window


@dataclass(frozen=True)
class Finding:
    check: str  # stable id, e.g. "msix_function_masked"
    severity: str  # "error": interrupts cannot work; "warning": some cannot / suspicious; "info"
    device: str
    where: str  # register or vector, for people: "PCI_MSIX_FLAGS_MASKALL (0x9a)", "MSI-X entry 3"
    message: str
    rule: str  # what the specification says
    fix: str  # what to do
    offset: int | None = None  # config offset (or BAR offset for table entries)
    vector: int | None = None

    def __str__(self) -> str:
        return f"{self.device} {self.severity}: {self.message} [{self.where}]"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Facts:
    """What the checks ask of one function, read once."""

    def __init__(self, fn: Function, x86: bool = True) -> None:
        self.fn = fn
        self.x86 = x86
        self.device = str(fn.address)
        self.command = fn.header.get("PCI_COMMAND") or 0
        self.msi: Capability | None = fn.cap("msi")
        self.msix: Capability | None = fn.cap("msix")
        self.msi_on = bool(self.msi and self.msi.get("PCI_MSI_FLAGS", "PCI_MSI_FLAGS_ENABLE"))
        self.msix_on = bool(self.msix and self.msix.get("PCI_MSIX_FLAGS", "PCI_MSIX_FLAGS_ENABLE"))
        self.msix_masked = bool(self.msix and self.msix.get("PCI_MSIX_FLAGS", "PCI_MSIX_FLAGS_MASKALL"))
        self.pin = fn.read(0x3D, 1) if fn.header_type in (0, 1) else None

    def msi_address(self) -> int:
        """The MSI message address as the MSI model reads it (0 when the capability is cut short)."""
        try:
            return self.fn.msi.regs().address
        except PciError:
            return 0

    def command_bit(self, name: str) -> bool:
        return bool(self.fn.header["PCI_COMMAND"][name])

    def where(self, block, reg: str, field: str | None = None) -> tuple[str, int]:
        rv = block[reg]
        return f"{field or reg} ({rv.offset:#x})", rv.offset

    def vectors(self):
        """The MSI-X model's view of the table, or None when the table cannot be read."""
        if not self.msix:
            return None
        try:
            model = self.fn.msix
            return model.entries if model is not None else None
        except PciError:
            return None


Check = Callable[[_Facts], Iterable[Finding]]
CHECKS: list[Check] = []


def check(fn: Check) -> Check:
    CHECKS.append(fn)
    return fn


@check
def msix_function_masked(f: _Facts) -> Iterator[Finding]:
    if f.msix_on and f.msix_masked:
        where, off = f.where(f.msix, "PCI_MSIX_FLAGS", "PCI_MSIX_FLAGS_MASKALL")
        yield Finding(
            "msix_function_masked", "error", f.device, where,
            "MSI-X is enabled but the Function Mask is still set: no vector can send a message",
            "PCIe Base 6.0 §7.7.2.2: while Function Mask is set, the function must not send MSI-X messages; "
            "events set Pending bits instead",
            "clear PCI_MSIX_FLAGS_MASKALL after programming the table (Linux: pci_msix_clear_and_set_ctrl)",
            offset=off)


@check
def msi_and_msix_both_enabled(f: _Facts) -> Iterator[Finding]:
    if f.msi_on and f.msix_on:
        where, off = f.where(f.msi, "PCI_MSI_FLAGS", "PCI_MSI_FLAGS_ENABLE")
        yield Finding(
            "msi_and_msix_enabled", "error", f.device, where,
            "MSI and MSI-X are both enabled",
            "PCIe Base 6.0 §6.1.4: software must not enable MSI and MSI-X at the same time; the result is "
            "undefined",
            "disable MSI (PCI_MSI_FLAGS_ENABLE) before enabling MSI-X", offset=off)


@dataclass(frozen=True)
class CommandRule:
    """A PCI_COMMAND bit that an enabled MSI (when `msi_too`) or MSI-X needs set."""

    field: str
    check: str
    severity: str
    message: str  # "{kind}" becomes "MSI" or "MSI-X"
    rule: str
    fix: str
    msi_too: bool = True
    needs_pin: bool = False  # only for functions with an INTx pin (VFs hardwire INTx Disable to 0)


COMMAND_RULES = (
    CommandRule(
        "PCI_COMMAND_INTX_DISABLE", "intx_not_disabled", "info",
        "{kind} is enabled while INTx Disable is clear",
        "PCIe Base 6.0 §6.1.4.3: a function using MSI/MSI-X must not assert INTx; drivers set "
        "Interrupt Disable so a device that gets this wrong cannot raise a shared legacy IRQ",
        "set PCI_COMMAND_INTX_DISABLE (Linux does this in pci_intx(dev, 0))", needs_pin=True),
    CommandRule(
        "PCI_COMMAND_MASTER", "bus_master_off", "error",
        "{kind} is enabled but Bus Master is off: the device cannot send a message at all",
        "PCIe Base 6.0 §7.5.1.1.3: with Bus Master Enable clear a function must not issue memory writes, "
        "and an MSI/MSI-X message is a memory write",
        "set PCI_COMMAND_MASTER (Linux: pci_set_master)"),
    CommandRule(
        "PCI_COMMAND_MEMORY", "memory_space_off", "error",
        "{kind} is enabled but Memory Space is off: the MSI-X table and PBA in the BAR are not reachable",
        "PCIe Base 6.0 §7.5.1.1.3: with Memory Space Enable clear the function does not respond to "
        "memory requests, so software cannot program or read the table",
        "set PCI_COMMAND_MEMORY (Linux: pci_enable_device_mem)", msi_too=False),
)


@check
def command_register(f: _Facts) -> Iterator[Finding]:
    kind = "MSI-X" if f.msix_on else "MSI"
    for r in COMMAND_RULES:
        enabled = f.msix_on or (r.msi_too and f.msi_on)
        if enabled and (f.pin or not r.needs_pin) and not f.command_bit(r.field):
            where, off = f.where(f.fn.header, "PCI_COMMAND", r.field)
            yield Finding(r.check, r.severity, f.device, where, r.message.format(kind=kind), r.rule, r.fix,
                          offset=off)


@check
def no_interrupt_path(f: _Facts) -> Iterator[Finding]:
    if f.pin == 0 and (f.msi or f.msix) and not (f.msi_on or f.msix_on) and f.command_bit("PCI_COMMAND_MASTER"):
        kinds = " and ".join(k for k, c in (("MSI", f.msi), ("MSI-X", f.msix)) if c)
        yield Finding(
            "no_interrupt_path", "warning", f.device, "PCI_INTERRUPT_PIN (0x3d)",
            f"a driver set Bus Master but the function has no INTx pin and {kinds} is not enabled: "
            "it cannot interrupt at all",
            "PCI 3.0 §6.2.4: Interrupt Pin 0 means the function uses no INTx; only MSI/MSI-X remain",
            f"enable {'MSI-X' if f.msix else 'MSI'} in the driver (this is the cloud-hypervisor case: "
            "MSI-X only)", offset=0x3D)


@check
def msi_address_outside_window(f: _Facts) -> Iterator[Finding]:
    if not f.msi_on or not f.x86:
        return
    address = f.msi_address()
    if not X86_MSI_BASE <= address <= X86_MSI_LIMIT:
        where, off = f.where(f.msi, "PCI_MSI_ADDRESS_LO")
        yield Finding(
            "msi_address", "error", f.device, where,
            f"MSI is enabled with message address {address:#x}, outside the x86 MSI window "
            "0xfee00000-0xfeefffff" + (" (zero: never programmed)" if address == 0 else ""),
            "Intel SDM vol. 3 §11.11.1: interrupt messages are writes to 0xFEExxxxx; anything else is "
            "an ordinary memory write that raises no interrupt",
            "program PCI_MSI_ADDRESS_LO/HI before setting PCI_MSI_FLAGS_ENABLE", offset=off)


@check
def messages_that_interrupted_nothing(f: _Facts) -> Iterator[Finding]:
    """Messages the source saw the function send (sim, QEMU) to an address no x86 CPU listens on."""
    if not f.x86:
        return
    from .msi.common import function_deliveries

    wrong = [d for d in function_deliveries(f.fn) or () if d.warning]
    if not wrong:
        return
    vectors = sorted({d.vector for d in wrong if d.vector is not None})
    first = wrong[0]
    yield Finding(
        "message_not_interrupt", "error", f.device, "deliveries",
        f"{len(wrong)} message{'s' if len(wrong) > 1 else ''} sent (vector{'s' if len(vectors) > 1 else ''} "
        f"{', '.join(map(str, vectors)) or '?'}) went to an address that interrupts no CPU; the first: "
        f"0x{first.address:x} <- 0x{first.data:x}: {first.warning}",
        "Intel SDM vol. 3 §11.11.1: interrupt messages are writes to 0xFEExxxxx; anything else is "
        "an ordinary memory write that raises no interrupt",
        "program the entry's address and data (or MSI's) before unmasking or enabling it",
        vector=vectors[0] if vectors else None)


def _table_findings(f: _Facts) -> Iterator[Finding]:
    """Checks over the MSI-X table and PBA (when the source can read them)."""
    entries = f.vectors()
    if entries is None:
        return
    table = f.fn.msix.regs()
    active = f.msix_on and not f.msix_masked
    seen: dict[tuple[int, int], int] = {}
    for e in entries:
        where = f"MSI-X entry {e.vector}"
        if f.msix_on and e.entry_masked and e.address and X86_MSI_BASE <= e.address <= X86_MSI_LIMIT:
            yield Finding(
                "vector_masked", "warning", f.device, where,
                f"vector {e.vector} is programmed (address {e.address:#x}, data {e.data:#x}) but still masked: "
                "its events only set the pending bit",
                "PCIe Base 6.0 §6.1.4.2: a masked vector must not send; events set its Pending bit",
                "clear PCI_MSIX_ENTRY_CTRL_MASKBIT once the entry is programmed (Linux: pci_msix_unmask)",
                offset=table.table_offset + 16 * e.vector, vector=e.vector)
        if active and e.pending and not e.entry_masked:
            yield Finding(
                "lost_interrupt", "error", f.device, where,
                f"vector {e.vector} is unmasked but its pending bit is set: the message was not delivered",
                "PCIe Base 6.0 §6.1.4.5: when a pending vector is unmasked the function sends the message and "
                "clears the Pending bit; a bit that stays set means the message could not be sent",
                "check Bus Master and the entry's address; re-trigger the cause or mask and unmask the vector",
                offset=table.table_offset + 16 * e.vector, vector=e.vector)
        if active and not e.entry_masked:
            if f.x86 and not X86_MSI_BASE <= e.address <= X86_MSI_LIMIT:
                yield Finding(
                    "msix_address", "error", f.device, where,
                    f"unmasked vector {e.vector} has address {e.address:#x}, outside the x86 MSI window "
                    "0xfee00000-0xfeefffff" + (" (zero: never programmed)" if e.address == 0 else ""),
                    "Intel SDM vol. 3 §11.11.1: interrupt messages are writes to 0xFEExxxxx",
                    "program the entry's address and data before unmasking it", offset=table.table_offset + 16 * e.vector, vector=e.vector)
            elif (e.address, e.data) in seen:
                yield Finding(
                    "duplicate_message", "warning", f.device, where,
                    f"vectors {seen[(e.address, e.data)]} and {e.vector} send the same message "
                    f"({e.address:#x} <- {e.data:#x}): the CPU cannot tell them apart",
                    "each vector should carry its own address/data so its handler can be found",
                    "give every vector its own data (x86: its own IDT vector)", offset=table.table_offset + 16 * e.vector, vector=e.vector)
            else:
                seen[(e.address, e.data)] = e.vector


#: the MSI-X model's own checks that are about where the table and PBA are (the doctor has its own,
#: MSI-aware, checks of the Command register)
PLACEMENT_KINDS = ("reserved_bir", "bar_unimplemented", "io_bar", "outside_bar", "overlap")


def _placement_findings(f: _Facts) -> Iterator[Finding]:
    if not f.msix:
        return
    try:
        model = f.fn.msix
        problems = [c for c in model.checks(refresh=False) if c.kind in PLACEMENT_KINDS] if model is not None else []
    except PciError:
        return
    for p in problems:
        yield Finding(
            "msix_placement", "error", f.device, "PCI_MSIX_TABLE / PCI_MSIX_PBA", p.message,
            "PCIe Base 6.0 §7.7.2: the table and PBA must lie inside a memory BAR the function implements, "
            "and must not overlap",
            "fix the device's capability or the BAR sizing (a device or firmware bug)",
            offset=f.msix.offset + 4)


def _kernel_view_findings(f: _Facts) -> Iterator[Finding]:
    from .health import findings  # link, AER and DPC checks, and the interrupt path, in their own modules
    from .msi import path

    yield from findings(f.fn)
    yield from path.findings(f.fn)


def _virtio_findings(f: _Facts) -> Iterator[Finding]:
    from .virtio.doctor import findings  # the virtio rules live with the virtio model

    return findings(f)


CHECKS += [_table_findings, _placement_findings, _kernel_view_findings, _virtio_findings]


#: what the doctor says of a function whose header cannot be decoded (decode.header_problem's kinds)
SILENT = {
    "no_answer": ("error", "config space (0x000)",
                  "the function does not answer: all 0xFF",
                  "PCI 3.0 §6.1: a read of a function that does not exist returns all ones (Vendor ID 0xffff "
                  "is invalid); a device that was there and now reads so has been unplugged, reset or has died",
                  "check that the device is present and powered (lspci shows 'Unknown header type 7f'); after "
                  "a surprise removal or a failed reset, rescan or reset the slot"),
    "unknown_header": ("warning", "PCI_HEADER_TYPE (0xe)",
                       "Unknown header type: its interrupt set-up cannot be read",
                       "PCI 3.0 §6.2.1 and PCIe Base 6.0 §7.5.1.1.9: header types 0 (normal), 1 (bridge) and "
                       "2 (CardBus) are defined; lspci shows no more than the first 16 bytes of others",
                       "read config space again: a device in reset or a broken read returns such a value"),
}


def _silent(fn: Function) -> Finding | None:
    """One finding for a function whose header cannot be decoded, which no other check can look at."""
    for p in fn.problems:
        if p.kind in SILENT:
            severity, where, message, rule, fix = SILENT[p.kind]
            if p.kind == "unknown_header":
                message = f"Unknown header type {fn.header_type:02x}: its interrupt set-up cannot be read"
            return Finding(p.kind, severity, str(fn.address), where, message, rule, fix, offset=p.offset)
    return None


def is_x86(source: Source) -> bool:
    """Whether the address checks (the x86 MSI window) apply: simulated and QEMU q35 devices and an x86
    live host are x86; for dumps and captures the enabled MSI addresses tell (a PowerPC host's MSI
    address is an ordinary register of its interrupt controller)."""
    if source.kind in ("sim", "qemu"):
        return True
    if source.kind == "sysfs" and getattr(source, "is_live_host", False):
        return platform.machine() in ("x86_64", "i386", "i686")
    inside = outside = 0
    for fn in source.functions():
        if _silent(fn) is not None:
            continue
        f = _Facts(fn)
        if f.msi_on:
            if X86_MSI_BASE <= f.msi_address() <= X86_MSI_LIMIT:
                inside += 1
            else:
                outside += 1
    return not (outside and not inside)


def diagnose_function(fn: Function, x86: bool = True) -> list[Finding]:
    silent = _silent(fn)
    if silent is not None:
        return [silent]
    f = _Facts(fn, x86)
    out: list[Finding] = []
    for c in CHECKS:
        out.extend(c(f))
    return out


def diagnose(source: Source, selector: str | None = None) -> list[Finding]:
    x86 = is_x86(source)
    out: list[Finding] = []
    for fn in source.functions(selector):
        out.extend(diagnose_function(fn, x86))
    return out


def findings_frame(findings: list[Finding]):
    """Findings as a pandas DataFrame, one row each."""
    import pandas as pd

    cols = list(Finding.__dataclass_fields__)
    return pd.DataFrame([x.to_dict() for x in findings], columns=cols)
