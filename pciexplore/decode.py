"""Capability walks over config bytes: pure functions, no I/O, never loop, never read past the data.

The walks follow lspci's order and stopping rules exactly (so that our text matches lspci line for
line) and record every irregularity as a `Problem` naming the pointer and where it was found.
"""

from __future__ import annotations

from collections import namedtuple

PCI_STATUS = 0x06
PCI_STATUS_CAP_LIST = 0x10
PCI_HEADER_TYPE = 0x0E
PCI_CAPABILITY_LIST = 0x34
PCI_CB_CAPABILITY_LIST = 0x14
PCI_EXT_CAP_START = 0x100
MAX_STD_CAPS = 48  # (256 - 64) / 4: more than this means the chain loops
MAX_EXT_CAPS = 960  # (4096 - 256) / 4


class Problem(namedtuple("Problem", "offset kind message extended", defaults=(False,))):
    """Something wrong in what was read; `kind` is stable for programs, `message` is for people: offset
    (int), kind ("access_denied", "looped", "broken", "pointer_in_header", "truncated", ...), message and
    extended (bool).  A namedtuple, not a dataclass: dataclasses' import cost every command's start-up."""

    __slots__ = ()

    def __str__(self) -> str:
        return f"offset 0x{self.offset:x}: {self.message}"


class Found(namedtuple("Found", "offset cap_id next version extended", defaults=(0, False))):
    """One capability a walk found (a tuple: made for every capability of every function, so cheap to build;
    collections' namedtuple, as typing's would cost every command's start-up the typing module): offset,
    cap_id and next pointer (ints), version (extended capabilities only) and extended (bool)."""

    __slots__ = ()


def _u8(cfg: bytes, off: int) -> int:
    return cfg[off]


def _u16(cfg: bytes, off: int) -> int:
    return cfg[off] | cfg[off + 1] << 8


def _u32(cfg: bytes, off: int) -> int:
    return int.from_bytes(cfg[off : off + 4], "little")


KNOWN_HEADER_TYPES = (0, 1, 2)  # PCI_HEADER_TYPE_NORMAL, _BRIDGE, _CARDBUS


def header_problem(cfg: bytes) -> Problem | None:
    """Why nothing past the header's first 16 bytes can be decoded, or None: a function that does not
    answer (a read of an absent or dead device returns all ones) or a header type lspci does not know
    ("Unknown header type"; it then shows no capabilities, and neither do we)."""
    if cfg[:2] == b"\xff\xff" and cfg.count(0xFF) == len(cfg):
        return Problem(0, "no_answer", "the function does not answer: all 0xFF (an absent, unplugged or dead "
                       "device)")
    htype = cfg[PCI_HEADER_TYPE] & 0x7F if len(cfg) > PCI_HEADER_TYPE else 0
    if htype not in KNOWN_HEADER_TYPES:
        return Problem(PCI_HEADER_TYPE, "unknown_header", f"Unknown header type {htype:02x}: its layout is not "
                       "known, so no capabilities are read")
    return None


def walk_standard(cfg: bytes) -> tuple[list[Found], list[Problem]]:
    """The standard capability list (PCI 3.0 §6.7), as lspci walks it."""
    found: list[Found] = []
    problems: list[Problem] = []
    if len(cfg) < 0x40 or not _u16(cfg, PCI_STATUS) & PCI_STATUS_CAP_LIST:
        return found, problems
    htype = cfg[PCI_HEADER_TYPE] & 0x7F
    ptr_at = PCI_CB_CAPABILITY_LIST if htype == 2 else PCI_CAPABILITY_LIST
    where = cfg[ptr_at] & ~3
    came_from = ptr_at
    seen: set[int] = set()
    while where:
        if where + 4 > len(cfg):
            kind = "access_denied" if len(cfg) <= 0x40 else "truncated"
            problems.append(Problem(where, kind, f"capability pointer 0x{where:02x} at 0x{came_from:02x} "
                                    f"points past the {len(cfg)} bytes available"))
            break
        if where in seen or len(found) >= MAX_STD_CAPS:
            problems.append(Problem(where, "looped", f"capability chain loops: pointer at 0x{came_from:02x} "
                                    f"leads back to 0x{where:02x}"))
            break
        seen.add(where)
        cap_id = cfg[where]
        nxt = cfg[where + 1] & ~3
        if cap_id == 0xFF:
            problems.append(Problem(where, "broken", f"capability chain broken: id 0xff at 0x{where:02x} "
                                    f"(reached from 0x{came_from:02x})"))
            break
        if where < 0x40:
            problems.append(Problem(where, "pointer_in_header",
                                    f"capability pointer at 0x{came_from:02x} points into the header (0x{where:02x})"))
        found.append(Found(where, cap_id, nxt))
        came_from, where = where + 1, nxt
    return found, problems


def walk_extended(cfg: bytes) -> tuple[list[Found], list[Problem]]:
    """The extended capability list from 0x100 (PCIe §7.6.3), as lspci walks it."""
    found: list[Found] = []
    problems: list[Problem] = []
    where = PCI_EXT_CAP_START
    came_from = None
    seen: set[int] = set()
    while True:
        if where + 4 > len(cfg):
            if came_from is not None:
                problems.append(Problem(where, "truncated", f"extended capability pointer 0x{where:03x} at "
                                        f"0x{came_from:03x} points past the {len(cfg)} bytes available",
                                        extended=True))
            break
        header = _u32(cfg, where)
        if header in (0, 0xFFFFFFFF):
            break
        if where in seen or len(found) >= MAX_EXT_CAPS:
            problems.append(Problem(where, "looped", f"extended capability chain loops back to 0x{where:03x}",
                                    extended=True))
            break
        seen.add(where)
        nxt = (header >> 20) & ~3
        found.append(Found(where, header & 0xFFFF, nxt, (header >> 16) & 0xF, True))
        if nxt and nxt < PCI_EXT_CAP_START:
            problems.append(Problem(where, "pointer_in_header", f"extended capability at 0x{where:03x} points "
                                    f"below 0x100 (0x{nxt:03x})", extended=True))
        if not nxt:
            break
        came_from, where = where, nxt
    return found, problems
