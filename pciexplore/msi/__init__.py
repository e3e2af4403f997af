"""MSI and MSI-X as models with verbs: capability fields, the vector table and PBA, x86 meaning,
checks, and an event log that tells each step in words.

    fn.msix.table            # DataFrame, one row per vector
    fn.msix.enable(); fn.msix.unmask(3); fn.msix.trigger(3); print(fn.msix.log)

State is always read back from the device (config space, table and PBA bytes through the Source);
nothing is cached beside it, like QEMU's hw/pci/msix.c.  pandas is imported only when a table is
built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .common import Check, Event, EventLog
from .msi import Msi
from .msix import Msix

if TYPE_CHECKING:
    from ..model import Function

__all__ = ["Check", "Event", "EventLog", "Msi", "Msix", "msi_of", "msix_of"]

def _model(fn: Function, key: str, cls: type):
    cap = fn.cap(key)
    models = fn._interrupt_models  # one model per Function, so its event log survives repeated lookups
    if cap is None:
        models.pop(key, None)
        return None
    model = models.get(key)
    if model is None or model.offset != cap.offset:
        model = models[key] = cls(fn, cap.offset)
    return model


def msix_of(fn: Function) -> Msix | None:
    """The MSI-X model of `fn`, or None when it has no MSI-X capability."""
    return _model(fn, "msix", Msix)


def msi_of(fn: Function) -> Msi | None:
    """The MSI model of `fn`, or None when it has no MSI capability."""
    return _model(fn, "msi", Msi)
