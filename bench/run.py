"""Run every benchmark in one go and write the figures, with this machine's description, to
bench/RESULTS.md.  Timings on shared machines are noisy: compare the ratios measured in one run.

    python bench/run.py            # all
    python bench/run.py decode msix
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["imports", "decode", "sysfs", "msix", "qemu", "vhost", "qmp", "capture", "live", "virtio", "journal", "fleet",
           "dashboard"]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.node()}: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def main(argv: list[str]) -> int:
    names = argv or BENCHES
    out = [f"# Benchmark results\n\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()}\n"]
    status = 0
    for name in names:
        script = HERE / f"{name}.py"
        if not script.exists():
            print(f"== {name}: no bench/{name}.py")
            continue
        print(f"== {name}", flush=True)
        proc = subprocess.run([sys.executable, str(script)], cwd=HERE, capture_output=True, text=True)
        text = proc.stdout + (f"\n(exit {proc.returncode}) {proc.stderr.strip()[-2000:]}" if proc.returncode else "")
        print(text, flush=True)
        status |= proc.returncode
        out.append(f"## {name}\n\n```\n{text.strip()}\n```\n")
    (HERE / "RESULTS.md").write_text("\n".join(out))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
