"""Which QEMU to start: a builder of PCI device models and topologies, the spec parser, and the process.

    Machine().add("e1000e").add("nvme", serial="x", behind="root-port").add("edu", behind="switch")
    parse_spec("e1000e+nvme,serial=x@root-port+virtio-net-pci@switch")      # the same as a string

`behind`: None (on the root complex, bus pcie.0), "root-port" (its own pcie-root-port) or "switch"
(root port -> x3130-upstream -> xio3130-downstream).  The process runs with no guest code at all:
`-machine q35 -accel tcg -S` keeps the CPU stopped and `-qtest` hands us memory and I/O ports.

The QEMU process can never outlive us: it is started in its own process group (a Ctrl-C in a terminal
reaches Python, which then closes the source) with PR_SET_PDEATHSIG = SIGKILL, so the kernel kills it
when the Python process dies for any reason (Jupyter kernel restart, SIGKILL, crash); it is forked
from one long-lived launcher thread, since the kernel sends that signal when the forking *thread*
ends.  `close()` and a finalizer end it in every ordinary case.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import InputError, NotSupported
from .qtest import QemuError

if TYPE_CHECKING:
    from .source import QemuSource

QEMU = "qemu-system-x86_64"
DEBIAN_PACKAGE = "qemu-system-x86"
TOPOLOGIES = {None: None, "": None, "rc": None, "root-port": "root-port", "rp": "root-port", "switch": "switch"}
_PR_SET_PDEATHSIG = 1
_QEMU_PREFIX = re.compile(r"^\S*qemu-system-\S+: ")


@dataclass
class DeviceSpec:
    """One `-device` of the machine and where it sits."""

    driver: str
    props: dict[str, str] = field(default_factory=dict)
    behind: str | None = None  # None, "root-port" or "switch"

    def __str__(self) -> str:
        props = "".join(f",{k}={v}" for k, v in self.props.items())
        return f"{self.driver}{props}" + (f"@{self.behind}" if self.behind else "")


@dataclass
class Machine:
    """A q35 machine with the given PCI device models; `start()` gives a running QemuSource."""

    devices: list[DeviceSpec] = field(default_factory=list)
    memory_mb: int = 128
    extra_args: list[str] = field(default_factory=list)
    qemu: str | None = None  # path of qemu-system-x86_64 (default: from PATH)

    def add(self, driver: str, behind: str | None = None, **props: object) -> Machine:
        """Add a `-device driver,prop=value,...`; names with dashes: add("virtio-net-pci",
        **{"disable-legacy": "on"}) (QEMU spells some with underscores, e.g. chassis_nr)."""
        if behind not in TOPOLOGIES:
            raise InputError(f"unknown topology {behind!r}: use None, 'root-port' or 'switch'")
        self.devices.append(DeviceSpec(driver, {k: str(v) for k, v in props.items()}, TOPOLOGIES[behind]))
        return self

    @property
    def spec(self) -> str:
        return "qemu:" + "+".join(str(d) for d in self.devices)

    def device_args(self) -> list[str]:
        """The -device arguments, with the ports and switches the topology asks for."""
        args: list[str] = []
        chassis = 0
        for i, dev in enumerate(self.devices):
            props = dict(dev.props)
            props.setdefault("id", f"pxdev{i}")  # lets QMP name the device (set_link, query-pci)
            if dev.driver == "nvme":
                props.setdefault("serial", f"pciexplore{i}")  # QEMU refuses an nvme without one
            if dev.behind:
                chassis += 1
                port = f"pxrp{i}"
                args += ["-device", f"pcie-root-port,id={port},chassis={chassis},slot=0"]
                if dev.behind == "switch":
                    chassis += 1
                    args += ["-device", f"x3130-upstream,id=pxup{i},bus={port}",
                             "-device", f"xio3130-downstream,id=pxdn{i},bus=pxup{i},chassis={chassis},slot=0"]
                    port = f"pxdn{i}"
                props.setdefault("bus", port)
            args += ["-device", dev.driver + "".join(f",{k}={v}" for k, v in props.items())]
        return args

    def command(self, qtest_socket: str) -> list[str]:
        return [self.qemu or find_qemu(), "-machine", "q35", "-accel", "tcg", "-S",
                "-qtest", f"unix:{qtest_socket}", "-qtest-log", "none",
                "-display", "none", "-nodefaults", "-monitor", "none", "-serial", "none",
                "-m", f"{self.memory_mb}M", *self.device_args(), *self.extra_args]

    def start(self, **options) -> QemuSource:
        """Start QEMU and enumerate: options are QemuSource's (start_timeout, timeout)."""
        from .source import QemuSource

        return QemuSource(self, **options)


def parse_spec(text: str) -> Machine:
    """"e1000e+nvme,serial=x@root-port+virtio-net-pci@switch" -> Machine."""
    m = Machine()
    if not text.strip():
        raise InputError("empty qemu: spec; e.g. qemu:e1000e, qemu:nvme,serial=x@root-port, qemu:e1000e+edu")
    for part in text.split("+"):
        part, _, behind = part.strip().partition("@")
        driver, *props = part.split(",")
        if not driver:
            raise InputError(f"qemu: spec {text!r} has an empty device")
        kv = {}
        for p in props:
            key, eq, value = p.partition("=")
            if not eq or not key:
                raise InputError(f"qemu: spec {text!r}: property {p!r} is not key=value")
            kv[key] = value
        if behind not in TOPOLOGIES:
            raise InputError(f"qemu: spec {text!r}: unknown topology @{behind} (use @root-port or @switch)")
        m.devices.append(DeviceSpec(driver, kv, TOPOLOGIES[behind]))
    return m


def find_qemu() -> str:
    path = shutil.which(QEMU)
    if path is None:
        raise NotSupported(f"{QEMU} not found: install the Debian package {DEBIAN_PACKAGE} "
                           f"(apt-get install {DEBIAN_PACKAGE})")
    return path


def _die_with_parent() -> None:
    """Runs in the child before exec: killed by the kernel when the parent goes away."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


#: PR_SET_PDEATHSIG fires when the *thread* that forked exits, so every QEMU is forked from this one
#: long-lived thread: a source opened in a short-lived thread keeps its QEMU until it is closed.
_LAUNCHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pciexplore-qemu-launcher")


def _spawn(cmd: list[str], stderr) -> subprocess.Popen:
    return _LAUNCHER.submit(subprocess.Popen, cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=stderr, start_new_session=True, preexec_fn=_die_with_parent).result()


class QemuProcess:
    """The running qemu-system-x86_64 and the two sockets it connected to: qtest and QMP (the monitor,
    for host-side events such as a link going down)."""

    def __init__(self, machine: Machine, start_timeout: float = 10.0) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="pciexplore-qemu-"))
        self.proc: subprocess.Popen | None = None
        self.conn: socket.socket | None = None
        self.qmp: socket.socket | None = None
        self.stderr_text = ""
        listeners = {}
        try:
            for name in ("qtest", "qmp"):
                listeners[name] = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    listeners[name].bind(str(self.workdir / f"{name}.sock"))
                except OSError as e:  # e.g. a TMPDIR too long for a Unix socket path (108 bytes)
                    raise QemuError(f"cannot create {self.workdir / name}.sock: {e.strerror or e}") from None
                listeners[name].listen(1)
                listeners[name].settimeout(0.05)
            cmd = machine.command(str(self.workdir / "qtest.sock"))
            cmd += ["-chardev", f"socket,id=pxqmp,path={self.workdir / 'qmp.sock'}", "-mon", "chardev=pxqmp,mode=control"]
            self.stderr = open(self.workdir / "stderr", "w+b")  # noqa: SIM115 - closed in stop()
            self.proc = _spawn(cmd, self.stderr)
            deadline = time.monotonic() + start_timeout
            for name, listener in listeners.items():
                conn = None
                while conn is None:
                    try:
                        conn, _ = listener.accept()
                    except TimeoutError:
                        if self.proc.poll() is not None:
                            raise self._start_error() from None
                        if time.monotonic() > deadline:
                            raise QemuError(f"QEMU did not connect within {start_timeout:g} s",
                                            file=machine.spec) from None
                conn.setblocking(True)
                if name == "qtest":
                    self.conn = conn
                else:
                    self.qmp = conn
            # connected: the directory is no longer needed (stderr stays readable through its open file),
            # so even a SIGKILLed Python leaves nothing behind in the temporary directory
            shutil.rmtree(self.workdir, ignore_errors=True)
        except BaseException:
            self.stop()
            raise
        finally:
            for listener in listeners.values():
                listener.close()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def exited(self) -> bool:
        return self.proc is None or self.proc.poll() is not None

    def _start_error(self) -> InputError:
        """QEMU's own complaint (first non-warning line on its stderr) as a one-line error."""
        self._save_stderr()
        lines = [ln.strip() for ln in self.stderr_text.splitlines()]
        errors = [ln for ln in lines if ln and "warning:" not in ln]
        msg = errors[0] if errors else "QEMU exited"
        return InputError("QEMU refused the machine: " + _QEMU_PREFIX.sub("", msg))

    def _save_stderr(self) -> None:
        if getattr(self, "stderr", None) is not None and not self.stderr.closed:
            self.stderr.seek(0)
            self.stderr_text = self.stderr.read().decode(errors="replace")

    def stop(self, kill: bool = False) -> None:
        """End QEMU (SIGTERM, then SIGKILL; at once SIGKILL with `kill`, e.g. when it stopped answering)
        and remove the temporary directory; safe to call twice."""
        for conn in (self.conn, self.qmp):
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.close()
        self.conn = self.qmp = None
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        elif proc is not None:
            proc.wait()
        if getattr(self, "stderr", None) is not None:
            self._save_stderr()
            self.stderr.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

