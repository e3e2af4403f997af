"""Captures: take / save / open (validate) / diff / HTML export, on every corpus function at once and
on a capture at the format's bound (8192 functions of 4096 bytes).

    python bench/capture.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import corpus_configs, timed  # noqa: E402
from pciexplore.address import Address  # noqa: E402
from pciexplore.capture import Capture, CapturedFunction, open_capture, take  # noqa: E402
from pciexplore.diff import diff  # noqa: E402
from pciexplore.render.html import render_html  # noqa: E402


def _capture(configs: list[bytes]) -> Capture:
    fns = [CapturedFunction(Address(0, i // 256, (i // 8) % 32, i % 8), cfg) for i, cfg in enumerate(configs)]
    return Capture("bench", fns)


def main() -> None:
    configs = corpus_configs()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = _capture(configs)
        path = Path(tmp) / "corpus.json"
        print(f"corpus: {len(configs)} functions")
        best, med = timed(lambda: take(corpus))
        print(f"  take (from a source holding them)   best {best * 1e3:8.1f} ms  median {med * 1e3:8.1f} ms")
        best, med = timed(lambda: corpus.save(path))
        print(f"  save (atomic, fsync)                best {best * 1e3:8.1f} ms  median {med * 1e3:8.1f} ms"
              f"  ({path.stat().st_size / 1e6:.1f} MB)")
        best, med = timed(lambda: open_capture(path))
        print(f"  open + validate                     best {best * 1e3:8.1f} ms  median {med * 1e3:8.1f} ms")
        best, med = timed(lambda: len(diff(open_capture(path), open_capture(path))), repeat=3)
        print(f"  diff (every field, identical)       best {best * 1e3:8.1f} ms  median {med * 1e3:8.1f} ms")
        best, med = timed(lambda: render_html(open_capture(path)), repeat=3)
        print(f"  HTML report                         best {best * 1e3:8.1f} ms  median {med * 1e3:8.1f} ms")

        biggest = _capture([bytes(range(256)) * 16] * 8192)
        path = Path(tmp) / "max.json"
        best, _ = timed(lambda: biggest.save(path), repeat=1)
        print(f"bound: 8192 functions x 4096 bytes ({path.stat().st_size / 1e6:.1f} MB)")
        print(f"  save                                best {best * 1e3:8.1f} ms")
        best, _ = timed(lambda: open_capture(path), repeat=3)
        print(f"  open + validate                     best {best * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
