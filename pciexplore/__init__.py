"""pciexplore: explore PCI/PCIe config space, capabilities and MSI-X interrupts.

    import pciexplore
    src = pciexplore.open("data/virtio-msix-only-vm.lspci")   # or "sysfs", "sim:...", "qemu:e1000e"
    fn = src.functions()[0]
    fn.capabilities, fn.cap("msix")

Nothing is imported here: the public nouns load when first asked for (PEP 562), so that `python -m
pciexplore` imports them with the garbage collector held off (see __main__), and nothing heavy (pandas,
widgets) loads before it is used.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's constant without importing typing: every command's start-up pays for it
if TYPE_CHECKING:
    from .address import Address
    from .errors import InputError, NotSupported, PciError, ReadOnlyError
    from .sources import Source

__version__ = "0.1.0"
__all__ = ["Address", "InputError", "NotSupported", "PciError", "ReadOnlyError", "Source", "open"]

#: public name -> the module defining it
_HOMES = {"Address": "address", "InputError": "errors", "NotSupported": "errors", "PciError": "errors",
          "ReadOnlyError": "errors", "Source": "sources", "open_source": "sources"}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = globals()[name] = getattr(import_module(f"{__name__}.{home}"), name)
    return value


def open(spec=None, **options) -> Source:  # noqa: A001 - the package's one verb, like io.open
    """Open a source: None/"sysfs" (this host), a sysfs-like directory, an lspci dump, a raw config
    file, a capture (.json), "sim:..." (simulated device) or "qemu:..." (QEMU device models)."""
    from .sources import open_source

    return open_source(spec, **options)
