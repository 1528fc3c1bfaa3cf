"""Overlap and containment questions about many spans, in O(log n) each.

Pages dense with matches (a dump with a card on every line, a shop with a price every few words)
must not make the tagger pair every match with every other one: a page of n matches would cost
n² (measured: 1 MB of dense text took minutes). Spans are sorted by start once; a running maximum
of their ends answers "does any span overlap [lo, hi)?" and "does any span contain [s, e)?" with
one bisection.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable


class SpanIndex:
    """Static set of half-open character spans [start, end)."""

    __slots__ = ("_starts", "_max_end")

    def __init__(self, spans: Iterable[tuple[int, int]]) -> None:
        ordered = sorted(spans)
        self._starts = [s for s, _ in ordered]
        self._max_end: list[int] = []
        running = -1
        for _, e in ordered:
            running = max(running, e)
            self._max_end.append(running)

    def __bool__(self) -> bool:
        return bool(self._starts)

    def overlaps(self, lo: int, hi: int) -> bool:
        """Some span shares a character with [lo, hi) (for lo == hi: contains position lo)."""
        i = bisect.bisect_left(self._starts, max(hi, lo + 1)) - 1
        return i >= 0 and self._max_end[i] > lo

    def contains_point(self, at: int) -> bool:
        return self.overlaps(at, at + 1)

    def contains(self, start: int, end: int) -> bool:
        """Some span holds all of [start, end)."""
        i = bisect.bisect_right(self._starts, start) - 1
        return i >= 0 and self._max_end[i] >= end
