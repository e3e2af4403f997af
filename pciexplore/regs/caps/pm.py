"""Power Management capability (PCI_CAP_ID_PM, PCI Bus Power Management Interface 1.2)."""

from __future__ import annotations

from ..base import Layout, bit, bits, layout, reg

PCI_CAP_ID_PM = 0x01

#: PCI_PM_CAP_AUX_POWER: maximum 3.3Vaux current in D3cold, in mA (PM 1.2 §3.2.3)
AUX_CURRENT_MA = {0: "0", 1: "55", 2: "100", 3: "160", 4: "220", 5: "270", 6: "320", 7: "375"}

PM = layout(
    "pm", "Power Management", PCI_CAP_ID_PM,
    reg("PCI_PM_PMC", 0x02, 2,
        bits("PCI_PM_CAP_VER_MASK", 0, 2, "version", {1: "PM 1.0", 2: "PM 1.1", 3: "PM 1.2"},
             "Version of the PM specification the function complies with"),
        bit("PCI_PM_CAP_PME_CLOCK", 3, "PMEClk", "PCI clock needed to generate PME#"),
        bit("PCI_PM_CAP_DSI", 5, "DSI", "Device-specific initialization needed after D0"),
        bits("PCI_PM_CAP_AUX_POWER", 6, 8, "AuxCurrent", AUX_CURRENT_MA, "3.3Vaux current needed in D3cold (mA)"),
        bit("PCI_PM_CAP_D1", 9, "D1", "D1 power state supported"),
        bit("PCI_PM_CAP_D2", 10, "D2", "D2 power state supported"),
        bit("PCI_PM_CAP_PME_D0", 11, "D0", "PME# can be asserted from D0"),
        bit("PCI_PM_CAP_PME_D1", 12, "D1", "PME# can be asserted from D1"),
        bit("PCI_PM_CAP_PME_D2", 13, "D2", "PME# can be asserted from D2"),
        bit("PCI_PM_CAP_PME_D3hot", 14, "D3hot", "PME# can be asserted from D3hot"),
        bit("PCI_PM_CAP_PME_D3cold", 15, "D3cold", "PME# can be asserted from D3cold"),
        label="Flags"),
    reg("PCI_PM_CTRL", 0x04, 2,
        bits("PCI_PM_CTRL_STATE_MASK", 0, 1, "D", {0: "D0", 1: "D1", 2: "D2", 3: "D3hot"},
             "Current power state"),
        bit("PCI_PM_CTRL_NO_SOFT_RESET", 3, "NoSoftRst", "No reset when going D3hot -> D0"),
        bit("PCI_PM_CTRL_PME_ENABLE", 8, "PME-Enable", "PME# generation enabled"),
        bits("PCI_PM_CTRL_DATA_SEL_MASK", 9, 12, "DSel", None, "Which value the Data register shows"),
        bits("PCI_PM_CTRL_DATA_SCALE_MASK", 13, 14, "DScale", None, "Scale of the Data register"),
        bit("PCI_PM_CTRL_PME_STATUS", 15, "PME", "PME# asserted (write 1 to clear)"),
        label="Status"),
    reg("PCI_PM_PPB_EXTENSIONS", 0x06, 1,
        bit("PCI_PM_PPB_B2_B3", 6, "B3", "Bus state when the bridge goes to D3hot: 1 = B2, 0 = B3 (lspci: B3+ when 0)"),
        bit("PCI_PM_BPCC_ENABLE", 7, "PM", "Bus power/clock control enabled"),
        label="Bridge"),
    reg("PCI_PM_DATA_REGISTER", 0x07, 1, label="Data", doc="Power consumed/dissipated, selected by DSel"),
    doc="D-states (D0..D3cold) and PME# wake-up.",
)

LAYOUTS: list[Layout] = [PM]
