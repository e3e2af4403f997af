"""The live-host additions, as ratios measured in one run:

- reading a 2048-vector MSI-X table (32 KiB) from resourceN: aligned DWORDs through periphery's read32
  getter over a run (what the kit does), against read32 calls one by one and the memcpy (MMIO.read)
  it replaced, whose access widths the C library chooses;
- `pciexplore ls` of 4096 fake-sysfs functions with the link-health word, against the same listing
  without it.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from common import corpus_configs, timed_rounds
from sysfs import make_tree

import pciexplore
from pciexplore.commands import ls as ls_command
from pciexplore.sources.fake_sysfs import build_tree


def table_reads(tmp: Path) -> None:
    from periphery import MMIO

    sim = pciexplore.open("sim:nvme,vectors=2048,driver")
    fn = sim.functions()[0]
    dev = sim.devices[fn.address]
    root = build_tree(tmp / "t", [(fn.address, bytes(dev.config))], {fn.address: dict(dev.bar_sizes)},
                      {(fn.address, b): bytes(dev.bar_mem[b]) for b in dev.bar_sizes})
    src = pciexplore.open(str(root))
    live = src.functions()[0]
    r = live.msix.regs()
    size = 16 * r.size
    path = str(src._resource_path(live.address, r.table_bir))

    def by_memcpy() -> bytes:
        with MMIO(r.table_offset, size, path=path) as m:
            return bytes(m.read(0, size))

    def by_read32_calls() -> bytes:
        with MMIO(r.table_offset, size, path=path) as m:
            return b"".join(m.read32(o).to_bytes(4, "little") for o in range(0, size, 4))

    def by_kit() -> bytes:
        return src.read_bar(live.address, r.table_bir, r.table_offset, size)

    assert by_kit() == by_memcpy() == by_read32_calls()
    res = timed_rounds({"kit (DWORD run)": by_kit, "read32 calls": by_read32_calls, "memcpy (before)": by_memcpy},
                       repeat=15)
    print(f"2048-vector MSI-X table ({size} bytes) from resource{r.table_bir}, best of 15:")
    for label, (best, median, _) in res.items():
        print(f"  {label:18s} best {best * 1e3:7.2f} ms  median {median * 1e3:7.2f} ms")
    print(f"  read32 calls / kit: {res['read32 calls'][0] / res['kit (DWORD run)'][0]:.1f}x")


def ls_health(tmp: Path) -> None:
    root = make_tree(tmp / "ls", 4096, corpus_configs())
    real = ls_command.summary

    def listing(with_health: bool):
        def run() -> None:
            ls_command.summary = real if with_health else (lambda fn: "-")
            try:
                ls_command.ls_text(pciexplore.open(str(root)))
            finally:
                ls_command.summary = real
        return run

    res = timed_rounds({"ls with health": listing(True), "ls without": listing(False)}, repeat=3)
    print("ls of 4096 fake-sysfs functions, best of 3:")
    for label, (best, median, _) in res.items():
        print(f"  {label:18s} best {best:6.2f} s  median {median:6.2f} s")
    print(f"  with / without: {res['ls with health'][0] / res['ls without'][0]:.2f}x")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        table_reads(Path(tmp))
        ls_health(Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
