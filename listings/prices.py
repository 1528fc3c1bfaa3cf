"""Prices and quantities as markets write them: price-parser reads the number (it knows
"1.200.000", "0,5", "1,234.56"), the tagger's currency table (configs/tagger/market.yaml) says
what the words and signs around it mean, including crypto codes and multipliers ("500k",
"1,5tr", "2 juta").

Defined outcomes for the awkward ones (tests/test_listings_prices.py):
  "1.2k"               1200, currency unknown (VND on a Vietnamese page, IDR on an Indonesian one)
  "0,5 BTC"            0.5 BTC
  "฿300"               300 THB (U+0E3F is the baht sign; "₿" U+20BF is bitcoin)
  "1.200.000đ"         1200000 VND
  "$10 - $20"          10 USD, price_max 20, note "range"
  "contact for price"  no price, note "contact" (the listing is kept)
  "1.2 XMR / 260 USD"  1.2 XMR: the first price stated
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from price_parser import Price

_NUM = re.compile(r"\d{1,3}(?:[.,\u00a0 ']\d{3})+(?!\d)(?:[.,]\d{1,8})?|\d+(?:[.,]\d+)?")
_RANGE = re.compile(r"\s*(?:-|–|—|~|to|đến|tới|ถึง|sampai|hingga|至|到)\s*", re.IGNORECASE)
_CRYPTO = frozenset({"BTC", "XMR", "ETH", "USDT", "LTC"})
# a bare "k" (thousand) means dong on a Vietnamese page, rupiah on an Indonesian one
_K_CURRENCY_BY_LANG = {"vi": "VND", "id": "IDR"}


@dataclass(frozen=True)
class ParsedPrice:
    amount: float | None
    currency: str | None
    amount_max: float | None = None
    note: str | None = None  # "contact" | "range"
    start: int = 0
    end: int = 0


class PriceReader:
    """Reads the first price (and a range's upper bound) out of a short text."""

    def __init__(self, market: dict[str, Any], extract: dict[str, Any]) -> None:
        self.codes = {k.lower(): str(v) for k, v in market["currency_codes"].items()}
        self.codes.setdefault("₿", "BTC")
        self.multipliers = {k.lower(): float(v) for k, v in market["multipliers"].items()}
        prefix = sorted({w.lower() for w in market["currency_prefix"]} | {"₿"}, key=len, reverse=True)
        suffix = sorted({w.lower() for w in market["currency_suffix"]} | set(self.multipliers) | {"₿"},
                        key=len, reverse=True)
        self.before = re.compile(r"(?:^|(?<=[^a-z0-9]))(" + "|".join(map(re.escape, prefix)) + r")\s?$")
        self.after = re.compile(r"\s?(" + "|".join(map(re.escape, suffix)) + r")(?![a-zà-ỹ])")
        self.units = sorted({u.lower() for u in [*market["units"], *extract.get("units", ())]}, key=len, reverse=True)
        self.unit_after = re.compile(r"\s?(" + "|".join(map(re.escape, self.units)) + r")(?![a-zà-ỹ0-9])")
        self.contact = [c.lower() for c in extract.get("contact_price", [])]

    # -- prices -------------------------------------------------------------------------------
    def parse(self, text: str, lang: str | None = None) -> ParsedPrice | None:
        """The first price in ``text``: a number with a currency next to it, else (for a text
        that is only a price) the first number. None when there is no price at all."""
        if not text:
            return None
        low = unicodedata.normalize("NFKC", text).lower()
        if len(low) != len(text):
            low = text.lower()
        numbers = list(_NUM.finditer(low))
        if not numbers:
            if any(c in low for c in self.contact):
                return ParsedPrice(None, None, note="contact", end=len(text))
            return None
        found = [self._at(low, m, lang) for m in numbers]
        for i in range(len(found) - 1):  # "10-20 USD": the lower bound takes the upper's currency
            lo, hi = found[i], found[i + 1]
            if lo is not None and hi is not None and not lo.currency and hi.currency and \
                    _RANGE.fullmatch(low, lo.end, numbers[i + 1].start()):
                found[i] = ParsedPrice(lo.amount, hi.currency, start=lo.start, end=lo.end)
        priced = [p for p in found if p is not None and p.currency]
        first = priced[0] if priced else None
        if first is None:
            if any(c in low for c in self.contact):
                return ParsedPrice(None, None, note="contact", end=len(text))
            stripped = _NUM.sub("", low).strip(" .,:;-–/()")
            if stripped and not self.multiplier_only(stripped):
                return None  # digits in a sentence are not a price without a currency
            first = found[0]
            if first is None:
                return None
        return self._range(low, first, numbers, lang)

    def multiplier_only(self, rest: str) -> bool:
        return rest in self.multipliers

    def _at(self, low: str, m: re.Match[str], lang: str | None) -> ParsedPrice | None:
        start, end = m.start(), m.end()
        if start and low[start - 1].isalpha() and low[start - 1].isascii():
            return None  # part of a word or a code ("sha256", "v3")
        cur: str | None = None
        factor = 1.0
        left = self.before.search(low, max(0, start - 6), start)
        if left:
            cur = self.codes.get(left.group(1), left.group(1).upper())
            start = left.start(1)
            right = self.after.match(low, end)
            if right and right.group(1) in self.multipliers:
                factor, end = self.multipliers[right.group(1)], right.end()
        else:
            right = self.after.match(low, end)
            if right:
                word = right.group(1)
                if word in self.multipliers:
                    factor = self.multipliers[word]
                    code = self.codes.get(word)
                    cur = code if word != "k" else _K_CURRENCY_BY_LANG.get(lang or "")
                    tail = self.after.match(low, right.end())  # "500k VND", "2 juta rupiah"
                    if tail and tail.group(1) not in self.multipliers:
                        cur, end = self.codes.get(tail.group(1), tail.group(1).upper()), tail.end()
                    else:
                        end = right.end()
                else:
                    cur, end = self.codes.get(word, word.upper()), right.end()
        value = self._number(m.group(), cur)
        if value is None:
            return None
        return ParsedPrice(value * factor, cur, start=start, end=end)

    def _range(self, low: str, first: ParsedPrice, numbers: list[re.Match[str]], lang: str | None) -> ParsedPrice:
        sep = _RANGE.match(low, first.end)
        if sep:
            nxt = next((m for m in numbers if m.start() >= sep.end()), None)
            if nxt is not None and self.before.search(low, sep.end(), nxt.start()) is not None or (
                nxt is not None and nxt.start() == sep.end()
            ):
                upper = self._at(low, nxt, lang)
                if upper is not None and upper.amount is not None and first.amount is not None and (
                    upper.currency in (None, first.currency) and upper.amount > first.amount
                ):
                    return ParsedPrice(first.amount, first.currency, upper.amount, "range", first.start, upper.end)
        return first

    @staticmethod
    def _number(raw: str, currency: str | None) -> float | None:
        """price-parser reads the digits; a lone separator before exactly three digits is a
        decimal point in crypto amounts and a thousands separator in dong and rupiah."""
        decimal = None
        if re.fullmatch(r"\d{1,3}[.,]\d{3}", raw):
            sep = "." if "." in raw else ","
            decimal = sep if currency in _CRYPTO else ("," if sep == "." else ".")
        price = Price.fromstring(raw.replace("\u00a0", " ").replace("'", ","), decimal_separator=decimal)
        if price.amount is None:
            try:
                return float(Decimal(raw.replace(",", "")))
            except InvalidOperation:
                return None
        return float(price.amount)

    # -- quantities ---------------------------------------------------------------------------
    def quantity(self, text: str) -> tuple[float, str] | None:
        """The first number followed by a unit word ("500 g", "50 records", "10 viên")."""
        if not text:
            return None
        low = text.lower()
        for m in _NUM.finditer(low):
            if m.start() and low[m.start() - 1].isalpha() and low[m.start() - 1].isascii():
                continue
            unit = self.unit_after.match(low, m.end())
            if unit:
                value = self._number(m.group(), None)
                if value is not None:
                    return value, unit.group(1)
        return None


def to_usd(amount: float | None, currency: str | None, rates: dict[str, float] | None) -> float | None:
    """USD value from a configured table of USD per unit (no live rates); USD as it is."""
    if amount is None or not currency:
        return None
    if currency == "USD":
        return round(amount, 2)
    rate = (rates or {}).get(currency)
    return round(amount * float(rate), 2) if rate else None
