"""Register declarations: the header layouts and every capability, found by capability id.

Each module under `caps/` (standard capabilities) and `ecaps/` (extended capabilities) defines
`LAYOUTS`, a list of `Layout`s; they are collected here on first use.
"""

from __future__ import annotations

import importlib
import os
from functools import cache

from .base import Field, Layout, Register, bit, bits, layout, reg
from .header import HEADERS

__all__ = ["HEADERS", "Field", "Layout", "Register", "bit", "bits", "cap_layouts", "ecap_layouts", "layout", "reg"]


def package_modules(package: str) -> list:
    """Every module of a package, imported, in name order (its directory listed with os.listdir: pkgutil
    would cost every `show -v` the inspect and typing modules, which it imports)."""
    pkg = importlib.import_module(package)
    names = sorted({name[:-3] for path in pkg.__path__ for name in os.listdir(path)
                    if name.endswith(".py") and name != "__init__.py"})
    return [importlib.import_module(f"{package}.{name}") for name in names]


def _collect(package: str) -> dict[int, Layout]:
    found: dict[int, Layout] = {}
    for module in package_modules(package):
        for lay in getattr(module, "LAYOUTS", ()):
            if lay.cap_id in found:
                raise RuntimeError(f"capability id 0x{lay.cap_id:x} declared twice ({module.__name__})")
            found[lay.cap_id] = lay
    return found


@cache
def cap_layouts() -> dict[int, Layout]:
    """Standard capabilities by PCI_CAP_ID_*."""
    return _collect(__name__ + ".caps")


@cache
def ecap_layouts() -> dict[int, Layout]:
    """Extended capabilities by PCI_EXT_CAP_ID_*."""
    return _collect(__name__ + ".ecaps")
