"""What kind of text a page is: a market listing, a vendor shop, a forum post, a paste/dump,
news/report, or other — from the text itself, and from the crawled page's structure when the
crawler passes it (a hint).

Why it matters: on a listing the commodity alone is the offer ("ARCTIC WOLF HEROIN 0.5G AAA+");
on a forum post or in news the same words need sale cues, and reporting words count only on
news pages. Cheap character-level counts, no model: the cue words are data
(configs/tagger/pagekind.yaml).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ahocorasick

from enrich.lexicon import KeyScanner

KINDS = ("listing", "shop", "forum", "paste", "news", "other")

_PRICE = re.compile(
    r"(?i)(?:[$€£฿₫¥₱]\s?\d|\d[\d.,]*\s?(?:usd|eur|gbp|btc|xmr|eth|ltc|usdt|baht|บาท|vnd|đ|rp|idr|rm|myr|sgd|php|元|块)(?![a-z]))"
)
_QTY = re.compile(r"(?i)\d[\d.,]*\s?(?:mg|g|gr|gram|grams|kg|oz|lb|ml|ug|mcg|pcs|pills|tabs|x)(?![a-z])|\b\d+\s?x\s?\d")
_DELIMITED = re.compile(r"^\S+(?:[:;|\t]\S*){1,}$|^\S+@\S+[:;|]\S+|^(?:\S+\s*[|;,\t]\s*){3,}\S+$")
_SENTENCE_END = re.compile(r"[a-z\u00e0-\u1ef9]{2}[.?!](?:\s|$)|[。？！]")  # after a lower-case word: not "500. PCS."
_WORD = re.compile(r"\w+")
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u2e80-\u9fff\uf900-\ufaff]")
_NUMBER_UNIT = re.compile(r"(\d[\d.,]*)\s?([^\W\d_]+|[\"'$€£″′])?")
_CURRENCY_SIGN = re.compile(r"[$€£฿₫¥₱]")
_CURRENCY = frozenset(["usd", "eur", "gbp", "btc", "xmr", "eth", "ltc", "usdt", "baht", "บาท", "vnd", "đ", "rp", "idr", "rm", "myr", "sgd", "php", "元", "块", "k", "tr", "jt", "juta", "triệu"])
_QTY_UNITS = frozenset(["mg", "g", "gr", "gram", "grams", "gramm", "kg", "kgs", "oz", "lb", "lbs", "ml", "ug", "mcg", "µg", "pcs", "pc", "pills", "pill", "tabs", "tab", "caps", "x", "gam", "viên", "กรัม", "เม็ด", "克", "粒"])
_MEASURE_UNITS = frozenset(["inch", "inches", "in", "cm", "mm", "pounds", "pound", "lb", "lbs", "kg", "grams", "gram", "ounces", "ounce", "oz", '"', "'", "″", "′"])
# a sentence end: [.?!] after a lower-case word and before a space, or a CJK full stop; one pass
# that opens with a character class (the engine skips to those characters)
_SENTENCE_STOP = re.compile(r"[.?!\u3002\uff1f\uff01](?:(?<=[a-z\u00e0-\u1ef9]{2}[.?!])(?=\s|$)|(?<=[\u3002\uff1f\uff01]))")
_DIGIT = re.compile(r"\d")
_NEWLINE = re.compile(r"\n")
_PUNCT = "\"'()[]{}<>.,;:!?*-–—|/\\«»“”‘’"
_MEASURE = re.compile(r"(?i)\d[\d.,/ ]*\s?(?:inch|inches|in\.|cm|mm|pounds|lbs?|kg|grams?|ounces?|oz|\"|'')(?![a-z])")
_NAV_SEP = re.compile(r"\s[|•·/»›]\s|\s{3,}")
# a line that is only a price ("$87.00", "Price: £450", "Regular price $875.00 USD"): a product page
_LONE_PRICE = re.compile(r"(?i)^(?:(?:regular |sale )?price:?\s*)?(?:[$€£¥฿]\s?\d[\d,]*(?:\.\d\d)?|\d[\d,]*(?:\.\d\d)?\s?(?:usd|eur|gbp|aud|cad))(?:\s?(?:usd|eur|gbp|aud|cad))?$")


def _may_be_delimited(line: str) -> bool:
    """A necessary condition of _DELIMITED, checked first (most lines are prose): a ":;|" or tab
    (its first two forms), or three "|;," or tabs (the third), i.e. three commas without those."""
    return ":" in line or ";" in line or "|" in line or "\t" in line or line.count(",") >= 3


def _spaced(ch: str) -> bool:
    """Letters of scripts written with spaces between words (Latin incl. Vietnamese, digits)."""
    return ch.isalnum() and not _UNSPACED.match(ch)


@dataclass(slots=True)
class PageKind:
    kind: str
    scores: dict[str, float]
    reason: str
    prose: bool = False  # running sentences (an article), not titles, lists or tables

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "reason": self.reason}


def furniture_lines(text: str, at: list[int] | None = None, max_words: int = 4) -> list[tuple[int, int]]:
    """Spans of lines that are page furniture: navigation bars ("Home | News | Donate"),
    buttons and labels of a few words. Cue words there say nothing about the commodity.
    `at`: only the lines holding these offsets are looked at (the cue words' lines)."""
    spans: list[tuple[int, int]] = []
    if at is None:
        bounds, pos = [], 0
        for line in text.splitlines(keepends=True):
            bounds.append((pos, pos + len(line)))
            pos += len(line)
    else:
        bounds = sorted({(text.rfind("\n", 0, i) + 1, (text.find("\n", i) + 1) or len(text)) for i in at})
    for lo, hi in bounds:
        stripped = text[lo:hi].strip()
        words = len(_WORD.findall(stripped))
        if stripped and (words <= max_words and not _SENTENCE_END.search(stripped) or len(_NAV_SEP.findall(stripped)) >= 2):
            spans.append((lo, hi))
    return spans


class PageKindGuesser:
    """Scores each kind from cue words (any language) and the shape of the text."""

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        words: dict[str, set[str]] = {}
        for kind, per_lang in cfg["cues"].items():
            for terms in per_lang.values():
                for term in terms:
                    words.setdefault(term.lower(), set()).add(kind)
        # word-boundary needs computed once per term
        self.cues = KeyScanner({term: (term, _spaced(term[0]), _spaced(term[-1]), tuple(sorted(kinds))) for term, kinds in words.items()})
        self.function_words = frozenset(w.lower() for lang, ws in cfg["function_words"].items() if lang not in ("th", "zh") for w in ws)
        self.function_chars = ahocorasick.Automaton()
        for lang in ("th", "zh"):
            for w in cfg["function_words"].get(lang, ()):
                self.function_chars.add_word(w, len(w))
        self.function_chars.make_automaton()
        self.listing_max_chars = int(cfg["listing_max_chars"])
        self.listing_max_lines = int(cfg["listing_max_lines"])
        self.sample = int(cfg["sample_chars"])
        self.title_offer = tuple(w.lower() for w in cfg.get("title_offer", ()))

    def _cue_counts(self, low: str) -> dict[str, int]:
        """Per kind, how many cue words occur; a shop or listing cue counts once however often it
        recurs (an article that says "price" five times is not a shop; a shop shows cart,
        shipping, price; a story that says "weight" three times is not a product page)."""
        counts = dict.fromkeys(KINDS, 0)
        counted_once: set[tuple[str, str]] = set()
        n = len(low)
        for start, end, (term, head_spaced, tail_spaced, kinds) in self.cues.matches(low):
            if head_spaced and start > 0 and _spaced(low[start - 1]):
                continue  # "giá" is not a word inside "giác"
            if tail_spaced and end < n and _spaced(low[end]):
                continue
            for kind in kinds:
                if kind == "shop" or kind == "listing":
                    if (kind, term) in counted_once:
                        continue
                    counted_once.add((kind, term))
                counts[kind] += 1
        return counts

    def guess(self, text: str, hint: str | None = None, negative_cues: int = 0, title_commodity: bool = False, low: str | None = None) -> PageKind:
        """`hint`: a kind the crawler already knows from the page's structure (it wins).
        `negative_cues`: reporting/enforcement words the lexicon scan found (news evidence).
        `title_commodity`: the first line names a commodity (a product page's title).
        `low`: text.lower() when the caller has it and its prefixes are the lower case of
        text's prefixes (see enrich.scan)."""
        if hint in KINDS:
            return PageKind(hint, {}, "hint", False)
        sample = text[: self.sample]
        low = sample.lower() if low is None else low[: self.sample]
        lines = [ln.strip() for ln in sample.splitlines() if ln.strip()]
        cues = self._cue_counts(low)
        # one pass per pattern; lines found by offset (a regex per line costs more)
        # one pass over the numbers: what follows (or precedes) each says price, quantity, measure
        price_at: list[int] = []
        qtys = measures = 0
        for m in _NUMBER_UNIT.finditer(sample):
            unit = (m.group(2) or "").lower()
            if unit in _CURRENCY or _CURRENCY_SIGN.search(sample, max(0, m.start() - 2), m.start()):
                price_at.append(m.start())
            elif unit in _QTY_UNITS:
                qtys += 1
            if unit in _MEASURE_UNITS:
                measures += 1
        prices = len(price_at)
        if price_at:
            starts = [0] + [m.end() for m in _NEWLINE.finditer(sample)]
            priced_lines = len({bisect.bisect_right(starts, at) for at in price_at})
        else:
            priced_lines = 0
        delimited = sum(1 for ln in lines if _may_be_delimited(ln) and _DELIMITED.match(ln)) if len(lines) >= 6 else 0
        sentences = len(_SENTENCE_STOP.findall(sample))
        tokens = [t.strip(_PUNCT) for t in low.split()]
        words = len(tokens) - tokens.count("") or 1
        function = sum(map(self.function_words.__contains__, tokens))
        unspaced_chars = 0
        if _UNSPACED.search(low):  # Thai/Chinese: function words per character, as a share
            unspaced_chars = len(_UNSPACED.findall(low))
            prose = max(sum(n for _, n in self.function_chars.iter(low)) / max(1, unspaced_chars) * 3, function / words)
        else:
            prose = function / words
        prose = min(1.0, prose)
        # running sentences: many function words, or (languages whose function words the list
        # covers thinly, e.g. Vietnamese, Indonesian) several long sentences; Thai and Chinese
        # have few spaces, so their length is counted in characters (~2 a word)
        is_prose = (words >= 8 or unspaced_chars >= 16) and (prose >= 0.25 or (sentences >= 3 and words >= 8 * sentences))
        scores = {
            "paste": delimited / max(1, len(lines)) * 4 if len(lines) >= 6 else 0.0,
            # several priced items, shop furniture (cart, shipping, escrow); prose is rarely a shop
            "shop": cues["shop"] * 0.8 + min(priced_lines, 6) * 0.5 - (is_prose and priced_lines < 2) * 1.0,
            "forum": cues["forum"] * 1.2,
            "news": cues["news"] + negative_cues * 0.5 + is_prose * 0.5 + (sentences >= 3) * 0.5 - prices * 0.2,
            # one item described: a title, or a product page with its measures, condition, price
            "listing": cues["listing"] + min(measures, 4) * 0.4 + (prices > 0) * 0.5 + (qtys > 0) * 0.3,
            "other": 1.5,
        }
        short = len(text) <= self.listing_max_chars and len(lines) <= self.listing_max_lines
        if short and not is_prose and sentences <= 1:
            # a title: few words, no sentence structure; quantities, prices or codes make it surer
            scores["listing"] += 2.0 + (words <= 20) * 0.5 - cues["news"] * 0.5 - min(negative_cues, 2)
        title = lines[0] if lines else ""
        title_tokens = _WORD.findall(title.lower())
        title_words = len(title_tokens)
        # a product title is a noun phrase ("Chinese Ivory Casket of Rectangular Form"); a headline
        # is a clause, with more function words ("Sự thật về sức mạnh huyền bí từ ngà voi")
        title_function = sum(1 for t in title_tokens if t in self.function_words)
        product_title = title_commodity and len(lines) > 1 and 1 <= title_words <= 14 and not _SENTENCE_END.search(title)
        offers_in_title = product_title and any(w in title.lower() for w in self.title_offer)
        if product_title and is_prose and not offers_in_title and _UNSPACED.search(title) and not (prices or measures or qtys or cues["listing"] or cues["shop"]):
            pass  # a Thai/Chinese headline over running prose with nothing of a product page: an article
        elif product_title and title_function <= max(1, title_words // 8) and not cues["news"] and not negative_cues:
            scores["listing"] += 2.0  # a product page: the item named in a title line, then its description
        elif offers_in_title:
            scores["listing"] += 2.0  # "Walrus Ivory For Sale": the title offers it, whatever the legal notes below say
        if any(_LONE_PRICE.match(ln) for ln in lines[:8]):
            scores["listing"] += 1.5  # a price on a line of its own near the top: a product page
            scores["news"] -= 1.0  # (articles state prices inside sentences; legal notes below it do not make it one)
        if scores["listing"] >= 2.0 and priced_lines >= 3:
            scores["shop"] = max(scores["shop"], scores["listing"] + 0.1)  # many items: a shop page
        kind = max(scores, key=lambda k: (scores[k], -KINDS.index(k)))
        reason = {
            "paste": f"{delimited}/{len(lines)} delimited lines",
            "shop": f"{cues['shop']} shop cues, {priced_lines} priced lines",
            "forum": f"{cues['forum']} forum cues",
            "news": f"{cues['news']} news cues, {negative_cues} reporting words, {sentences} sentences, prose {prose:.2f}",
            "listing": f"one item ({len(text)} chars, {cues['listing']} listing cues, {measures} measures, {qtys} quantities, {prices} prices)",
            "other": "no stronger signal",
        }[kind]
        return PageKind(kind, scores, reason, is_prose)
