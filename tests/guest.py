"""The real Linux guest of the qemu tests: built by scripts/guest-kernel, run under `pciexplore vm`.

Its init prints the guest's own view on the serial console (scripts/guest-kernel): `FN BDF HEX` config
bytes from sysfs, `MSI BDF IRQ...` from msi_irqs, `DRIVER BDF NAME`, then /proc/interrupts; a line
`view` on the console prints it again.  TCG only: a Linux guest does not boot under this host's KVM.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEGIN, END = "PCIEXPLORE-VIEW-BEGIN", "PCIEXPLORE-VIEW-END"
BOOT_TIMEOUT = 240.0  # 5 s when the machine is idle; two shared cores under load are much slower


def build() -> tuple[Path | None, str]:
    """(directory with vmlinuz and initrd, "") or (None, why it could not be built)."""
    p = subprocess.run([sys.executable, str(REPO / "scripts" / "guest-kernel")], capture_output=True, text=True,
                       timeout=600)
    if p.returncode:
        return None, (p.stderr.strip().splitlines() or ["guest-kernel failed"])[-1]
    return Path(p.stdout.strip()), ""


@dataclass
class View:
    """The guest's own view, as its init printed it."""

    config: dict[str, bytes] = field(default_factory=dict)  # "00:01.0" -> sysfs config bytes
    msi_irqs: dict[str, list[int]] = field(default_factory=dict)
    drivers: dict[str, str] = field(default_factory=dict)
    interrupts: str = ""

    @classmethod
    def parse(cls, lines: list[str]) -> View:
        v = cls()
        rest = []
        for line in lines:
            word, _, tail = line.partition(" ")
            parts = tail.split()
            if word == "FN" and len(parts) == 2:
                v.config[parts[0][5:]] = bytes.fromhex(parts[1])
            elif word == "MSI" and parts:
                v.msi_irqs[parts[0][5:]] = [int(x) for x in parts[1:]]
            elif word == "DRIVER" and len(parts) == 2:
                v.drivers[parts[0][5:]] = parts[1]
            else:
                rest.append(line)
        v.interrupts = "\n".join(rest)
        return v


class Guest:
    """`pciexplore vm -- qemu-system-x86_64 ... -serial stdio` with the guest's console on a pipe."""

    def __init__(self, kernel_dir: Path, devices: list[str]) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="pciexplore-guest-"))
        args = ["-machine", "q35", "-accel", "tcg", "-m", "256", "-nodefaults", "-display", "none",
                "-serial", "stdio", "-kernel", str(kernel_dir / "vmlinuz"), "-initrd", str(kernel_dir / "initrd"),
                "-append", "console=ttyS0 quiet"]
        for i, dev in enumerate(devices):
            if dev.endswith(",drive"):
                img = self.tmp / f"disk{i}.img"
                img.write_bytes(b"\0" * (1 << 20))
                args += ["-drive", f"if=none,id=d{i},file={img},format=raw", "-device", f"{dev}=d{i}"]
            else:
                args += ["-device", dev]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen([sys.executable, "-m", "pciexplore", "vm", "--", "qemu-system-x86_64", *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env, start_new_session=True)
        self._buf = b""
        self.console: list[str] = []
        self.spec = self.readline(30.0)
        if not self.spec.startswith("qmp:"):
            self.stop()
            raise RuntimeError(f"pciexplore vm printed {self.spec!r} first")

    def readline(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                raise TimeoutError(f"no console line within {timeout:g} s")
            chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
            if not chunk:
                raise EOFError("the VM exited")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        text = line.decode(errors="replace").rstrip("\r")
        self.console.append(text)
        return text

    def view(self, ask: bool = False, timeout: float = BOOT_TIMEOUT) -> View:
        """The next view the guest prints (`ask`: type `view` on its console first)."""
        if ask:
            self.proc.stdin.write(b"view\n")
            self.proc.stdin.flush()
        while self.readline(timeout) != BEGIN:
            pass
        lines = []
        while (line := self.readline(timeout)) != END:
            lines.append(line)
        return View.parse(lines)

    def run(self, command: str, timeout: float = BOOT_TIMEOUT) -> None:
        """Run a shell command in the guest (its init's `run CMD`) and wait until it is done."""
        self.proc.stdin.write(f"run {command}\n".encode())
        self.proc.stdin.flush()
        while self.readline(timeout) != "PCIEXPLORE-RAN":
            pass

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(OSError):
                f.close()
        for p in self.tmp.iterdir():
            p.unlink()
        self.tmp.rmdir()
