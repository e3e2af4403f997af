"""A running Linux guest attached over QMP (`qmp:` source) against the same reads through qtest (`qemu:`).

One guest boot (tests/guest.py: Debian's cloud kernel under `pciexplore vm`, TCG) with a virtio-net of 64
MSI-X vectors and an nvme (65); one qtest machine with the same two device models.  Measured in one run:

* attach (connect, query-pci, info mtree) plus a full read: every function's config space and the MSI-X
  table and PBA of each function that has one; the same full read through qtest; their ratio;
* the live refresh rate of the 64-vector table: the MSI-X model's `entries` and the explorer's
  `MsixTableView.refresh()` with all 64 rows on one page (goal: >= 5 per second);
* the two ways QEMU can read guest-physical memory for us, one function's 4 KiB of ECAM each:
  `pmemsave` (binary, to a file) and HMP `xp /1024wx` (text through human-monitor-command).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from common import timed

import pciexplore

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import guest  # noqa: E402

DEVICES = ["virtio-net-pci,vectors=64", "nvme,serial=bench"]
QTEST = "qemu:virtio-net-pci,vectors=64+nvme,serial=bench"
ROUNDS = 7


def median_ms(fn, n: int) -> float:
    """Milliseconds of one `fn()`: the median of ROUNDS rounds of `n` calls each (a fast call needs several)."""
    return timed(lambda: [fn() for _ in range(n)], ROUNDS)[1] / n * 1e3


def refresh_ms(fn) -> tuple[float, float]:
    """(ms of `fn.msix.entries`, ms of a refresh of the function and of its 64-row MsixTableView)."""
    from pciexplore.widgets.msix import MsixTableView

    view = MsixTableView(fn, page_size=64)
    return median_ms(lambda: fn.msix.entries, 10), median_ms(lambda: (fn.refresh(), view.refresh()), 5)


def vectors_64(src):
    """The function of `src` with the 64-vector MSI-X table (the virtio-net)."""
    return next(f for f in src.functions() if f.msix is not None and f.msix.size == 64)


def full_read(src) -> int:
    """Every function's config, then the MSI-X table and PBA of each: the bytes read."""
    n = 0
    for fn in src.functions():
        fn.refresh()
        n += len(fn.config)
        m = fn.msix
        if m is not None:
            n += len(m.entries)
    return n


def main() -> int:
    kernel, why = guest.build()
    if kernel is None:
        print(f"skipped: guest kernel not available: {why}")
        return 0
    vm = guest.Guest(kernel, DEVICES)
    try:
        t0 = time.perf_counter()
        vm.view()
        print(f"guest boot to its first view (TCG, loaded 2-core VM): {time.perf_counter() - t0:.1f} s")

        def attach_and_read() -> None:
            with pciexplore.open(vm.spec) as s:
                full_read(s)

        attach_read = median_ms(attach_and_read, 3)
        with pciexplore.open(vm.spec) as src, pciexplore.open(QTEST) as qt:
            qmp_read = median_ms(lambda: full_read(src), 3)
            qtest_read = median_ms(lambda: full_read(qt), 3)
            print(f"full read, {len(src.functions())} functions (config + MSI-X table/PBA): "
                  f"qmp {qmp_read:.1f} ms, qtest {qtest_read:.1f} ms = {qmp_read / qtest_read:.1f}x; "
                  f"attach + full read over qmp {attach_read:.1f} ms = {attach_read / qtest_read:.1f}x the qtest read")

            net = vectors_64(src)
            model, widget = refresh_ms(net)
            print(f"live refresh of the 64-vector table: msix.entries {model:.1f} ms = {1e3 / model:.0f}/s, "
                  f"MsixTableView.refresh() {widget:.1f} ms = {1e3 / widget:.0f}/s (goal >= 5/s)")
            qmodel, qwidget = refresh_ms(vectors_64(qt))
            print(f"  the same through qtest: msix.entries {qmodel:.1f} ms (qmp {model / qmodel:.1f}x), "
                  f"MsixTableView.refresh() {qwidget:.1f} ms (qmp {widget / qwidget:.1f}x)")
            before = src.qmp.exchanges
            assert net.msix.entries
            print(f"  QMP exchanges per msix.entries: {src.qmp.exchanges - before} (capability registers; table + PBA)")

            ecam = src._ecam_page(net.address)
            pmem = median_ms(lambda: src._read_phys([(ecam, 0x1000)]), 10)
            xp = median_ms(lambda: src.qmp.execute("human-monitor-command", **{"command-line": f"xp /1024wx {ecam:#x}"}),
                           10)
            print(f"4 KiB of ECAM: pmemsave {pmem:.2f} ms, HMP xp {xp:.2f} ms = {xp / pmem:.2f}x")
            rt = median_ms(lambda: src.qmp.execute("query-status"), 20)
            with pciexplore.open(vm.spec, hold=True) as held:
                held_rt = median_ms(lambda: held.qmp.execute("query-status"), 20)
                hnet = held.function(net.address)
                held_model = median_ms(lambda: hnet.msix.entries, 10)
            print(f"QMP request (query-status): {rt:.2f} ms with a connection each (the default), {held_rt:.2f} ms "
                  f"held (hold=True); msix.entries held {held_model:.1f} ms = {1e3 / held_model:.0f}/s")
    finally:
        vm.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
