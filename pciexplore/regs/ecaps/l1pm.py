"""L1 PM Substates (PCI_EXT_CAP_ID_L1SS, PCIe 6.0 §7.8.3): L1.1/L1.2 support, enables and timing."""

from __future__ import annotations

from ..base import Layout, bit, bits, layout, reg

PCI_EXT_CAP_ID_L1SS = 0x1E

#: T_POWER_ON scale: microseconds per unit (3 is reserved)
POWER_ON_SCALES = {0: "2us", 1: "10us", 2: "100us"}

L1SS = layout(
    "l1ss", "L1 PM Substates", PCI_EXT_CAP_ID_L1SS,
    reg("PCI_L1SS_CAP", 0x04, 4,
        bit("PCI_L1SS_CAP_PCIPM_L1_2", 0, "PCI-PM_L1.2", "PCI-PM L1.2 Supported"),
        bit("PCI_L1SS_CAP_PCIPM_L1_1", 1, "PCI-PM_L1.1", "PCI-PM L1.1 Supported"),
        bit("PCI_L1SS_CAP_ASPM_L1_2", 2, "ASPM_L1.2", "ASPM L1.2 Supported"),
        bit("PCI_L1SS_CAP_ASPM_L1_1", 3, "ASPM_L1.1", "ASPM L1.1 Supported"),
        bit("PCI_L1SS_CAP_L1_PM_SS", 4, "L1_PM_Substates", "L1 PM Substates Supported"),
        bits("PCI_L1SS_CAP_CM_RESTORE_TIME", 8, 15, "PortCommonModeRestoreTime", None, "microseconds"),
        bits("PCI_L1SS_CAP_P_PWR_ON_SCALE", 16, 17, "", POWER_ON_SCALES, "Port T_POWER_ON Scale"),
        bits("PCI_L1SS_CAP_P_PWR_ON_VALUE", 19, 23, "PortTPowerOnTime", None, "Port T_POWER_ON Value"),
        label="L1SubCap"),
    reg("PCI_L1SS_CTL1", 0x08, 4,
        bit("PCI_L1SS_CTL1_PCIPM_L1_2", 0, "PCI-PM_L1.2", "PCI-PM L1.2 Enable"),
        bit("PCI_L1SS_CTL1_PCIPM_L1_1", 1, "PCI-PM_L1.1", "PCI-PM L1.1 Enable"),
        bit("PCI_L1SS_CTL1_ASPM_L1_2", 2, "ASPM_L1.2", "ASPM L1.2 Enable"),
        bit("PCI_L1SS_CTL1_ASPM_L1_1", 3, "ASPM_L1.1", "ASPM L1.1 Enable"),
        bits("PCI_L1SS_CTL1_CM_RESTORE_TIME", 8, 15, "T_CommonMode", None, "Common_Mode_Restore_Time (us)"),
        bits("PCI_L1SS_CTL1_LTR_L12_TH_VALUE", 16, 25, "LTR1.2_Threshold", None, "LTR_L1.2_THRESHOLD_Value"),
        bits("PCI_L1SS_CTL1_LTR_L12_TH_SCALE", 29, 31, "", None, "LTR_L1.2_THRESHOLD_Scale: x 32^scale ns"),
        label="L1SubCtl1"),
    reg("PCI_L1SS_CTL2", 0x0C, 4,
        bits("PCI_L1SS_CTL2_T_PWR_ON_SCALE", 0, 1, "", POWER_ON_SCALES, "T_POWER_ON Scale"),
        bits("PCI_L1SS_CTL2_T_PWR_ON_VALUE", 3, 7, "T_PwrOn", None, "T_POWER_ON Value"),
        label="L1SubCtl2"),
    extended=True,
)

LAYOUTS: list[Layout] = [L1SS]
