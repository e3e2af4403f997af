"""How a simulated virtio function's interrupts reach the CPU: "sim:virtio-net,delivery=MODE".

Three hypervisors' paths, each as its sources have it.  The device, its table and PBA are the same
(sources/sim.py follows QEMU's hw/pci/msix.c); what differs is when the message is read from the table.

* ``emulated`` (QEMU without vhost: user networking, ``vhost=off``): hw/virtio/virtio-pci.c
  virtio_pci_notify -> hw/pci/msix.c msix_notify.  Vector, entry and mask are read when the event fires;
  a masked vector sets its PBA bit; an event on a vector no queue or msix_config names (msix_entry_used)
  is dropped.
* ``irqfd`` (QEMU with vhost-net, ``-netdev tap,vhost=on``; vhost-user alike): the queue's events are
  written to an eventfd that KVM turns into the message of a route (KVM_IRQFD).  At DRIVER_OK (with the
  link up) virtio_net_set_status starts vhost and virtio_pci_set_guest_notifiers builds a route for each
  queue's vector from the entry as it is then (kvm_virtio_pci_vector_use_one ->
  kvm_irqchip_add_msi_route), and installs the mask notifiers (msix_set_vector_notifiers).  Afterwards:
  - a route is refreshed only on a mask -> unmask transition (msix_fire_vector_notifier ->
    virtio_pci_vector_unmask -> virtio_pci_one_vector_unmask), and only when the entry's message differs
    from the one the proxy compares with, which QEMU never records: an unmask to address 0 / data 0
    leaves the route as it was;
  - a message written into an entry that is already unmasked leaves the route stale;
  - while the vector is masked, the queue's events go to the guest notifier's "masked" eventfd
    (virtio_pci_one_vector_mask -> guest_notifier_mask); its PBA bit appears only when the PBA is read
    (msix_pba_mmio_read -> virtio_pci_vector_poll); an unmask fires what was pending through the route;
  - a queue_msix_vector changed after DRIVER_OK leaves the queue on the route of its old vector (QEMU
    7.2 and 8.0, as installed here; 8.2.3 and 9.0 release and rebuild it: virtio_pci_set_vector); a
    mask -> unmask of the new vector then makes QEMU 7.2 update a route it never built and abort
    (`aborted` says so; measured, data/qemu/irqfd-vhost-user-blk.json);
  - only the data queues (rx0, tx0) are vhost's: virtio-net's control queue stays QEMU's
    (virtio_net_vhost_status passes cvq = 0 for vhost-net), so its events take the emulated path;
  - MSI-X not enabled at DRIVER_OK: no irqfd (with_irqfd is false), QEMU reads the notifier itself and
    delivers as the emulated path does (its mask notifiers still hold a masked vector's events until a
    PBA read or an unmask; not modelled: the simulator then sets the PBA bit at once);
  - configuration changes (a link flip) are QEMU's own: virtio_notify_config -> msix_notify, emulated;
    vhost-net is stopped and started again by the flip (virtio_net_set_link_status), so the routes
    are built again from the table as it is then;
  - device_status 0 stops vhost (set_guest_notifiers(false): mask notifiers removed, every route
    released), then virtio_pci_reset unbinds every vector (msix_unuse_all_vectors clears the PBA);
  - the back-end is kernel vhost-net, which signals only for used buffers: a vhost-user back-end built
    on libvhost-user also writes the call eventfd when it is handed one (vu_set_vring_call_exec), i.e.
    once per queue at each DRIVER_OK; not modelled (tests/test_delivery_crosscheck.py adds that event
    when it plays QEMU's vhost-user-blk).
* ``cloud-hypervisor``: pci/src/msix.rs MsixConfig::write_table updates a vector's route on every
  write that changes its entry while MSI-X is enabled, the function unmasked and the entry unmasked;
  MsixConfig::set_msg_ctl updates every route when MSI-X becomes enabled and unmasked.  The device
  (virtio-devices transport VirtioInterruptMsix::trigger) looks the queue's vector up when it fires:
  NO_VECTOR or a vector past the table signal nothing, a masked vector or function sets the PBA bit,
  else the route fires.  Its common configuration keeps whatever vector is written (no NO_VECTOR
  read-back) and has no "used vector" bookkeeping.  Its PBA clearing on unmask is left to the shared
  msix.c model (cloud-hypervisor's set_msg_ctl checks only the Function Mask bit there).

Each message sent names its path in `Delivery.via`; `journal` tells every route built, refreshed,
released or bypassed, with the replay step (`step`) that caused it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InputError
from ..regs import virtio as V
from .sim import MSIX_CAP, PCI_MSIX_ENTRY_CTRL_MASKBIT, PCI_MSIX_FLAGS_ENABLE, PCI_MSIX_FLAGS_MASKALL

if TYPE_CHECKING:
    from .sim_virtio import VirtioNetFunction

NO_VECTOR = V.VIRTIO_MSI_NO_VECTOR
MODES = ("emulated", "irqfd", "cloud-hypervisor")
VHOST_QUEUES = 2  # one rx/tx queue pair: vhost-net's notifiers (nvqs_with_notifiers)


def _msg(message: tuple[int, int]) -> str:
    return f"0x{message[0]:x} ← 0x{message[1]:x}"


class DeliveryMode:
    """The emulated path (QEMU's msix_notify); the other modes override what differs."""

    name = "emulated"
    #: QEMU's msix_vector_use/unuse bookkeeping: an unused vector's pending bit clears, a reset clears the PBA
    uses_vectors = True

    def __init__(self, fn: VirtioNetFunction) -> None:
        self.fn = fn
        self.journal: list[str] = []
        self.step: int | None = None  # set by a replay: the step being applied, named in the journal

    def note(self, text: str) -> None:
        self.journal.append(f"step {self.step}: {text}" if self.step is not None else text)

    # -- the device's side -------------------------------------------------------------------------
    def keep_vector(self, value: int) -> int:
        """What the common configuration keeps of a vector written (QEMU: NO_VECTOR past the table)."""
        fn = self.fn
        return value if fn.has_msix and value < fn.vectors else NO_VECTOR

    def vector_used(self, vector: int) -> bool:
        """msix_entry_used: some queue or msix_config names the vector."""
        fn = self.fn
        return fn.config_vector == vector or any(q.vector == vector for q in fn.queues)

    def owns(self, queue: int) -> bool:
        """Whether the queue's events bypass QEMU's virtio_pci_notify (vhost's irqfd does)."""
        return False

    def queue_event(self, queue: int) -> None:
        """A queue used a buffer (MSI-X on): virtio_pci_notify -> msix_notify."""
        vector = self.fn.queues[queue].vector
        if vector != NO_VECTOR:
            self.fn.msix_notify(vector)

    def config_event(self) -> None:
        """A configuration change (MSI-X on): QEMU's virtio_notify_config -> msix_notify in every QEMU mode."""
        if self.fn.config_vector != NO_VECTOR:
            self.fn.msix_notify(self.fn.config_vector)

    def msix_notify(self, vector: int) -> None:
        """msix_notify: dropped for an unused vector; masked -> PBA bit; else the entry's message now."""
        fn = self.fn
        if vector >= fn.vectors or not self.vector_used(vector):
            return
        if fn.msix_is_masked(vector):
            fn._set_pending(vector, True)
            return
        fn.send(*fn.msix_message(vector), vector, "emulated (entry read when the event fired)")

    # -- hooks the function calls; nothing to do on the emulated path -------------------------------
    def status_written(self, old: int, new: int) -> None:
        pass

    def link_changed(self) -> None:
        pass

    def mask_changed(self, vector: int, masked: bool) -> None:
        pass

    def table_written(self, vector: int, old: bytes) -> None:
        pass

    def msg_ctl_written(self, old_flags: int) -> None:
        pass

    def pba_read(self, first: int, end: int) -> None:
        pass

    def routes(self) -> dict[int, tuple[int, int]]:
        """vector -> (address, data) of the routes this path holds (none: the emulated path reads the table)."""
        return {}


class IrqfdMode(DeliveryMode):
    """QEMU with vhost: KVM routes built at DRIVER_OK, refreshed on unmask (see the module's text)."""

    name = "irqfd"

    def __init__(self, fn: VirtioNetFunction) -> None:
        super().__init__(fn)
        self.started = False  # vhost running: set_guest_notifiers(true) done
        self.with_irqfd = False  # MSI-X was enabled when it started
        self.route: dict[int, tuple[int, int]] = {}  # vector -> message of its KVM route
        self.route_why: dict[int, str] = {}
        self.attached: dict[int, int | None] = {}  # queue -> the vector whose route its eventfd feeds
        self.masked: dict[int, bool] = {}  # queue -> its guest notifier is masked
        self.pending: dict[int, bool] = {}  # queue -> an event waits in the masked notifier
        #: why QEMU 7.2 would have aborted by now (the simulator records it and goes on), None while it runs
        self.aborted: str | None = None

    def _driver_ok(self, status: int) -> bool:
        return bool(status & V.VIRTIO_CONFIG_S_DRIVER_OK) and self.fn.link_up

    def status_written(self, old: int, new: int) -> None:
        if not self._driver_ok(old) and self._driver_ok(new):
            self.start("DRIVER_OK")
        elif self._driver_ok(old) and not self._driver_ok(new):
            self.stop("device_status reset" if new == 0 else "DRIVER_OK cleared")

    def link_changed(self) -> None:
        fn = self.fn
        if not fn.status & V.VIRTIO_CONFIG_S_DRIVER_OK:
            return
        if fn.link_up and not self.started:
            self.start("link up (vhost started again)")
        elif not fn.link_up and self.started:
            self.stop("link down (vhost stopped)")

    def start(self, why: str) -> None:
        """virtio_pci_set_guest_notifiers(true): a route per used queue vector, from the entry as it is now."""
        fn = self.fn
        self.started = True
        self.with_irqfd = fn.msix_enabled()
        if not self.with_irqfd:
            self.note(f"{why} with MSI-X disabled: no irqfd, QEMU reads the queues' notifiers itself (emulated)")
            return
        for q, queue in enumerate(fn.queues[:VHOST_QUEUES]):
            vector = queue.vector if queue.vector < fn.vectors else None
            self.attached[q] = vector
            self.pending[q] = False
            if vector is None:
                self.masked[q] = True  # vhost's call fd stays on the masked notifier: nobody reads it
                self.note(f"{why}: queue {q} has no vector: no route, its events are lost")
                continue
            if vector not in self.route:
                self.route[vector] = fn.msix_message(vector)
                self.route_why[vector] = f"built at {why}" + (f" (step {self.step})" if self.step is not None else "")
                self.note(f"{why}: route for vector {vector} built from entry {vector}: {_msg(self.route[vector])}")
            self.masked[q] = fn.msix_is_masked(vector)  # msix_set_vector_notifiers unmasks the unmasked ones

    def stop(self, why: str) -> None:
        """virtio_pci_set_guest_notifiers(false): mask notifiers removed, every route released."""
        if self.route:
            self.note(f"{why}: routes released (vectors {', '.join(map(str, sorted(self.route)))})")
        lost = [q for q, p in self.pending.items() if p]
        if lost:
            self.note(f"{why}: events waiting in the masked notifier of queue {', '.join(map(str, lost))} are lost")
        self.started = self.with_irqfd = False
        self.route, self.route_why, self.attached, self.masked, self.pending = {}, {}, {}, {}, {}

    def owns(self, queue: int) -> bool:
        return self.started and self.with_irqfd and queue in self.attached

    def queue_event(self, queue: int) -> None:
        if not self.owns(queue):
            super().queue_event(queue)  # vhost not started, no irqfd, or the control queue: QEMU's own path
            return
        vector = self.attached[queue]
        if vector is None:
            self.note(f"queue {queue} fired: it had no vector at DRIVER_OK, nothing reads its eventfd: lost")
            return
        if self.masked[queue]:
            self.pending[queue] = True
            self.note(f"queue {queue} fired while vector {vector} is masked: held in the masked notifier "
                      "(the PBA shows it only when read)")
            return
        self._fire(queue, vector)

    def _fire(self, queue: int, vector: int) -> None:
        message = self.route[vector]
        if message != self.fn.msix_message(vector):
            self.note(f"queue {queue} fired through the stale route of vector {vector}: {_msg(message)} "
                      f"(entry {vector} holds {_msg(self.fn.msix_message(vector))})")
        self.fn.send(*message, vector, f"irqfd route of vector {vector} ({self.route_why[vector]})")

    def mask_changed(self, vector: int, masked: bool) -> None:
        """msix_fire_vector_notifier -> virtio_pci_vector_mask / virtio_pci_vector_unmask."""
        if not (self.started and self.with_irqfd):
            return
        fn = self.fn
        queues = [q for q in self.attached if fn.queues[q].vector == vector]  # virtio_vector_first_queue
        if not masked:
            message = fn.msix_message(vector)
            if vector in self.route and message != (0, 0) and message != self.route[vector]:
                self.route[vector] = message
                self.route_why[vector] = "refreshed on unmask" + (f" (step {self.step})" if self.step is not None else "")
                self.note(f"vector {vector} unmasked: its route refreshed to {_msg(message)}")
            elif vector not in self.route and queues and message != (0, 0):
                # virtio_pci_one_vector_unmask compares with vector_irqfd[vector], zeroed because no route was
                # built for it, and updates virq 0: a GSI KVM already routes to an interrupt controller pin
                self.aborted = (f"vector {vector} unmasked with queue {queues[0]} moved to it after DRIVER_OK: "
                                "QEMU 7.2 updates the KVM route it never built (virq 0), KVM refuses the table, "
                                "QEMU aborts (kvm_irqchip_commit_routes: Assertion 'ret == 0')")
                self.note(self.aborted)
            elif vector not in self.route and queues:
                self.note(f"vector {vector} unmasked: it has no route (its queue was moved to it after DRIVER_OK)")
        for q in queues:
            self.masked[q] = masked
            if not masked and self.pending.get(q):
                self.pending[q] = False
                if self.attached[q] is not None:
                    self._fire(q, self.attached[q])

    def pba_read(self, first: int, end: int) -> None:
        """virtio_pci_vector_poll: a masked vector's held event becomes its PBA bit."""
        if not (self.started and self.with_irqfd):
            return
        fn = self.fn
        for q in self.attached:
            vector = fn.queues[q].vector
            if first <= vector < end and fn.msix_is_masked(vector) and self.pending.get(q):
                self.pending[q] = False
                fn._set_pending(vector, True)
                self.note(f"PBA read: queue {q}'s held event set vector {vector}'s pending bit")

    def routes(self) -> dict[int, tuple[int, int]]:
        return dict(self.route)


class CloudHypervisorMode(DeliveryMode):
    """cloud-hypervisor: routes follow every table write while deliverable; vector looked up at fire time."""

    name = "cloud-hypervisor"
    uses_vectors = False

    def __init__(self, fn: VirtioNetFunction) -> None:
        super().__init__(fn)
        self.route: dict[int, tuple[int, int]] = {}

    def keep_vector(self, value: int) -> int:
        return value  # pci_common_config.rs stores the value as written

    def vector_used(self, vector: int) -> bool:
        return True

    def _function_masked(self) -> bool:
        return bool(self.fn.cfg(MSIX_CAP + 2, 2) & PCI_MSIX_FLAGS_MASKALL)

    def queue_event(self, queue: int) -> None:
        self._trigger(self.fn.queues[queue].vector)

    def config_event(self) -> None:
        self._trigger(self.fn.config_vector)

    def _trigger(self, vector: int) -> None:
        """VirtioInterruptMsix::trigger: NO_VECTOR / past the table: nothing; masked: PBA bit; else the route."""
        fn = self.fn
        if vector == NO_VECTOR or vector >= fn.vectors:
            if vector != NO_VECTOR:
                self.note(f"vector {vector} is past the table ({fn.vectors}): the event is ignored")
            return
        if self._function_masked() or fn._entry_ctrl(vector) & PCI_MSIX_ENTRY_CTRL_MASKBIT:
            fn._set_pending(vector, True)
            return
        self.msix_notify(vector)

    def msix_notify(self, vector: int) -> None:
        fn = self.fn
        if fn.msix_is_masked(vector):
            fn._set_pending(vector, True)
            return
        message = self.route.get(vector, fn.msix_message(vector))
        fn.send(*message, vector, f"cloud-hypervisor route of vector {vector}")

    def _deliverable(self) -> bool:
        return self.fn.msix_enabled() and not self._function_masked()

    def table_written(self, vector: int, old: bytes) -> None:
        """MsixConfig::write_table: a changed entry updates its route when enabled, unmasked, entry unmasked."""
        fn = self.fn
        if fn.entry_bytes(vector) != old and self._deliverable() and not fn._entry_ctrl(vector) & PCI_MSIX_ENTRY_CTRL_MASKBIT:
            self.route[vector] = fn.msix_message(vector)

    def msg_ctl_written(self, old_flags: int) -> None:
        """MsixConfig::set_msg_ctl: MSI-X becoming enabled and unmasked updates every vector's route."""
        fn = self.fn
        bits = PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL
        if (old_flags & bits) != (fn.cfg(MSIX_CAP + 2, 2) & bits) and self._deliverable():
            self.route = {v: fn.msix_message(v) for v in range(fn.vectors)}

    def routes(self) -> dict[int, tuple[int, int]]:
        return dict(self.route)


_CLASSES = {c.name: c for c in (DeliveryMode, IrqfdMode, CloudHypervisorMode)}


def make(name: str, fn: VirtioNetFunction) -> DeliveryMode:
    """The delivery mode called `name` for function `fn`; a one-line error for an unknown name."""
    if name not in _CLASSES:
        raise InputError(f"unknown delivery mode {name!r}; modes: {', '.join(MODES)}", device=str(fn.address))
    return _CLASSES[name](fn)
