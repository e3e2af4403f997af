"""Sub-commands of the `pciexplore` CLI: each module defines register(subparsers)."""
