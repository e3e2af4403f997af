"""Real QEMU device models (e1000e, nvme, virtio, edu, ...) driven through qtest, with no guest OS.

    src = pciexplore.open("qemu:e1000e")                        # one device on the root complex
    src = pciexplore.open("qemu:e1000e+nvme,serial=x@root-port+virtio-net-pci@switch")
    src = Machine().add("nvme", serial="x", behind="root-port").start()

Modules: `qtest` (protocol client), `machine` (builder, spec, process lifecycle), `firmware`
(ECAM, bus numbers, BARs, windows), `devices` (per-model interrupt causes), `source` (the Source, with
the MSI/MSI-X mailbox routing explained in its docstring).
"""

from __future__ import annotations

from .machine import DeviceSpec, Machine, parse_spec
from .qtest import QemuError
from .source import QemuSource, open_spec

__all__ = ["DeviceSpec", "Machine", "QemuError", "QemuSource", "open_spec", "parse_spec"]
