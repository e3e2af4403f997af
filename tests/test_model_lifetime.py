"""A function whose MSI/MSI-X models were used is freed with its source (models must not keep it alive)."""

from __future__ import annotations

import gc
import weakref

from pciexplore import open_source


def test_function_with_interrupt_models_is_freed_with_its_source():
    src = open_source("sim:nic")
    fn = next(f for f in src.functions() if f.cap("msix") is not None)
    fn.msix.mask(0)
    fn.msix.trigger(0)
    assert fn.msix.log and fn.msix is fn.msix  # the same model, with its log, on every lookup
    assert fn.msi is None or fn.msi is fn.msi
    gone_fn, gone_src = weakref.ref(fn), weakref.ref(src)
    src.close()
    del fn, src
    gc.collect()
    assert gone_fn() is None and gone_src() is None


def test_refresh_keeps_the_event_log():
    src = open_source("sim:nic")
    fn = next(f for f in src.functions() if f.cap("msix") is not None)
    model = fn.msix
    model.mask(0)
    fn.refresh()
    assert fn.msix is model and len(fn.msix.log) == 1
