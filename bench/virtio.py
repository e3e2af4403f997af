"""The virtio transport model over QEMU's virtio-net-pci: qtest exchanges (socket round trips) per
model call against the register accesses it makes (one exchange per access would be the naive design),
and the time of `fn.virtio.snapshot()` against one raw qtest round trip (`readl`) and against QEMU's own
report of the same state over QMP (x-query-virtio-status plus x-query-virtio-queue-status per queue),
measured in one run.

Goal: a snapshot in one exchange per selected queue or feature half (the select write and the reads it
selects travel together), one per select put back, and three more (config space, common and device
configuration): 13 for virtio-net's three queues.
"""

from __future__ import annotations

import sys

from qemu import exchanges, interleaved

import pciexplore


def counted(src, verb) -> tuple[int, int]:
    """(register accesses, qtest exchanges) of one call of `verb`."""
    calls = [0]
    read_ranges, act_then_read, write_bar = src.read_ranges, src.act_then_read, src.write_bar

    def rr(addr, ranges):
        calls[0] += len(ranges)
        return read_ranges(addr, ranges)

    def atr(addr, action, ranges):
        calls[0] += len(ranges)
        return act_then_read(addr, action, ranges)

    def wb(addr, bar, offset, data):
        calls[0] += 1
        return write_bar(addr, bar, offset, data)

    src.read_ranges, src.act_then_read, src.write_bar = rr, atr, wb
    try:
        n = exchanges(src, verb)
    finally:
        del src.read_ranges, src.act_then_read, src.write_bar
    return calls[0], n


def run(spec: str) -> None:
    with pciexplore.open(spec) as src:
        fn = next(f for f in src.functions() if f.virtio is not None)
        v = fn.virtio
        (path,) = [d["path"] for d in src.qmp.execute("x-query-virtio")]
        verbs = [("snapshot()", v.snapshot), ("queues (DataFrame)", lambda: v.queues), ("to_dict()", v.to_dict),
                 ("set_queue_vector(1, 2)", lambda: v.set_queue_vector(1, 2))]
        if v.transitional:
            verbs.append(("legacy()", v.legacy))
        rows = []
        for name, verb in verbs:
            accesses, n = counted(src, verb)
            rows.append(f"{name} {n} exchanges for {accesses} register accesses")
        print(f"{spec}: " + "; ".join(rows))
        common = v.structure(1)
        base = src.bar_base(fn.address, common.bar) + common.offset
        queues = v.snapshot().common["num_queues"]

        def qmp() -> None:
            src.qmp.execute("x-query-virtio-status", path=path)
            for q in range(queues):
                src.qmp.execute("x-query-virtio-queue-status", path=path, queue=q)

        t = interleaved({"snapshot": v.snapshot, "readl": lambda: src.qtest.readl(base), "qmp": qmp}, 20)
        print(f"  snapshot {t['snapshot']:.0f} us = {t['snapshot'] / t['readl']:.1f}x a raw qtest readl "
              f"({t['readl']:.0f} us), {t['snapshot'] / t['qmp']:.2f}x QEMU's own QMP report of it "
              f"({t['qmp']:.0f} us, {1 + queues} commands)")


def main() -> int:
    for spec in ("qemu:virtio-net-pci,disable-legacy=on", "qemu:virtio-net-pci"):
        run(spec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
