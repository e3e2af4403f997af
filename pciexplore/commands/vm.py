"""`pciexplore vm -- QEMU-ARGS...`: run a VM exactly as given, plus a QMP socket to attach to and the trace
events that record its driver's bring-up.

    pciexplore vm -- qemu-system-x86_64 -machine q35 -accel tcg -kernel bzImage -nographic ...
    pciexplore vm -- -machine q35 ...              # qemu-system-x86_64 from PATH

The first line on stdout is the spec to attach to (`qmp:/tmp/pciexplore-vm-XXXX/qmp.sock`), printed once
the socket is there; QEMU's own stdout (a `-serial stdio` console) follows, stdin and stderr are QEMU's.
What was added is said on stderr.  The command returns QEMU's exit status when the VM exits and removes
the socket and trace (`--keep` leaves them); QEMU dies with it (PR_SET_PDEATHSIG), so nothing is left
running however it ends.  The recording: `pciexplore.open(spec).timeline()`, and in `pciexplore capture`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..errors import InputError

START_TIMEOUT = 30.0  # seconds until QEMU has created its QMP socket


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("vm", help="run a QEMU VM as given, print the qmp: spec to attach to, record its bring-up")
    p.add_argument("--keep", action="store_true", help="leave the socket directory and the trace after the VM exits")
    p.add_argument("qemu", nargs=argparse.REMAINDER, metavar="-- QEMU-ARGS",
                   help="the QEMU command line (its binary first, or arguments for qemu-system-x86_64)")
    p.set_defaults(run=run)


def added_args(workdir: Path) -> list[str]:
    """What `pciexplore vm` adds to the user's command line: a QMP socket and the trace into a log file."""
    from ..sources.qemu.timeline import TRACE_EVENTS

    args = ["-qmp", f"unix:{workdir / 'qmp.sock'},server=on,wait=off"]
    for event in TRACE_EVENTS:
        args += ["-trace", event]
    return [*args, "-D", str(workdir / "trace.log")]


def _command(words: list[str]) -> list[str]:
    if words and words[0] == "--":
        words = words[1:]
    if not words:
        raise InputError("no QEMU command line: pciexplore vm -- qemu-system-x86_64 -machine q35 ...")
    if words[0].startswith("-"):
        from ..sources.qemu.machine import find_qemu

        words = [find_qemu(), *words]
    for taken in ("-qmp", "-D"):
        if taken in words:
            raise InputError(f"the command line already has {taken}: pciexplore vm adds its own "
                             f"({'the QMP socket it prints' if taken == '-qmp' else 'the trace log'}); remove it")
    return words


def run(args: argparse.Namespace) -> int:
    from ..sources.qemu.machine import _LAUNCHER, _die_with_parent
    from ..sources.qemu.qmp import VM_INFO

    cmd = _command(list(args.qemu))
    workdir = Path(tempfile.mkdtemp(prefix="pciexplore-vm-"))
    extra = added_args(workdir)
    sock = workdir / "qmp.sock"
    print(f"pciexplore vm: added {shlex.join(extra)}", file=sys.stderr, flush=True)
    proc: subprocess.Popen | None = None
    # SIGTERM ends us through `finally` (QEMU stopped, directory removed), not by the default instant exit
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        proc = _LAUNCHER.submit(subprocess.Popen, [*cmd, *extra], stdout=subprocess.PIPE,
                                preexec_fn=_die_with_parent).result()
        (workdir / VM_INFO).write_text(json.dumps({"qmp": str(sock), "trace": str(workdir / "trace.log"),
                                                   "pid": proc.pid, "command": [*cmd, *extra]}))
        deadline = time.monotonic() + START_TIMEOUT
        while not sock.exists():
            if proc.poll() is not None:
                raise InputError(f"QEMU exited with status {proc.returncode} before creating its QMP socket")
            if time.monotonic() > deadline:
                raise InputError(f"QEMU created no QMP socket within {START_TIMEOUT:g} s")
            time.sleep(0.02)
        out = sys.stdout.buffer
        out.write(f"qmp:{sock}\n".encode())
        out.flush()
        while chunk := os.read(proc.stdout.fileno(), 1 << 16):  # the guest's console, as it comes
            out.write(chunk)
            out.flush()
        return proc.wait()
    finally:
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if args.keep:
            print(f"pciexplore vm: kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
