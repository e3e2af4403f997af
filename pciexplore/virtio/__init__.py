"""virtio over PCI above MSI-X: which queue fires which vector, and the virtio driver rules.

    fn.virtio                # None for a function that is not virtio-pci
    fn.virtio.queues         # DataFrame: queue -> vector -> MSI-X entry (address, data, masked, pending, meaning)
    fn.virtio.snapshot()     # common configuration, features, queues, device configuration, what was not read
    fn.virtio.set_queue_vector(1, 2)   # returns the device's read-back (0xffff: refused)

pandas is imported only when a table is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .model import Queue, Snapshot, Structure, Virtio, is_virtio_function

if TYPE_CHECKING:
    from ..model import Function

__all__ = ["Queue", "Snapshot", "Structure", "Virtio", "virtio_of"]


def virtio_of(fn: Function) -> Virtio | None:
    """The virtio transport model of `fn` (one per function, so its log lasts), or None."""
    models = fn._interrupt_models
    if not is_virtio_function(fn):
        models.pop("virtio", None)
        return None
    model = models.get("virtio")
    if model is None:
        model = models["virtio"] = Virtio(fn)
    return model
