"""Words for counts: "1 file", "2 files"."""

from __future__ import annotations


def count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"
