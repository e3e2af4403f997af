"""The kernel manager of the dashboard's Voilà server (VoilaConfiguration.multi_kernel_manager_class): a
kernel handed from the preheated pool to a page gets a fresh idle time before it can be culled.

Voilà's pool keeps its kernel from the culler, but once a page takes it, its last activity is still the
notebook's run when it was preheated; a page opened more than `cull_idle_timeout` after that lost its
kernel to the next cull pass whenever the pass came before the browser had loaded its scripts and
connected (404 "Kernel does not exist": the explorer never drew).  Imported only by that server.
"""

from __future__ import annotations

from datetime import datetime, timezone

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from jupyter_server.utils import ensure_async


class PageKernelManager(AsyncMappingKernelManager):
    """Culls as jupyter_server does, except that the first pass to meet a kernel (Voilà's own manager asks
    only about kernels out of its pool) starts its idle time then instead of culling it."""

    async def cull_kernel_if_idle(self, kernel_id: str) -> None:
        kernel = self._kernels.get(kernel_id)
        if kernel is not None and not getattr(kernel, "pciexplore_out_of_pool", False):
            kernel.pciexplore_out_of_pool = True
            kernel.last_activity = datetime.now(timezone.utc)  # the page it went to has until cull_idle_timeout to connect
            return
        await ensure_async(super().cull_kernel_if_idle(kernel_id))
