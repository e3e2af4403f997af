"""virtio over PCI: the structures the vendor capabilities point to, declared like the PCI ones.

Names are Linux's (`include/uapi/linux/virtio_pci.h`, `virtio_config.h`, `virtio_net.h`, ...): the
register names are the `VIRTIO_PCI_COMMON_*` offsets, `label` is the field of `struct
virtio_pci_common_cfg` (what the virtio spec calls it and what our JSON uses).  Spec sections are
virtio 1.2's (§4.1 Virtio Over PCI Bus).  These structures live in a BAR (or behind the PCI_CFG access
capability), not in config space: they are not capabilities and are kept out of the registry.
"""

from __future__ import annotations

from .base import Layout, bit, layout, reg

# cfg_type of struct virtio_pci_cap (§4.1.4)
VIRTIO_PCI_CAP_COMMON_CFG = 1
VIRTIO_PCI_CAP_NOTIFY_CFG = 2
VIRTIO_PCI_CAP_ISR_CFG = 3
VIRTIO_PCI_CAP_DEVICE_CFG = 4
VIRTIO_PCI_CAP_PCI_CFG = 5
VIRTIO_PCI_CAP_SHARED_MEMORY_CFG = 8
VIRTIO_PCI_CAP_VENDOR_CFG = 9

VIRTIO_MSI_NO_VECTOR = 0xFFFF  # §4.1.5.1.2: "no vector", and what a device answers when it refused one
VIRTIO_PCI_ISR_QUEUE = 0x1  # §4.1.4.5: ISR bit 0, a queue interrupt
VIRTIO_PCI_ISR_CONFIG = 0x2  # ISR bit 1, a configuration change

# device_status bits (§2.1, virtio_config.h)
VIRTIO_CONFIG_S_ACKNOWLEDGE = 0x01
VIRTIO_CONFIG_S_DRIVER = 0x02
VIRTIO_CONFIG_S_DRIVER_OK = 0x04
VIRTIO_CONFIG_S_FEATURES_OK = 0x08
VIRTIO_CONFIG_S_NEEDS_RESET = 0x40
VIRTIO_CONFIG_S_FAILED = 0x80

_STATUS_FIELDS = (
    bit("VIRTIO_CONFIG_S_ACKNOWLEDGE", 0, "ACKNOWLEDGE", "the guest has noticed the device"),
    bit("VIRTIO_CONFIG_S_DRIVER", 1, "DRIVER", "the guest knows how to drive it"),
    bit("VIRTIO_CONFIG_S_DRIVER_OK", 2, "DRIVER_OK", "the driver is set up and ready to drive the device"),
    bit("VIRTIO_CONFIG_S_FEATURES_OK", 3, "FEATURES_OK", "feature negotiation is complete"),
    bit("VIRTIO_CONFIG_S_NEEDS_RESET", 6, "DEVICE_NEEDS_RESET", "the device hit an error it cannot recover from"),
    bit("VIRTIO_CONFIG_S_FAILED", 7, "FAILED", "the guest gave up on the device"),
)

_VECTOR_DOC = ("MSI-X table entry this event is signalled on, VIRTIO_MSI_NO_VECTOR (0xffff) for none; "
               "a device that refuses a vector reads back NO_VECTOR (§4.1.5.1.2)")

#: struct virtio_pci_common_cfg, the device-wide part (§4.1.4.3)
COMMON = layout(
    "virtio_common", "virtio common configuration", None,
    reg("VIRTIO_PCI_COMMON_DFSELECT", 0x00, 4, label="device_feature_select",
        doc="which 32 bits of the device features device_feature shows (0: bits 0-31, 1: 32-63)"),
    reg("VIRTIO_PCI_COMMON_DF", 0x04, 4, label="device_feature", doc="the features the device offers (read-only)"),
    reg("VIRTIO_PCI_COMMON_GFSELECT", 0x08, 4, label="driver_feature_select",
        doc="which 32 bits of the driver features driver_feature shows"),
    reg("VIRTIO_PCI_COMMON_GF", 0x0C, 4, label="driver_feature", doc="the features the driver accepted"),
    reg("VIRTIO_PCI_COMMON_MSIX", 0x10, 2, label="msix_config",
        doc="configuration-change vector: " + _VECTOR_DOC),
    reg("VIRTIO_PCI_COMMON_NUMQ", 0x12, 2, label="num_queues", doc="number of virtqueues the device has"),
    reg("VIRTIO_PCI_COMMON_STATUS", 0x14, 1, *_STATUS_FIELDS, label="device_status",
        doc="driver progress (§3.1.1); writing 0 resets the device, which unbinds every vector"),
    reg("VIRTIO_PCI_COMMON_CFGGENERATION", 0x15, 1, label="config_generation",
        doc="changes whenever the device configuration changes (§4.1.4.3.1)"),
    reg("VIRTIO_PCI_COMMON_Q_SELECT", 0x16, 2, label="queue_select",
        doc="the queue the queue_* registers below refer to"),
    doc="virtio 1.2 §4.1.4.3: features, vectors, status; per-queue registers through queue_select",
)

#: the per-queue part of struct virtio_pci_common_cfg: what it shows is the queue queue_select names
QUEUE = layout(
    "virtio_queue", "virtio queue configuration", None,
    reg("VIRTIO_PCI_COMMON_Q_SIZE", 0x18, 2, label="queue_size",
        doc="entries in the queue (the device's maximum on reset; 0: the queue does not exist)"),
    reg("VIRTIO_PCI_COMMON_Q_MSIX", 0x1A, 2, label="queue_msix_vector", doc="queue vector: " + _VECTOR_DOC),
    reg("VIRTIO_PCI_COMMON_Q_ENABLE", 0x1C, 2, label="queue_enable", doc="1 once the driver enabled the queue"),
    reg("VIRTIO_PCI_COMMON_Q_NOFF", 0x1E, 2, label="queue_notify_off",
        doc="notify address = notify cap offset + queue_notify_off * notify_off_multiplier"),
    reg("VIRTIO_PCI_COMMON_Q_DESCLO", 0x20, 8, label="queue_desc", doc="guest-physical address of the descriptor area"),
    reg("VIRTIO_PCI_COMMON_Q_AVAILLO", 0x28, 8, label="queue_driver",
        doc="guest-physical address of the driver area (available ring)"),
    reg("VIRTIO_PCI_COMMON_Q_USEDLO", 0x30, 8, label="queue_device",
        doc="guest-physical address of the device area (used ring)"),
    doc="virtio 1.2 §4.1.4.3; the 64-bit addresses are lo/hi DWORD pairs (VIRTIO_PCI_COMMON_Q_*LO/HI)",
)

#: the legacy interface in I/O BAR 0 of legacy and transitional devices (§4.1.4.10, Linux virtio_pci.h's
#: "legacy" part).  The two vector registers exist only while MSI-X is enabled; the device-specific
#: configuration starts after them then (VIRTIO_PCI_CONFIG_OFF(msix_enabled): 24), else at 20.
LEGACY = layout(
    "virtio_legacy", "virtio legacy interface", None,
    reg("VIRTIO_PCI_HOST_FEATURES", 0x00, 4, label="device_features", doc="device feature bits 0-31"),
    reg("VIRTIO_PCI_GUEST_FEATURES", 0x04, 4, label="driver_features", doc="driver feature bits 0-31"),
    reg("VIRTIO_PCI_QUEUE_PFN", 0x08, 4, label="queue_address", doc="selected queue's address >> 12"),
    reg("VIRTIO_PCI_QUEUE_NUM", 0x0C, 2, label="queue_size", doc="selected queue's size (read-only)"),
    reg("VIRTIO_PCI_QUEUE_SEL", 0x0E, 2, label="queue_select"),
    reg("VIRTIO_PCI_QUEUE_NOTIFY", 0x10, 2, label="queue_notify"),
    reg("VIRTIO_PCI_STATUS", 0x12, 1, *_STATUS_FIELDS, label="device_status"),
    reg("VIRTIO_PCI_ISR", 0x13, 1, label="isr_status", doc="reading it clears it and deasserts INTx"),
    reg("VIRTIO_MSI_CONFIG_VECTOR", 0x14, 2, label="config_msix_vector", doc="only while MSI-X is enabled"),
    reg("VIRTIO_MSI_QUEUE_VECTOR", 0x16, 2, label="queue_msix_vector", doc="only while MSI-X is enabled"),
    doc="virtio 1.2 §4.1.4.10",
)
LEGACY_CONFIG_OFF = {False: 0x14, True: 0x18}  # VIRTIO_PCI_CONFIG_OFF(msix_enabled)
LEGACY_MSIX_REGS = ("VIRTIO_MSI_CONFIG_VECTOR", "VIRTIO_MSI_QUEUE_VECTOR")

ISR = layout("virtio_isr", "virtio ISR status", None,
             reg("VIRTIO_PCI_ISR", 0x00, 1, bit("VIRTIO_PCI_ISR_QUEUE", 0, "queue"),
                 bit("VIRTIO_PCI_ISR_CONFIG", 1, "config"), label="isr_status",
                 doc="§4.1.4.5: reading it clears it (and deasserts INTx)"))

# -- device types (§5) and their PCI device ids (§4.1.2) --------------------------------------------
DEVICE_TYPES = {1: "net", 2: "block", 3: "console", 4: "entropy", 5: "memory balloon", 8: "scsi host",
                9: "9p transport", 16: "gpu", 18: "input", 19: "socket", 26: "file system"}
VIRTIO_ID_NET, VIRTIO_ID_BLOCK, VIRTIO_ID_CONSOLE, VIRTIO_ID_RNG, VIRTIO_ID_BALLOON, VIRTIO_ID_SCSI = 1, 2, 3, 4, 5, 8
#: transitional device ids 0x1000-0x103f name their type by the PCI Subsystem ID; these are QEMU's
TRANSITIONAL_IDS = {0x1000: 1, 0x1001: 2, 0x1002: 5, 0x1003: 3, 0x1004: 8, 0x1005: 4, 0x1009: 9}
MODERN_BASE = 0x1040  # modern device id = 0x1040 + virtio device type

# -- feature bits (§6 reserved bits and each device's §5.x.3), Linux uapi names ---------------------
TRANSPORT_FEATURES = {
    24: "VIRTIO_F_NOTIFY_ON_EMPTY", 27: "VIRTIO_F_ANY_LAYOUT", 28: "VIRTIO_RING_F_INDIRECT_DESC",
    29: "VIRTIO_RING_F_EVENT_IDX", 30: "VIRTIO_F_BAD_FEATURE", 32: "VIRTIO_F_VERSION_1",
    33: "VIRTIO_F_ACCESS_PLATFORM", 34: "VIRTIO_F_RING_PACKED", 35: "VIRTIO_F_IN_ORDER",
    36: "VIRTIO_F_ORDER_PLATFORM", 37: "VIRTIO_F_SR_IOV", 38: "VIRTIO_F_NOTIFICATION_DATA",
    39: "VIRTIO_F_NOTIF_CONFIG_DATA", 40: "VIRTIO_F_RING_RESET", 41: "VIRTIO_F_ADMIN_VQ",
}
VIRTIO_F_VERSION_1 = 32

DEVICE_FEATURES: dict[int, dict[int, str]] = {
    VIRTIO_ID_NET: {
        0: "VIRTIO_NET_F_CSUM", 1: "VIRTIO_NET_F_GUEST_CSUM", 2: "VIRTIO_NET_F_CTRL_GUEST_OFFLOADS",
        3: "VIRTIO_NET_F_MTU", 5: "VIRTIO_NET_F_MAC", 6: "VIRTIO_NET_F_GSO", 7: "VIRTIO_NET_F_GUEST_TSO4",
        8: "VIRTIO_NET_F_GUEST_TSO6", 9: "VIRTIO_NET_F_GUEST_ECN", 10: "VIRTIO_NET_F_GUEST_UFO",
        11: "VIRTIO_NET_F_HOST_TSO4", 12: "VIRTIO_NET_F_HOST_TSO6", 13: "VIRTIO_NET_F_HOST_ECN",
        14: "VIRTIO_NET_F_HOST_UFO", 15: "VIRTIO_NET_F_MRG_RXBUF", 16: "VIRTIO_NET_F_STATUS",
        17: "VIRTIO_NET_F_CTRL_VQ", 18: "VIRTIO_NET_F_CTRL_RX", 19: "VIRTIO_NET_F_CTRL_VLAN",
        20: "VIRTIO_NET_F_CTRL_RX_EXTRA", 21: "VIRTIO_NET_F_GUEST_ANNOUNCE", 22: "VIRTIO_NET_F_MQ",
        23: "VIRTIO_NET_F_CTRL_MAC_ADDR", 52: "VIRTIO_NET_F_VQ_NOTF_COAL", 53: "VIRTIO_NET_F_NOTF_COAL",
        54: "VIRTIO_NET_F_GUEST_USO4", 55: "VIRTIO_NET_F_GUEST_USO6", 56: "VIRTIO_NET_F_HOST_USO",
        57: "VIRTIO_NET_F_HASH_REPORT", 59: "VIRTIO_NET_F_GUEST_HDRLEN", 60: "VIRTIO_NET_F_RSS",
        61: "VIRTIO_NET_F_RSC_EXT", 62: "VIRTIO_NET_F_STANDBY", 63: "VIRTIO_NET_F_SPEED_DUPLEX",
    },
    VIRTIO_ID_BLOCK: {
        0: "VIRTIO_BLK_F_BARRIER", 1: "VIRTIO_BLK_F_SIZE_MAX", 2: "VIRTIO_BLK_F_SEG_MAX",
        4: "VIRTIO_BLK_F_GEOMETRY", 5: "VIRTIO_BLK_F_RO", 6: "VIRTIO_BLK_F_BLK_SIZE", 7: "VIRTIO_BLK_F_SCSI",
        9: "VIRTIO_BLK_F_FLUSH", 10: "VIRTIO_BLK_F_TOPOLOGY", 11: "VIRTIO_BLK_F_CONFIG_WCE",
        12: "VIRTIO_BLK_F_MQ", 13: "VIRTIO_BLK_F_DISCARD", 14: "VIRTIO_BLK_F_WRITE_ZEROES",
        15: "VIRTIO_BLK_F_LIFETIME", 16: "VIRTIO_BLK_F_SECURE_ERASE", 17: "VIRTIO_BLK_F_ZONED",
    },
    VIRTIO_ID_CONSOLE: {0: "VIRTIO_CONSOLE_F_SIZE", 1: "VIRTIO_CONSOLE_F_MULTIPORT", 2: "VIRTIO_CONSOLE_F_EMERG_WRITE"},
    VIRTIO_ID_RNG: {},
    VIRTIO_ID_BALLOON: {
        0: "VIRTIO_BALLOON_F_MUST_TELL_HOST", 1: "VIRTIO_BALLOON_F_STATS_VQ", 2: "VIRTIO_BALLOON_F_DEFLATE_ON_OOM",
        3: "VIRTIO_BALLOON_F_FREE_PAGE_HINT", 4: "VIRTIO_BALLOON_F_PAGE_POISON", 5: "VIRTIO_BALLOON_F_REPORTING",
    },
    VIRTIO_ID_SCSI: {0: "VIRTIO_SCSI_F_INOUT", 1: "VIRTIO_SCSI_F_HOTPLUG", 2: "VIRTIO_SCSI_F_CHANGE",
                     3: "VIRTIO_SCSI_F_T10_PI"},
}
VIRTIO_NET_F_MTU, VIRTIO_NET_F_STATUS, VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_MQ = 3, 16, 17, 22
VIRTIO_NET_S_LINK_UP = 1


def feature_names(device_type: int | None, bits: int) -> list[str]:
    """The spec/Linux names of the set feature bits, "bit N" for bits nobody named, lowest first."""
    named = {**DEVICE_FEATURES.get(device_type or 0, {}), **TRANSPORT_FEATURES}
    return [named.get(n, f"bit {n}") for n in range(64) if bits >> n & 1]


# -- device-specific configuration (the structure cfg_type 4 points to) ----------------------------
DEVICE_CONFIGS: dict[int, Layout] = {
    VIRTIO_ID_NET: layout(
        "virtio_net_config", "struct virtio_net_config", None,
        reg("mac", 0x00, 6, doc="VIRTIO_NET_F_MAC: the device's MAC address"),
        reg("status", 0x06, 2, bit("VIRTIO_NET_S_LINK_UP", 0, "LinkUp"), bit("VIRTIO_NET_S_ANNOUNCE", 1, "Announce"),
            doc="VIRTIO_NET_F_STATUS"),
        reg("max_virtqueue_pairs", 0x08, 2, doc="VIRTIO_NET_F_MQ: receive/transmit queue pairs"),
        reg("mtu", 0x0A, 2, doc="VIRTIO_NET_F_MTU"),
        reg("speed", 0x0C, 4, doc="VIRTIO_NET_F_SPEED_DUPLEX: Mbit/s"),
        reg("duplex", 0x10, 1),
        doc="virtio 1.2 §5.1.4"),
    VIRTIO_ID_BLOCK: layout(
        "virtio_blk_config", "struct virtio_blk_config", None,
        reg("capacity", 0x00, 8, doc="in 512-byte sectors"),
        reg("size_max", 0x08, 4), reg("seg_max", 0x0C, 4),
        reg("cylinders", 0x10, 2), reg("heads", 0x12, 1), reg("sectors", 0x13, 1),
        reg("blk_size", 0x14, 4), reg("physical_block_exp", 0x18, 1), reg("alignment_offset", 0x19, 1),
        reg("min_io_size", 0x1A, 2), reg("opt_io_size", 0x1C, 4), reg("writeback", 0x20, 1),
        reg("num_queues", 0x22, 2, doc="VIRTIO_BLK_F_MQ"),
        reg("max_discard_sectors", 0x24, 4), reg("max_discard_seg", 0x28, 4), reg("discard_sector_alignment", 0x2C, 4),
        reg("max_write_zeroes_sectors", 0x30, 4), reg("max_write_zeroes_seg", 0x34, 4),
        reg("write_zeroes_may_unmap", 0x38, 1),
        doc="virtio 1.2 §5.2.4"),
    VIRTIO_ID_CONSOLE: layout(
        "virtio_console_config", "struct virtio_console_config", None,
        reg("cols", 0x00, 2), reg("rows", 0x02, 2), reg("max_nr_ports", 0x04, 4), reg("emerg_wr", 0x08, 4),
        doc="virtio 1.2 §5.3.4"),
    VIRTIO_ID_RNG: layout("virtio_rng_config", "entropy device (no configuration)", None,
                          doc="virtio 1.2 §5.4.4: none"),
    VIRTIO_ID_BALLOON: layout(
        "virtio_balloon_config", "struct virtio_balloon_config", None,
        reg("num_pages", 0x00, 4, doc="pages the host wants in the balloon"),
        reg("actual", 0x04, 4, doc="pages the driver has put in it"),
        reg("free_page_hint_cmd_id", 0x08, 4), reg("poison_val", 0x0C, 4),
        doc="virtio 1.2 §5.5.4"),
    VIRTIO_ID_SCSI: layout(
        "virtio_scsi_config", "struct virtio_scsi_config", None,
        reg("num_queues", 0x00, 4, doc="request queues"), reg("seg_max", 0x04, 4), reg("max_sectors", 0x08, 4),
        reg("cmd_per_lun", 0x0C, 4), reg("event_info_size", 0x10, 4), reg("sense_size", 0x14, 4),
        reg("cdb_size", 0x18, 4), reg("max_channel", 0x1C, 2), reg("max_target", 0x1E, 2), reg("max_lun", 0x20, 4),
        doc="virtio 1.2 §5.6.4"),
}


def status_names(status: int) -> list[str]:
    """The device_status bits that are set, by their spec names (ACKNOWLEDGE, DRIVER, ...)."""
    return [f.label for f in _STATUS_FIELDS if status >> f.lo & 1]



def driver_writes(wanted: int, queues: int, vectors: int, area_of, size: int = 16) -> list[tuple[int, int, int]]:
    """The common-configuration writes (offset, width, value) a virtio 1.x driver makes after reset,
    ACKNOWLEDGE and DRIVER (§3.1.1): the features it wants, FEATURES_OK, the config vector 0, each queue
    i with `size` entries at `area_of(i)` (descriptors, driver area +0x1000, device area +0x2000) on vector
    i + 1 (the last vector shared when there are fewer), enabled; then DRIVER_OK."""
    c, q = COMMON.register, QUEUE.register
    status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK
    out = []
    for half in (0, 1):
        out += [(c("VIRTIO_PCI_COMMON_GFSELECT").offset, 4, half),
                (c("VIRTIO_PCI_COMMON_GF").offset, 4, (wanted >> 32 * half) & 0xFFFF_FFFF)]
    out += [(c("VIRTIO_PCI_COMMON_STATUS").offset, 1, status), (c("VIRTIO_PCI_COMMON_MSIX").offset, 2, 0)]
    last = max(vectors - 1, 0)
    for i in range(queues):
        area = area_of(i)
        out += [(c("VIRTIO_PCI_COMMON_Q_SELECT").offset, 2, i), (q("VIRTIO_PCI_COMMON_Q_SIZE").offset, 2, size),
                (q("VIRTIO_PCI_COMMON_Q_MSIX").offset, 2, min(i + 1, last))]
        for name, at in (("VIRTIO_PCI_COMMON_Q_DESCLO", area), ("VIRTIO_PCI_COMMON_Q_AVAILLO", area + 0x1000),
                         ("VIRTIO_PCI_COMMON_Q_USEDLO", area + 0x2000)):
            out += [(q(name).offset, 4, at & 0xFFFF_FFFF), (q(name).offset + 4, 4, at >> 32)]
        out.append((q("VIRTIO_PCI_COMMON_Q_ENABLE").offset, 2, 1))
    out.append((c("VIRTIO_PCI_COMMON_STATUS").offset, 1, status | VIRTIO_CONFIG_S_DRIVER_OK))
    return out
