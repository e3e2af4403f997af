"""Jupyter widgets: thin views over the kit's models (sources, functions, capabilities, MSI-X).

A widget holds no PCI knowledge: it renders what a model says (declarations, decoded registers, the
MSI-X table and PBA) and calls the model's verbs (`mask`, `unmask`, `trigger`, ...).  Where a source
cannot do something (a capture cannot be written) the control is disabled and its tooltip says why.

This is the only package that imports ipywidgets; `import pciexplore` never imports it.
"""

from __future__ import annotations

from .browser import DeviceBrowser
from .chain import CapabilityChain
from .common import snapshot
from .doctor import DoctorPanel
from .explorer import Explorer
from .hexview import HexView
from .irqpath import InterruptPathView
from .irqplot import InterruptPlot
from .msix import MsixTableView, PbaGrid
from .step import Step
from .timeline import TimelineView

__all__ = ["CapabilityChain", "DeviceBrowser", "DoctorPanel", "Explorer", "HexView", "InterruptPathView", "InterruptPlot",
           "MsixTableView", "PbaGrid", "Step", "TimelineView", "snapshot"]
