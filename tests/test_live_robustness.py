"""Live sources that misbehave: a device hot-unplugged between listing and reading, a config read that
fails, a device that vanishes while the CLI walks the bus.  Each gives one clear line naming the device
and never a traceback; the other functions still decode."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import corpus_file

import pciexplore
from pciexplore.address import Address
from pciexplore.commands.show import limited_note
from pciexplore.errors import DeviceGone
from pciexplore.render.lspci import LspciOptions, render_source
from pciexplore.sources.fake_sysfs import build_tree
from pciexplore.sources.sysfs import SysfsSource


@pytest.fixture()
def tree(tmp_path):
    path = corpus_file("vm/virtio-msix-only-vm.lspci")
    if not path.exists():
        pytest.skip("corpus absent")
    fns = [(f.address, f.config) for f in pciexplore.open(path).functions()]
    return build_tree(tmp_path, fns)


def test_hot_unplugged_device_is_a_clear_error_naming_it(tree):
    src = pciexplore.open(tree)
    gone = src.functions()[2]
    shutil.rmtree(tree / str(gone.address))  # hot-unplug after listing
    with pytest.raises(DeviceGone) as e:
        _ = gone.config
    assert str(gone.address) in str(e.value) and "vanished" in str(e.value)
    assert src.functions()[1].cap("msix") is not None  # the others still decode


def test_config_read_failure_names_file_and_device(tree):
    src = pciexplore.open(tree)
    fn = src.functions()[3]
    config = tree / str(fn.address) / "config"
    config.unlink()
    config.mkdir()  # reading it now fails with EISDIR, as a failing device read fails with EIO
    with pytest.raises(DeviceGone) as e:
        _ = fn.config
    assert str(config) in str(e.value) and str(fn.address) in str(e.value)


def test_cli_reports_a_vanished_device_in_one_line(tree):
    shutil.rmtree(tree / "0000:00:04.0" / "config", ignore_errors=True)
    (tree / "0000:00:04.0" / "config").unlink(missing_ok=True)
    out = subprocess.run([sys.executable, "-m", "pciexplore", "show", "-vvv", str(tree)],
                         capture_output=True, text=True, timeout=60)
    assert "Traceback" not in out.stderr
    assert out.returncode != 0
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "0000:00:04.0" in lines[0], out.stderr


def test_refresh_after_unplug_reads_again_and_fails_cleanly(tree):
    src = pciexplore.open(tree)
    fn = src.functions()[1]
    assert fn.cap("msix") is not None  # read once
    shutil.rmtree(tree / str(fn.address))
    fn.refresh()
    with pytest.raises(DeviceGone):
        render_source(src, LspciOptions(verbose=3), selector=fn.address.short)


def test_live_host_is_read_only_without_opt_in():
    src = pciexplore.open("sysfs")
    fns = src.functions()
    if not fns:
        pytest.skip("no PCI functions")
    with pytest.raises(pciexplore.ReadOnlyError):
        fns[0].write(0x04, b"\x00\x00")


def test_short_note_only_where_the_kernel_gave_less_than_the_file_holds(tmp_path):
    short = bytes.fromhex("86801e10") + bytes(60)  # a function whose config file is only 64 bytes long
    src = SysfsSource(build_tree(tmp_path, [(Address(0, 0, 1, 0), short)]))
    assert len(src.functions()[0].config) == 64
    assert limited_note(src) is None  # a short file, not a permission limit
    src.limited[Address(0, 0, 1, 0)] = 4096  # what read_config records when the file is longer (not root)
    note = limited_note(src)
    assert note is not None and "0000:00:01.0" in note and "run as root" in note
