"""Aho-Corasick lexicon scan over lower-cased text, with word-boundary checks where words have them.

Thai and Chinese are written without spaces, so their terms match as substrings; Latin-script
terms (incl. Vietnamese) must start and end at a word boundary ("grass" is not in "grass-fed").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import ahocorasick
import ahocorasick_rs

from enrich.spans import SpanIndex


@dataclass(slots=True)
class Term:
    kind: str  # commodity | sale_cue | negative_cue | negator | sense (blockers only remove commodities)
    category: str | None  # commodity category; None for cues
    name: str  # canonical commodity, or the lexicon term itself
    start: int
    end: int
    weight: float


def _spaced(ch: str) -> bool:
    """True for letters of scripts that separate words with spaces (Latin, Vietnamese, digits)."""
    return ch.isalnum() and not ("\u0e00" <= ch <= "\u0eff" or "\u2e80" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff")


class KeyScanner:
    """Every occurrence of every key, overlapping ones included, as (start, end, payload).

    ahocorasick_rs's contiguous NFA finds them in ~40% of pyahocorasick's time (the lexicon pass's
    largest cost; its DFA is ~15% faster still but takes ~15 MB for the lexicon, the NFA 0.7 MB);
    pyahocorasick answers for text UTF-8 cannot encode (lone surrogates). The order of the
    matches is not part of the answer."""

    def __init__(self, keys: Mapping[str, Any]) -> None:
        self.keys, self.payloads = list(keys), list(keys.values())
        self.automaton = ahocorasick.Automaton()
        for key, payload in keys.items():
            self.automaton.add_word(key, (len(key), payload))
        self.automaton.make_automaton()
        self.matcher = ahocorasick_rs.AhoCorasick(self.keys, matchkind=ahocorasick_rs.MatchKind.Standard, implementation=ahocorasick_rs.Implementation.ContiguousNFA) if self.keys else None

    def matches(self, text: str) -> list[tuple[int, int, Any]]:
        if self.matcher is None:
            return []
        try:
            found = self.matcher.find_matches_as_indexes(text, overlapping=True)
        except UnicodeEncodeError:
            return self.plain_matches(text)
        payloads = self.payloads
        return [(start, end, payloads[index]) for index, start, end in found]

    def plain_matches(self, text: str) -> list[tuple[int, int, Any]]:
        """The same from pyahocorasick."""
        return [(end - length + 1, end + 1, payload) for end, (length, payload) in self.automaton.iter(text)] if self.keys else []


class Lexicon:
    """All lexicon terms in one automaton; payload = (kind, category, name, weight)."""

    def __init__(self, entries: Iterable[tuple[str, str, str | None, str, float]]) -> None:
        payloads: dict[str, list[tuple[str, str | None, str, float]]] = {}
        for surface, kind, category, name, weight in entries:
            key = surface.lower().strip()
            if key and (kind, category, name, weight) not in payloads.setdefault(key, []):
                payloads[key].append((kind, category, name, weight))
        # what scan needs of a key, computed once: whether its first and last letters need a
        # word boundary
        self.keys = KeyScanner({key: (_spaced(key[0]), _spaced(key[-1]), tuple(values)) for key, values in payloads.items()})

    def scan(self, low: str) -> list[Term]:
        """Matches at word boundaries; blockers drop overlapping commodities; longest match wins."""
        found: list[Term] = []
        blocked: list[tuple[int, int]] = []
        n = len(low)
        for start, end, (head_spaced, tail_spaced, values) in self.keys.matches(low):
            if head_spaced and start > 0 and _spaced(low[start - 1]):
                continue
            if tail_spaced and end < n and (
                _spaced(low[end]) or (low[end] == "-" and end + 1 < n and low[end + 1].isalpha())
            ):
                continue
            for kind, category, name, weight in values:
                if kind == "blocker":
                    blocked.append((start, end))
                else:
                    found.append(Term(kind, category, name, start, end, weight))
        if blocked:
            blocks = SpanIndex(blocked)
            found = [t for t in found if t.kind != "commodity" or not blocks.overlaps(t.start, t.end)]
        found.sort(key=lambda t: (t.start - t.end, t.start))
        occupied = bytearray(n + 1)
        kept: list[Term] = []
        last_span, last_ok = (-1, -1), False
        for t in found:  # longest first; terms sharing one span (same word, several lists) stay together
            span = (t.start, t.end)
            ok = last_ok if span == last_span else occupied.find(1, t.start, t.end) == -1
            if ok:
                kept.append(t)
                occupied[t.start : t.end] = b"\x01" * (t.end - t.start)
            last_span, last_ok = span, ok
        kept.sort(key=lambda t: t.start)
        return kept
