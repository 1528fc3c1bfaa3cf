"""Personal-data recognisers: character regexes find candidates, validators decide.

Regexes over characters (not tokens) are both the fastest and the most precise way to find
structured identifiers; context words only lift scores of weakly structured ones.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from enrich import validators as v
from enrich.spans import SpanIndex

_A = "A-Za-z0-9"  # ASCII word characters: Thai/Chinese letters next to a number are a boundary

_EMAIL = re.compile(
    rf"(?<![{_A}._%+\-])[{_A}](?:[{_A}._%+\-]{{0,63}})@"
    rf"(?:[{_A}](?:[{_A}\-]{{0,61}}[{_A}])?\.)+[A-Za-z]{{2,24}}(?![{_A}\-])"
)
_CREDENTIAL_LINE = re.compile(r"(?m)^[ \t]*([^\s:;|]{3,64})([:;|])([^\s]{4,64})[ \t]*$")
# a combo line "with capture": user:pass, then " | " and what the checker captured (plan, country…)
_CREDENTIAL_CAPTURE = re.compile(r"(?m)^[ \t]*([^\s:;|]{3,64})([:;])([^\s|]{4,64})[ \t]+\|[ \t]+\S[^\n]*$")
_ONION = re.compile(r"(?i)(?<![a-z0-9])[a-z2-7]{56}\.onion(?![a-z0-9])")
# Long ASCII alphanumeric runs: wallet addresses and compact IBANs, told apart by their shape.
_LONG_TOKEN = re.compile(r"[A-Za-z0-9]{15,110}")
# _long_runs gives _LONG_TOKEN's matches from the alphanumeric runs of 15+ characters, found by a
# regex that opens with a separator (a plain scan tries _LONG_TOKEN inside every word)
_LONG_FIRST = re.compile(r"[A-Za-z0-9]{15}")
_LONG_START = re.compile(r"[^A-Za-z0-9][A-Za-z0-9]{15}")
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")
_IBAN_HEAD = re.compile(r"[A-Za-z]{2}\d{2}")
_IBAN_SPACED = re.compile(r"[A-Za-z]{2}\d{2}(?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,4})?(?![A-Za-z0-9])")
_IPV4 = re.compile(rf"(?<![{_A}.])(?:\d{{1,3}}\.){{3}}\d{{1,3}}(?![{_A}]|\.\d)")
_IPV6 = re.compile(rf"(?<![{_A}:])(?:[0-9A-Fa-f]{{0,4}}:){{2,7}}[0-9A-Fa-f]{{1,4}}(?![{_A}:])")
_SG = re.compile(rf"(?i)(?<![{_A}])[STFGM]\d{{7}}[A-Z](?![{_A}])")
# Digit runs with the separators people write inside phone, card and identity numbers.
_NUM = re.compile(
    rf"(?<![{_A}+.\-/@#])(?:(?<!\d,)|(?=\d{{4}}))(?:\+ ?|00 ?)?(?:\(\d{{1,5}}\) ?)?\d"
    rf"(?:[ .\-]?\d|[ ]?\(\d{{1,5}}\)[ ]?\d){{5,22}}"
    rf"(?:[ ]?(?:x|ext\.?)[ ]?\d{{1,5}})?(?![{_A}@]|[.\-/]\d|,\d{{1,3}}(?!\d))"
)
_DIGITS = re.compile(r"\d+")
# _NUM opens with look-behinds, so a plain scan attempts it at every character. Every match is six
# digits or more, one to the next at most two of " .-()" apart (the probe below, which opens with a
# digit), and is made only of digits and the characters of _NUM_CHARS: it lies inside one maximal
# run of those. _numbers scans only the runs that hold a probe hit (see there).
_NUM_PROBE = re.compile(r"\d(?:[ .\-()]{0,2}\d){5}")
_NUM_CHARS = " .-()+xet"
_NUM_RUN_END = re.compile(r"[^\d .\-()+xet]")
_NUM_LOOKAHEAD = 5  # _NUM's look-ahead after a match reads at most this many characters
# magnetic-stripe track data: track 1 (%B PAN ^ NAME ^ YYMM service discretionary ?) and track 2
# (; PAN = YYMM service discretionary ?); the PAN is Luhn-checked, the whole track is one entity
_TRACK1 = re.compile(r"%?[Bb](\d{12,19})\^[^^\n]{2,26}\^\d{4}[^?\s|,;]{0,80}\??")
_TRACK2 = re.compile(r";?(?<!\d)(\d{12,19})[=Dd]\d{4}\d{0,40}\??(?![\w])")
# Necessary conditions of the scans above, tried first. A pattern that opens with a look-behind or
# an optional part is attempted at every character (~50 ms a pass over the speed bench's corpus);
# these open with a character class or a literal, which the regex engine skips ahead to. A page
# where the probe finds nothing cannot hold a match, so its scan is skipped.
_PROBES = {
    _SG: re.compile("[STFGMstfgm\u017f]\\d{7}"),  # what (?i)[STFGM] matches, spelt out: no case folding to do
    _IPV4: re.compile(r"\.\d{1,3}\.\d{1,3}\.\d"),  # opens with a literal dot: found by a fast search
    _IPV6: re.compile(r":[0-9A-Fa-f]{0,4}:"),
    _IBAN_SPACED: re.compile(r"\d\d [A-Za-z0-9]{4} [A-Za-z0-9]{4}"),
    _TRACK2: re.compile(r"\d{12,19}[=Dd]"),
}
_FIELD_DELIMS = "|,;\t"
_KEY_VALUE = re.compile(r"^\s*[^\W\d_][\w .\-/]{0,30}?\s*[=:]\s*")
# a delimited row holding one of these validated identifiers is a personal record
ROW_ANCHORS = frozenset({"CREDIT_CARD", "CARD_TRACK", "TH_TNIN", "MY_NRIC", "ID_NIK", "VN_CCCD", "PH_SSS", "PH_TIN",
                         "SG_NRIC_FIN", "US_SSN", "IBAN_CODE"})
_FIELD_IDS = frozenset({"TH_TNIN", "MY_NRIC", "ID_NIK", "VN_CCCD", "PH_SSS", "PH_TIN", "US_SSN", "CREDIT_CARD"})
# vertical records: one "key: value" per line ("Name: …", "DOB: …", "ID: …"), a record per block
_KV_LINE = re.compile(r"(?m)^[ \t]*(?:[-*•>#]+[ \t]*)?([^\W\d_][^\n:=|]{0,30}?)[ \t]*[:=][ \t]*(\S[^\n]{0,200}?)[ \t]*\r?$")
_NEWLINE = re.compile("\n")
_CARDS = frozenset({"CREDIT_CARD", "CARD_TRACK"})
_EXPIRY = r"(\d{1,2}[ \t]*/[ \t]*(?:\d{4}|\d{2})|\d{4}[-/]\d{1,2})(?![\d/])"
# "4111 1111 1111 1111 11/29 321": expiry (and CVV) bare right after the number
_BARE_AFTER_CARD = re.compile(rf"[ \t]*[,/;]?[ \t]*{_EXPIRY}(?:[ \t]*[,/;]?[ \t]*(\d{{3,4}})(?![\d/]))?")
_DATE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")
_THOUSANDS = re.compile(r"\d{1,3}(?:([.,])\d{3})(?:\1\d{3})*")
_DATE_TIME = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}[ T]\d")  # "2000-04-16 11:34": a timestamp
_TRUNK_IN_INTL = re.compile(r"\(0\)\s?")  # "+41 (0)96 471 07 95": the national trunk 0 in brackets
_SSN_SHAPE = re.compile(r"\d{3}([- ])\d{2}\1\d{4}")
_CARD_SHAPE = re.compile(r"\d+(?:([ \-])\d+)*(?:\1\d+)*")
_MY_SHAPE = re.compile(r"\d{6}-\d{2}-\d{4}")
_TH_SHAPE = re.compile(r"\d-?\d{4}-?\d{5}-?\d{2}-?\d|\d(?: \d{4} \d{5} \d{2} \d)")


@dataclass(slots=True)
class Entity:
    label: str
    start: int
    end: int
    score: float
    region: str | None = None  # phone numbers: the region they validated in (for E.164 hashing)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "start": self.start, "end": self.end, "score": round(self.score, 2)}
        if self.region:
            out["region"] = self.region
        return out


class PiiFinder:
    """Finds validated personal data in text; configured by configs/tagger/pii.yaml."""

    def __init__(self, pii: dict[str, Any], settings: dict[str, Any]) -> None:
        self.labels: dict[str, dict[str, Any]] = pii["labels"]
        self.card_prefixes = tuple(pii["card_prefixes"])
        self.vn_codes = frozenset(pii["vn_province_codes"])
        self.regions_by_lang: dict[str, list[str]] = pii["phone_regions_by_lang"]
        self.regions_default: list[str] = pii["phone_regions_default"]
        self.strong_default = int(pii["phone_strong_regions"])
        phone = pii["phone"]
        self.phone_context_regions: list[str] = phone["context_regions"]
        _check_regions([*self.regions_default, *self.phone_context_regions, *(r for rs in self.regions_by_lang.values() for r in rs)])
        words = "|".join(re.escape(w.lower()) for w in sorted(phone["street_words"], key=len, reverse=True))
        # a number followed by a street name is a house number ("3747 3911 Fourth Avenue")
        self.street_after = re.compile(rf"[ ,]*(?:[^\W\d_]+\.? ){{0,2}}?(?:{words})(?![^\W\d_])")
        words = "|".join(re.escape(w.lower()) for w in sorted(phone["not_phone_context"], key=len, reverse=True))
        # "ZIP: 75534-030", "license number is 5130634", "card number ...": another kind of number
        self.not_phone_before = re.compile(rf"(?<![^\W\d_])(?:{words})(?![^\W\d_])[^.\n]{{0,25}}$")
        words = "|".join(re.escape(w.lower()) for w in sorted(phone["strong_context"], key=len, reverse=True))
        self.phone_words = re.compile(rf"(?<![^\W\d_])(?:{words})(?![^\W\d_])")
        details = pii.get("card_details") or {}
        # a card's expiry, CVV and PIN when they are written next to it (same line, named). No
        # opening look-behind: _not_after_letter checks that no letter precedes a match, and the
        # patterns open with the names' first letters, which the regex engine skips ahead to
        self.card_details = [
            re.compile(rf"(?:{_alternation(details[kind])})(?![^\W\d_])\.?[ \t]*(?:is[ \t]+)?[:=#\-]?[ \t]*{value}")
            for kind, value in (("expiry", _EXPIRY), ("cvv", r"(\d{3,4})(?![\d/])"), ("pin", r"(\d{4,8})(?![\d/])"))
            if details.get(kind)
        ]
        keys = pii.get("password_keys") or []
        self.password_probe = tuple(k.lower() for k in keys)
        self.password = re.compile(rf"(?<![^\W\d_])(?:{_alternation(keys)})[ \t]*[:=][ \t]*([^\s]{{1,64}})") if keys else None
        # the same without its opening look-behind: it opens with the keys' first letters, which
        # the regex engine skips ahead to (see _not_after_letter)
        self.password_field = re.compile(rf"(?:{_alternation(keys)})[ \t]*[:=][ \t]*([^\s]{{1,64}})") if keys else None
        self.min_score = float(settings["min_score"])
        self.window = int(settings["context_chars"])
        self.boost = float(settings["context_boost"])
        self.context = {
            label: re.compile(
                r"(?<![a-z0-9])(?:" + "|".join(re.escape(w.lower()) for w in sorted(spec["context"], key=len, reverse=True)) + r")(?![a-z0-9])"
            )
            for label, spec in self.labels.items()
            if spec.get("context")
        }

    # -- scoring helpers -------------------------------------------------------------------
    def _score(self, label: str, weak: bool = False) -> float:
        spec = self.labels[label]
        return float(spec["weak_score"] if weak and "weak_score" in spec else spec["score"])

    def _has_context(self, label: str, low: str, start: int, end: int) -> bool:
        pattern = self.context.get(label)
        if pattern is None:
            return False
        return bool(pattern.search(low, max(0, start - self.window), start) or pattern.search(low, end, end + self.window))

    def _scored(self, label: str, low: str, start: int, end: int, weak: bool = False, region: str | None = None) -> Entity:
        score = self._score(label, weak)
        # a checksum-valid identifier that is a whole field of a delimited row ("…,8975432319486,…")
        # has its column for context
        if self._has_context(label, low, start, end) or (label in _FIELD_IDS and _whole_field(low, start, end)):
            score = min(1.0, score + self.boost)
        return Entity(label, start, end, score, region)

    # -- recognisers ---------------------------------------------------------------------------
    def find(self, text: str, low: str, lang: str = "und") -> list[Entity]:
        """All validated entities at or above min_score, overlaps resolved by score."""
        return self.find_many([text], [low], [lang])[0]

    def find_many(self, texts: list[str], lows: list[str], langs: list[str]) -> list[list[Entity]]:
        """find() of each page, a step at a time over all of them (as enrich.scan's scan_many):
        the structured identifiers of every page, then every page's digit runs and their
        validation (phone metadata, checksums), then the overlaps and records."""
        founds = [self._structured(text, low) for text, low in zip(texts, lows)]
        for found, text, low, lang in zip(founds, texts, lows, langs):
            found += self._numeric(text, low, lang)
        return [self._complete(text, low, found) for text, low, found in zip(texts, lows, founds)]

    def _structured(self, text: str, low: str) -> list[Entity]:
        found: list[Entity] = []
        if "@" in text or ":" in text or "|" in text:
            found += self._credentials(text, low)
        if "@" in text:
            found += [Entity("EMAIL_ADDRESS", m.start(), m.end(), self._score("EMAIL_ADDRESS")) for m in _emails(text)]
        if ".onion" in low:
            found += [Entity("ONION_ADDRESS", m.start(), m.end(), self._score("ONION_ADDRESS")) for m in _ONION.finditer(text) if v.is_onion_v3(m.group())]
        found += self._long_tokens(text, low)
        found += self._ips(text, low)
        return found

    def _numeric(self, text: str, low: str, lang: str) -> list[Entity]:
        found: list[Entity] = []
        runs: list[tuple[int, int]] = []
        numbers = list(_numbers(text, runs))
        # an NRIC's seven digits hold a probe hit of _numbers: its letter is in or just before a run
        if any(_PROBES[_SG].search(text, max(0, lo - 1), hi) for lo, hi in runs):
            found += [self._scored("SG_NRIC_FIN", low, m.start(), m.end()) for m in _SG.finditer(text) if v.is_sg_nric_fin(m.group())]
        regions = self._regions(lang)
        for m in numbers:
            found += self._number(m.group(), m.start(), low, regions)
        found += self._tracks(text, runs)
        return found

    def _complete(self, text: str, low: str, found: list[Entity]) -> list[Entity]:
        kept = _resolve([e for e in found if e.score >= self.min_score])
        extra = self._passwords(text, low, kept)
        if any(e.label in ROW_ANCHORS for e in kept):  # personal records and the card's own details
            extra += _record_fields(text, kept + extra)
            extra += _vertical_fields(text, kept + extra)
            extra += _cell_lines(text, kept + extra)
            extra += self._card_fields(text, low, kept + extra)
        return sorted(kept + extra, key=lambda e: (e.start, e.end)) if extra else kept

    def _passwords(self, text: str, low: str, kept: list[Entity]) -> list[Entity]:
        """The value of a `password: …` / `pwd=…` field, wherever it is written."""
        if self.password_field is None or not any(k in low for k in self.password_probe):
            return []
        taken = SpanIndex((e.start, e.end) for e in kept)
        return [Entity("PASSWORD", m.start(1), m.end(1), 0.9) for m in _not_after_letter(self.password_field, low)
                if not taken.overlaps(m.start(1), m.end(1))]

    def _card_fields(self, text: str, low: str, entities: list[Entity]) -> list[Entity]:
        """Expiry, CVV and PIN written next to a card number outside a delimited row: named
        ("exp 11/29 cvv 321 pin 1234") anywhere on the card's line near it, or bare right after
        it ("4111… 11/29 321")."""
        out: list[Entity] = []
        taken = SpanIndex((e.start, e.end) for e in entities)
        for e in entities:
            if e.label not in _CARDS:
                continue
            lo = max(text.rfind("\n", 0, e.start) + 1, e.start - 80)
            hi = text.find("\n", e.end)
            hi = min(len(text) if hi < 0 else hi, e.end + 160)
            spans = []
            bare = _BARE_AFTER_CARD.match(text, e.end, hi)
            if bare:
                spans += [bare.span(i) for i in (1, 2) if bare.group(i)]
            for pattern in self.card_details:
                spans += [m.span(m.lastindex or 1) for m in _not_after_letter(pattern, low, lo, hi)]
            for start, end in spans:
                if not taken.overlaps(start, end) and not any(o.start < end and start < o.end for o in out):
                    out.append(Entity("CARD_DETAIL", start, end, 0.9))
        return out

    def _tracks(self, text: str, runs: list[tuple[int, int]]) -> list[Entity]:
        """`runs`: the digit runs _numbers scanned. Track 2's 12-19 digits are such a run (they
        hold a probe hit), and the "=" or "D" after them ends it."""
        out = []
        if "^" in text:
            out += [Entity("CARD_TRACK", m.start(), m.end(), 1.0) for m in _TRACK1.finditer(text) if v.is_card(m.group(1))]
        if any(hi < len(text) and text[hi] in "=Dd" for _, hi in runs):
            out += [Entity("CARD_TRACK", m.start(), m.end(), 1.0) for m in _finditer(_TRACK2, text) if v.is_card(m.group(1))]
        return out

    def _credentials(self, text: str, low: str) -> list[Entity]:
        """email:password lines always; username:password only in runs of 3+ lines (combo lists)."""
        out: list[Entity] = []
        run: list[Entity] = []
        prev_end = -1
        lines = list(_line_matches(_CREDENTIAL_LINE, text))
        if "|" in text:
            lines = sorted(lines + list(_line_matches(_CREDENTIAL_CAPTURE, text)), key=lambda sm: sm[0])
        for line_start, m in lines:
            user, password = m.group(1), m.group(3)
            if user.lower() in ("http", "https", "ftp") or password.startswith("//") or user.isdigit():
                continue
            entity = Entity("CREDENTIAL", m.start(1), m.end(3), self._score("CREDENTIAL"))
            if "@" in user:
                if _EMAIL.fullmatch(user):
                    out.append(entity)
                continue
            if run and text[prev_end:line_start].strip(" \t\r") != "\n":
                out += run if len(run) >= 3 else []
                run = []
            run.append(entity)
            prev_end = m.end()
        return out + (run if len(run) >= 3 else [])

    def _long_tokens(self, text: str, low: str) -> list[Entity]:
        """Crypto addresses and compact IBANs; spaced IBANs ("GB82 WEST 1234 ...") separately."""
        out = []
        for start, end in _long_runs(text):
            value = text[start:end]
            if start and text[start - 1] in "._%+-@/":
                continue
            head = value[:3].lower()
            if (
                (head == "bc1" and v.is_btc(value))
                or (head[:2] == "0x" and v.is_eth(value))
                or (value[0] in "13" and 26 <= len(value) <= 35 and v.is_btc(value))
                or (value[0] in "48" and len(value) in (95, 106) and v.is_xmr(value))
            ):
                out.append(self._scored("CRYPTO", low, start, end))
            elif len(value) <= 34 and _IBAN_HEAD.match(value) and v.is_iban(value):
                out.append(self._scored("IBAN_CODE", low, start, end))
        for m in _iban_spaced(text):
            if m.start() and text[m.start() - 1].isalnum():
                continue
            value, end = m.group(), m.end()
            while not v.is_iban(value.replace(" ", "")):
                cut = value.rfind(" ")  # the last group may be a following word
                if cut < 15:
                    break
                value, end = value[:cut], m.start() + cut
            else:
                out.append(self._scored("IBAN_CODE", low, m.start(), end))
        return out

    def _ips(self, text: str, low: str) -> list[Entity]:
        out = []
        for pattern in (_IPV4, _IPV6) if ":" in text else (_IPV4,):
            for m in _finditer(pattern, text):
                if v.is_ip(m.group()):
                    out.append(self._scored("IP_ADDRESS", low, m.start(), m.end()))
        return out

    def _regions(self, lang: str) -> tuple[list[str], set[str]]:
        first = self.regions_by_lang.get(lang, [])
        ordered = list(dict.fromkeys(first + self.regions_default))
        strong = set(first) | set(self.regions_default[: self.strong_default])
        return ordered, strong

    def _number(self, s: str, start: int, low: str, regions: tuple[list[str], set[str]], depth: int = 0) -> list[Entity]:
        """Best interpretation of one digit run; if none, of its sub-runs without edge groups."""
        best = self._interpret(s, start, low, regions)
        if best is not None or depth or sum(c.isdigit() for c in s) < 13:
            return [best] if best is not None else []  # short runs are one number or none
        groups = [(g.start(), g.end()) for g in _DIGITS.finditer(s)]
        for drop_head in range(min(3, len(groups))):
            for drop_tail in range(min(3, len(groups) - drop_head)):
                if not drop_head and not drop_tail or len(groups) - drop_head - drop_tail < 1:
                    continue
                a, b = groups[drop_head][0], groups[len(groups) - 1 - drop_tail][1]
                sub = self._number(s[a:b], start + a, low, regions, depth=1)
                if sub:
                    return sub
        return []

    def _interpret(self, s: str, start: int, low: str, regions: tuple[list[str], set[str]]) -> Entity | None:
        d = v.digits(s)
        n = len(d)
        end = start + len(s)
        cands: list[Entity] = []
        plain = not s.startswith(("+", "("))
        if plain and n == 9:
            if _SSN_SHAPE.fullmatch(s) and v.is_us_ssn(d):
                cands.append(self._scored("US_SSN", low, start, end))
            elif s.isdigit() and v.is_us_ssn(d):
                cands.append(self._scored("US_SSN", low, start, end, weak=True))
        if plain and 12 <= n <= 19 and _CARD_SHAPE.fullmatch(s) and v.is_card(d):
            cands.append(self._scored("CREDIT_CARD", low, start, end, weak=not d.startswith(self.card_prefixes) or n == 12))
        if plain and n == 13 and (s.isdigit() or _TH_SHAPE.fullmatch(s)) and v.is_th_tnin(d):
            cands.append(self._scored("TH_TNIN", low, start, end))
        if plain and n == 16 and s.isdigit() and v.is_id_nik(d):
            cands.append(self._scored("ID_NIK", low, start, end))
        if plain and n == 12:
            if (_MY_SHAPE.fullmatch(s) or s.isdigit()) and v.is_my_nric(d):
                cands.append(self._scored("MY_NRIC", low, start, end, weak=not _MY_SHAPE.fullmatch(s)))
            if s.isdigit() and d[:3] in self.vn_codes:
                cands.append(self._scored("VN_CCCD", low, start, end))
        if plain and v.is_ph_sss(s):
            cands.append(self._scored("PH_SSS", low, start, end))
        if plain and v.is_ph_tin(s):
            cands.append(self._scored("PH_TIN", low, start, end))
        best = max(cands, key=lambda e: e.score, default=None)
        if (best is None or best.score < 0.8) and 7 <= n <= 15 and self._phone_shaped(s, start, low):
            phone = self._phone(s, start, end, low, regions)
            if phone is not None and (best is None or phone.score > best.score):
                best = phone
        return best if best is not None and best.score >= self.min_score else None

    def _phone_shaped(self, s: str, start: int, low: str) -> bool:
        core = s.split("x")[0].split("ext")[0].strip()
        if _DATE.fullmatch(core) or _THOUSANDS.fullmatch(core) or "." in core and core.count(".") == 1 or _DATE_TIME.match(s):
            return False
        before = low[max(0, start - 4) : start]
        if any(sym in before for sym in ("$", "€", "£", "฿", "rp", "rm", "¥", "₫")):
            return False
        end = start + len(s)
        if not s.startswith(("+", "(")) and self.street_after.match(low, end, end + 40):
            return False
        head = low[max(0, start - 40) : start]
        return not (self.not_phone_before.search(head) and not self.phone_words.search(head))

    def _phone(self, s: str, start: int, end: int, low: str, regions: tuple[list[str], set[str]]) -> Entity | None:
        """Valid in a likely region (or by its country code); with phone context nearby ("call",
        "fax", "answering at"), also valid in any of the context regions, or a possible
        international number."""
        ordered, strong = regions
        intl = s.startswith(("+", "00"))
        if intl:
            s = _TRUNK_IN_INTL.sub("", s)
        context = self._has_context("PHONE_NUMBER", low, start, end)
        if not intl and not context and self._score("PHONE_NUMBER", weak=True) + 1e-9 < self.min_score:
            ordered = [r for r in ordered if r in strong]  # a weak region could not reach min_score
        region = v.phone_region(s, ordered)
        if region is None and context:
            region = v.phone_region(s, [r for r in self.phone_context_regions if r not in ordered], possible=intl)
        if region is None:
            return None
        score = self._score("PHONE_NUMBER", weak=not intl and region not in strong)
        return Entity("PHONE_NUMBER", start, end, min(1.0, score + self.boost) if context else score, region)


def _check_regions(regions: list[Any]) -> None:
    """Every phone region is a region phonenumbers knows. YAML reads an unquoted NO (Norway) as
    false: such a region would never validate a number, silently."""
    bad = [r for r in regions if not v.is_region(r)]
    if bad:
        raise ValueError(f"pii.yaml: unknown phone regions {bad!r} (quote two-letter codes such as \"NO\")")


def _finditer(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """pattern.finditer(text), or nothing at once when the pattern's probe finds nothing."""
    probe = _PROBES.get(pattern)
    return pattern.finditer(text) if probe is None or probe.search(text) else iter(())


_LETTER = re.compile(r"[^\W\d_]")


def _not_after_letter(pattern: re.Pattern[str], text: str, pos: int = 0, endpos: int | None = None) -> Iterator[re.Match[str]]:
    r"""What re.compile(r"(?<![^\W\d_])" + pattern.pattern).finditer(text, pos, endpos) gives
    (pattern matches no empty string): a match is kept unless a letter precedes it (before `pos`
    too: a look-behind sees the whole string), and the search goes on from the next character
    after a dropped one, from the end of a kept one."""
    endpos = len(text) if endpos is None else endpos
    while (m := pattern.search(text, pos, endpos)) is not None:
        start = m.start()
        if start and _LETTER.match(text, start - 1):
            pos = start + 1
            continue
        yield m
        pos = m.end()


# (?m)^-anchored patterns, also written with a newline in place of the ^: that version opens with
# a literal, which the regex engine finds with a fast character search (^ is tried at every
# character), see _line_matches
_AFTER_NEWLINE = {
    pattern: re.compile("(?m)\n" + pattern.pattern.removeprefix("(?m)^"))
    for pattern in (_CREDENTIAL_LINE, _CREDENTIAL_CAPTURE, _KV_LINE)
}


def _line_matches(pattern: re.Pattern[str], text: str) -> Iterator[tuple[int, re.Match[str]]]:
    """(line start, match) for each match of pattern.finditer(text), pattern = (?m)^BODY: BODY at
    0, then "\nBODY" from there on. The same matches (groups and end; the newline version's own
    start is the newline): BODY never matches a newline and each match ends before the next one,
    so no line start is skipped or matched twice."""
    first = pattern.match(text)
    if first is not None:
        yield 0, first
    for m in _AFTER_NEWLINE[pattern].finditer(text, first.end() if first is not None else 0):
        yield m.start() + 1, m


def _marked_line_matches(pattern: re.Pattern[str], text: str, mark: re.Pattern[str]) -> Iterator[tuple[int, re.Match[str]]]:
    """_line_matches(pattern, text) for a pattern that can only match a line holding a `mark`
    character ([:=] for _KV_LINE): only those lines are tried, each at its start (most lines
    of a page hold none)."""
    pos = 0
    while (hit := mark.search(text, pos)) is not None:
        start = text.rfind("\n", 0, hit.start()) + 1
        m = pattern.match(text, start)
        if m is not None:
            yield start, m
        pos = text.find("\n", hit.start()) + 1
        if not pos:
            return


_KV_MARK = re.compile("[:=]")
_EMAIL_LOCAL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-")


def _emails(text: str) -> Iterator[re.Match[str]]:
    """_EMAIL.finditer(text), trying _EMAIL once per "@": at the start of the run of local-part
    characters before it. A match holds one "@", its local part is at most 64 such characters
    and no such character may precede it (the look-behind), so it can only start there."""
    done = 0  # the last match ends here
    at = text.find("@")
    while at >= 0:
        start = at
        while start > 0 and text[start - 1] in _EMAIL_LOCAL and at - start <= 64:
            start -= 1
        # a longer run, or one reaching into the last match, leaves no possible start
        if start >= done and not (start > 0 and text[start - 1] in _EMAIL_LOCAL):
            m = _EMAIL.match(text, start)
            if m is not None:
                yield m
                done = m.end()
        at = text.find("@", max(at + 1, done))


def _iban_spaced(text: str) -> Iterator[re.Match[str]]:
    """_IBAN_SPACED.finditer(text), tried only where a match can start: two characters before
    a hit of its probe (a match's "\\d\\d XXXX XXXX"), at each next such place in turn. The pattern
    opens with [A-Za-z]{2}, which a plain scan tries at every letter."""
    probe = _PROBES[_IBAN_SPACED]
    pos = 0
    while (hit := probe.search(text, pos + 2)) is not None:
        m = _IBAN_SPACED.match(text, hit.start() - 2)
        if m is not None:
            yield m
            pos = m.end()
        else:
            pos = hit.start() - 1


def _long_runs(text: str) -> list[tuple[int, int]]:
    """The spans of _LONG_TOKEN.finditer(text): each run of 15+ ASCII letters and digits cut into
    pieces of 110 from its start (the greedy repeat), the last kept if 15 or longer."""
    out = []
    starts = [0] if _LONG_FIRST.match(text) else []
    starts += [m.start() + 1 for m in _LONG_START.finditer(text)]
    for start in starts:
        end = _NOT_ALNUM.search(text, start + 15)
        stop = end.start() if end else len(text)
        while stop - start >= 15:
            out.append((start, min(start + 110, stop)))
            start = min(start + 110, stop)
    return out


def _numbers(text: str, runs: list[tuple[int, int]] | None = None) -> Iterator[re.Match[str]]:
    """_NUM.finditer(text), scanning only the runs of digits and _NUM_CHARS that hold a probe hit
    (every such run: appended to `runs` as (start, end) when given).

    The same matches: a match lies inside one run (its characters are all run characters), and a
    run holding a match holds a probe hit. Each run is scanned from its first character (no match
    of a plain scan is cut) to a few characters past its end, so the look-ahead after a match sees
    what a plain scan sees; a match cannot start in those few characters (it needs six digits).
    The look-behinds see the text before the run (`pos` does not hide it)."""
    n = len(text)
    done = 0  # the scanned runs end before this
    for hit in _NUM_PROBE.finditer(text):
        lo = hit.start()
        if lo < done:
            continue
        while lo > done and (text[lo - 1] in _NUM_CHARS or text[lo - 1].isdecimal()):
            lo -= 1
        end = _NUM_RUN_END.search(text, hit.end())
        hi = end.start() if end else n
        if runs is not None:
            runs.append((lo, hi))
        yield from _NUM.finditer(text, lo, min(n, hi + _NUM_LOOKAHEAD + 1))
        done = hi


def _whole_field(low: str, start: int, end: int) -> bool:
    """The value fills a field of a delimited row: a delimiter on one side, a delimiter or the
    line's edge on the other."""
    pad = 0
    while start > 0 and low[start - 1] == " " and pad < 3:  # "| value |": a table cell's padding
        start, pad = start - 1, pad + 1
    pad = 0
    while end < len(low) and low[end] == " " and pad < 3:
        end, pad = end + 1, pad + 1
    before = low[start - 1] if start > 0 else "\n"
    after = low[end] if end < len(low) else "\n"
    return (before in _FIELD_DELIMS or after in _FIELD_DELIMS) and before in _FIELD_DELIMS + "\n\r" and after in _FIELD_DELIMS + "\n\r"


def _record_fields(text: str, entities: list[Entity]) -> list[Entity]:
    """The other fields of delimited rows that hold a validated identifier (a personal record):
    names, dates of birth, addresses, CVV, expiry, PIN. In `key=value` / `key: value` fields only
    the value. Each row is looked at once; fields longer than 80 chars mean prose, not a row."""
    out: list[Entity] = []
    done: set[int] = set()
    taken = SpanIndex((e.start, e.end) for e in entities)
    for e in entities:
        if e.label not in ROW_ANCHORS:
            continue
        lo = text.rfind("\n", 0, e.start) + 1
        if lo in done:
            continue
        done.add(lo)
        hi = text.find("\n", e.end)
        hi = len(text) if hi < 0 else hi
        line = text[lo:hi]
        head, tail = line[: e.start - lo], line[e.end - lo :]  # the identifier's own characters do not count
        delim = max(_FIELD_DELIMS, key=lambda d: head.count(d) + tail.count(d))
        if head.count(delim) + tail.count(delim) < 2:
            continue
        pos = lo
        fields = line.split(delim)
        if any(len(f) > 80 for f in fields):
            continue
        for field in fields:
            start, end = pos, pos + len(field)
            pos = end + 1
            kv = _KEY_VALUE.match(field)
            if kv:
                start += kv.end()
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if end > start and any(c.isalnum() for c in text[start:end]) and not taken.overlaps(start, end):
                out.append(Entity("PERSONAL_FIELD", start, end, 0.9))
    return out


def _vertical_fields(text: str, entities: list[Entity]) -> list[Entity]:
    """Vertical records: consecutive `key: value` lines ("Name: …", "DOB: …", "Address: …",
    "ID: …"); a blank or other line, or a key seen already in the block, starts the next record
    (a page's text may have lost its blank lines). A record holding a validated identifier is a
    personal record: every value (the parts not already an entity) becomes PERSONAL_FIELD."""
    out: list[Entity] = []
    anchors = SpanIndex((e.start, e.end) for e in entities if e.label in ROW_ANCHORS)
    taken = SpanIndex((e.start, e.end) for e in entities)
    ordered = sorted((e.start, e.end) for e in entities)
    record: list[re.Match[str]] = []
    keys: set[str] = set()

    def close() -> None:
        if len(record) >= 2 and any(anchors.overlaps(m.start(2), m.end(2)) for m in record):
            for m in record:
                out.extend(_outside(text, m.start(2), m.end(2), taken, ordered))

    prev_end = -2
    for line_start, m in _marked_line_matches(_KV_LINE, text, _KV_MARK):
        key = m.group(1).strip().lower()
        gap = text[prev_end:line_start] if prev_end >= 0 else "x"
        if gap not in ("\n", "\r\n") or key in keys:
            close()
            record, keys = [], set()
        record.append(m)
        keys.add(key)
        prev_end = m.end() + (1 if text.startswith("\r", m.end()) else 0)
    close()
    return out


def _cell_lines(text: str, entities: list[Entity]) -> list[Entity]:
    """An HTML table as extracted text: one cell a line, the rows one after another. Validated
    identifiers of one label that each fill a line, at a constant line period p (2-12: the
    column count) in a run of short lines, mark such a table; the lines from p-1 before the first
    to p-1 after the last are its rows' cells (plus, at worst, a few header cells) and each
    becomes PERSONAL_FIELD."""
    out: list[Entity] = []
    by_label: dict[str, list[Entity]] = {}
    for e in entities:
        alone = (e.start == 0 or text[e.start - 1] == "\n") and (e.end == len(text) or text[e.end] == "\n")
        if e.label in ROW_ANCHORS and alone:
            by_label.setdefault(e.label, []).append(e)
    anchors = [group for group in by_label.values() if len(group) >= 2]
    if not anchors:
        return out
    starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]
    taken = SpanIndex((e.start, e.end) for e in entities)
    done: set[int] = set()
    for group in anchors:
        rows = sorted(bisect.bisect_right(starts, e.start) - 1 for e in group)
        i = 0
        while i < len(rows) - 1:
            period = rows[i + 1] - rows[i]
            j = i + 1
            while j + 1 < len(rows) and rows[j + 1] - rows[j] == period:
                j += 1
            if 2 <= period <= 12:
                lo, hi = max(0, rows[i] - period + 1), min(len(starts) - 1, rows[j] + period - 1)
                for line in range(lo, hi + 1):
                    a = starts[line]
                    b = starts[line + 1] - 1 if line + 1 < len(starts) else len(text)
                    if line in done or b - a > 80 or taken.overlaps(a, b):
                        continue
                    done.add(line)
                    out.extend(_outside(text, a, b, taken, []))
            i = j
    return out


def _outside(text: str, start: int, end: int, taken: SpanIndex, ordered: list[tuple[int, int]]) -> list[Entity]:
    """PERSONAL_FIELD over the parts of [start, end) that no entity covers (trimmed, with a letter
    or digit)."""
    if not taken.overlaps(start, end):
        pieces = [(start, end)]
    else:
        pieces, at = [], start
        i = bisect.bisect_left(ordered, (start - 200, 0))
        for s, e in ordered[i:]:
            if s >= end:
                break
            if e <= at:
                continue
            if s > at:
                pieces.append((at, s))
            at = max(at, e)
        if at < end:
            pieces.append((at, end))
    out = []
    for s, e in pieces:
        while s < e and not text[s].isalnum():
            s += 1
        while e > s and not text[e - 1].isalnum():
            e -= 1
        if e > s:
            out.append(Entity("PERSONAL_FIELD", s, e, 0.9))
    return out


def _alternation(words: list[str]) -> str:
    return "|".join(re.escape(w.lower()) for w in sorted(words, key=len, reverse=True))


def _resolve(entities: list[Entity]) -> list[Entity]:
    """Keep the best of overlapping entities; a CREDENTIAL may contain its EMAIL_ADDRESS."""
    if not entities:
        return []
    size = max(e.end for e in entities) + 1
    taken = {kind: bytearray(size) for kind in ("CREDENTIAL", "EMAIL_ADDRESS", "other")}
    conflicts = {"CREDENTIAL": ("CREDENTIAL", "other"), "EMAIL_ADDRESS": ("EMAIL_ADDRESS", "other")}
    kept: list[Entity] = []
    for e in sorted(entities, key=lambda e: (-e.score, e.start - e.end, e.start)):
        kind = e.label if e.label in conflicts else "other"
        if all(taken[k].find(1, e.start, e.end) == -1 for k in conflicts.get(kind, taken)):
            kept.append(e)
            taken[kind][e.start : e.end] = b"\x01" * (e.end - e.start)
    return sorted(kept, key=lambda e: (e.start, e.end))
