"""Time `import pciexplore` in a fresh interpreter, less the interpreter's own start-up; goal <= 300 ms.
Also checks that nothing heavy (pandas, ipywidgets, matplotlib) is imported by it."""

from __future__ import annotations

import subprocess
import sys

from common import timed

HEAVY = ("pandas", "ipywidgets", "matplotlib", "numpy", "IPython")


def main() -> int:
    base, _ = timed(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), repeat=7)
    full, _ = timed(lambda: subprocess.run([sys.executable, "-c", "import pciexplore"], check=True), repeat=7)
    loaded = subprocess.run(
        [sys.executable, "-c", f"import sys, pciexplore; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"],
        check=True, capture_output=True, text=True,
    ).stdout.split()
    print(f"import pciexplore: {(full - base) * 1e3:.1f} ms beyond interpreter start-up ({base * 1e3:.1f} ms); "
          f"goal <= 300 ms; heavy modules imported: {', '.join(loaded) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
