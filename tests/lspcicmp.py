"""Compare `pciexplore show` with the installed lspci on the same input, line for line.

    python tests/lspcicmp.py [-vvv] [-n|-nn] FILE_OR_DIR...   # prints fidelity and a diff per file

Used by the differential tests; fidelity = lines of lspci's output we reproduce / lspci's lines.
"""

from __future__ import annotations

import difflib
import shutil
import subprocess
import sys
from pathlib import Path

from pciexplore import open_source
from pciexplore.render.lspci import LspciOptions, render_source

LSPCI = shutil.which("lspci") or "/usr/bin/lspci"


def lspci_text(path: str | None, flags: list[str]) -> str:
    cmd = [LSPCI, *flags] + (["-F", str(path)] if path else [])
    out = subprocess.run(cmd, capture_output=True, check=True).stdout
    return out.decode("utf-8", errors="surrogateescape")  # lspci prints raw bytes (e.g. %c of a pin)


def options(flags: list[str]) -> LspciOptions:
    """lspci's short flags (-v, -nn, -xxx, -D, -k, possibly combined like -vvvnn) as our options."""
    ids = flags[flags.index("-d") + 1] if "-d" in flags else None
    letters = "".join(f[1:] for f in flags if f.startswith("-") and not f.startswith("--") and f != "-d")
    return LspciOptions(ids=ids, path=letters.count("P"), verbose=letters.count("v"), numeric=letters.count("n"), domains="D" in letters,
                        kernel="k" in letters, hex_dump=letters.count("x"), machine=letters.count("m"))


def our_text(path: str | None, flags: list[str]) -> str:
    opts = options(flags)
    with open_source(path) as src:
        return render_source(src, opts)


def without_capabilities(lines: list[str]) -> list[str]:
    """The lines outside capability blocks ("\tCapabilities: ..." and the "\t\t..." lines under it)."""
    out = []
    in_cap = False
    for line in lines:
        if line.startswith("\tCapabilities:"):
            in_cap = True
            continue
        if in_cap and line.startswith("\t\t"):
            continue
        in_cap = False
        out.append(line)
    return out


def unrendered_capabilities(path: str | None) -> list[str]:
    """Capabilities present in the source (as lspci walks it) that no renderer module handles yet."""
    from pciexplore.render.lspci import cap_renderers, ecap_renderers

    missing = set()
    with open_source(path) as src:
        for fn in src.functions():
            for cap in fn.capabilities:
                table = ecap_renderers() if cap.extended else cap_renderers()
                known_to_lspci = cap.id <= (0x34 if cap.extended else 0x14)
                if cap.id not in table and cap.id != 0 and known_to_lspci:
                    missing.add(f"{'ecap' if cap.extended else 'cap'} 0x{cap.id:02x}")
    return sorted(missing)


def compare(path: str | None, flags: list[str]) -> tuple[int, int, list[str]]:
    """(matching lines, lspci lines, unified diff lines)."""
    want = lspci_text(path, flags).splitlines()
    got = our_text(path, flags).splitlines()
    sm = difflib.SequenceMatcher(a=want, b=got, autojunk=False)
    matching = sum(b.size for b in sm.get_matching_blocks())
    diff = list(difflib.unified_diff(want, got, "lspci", "pciexplore", lineterm="", n=1))
    return matching, len(want), diff


def main(argv: list[str]) -> int:
    flags = [a for a in argv if a.startswith("-")]
    paths = [a for a in argv if not a.startswith("-")]
    files: list[str] = []
    for p in paths:
        pp = Path(p)
        files += sorted(str(f) for f in pp.glob("*.lspci")) if pp.is_dir() else [p]
    total_m = total_n = 0
    for f in files:
        m, n, diff = compare(f, flags)
        total_m += m
        total_n += n
        print(f"{m}/{n} {f}")
        for line in diff[:200]:
            print("   ", line)
    if total_n:
        print(f"fidelity {total_m}/{total_n} = {100 * total_m / total_n:.2f}%")
    return 0 if total_m == total_n else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
