"""Deliveries seen under KVM (the vCPU counts its interrupts, sources/qemu/vcpu.py) against the TCG
mailboxes, in one run: a poll, an e1000e trigger, and a virtio-blk read on the three delivery paths
(QEMU's virtio-blk under TCG, vhost-user-blk without irqfds under TCG, vhost-user-blk through a KVM irqfd).
"""

from __future__ import annotations

import sys

from qemu import MSI_ADDRESS, interleaved, ready_msix

import pciexplore
from pciexplore.sources.qemu import irqfd
from pciexplore.sources.qemu.machine import kvm_unusable
from pciexplore.sources.qemu.source import open_spec


def nic_of(src):
    return next(f for f in src if (f.vendor_id, f.device_id) == (0x8086, 0x10D3))


def blk_ready(src):
    """Queue 0 on entry 1 (0xfee00000, vector 0x40), MSI-X enabled, then the bring-up (irqfd needs MSI-X
    on at DRIVER_OK); the first read sets the notify address up."""
    fn = src.function(irqfd.FUNCTION)
    cap = fn.cap("msix").offset
    table = int.from_bytes(fn.config[cap + 4 : cap + 8], "little")
    src.write_bar(fn.address, table & 7, (table & ~7) + 16, MSI_ADDRESS.to_bytes(8, "little") + (0x40).to_bytes(4, "little") + bytes(4))
    src.write_config(fn.address, cap + 3, b"\x80")
    ctx = src.device(fn.address)
    ctx.model.bring_up(ctx)
    src.poll(wait=0.3)  # the back-end's own signal at DRIVER_OK
    src.trigger(fn.address, "read")
    return fn


def main() -> int:
    why = kvm_unusable()
    if why is not None:
        print(f"skipped: KVM not usable ({why})")
        return 0
    n = 200
    with pciexplore.open("qemu:e1000e") as tcg, pciexplore.open("qemu:e1000e", accel="kvm") as kvm:
        for src in (tcg, kvm):
            ready_msix(src, nic_of(src))
        a, b = nic_of(tcg).address, nic_of(kvm).address
        t = interleaved({"tcg readl": lambda: tcg.qtest.readl(0x0010_0000),
                         "kvm readl": lambda: kvm.qtest.readl(0x0010_0000),
                         "tcg poll": tcg.poll, "kvm poll": kvm.poll,
                         "tcg trigger": lambda: tcg.trigger(a, "vector:0"),
                         "kvm trigger": lambda: kvm.trigger(b, "vector:0")}, n)
        seen = (len(tcg.deliveries()), len(kvm.deliveries()))
    print(f"raw qtest round trip (readl): TCG {t['tcg readl']:.1f} us, KVM {t['kvm readl']:.1f} us")
    print(f"src.poll() with nothing to collect: TCG mailboxes {t['tcg poll']:.1f} us, KVM barrier interrupt "
          f"{t['kvm poll']:.1f} us = {t['kvm poll'] / t['tcg poll']:.1f}x")
    print(f"e1000e trigger('vector:0') -> delivery seen: TCG {t['tcg trigger']:.1f} us, KVM {t['kvm trigger']:.1f} us "
          f"= {t['kvm trigger'] / t['tcg trigger']:.1f}x ({seen[0]} and {seen[1]} deliveries)")
    paths = {p: open_spec(irqfd.machine(p)) for p in irqfd.PATHS}
    try:
        fns = {p: blk_ready(src) for p, src in paths.items()}
        before = {p: len(src.deliveries()) for p, src in paths.items()}
        t = interleaved({p: lambda p=p: paths[p].trigger(fns[p].address, "read") for p in paths}, 20)
        got = {p: len(src.deliveries()) - before[p] for p, src in paths.items()}
    finally:
        for src in paths.values():
            src.close()
    print("virtio-blk read of sector 0 -> its interrupt seen: " + ", ".join(
        f"{p} {t[p]:.0f} us ({got[p]} deliveries)" for p in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
