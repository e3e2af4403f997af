"""Opening a source from a spec string; each kind lives in its own module, imported only when used."""

from __future__ import annotations

import importlib
import os

from ..errors import InputError
from .base import BarRegion, KernelInfo, Source, path_text

TYPE_CHECKING = False  # typing's constant without importing typing: every command opens a source
if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["BarRegion", "KernelInfo", "Source", "open_source"]

#: spec prefix -> "module:function" taking the rest of the spec
PREFIXES = {
    "sim": "pciexplore.sources.sim:open_spec",
    "qemu": "pciexplore.sources.qemu:open_spec",
    "qmp": "pciexplore.sources.qemu.qmp:open_spec",
    "capture": "pciexplore.capture:open_capture",
    "dump": "pciexplore.sources.dump:DumpSource",
    "raw": "pciexplore.sources.raw:RawSource",
    "sysfs": "pciexplore.sources.sysfs:SysfsSource",
}


def _load(target: str):
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def open_source(spec: str | Path | Source | None = None, **options) -> Source:
    """Open `spec`: None or "sysfs" (this host), "sysfs:DIR", "sim:...", "qemu:...", "qmp:SOCKET"
    (a running VM, read-only), or a file path
    (lspci dump, raw config binary, or capture JSON; the kind is recognised from the content)."""
    if isinstance(spec, Source):
        return spec
    if spec is None or spec == "sysfs":
        return _load(PREFIXES["sysfs"])(**options)
    text = str(spec)
    prefix, sep, rest = text.partition(":")
    # os.path rather than pathlib here: pathlib's import is a tenth of a plain `show`'s start-up
    if sep and prefix in PREFIXES and not os.path.exists(text):
        if prefix == "sysfs" and not rest:
            return _load(PREFIXES["sysfs"])(**options)
        return _load(PREFIXES[prefix])(rest, **options)
    path = path_text(text)
    if os.path.isdir(text):
        return _load(PREFIXES["sysfs"])(path, **options)
    if not os.path.exists(text):
        raise InputError("no such file or directory", file=text)
    if not os.path.isfile(text):  # opening a FIFO would block until someone writes to it
        raise InputError("not a regular file (a FIFO or device node cannot be opened as a source)", file=text)
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", file=text) from None
    if head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] in (b"{", b"[") or path.lower().endswith(".json"):
        # JSON, whole or broken (a capture maybe saved with a UTF-8 BOM)
        return _load(PREFIXES["capture"])(path, **options)
    from .raw import looks_raw

    if looks_raw(head):
        return _load(PREFIXES["raw"])(path, **options)
    return _load(PREFIXES["dump"])(path, **options)
