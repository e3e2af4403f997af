"""PCI-X (PCI_CAP_ID_PCIX, PCI-X 2.0 §7.2): the device form (type 0 header) and the bridge form
(type 1 header) share the id; each register says which form it belongs to with `when`."""

from __future__ import annotations

from ..base import Layout, bit, bits, layout, reg

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module
if TYPE_CHECKING:
    from typing import Any

PCI_CAP_ID_PCIX = 0x07

#: Maximum outstanding split transactions, encoded
MAX_SPLIT = {0: "1", 1: "2", 2: "3", 3: "4", 4: "8", 5: "12", 6: "16", 7: "32"}
#: Memory read byte count, encoded (512 << n)
READ_BYTES = {n: str(512 << n) for n in range(4)}
#: Secondary bus clock frequency (lspci's words for the PCI-X 1.0 encodings)
SEC_FREQ = {0: "conv", 1: "66MHz", 2: "100MHz", 3: "133MHz"}


def is_bridge(block: Any) -> bool:
    """The bridge form of the capability (in a type 1 header)."""
    return block.function.header_type == 1


def is_device(block: Any) -> bool:
    """The device form of the capability (in a type 0 header)."""
    return block.function.header_type == 0


#: Status fields the device and the bridge (primary interface) forms share
_STATUS_COMMON = (
    bits("PCI_X_STATUS_DEVFN", 0, 7, "devfn", None, "Device and function number (captured), as PCI_DEVFN"),
    bits("PCI_X_STATUS_BUS", 8, 15, "bus", None, "Bus number (captured)"),
    bit("PCI_X_STATUS_64BIT", 16, "64bit", "64-bit device (bridge: primary interface)"),
    bit("PCI_X_STATUS_133MHZ", 17, "133MHz", "133 MHz capable"),
    bit("PCI_X_STATUS_SPL_DISC", 18, "SCD", "Split completion discarded"),
    bit("PCI_X_STATUS_UNX_SPL", 19, "USC", "Unexpected split completion"),
)
#: Upstream and downstream split transaction control
_SPLIT_CTRL = (
    bits("PCI_X_BRIDGE_STR_CAPACITY", 0, 15, "Capacity", None, "Split transaction capacity (ADQs)"),
    bits("PCI_X_BRIDGE_STR_COMMITMENT_LIMIT", 16, 31, "CommitmentLimit", None, "Split transaction commitment limit"),
)


def _has_ecc(block: Any) -> bool:
    return is_device(block) and bool(block.get("PCI_X_CMD", "PCI_X_CMD_VERSION"))


PCIX = layout(
    "pcix", "PCI-X", PCI_CAP_ID_PCIX,
    reg("PCI_X_CMD", 0x02, 2,
        bit("PCI_X_CMD_DPERR_E", 0, "DPERE", "Data parity error recovery enable"),
        bit("PCI_X_CMD_ERO", 1, "ERO", "Enable relaxed ordering"),
        bits("PCI_X_CMD_MAX_READ", 2, 3, "RBC", READ_BYTES, "Maximum memory read byte count"),
        bits("PCI_X_CMD_MAX_SPLIT", 4, 6, "OST", MAX_SPLIT, "Maximum outstanding split transactions"),
        bits("PCI_X_CMD_VERSION", 12, 13, "version", None, "Capability version"),
        label="Command", when=is_device),
    reg("PCI_X_STATUS", 0x04, 4,
        *_STATUS_COMMON,
        bit("PCI_X_STATUS_COMPLEX", 20, "DC", "Device complexity: 0 simple, 1 bridge"),
        bits("PCI_X_STATUS_MAX_READ", 21, 22, "DMMRBC", READ_BYTES, "Designed max memory read byte count"),
        bits("PCI_X_STATUS_MAX_SPLIT", 23, 25, "DMOST", MAX_SPLIT, "Designed max outstanding split transactions"),
        bits("PCI_X_STATUS_MAX_CUM", 26, 28, "DMCRS", {n: str(8 << n) for n in range(8)},
             "Designed max cumulative read size"),
        bit("PCI_X_STATUS_SPL_ERR", 29, "RSCEM", "Received split completion error message"),
        bit("PCI_X_STATUS_266MHZ", 30, "266MHz", "266 MHz capable"),
        bit("PCI_X_STATUS_533MHZ", 31, "533MHz", "533 MHz capable"),
        label="Status", when=is_device),
    reg("PCI_X_ECC_CSR", 0x08, 4, label="ECC", when=_has_ecc,
        doc="ECC control and status (capability version 1 and 2 only)"),
    reg("PCI_X_BRIDGE_SSTATUS", 0x02, 2,
        bit("PCI_X_SSTATUS_64BIT", 0, "64bit", "Secondary bus is 64 bits wide"),
        bit("PCI_X_SSTATUS_133MHZ", 1, "133MHz", "Secondary bus 133 MHz capable"),
        bit("PCI_X_SSTATUS_SPL_DISC", 2, "SCD", "Split completion discarded"),
        bit("PCI_X_SSTATUS_UNX_SPL", 3, "USC", "Unexpected split completion"),
        bit("PCI_X_SSTATUS_SPL_OVRN", 4, "SCO", "Split completion overrun"),
        bit("PCI_X_SSTATUS_SPL_DLY", 5, "SRD", "Split request delayed"),
        bits("PCI_X_SSTATUS_FREQ", 6, 9, "Freq", SEC_FREQ,
             "Secondary bus mode and frequency (lspci 3.9 shows bits 8:6 only, as ?4..?7 above 3)"),
        bits("PCI_X_SSTATUS_VERS", 12, 13, "version", None, "PCI-X capability version"),
        bit("PCI_X_SSTATUS_266MHZ", 14, "266MHz", "266 MHz capable"),
        bit("PCI_X_SSTATUS_533MHZ", 15, "533MHz", "533 MHz capable"),
        label="Secondary Status", when=is_bridge),
    reg("PCI_X_BRIDGE_STATUS", 0x04, 4,
        *_STATUS_COMMON,
        bit("PCI_X_STATUS_SPL_OVRN", 20, "SCO", "Split completion overrun"),
        bit("PCI_X_STATUS_SPL_DLY", 21, "SRD", "Split request delayed"),
        label="Status", when=is_bridge),
    reg("PCI_X_BRIDGE_UPSTREAM_STC", 0x08, 4,
        *_SPLIT_CTRL,
        label="Upstream", when=is_bridge,
        doc="Upstream split transaction control (pciutils: PCI_PCIX_BRIDGE_UPSTREAM_SPLIT_TRANS_CTRL)"),
    reg("PCI_X_BRIDGE_DOWNSTREAM_STC", 0x0C, 4,
        *_SPLIT_CTRL,
        label="Downstream", when=is_bridge,
        doc="Downstream split transaction control (pciutils: PCI_PCIX_BRIDGE_DOWNSTREAM_SPLIT_TRANS_CTRL)"),
    doc="PCI-X device or bridge; a PCI-X 2.0 function may also have extended config space.",
)

LAYOUTS: list[Layout] = [PCIX]
