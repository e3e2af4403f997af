"""Link health and errors of a function: the link against what both registers say it could do, the
kernel's AER counters, the errors latched in the AER capability, and Downstream Port Containment.

- Link: PCI_EXP_LNKSTA (current speed and width) against the capability -- the highest speed in
  PCI_EXP_LNKCAP2_SLS when that vector is set, else PCI_EXP_LNKCAP_SLS, as Linux's pcie_get_speed_cap;
  PCI_EXP_LNKCAP_MLW for the width.  Like lspci, a slower link counts as downgraded only at its upstream
  end (an endpoint or upstream port): a downstream port's link is limited by whatever is plugged in.
- sysfs, when the source has it: current_link_speed/width, max_link_speed/width, and the AER counters
  aer_dev_correctable/fatal/nonfatal and, for root ports and event collectors,
  aer_rootport_total_err_cor/fatal/nonfatal (drivers/pci/pcie/aer.c, formats in fake_kernel.py).
- DPC: PCI_EXP_DPC_STATUS_TRIGGER set means the port has contained (disabled) its link.

`findings(fn)` gives doctor findings with the fix; `health(fn)` the facts; `summary(fn)` one word for ls.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

from .errors import InputError
from .regs.caps.express import DOWNSTREAM_PORTS, LINK_SPEEDS, LINKLESS, PORT_TYPES
from .sources.kernel_files import read_kernel_file

TYPE_CHECKING = False  # typing's constant without importing typing: `ls` imports this module
if TYPE_CHECKING:
    from typing import Any

    from .doctor import Finding
    from .model import Function

#: GT/s of each PCI_EXP_LNKSTA_CLS / LNKCAP_SLS encoding, and the payload share of the line code
#: (8b/10b up to 5GT/s, 128b/130b from 8GT/s, FLIT mode at 64GT/s counted as 1)
GTS = {1: 2.5, 2: 5.0, 3: 8.0, 4: 16.0, 5: 32.0, 6: 64.0}
ENCODING = {1: 0.8, 2: 0.8, 3: 128 / 130, 4: 128 / 130, 5: 128 / 130, 6: 1.0}
AER_DEV_FILES = ("aer_dev_correctable", "aer_dev_nonfatal", "aer_dev_fatal")
AER_ROOT_FILES = ("aer_rootport_total_err_cor", "aer_rootport_total_err_nonfatal", "aer_rootport_total_err_fatal")
LINK_FILES = ("current_link_speed", "current_link_width", "max_link_speed", "max_link_width")


@dataclass(slots=True)
class Link:
    port_type: int | None
    speed: int | None  # PCI_EXP_LNKSTA_CLS encoding
    width: int | None  # PCI_EXP_LNKSTA_NLW
    max_speed: int | None  # from LNKCAP2 SLS (highest bit) or LNKCAP SLS
    max_width: int | None  # PCI_EXP_LNKCAP_MLW

    @property
    def upstream_end(self) -> bool:
        """The end whose shortfall lspci calls downgraded (not a downstream port)."""
        return self.port_type not in DOWNSTREAM_PORTS

    @property
    def speed_downgraded(self) -> bool:
        return bool(self.upstream_end and self.speed and self.max_speed and self.speed < self.max_speed)

    @property
    def width_downgraded(self) -> bool:
        return bool(self.upstream_end and self.width and self.max_width and self.width < self.max_width)

    @property
    def bandwidth_share(self) -> float | None:
        """Usable bandwidth now over what the function is capable of (1.0: full), or None if unknown."""
        if not (self.speed in GTS and self.max_speed in GTS and self.width and self.max_width):
            return None
        now = GTS[self.speed] * ENCODING[self.speed] * self.width
        best = GTS[self.max_speed] * ENCODING[self.max_speed] * self.max_width
        return now / best

    def text(self) -> str:
        def one(speed: int | None, width: int | None) -> str:
            return f"{LINK_SPEEDS.get(speed or 0, '?')} x{width if width is not None else '?'}"
        out = f"{one(self.speed, self.width)} of {one(self.max_speed, self.max_width)}"
        share = self.bandwidth_share
        if self.speed_downgraded or self.width_downgraded:
            what = " and ".join(w for w, d in (("speed", self.speed_downgraded), ("width", self.width_downgraded))
                                if d)
            out += f" ({what} downgraded" + (f": {share:.0%} of the bandwidth)" if share is not None else ")")
        return out


@dataclass(slots=True)
class AerCounters:
    """One of the kernel's AER counter files: named counts and the TOTAL_ line."""

    counts: dict[str, int] = field(default_factory=dict)
    total: int | None = None


@dataclass(slots=True)
class Health:
    function: str
    link: Link | None = None
    sysfs_link: dict[str, str] = field(default_factory=dict)  # the four link files, as the kernel wrote them
    aer: dict[str, AerCounters] = field(default_factory=dict)  # file name -> counters
    rootport: dict[str, int] = field(default_factory=dict)  # aer_rootport_total_err_* -> count
    uncor_status: int | None = None  # PCI_ERR_UNCOR_STATUS, errors latched and not masked
    cor_status: int | None = None  # PCI_ERR_COR_STATUS, unmasked
    dpc_status: int | None = None  # PCI_EXP_DPC_STATUS
    dpc_source: int | None = None  # PCI_EXP_DPC_SOURCE_ID
    notes: list[str] = field(default_factory=list)

    @property
    def dpc_triggered(self) -> bool:
        return bool(self.dpc_status is not None and self.dpc_status & 1)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.link is not None:
            d["link"].update(speed_downgraded=self.link.speed_downgraded, width_downgraded=self.link.width_downgraded,
                             bandwidth_share=self.link.bandwidth_share, text=self.link.text())
        d["dpc_triggered"] = self.dpc_triggered
        return d


def parse_aer_counters(text: str, file: str = "aer_dev_*") -> AerCounters:
    """An aer_dev_* file: "NAME COUNT" per line (named bits, "<array>_bit[N]" for unnamed ones) and
    "TOTAL_ERR_COR|ERR_FATAL|ERR_NONFATAL COUNT" last."""
    out = AerCounters()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, _, value = line.strip().rpartition(" ")
        if not name or not value.isdigit():
            raise InputError(f"expected 'NAME COUNT', got {line.strip()[:60]!r}", file=file, line=number)
        if name.startswith("TOTAL_"):
            out.total = int(value)
        else:
            out.counts[name] = int(value)
    return out


def _sysfs_dir(fn: Function) -> str | None:
    return fn.source.function_dir(fn.address) if fn.source.kind == "sysfs" else None


def link_of(fn: Function) -> Link | None:
    exp = fn.cap("exp")
    if exp is None:
        return None
    port_type = exp.get("PCI_EXP_FLAGS", "PCI_EXP_FLAGS_TYPE")
    if port_type in LINKLESS:
        return None
    # LNKCAP2 exists from capability version 2 on (pcie_capability_reg_implemented reads 0 before)
    sls2 = exp.get("PCI_EXP_LNKCAP2", "PCI_EXP_LNKCAP2_SLS") if (exp.get("PCI_EXP_FLAGS", "PCI_EXP_FLAGS_VERS") or 0) >= 2 else 0
    max_speed = sls2.bit_length() if sls2 else exp.get("PCI_EXP_LNKCAP", "PCI_EXP_LNKCAP_SLS")
    return Link(port_type, exp.get("PCI_EXP_LNKSTA", "PCI_EXP_LNKSTA_CLS"), exp.get("PCI_EXP_LNKSTA", "PCI_EXP_LNKSTA_NLW"),
                max_speed, exp.get("PCI_EXP_LNKCAP", "PCI_EXP_LNKCAP_MLW"))


def health(fn: Function) -> Health:
    h = Health(str(fn.address), link_of(fn))
    aer = fn.cap("aer")
    if aer is not None:
        uncor, umask = aer.get("PCI_ERR_UNCOR_STATUS"), aer.get("PCI_ERR_UNCOR_MASK")
        cor, cmask = aer.get("PCI_ERR_COR_STATUS"), aer.get("PCI_ERR_COR_MASK")
        h.uncor_status = None if uncor is None else uncor & ~(umask or 0)
        h.cor_status = None if cor is None else cor & ~(cmask or 0)
    dpc = fn.cap("dpc")
    if dpc is not None:
        h.dpc_status, h.dpc_source = dpc.get("PCI_EXP_DPC_STATUS"), dpc.get("PCI_EXP_DPC_SOURCE_ID")
    d = _sysfs_dir(fn)
    if d is None:
        return h
    try:
        present = set(os.listdir(d))  # one directory read instead of ten failed opens per function
    except OSError:
        present = set()
    for name in LINK_FILES:
        text = read_kernel_file(f"{d}/{name}") if name in present else None
        if text is not None:
            h.sysfs_link[name] = text.strip()
    _compare_sysfs(h)
    for name in AER_DEV_FILES:
        text = read_kernel_file(f"{d}/{name}") if name in present else None
        if text is not None:
            try:
                h.aer[name] = parse_aer_counters(text, f"{d}/{name}")
            except InputError as e:
                h.notes.append(str(e))
    for name in AER_ROOT_FILES:
        text = read_kernel_file(f"{d}/{name}") if name in present else None
        if text is not None and text.strip().isdigit():
            h.rootport[name] = int(text)
    return h


def sysfs_speed(text: str) -> int | None:
    """The LNKSTA_CLS encoding of a current/max_link_speed file ("16.0 GT/s PCIe"; older kernels wrote
    "8 GT/s" or "5.0 GT/s"), or None for "Unknown" and other text."""
    try:
        gts = float(text.split()[0])
    except (IndexError, ValueError):
        return None
    return next((code for code, value in GTS.items() if value == gts), None)


def _compare_sysfs(h: Health) -> None:
    """The kernel's link files read the same registers: say so when they tell another story."""
    if h.link is None:
        return
    pairs = (("current_link_speed", sysfs_speed, h.link.speed), ("max_link_speed", sysfs_speed, h.link.max_speed),
             ("current_link_width", _int, h.link.width), ("max_link_width", _int, h.link.max_width))
    for name, parse, ours in pairs:
        if name in h.sysfs_link and ours is not None and parse(h.sysfs_link[name]) != ours:
            h.notes.append(f"sysfs {name} is {h.sysfs_link[name]!r} but config space says "
                           f"{LINK_SPEEDS.get(ours, ours) if 'speed' in name else ours} (read at another moment, "
                           "or the link retrained)")


def _int(text: str) -> int | None:
    return int(text) if text.strip().isdigit() else None


def summary(fn: Function) -> str:
    """One blank-free word for `ls`: "-" (no link, no AER), "ok", or what is wrong, comma-separated."""
    h = health(fn)
    bad = []
    if h.link and (h.link.speed_downgraded or h.link.width_downgraded):
        link = h.link
        bad.append(f"link:{LINK_SPEEDS.get(link.speed or 0, '?')}x{link.width}<{LINK_SPEEDS.get(link.max_speed or 0, '?')}"
                   f"x{link.max_width}")
    for name, c in h.aer.items():
        if c.total:
            bad.append(f"{name.removeprefix('aer_dev_')[:3]}:{c.total}")
    if h.uncor_status:
        bad.append(f"UESta:{h.uncor_status:#x}")
    if h.dpc_triggered:
        bad.append("dpc")
    if bad:
        return ",".join(bad)
    return "ok" if h.link or h.aer or h.uncor_status is not None else "-"


# -- doctor findings ------------------------------------------------------------------------------------
def findings(fn: Function) -> Iterator[Finding]:
    from .doctor import Finding

    h = health(fn)
    device = str(fn.address)
    exp = fn.cap("exp")
    link = h.link
    if link and exp and (link.speed_downgraded or link.width_downgraded):
        off = exp.offset + 0x12
        kind = PORT_TYPES.get(link.port_type or 0, "function")
        fixes = []
        if link.width_downgraded:
            fixes.append(f"x{link.width} of x{link.max_width} lanes trained: check the slot is wired for x{link.max_width} "
                         "(many x16 slots carry x4 or x8), reseat the card, check risers and cables")
        if link.speed_downgraded:
            fixes.append(f"{LINK_SPEEDS.get(link.speed or 0)} instead of {LINK_SPEEDS.get(link.max_speed or 0)}: the "
                         "other end or the firmware may cap the speed (PCI_EXP_LNKCTL2 Target Link Speed, the BIOS's "
                         "PCIe generation setting); retrain with PCI_EXP_LNKCTL_RL on the port above")
        yield Finding(
            "link_downgraded", "warning", device, f"PCI_EXP_LNKSTA ({off:#x})",
            f"{kind} link runs at {link.text()}",
            "PCIe 6.0 §7.5.3.8: Current Link Speed and Negotiated Link Width are what training reached; "
            "below PCI_EXP_LNKCAP/LNKCAP2 at an upstream end, the link or its partner limits the device",
            "; ".join(fixes) + " (lspci marks the same '(downgraded)')", offset=off)
    yield from _aer_findings(fn, h, device)
    if h.dpc_triggered:
        dpc = fn.cap("dpc")
        off = dpc.offset + 0x08 if dpc else None
        reason = dpc.get("PCI_EXP_DPC_STATUS", "PCI_EXP_DPC_STATUS_TRIGGER_RSN") if dpc else None
        src = h.dpc_source or 0
        yield Finding(
            "dpc_triggered", "error", device, f"PCI_EXP_DPC_STATUS ({off:#x})" if off is not None else "DPC",
            f"Downstream Port Containment has disabled the link below this port (reason {reason}, "
            f"source {src >> 8:02x}:{src >> 3 & 0x1f:02x}.{src & 7})",
            "PCIe 6.0 §6.2.11: on a DPC trigger the port takes its link down until software clears "
            "PCI_EXP_DPC_STATUS_TRIGGER",
            "find the error in dmesg (the AER log of the source device); Linux's pcie_do_recovery clears the trigger; "
            "if the link stays down, fix the device, then write 1 to PCI_EXP_DPC_STATUS_TRIGGER or remove and "
            "rescan the device (echo 1 > /sys/bus/pci/devices/DEV/remove; echo 1 > /sys/bus/pci/rescan)", offset=off)


def _aer_findings(fn: Function, h: Health, device: str) -> Iterator[Finding]:
    from .doctor import Finding

    severity = {"aer_dev_correctable": "warning", "aer_dev_nonfatal": "error", "aer_dev_fatal": "error"}
    fix = {"aer_dev_correctable": "correctable errors were fixed by the link (replays); many of them mean poor signal "
                                  "integrity: reseat the card, check risers and cables, try a lower link speed; watch "
                                  "whether they keep rising with 'pciexplore health'",
           "aer_dev_nonfatal": "read the AER header log in dmesg (the TLP that failed); the driver's error handler ran "
                               "(pci_error_handlers); if the device misbehaves, reset it (echo 1 > "
                               "/sys/bus/pci/devices/DEV/reset)",
           "aer_dev_fatal": "the link was reset by Linux's recovery (or DPC); read dmesg for the AER log; a device "
                            "that keeps sending ERR_FATAL needs replacing or a firmware fix"}
    for name, c in h.aer.items():
        if c.total:
            counted = ", ".join(f"{k} {v}" for k, v in c.counts.items() if v)
            yield Finding(
                "aer_errors", severity[name], device, f"sysfs {name}",
                f"the kernel counted {c.total} {name.removeprefix('aer_dev_')} error message(s)"
                + (f": {counted}" if counted else ""),
                "PCIe 6.0 §6.2: errors the device detected are signalled as ERR_COR, ERR_NONFATAL or ERR_FATAL "
                "messages; Linux's AER driver counts them per device (drivers/pci/pcie/aer.c)", fix[name])
    totals = {k.removeprefix("aer_rootport_total_err_"): v for k, v in h.rootport.items() if v}
    if totals:
        yield Finding(
            "aer_rootport", "info", device, "sysfs aer_rootport_total_err_*",
            "this root port received error messages from below: " + ", ".join(f"{k} {v}" for k, v in totals.items()),
            "PCIe 6.0 §6.2.6: a Root Port collects the ERR_* messages of the hierarchy below it",
            "look at the aer_dev_* counters of the devices below this port to find the sender")
    aer = fn.cap("aer")
    if h.uncor_status and aer is not None:
        yield Finding(
            "aer_uncorrectable_latched", "warning", device, f"PCI_ERR_UNCOR_STATUS ({aer.offset + 4:#x})",
            f"unmasked uncorrectable error status bits are set: {h.uncor_status:#010x}",
            "PCIe 6.0 §7.8.4.2: the bits stay set until software writes 1 to clear them",
            "if Linux owns AER (no 'AER: ... firmware first' in dmesg) it clears them when it handles the error; "
            "bits that stay mean nobody handled it: see dmesg, then clear them (setpci ECAP_AER+4.L=VALUE)",
            offset=aer.offset + 4)
