"""QEMU's irqfd delivery path measured on QEMU itself: a vhost-user-blk device served by
qemu-storage-daemon, driven over qtest on KVM, its interrupts counted by the vCPU (sources/qemu/vcpu.py);
and the QMP channel against QEMU's real event lines."""

from __future__ import annotations

import pytest

from pciexplore import open_source

pytestmark = pytest.mark.qemu


def test_qmp_answers_stay_in_step_across_qemus_event_lines():
    # QEMU 7.2 prints `{"timestamp": ..., "event": "RESUME"}` after cont's answer: taken for the next
    # command's answer, every later command would read the one before it
    with open_source("qemu:edu") as src:
        assert src.qmp.execute("query-status")["status"] == "prelaunch"
        assert src.qmp.execute("cont") == {}
        assert src.qmp.execute("query-status")["running"] is True
        assert src.qmp.execute("stop") == {}
        assert src.qmp.execute("query-status")["status"] == "paused"
