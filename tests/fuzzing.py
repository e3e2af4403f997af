"""Fuzzing harness: mutate corpus dumps and generate hostile config spaces, feed them through every
reader and renderer, and check the outcome is either a decoded model or one clear `PciError` — never an
uncaught exception, never a hang.

    python tests/fuzzing.py --seconds 3600      # long run; the suite runs a bounded one

Mutations know the structure of config space (capability pointers that loop, point into the header,
past the end or at odd offsets; extended headers; truncation) and of dump text (bad hex, cut lines,
CRLF, random bytes), so they reach the code paths a random byte flip would rarely find.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pciexplore import PciError, open_source
from pciexplore.render.lspci import LspciOptions, render_source

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
HANG_SECONDS = 5


class Hang(Exception):
    pass


@dataclass
class Outcome:
    tried: int = 0
    decoded: int = 0
    rejected: int = 0
    kinds: Counter = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (input description, what went wrong)


def dump_text(functions: list[tuple[str, bytes]]) -> str:
    """lspci -xxxx style text for (address, config) pairs."""
    out = []
    for addr, cfg in functions:
        out.append(f"{addr} Fuzzed device")
        for off in range(0, len(cfg), 16):
            out.append(f"{off:02x}: " + " ".join(f"{b:02x}" for b in cfg[off : off + 16]))
        out.append("")
    return "\n".join(out) + "\n"


def corpus_configs() -> list[bytes]:
    """Config spaces of every function of every corpus dump (empty when the corpus is absent)."""
    configs = []
    for path in sorted(CORPUS.glob("*/*.lspci")):
        try:
            configs += [fn.config for fn in open_source(path).functions()]
        except PciError:
            continue
    return configs


# -- mutations of config bytes ------------------------------------------------------------------
def _cap_offsets(cfg: bytearray) -> list[int]:
    offs, where, seen = [], cfg[0x34] & ~3 if len(cfg) > 0x34 else 0, set()
    while where and where + 2 <= len(cfg) and where not in seen and len(offs) < 48:
        seen.add(where)
        offs.append(where)
        where = cfg[where + 1] & ~3
    return offs


def mutate_config(cfg: bytes, rng: random.Random) -> tuple[bytes, str]:
    b = bytearray(cfg)
    caps = _cap_offsets(b)
    choice = rng.randrange(12)
    if choice == 0 and caps:  # a capability points back to itself or an earlier one: a loop
        at = rng.choice(caps)
        b[at + 1] = rng.choice(caps[: caps.index(at) + 1])
        what = f"loop at 0x{at:x}"
    elif choice == 1 and len(b) > 0x34:  # pointer into the header
        b[0x34] = rng.randrange(0, 0x40)
        b[6] |= 0x10
        what = "pointer into header"
    elif choice == 2:  # pointer past the end / at an odd offset
        target = caps[-1] + 1 if caps else 0x34
        if target < len(b):
            b[target] = rng.choice([0xFF, 0xFD, 0xFE, len(b) & 0xFF, rng.randrange(256)])
        what = "wild pointer"
    elif choice == 3:  # truncate anywhere
        cut = rng.randrange(0, len(b) + 1)
        b = b[:cut]
        what = f"truncated to {cut}"
    elif choice == 4 and len(b) >= 0x104:  # extended chain: loop, below 0x100, past the end
        at = rng.choice([0x100] + [o for o in range(0x104, len(b) - 3, 4) if b[o : o + 4] != b"\0\0\0\0"][:8])
        nxt = rng.choice([0x100, at, rng.randrange(0, 0x1000), 0xFFC, 0x40])
        hdr = int.from_bytes(b[at : at + 4], "little") & 0x000FFFFF | (nxt << 20)
        b[at : at + 4] = hdr.to_bytes(4, "little")
        what = f"ecap next 0x{nxt:x} at 0x{at:x}"
    elif choice == 5 and caps:  # a capability's body randomised (sizes, BIRs, counts at extremes)
        at = rng.choice(caps)
        for i in range(2, min(24, len(b) - at)):
            b[at + i] = rng.choice([0x00, 0xFF, rng.randrange(256)])
        what = f"cap body 0x{at:x} randomised"
    elif choice == 6 and caps:  # a capability id replaced (unknown ids, 0xff = broken chain)
        at = rng.choice(caps)
        b[at] = rng.choice([0x00, 0xFF, rng.randrange(256)])
        what = f"cap id at 0x{at:x}"
    elif choice == 7 and len(b) > 0x0E:  # header type changed under the same bytes (bridge, cardbus, junk)
        b[0x0E] = rng.choice([0, 1, 2, 3, 0x7F, 0x81, 0x82, rng.randrange(256)])
        what = f"header type 0x{b[0x0E]:x}"
    elif choice == 8:  # every byte random
        b = bytearray(rng.randbytes(len(b)))
        what = "random bytes"
    elif choice == 9 and len(b) >= 0x104:  # random extended ids with random bodies
        for off in range(0x100, min(len(b), 0x400), 4):
            b[off : off + 4] = rng.randbytes(4)
        what = "random ext space"
    else:  # flip a handful of bits anywhere
        for _ in range(rng.randrange(1, 16)):
            if b:
                i = rng.randrange(len(b))
                b[i] ^= 1 << rng.randrange(8)
        what = "bit flips"
    return bytes(b), what


# -- mutations of dump text ---------------------------------------------------------------------
def mutate_text(text: str, rng: random.Random) -> tuple[str, str]:
    lines = text.split("\n")
    choice = rng.randrange(8)
    if choice == 0 and lines:  # bad hex in a data line
        i = rng.randrange(len(lines))
        lines[i] = lines[i][:6] + rng.choice(["zz", "g1", "0x", "1", "123", "--"]) + lines[i][8:]
        what = f"bad hex line {i + 1}"
    elif choice == 1:  # cut the text anywhere (mid-line too)
        return text[: rng.randrange(len(text) + 1)], "cut"
    elif choice == 2:
        return text.replace("\n", "\r\n"), "crlf"
    elif choice == 3 and lines:  # duplicate or drop lines
        i = rng.randrange(len(lines))
        if rng.random() < 0.5:
            lines.insert(i, lines[i])
        else:
            del lines[i]
        what = f"dup/drop line {i + 1}"
    elif choice == 4:  # offsets beyond 4096, odd offsets
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(["1000: 00 11", "fff: 01 02", "ffffffff: 00", "3: 00"]))
        what = "odd offsets"
    elif choice == 5:  # binary garbage
        return rng.randbytes(rng.randrange(1, 2048)).decode("latin-1"), "binary garbage"
    elif choice == 6:  # tabs/verbose text interleaved, quote prefixes
        lines = [("> " + ln) if rng.random() < 0.5 else ("\t" + ln if rng.random() < 0.1 else ln) for ln in lines]
        what = "quoted/indented"
    else:  # long lines
        i = rng.randrange(len(lines)) if lines else 0
        lines.insert(i, "00: " + " ".join(["ff"] * rng.randrange(17, 400)))
        what = "long data line"
    return "\n".join(lines), what


# -- running one input --------------------------------------------------------------------------
def _alarm(signum, frame):
    raise Hang()


def exercise(path: Path, widgets: bool = True) -> str:
    """Open and fully decode `path`, then hand it to every consumer a user reaches: the lspci and JSON
    renderers, the interrupt models, the doctor, the HTML export, a capture saved and opened again, and
    (with `widgets`) the Explorer the dashboard serves, shown on every function.  Returns "decoded" or
    "rejected"."""
    try:
        src = open_source(path)
    except PciError as e:
        _check_error(e, path)
        return "rejected"
    try:
        for verbose in (0, 3):
            render_source(src, LspciOptions(verbose=verbose, numeric=1))
        for fn in src.functions():
            json.dumps(fn.to_dict())
            for cap in fn.capabilities:
                cap.to_dict()
            for model in (fn.msix, fn.msi):  # the interrupt models' checks and reprs over hostile bytes
                if model is not None:
                    model.checks()
                    repr(model)
            if fn.virtio is not None:  # the virtio structures' pointers over hostile bytes
                json.dumps(fn.virtio.to_dict())
                repr(fn.virtio)
        consumers(src, path, widgets)
    except PciError as e:
        _check_error(e, path)
        return "rejected"
    return "decoded"


def consumers(src, path: Path, widgets: bool = True) -> None:
    """What sits on top of the decoders: doctor, HTML export, capture save and reopen, widgets."""
    from pciexplore.capture import open_capture, take
    from pciexplore.doctor import diagnose
    from pciexplore.render.html import render_html

    for finding in diagnose(src):
        assert "\n" not in str(finding), finding
    render_html(src)
    saved = path.with_name(path.name + ".capture.json")
    take(src).save(saved)
    reopened = open_capture(saved)
    first: dict = {}
    for fn in src.functions():  # a capture keeps the first copy of an address a dump lists twice
        first.setdefault(fn.address, fn.config)
    assert {fn.address: fn.config for fn in reopened.functions()} == first, "the capture changed config bytes"
    render_html(reopened)
    if widgets:
        from pciexplore.widgets.explorer import Explorer

        explorer = Explorer(src, page_size=2)  # a row per vector is the same code: two cover it, 16 cost 10x
        for fn in src.functions():
            explorer.show(fn)


def _check_error(e: PciError, path: Path) -> None:
    msg = str(e)
    if "\n" in msg or not msg.strip():
        raise AssertionError(f"error message is not one line: {msg!r}")
    if e.file is None:  # every input here is a file: the user must be told which
        raise AssertionError(f"error does not name the file: {msg!r}")
    if e.device is not None and str(path) not in msg:
        raise AssertionError(f"error names a device but not the file it came from: {msg!r}")


def run(seconds: float, seed: int = 0, max_inputs: int | None = None) -> Outcome:
    rng = random.Random(seed)
    configs = corpus_configs() or [bytes(256)]
    texts = [p.read_text(errors="replace") for p in sorted(CORPUS.glob("*/*.lspci"))] or [dump_text([("00:00.0", bytes(64))])]
    out = Outcome()
    deadline = time.monotonic() + seconds
    old = signal.signal(signal.SIGALRM, _alarm)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.lspci"
        try:
            while time.monotonic() < deadline and (max_inputs is None or out.tried < max_inputs):
                if rng.random() < 0.6:
                    fns = []
                    for i in range(rng.randrange(1, 4)):
                        cfg = rng.choice(configs)
                        for _ in range(rng.randrange(1, 4)):
                            cfg, what = mutate_config(cfg, rng)
                        fns.append((f"{i:02x}:00.0", cfg))
                    data = dump_text(fns).encode()
                    if rng.random() < 0.15:  # the same bytes as a raw binary config file
                        data = fns[0][1] or b"\0"
                else:
                    text, what = mutate_text(rng.choice(texts), rng)
                    data = text.encode("latin-1", errors="replace")
                path.write_bytes(data)
                out.tried += 1
                out.kinds[what.split(" ")[0]] += 1
                signal.alarm(HANG_SECONDS)
                try:
                    result = exercise(path)
                    if result == "decoded":
                        out.decoded += 1
                    else:
                        out.rejected += 1
                except Hang:
                    out.failures.append((what, f"no result after {HANG_SECONDS}s (hang)"))
                    _keep(data, tmp, out)
                except Exception as e:  # noqa: BLE001 - finding these is the point
                    out.failures.append((what, f"{type(e).__name__}: {e}"))
                    _keep(data, tmp, out)
                finally:
                    signal.alarm(0)
        finally:
            signal.signal(signal.SIGALRM, old)
    return out


def _keep(data: bytes, tmp: str, out: Outcome) -> None:
    """Keep failing inputs where a person can look at them (FUZZ_KEEP=dir)."""
    keep = os.environ.get("FUZZ_KEEP")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / f"failure-{len(out.failures)}.lspci").write_bytes(data)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    args = ap.parse_args(argv)
    out = run(args.seconds, args.seed)
    print(f"seed {args.seed}: {out.tried} inputs, {out.decoded} decoded, {out.rejected} rejected with a clear "
          f"error, {len(out.failures)} failures")
    for what, why in out.failures[:50]:
        print(f"  {what}: {why}")
    return 1 if out.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
