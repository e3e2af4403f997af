"""Annotated captures: a device's whole state in one JSON file, with notes on the bytes that matter.

    from pciexplore.capture import take, open_capture
    cap = take(pciexplore.open("sysfs"), how="notebook")       # config, MSI-X table/PBA, kernel view
    cap.annotate("00:03.0", "PCI_MSIX_FLAGS_MASKALL", "Function Mask is clear: vectors may fire")
    cap.save("bug-1234.json")                                  # atomic: old or new file, never torn
    cap = open_capture("bug-1234.json")                        # a read-only Source like any other

The file format is described in docs/capture-format.md.
"""

from __future__ import annotations

from .format import FORMAT, VERSION, Annotation, BarWindow, CapturedFunction, InterruptSample, MissingWindow
from .source import Capture, locate, open_capture
from .take import msix_windows, read_msix, take

__all__ = ["FORMAT", "VERSION", "Annotation", "BarWindow", "Capture", "CapturedFunction", "InterruptSample",
           "MissingWindow", "locate", "msix_windows", "open_capture", "read_msix", "take"]
