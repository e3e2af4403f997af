"""The virtio rules of the interrupt doctor: queue -> vector bindings checked against the virtio spec,
and the delivery-path hazards that work emulated and break under irqfd/vhost.

Sections are virtio 1.2's.  Each rule reads `fn.virtio.snapshot()` (what the source lets it read) and
the MSI-X entries the vectors name; a queue whose registers were not read is not judged.  The
delivery-path rules need the order of the driver's writes: they replay the function's recorded
bring-up (a capture with a timeline, a running VM started by `pciexplore vm`, a simulated function's
own record) through the emulated and irqfd paths (virtio/replay.py); a static capture shows only the
final table, which is the same whether an entry was written before DRIVER_OK or after.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..errors import PciError
from ..regs import virtio as V

if TYPE_CHECKING:
    from ..doctor import _Facts

NO_VECTOR = V.VIRTIO_MSI_NO_VECTOR
X86_MSI_BASE, X86_MSI_LIMIT = 0xFEE00000, 0xFEEFFFFF
_VECTORS = "virtio 1.2 §4.1.5.1.2 (MSI-X Vector Configuration)"


def _where(queue: int | None) -> str:
    if queue is None:
        return "msix_config (common cfg 0x10)"
    return f"queue {queue} queue_msix_vector (common cfg 0x1a)"


def findings(f: _Facts) -> Iterator:
    from ..doctor import Finding

    v = f.fn.virtio
    if v is None:
        return
    try:
        snap = v.snapshot()
    except PciError:
        return
    status = snap.common.get("device_status") or 0
    driver_ok = bool(status & V.VIRTIO_CONFIG_S_DRIVER_OK)
    msix = snap.msix_enabled
    entries = {e.vector: e for e in (f.vectors() or [])}
    size = f.fn.msix.regs().size if f.msix else 0
    config = snap.common.get("msix_config")
    queues = [q for q in snap.queues if q.msix_vector is not None]
    bound = [(q.index, q.msix_vector) for q in queues if q.msix_vector != NO_VECTOR]
    if config is not None and config != NO_VECTOR:
        bound.append((None, config))

    def finding(check: str, severity: str, queue: int | None, message: str, rule: str, fix: str,
                vector: int | None = None, where: str | None = None) -> Finding:
        return Finding(check, severity, f.device, where or _where(queue), message, rule, fix, vector=vector)

    now = {q.index: q.msix_vector for q in queues} | {None: config}
    refused = {q: asked for q, asked in v.refused.items() if now.get(q) == NO_VECTOR}
    for queue, asked in refused.items():  # seen by the model's own verbs: the read-back is the device's answer
        yield finding(
            "virtio_vector_refused", "error", queue,
            f"{'msix_config' if queue is None else f'queue {queue}'} was given vector {asked} and the device "
            "refused it: it reads back NO_VECTOR",
            f"{_VECTORS}: a device reports a mapping failure by reading back NO_VECTOR; the driver MUST read "
            "the vector back and, on failure, retry with fewer vectors, disable MSI-X or report the device",
            f"use a vector below the MSI-X Table Size ({size})", vector=asked)

    if msix and driver_ok and not bound and (queues or config is not None):
        yield finding(
            "virtio_driver_ok_before_vectors", "error", None,
            "DRIVER_OK is set with MSI-X enabled but no event has a vector: configuration changes and every "
            "queue interrupt are lost",
            "virtio 1.2 §3.1.1: per-bus set-up (for PCI the MSI-X vectors) comes before setting DRIVER_OK; "
            + _VECTORS + ": with MSI-X enabled the ISR is unused, so there is no INTx to fall back on",
            "write msix_config and each queue_msix_vector (reading each back) before DRIVER_OK")
        return

    if msix and driver_ok and config == NO_VECTOR:
        yield finding(
            "virtio_config_no_vector", "warning", None,
            "msix_config is NO_VECTOR while MSI-X is enabled: configuration changes (link status, balloon "
            "target, capacity) go unnoticed",
            f"{_VECTORS}: NO_VECTOR unmaps the event: the device signals nothing for it",
            "give msix_config a vector (Linux uses vector 0) and read it back")

    for q in queues:
        if msix and q.enable and q.msix_vector == NO_VECTOR and q.index not in refused:
            yield finding(
                "virtio_queue_no_vector", "warning", q.index,
                f"queue {q.index} is enabled with NO_VECTOR while MSI-X is on: its interrupts are not signalled "
                "(fine only for a queue the driver polls, as Linux does with virtio-net's control queue)",
                f"{_VECTORS}: NO_VECTOR unmaps the queue's interrupts; with MSI-X on there is no ISR/INTx either",
                "write the queue's queue_msix_vector and check the read-back (a refusal reads NO_VECTOR)")

    for queue, vec in bound:
        who = "msix_config" if queue is None else f"queue {queue}"
        if f.msix and vec >= size:
            yield finding(
                "virtio_vector_past_table", "error", queue,
                f"{who} holds vector {vec}, past the MSI-X table ({size} entries)",
                f"{_VECTORS}: a device MUST answer NO_VECTOR for a vector it cannot map; the driver MUST NOT "
                "map an event outside the table",
                "a device bug (it kept a vector it cannot signal): map the event to a vector in the table",
                vector=vec)
            continue
        e = entries.get(vec)
        if not (msix and driver_ok) or e is None or (queue is not None and not _enabled(snap, queue)):
            continue
        if not X86_MSI_BASE <= e.address <= X86_MSI_LIMIT and f.x86:
            yield finding(
                "virtio_vector_unprogrammed", "error", queue,
                f"{who} is bound to MSI-X entry {vec}, whose address 0x{e.address:x} is not an interrupt "
                "address" + (" (never programmed)" if e.address == 0 else ""),
                f"{_VECTORS} maps the event to the table entry; PCIe Base 6.0 §6.1.4: the entry's address and "
                "data are the message (Intel SDM vol. 3 §11.11.1: 0xFEExxxxx)",
                "program the entry's address and data before binding a queue to it", vector=vec)
        elif e.entry_masked:  # (a Function Mask or MSI-X off is the MSI-X rules' finding, for every vector)
            yield finding(
                "virtio_vector_masked", "warning", queue,
                f"{who} is bound to MSI-X entry {vec}, whose mask bit is set: its events only set the pending bit"
                + (" (pending now)" if e.pending else ""),
                f"{_VECTORS} maps the event to the entry; PCIe Base 6.0 §6.1.4.2: a masked vector does not send",
                "unmask the entry once it is programmed (Linux: pci_msix_unmask)", vector=vec)

    if not msix and f.msix and bound and driver_ok:
        yield finding(
            "virtio_vectors_while_msix_disabled", "warning", None,
            f"vectors are assigned ({len(bound)} events) but MSI-X is disabled: the device signals INTx and the "
            "ISR instead, and the vectors mean nothing until MSI-X is enabled",
            "virtio 1.2 §4.1.4.10: on the legacy interface the vector registers exist only while MSI-X is "
            f"enabled (a write there before lands in device configuration); {_VECTORS}: the mapping is used "
            "when MSI-X is enabled",
            "enable MSI-X before assigning vectors (Linux: pci_alloc_irq_vectors, then vp_modern_queue_vector)")

    yield from _delivery_findings(f, snap, queues, entries, driver_ok and msix)

    users: dict[int, list[str]] = {}
    for queue, vec in bound:
        users.setdefault(vec, []).append("config" if queue is None else f"queue {queue}")
    for vec, who in users.items():
        if len(who) > 1 and vec < max(size, 1):
            yield finding(
                "virtio_shared_vector", "info", None,
                f"vector {vec} is shared by {', '.join(who)}: allowed, its handler must look at each of them",
                f"{_VECTORS}: the device MUST support mapping any event type to any valid vector; sharing is "
                "what Linux does when it has fewer vectors than queues",
                "nothing to fix; give each its own vector if the table has room", vector=vec,
                where=f"MSI-X entry {vec}")


def _enabled(snap, queue: int) -> bool:
    return bool(snap.queues[queue].enable) if queue < len(snap.queues) else False


HINT = "try vhost=off to tell an irqfd problem from a driver problem"
MARK = "works emulated, breaks under irqfd/vhost"
DELIVERY_RULES = {  # check -> (rule, fix)
    "irqfd_entry_written_unmasked": (
        "QEMU hw/virtio/virtio-pci.c: with vhost the KVM route of a queue's vector is built from the table at "
        "DRIVER_OK (virtio_pci_set_guest_notifiers) and refreshed only on a mask -> unmask transition "
        "(virtio_pci_one_vector_unmask); hw/pci/msix.c msix_notify, the emulated path, reads the entry when the "
        "event fires. PCIe Base 6.0 §6.1.4.2: software should mask an entry while it changes its message",
        "mask the entry, write its address and data, unmask it (the unmask refreshes the route); or program "
        "every entry before DRIVER_OK"),
    "irqfd_vector_after_driver_ok": (
        "virtio 1.2 §3.1.1: the per-bus set-up (MSI-X vectors for PCI) comes before DRIVER_OK; QEMU 7.2/8.0 "
        "bind vhost's eventfd to the route of the vector a queue had at DRIVER_OK and do not move it "
        "(virtio_pci_set_vector, from 8.2.3/9.0, does); a mask -> unmask of the new vector then aborts QEMU 7.2 "
        "(kvm_irqchip_commit_routes, measured: data/qemu/irqfd-vhost-user-blk.json)",
        "assign vectors (msix_config, each queue_msix_vector, read back) before DRIVER_OK; to change one later, "
        "reset the device and set it up again"),
}


def _delivery_findings(f: _Facts, snap, queues, entries, live: bool) -> Iterator:
    """The delivery-path hazards: from the recorded order of writes when the source has one (replayed),
    and from the table now for the PBA rule (what a static capture can show)."""
    from ..doctor import Finding

    timeline = _timeline(f.fn)
    if timeline is not None:
        mine = tuple(timeline.select(f.fn.address.short).steps)
        for r in _replayed(mine, f.fn.msix.regs().size if f.msix else None):
            for loss in r.losses:
                check = loss.hazards[0].check if loss.hazards else "irqfd_entry_written_unmasked"
                rule, fix = DELIVERY_RULES[check]
                vector = r.outcome(loss.event, "emulated").vector
                yield Finding(check, "warning", f.device, f"{loss.event} (recorded bring-up)",
                              f"{MARK}: {loss.text}", rule, f"{fix}; {HINT}", vector=vector)
    if not live:
        return
    for q in queues:  # the PBA rule: what the table shows now cannot show a held event
        e = entries.get(q.msix_vector)
        if q.index < 2 and q.enable and e is not None and e.entry_masked and not e.pending:
            yield Finding(
                "irqfd_pba_only_when_read", "info", f.device, _where(q.index),
                f"{MARK} for a driver that waits for a pending bit: queue {q.index}'s vector {q.msix_vector} is "
                "masked and its PBA bit clear; under vhost a masked queue's event waits in the masked notifier "
                "and its PBA bit appears only when the PBA is read, so a clear bit here does not show that "
                "nothing happened",
                "QEMU hw/pci/msix.c msix_pba_mmio_read -> hw/virtio/virtio-pci.c virtio_pci_vector_poll: pending "
                "bits of vhost's queues are polled in when the PBA is read; PCIe Base 6.0 §6.1.4.5: unmasking "
                "a pending vector sends its message",
                f"read the PBA, don't rely on it (or simply unmask: a held event is sent on unmask); {HINT}",
                vector=q.msix_vector)


@functools.lru_cache(maxsize=64)
def _replayed(steps: tuple, size: int | None) -> tuple:
    """One function's recorded steps through the emulated and irqfd paths; the same steps give the same
    answer, so a doctor run again on an unchanged bring-up (a live panel, a dashboard) replays nothing."""
    from .replay import replay

    try:
        return tuple(replay(list(steps), ("emulated", "irqfd"), None, size)) if steps else ()
    except PciError:
        return ()


def _timeline(fn):
    """The source's recorded bring-up (capture with a timeline, qmp:, sim:), or None."""
    get = getattr(fn.source, "timeline", None)
    try:
        return get() if callable(get) else None
    except PciError:
        return None
