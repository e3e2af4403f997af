"""Device browser: a source's functions as a tree (bridges and what is behind them), filtered by text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as w

from .common import function_label


def _bus_range(fn: Any) -> tuple[int, int] | None:
    """Buses a bridge forwards to, from its declared PCI_SECONDARY_BUS/PCI_SUBORDINATE_BUS registers."""
    layout = fn.header.layout
    if layout is None or "PCI_SECONDARY_BUS" not in {r.name for r in layout.registers}:
        return None
    sec, sub = fn.header.get("PCI_SECONDARY_BUS"), fn.header.get("PCI_SUBORDINATE_BUS")
    if sec is None or sub is None or sec == 0 or sub < sec:
        return None
    return sec, sub


def tree_rows(functions: list[Any]) -> list[tuple[int, Any]]:
    """(depth, function) in display order: each bridge followed by the functions on its buses."""
    bridges = [(f, r) for f in functions if (r := _bus_range(f)) is not None]

    def parent(fn: Any) -> Any | None:
        """The bridge with the narrowest bus range holding fn's bus (the one it sits directly behind)."""
        best = None
        for br, (sec, sub) in bridges:
            if br is fn or br.address.domain != fn.address.domain or not sec <= fn.address.bus <= sub:
                continue
            if best is None or sub - sec < best[1]:
                best = (br, sub - sec)
        return best[0] if best else None

    children: dict[int | None, list[Any]] = {}
    for fn in functions:
        p = parent(fn)
        children.setdefault(None if p is None else id(p), []).append(fn)
    rows: list[tuple[int, Any]] = []
    seen: set[int] = set()

    def visit(key: int | None, depth: int) -> None:
        for fn in sorted(children.get(key, []), key=lambda f: f.address):
            if id(fn) in seen:  # a bus range that contains its own bridge must not loop
                continue
            seen.add(id(fn))
            rows.append((depth, fn))
            visit(id(fn), depth + 1)

    visit(None, 0)
    return rows


class DeviceBrowser(w.VBox):
    """Pick a function: a filter box over an indented tree of every function of the source.

    `on_select(callback)` calls `callback(function)`; `.selected` is the chosen Function (or None).
    """

    def __init__(self, source: Any, rows: int = 12) -> None:
        self.source = source
        self._rows = tree_rows(source.functions())
        self._labels = {id(fn): function_label(fn) for _, fn in self._rows}
        self._callbacks: list[Callable[[Any], None]] = []
        self.filter = w.Text(placeholder="filter: address, name, vendor:device, class",
                             description="Filter", layout=w.Layout(width="100%"))
        self.tree = w.Select(rows=rows, layout=w.Layout(width="100%"))
        self.count = w.HTML()
        self.filter.observe(lambda _: self._refill(), names="value")
        self.tree.observe(self._changed, names="value")
        super().__init__([self.filter, self.tree, self.count], layout=w.Layout(width="100%"))
        self.add_class("pcx-device-browser")
        self._refill()

    @property
    def selected(self) -> Any | None:
        return self.tree.value

    def select(self, fn: Any) -> None:
        self.tree.value = fn

    def on_select(self, callback: Callable[[Any], None]) -> None:
        self._callbacks.append(callback)

    def _matches(self, fn: Any, words: list[str]) -> bool:
        text = f"{self._labels[id(fn)]} {fn.address} {fn.class_code:06x}".lower()
        return all(word in text for word in words)

    def _refill(self) -> None:
        words = self.filter.value.lower().split()
        shown = self._rows
        if words:
            # keep every match and the bridges above it, so the tree still says where a match sits
            keep: set[int] = set()
            path: list[Any] = []
            for depth, fn in self._rows:
                del path[depth:]
                path.append(fn)
                if self._matches(fn, words):
                    keep.update(id(p) for p in path)
            shown = [(d, f) for d, f in self._rows if id(f) in keep]
        options = [("\u2003" * depth + ("\u2514\u2500 " if depth else "") + self._labels[id(fn)], fn)
                   for depth, fn in shown]
        current = self.tree.value
        self.tree.options = options
        if current is not None and any(fn is current for _, fn in options):
            self.tree.value = current
        elif options and current is None and not words:
            self.tree.value = options[0][1]
        total = len(self._rows)
        self.count.value = f"<small>{len(shown)} of {total} functions shown</small>"

    def _changed(self, change: dict) -> None:
        if change["new"] is None:
            return
        for cb in self._callbacks:
            cb(change["new"])
