"""Differences between two functions' virtio transports, named by the virtio fields
("queue 1 msix_vector: 0x2 → 0xffff", "device_status DRIVER_OK: 1 → 0")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import PciError
from ..regs import virtio as V

if TYPE_CHECKING:
    from ..model import Function

_STATUS = V.COMMON.register("VIRTIO_PCI_COMMON_STATUS")
_COMMON_KEYS = ("msix_config", "num_queues", "queue_select", "config_generation")
_QUEUE_KEYS = ("size", "enable", "msix_vector", "notify_off", "desc", "driver", "device")


def _hex(v: int | None) -> str:
    return "not read" if v is None else f"0x{v:x}"


def compare(a: Function, b: Function) -> tuple[list[tuple[str, str, str, str]], str | None]:
    """(name, label, old, new) for every virtio field that differs, and why nothing was compared (or None)."""
    va, vb = a.virtio, b.virtio
    if va is None or vb is None:
        return [], None
    try:
        sa, sb = va.snapshot(), vb.snapshot()
    except PciError as e:
        return [], e.message
    out: list[tuple[str, str, str, str]] = []
    for key in _COMMON_KEYS:
        x, y = sa.common.get(key), sb.common.get(key)
        if x != y:
            out.append((key, key, _hex(x), _hex(y)))
    x, y = sa.common.get("device_status"), sb.common.get("device_status")
    if x != y:
        for f in _STATUS.fields:
            fx, fy = (None if v is None else f.extract(v) for v in (x, y))
            if fx != fy:
                out.append((f.name, f"device_status {f.label}", str(fx), str(fy)))
    for word, x, y in (("device features", sa.device_features, sb.device_features),
                       ("driver features", sa.driver_features, sb.driver_features)):
        if x != y and x is not None and y is not None:
            for bit in range(64):
                if (x ^ y) >> bit & 1:
                    (name,) = V.feature_names(va.device_type, 1 << bit)
                    out.append((name, f"{word} {name}", str(x >> bit & 1), str(y >> bit & 1)))
        elif x != y:
            out.append((word, word, _hex(x), _hex(y)))
    for qa, qb in zip(sa.queues, sb.queues, strict=False):
        for key in _QUEUE_KEYS:
            x, y = getattr(qa, key), getattr(qb, key)
            if x != y:
                out.append((f"queue_{key}", f"queue {qa.index} {key}", _hex(x), _hex(y)))
    for key in sorted(sa.device_config.keys() | sb.device_config.keys()):
        x, y = sa.device_config.get(key), sb.device_config.get(key)
        if x != y:
            out.append((key, f"device config {key}", str(x) if isinstance(x, str) else _hex(x),
                        str(y) if isinstance(y, str) else _hex(y)))
    return out, None
