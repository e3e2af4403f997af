"""Small pieces of wording shared by every text output."""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    """"1 function", "2 functions" (words whose plural is a trailing s)."""
    return f"{n} {word}{'' if n == 1 else 's'}"
