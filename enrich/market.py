"""Prices and quantities written next to numbers, in any of the region's currencies and units."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# a grouped number ("1.500.000", "2,000.50") or a plain one ("5", "0,5"), written with the first
# digit outside the alternation: a regex that opens with one character class is searched by
# skipping to those characters, one that opens with a choice or a repeat is tried at every
# character (2.4x slower here). Same matches as \d{1,3}(?:…)+(?:…)?|\d+(?:…)?: greedy repeats
# try the same lengths in the same order.
_NUM = r"\d(?:\d{0,2}(?:[.,\u00a0 ]\d{3})+(?:[.,]\d{1,2})?|\d*(?:[.,]\d+)?)"
_NUM_PLAIN = r"\d{1,3}(?:[.,\u00a0 ]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d+)?"  # the same, as first written (tests)
_LATIN_AFTER = r"(?![a-zà-ỹ])"
_GROUPED = re.compile(r"[1-9]\d{0,2}[.,]\d{3}")  # "1.500", "2,000": one thousands group
_GOLD = re.compile(r"[ -]?(?:(?:white|yellow|rose|solid) )?(?:gold|plated|karat|carat)")


def _alternation(words: list[str]) -> str:
    return "|".join(re.escape(w.lower()) for w in sorted(set(words), key=len, reverse=True))


@dataclass(slots=True)
class Amount:
    kind: str  # price | quantity
    start: int
    end: int
    value: float
    unit: str  # currency code for prices, unit word for quantities


class Market:
    """Finds prices ("$50", "0.01 BTC", "500k", "1.500.000 Rp") and quantities ("5g", "10 viên").

    Numbers are found first (a fast digit scan); currency and unit words are then matched right
    before or after each number, instead of trying every word alternation at every position.
    """

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.codes: dict[str, str] = {k.lower(): v for k, v in cfg["currency_codes"].items()}
        self.multipliers: dict[str, float] = {k.lower(): float(v) for k, v in cfg["multipliers"].items()}
        self.number = re.compile(_NUM)
        self.before = re.compile(rf"(?:^|(?<=[^a-z0-9]))(?P<cur>{_alternation(cfg['currency_prefix'])}) ?$")
        self.multiplier = re.compile(rf" ?(?P<mul>{_alternation(list(self.multipliers))}){_LATIN_AFTER}")
        self.after_currency = re.compile(rf" ?(?P<cur>{_alternation(cfg['currency_suffix'])}){_LATIN_AFTER}")
        self.after_unit = re.compile(rf" ?(?P<unit>{_alternation(cfg['units'])}){_LATIN_AFTER}")
        # necessary conditions of those three, checked first (most numbers are neither prices
        # nor quantities): the character that ends a prefix, or begins a suffix or unit
        self.prefix_last = frozenset(w.lower()[-1] for w in cfg["currency_prefix"] if w)
        self.suffix_first = frozenset(w.lower()[0] for w in cfg["currency_suffix"] if w)
        self.unit_first = frozenset(w.lower()[0] for w in cfg["units"] if w)

    def find(self, low: str) -> list[Amount]:
        out: list[Amount] = []
        for m in self.number.finditer(low):
            start, end = m.start(), m.end()
            if start and (low[start - 1].isalnum() and low[start - 1].isascii() or low[start - 1] in ".,"):
                continue
            # most numbers are neither prices nor quantities: parse the value only for those that are
            before = self.before.search(low, max(0, start - 6), start) if self._after_prefix(low, start) else None
            if before and (not out or before.start() >= out[-1].end):
                mul = self.multiplier.match(low, end)
                factor = self.multipliers[mul.group("mul")] if mul else 1.0
                cur = before.group("cur")
                out.append(Amount("price", before.start(), mul.end() if mul else end, _number(m.group()) * factor, self.codes.get(cur, cur.upper())))
                continue
            follows = low[end + 1 : end + 2] if low.startswith(" ", end) else low[end : end + 1]
            after = self.after_currency.match(low, end) if follows in self.suffix_first else None
            if after and after.group("cur") == "k" and _GOLD.match(low, after.end()):
                continue  # "24k gold", "18k white gold": a gold purity, not 24,000 đồng
            if after:
                cur = after.group("cur")
                out.append(Amount("price", start, after.end(), _number(m.group()) * self.multipliers.get(cur, 1.0), self.codes.get(cur, cur.upper())))
                continue
            unit = self.after_unit.match(low, end) if follows in self.unit_first else None
            if unit:
                out.append(Amount("quantity", start, unit.end(), _number(m.group()), unit.group("unit")))
        return out

    def _after_prefix(self, low: str, at: int) -> bool:
        """`before` can match before `at`: its match ends at `at` (or before a newline there,
        where its `$` also matches), after an optional space, with a prefix's last character."""
        i = at - 1
        if i >= 0 and low[i] == "\n":
            i -= 1
        if i >= 0 and low[i] == " ":
            i -= 1
        return i >= 0 and low[i] in self.prefix_last


def _number(s: str) -> float:
    """Parse 1.500.000 / 1,500.50 / 0,5 / 1 500 without knowing the locale."""
    s = s.replace("\u00a0", " ").replace(" ", ",") if " " in s or "\u00a0" in s else s
    if "." in s and "," in s:
        dec = "." if s.rfind(".") > s.rfind(",") else ","
        s = s.replace("," if dec == "." else ".", "").replace(dec, ".")
    elif s.count(".") > 1 or s.count(",") > 1 or _GROUPED.fullmatch(s):
        s = s.replace(".", "").replace(",", "")
    else:
        s = s.replace(",", ".")
    try:
        return float(s)
    except ValueError:
        return 0.0
