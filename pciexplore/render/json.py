"""Every decoded field of every function as plain JSON data (schema: docs/json-schema.md).

Numbers stay numbers; register and field names are the declarations' (pci_regs.h) names; a register
the source could not give has `"value": null`.  The schema is versioned by `SCHEMA_VERSION`: fields
are only ever added within a version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import names

if TYPE_CHECKING:
    from ..model import Block, Function
    from ..sources.base import Source

SCHEMA = "pciexplore.decoded"
SCHEMA_VERSION = 1


def block_to_json(block: Block) -> dict[str, Any]:
    """{register name: {"offset", "width", "value", "fields": {field name: value}}} for a layout."""
    out: dict[str, Any] = {}
    for rv in block.registers():
        entry: dict[str, Any] = {"offset": rv.offset, "width": rv.decl.width, "value": rv.value}
        if rv.decl.fields:
            entry["fields"] = {f.name: (None if rv.value is None else f.extract(rv.value)) for f in rv.decl.fields}
        out[rv.name] = entry
    return out


def function_names(fn: Function) -> dict[str, str | None]:
    """The vendor, device, class and programming interface names pci.ids (or udev's hwdb) gives."""
    ids = names.default()
    vendor, cls = fn.vendor_id, fn.class_code
    return {
        "vendor": ids.vendor(vendor), "device": ids.device(vendor, fn.device_id),
        "class": ids.subclass(cls >> 16, (cls >> 8) & 0xFF) or ids.base_class(cls >> 16),
        "prog_if": ids.prog_if(cls >> 16, (cls >> 8) & 0xFF, cls & 0xFF),
    }


def function_to_json(fn: Function) -> dict[str, Any]:
    vendor, device = fn.vendor_id, fn.device_id
    cls = fn.class_code
    kinfo = fn.kernel
    d: dict[str, Any] = {
        "address": str(fn.address),
        "domain": fn.address.domain, "bus": fn.address.bus, "device": fn.address.device,
        "function": fn.address.function,
        "vendor_id": vendor, "device_id": device, "revision": fn.revision, "class": cls,
        "header_type": fn.header_type,
        "names": function_names(fn),
        "config_length": len(fn.config),
        "header": block_to_json(fn.header),
        "capabilities": [],
        "problems": [{"offset": p.offset, "kind": p.kind, "extended": p.extended, "message": p.message}
                     for p in fn.problems],
        "kernel": None,
    }
    for cap in fn.capabilities:
        c: dict[str, Any] = {"key": cap.key, "name": cap.name, "id": cap.id, "offset": cap.offset,
                             "extended": cap.extended, "next": cap.next}
        if cap.extended:
            c["version"] = cap.version
        c["registers"] = block_to_json(cap)
        d["capabilities"].append(c)
    if kinfo is not None:
        d["kernel"] = {"driver": kinfo.driver, "modules": list(kinfo.modules), "irq": kinfo.irq,
                       "msi_irqs": list(kinfo.msi_irqs), "numa_node": kinfo.numa_node,
                       "iommu_group": kinfo.iommu_group}
    regions = fn.source.bar_regions(fn.address)
    d["bar_regions"] = None if regions is None else [
        {"index": r.index, "base": r.base, "size": r.size, "flags": r.flags} for _, r in sorted(regions.items())]
    return d


def source_to_json(source: Source, selector: str | None = None) -> dict[str, Any]:
    """The whole source (or the functions `selector` picks, lspci -s syntax) as one JSON object."""
    return {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "source": {"kind": source.kind, "name": source.name},
        "functions": [function_to_json(fn) for fn in source.functions(selector)],
    }
