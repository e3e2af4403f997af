"""Resizable BAR (PCI_EXT_CAP_ID_REBAR, PCIe 6.0 §7.8.6) and VF Resizable BAR (§9.3.7.5).

One capability/control pair per resizable BAR, 8 bytes each from offset 4; the first control
register says how many there are.  Sizes are log2(bytes) - 20: 0 = 1 MB ... 43 = 8 EB.
"""

from __future__ import annotations

from ..base import Layout, Register, bits, layout, reg

PCI_EXT_CAP_ID_REBAR = 0x15
PCI_EXT_CAP_ID_VF_REBAR = 0x24


def _entry(at: int) -> tuple[Register, ...]:
    return (
        reg("PCI_REBAR_CAP", at, 4,
            bits("PCI_REBAR_CAP_SIZES", 4, 31, "supported", None, "Bit n+4: size 2^(n+20) bytes supported"),
            label="Capability"),
        reg("PCI_REBAR_CTRL", at + 4, 4,
            bits("PCI_REBAR_CTRL_BAR_IDX", 0, 2, "BAR", None, "BAR Index this entry controls"),
            bits("PCI_REBAR_CTRL_NBAR_MASK", 5, 7, "", None, "Number of Resizable BARs (first entry only)"),
            bits("PCI_REBAR_CTRL_BAR_SIZE", 8, 13, "current size", None, "BAR Size (log2 bytes - 20)"),
            bits("PCI_REBAR_CTRL_SIZES", 16, 31, "supported", None, "Bit n: size 2^(n+48) bytes supported"),
            label="Control"),
    )


#: One BAR's capability + control pair (at 4 + 8 * n); not a capability, kept out of LAYOUTS.
REBAR_ENTRY = layout("rebar_entry", "Resizable BAR entry", None, *_entry(0))

REBAR = layout("rebar", "Physical Resizable BAR", PCI_EXT_CAP_ID_REBAR, *_entry(4), extended=True,
               doc="BARs whose size software may change; the first entry is declared, the rest repeat it.")
VF_REBAR = layout("vf_rebar", "Virtual Resizable BAR", PCI_EXT_CAP_ID_VF_REBAR, *_entry(4),
                  extended=True, doc="The same structure for the VF BARs of an SR-IOV physical function.")

LAYOUTS: list[Layout] = [REBAR, VF_REBAR]
