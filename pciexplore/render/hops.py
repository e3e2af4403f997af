"""The path of one interrupt as a picture: lanes of boxes ("hops") joined by arrows, as SVG.

    lane "MSI-X":  [capability] → [table entry 3] →(memory write)→ [LAPIC 1] → [handler]

Each hop names where the interrupt is and what decides its way on (a register, a table, a route).  A
solid border marks what the kit read or decoded from the device here; a dashed border what lies beyond
what the kit can observe and is drawn from the specifications.  A hop where the interrupt stops (masked,
INTx Disable, Bus Master off) says so in words on a thick double border, and the hops after it are faded.

Layout does not depend on the font that renders it: every text width is estimated from DejaVu Sans's
advance widths (the widest of the usual sans fonts; Liberation Sans and Arial are narrower) plus slack,
boxes are sized from that, a lane wraps onto a next line before it gets wider than `max_width` (820 px: JupyterLab's output area at
1280 px with the file browser open is ~830 px), and the
SVG carries a viewBox so it scales down in a narrow page instead of being cut off.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

TITLE_SIZE, LINE_SIZE, VIA_SIZE, LABEL_SIZE = 13, 12, 11, 13
LINE_H = 16  # baseline to baseline
PAD_X, PAD_Y = 9, 7
MIN_BOX_W, MIN_GAP, ROW_GAP, MARGIN = 96, 30, 40, 6
SLACK = 1.08  # on top of DejaVu's widths: kerning-free renderers, hinting, a wider fallback font
FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif"

#: box fill by what the hop is (the title says it too: colour is never the only cue)
FILLS = {"device": "#e3f2fd", "fabric": "#ede7f6", "controller": "#fff3e0", "cpu": "#e8f5e9",
         "software": "#f5f5f5", "hypervisor": "#fce4ec"}
LIVE, PICTURE = "live", "picture"

# DejaVu Sans advance widths in em (units / 2048), for the characters these pictures use
_WIDTHS: dict[str, float] = {
    " ": .318, "!": .401, '"': .460, "#": .838, "%": .950, "&": .780, "'": .275, "(": .390, ")": .390,
    "*": .500, "+": .838, ",": .318, "-": .361, ".": .318, "/": .337, ":": .337, ";": .337, "<": .838,
    "=": .838, ">": .838, "?": .531, "@": 1.0, "[": .390, "\\": .337, "]": .390, "^": .838, "_": .500,
    "{": .636, "|": .337, "}": .636, "~": .838, "←": .838, "→": .838, "↔": .838, "·": .318, "…": 1.0,
    **dict.fromkeys("0123456789", .636),
    **dict(zip("abcdefghijklmnopqrstuvwxyz", (.613, .635, .550, .635, .615, .352, .635, .634, .278, .278, .579,
                                               .278, .974, .634, .612, .635, .635, .411, .521, .392, .634, .592,
                                               .818, .592, .592, .525), strict=True)),
    **dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", (.684, .686, .698, .770, .632, .575, .775, .752, .295, .295, .656,
                                               .557, .863, .748, .787, .603, .787, .695, .635, .611, .732, .684,
                                               .989, .685, .611, .685), strict=True)),
}
_BOLD = 1.12  # DejaVu Sans Bold against Book, on average over these letters


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Estimated rendered width in px: DejaVu Sans advances (1 em for characters not in the table)."""
    return sum(_WIDTHS.get(c, 1.0) for c in text) * size * (_BOLD if bold else 1.0) * SLACK


@dataclass(frozen=True, slots=True)
class Hop:
    """One place on the interrupt's way.  `via` labels the arrow that leads into it (keep it short)."""

    title: str
    lines: tuple[str, ...] = ()
    kind: str = "device"  # a key of FILLS
    seen: str = LIVE  # LIVE: read or decoded by the kit here; PICTURE: drawn from the specs only
    via: str = ""
    stop: str = ""  # why the interrupt goes no further than this hop ("" = it goes on)

    def text(self) -> str:
        parts = [self.title, *self.lines] + ([f"stops here: {self.stop}"] if self.stop else [])
        return " | ".join(parts)


@dataclass(frozen=True, slots=True)
class Lane:
    """One way an interrupt can take, left to right."""

    label: str
    hops: tuple[Hop, ...]
    note: str = ""  # one line under the label

    def text(self) -> str:
        """The lane in words, one hop per line ("→" before every hop but the first)."""
        head = self.label + (f" ({self.note})" if self.note else "")
        body = [("  " if i == 0 else f"  →{' ' + h.via + ' →' if h.via else ''} ") + h.text()
                for i, h in enumerate(self.hops)]
        return "\n".join([head, *body])


@dataclass(slots=True)
class _Box:
    hop: Hop
    x: float
    y: float
    w: float
    h: float
    faded: bool
    lines: list[tuple[str, float, bool]] = field(default_factory=list)  # (text, size, bold)


def _box_lines(hop: Hop) -> list[tuple[str, float, bool]]:
    out = [(hop.title, TITLE_SIZE, True)] + [(t, LINE_SIZE, False) for t in hop.lines]
    if hop.stop:
        out.append((f"stops here: {hop.stop}", LINE_SIZE, True))
    return out


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _layout(lanes: Sequence[Lane], max_width: float) -> tuple[list[tuple[Lane, float, list[_Box]]], float, float]:
    """Place every box: (lane, label y, boxes) per lane, and the picture's width and height."""
    placed = []
    y = MARGIN
    width = 0.0
    for lane in lanes:
        label_y = y + LABEL_SIZE
        width = max(width, MARGIN + text_width(lane.label, LABEL_SIZE, True) + MARGIN,
                    MARGIN + text_width(lane.note, LINE_SIZE) + MARGIN)
        y += LABEL_SIZE + 8 + (LINE_SIZE + 4 if lane.note else 0)
        specs = []
        for hop in lane.hops:
            lines = _box_lines(hop)
            w = max(MIN_BOX_W, max(text_width(t, s, b) for t, s, b in lines) + 2 * PAD_X)
            specs.append((hop, lines, w))
        h = 2 * PAD_Y + LINE_H * max(len(lines) for _, lines, _ in specs) if specs else 0
        gaps = [max(MIN_GAP, text_width(hop.via, VIA_SIZE) + 12) if i else 0 for i, (hop, _, _) in enumerate(specs)]
        starts = _line_starts([w for _, _, w in specs], gaps, max_width - 2 * MARGIN)
        boxes: list[_Box] = []
        x = MARGIN
        stopped = False
        for i, (hop, lines, w) in enumerate(specs):
            gap = gaps[i]
            if i in starts and i:  # wrap: the next line starts at the left again
                x, gap = MARGIN, 0
                y += h + ROW_GAP
            x += gap
            boxes.append(_Box(hop, x, y, w, h, stopped, lines))
            stopped = stopped or bool(hop.stop)
            x += w
            width = max(width, x + MARGIN)
        y += h + 18
        placed.append((lane, label_y, boxes))
    return placed, max(width, 200.0), y


def _greedy(widths: list[float], gaps: list[float], limit: float) -> set[int]:
    """Indexes of the boxes that begin a line when each line takes as many boxes as fit in `limit`."""
    starts, x = {0}, 0.0
    for i, w in enumerate(widths):
        if i and x + gaps[i] + w > limit:
            starts.add(i)
            x = w
        else:
            x += (gaps[i] if i else 0) + w
    return starts


def _line_starts(widths: list[float], gaps: list[float], limit: float) -> set[int]:
    """Where lines begin: as few lines as `limit` allows, with the boxes spread evenly over them (a lane of
    five boxes that needs two lines gets three and two, not four and one alone)."""
    if not widths:
        return set()
    starts = _greedy(widths, gaps, limit)
    lines = len(starts)
    target = sum(widths) / lines
    while lines > 1 and target < limit:  # the narrowest lines that still need no more of them
        even = _greedy(widths, gaps, target)
        if len(even) == lines:
            return even
        target += 8
    return starts


def _arrow(a: _Box, b: _Box) -> str:
    """From box a to box b: straight on one line, an elbow through the gap between lines after a wrap."""
    dash = ' stroke-dasharray="4 3"' if b.faded else ""
    color = "#9e9e9e" if b.faded else "#424242"
    label = ""
    if b.y == a.y:
        mid = a.y + a.h / 2
        shape = f'<line x1="{a.x + a.w:.1f}" y1="{mid:.1f}" x2="{b.x - 3:.1f}" y2="{mid:.1f}"'
        if b.hop.via:
            label = (f'<text x="{(a.x + a.w + b.x) / 2:.1f}" y="{mid - 6:.1f}" font-size="{VIA_SIZE}" '
                     f'text-anchor="middle" font-style="italic" fill="#424242">{_esc(b.hop.via)}</text>')
    else:
        turn = a.y + a.h + ROW_GAP * 0.55
        sx, tx = a.x + a.w / 2, b.x + b.w / 2
        shape = (f'<polyline fill="none" points="{sx:.1f},{a.y + a.h:.1f} {sx:.1f},{turn:.1f} {tx:.1f},{turn:.1f} '
                 f'{tx:.1f},{b.y - 3:.1f}"')
        if b.hop.via:
            label = (f'<text x="{tx + 6:.1f}" y="{turn - 5:.1f}" font-size="{VIA_SIZE}" font-style="italic" '
                     f'fill="#424242">{_esc(b.hop.via)}</text>')
    return (f'{shape} stroke="{color}" stroke-width="1.5"{dash} marker-end="url(#pcx-hop-arrow)"/>'
            f'{label}')


def _box(i: int, b: _Box) -> str:
    hop = b.hop
    fill = FILLS.get(hop.kind, "#ffffff")
    stroke, width, dash = "#37474f", 1.5, ""
    if hop.seen == PICTURE:
        dash = ' stroke-dasharray="6 4"'
    if hop.stop:
        stroke, width = "#b71c1c", 3
    opacity = ' opacity="0.55"' if b.faded else ""
    parts = [f'<g class="pcx-hop" data-hop="{i}" data-seen="{_esc(hop.seen)}"{opacity}>',
             f"<title>{_esc(hop.text())}</title>",
             f'<rect x="{b.x:.1f}" y="{b.y:.1f}" width="{b.w:.1f}" height="{b.h:.1f}" rx="5" fill="{fill}" '
             f'stroke="{stroke}" stroke-width="{width}"{dash}/>']
    if hop.stop:  # a second, inner border: the stop reads without colour too
        parts.append(f'<rect x="{b.x + 4:.1f}" y="{b.y + 4:.1f}" width="{b.w - 8:.1f}" height="{b.h - 8:.1f}" '
                     f'rx="3" fill="none" stroke="{stroke}" stroke-width="1"/>')
    ty = b.y + PAD_Y + TITLE_SIZE
    for text, size, bold in b.lines:
        weight = ' font-weight="bold"' if bold else ""
        color = "#b71c1c" if text.startswith("stops here:") else ("#212121" if bold else "#37474f")
        parts.append(f'<text x="{b.x + PAD_X:.1f}" y="{ty:.1f}" font-size="{size}"{weight} fill="{color}">'
                     f"{_esc(text)}</text>")
        ty += LINE_H
    parts.append("</g>")
    return "".join(parts)


def svg(lanes: Iterable[Lane], max_width: float = 820, title: str = "interrupt path") -> str:
    """The lanes as one SVG: explicit width and height, a viewBox, and max-width 100% to scale down."""
    lanes = list(lanes)
    placed, width, height = _layout(lanes, max_width)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="pcx-hops" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" style="max-width:100%;height:auto" font-family="{FONT}" '
           f'role="img" aria-label="{_esc(title)}"><title>{_esc(title)}</title>',
           '<defs><marker id="pcx-hop-arrow" markerWidth="9" markerHeight="9" refX="8" refY="4.5" orient="auto" '
           'markerUnits="userSpaceOnUse"><path d="M0,0 L9,4.5 L0,9 z" fill="#424242"/></marker></defs>']
    n = 0
    for lane, label_y, boxes in placed:
        out.append(f'<g class="pcx-lane" data-lane="{_esc(lane.label)}">'
                   f'<text class="pcx-lane-label" x="{MARGIN}" y="{label_y:.1f}" font-size="{LABEL_SIZE}" '
                   f'font-weight="bold" fill="#212121">{_esc(lane.label)}</text>')
        if lane.note:
            out.append(f'<text class="pcx-lane-note" x="{MARGIN}" y="{label_y + LINE_SIZE + 4:.1f}" '
                       f'font-size="{LINE_SIZE}" fill="#424242">{_esc(lane.note)}</text>')
        for a, b in zip(boxes, boxes[1:], strict=False):  # each box with the next
            out.append(_arrow(a, b))
        for b in boxes:
            out.append(_box(n, b))
            n += 1
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


LEGEND = ("solid border: read or decoded by the kit from the device here · dashed border: beyond what the kit "
          "can observe, drawn from the specifications · thick double border: the interrupt stops there")


def html_block(lanes: Iterable[Lane], max_width: float = 820, title: str = "interrupt path") -> str:
    """The picture with its legend in words, for a notebook cell or a page."""
    return (f'<div class="pcx-hops-figure">{svg(lanes, max_width, title)}'
            f'<p style="font-size:12px;color:#424242;margin:2px 0 0 0">{_esc(LEGEND)}</p></div>')


def text(lanes: Iterable[Lane]) -> str:
    return "\n".join(lane.text() for lane in lanes) + "\n"
