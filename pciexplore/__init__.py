"""pciexplore: explore PCI/PCIe config space, capabilities and MSI-X interrupts.

    import pciexplore
    src = pciexplore.open("data/virtio-msix-only-vm.lspci")   # or "sysfs", "sim:...", "qemu:e1000e"
    fn = src.functions()[0]
    fn.capabilities, fn.cap("msix")

Nothing heavy (pandas, widgets) is imported here; those load when first used.
"""

from __future__ import annotations

from .address import Address
from .errors import InputError, NotSupported, PciError, ReadOnlyError
from .sources import Source, open_source

__version__ = "0.1.0"
__all__ = ["Address", "InputError", "NotSupported", "PciError", "ReadOnlyError", "Source", "open"]


def open(spec=None, **options) -> Source:  # noqa: A001 - the package's one verb, like io.open
    """Open a source: None/"sysfs" (this host), a sysfs-like directory, an lspci dump, a raw config
    file, a capture (.json), "sim:..." (simulated device) or "qemu:..." (QEMU device models)."""
    return open_source(spec, **options)
