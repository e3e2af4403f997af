"""One self-contained static HTML page for a source or capture: lspci text, a field table from the
declarations, a hex view with capabilities and annotations highlighted, the MSI-X table and PBA.

The page has no script at all and forbids any by its Content-Security-Policy; every piece of text
that came from a file (annotations, metadata, names) goes through `html.escape`.  It opens offline.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from ..errors import PciError
from ..msi import x86
from ..regs.caps.msix import MSIX_ENTRY, PCI_MSIX_ENTRY_SIZE
from .lspci import LspciOptions, render_function
from .safe import notes_per_byte, tooltip

if TYPE_CHECKING:
    from ..capture.format import Annotation
    from ..model import Function
    from ..sources.base import Source

e = html.escape
PALETTE = ("#ffe4b5", "#d8f0d8", "#dde6ff", "#f6dcf6", "#fff3b0", "#d6f2f2", "#f2ded6", "#e6e6e6")
CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
pre,code,.hex{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}
pre{background:#f7f7f7;padding:.6em;overflow-x:auto}
table{border-collapse:collapse;margin:.4em 0}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}
.hex td{border:none;padding:0 2px}
.hex .off{color:#888;padding-right:8px}
.note{outline:2px solid #d33;outline-offset:-1px}
.notes li{margin:.3em 0}
.tag{background:#eee;border-radius:3px;padding:0 4px;margin-left:4px;font-size:85%}
section{border-top:2px solid #888;margin-top:2em}
.dim{color:#888}
tr.error td:nth-child(2){color:#b00;font-weight:bold}
tr.warning td:nth-child(2){color:#a60}
"""


def render_html(source: Source, selector: str | None = None, title: str | None = None) -> str:
    """The whole report as one HTML string (UTF-8, no external resources, no script)."""
    from ..capture import Capture

    metadata = source.metadata if isinstance(source, Capture) else {}
    notes: list[Annotation] = list(source.annotations) if isinstance(source, Capture) else []
    heading = title or metadata.get("title") or f"pciexplore report: {source.name}"
    parts = [
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>{e(heading)}</title><style>{CSS}</style></head><body>",
        f"<h1>{e(heading)}</h1>",
        _metadata(source, metadata),
    ]
    fns = source.functions(selector)
    parts.append("<p>" + " ".join(f"<a href=\"#{_anchor(fn)}\"><code>{e(str(fn.address))}</code></a>"
                                  + (f" ({len([a for a in notes if a.function == fn.address])} notes)"
                                     if any(a.function == fn.address for a in notes) else "")
                                  for fn in fns) + "</p>")
    parts.append(_doctor(source, selector))
    for fn in fns:
        parts.append(_function(fn, [a for a in notes if a.function == fn.address]))
    parts.append("</body></html>\n")
    return "".join(parts)


def _doctor(source: Source, selector: str | None) -> str:
    """The interrupt doctor's findings over the whole source: what a reader of the bug report should
    look at first."""
    from ..doctor import diagnose

    findings = diagnose(source, selector)
    if not findings:
        return "<h2>Interrupt doctor</h2><p>No findings: the MSI/MSI-X set-up of every function looks sound.</p>"
    rows = "".join(
        f"<tr class=\"{e(f.severity)}\"><td><a href=\"#{_anchor_for(f.device)}\"><code>{e(f.device)}</code></a></td>"
        f"<td>{e(f.severity)}</td><td><code>{e(f.where)}</code></td><td>{e(f.message)}<br>"
        f"<span class=\"dim\">rule: {e(f.rule)}</span><br>fix: {e(f.fix)}</td></tr>"
        for f in findings)
    return ("<h2>Interrupt doctor</h2><table><tr><th>function</th><th>severity</th><th>where</th>"
            f"<th>finding</th></tr>{rows}</table>")


def _metadata(source: Source, metadata: dict) -> str:
    rows = [("opened from", f"{source.kind}: {source.name}")]
    rows += [(k, str(v)) for k, v in metadata.items() if k != "extra"]
    rows += [(k, str(v)) for k, v in (metadata.get("extra") or {}).items()]
    return "<table>" + "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows) + "</table>"


def _anchor(fn: Function) -> str:
    return _anchor_for(str(fn.address))


def _anchor_for(address: str) -> str:
    return f"f-{address}".replace(":", "-").replace(".", "-")


def _function(fn: Function, notes: list[Annotation]) -> str:
    anchor = _anchor(fn)
    try:
        text = render_function(fn, LspciOptions(verbose=3))
    except PciError as err:
        text = f"(lspci text unavailable: {err})"
    first, _, rest = text.partition("\n")
    out = [f"<section id=\"{anchor}\"><h2><code>{e(first)}</code></h2>"]
    if notes:
        out.append("<h3>Annotations</h3><ol class=\"notes\">")
        for i, a in enumerate(notes):
            tags = "".join(f"<span class=\"tag\">{e(t)}</span>" for t in a.tags)
            out.append(f"<li id=\"{anchor}-n{i}\"><code>{e(a.where)}</code> {tags}<br>{e(a.text)}"
                       f"<br><span class=\"dim\">{e(a.author)} {e(a.time)}</span></li>")
        out.append("</ol>")
    out.append(f"<h3>lspci -vvv</h3><pre>{e(first)}\n{e(rest)}</pre>")
    out.append(_hex(fn, notes, anchor))
    out.append(_windows(fn, notes, anchor))
    out.append(_fields(fn))
    out.append(_msix(fn, notes, anchor))
    out.append(_kernel(fn))
    out.append("</section>")
    return "".join(out)


def _hex(fn: Function, notes: list[Annotation], anchor: str) -> str:
    """Config space with each capability's bytes coloured and annotated bytes outlined."""
    cfg = fn.config
    owner: dict[int, str] = {}
    colour: dict[str, str] = {}
    legend = []
    for k, cap in enumerate(fn.capabilities):
        name = f"[{cap.offset:02x}] {cap.name}"
        colour[name] = PALETTE[k % len(PALETTE)]
        length = max(cap.layout.length if cap.layout else 0, 4 if cap.extended else 2)
        for i in range(cap.offset, min(cap.offset + length, len(cfg))):
            owner.setdefault(i, name)
        legend.append(f"<span style=\"background:{colour[name]}\">{e(name)}</span> ")
    config_notes = [(n, a) for n, a in enumerate(notes) if a.bar is None]
    return (f"<h3>Config space ({len(cfg)} bytes)</h3><p>{''.join(legend)}</p>"
            + _hex_rows(cfg, 0, owner, colour, config_notes, anchor))


def _windows(fn: Function, notes: list[Annotation], anchor: str) -> str:
    """Captured BAR windows other than the MSI-X table and PBA (those are decoded below)."""
    from ..capture import Capture

    if not isinstance(fn.source, Capture):
        return ""
    out = []
    for w in fn.source.windows(fn.address):
        if w.what in ("msix-table", "msix-pba"):
            continue
        mine = [(n, a) for n, a in enumerate(notes) if a.bar == w.bar and w.offset <= a.offset < w.end]
        out.append(f"<h3>BAR {w.bar} window 0x{w.offset:x}+0x{len(w.data):x} ({e(w.what)})</h3>"
                   + _hex_rows(w.data, w.offset, {}, {}, mine, anchor))
    return "".join(out)


def _hex_rows(data: bytes, base: int, owner: dict[int, str], colour: dict[str, str],
              notes: list[tuple[int, Annotation]], anchor: str) -> str:
    """16 bytes a row; `owner` names the structure of a byte (absolute offsets), notes outline theirs."""
    # per byte: the first notes on it (for the link and the tooltip) and how many there are
    noted, count = notes_per_byte(((a.offset, a.length, (n, a)) for n, a in notes), base, base + len(data))
    rows = []
    skipped = 0
    for row in range(0, len(data), 16):
        if _repeats(data, row, base, owner, noted) and row + 16 < len(data):
            skipped += 1
            continue
        if skipped:
            rows.append(f"<tr><td class=\"off\">*</td><td colspan=\"16\" class=\"dim\">{skipped} rows as the "
                        "one above</td></tr>")
            skipped = 0
        cells = [f"<td class=\"off\">{base + row:03x}:</td>"]
        for i in range(row, min(row + 16, len(data))):
            at = base + i
            style = f" style=\"background:{colour[owner[at]]}\"" if at in owner else ""
            tips = [owner[at]] if at in owner else []
            cls = ""
            byte = f"{data[i]:02x}"
            if at in noted:
                cls = " class=\"note\""
                tips.append(tooltip([a.text for _, a in noted[at]], count[at]))
                byte = f"<a href=\"#{anchor}-n{noted[at][0][0]}\">{byte}</a>"
            title = f" title=\"{e(' | '.join(tips))}\"" if tips else ""
            cells.append(f"<td{cls}{style}{title}>{byte}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table class=\"hex\">{''.join(rows)}</table>"


def _repeats(data: bytes, row: int, base: int, owner: dict, noted: dict) -> bool:
    """A row equal to the one above, with nothing highlighted in it (shown as one '*' line, like hexdump)."""
    return (row >= 16 and data[row:row + 16] == data[row - 16:row]
            and not any(base + i in owner or base + i in noted for i in range(row, row + 16)))


def _fields(fn: Function) -> str:
    rows = []
    for block, where in [(fn.header, "header")] + [(c, f"[{c.offset:02x}] {c.name}") for c in fn.capabilities]:
        for rv in block.registers():
            width = rv.decl.width * 2
            value = "unreadable" if rv.value is None else f"0x{rv.value:0{width}x}"
            fields = "<br>".join(
                f"{e(f.name)} <span class=\"dim\">{e(f.label)}</span> = {v}" + (f" ({e(m)})" if m else "")
                for f, v, m in rv.describe())
            rows.append(f"<tr><td>{e(where)}</td><td><code>{rv.offset:03x}</code></td><td>{e(rv.name)}</td>"
                        f"<td><code>{value}</code></td><td>{fields}</td></tr>")
    return ("<details><summary><b>Registers and fields</b> (from the declarations)</summary><table>"
            "<tr><th>block</th><th>offset</th><th>register</th><th>value</th><th>fields</th></tr>"
            f"{''.join(rows)}</table></details>")


def _msix(fn: Function, notes: list[Annotation], anchor: str) -> str:
    from ..capture.take import msix_windows, read_msix

    if not msix_windows(fn):
        return ""
    try:
        got = read_msix(fn)
    except PciError as err:
        return f"<h3>MSI-X table and PBA</h3><p>not available: {e(err.message)}</p>"
    bar, offset, table = got["msix-table"]
    pba_bar, pba_offset, pba = got["msix-pba"]
    heads = "".join(f"<th>{e(r.label)}</th>" for r in MSIX_ENTRY.registers)
    rows = []
    for n in range(len(table) // PCI_MSIX_ENTRY_SIZE):
        entry = table[n * PCI_MSIX_ENTRY_SIZE:(n + 1) * PCI_MSIX_ENTRY_SIZE]
        cells = []
        for r in MSIX_ENTRY.registers:
            v = int.from_bytes(entry[r.offset:r.offset + r.width], "little")
            shown = f"0x{v:08x}"
            for f in r.fields:
                shown += f" {e(f.label)}{'+' if f.extract(v) else '-'}"
            cells.append(f"<td><code>{shown}</code></td>")
        at = offset + n * PCI_MSIX_ENTRY_SIZE
        texts = [a.text for a in notes if a.bar == bar and a.offset < at + PCI_MSIX_ENTRY_SIZE
                 and at < a.offset + a.length]
        pending = pba[n // 8] >> (n % 8) & 1 if n // 8 < len(pba) else 0
        address = int.from_bytes(entry[0:8], "little")  # PCI_MSIX_ENTRY_LOWER_ADDR and _UPPER_ADDR
        meaning = x86.describe(address, int.from_bytes(entry[8:12], "little"))  # PCI_MSIX_ENTRY_DATA
        rows.append(f"<tr><td>{n}</td>{''.join(cells)}<td>{'yes' if pending else 'no'}</td><td>{e(meaning)}</td>"
                    f"<td>{e(tooltip(texts))}</td></tr>")  # in full in the list of annotations above
    return (f"<h3>MSI-X table (BAR {bar} offset 0x{offset:x}) and PBA (BAR {pba_bar} offset 0x{pba_offset:x})</h3>"
            f"<table><tr><th>entry</th>{heads}<th>Pending</th><th>message on x86</th><th>notes</th></tr>{''.join(rows)}</table>"
            f"<p>PBA bytes: <code>{pba.hex(' ')}</code></p>"
            + "".join(f"<p class=\"note\">PBA note: {e(a.text)}</p>" for a in notes if a.bar == pba_bar
                      and a.offset < pba_offset + len(pba) and pba_offset < a.offset + a.length))


def _kernel(fn: Function) -> str:
    k = fn.kernel
    if k is None:
        return ""
    items = [("driver", k.driver), ("irq", k.irq), ("msi_irqs", " ".join(map(str, k.msi_irqs)) or None),
             ("iommu_group", k.iommu_group)]
    out = "<h3>Kernel</h3><table>" + "".join(f"<tr><th>{n}</th><td>{e(str(v))}</td></tr>"
                                             for n, v in items if v is not None) + "</table>"
    from ..capture import Capture

    rows = fn.source.interrupts(fn.address) if isinstance(fn.source, Capture) else None
    if rows is not None:
        out += f"<p>/proc/interrupts at {e(rows.time)}</p><pre>{e(rows.header)}\n{e(chr(10).join(rows.lines))}</pre>"
    return out
