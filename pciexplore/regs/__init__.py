"""Register declarations: the header layouts and every capability, found by capability id.

Each module under `caps/` (standard capabilities) and `ecaps/` (extended capabilities) defines
`LAYOUTS`, a list of `Layout`s; they are collected here on first use.
"""

from __future__ import annotations

import importlib
from functools import cache

from .base import Field, Layout, Register, bit, bits, layout, reg
from .header import HEADERS

__all__ = ["HEADERS", "Field", "Layout", "Register", "bit", "bits", "cap_layouts", "ecap_layouts", "layout", "reg"]


def _collect(package: str) -> dict[int, Layout]:
    import pkgutil  # here, not at the top: it imports typing, which output of the header alone never needs

    pkg = importlib.import_module(package)
    found: dict[int, Layout] = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{package}.{info.name}")
        for lay in getattr(module, "LAYOUTS", ()):
            if lay.cap_id in found:
                raise RuntimeError(f"capability id 0x{lay.cap_id:x} declared twice ({info.name})")
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
