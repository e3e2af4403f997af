"""QEMU device models through qtest: start-up of a 4-device machine, and one MSI-X vector triggered on a
real e1000e until its message is seen, compared in the same run with a raw qtest round trip (`readl`).

Goals: trigger -> observed delivery through the kit's API <= 2x a raw qtest round trip.
Also shown: the same through the MSI-X model (fn.msix.trigger), the floor the e1000e itself sets
(its ICS write and the mailbox read, pipelined, no kit code), nvme/virtio/edu causes, and how many qtest
exchanges (socket round trips) each MSI-X and MSI model verb takes.
"""

from __future__ import annotations

import statistics
import sys
import time

from common import timed

import pciexplore

SPEC4 = "qemu:e1000e+nvme@root-port+virtio-net-pci@switch+edu"
MSI_ADDRESS = 0xFEE0_0000


def per_call(fn, n: int) -> float:
    """Median over ROUNDS rounds of the mean time of `n` calls, in microseconds."""
    return interleaved({"x": fn}, n)["x"]


ROUNDS = 7


def interleaved(fns: dict, n: int, rounds: int = ROUNDS) -> dict[str, float]:
    """Median over `rounds` of the mean time of `n` calls of each function, in microseconds; the
    functions take turns within every round, so a busy moment of a shared machine hits them alike."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            times[name].append((time.perf_counter() - t0) / n * 1e6)
    return {k: statistics.median(v) for k, v in times.items()}


def exchanges(src, verb) -> int:
    """qtest exchanges (socket round trips) one call of `verb` takes."""
    before = src.qtest.exchanges
    verb()
    return src.qtest.exchanges - before


#: a teaching cycle through the MSI-X model, ending as it began (enabled, vector 0 unmasked)
MSIX_VERBS = (("mask", lambda m: m.mask(0)), ("trigger (masked)", lambda m: m.trigger(0)),
              ("unmask", lambda m: m.unmask(0)), ("trigger", lambda m: m.trigger(0)),
              ("mask_all", lambda m: m.mask_all()), ("unmask_all", lambda m: m.unmask_all()),
              ("disable", lambda m: m.disable()), ("enable", lambda m: m.enable()),
              ("set_message", lambda m: m.set_message(0, MSI_ADDRESS, 0x4020)))


def ready_msix(src, fn) -> None:
    """Program, enable and unmask every vector straight through the Source protocol."""
    cap = fn.cap("msix").offset
    table = int.from_bytes(fn.config[cap + 4 : cap + 8], "little")
    count = (int.from_bytes(fn.config[cap + 2 : cap + 4], "little") & 0x7FF) + 1
    for v in range(count):
        entry = MSI_ADDRESS.to_bytes(8, "little") + (0x4020 + v).to_bytes(4, "little") + bytes(4)
        src.write_bar(fn.address, table & 7, (table & ~7) + 16 * v, entry)
    src.write_config(fn.address, cap + 3, b"\x80")


def main() -> int:
    best, med = timed(lambda: pciexplore.open(SPEC4).close(), repeat=5)
    print(f"start-up, 4 devices ({SPEC4}; 12 functions enumerated, BARs assigned): "
          f"best {best * 1e3:.1f} ms, median {med * 1e3:.1f} ms")

    n = 300
    with pciexplore.open("qemu:e1000e") as src:
        nic = next(f for f in src if (f.vendor_id, f.device_id) == (0x8086, 0x10D3))
        ready_msix(src, nic)
        qt = src.qtest
        ctx = src.device(nic.address)
        ics = ctx.writel_cmd(0, 0xC8, 1 << 20)  # E1000_ICS, RXQ0
        mailbox = f"b64read {0x0010_0000:#x} 0x14"

        def api() -> None:
            before = len(src.deliveries())
            src.trigger(nic.address, "vector:0")
            assert len(src.deliveries()) == before + 1

        api()
        same = [*ctx.cache[("rxq0", True)], mailbox, f"memset {0x0010_0000:#x} 0x14 0"]  # what api() sends

        t = interleaved({"raw": lambda: qt.readl(0x0010_0000), "kit": api, "wire": lambda: qt.batch(same),
                         "floor": lambda: qt.batch([ics, mailbox])}, n)
        rt, kit, wire, floor = t["raw"], t["kit"], t["wire"], t["floor"]
        print(f"raw qtest round trip (readl of guest RAM): {rt:.1f} us")
        print(f"e1000e floor (ICS write + mailbox read, one pipelined batch, no kit code): {floor:.1f} us "
              f"= {floor / rt:.2f}x")
        print(f"e1000e trigger's own qtest batch sent raw (ICS, IMS flush, mailbox read+clear): {wire:.1f} us "
              f"= {wire / rt:.2f}x")
        print(f"e1000e trigger('vector:0') -> delivery seen via src.deliveries(): {kit:.1f} us = {kit / rt:.2f}x "
              f"raw round trip (goal <= 2x)")
        try:
            msix = nic.msix
        except AttributeError:
            msix = None
        if msix is not None:
            model = per_call(lambda: msix.trigger(0), n // 3)
            print(f"e1000e fn.msix.trigger(0) (MSI-X model, with its checks and event log): {model:.1f} us "
                  f"= {model / rt:.2f}x raw round trip, {model / kit:.2f}x src.trigger")
            msix.trigger(0)  # the device model's own look-ups (IVAR, IMS) are made once after a config write
            source = exchanges(src, lambda: src.trigger(nic.address, "vector:0"))
            counts = ", ".join(f"{name} {exchanges(src, lambda v=verb: v(msix))}" for name, verb in MSIX_VERBS)
            print(f"e1000e MSI-X model, qtest exchanges per verb (src.trigger: {source}): {counts}")

    with pciexplore.open("qemu:nvme@root-port+virtio-net-pci+edu") as src:
        nvme = next(f for f in src if f.vendor_id == 0x1B36 and f.device_id == 0x10)
        net = next(f for f in src if f.vendor_id == 0x1AF4)
        edu = next(f for f in src if f.vendor_id == 0x1234)
        for f in (nvme, net):
            ready_msix(src, f)
        cap = edu.cap("msi").offset
        src.write_config(edu.address, cap + 4, MSI_ADDRESS.to_bytes(8, "little") + (0x4030).to_bytes(2, "little"))
        src.write_config(edu.address, cap + 2, b"\x01")
        for name, fn, cause in (("nvme admin Identify", nvme, "vector:0"), ("nvme I/O queue 5 Flush", nvme, "vector:5"),
                                ("virtio-net control queue", net, "ctrl"), ("edu MSI raise", edu, "vector:0")):
            src.trigger(fn.address, cause)  # first use sets queues up
            before = len(src.deliveries())
            t = per_call(lambda f=fn, c=cause: src.trigger(f.address, c), 50)
            got = len(src.deliveries()) - before
            print(f"{name}: {t:.1f} us per trigger ({got} deliveries seen for {ROUNDS * 50} triggers)")
        msi = edu.msi
        raw = per_call(lambda: src.trigger(edu.address, "vector:0"), 50)
        model = per_call(lambda: msi.trigger(0), 50)
        counts = {name: exchanges(src, verb) for name, verb in (
            ("trigger", lambda: msi.trigger(0)), ("disable", msi.disable), ("enable", msi.enable),
            ("set_message", lambda: msi.set_message(MSI_ADDRESS, 0x4030)))}
        print(f"edu fn.msi.trigger(0) (MSI model): {model:.1f} us vs {raw:.1f} us through the source = "
              f"{model / raw:.2f}x; qtest exchanges per verb: {', '.join(f'{k} {v}' for k, v in counts.items())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
