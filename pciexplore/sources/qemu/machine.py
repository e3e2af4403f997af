"""Which QEMU to start: a builder of PCI device models and topologies, the spec parser, and the process.

    Machine().add("e1000e").add("nvme", serial="x", behind="root-port").add("edu", behind="switch")
    parse_spec("e1000e+nvme,serial=x@root-port+virtio-net-pci@switch")      # the same as a string

`behind`: None (on the root complex, bus pcie.0), "root-port" (its own pcie-root-port) or "switch"
(root port -> x3130-upstream -> xio3130-downstream).  The process runs with no guest code at all:
`-machine q35 -accel tcg -S` keeps the CPU stopped and `-qtest` hands us memory and I/O ports.

`accel="kvm"` (implied by a vhost-user device: only KVM has irqfds) runs the vCPU instead, executing
vcpu.py's interrupt counter as its BIOS.  A vhost-user back-end starts only while the VM runs, so with
`accel="tcg"` such a machine runs too, its vCPU halted for good by a BIOS of `hlt`, deliveries seen
through the mailboxes as usual.  Either way guest RAM is a shared memfd (the back-end maps it).  A
`vhost-user-blk-pci` without a `chardev` gets its own `qemu-storage-daemon` serving a 1 MiB image in the
machine's temporary directory, started before QEMU and ended after it.

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
STORAGE_DAEMON = "qemu-storage-daemon"  # Debian: qemu-system-common, which qemu-system-x86 depends on
VHOST_USER_BLK = "vhost-user-blk-pci"
ACCELS = ("tcg", "kvm")
KVM_CPU = "qemu64,+x2apic"  # the counter program runs the local APIC in x2APIC mode (vcpu.py)
IMAGE_SIZE = 1 << 20  # the storage daemon's disk image
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
    accel: str = "tcg"  # "kvm": a running vCPU counts the deliveries (vcpu.py)

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

    def device_args(self, workdir: Path | None = None) -> list[str]:
        """The -device arguments, with the ports and switches the topology asks for (and the chardev of
        each vhost-user-blk the kit serves: its socket in `workdir`)."""
        args: list[str] = []
        chassis = 0
        for i, dev in enumerate(self.devices):
            props = dict(dev.props)
            props.setdefault("id", f"pxdev{i}")  # lets QMP name the device (set_link, query-pci)
            if dev.driver == "nvme":
                props.setdefault("serial", f"pciexplore{i}")  # QEMU refuses an nvme without one
            if dev.driver == VHOST_USER_BLK and "chardev" not in props:
                props["chardev"] = f"pxvhu{i}"
                args += ["-chardev", f"socket,id=pxvhu{i},path={Path(workdir or '.') / f'vhu{i}.sock'}"]
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

    @property
    def vhost_user(self) -> list[str]:
        """The machine's vhost-user devices."""
        return [d.driver for d in self.devices if d.driver.startswith("vhost-user")]

    @property
    def runs(self) -> bool:
        """Whether the VM runs (KVM, or a vhost-user back-end to start); otherwise it stays stopped (-S)."""
        return self.accel == "kvm" or bool(self.vhost_user)

    def command(self, qtest_socket: str, bios: str = "") -> list[str]:
        """QEMU's command line; its sockets and images live beside `qtest_socket`; `bios`: the path QEMU
        reads the vCPU's BIOS from under KVM (it reads it after connecting, when the directory is gone)."""
        workdir = Path(qtest_socket).parent
        if self.accel not in ACCELS:
            raise InputError(f"unknown accelerator {self.accel!r}: use 'tcg' or 'kvm'", file=self.spec)
        accel = ["-accel", "tcg"]
        if self.accel == "kvm":
            why = kvm_unusable()
            if why is not None:
                hint = "; accel='tcg' runs a vhost-user device without irqfds" if self.vhost_user else ""
                raise NotSupported(f"accel='kvm' but KVM is not usable here ({why}){hint}", file=self.spec)
            accel = ["-accel", "kvm", "-cpu", KVM_CPU]
        if self.runs:
            accel += ["-bios", bios, "-object", f"memory-backend-memfd,id=pxmem,size={self.memory_mb}M,share=on",
                      "-machine", "memory-backend=pxmem"]
        return [self.qemu or find_qemu(), "-machine", "q35", *accel, "-S",
                "-qtest", f"unix:{qtest_socket}", "-qtest-log", "none",
                "-display", "none", "-nodefaults", "-monitor", "none", "-serial", "none",
                "-m", f"{self.memory_mb}M", *self.device_args(workdir), *self.extra_args]

    def daemons(self, workdir: Path) -> list[tuple[list[str], Path]]:
        """(command, socket it serves) of each qemu-storage-daemon the machine needs; each image is made here."""
        out = []
        for i, dev in enumerate(self.devices):
            if dev.driver == VHOST_USER_BLK and "chardev" not in dev.props:
                image, sock = workdir / f"disk{i}.img", workdir / f"vhu{i}.sock"
                with open(image, "wb") as f:
                    f.truncate(IMAGE_SIZE)
                out.append(([find_tool(STORAGE_DAEMON), "--blockdev",
                             f"driver=file,node-name=pxdisk{i},filename={image}",
                             "--export", f"type=vhost-user-blk,id=pxexp{i},node-name=pxdisk{i},"
                             f"addr.type=unix,addr.path={sock},writable=on"], sock))
        return out

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
    if m.vhost_user:
        m.accel = "kvm"  # the path a vhost device is for: irqfds, which only KVM has
    return m


def find_qemu() -> str:
    return find_tool(QEMU)


def find_tool(name: str) -> str:
    """A QEMU program on PATH, or a one-line error naming the Debian package that brings it."""
    path = shutil.which(name)
    if path is None:
        raise NotSupported(f"{name} not found: install the Debian package {DEBIAN_PACKAGE} "
                           f"(apt-get install {DEBIAN_PACKAGE})")
    return path


def kvm_unusable() -> str | None:
    """Why this machine cannot run a KVM guest (None when /dev/kvm opens read-write)."""
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC))
    except OSError as e:
        return f"/dev/kvm: {e.strerror}"
    return None


def _die_with_parent() -> None:
    """Runs in the child before exec: killed by the kernel when the parent goes away."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


#: PR_SET_PDEATHSIG fires when the *thread* that forked exits, so every QEMU is forked from this one
#: long-lived thread: a source opened in a short-lived thread keeps its QEMU until it is closed.
_LAUNCHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pciexplore-qemu-launcher")


def _spawn(cmd: list[str], stderr, pass_fds: tuple[int, ...] = ()) -> subprocess.Popen:
    return _LAUNCHER.submit(subprocess.Popen, cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=stderr, start_new_session=True, preexec_fn=_die_with_parent,
                            pass_fds=pass_fds).result()


class QemuProcess:
    """The running qemu-system-x86_64 and the two sockets it connected to: qtest and QMP (the monitor,
    for host-side events such as a link going down)."""

    def __init__(self, machine: Machine, start_timeout: float = 10.0) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="pciexplore-qemu-"))
        self.proc: subprocess.Popen | None = None
        #: qemu-storage-daemons serving the machine's vhost-user devices, with their stderr files
        self.daemons: list[tuple[subprocess.Popen, object]] = []
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
            fds: tuple[int, ...] = ()
            if machine.runs:  # the BIOS in a memfd QEMU inherits: nothing on disk to clean up
                from .vcpu import bios_image

                fds = (os.memfd_create("pciexplore-vcpu-bios"),)
                os.write(fds[0], bios_image(counter=machine.accel == "kvm"))
            cmd = machine.command(str(self.workdir / "qtest.sock"), bios=f"/dev/fd/{fds[0]}" if fds else "")
            cmd += ["-chardev", f"socket,id=pxqmp,path={self.workdir / 'qmp.sock'}", "-mon", "chardev=pxqmp,mode=control"]
            deadline = time.monotonic() + start_timeout
            for daemon_cmd, sock in machine.daemons(self.workdir):
                self._start_daemon(daemon_cmd, sock, deadline, machine.spec)
            self.stderr = open(self.workdir / "stderr", "w+b")  # noqa: SIM115 - closed in stop()
            try:
                self.proc = _spawn(cmd, self.stderr, fds)
            finally:
                for fd in fds:
                    os.close(fd)
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

    def _start_daemon(self, cmd: list[str], sock: Path, deadline: float, spec: str) -> None:
        """Start one qemu-storage-daemon and wait until it listens on `sock` (QEMU's chardev connects
        once, at start)."""
        err = open(sock.with_suffix(".stderr"), "w+b")  # noqa: SIM115 - closed in stop()
        proc = _spawn(cmd, err)
        self.daemons.append((proc, err))
        while not sock.exists():
            if proc.poll() is not None:
                err.seek(0)
                text = err.read().decode(errors="replace").strip().splitlines()
                raise InputError(f"{cmd[0]} refused the export: {text[0] if text else 'it exited'}", file=spec)
            if time.monotonic() > deadline:
                raise QemuError(f"{cmd[0]} did not listen on {sock.name} in time", file=spec)
            time.sleep(0.005)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def exited(self) -> bool:
        return self.proc is None or self.proc.poll() is not None

    def complaint(self) -> str:
        """QEMU's own complaint: the first non-warning line on its stderr, its program name cut off."""
        self._save_stderr()
        lines = [ln.strip() for ln in self.stderr_text.splitlines()]
        errors = [ln for ln in lines if ln and "warning:" not in ln]
        return _QEMU_PREFIX.sub("", errors[0]) if errors else "QEMU exited"

    def _start_error(self) -> InputError:
        """QEMU's own complaint as a one-line error."""
        return InputError("QEMU refused the machine: " + self.complaint())

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
        if proc is not None:
            _end(proc, kill)
        if getattr(self, "stderr", None) is not None:
            self._save_stderr()
            self.stderr.close()
        daemons, self.daemons = self.daemons, []
        for daemon, err in daemons:  # after QEMU, which was their only client
            _end(daemon, kill)
            err.close()
        shutil.rmtree(self.workdir, ignore_errors=True)



def _end(proc: subprocess.Popen, kill: bool) -> None:
    """End a process we started in its own group: SIGTERM, then SIGKILL after 2 s (at once with `kill`)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
