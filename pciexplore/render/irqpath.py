"""The interrupt path as a picture (SVG inside HTML): one row per vector, six boxes joined by arrows,

    device → entry → message → APIC/CPU → Linux IRQ → handler (count, rate)

coloured by the cross-check of the message against the effective affinity (pciexplore.msi.path)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..msi.path import InterruptPaths, VectorPath

_BOX_W, _BOX_H, _GAP, _ROW = 150, 38, 26, 50
_COLORS = {"agrees": "#2e7d32", "disagrees": "#c62828", "remapped": "#6a1b9a", "not checked": "#757575"}


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _cells(p: VectorPath) -> list[tuple[str, str]]:
    """(first line, second line) of each box, left to right."""
    entry = "?" if p.entry is None else str(p.entry)
    if p.address is None:
        message = ("message ?", p.meaning[:26])
    elif p.remapped:
        message = (f"0x{p.address:x}", "remapped (IRTE handle)")
    else:
        message = (f"0x{p.address:x} ← 0x{p.data:x}", p.meaning.split(",")[1].strip() if "," in p.meaning else "")
    cpus = ",".join(map(str, p.effective_cpus)) if p.effective_cpus is not None else "?"
    apics = ",".join(map(str, p.effective_apics)) if p.effective_apics else "?"
    dest = f"msg → APIC {p.dest_apic}" if p.dest_apic is not None else p.check
    rate = f", {p.rate:.1f}/s" if p.rate is not None else ""
    return [
        (p.function, p.mode.upper().replace("MSIX", "MSI-X")),
        (f"entry {entry}", "masked" if p.masked else ("unmasked" if p.masked is not None else "")),
        message,
        (f"CPU {cpus} (APIC {apics})", dest),
        (f"IRQ {p.irq}", (p.chip or "")[:24]),
        ((p.handler or "?")[:24], f"{p.total if p.total is not None else '?'} interrupts{rate}"),
    ]


def path_svg(paths: list[VectorPath]) -> str:
    width = 6 * _BOX_W + 5 * _GAP + 10
    height = max(1, len(paths)) * _ROW + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="11" role="img" aria-label="interrupt paths">',
             '<defs><marker id="pcx-arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
             '<path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>']
    for row, p in enumerate(paths):
        y = 5 + row * _ROW
        color = _COLORS.get(p.check, "#757575")
        for col, (top, bottom) in enumerate(_cells(p)):
            x = 5 + col * (_BOX_W + _GAP)
            stroke = color if col == 3 else "#555"
            parts.append(f'<g><title>{_esc(p.why if col == 3 else top + " " + bottom)}</title>'
                         f'<rect x="{x}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" rx="4" fill="#fafafa" '
                         f'stroke="{stroke}" stroke-width="{2 if col == 3 else 1}"/>'
                         f'<text x="{x + 6}" y="{y + 15}">{_esc(top)}</text>'
                         f'<text x="{x + 6}" y="{y + 30}" fill="#555">{_esc(bottom)}</text></g>')
            if col:
                parts.append(f'<line x1="{x - _GAP}" y1="{y + _BOX_H / 2}" x2="{x - 2}" y2="{y + _BOX_H / 2}" '
                             'stroke="#555" marker-end="url(#pcx-arrow)"/>')
    parts.append("</svg>")
    return "".join(parts)


def paths_html(paths: InterruptPaths) -> str:
    """The picture, a legend of the cross-check and the notes (the sysfs `irq` pitfall, missing files)."""
    if not paths.vectors:
        body = "<p>no function has MSI or MSI-X interrupts allocated by the kernel</p>"
    else:
        body = path_svg(paths.vectors)
    legend = " ".join(f'<span style="color:{c}">■ {_esc(k)}</span>' for k, c in _COLORS.items())
    bad = "".join(f"<li>{_esc(p.function)} IRQ {p.irq}: {_esc(p.why)}</li>" for p in paths.disagreements())
    notes = "".join(f"<li>{_esc(n)}</li>" for n in [*(f"{k}: message not readable: {v}" for k, v in
                                                      paths.unreadable.items()), *paths.notes])
    return (f'<div class="pcx-irqpath">{body}<p>message vs effective affinity: {legend}</p>'
            + (f"<ul>{bad}</ul>" if bad else "") + f"<ul>{notes}</ul></div>")
