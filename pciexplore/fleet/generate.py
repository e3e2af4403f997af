"""A generated fleet for demos, tests and the benchmark: N hosts, each one capture of the same nine
simulated functions (four e1000e-like NICs, five NVMe-like controllers, as their Linux drivers leave
them), with what differs between real machines (IRQ lines, which CPUs the vectors go to) and, on some
hosts, something wrong:

    degraded-link      an NVMe link trained at a lower speed or width than its capability
    function-mask      a function's MSI-X Function Mask left set (PCI_MSIX_FLAGS_MASKALL)
    masked-vectors     vectors left masked in a function's MSI-X table (one of them pending)
    config-differs     a function's Max Payload / Max Read Request differs from the others'

    faults = pciexplore.fleet.generate.fleet("captures/", hosts=200, seed=1)   # {host: [(fault, address)]}

Same arguments, same files: a fixed seed, and times counted from a fixed start.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ..capture import format as fmt
from ..capture.format import Annotation, BarWindow, CapturedFunction

FAULTS = ("degraded-link", "function-mask", "masked-vectors", "config-differs")
#: share of hosts with each fault (a host may have several)
RATES = {"degraded-link": 0.04, "function-mask": 0.02, "masked-vectors": 0.03, "config-differs": 0.03}
SPEC = "sim:" + "+".join(["nic,driver"] * 4 + ["nvme,driver"] * 5)
DRIVERS = {0x10D3: ("e1000e", ["e1000e"]), 0x0010: ("nvme", ["nvme"])}
START = datetime(2026, 11, 1, tzinfo=timezone.utc)


class _Template:
    """One function as the simulator and its driver set-up leave it, with where the bytes we vary are."""

    def __init__(self, fn, cf: CapturedFunction) -> None:
        self.cf = cf
        self.nvme = fn.device_id == 0x0010
        self.exp = fn.cap("exp").offset
        self.msix = fn.cap("msix").offset
        regs = fn.msix.regs()
        self.size = regs.size
        self.table_offset, self.pba_offset = regs.table_offset, regs.pba_offset


def templates() -> list[_Template]:
    import pciexplore

    from ..capture import take

    with pciexplore.open(SPEC) as src:
        cap = take(src)
    return [_Template(cap.function(cf.address), cf) for cf in (cap.captured(a) for a in sorted(cap.addresses()))]


def _put(buf: bytearray, offset: int, width: int, value: int) -> None:
    buf[offset : offset + width] = value.to_bytes(width, "little")


def _get(buf: bytearray | bytes, offset: int, width: int) -> int:
    return int.from_bytes(buf[offset : offset + width], "little")


def host_capture(index: int, tpls: list[_Template], seed: int = 0,
                 rates: dict[str, float] | None = None) -> tuple[dict, list[tuple[str, str]]]:
    """The capture document of host `index` and the faults put into it [(fault, address)]."""
    rng = random.Random(seed * 1_000_003 + index)
    host = f"host-{index:05d}"
    faults = [f for f in FAULTS if rng.random() < (rates or RATES)[f]]
    fnodes = []
    injected: list[tuple[str, str]] = []
    notes: list[Annotation] = []
    cpus = rng.choice((8, 16, 32, 64))
    victims = {f: rng.choice([t for t in tpls if t.nvme] if f == "degraded-link" else tpls) for f in faults}
    when = (START + timedelta(minutes=index)).isoformat(timespec="seconds").replace("+00:00", "Z")
    for t in tpls:
        cfg = bytearray(t.cf.config)
        _put(cfg, 0x3C, 1, rng.randrange(16, 64))  # PCI_INTERRUPT_LINE: what firmware routed
        # links: NVMe 8GT/s x4, NIC 5GT/s x1; PCI_EXP_LNKCAP2_SLS lists every speed up to the maximum
        speed, width = (3, 4) if t.nvme else (2, 1)
        _put(cfg, t.exp + 0x0C, 4, (_get(cfg, t.exp + 0x0C, 4) & ~0x3FF) | width << 4 | speed)
        _put(cfg, t.exp + 0x2C, 4, (_get(cfg, t.exp + 0x2C, 4) & ~0xFE) | ((1 << speed) - 1) << 1)
        sta_speed, sta_width = speed, width
        table = next(w for w in t.cf.windows if w.what == "msix-table")
        pba = next(w for w in t.cf.windows if w.what == "msix-pba")
        tdata, pdata = bytearray(table.data), bytearray(pba.data)
        for v in range(t.size):  # each vector to its own CPU's APIC, as irqbalance spreads them
            addr = _get(tdata, 16 * v, 4)
            _put(tdata, 16 * v, 4, (addr & ~0xFF000) | rng.randrange(cpus) << 12)
        address = str(t.cf.address)
        for f in faults:
            if victims[f] is not t:
                continue
            injected.append((f, address))
            if f == "degraded-link":
                sta_speed, sta_width = rng.choice(((speed, 2), (speed, 1), (1, width), (2, width), (1, 1)))
                notes.append(_note(t, address, t.exp + 0x12, 2, "PCI_EXP_LNKSTA",
                                   f"link trained at gen{sta_speed} x{sta_width}: reseat the drive?", when))
            elif f == "function-mask":
                at = t.msix + 2
                _put(cfg, at, 2, _get(cfg, at, 2) | 0x4000)
                notes.append(_note(t, address, at + 1, 1, "PCI_MSIX_FLAGS_MASKALL",
                                   "Function Mask left set after the driver reloaded", when))
            elif f == "masked-vectors":
                masked = sorted(rng.sample(range(t.size), rng.randint(1, min(3, t.size))))
                for v in masked:
                    _put(tdata, 16 * v + 12, 4, _get(tdata, 16 * v + 12, 4) | 1)
                pdata[masked[0] // 8] |= 1 << (masked[0] % 8)  # an event came while it was masked
            elif f == "config-differs":
                at = t.exp + 0x08  # PCI_EXP_DEVCTL: Max_Payload_Size 7:5, Max_Read_Request_Size 14:12
                _put(cfg, at, 2, (_get(cfg, at, 2) & ~0x70E0) | 0x5000 | 0x0020)
        _put(cfg, t.exp + 0x12, 2, (_get(cfg, t.exp + 0x12, 2) & ~0x3FF) | sta_width << 4 | sta_speed)
        driver, modules = DRIVERS[_get(cfg, 2, 2)]
        kernel = dict(t.cf.kernel or {}, driver=driver, modules=modules)
        fnodes.append(replace(t.cf, config=bytes(cfg), kernel=kernel,
                              windows=[BarWindow(table.bar, table.offset, bytes(tdata), table.what),
                                       BarWindow(pba.bar, pba.offset, bytes(pdata), pba.what)]))
    metadata = {"title": f"{host}: nine functions", "tool": "pciexplore.fleet.generate", "time": when,
                "host": host, "kernel": rng.choice(("6.1.0-27-amd64", "6.1.0-28-amd64", "6.12.9-amd64")),
                "source_kind": "sysfs", "source": "sysfs", "how": "pciexplore.fleet.generate.fleet()"}
    return fmt.to_json(fnodes, metadata, notes), injected


def _note(t: _Template, address: str, offset: int, length: int, field: str, text: str, when: str) -> Annotation:
    return Annotation(t.cf.address, offset, length, text, "oncall", when, ["triage"], field)


def fleet(folder: str | Path, hosts: int, seed: int = 0, start: int = 0,
          rates: dict[str, float] | None = None) -> dict[str, list[tuple[str, str]]]:
    """Write captures of hosts `start`..`start + hosts - 1` into `folder` (one JSON file each); returns
    the faults put into each host that has any.  `rates`: share of hosts with each fault (RATES)."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    tpls = templates()
    faults = {}
    for i in range(start, start + hosts):
        doc, injected = host_capture(i, tpls, seed, rates)
        (out / f"host-{i:05d}.json").write_bytes(fmt.dumps(doc))
        if injected:
            faults[f"host-{i:05d}"] = injected
    return faults
