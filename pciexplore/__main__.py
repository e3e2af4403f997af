"""`python -m pciexplore` and the `pciexplore` command: the command line, with the cyclic garbage collector
held off while it starts up.

Start-up (imports, declarations, the parser) makes objects that live as long as the process; the
collector's passes over them cost a live `show` ~13M of its 135M instructions (bench/RESULTS.md).
"""

import gc
import sys


def _started() -> None:
    """Leave what start-up made out of the collector's passes, and collect as usual from here on."""
    gc.freeze()
    gc.enable()


def run() -> int:
    """The console script's entry point (pyproject.toml), the same start-up as `python -m pciexplore`."""
    gc.disable()
    from .cli import main  # imported with the collector held off

    return main(started=_started)


if __name__ == "__main__":
    sys.exit(run())
