"""Device browser: a source's functions as a tree (bridges and what is behind them), filtered by text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as w

from ..render.tree import grow_tree
from ..words import plural
from .common import function_label, list_label


def tree_rows(functions: list[Any]) -> list[tuple[int, Any]]:
    """(depth, function) in display order: each bridge followed by the functions on its buses, placed
    by the same rules `lspci -t` follows (pciexplore.render.tree)."""
    host, bridge_of = grow_tree(functions)
    rows: list[tuple[int, Any]] = []
    seen: set[int] = set()

    def visit(bridge: Any, depth: int) -> None:
        for bus in bridge.buses:
            for fn in sorted(bus.devices, key=lambda f: f.address):
                if id(fn) in seen:  # a bridge whose bus range holds its own bus must not loop
                    continue
                seen.add(id(fn))
                rows.append((depth, fn))
                if id(fn) in bridge_of:
                    visit(bridge_of[id(fn)], depth + 1)

    visit(host, 0)
    # whatever bus numbers a broken topology has, every function stays pickable
    rows += [(0, fn) for fn in functions if id(fn) not in seen]
    return rows


class DeviceBrowser(w.VBox):
    """Pick a function: a filter box over an indented tree of every function of the source.

    `on_select(callback)` calls `callback(function)`; `.selected` is the chosen Function (or None).
    """

    def __init__(self, source: Any, rows: int = 12) -> None:
        self.source = source
        self._rows = tree_rows(source.functions())
        self._labels = {id(fn): list_label(fn) for _, fn in self._rows}
        #: what the filter searches: the full lspci line (vendor and numbers too), not just what is shown
        self._search = {id(fn): f"{function_label(fn)} {fn.address} {fn.class_code:06x}".lower()
                        for _, fn in self._rows}
        self._callbacks: list[Callable[[Any], None]] = []
        self.filter = w.Text(placeholder="filter: address, name, vendor:device, class",
                             description="Filter", layout=w.Layout(width="auto"))  # 100% plus its margins ran past the list
        self.tree = w.Select(rows=rows, layout=w.Layout(width="auto"))  # sized by its widest line
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
        text = self._search[id(fn)]
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
        self.count.value = f"<small>{len(shown)} of {plural(total, 'function')} shown</small>"

    def _changed(self, change: dict) -> None:
        if change["new"] is None:
            return
        for cb in self._callbacks:
            cb(change["new"])
