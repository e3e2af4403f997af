"""MSI-X widgets: the vector table (a row per vector: mask toggle, trigger button, decoded message,
pending indicator; Enable and Function Mask switches) and the Pending Bit Array as a grid of bits.

They only render what the MSI-X model (`fn.msix`) reads from the table and PBA and call its verbs.  The
table is paginated and rows are reused: a refresh sends only the widget values that changed, so a
2048-vector table stays responsive.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ipywidgets as w

from ..errors import PciError
from ..words import plural
from .common import StatusLine, disable, esc, msix_model, one_message_each, write_refusal

_LIT = ("<span class='pcx-pending pcx-lit' title='PBA bit set: an event waits for the vector to be unmasked'"
        " style='color:#d50000;font-size:16px'>&#9679;</span>")
HIGHLIGHT = "pcx-highlight"  # the row of `MsixTableView.highlighted`
_DARK = "<span class='pcx-pending' title='PBA bit clear' style='color:#bbb;font-size:16px'>&#9675;</span>"


def _doc(register: str, field: str) -> str:
    """A field's words from the MSI-X declarations (tooltips come from `regs`, not from here)."""
    from ..regs.caps.msix import MSIX, MSIX_ENTRY

    layout = MSIX_ENTRY if register.startswith("PCI_MSIX_ENTRY") else MSIX
    f = layout.register(register).field(field)
    return f"{f.name}: {f.doc}"


def pba_html(pending: list[bool], columns: int = 64) -> str:
    """The PBA as a grid of squares, one per vector, lit when its pending bit is set.  Drawn as SVG whose
    size grows with the lit bits only, so a 2048-bit PBA stays a few hundred bytes to send."""
    cell, n = 11, len(pending)
    rows = -(-n // columns) if n else 0
    width, height = min(n, columns) * cell, rows * cell
    # each row of unlit squares is one dashed line: 9-pixel dashes, 2-pixel gaps
    grid = "".join(f"<line x1='1' y1='{r * cell + 5.5}' x2='{min(columns, n - r * columns) * cell}' "
                   f"y2='{r * cell + 5.5}' stroke='#e0e0e0' stroke-width='9' stroke-dasharray='9 2'/>"
                   for r in range(rows))
    lit = "".join(f"<rect class='pcx-bit pcx-lit' x='{v % columns * cell + 1}' y='{v // columns * cell + 1}' "
                  f"width='9' height='9' fill='#d50000'><title>vector {v}: pending</title></rect>"
                  for v, p in enumerate(pending) if p)
    return (f"<div class='pcx-pba'><svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}'>"
            f"{grid}{lit}</svg></div><small>PBA: {sum(pending)} of {n} bits set</small>")


_ICON_LOCK, _ICON_UNLOCK = "<i class='fa fa-lock'></i>", "<i class='fa fa-unlock'></i>"


def snapshot_html(msix: Any, max_rows: int = 16) -> str:
    """The MSI-X state as it is now, as static HTML that stays as it was (a notebook step's record): the
    two switches in words, one row per vector (its mask bit, whether it can send, the pending dot, the
    message), the PBA grid and what was delivered."""
    try:
        columns = _Columns(msix.columns())
    except PciError as e:
        return f"<div class='pcx-snapshot'><small>Table and PBA not readable: {esc(e)}</small></div>"
    master = (msix.function.read(0x04, 2) or 0) & _command_field("PCI_COMMAND_MASTER").mask
    head = (f"<b>MSI-X {'enabled' if msix.enabled else 'disabled'}</b>, Function Mask "
            f"<b>{'set' if msix.function_masked else 'clear'}</b>, Bus Master <b>{'on' if master else 'off'}</b>")
    rows = []
    for v in range(min(columns.size, max_rows)):
        row = columns.row(v)
        entry, held = row["entry_masked"], row["masked"]
        # Font Awesome's lock (JupyterLab and Voila bundle it): Chromium here has no font for the emoji
        state = (f"{_ICON_LOCK} masked" if entry else f"{_ICON_LOCK} unmasked, held by the function"
                 if held else f"{_ICON_UNLOCK} unmasked")
        rows.append(f"<tr class='pcx-snap-row'><td><b>#{v}</b></td><td>{state}</td>"
                    f"<td>{_LIT if row['pending'] else _DARK}</td><td>{_message_html(row)}</td></tr>")
    more = f"<tr><td colspan='4'><small>and {columns.size - max_rows} more vectors</small></td></tr>" \
        if columns.size > max_rows else ""
    return (f"<div class='pcx-snapshot' style='border-left:3px solid #90a4ae;padding-left:8px'>"
            f"<small>state after this step:</small> {head}<table>{''.join(rows)}{more}</table>"
            f"{pba_html(columns.pending())}{_deliveries_html(msix.function)}</div>")


class PbaGrid(w.HTML):
    """The Pending Bit Array of `fn.msix`, one square per vector; `refresh()` reads it again."""

    def __init__(self, function: Any, columns: int = 64) -> None:
        super().__init__()
        self.msix = msix_model(function)
        self.columns = columns
        self.add_class("pcx-pba-grid")
        function.observe(self._device_changed)
        self.refresh()

    def _device_changed(self, _fn: Any, what: str) -> None:
        if what != "closed":
            self.refresh()

    def refresh(self) -> None:
        try:
            pending = _Columns(self.msix.columns()).pending()
        except PciError as e:
            self.value = f"<small>PBA not readable: {esc(e)}</small>"
            return
        self.value = pba_html(pending, self.columns)


class _Row:
    """Widgets of one table row, reused for whatever vector the current page puts there."""

    def __init__(self, view: MsixTableView) -> None:
        self.vector: int | None = None
        # the vector's number and its message are one widget: turning a page sends one value a row, not two
        # (a 2048-vector table's page of 32 rows: 65 -> 33 messages to the browser)
        self.message = w.HTML(layout=w.Layout(width="580px"))
        self.mask = w.ToggleButton(description="unmasked", layout=w.Layout(width="112px"))  # icon + "unmasked"
        self.mask.add_class("pcx-mask")
        self.trigger = w.Button(description="trigger", icon="bolt", layout=w.Layout(width="90px"))
        self.trigger.add_class("pcx-trigger")
        self.pending = w.HTML(layout=w.Layout(width="30px"))
        self.box = w.HBox([self.message, self.mask, self.trigger, self.pending])
        self.box.add_class("pcx-row")
        self.mask.observe(lambda ch: view._mask_clicked(self, ch), names="value")
        self.trigger.on_click(lambda _b: view._trigger_clicked(self))

    def widgets(self) -> tuple[w.Widget, ...]:
        return self.message, self.mask, self.trigger, self.pending, self.box, self.box.layout

    def set(self, name: str, value: Any) -> int:
        """Set a widget value only when it differs; returns 1 when something was sent."""
        widget, trait = {
            "message": (self.message, "value"), "mask": (self.mask, "value"),
            "pending": (self.pending, "value"), "mask_style": (self.mask, "button_style"),
            "mask_label": (self.mask, "description"), "mask_icon": (self.mask, "icon"),
            "mask_tip": (self.mask, "tooltip"),
            "visible": (self.box.layout, "display"), "trigger_off": (self.trigger, "disabled"),
            "trigger_tip": (self.trigger, "tooltip"),
        }[name]
        if getattr(widget, trait) == value:
            return 0
        setattr(widget, trait, value)
        return 1


class MsixTableView(w.VBox):
    """A function's MSI-X table, `page_size` vectors at a time, with the capability's two switches."""

    def __init__(self, function: Any, page_size: int = 16) -> None:
        self.function = function
        self.msix = msix_model(function)
        if self.msix is None:
            raise PciError("this function has no MSI-X capability", **function.where())
        self.page_size = page_size
        self.page = 0
        self.updates = 0  # widget values sent by refreshes: what "only what changed" is measured by
        self.highlighted: int | None = None  # a vector another view points at (the Virtio tab's picked queue)
        self._busy = False
        self.status = StatusLine()
        self.summary = w.HTML()
        # sized by their words ("Function Mask: clear"), which say the state as the colour does
        self.enable = w.ToggleButton(description="Enable", icon="power-off", layout=w.Layout(width="auto"),
                                     tooltip=_doc("PCI_MSIX_FLAGS", "PCI_MSIX_FLAGS_ENABLE"))
        self.function_mask = w.ToggleButton(description="Function Mask", icon="ban", layout=w.Layout(width="auto"),
                                            tooltip=_doc("PCI_MSIX_FLAGS", "PCI_MSIX_FLAGS_MASKALL"))
        self.enable.observe(self._enable_clicked, names="value")
        self.function_mask.observe(self._function_mask_clicked, names="value")
        self.prev = w.Button(description="", icon="chevron-left", layout=w.Layout(width="40px"), tooltip="previous page")
        self.next = w.Button(description="", icon="chevron-right", layout=w.Layout(width="40px"), tooltip="next page")
        self.where = w.HTML()
        self.prev.on_click(lambda _b: self.show_page(self.page - 1))
        self.next.on_click(lambda _b: self.show_page(self.page + 1))
        # the Command register beside the table: without Bus Master no message can leave the device
        self.memory = w.ToggleButton(description="Memory Space", layout=w.Layout(width="auto"),
                                     tooltip=_command_doc("PCI_COMMAND_MEMORY"))
        self.master = w.ToggleButton(description="Bus Master", layout=w.Layout(width="auto"),
                                     tooltip=_command_doc("PCI_COMMAND_MASTER"))
        self.memory.observe(lambda ch: self._command_clicked("PCI_COMMAND_MEMORY", ch), names="value")
        self.master.observe(lambda ch: self._command_clicked("PCI_COMMAND_MASTER", ch), names="value")
        # program one vector's message with the x86 helper, and go to any vector of a long table
        size = self.msix.size
        self.program_vector = w.BoundedIntText(value=0, min=0, max=max(size - 1, 0), description="vector",
                                               layout=w.Layout(width="140px"))
        self.program_apic = w.BoundedIntText(value=0, min=0, max=255, description="APIC ID",
                                             layout=w.Layout(width="150px"))
        self.program_cpu_vector = w.Text(value="0x30", description="CPU vector", layout=w.Layout(width="170px"),
                                         tooltip="0x10-0xfe: the IDT entry the CPU runs (data bits 7:0)")
        self.program_mode = w.Dropdown(options=[("fixed", 0), ("lowest-priority", 1)], value=0,
                                       description="mode", layout=w.Layout(width="190px"))
        self.program = w.Button(description="program", icon="pencil", layout=w.Layout(width="auto"),
                                tooltip="write the vector's Message Address, Upper Address and Data (mask it first, "
                                        "as the spec asks)")
        self.program.on_click(lambda _b: self._program_clicked())
        self.goto = w.BoundedIntText(value=0, min=0, max=max(size - 1, 0), description="go to",
                                     layout=w.Layout(width="140px"), tooltip="show the page holding this vector")
        self.goto.observe(lambda ch: self.show_page(int(ch["new"]) // self.page_size), names="value")
        self.rows = [_Row(self) for _ in range(page_size)]
        self.pba = w.HTML()
        self.refused = w.HTML()
        self.events = w.HTML()
        self.delivered = w.HTML()
        self._refusals()
        controls = w.HBox([self.enable, self.function_mask, self.memory, self.master],
                          layout=w.Layout(flex_flow="row wrap"))
        self.paging = w.HBox([self.prev, self.where, self.next, self.goto], layout=w.Layout(flex_flow="row wrap"))
        program = w.HBox([self.program_vector, self.program_apic, self.program_cpu_vector, self.program_mode,
                          self.program], layout=w.Layout(flex_flow="row wrap"))
        program.add_class("pcx-program")
        super().__init__([self.summary, controls, self.refused, self.paging, *(r.box for r in self.rows), self.status,
                          program, self.pba, self.delivered, self.events])
        self.add_class("pcx-msix")
        self._columns: _Columns | None = None  # the table as last read, for turning pages
        self._told = False  # set when the function announced a change: a click's verb did change the device
        function.observe(self._device_changed)
        self.refresh()

    def _device_changed(self, _fn: Any, what: str) -> None:
        self._told = True
        if what == "closed":  # nothing more to read: disable every control and say why, once
            self._refusals()
            return
        self.refresh()

    # -- what the source cannot do ---------------------------------------------------------------
    def _refusals(self) -> None:
        source = self.function.source
        write = self._write_refusal = write_refusal(source)
        self._triggers = set() if source.closed else set(source.triggers(self.function.address))
        self._no_trigger = (write if source.closed else None if self._triggers else
                            f"{source.kind} source cannot make the device raise interrupts")
        for control in (self.enable, self.function_mask, self.memory, self.master, self.program, self.program_vector,
                        self.program_apic, self.program_cpu_vector, self.program_mode):
            disable(control, write)
        said = list(dict.fromkeys(why for why in (write, self._no_trigger) if why))
        self.refused.value = "".join(f"<div class='pcx-refused'><small><i class='fa fa-lock'></i> {esc(why)}</small></div>"
                                     for why in said)
        for r in self.rows:
            disable(r.mask, write)
            disable(r.trigger, self._no_trigger)

    def _trigger_refusal(self, vector: int) -> str | None:
        if self._no_trigger or f"vector:{vector}" in self._triggers:
            return self._no_trigger
        return f"this source cannot raise vector {vector} by itself (causes: {', '.join(sorted(self._triggers))})"

    # -- reading the model -----------------------------------------------------------------------
    @property
    def pages(self) -> int:
        return max(1, -(-self.msix.size // self.page_size))

    def show_page(self, page: int) -> None:
        self.page = min(max(0, page), self.pages - 1)
        if self._columns is None:  # nothing read yet (or the table was not readable)
            self.refresh()
            return
        with self._drawing():
            self._sent(self._draw_page())

    @contextmanager
    def _drawing(self) -> Iterator[None]:
        """While the view redraws, the values it sets are not a person's clicks, and each widget's changes
        go to the page as one message (a mask click changes five traits of its button)."""
        self._busy = True
        try:
            with one_message_each(self._widgets()):
                yield
        finally:
            self._busy = False

    def _widgets(self) -> list[w.Widget]:
        return [self.enable, self.function_mask, self.memory, self.master, self.summary, self.status, self.prev,
                self.next, self.where, self.paging.layout, self.pba, self.delivered, self.events,
                *(widget for r in self.rows for widget in r.widgets())]

    def refresh(self) -> int:
        """Read table, PBA and flags again; update only widgets whose value changed.  Returns that count."""
        m = self.msix
        sent = 0
        with self._drawing():
            # the state in words and icon as well as colour, and the colour also after a person's click
            # (which has already set the toggle's value)
            for control, value, style, on, off in (
                    (self.enable, bool(m.enabled), "success", ("Enable: on", "check-square"), ("Enable: off", "square")),
                    (self.function_mask, bool(m.function_masked), "warning",
                     ("Function Mask: set", "lock"), ("Function Mask: clear", "unlock"))):
                description, icon = on if value else off
                for trait, want in (("value", value), ("button_style", style if value else ""),
                                    ("description", description), ("icon", icon)):
                    if getattr(control, trait) != want:
                        setattr(control, trait, want)
                        sent += 1
            command = self.function.read(0x04, 2) or 0
            for control, name in ((self.memory, "PCI_COMMAND_MEMORY"), (self.master, "PCI_COMMAND_MASTER")):
                on = bool(command & _command_field(name).mask)
                for trait, want in (("value", on), ("button_style", "success" if on else ""),
                                    ("icon", "check-square" if on else "square")):
                    if getattr(control, trait) != want:
                        setattr(control, trait, want)
                        sent += 1
            checks = "".join(f"<div style='color:#b00020'>&#9888; {esc(c)}</div>" for c in m.checks())
            sent += _assign(self.summary, f"<div class='pcx-msix-summary'><b>{esc(repr(m))}</b>{checks}</div>")
            try:
                columns = _Columns(m.columns())
            except PciError as e:
                self._columns = None
                sent += _assign(self.status, f"<span class='pcx-status'>Table and PBA not readable: {esc(e)}</span>")
                for r in self.rows:
                    sent += r.set("visible", "none")
                # no page to turn: the arrows and "go to" go with the rows; the status line says why
                sent += _show(self.paging, False)
                return self._sent(sent)
            self._columns = columns
            sent += _show(self.paging, True)
            sent += self._draw_page()
            sent += _assign(self.pba, pba_html(columns.pending()))
            sent += _assign(self.delivered, _deliveries_html(self.function))
            events = list(m.log)[-8:]
            sent += _assign(self.events, "<div class='pcx-log' style='font-family:monospace;font-size:12px'>"
                            + "".join(f"<div>{esc(e)}</div>" for e in events) + "</div>")
        return self._sent(sent)

    def _draw_page(self) -> int:
        """The current page's rows from the table read last (turning a page reads nothing)."""
        columns, sent, size = self._columns, 0, self._columns.size
        first = self.page * self.page_size
        sent += _assign(self.where, f"&nbsp;vectors {first}&ndash;{min(first + self.page_size, size) - 1}"
                                    f" of {size} (page {self.page + 1}/{self.pages})&nbsp;")
        self.prev.disabled = self.page == 0
        self.next.disabled = self.page >= self.pages - 1
        for i, r in enumerate(self.rows):
            v = first + i
            if v >= columns.size:
                r.vector = None
                sent += r.set("visible", "none")
                continue
            row = columns.row(v)
            r.vector = v
            (r.box.add_class if v == self.highlighted else r.box.remove_class)(HIGHLIGHT)
            sent += r.set("visible", "")
            refusal = self._trigger_refusal(v)
            sent += r.set("trigger_off", refusal is not None)
            sent += r.set("trigger_tip", refusal or "the device signals this vector's event "
                                                    "(while masked: its pending bit is set instead)")
            # the button is the entry's own mask bit; its icon is whether the vector can send (a lock
            # also while the Function Mask or a disabled MSI-X holds an unmasked entry)
            entry, held = row["entry_masked"], row["masked"]
            sent += r.set("mask", entry)
            sent += r.set("mask_label", "masked" if entry else "unmasked")
            sent += r.set("mask_style", "warning" if entry else "")
            sent += r.set("mask_icon", "lock" if held else "unlock")
            if self._write_refusal is None:  # else the tooltip says why the button is disabled
                sent += r.set("mask_tip", _mask_tip(entry, held))
            sent += r.set("pending", _LIT if row["pending"] else _DARK)
            sent += r.set("message", f"<b class='pcx-vector' style='display:inline-block;width:52px'>#{v}</b>{_message_html(row)}")
        return sent

    def _sent(self, n: int) -> int:
        self.updates += n
        return n

    # -- verbs -----------------------------------------------------------------------------------
    def _run(self, verb: Any, *args: Any, done: str) -> None:
        """Run a click's verb; a change it made redraws this view through the function's announcement,
        and a refused one redraws it here, so the clicked control goes back to what the device holds."""
        self._told = False
        self.status.run(verb, *args, done=done)
        if not self._told:
            self.function.refresh()
            self.refresh()

    def _enable_clicked(self, change: dict) -> None:
        if self._busy:
            return
        verb = self.msix.enable if change["new"] else self.msix.disable
        self._run(verb, done=f"MSI-X {'enabled' if change['new'] else 'disabled'}")

    def _function_mask_clicked(self, change: dict) -> None:
        if self._busy:
            return
        verb = self.msix.mask_all if change["new"] else self.msix.unmask_all
        self._run(verb, done=f"Function Mask {'set' if change['new'] else 'cleared'}")

    def _command_clicked(self, name: str, change: dict) -> None:
        if self._busy:
            return
        from ..msi.common import write_field

        f = _command_field(name)

        def write() -> None:
            current = self.function.read(0x04, 2) or 0
            write_field(self.function, 0x04, 2, f, current, int(change["new"]))

        self._run(write, done=f"{name} = {int(change['new'])} (Command register, 0x04)")

    def _program_clicked(self) -> None:
        from ..errors import InputError
        from ..msi import x86

        def program() -> None:
            try:
                cpu_vector = int(self.program_cpu_vector.value, 0)
            except ValueError:
                cpu_vector = -1
            if not 0x10 <= cpu_vector <= 0xFE:  # 0-15 are exceptions and reserved; 0xff is spurious on Linux
                raise InputError(f"CPU vector {self.program_cpu_vector.value!r}: give 0x10 to 0xfe (e.g. 0x30)",
                                 **self.function.where())
            address, data = x86.message(self.program_apic.value, cpu_vector, delivery_mode=self.program_mode.value)
            self.msix.set_message(self.program_vector.value, address, data)

        self._run(program, done=f"vector {self.program_vector.value} programmed")

    def _mask_clicked(self, row: _Row, change: dict) -> None:
        if self._busy or row.vector is None:
            return
        verb = self.msix.mask if change["new"] else self.msix.unmask
        self._run(verb, row.vector, done=f"{verb.__name__}({row.vector})")

    def _trigger_clicked(self, row: _Row) -> None:
        if row.vector is None:
            return
        self._run(self.msix.trigger, row.vector, done=f"trigger({row.vector})")

    def snapshot_html(self) -> str:
        return snapshot_html(self.msix)

    # what a test (or a person at the keyboard) does: the same paths as the clicks
    def row_of(self, vector: int) -> _Row:
        self.show_page(vector // self.page_size)
        return self.rows[vector % self.page_size]


def _command_field(name: str) -> Any:
    from ..regs.header import COMMAND

    return COMMAND.field(name)


def _command_doc(name: str) -> str:
    f = _command_field(name)
    return f"{f.name}: {f.doc}"


def _mask_tip(entry_masked: bool, held: bool) -> str:
    state = ("entry mask bit set: the vector is masked" if entry_masked else
             "entry mask bit clear, but the Function Mask or a disabled MSI-X still masks the vector" if held else
             "unmasked: an event sends the vector's message")
    return f"{state}. {_doc('PCI_MSIX_ENTRY_VECTOR_CTRL', 'PCI_MSIX_ENTRY_CTRL_MASKBIT')}"


def _show(widget: w.DOMWidget, shown: bool) -> int:
    """Show or hide `widget`; 1 when that changed it."""
    want = None if shown else "none"
    if widget.layout.display == want:
        return 0
    widget.layout.display = want
    return 1


def _assign(widget: w.DOMWidget, value: str) -> int:
    if widget.value == value:
        return 0
    widget.value = value
    return 1


def _deliveries_html(fn: Any) -> str:
    """What the source saw the device send (its own messages only), newest last."""
    seen = fn.source.deliveries()
    if seen is None:
        return f"<small>A {esc(fn.source.kind)} source cannot observe the messages a device sends.</small>"
    mine = [d for d in seen if d.function in (None, fn.address)]
    last = "".join(f"<div>#{d.seq}: vector {d.vector}: <code>0x{d.address:x} &larr; 0x{d.data:08x}</code>"
                   + (f" <span class='pcx-not-irq' style='color:#b00020'>&#9888; not an interrupt: "
                      f"{esc(d.warning)}</span>" if d.warning else "") + "</div>"
                   for d in mine[-3:])
    wrong = sum(1 for d in mine if d.warning)
    note = f", <b style='color:#b00020'>{wrong} of them not interrupts</b>" if wrong else ""
    return f"<div class='pcx-deliveries'><small>{plural(len(mine), 'message')} delivered{note}</small>{last}</div>"


class _Columns:
    """The table and PBA as the model's arrays (`Msix.columns()`), read once per refresh: neither pandas
    (importing it was most of the first pick of an MSI-X function) nor a row by `.iloc` (a pandas Series
    each: a third of a 2048-vector page) nor the decoding of vectors no page shows."""

    def __init__(self, arrays: dict[str, Any]) -> None:
        self.arrays = arrays
        self.size = len(arrays["vector"])

    def pending(self) -> list[bool]:
        return self.arrays["pending"].tolist()

    def row(self, v: int) -> dict[str, Any]:
        a = self.arrays
        return {"address": int(a["address"][v]), "data": int(a["data"][v]), "entry_masked": bool(a["entry_masked"][v]),
                "masked": bool(a["masked"][v]), "pending": bool(a["pending"][v])}


def _message_html(row: Any) -> str:
    from ..msi import x86

    address, data = int(row["address"]), int(row["data"])
    return (f"<code>0x{address:016x} &larr; 0x{data:08x}</code> "
            f"<small>{esc(x86.describe(address, data))}</small>")
