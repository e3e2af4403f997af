"""What an MSI/MSI-X address/data pair means to an x86 CPU.

Compatibility format: Intel SDM Vol. 3A §11.11.1-2 ("Message Address Register Format", "Message Data
Register Format").  Remappable format (address bit 4 set): Intel VT-d spec §5.1.5.2 ("Interrupt
Requests in Remappable Format"): the address carries an index into the interrupt remapping table.

Every function here works on Python ints and on numpy integer arrays alike (plain bit arithmetic),
so the same formulas decode one vector for a repr and 2048 vectors for a DataFrame.
"""

from __future__ import annotations

from typing import Any

#: bits 31:20 of every x86 interrupt message address (SDM: "0FEEH")
MSI_ADDR_BASE = 0xFEE
#: data bits 10:8 (SDM Table 11-?: "Delivery Mode"); 011 and 110 are reserved
DELIVERY_MODES = ("fixed", "lowest-priority", "SMI", "reserved", "NMI", "INIT", "reserved", "ExtINT")
TRIGGER_MODES = ("edge", "level")
DEST_MODES = ("physical", "logical")


def is_interrupt_address(address: Any) -> Any:
    """Bits 63:32 zero and 31:20 == 0xFEE: the write goes to the local APICs, not to memory."""
    return ((address >> 20) == MSI_ADDR_BASE)


def not_an_interrupt(address: int) -> str | None:
    """Why a message to `address` interrupts no x86 CPU (None when it does): the chipset turns only writes
    to 0xFEE00000-0xFEEFFFFF into interrupts; any other write is an ordinary memory write (DMA)."""
    if is_interrupt_address(address):
        return None
    if address == 0:
        return "address 0: the entry was never programmed; this is a memory write to 0, no CPU is interrupted"
    return (f"address 0x{address:x} is outside 0xfee00000-0xfeefffff: a memory write, no CPU is interrupted")


def remappable(address: Any) -> Any:
    """Address bit 4, VT-d "Interrupt Format": 1 = remappable (an IRTE index), 0 = compatibility."""
    return (address >> 4) & 1


def fields(address: Any, data: Any) -> dict[str, Any]:
    """Raw numbers of both formats; which ones apply depends on `remappable(address)`."""
    return {
        # compatibility format (SDM)
        "dest_id": (address >> 12) & 0xFF,  # destination APIC ID
        "ext_dest_id": (address >> 5) & 0x7F,  # bits 11:5, used by hypervisors for APIC IDs > 255
        "redirection_hint": (address >> 3) & 1,  # RH
        "dest_mode": (address >> 2) & 1,  # DM: 0 physical, 1 logical
        "apic_vector": data & 0xFF,
        "delivery_mode": (data >> 8) & 7,
        "level": (data >> 14) & 1,  # only meaningful for level-triggered messages
        "trigger_mode": (data >> 15) & 1,  # 0 edge, 1 level
        # remappable format (VT-d): handle[14:0] in bits 19:5, handle[15] in bit 2, SHV in bit 3
        "handle": ((address >> 5) & 0x7FFF) | (((address >> 2) & 1) << 15),
        "shv": (address >> 3) & 1,
        "subhandle": data & 0xFFFF,
    }


def irte_index(address: Any, data: Any) -> Any:
    """VT-d interrupt_index = handle, plus the data's subhandle when SHV (sub-handle valid) is set."""
    f = fields(address, data)
    return f["handle"] + f["shv"] * f["subhandle"]


def describe(address: int, data: int) -> str:
    """One line for people, e.g. "APIC 0 (physical), vector 0x23, fixed, edge"."""
    if not is_interrupt_address(address):
        if address == 0:
            return "not programmed (address 0)"
        return f"not an x86 interrupt address (bits 31:20 = 0x{(address >> 20) & 0xFFF:x}, want 0xfee)"
    if remappable(address):
        f = fields(address, data)
        sub = f", subhandle {f['subhandle']}" if f["shv"] else ""
        return f"remappable: IRTE index {irte_index(address, data)} (handle {f['handle']}{sub})"
    f = fields(address, data)
    rh = ", redirection hint" if f["redirection_hint"] else ""
    # physical mode names one APIC ID; logical mode a set of CPUs (a bit mask in flat mode, cluster and mask
    # in cluster mode: SDM 10.6.2.2), so it is not "APIC n"
    dest = (f"APIC {f['dest_id']} (physical{rh})" if not f["dest_mode"]
            else f"logical destination 0x{f['dest_id']:02x}" + (" (redirection hint)" if rh else ""))
    text = (f"{dest}, vector 0x{f['apic_vector']:02x}, "
            f"{DELIVERY_MODES[f['delivery_mode']]}, {TRIGGER_MODES[f['trigger_mode']]}")
    if f["trigger_mode"]:
        text += ", assert" if f["level"] else ", deassert"
    return text


def message(apic_id: int = 0, vector: int = 0x20, *, logical: bool = False, redirection_hint: bool = False,
            delivery_mode: int = 0, level_triggered: bool = False) -> tuple[int, int]:
    """The (address, data) a Linux-like driver would program for a fixed interrupt to `apic_id`."""
    if not 0 <= apic_id <= 0xFF or not 0 <= vector <= 0xFF or not 0 <= delivery_mode <= 7:
        raise ValueError("apic_id and vector are 0..255, delivery_mode 0..7")
    address = (MSI_ADDR_BASE << 20) | (apic_id << 12) | (int(redirection_hint) << 3) | (int(logical) << 2)
    data = vector | (delivery_mode << 8) | (int(level_triggered) << 15) | (int(level_triggered) << 14)
    return address, data


def columns(address: Any, data: Any) -> dict[str, Any]:
    """DataFrame columns for numpy arrays of addresses and data: the format, then the fields of
    that format (missing values where a field does not apply)."""
    import numpy as np
    import pandas as pd

    f = fields(address, data)
    is_irq = is_interrupt_address(address)
    remap = is_irq & (remappable(address) == 1)
    compat = is_irq & ~remap

    def only(values: Any, where: Any) -> Any:
        arr = pd.array(np.asarray(values, dtype=np.int64), dtype="Int64")
        arr[~where] = pd.NA
        return arr

    def named(names: tuple[str, ...], values: Any) -> Any:
        return np.where(compat, np.array(names, dtype=object)[values], None)

    return {
        "format": np.where(remap, "remappable", np.where(compat, "compatibility", "not x86 interrupt")),
        "dest_id": only(f["dest_id"], compat),
        "dest_mode": named(DEST_MODES, f["dest_mode"]),
        "redirection_hint": only(f["redirection_hint"], compat),
        "apic_vector": only(f["apic_vector"], compat),
        "delivery_mode": named(DELIVERY_MODES, f["delivery_mode"]),
        "trigger_mode": named(TRIGGER_MODES, f["trigger_mode"]),
        "level": only(f["level"], compat),
        "irte_index": only(f["handle"] + f["shv"] * f["subhandle"], remap),
    }
