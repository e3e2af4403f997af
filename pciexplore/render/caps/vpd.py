"""lspci text for Vital Product Data (ls-vpd.c cap_vpd): the tagged resources of the VPD image the
source reads through the kernel (sysfs `vpd`); dumps have none, so lspci prints "Not readable"."""

from __future__ import annotations

from ..lspci import NOT_REUSABLE

TYPE_CHECKING = False  # typing's constant without importing typing: every `show -v` imports this module


if TYPE_CHECKING:
    from ...model import Capability
    from ..lspci import Ctx

VPD_SIZE = 0x8000  # PCI_VPD_ADDR_MASK + 1: VPD addresses are 15 bits
TAG_END = 0x0F
TAG_ID_STRING = 0x82
TAG_VPD_R = 0x90
TAG_VPD_W = 0x91

# (keyword, how lspci shows the value, name); a one-letter keyword matches any second letter
_TEXT, _BINARY, _RESERVED, _READ_WRITE = range(4)
_KEYWORDS = [
    ("CP", _BINARY, "Extended capability"), ("EC", _TEXT, "Engineering changes"),
    ("MN", _TEXT, "Manufacture ID"), ("PN", _TEXT, "Part number"), ("RV", _RESERVED, "Reserved"),
    ("RW", _READ_WRITE, "Read-write area"), ("SN", _TEXT, "Serial number"), ("YA", _TEXT, "Asset tag"),
    ("V", _TEXT, "Vendor specific"), ("Y", _TEXT, "System specific"),
    ("CC", _TEXT, "CCIN"), ("FC", _TEXT, "Feature code"), ("FN", _TEXT, "FRU"), ("NA", _TEXT, "Network address"),
    ("RM", _TEXT, "Firmware version"), ("Z", _TEXT, "Product specific"),
]


def _keyword(key: bytes) -> tuple[int, str]:
    for kw, fmt, name in _KEYWORDS:
        if key[0] == ord(kw[0]) and (len(kw) == 1 or key[1] == ord(kw[1])):
            return fmt, name
    return _BINARY, "Unknown"


def _string(data: bytes) -> str:
    """Printable as is, backslash doubled, controls as \\xNN; a NUL as the last byte is dropped."""
    out = []
    for n, ch in enumerate(data):
        if ch == 0x5C:
            out.append("\\\\")
        elif ch == 0 and n == len(data) - 1:
            continue
        elif ch < 32 or ch == 127:
            out.append(f"\\x{ch:02x}")
        else:
            out.append(chr(ch))  # lspci writes the raw byte; latin-1 keeps it one character
    return "".join(out)


class _Reader:
    """lspci's read_vpd(): all-or-nothing reads that add every byte read to a running checksum."""

    def __init__(self, image: bytes | None) -> None:
        self.image = image or b""
        self.csum = 0

    def read(self, pos: int, length: int) -> bytes | None:
        if pos + length > len(self.image):
            return None
        data = self.image[pos : pos + length]
        self.csum = (self.csum + sum(data)) & 0xFF
        return data


def vpd_lines(image: bytes | None) -> list[str]:
    """The lines lspci -vv prints under "Vital Product Data" for this VPD image (None: not readable)."""
    rd = _Reader(image)
    lines: list[str] = []
    addr = 0
    while addr < VPD_SIZE:
        head = rd.read(addr, 1)
        if head is None:
            break
        tag = head[0]
        if tag & 0x80:
            if addr > VPD_SIZE - 3:
                break
            size = rd.read(addr + 1, 2)
            if size is None:
                break
            length = int.from_bytes(size, "little")
            addr += 3
        else:
            length = tag & 7
            tag >>= 3
            addr += 1
        if length > VPD_SIZE - addr:
            break
        if tag == TAG_END:
            lines.append("\t\tEnd")
            return lines
        if tag == TAG_ID_STRING:
            lines.append(f"\t\tProduct Name: {_string_chunks(rd, addr, length)}")
        elif tag in (TAG_VPD_R, TAG_VPD_W):
            lines.append(f"\t\t{'Read-only' if tag == TAG_VPD_R else 'Read/write'} fields:")
            _fields(rd, addr, length, lines)
        else:
            lines.append(f"\t\tUnknown {'large' if tag & 0x80 else 'small'} resource type {tag & 0x7F:02x}, "
                         "will not decode more.")
            return lines
        addr += length
    lines.append("\t\tNot readable" if addr == 0 else "\t\tNo end tag found")
    return lines


def _string_chunks(rd: _Reader, start: int, length: int) -> str:
    """A string read 256 bytes at a time, as lspci does: a failed read ends it where it is."""
    text = []
    for pos in range(start, start + length, 256):
        data = rd.read(pos, min(256, start + length - pos))
        if data is None:
            break
        text.append(_string(data))
    return "".join(text)


def _fields(rd: _Reader, start: int, length: int, lines: list[str]) -> None:
    pos = 0
    while pos + 3 <= length:
        head = rd.read(start + pos, 3)
        if head is None:
            return
        pos += 3
        key, size = head[:2], head[2]
        if size > length - pos:
            return
        fmt, name = _keyword(key)
        # only the first byte of RV counts: the rest is not covered by the checksum
        data = rd.read(start + pos, 1 if fmt == _RESERVED else size)
        if data is None:
            return
        text = f"\t\t\t[{_string(key)}] {name}: "
        if fmt == _TEXT:
            text += _string(data)
        elif fmt == _BINARY:
            text += " ".join(f"{b:02x}" for b in data)
        elif fmt == _RESERVED:
            text += f"checksum {'bad' if rd.csum else 'good'}, {size - 1} byte(s) reserved"
        else:
            text += f"{size} byte(s) free"
        lines.append(text)
        pos += size


def cap_vpd(ctx: Ctx, cap: Capability) -> None:
    ctx.p("Vital Product Data\n")
    if ctx.verbose < 2:
        return
    fn = ctx.fn
    ctx.state[NOT_REUSABLE] = True  # the text shows the `vpd` file's bytes, not config space
    for line in vpd_lines(fn.source.read_vpd(fn.address)):
        ctx.p(line + "\n")


RENDERERS = {0x03: cap_vpd}
