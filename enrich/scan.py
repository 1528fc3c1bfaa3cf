"""The character-level pass: language, validated PII, lexicon terms, prices and quantities.

Everything here works on the raw string (no tokens), so it is cheap enough to run on every page
and decides whether the token-level spaCy pass is needed at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from enrich.lang import LanguageGuesser
from enrich.lexicon import Lexicon, Term
from enrich.market import Amount, Market
from enrich.pagekind import PageKind, PageKindGuesser, furniture_lines
from enrich.pii import Entity, PiiFinder
from enrich.spans import SpanIndex


def load_config(config_dir: str | Path) -> dict[str, Any]:
    """All tagger data files of a configs/tagger directory as one JSON-serialisable dict."""
    root = Path(config_dir)
    data: dict[str, Any] = {name: yaml.safe_load((root / f"{name}.yaml").read_text(encoding="utf-8")) for name in ("pii", "cues", "market", "lang")}
    data["lexicons"] = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted((root / "lexicon").glob("*.yaml"))]
    data["pagekind"] = yaml.safe_load((root / "pagekind.yaml").read_text(encoding="utf-8"))
    return data


def lexicon_entries(data: dict[str, Any]) -> list[tuple[str, str, str | None, str, float]]:
    entries: list[tuple[str, str, str | None, str, float]] = []
    for lexicon in data["lexicons"]:
        keys = lexicon.get("keys_are_terms", True)  # is the canonical name also a surface form?
        for name, surfaces in lexicon["terms"].items():
            entries += [(s, "commodity", lexicon["category"], name, 1.0) for s in ([name] if keys else []) + list(surfaces)]
        # weak terms are everyday words too: they need support to count (see offers.decide)
        for name, surfaces in (lexicon.get("weak") or {}).items():
            entries += [(s, "commodity", lexicon["category"], name, WEAK) for s in surfaces]
    for words in data["cues"]["info_product"]["terms"].values():
        entries += [(w, "info_product", None, w, 0.0) for w in words]
    for kind in ("sale", "negative"):
        section = data["cues"][kind]
        for words in section["terms"].values():
            entries += [(w, f"{kind}_cue", None, w, float(section["weight"])) for w in words]
    negation = data["cues"]["negation"]
    entries += [(w, "negator", None, w, 0.0) for w in negation["negators"]]
    entries += [(w, "negative_cue", None, w, float(data["cues"]["negative"]["weight"])) for w in negation["phrases"]]
    entries += [(w, "blocker", None, w, 0.0) for w in data["cues"]["blockers"]]
    entries += [(w, "sense", None, w, 0.0) for w in data["cues"]["ambiguous"]["senses"]]
    return entries


WEAK = 0.5  # weight of a weak commodity term


@dataclass(slots=True)
class Analysis:
    text: str
    lang: str
    entities: list[Entity]
    terms: list[Term]
    amounts: list[Amount]
    page_kind: PageKind
    furniture: list[tuple[int, int]] = field(default_factory=list)  # navigation/button lines
    negations: list[Term] = field(default_factory=list)  # filled by the token-level pass

    def token_windows(self, reach: int, margin: int = 48) -> list[tuple[int, int]]:
        """Text spans where tokens can change the decision: around negation words that are
        within `reach` of a commodity (a negated sale phrase is a few tokens long)."""
        commodities = SpanIndex((t.start, t.end) for t in self.terms if t.kind == "commodity")
        if not commodities:
            return []
        spans: list[tuple[int, int]] = []
        for t in self.terms:
            if t.kind == "negator" and commodities.overlaps(t.start - reach, t.end + reach):
                lo = self.text.rfind(" ", 0, max(0, t.start - 1)) + 1
                hi = self.text.find(" ", min(len(self.text), t.end + margin))
                hi = len(self.text) if hi < 0 else hi
                if spans and lo <= spans[-1][1]:
                    spans[-1] = (spans[-1][0], max(hi, spans[-1][1]))
                else:
                    spans.append((lo, hi))
        return spans


class Scanner:
    def __init__(self, data: dict[str, Any], settings: dict[str, Any]) -> None:
        self.data = data
        self.lang = LanguageGuesser(data["lang"])
        self.pii = PiiFinder(data["pii"], settings)
        self.lexicon = Lexicon(lexicon_entries(data))
        self.market = Market(data["market"])
        self.page_kinds = PageKindGuesser(data["pagekind"])

    def scan(self, text: str, kind_hint: str | None = None) -> Analysis:
        """`kind_hint`: the page kind when the crawler knows it from the page's structure."""
        return self.scan_many([text], [kind_hint])[0]

    def scan_many(self, texts: list[str], kind_hints: list[str | None] | None = None) -> list[Analysis]:
        """scan() of each text, done one step at a time over all of them (every page's language,
        then every page's lexicon terms, PII, page kind, amounts): each step's tables, regexes
        and automata stay in the CPU caches from one page to the next. Run page by page, the
        steps evict each other's data: each one cost 1.1-1.8x its own time on the speed bench."""
        hints: list[str | None] = kind_hints if kind_hints is not None else [None] * len(texts)
        if len(texts) > 1 and sum(map(len, texts)) > _GROUP_CHARS:  # big pages: a few at a time (memory)
            out: list[Analysis] = []
            start = 0
            while start < len(texts):
                end, size = start + 1, len(texts[start])
                while end < len(texts) and size + len(texts[end]) <= _GROUP_CHARS:
                    size += len(texts[end])
                    end += 1
                out += self.scan_many(texts[start:end], hints[start:end])
                start = end
            return out
        lowered = [_lower(text) for text in texts]
        lows = [low for low, _ in lowered]
        # where each prefix of a page's lower-cased text is the lower case of the page's prefix,
        # the language and page-kind samples are cut from it instead of lower-cased again
        heads = [low if prefixes else None for low, prefixes in lowered]
        langs = [self.lang.guess(text, head) for text, head in zip(texts, heads)]
        all_terms = [self.lexicon.scan(low) for low in lows]
        all_entities = self.pii.find_many(texts, lows, langs)
        shapes = [_shape(text, terms) for text, terms in zip(texts, all_terms)]
        kinds = [
            self.page_kinds.guess(text, hint, negative_cues=len(negative), title_commodity=title_commodity, low=head)
            for text, hint, head, (negative, _, title_commodity) in zip(texts, hints, heads, shapes)
        ]
        out = []
        for text, low, lang, terms, entities, (_, furniture, _), page_kind in zip(texts, lows, langs, all_terms, all_entities, shapes, kinds):
            has_commodity = any(t.kind == "commodity" for t in terms)
            amounts = self.market.find(low) if has_commodity or page_kind.kind in ("listing", "shop") else []
            if amounts and entities:  # digits inside an address or card are not a price
                in_entity = SpanIndex((e.start, e.end) for e in entities)
                amounts = [a for a in amounts if not in_entity.overlaps(a.start, a.end)]
            out.append(Analysis(text, lang, entities, terms, amounts, page_kind, furniture))
        return out


_GROUP_CHARS = 1_000_000  # scan_many takes the steps over pages of at most this many characters together


def _lower(text: str) -> tuple[str, bool]:
    """The text lower-cased, offsets kept: a few characters lower-case to two, those stay. And
    whether low[:n] == text[:n].lower() for every n: no character lower-cased to two, and no
    capital sigma, the one character whose lower case depends on what follows it (σ or final ς)."""
    low = text.lower()
    if len(low) != len(text):
        return "".join(c if len(c.lower()) != 1 else c.lower() for c in text), False
    return low, "\u03a3" not in text


def _shape(text: str, terms: list[Term]) -> tuple[list[Term], list[tuple[int, int]], bool]:
    """The reporting cues that count (not on page furniture), the furniture lines, and whether
    the first line names a commodity (a product page's title)."""
    negative = [t for t in terms if t.kind == "negative_cue"]
    furniture = furniture_lines(text, [t.start for t in negative]) if negative else []
    if furniture:  # reporting words in a menu or on a button say nothing about the page
        on_furniture = SpanIndex(furniture)
        negative = [t for t in negative if not on_furniture.contains_point(t.start)]
    first_line = text.lstrip()[:200].split("\n", 1)[0]
    title_at = len(text) - len(text.lstrip())
    title_commodity = any(t.kind == "commodity" and t.weight >= 1.0 and title_at <= t.start < title_at + len(first_line) for t in terms)
    return negative, furniture, title_commodity
