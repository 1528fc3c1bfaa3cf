"""Offer decisions, and the spans that decided them.

What counts depends on the kind of page (enrich.pagekind):
- on a market listing or a shop page the commodity alone is the offer ("ARCTIC WOLF HEROIN
  0.5G AAA+"), unless reporting context near it says otherwise;
- on forum posts, pastes and other pages a commodity needs sale evidence near it (sale words,
  a price) that outweighs the reporting/enforcement/prevention context near it;
- on news pages prices do not count as sale evidence ("caught with $4.5 million in ivory"), and
  reporting words across the page can make the whole page a report.
Negative cues in page furniture (a "News" menu item, a "Donate" button) are ignored everywhere.
A one-item page marked sold ("Sold #7043") is a record of a past sale, not an offer; a page that
describes one item (measures, condition) with no reporting word anywhere is a dealer's object
page, and the commodity named near its top is the offer.
Weak commodity words (speed, ice, hash, ivory, account) need support: an amount next to them,
another commodity of their category nearby, or the classifier. A commodity named in a guide,
e-book or tutorial title is information about the goods, not the goods (carding guides are not
leaked data). The classifier (enrich.classifier) adds categories on listings and shops where no
lexicon term fired; its evidence is the title it scored.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping
from typing import Any

from enrich.scan import Analysis
from enrich.spans import SpanIndex

_SALE_KINDS = {"sale_cue": 1.0, "price": 1.5, "quantity": 0.5}
# a described item (see decide): page-kind "listing" evidence of at least one measure or one
# listing word, and the commodity named in the first this-many characters
_DESCRIBED_MIN = 0.4
_DESCRIBED_HEAD = 300
COMMERCIAL = ("listing", "shop")
# quoted speech: an opening quote right before a word, a closing one right after (inch marks
# such as 2" x 3" are not quotes); ≥ _DIALOGUE_SHARE of the text in ≥ 2 quotes is a narrative
# (fiction, an undercover report), whatever the page's prices and cue words look like
# (the opening quote is matched first and each kind checked behind it: a regex that opens with one
# character class is searched by skipping to those characters, one that opens with a choice is
# tried at every character, ~6x slower here; the same matches as
# “[^”\n]{10,800}”|「[^」\n]{10,800}」|(?<![\w"])"(?=[^\s"\d])[^"\n]{10,800}(?<=[^\s"])"(?!\w), see
# tests/test_enrich_fastpaths.py)
_QUOTE = re.compile(r'[“「"](?:(?<=“)[^”\n]{10,800}”|(?<=「)[^」\n]{10,800}」|(?<=")(?<![\w"].)(?=[^\s"\d])[^"\n]{10,800}(?<=[^\s"])"(?!\w))')
_DIALOGUE_SHARE = 0.3
INFO_CATEGORIES = ("drugs", "leaked_data")  # categories whose guides are sold as e-books


def _evidence(analysis: Analysis) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Sale cues, negative cues (page furniture left out) and amounts, as evidence items
    {kind, start, end, term, weight[, value, unit]}."""
    negated = analysis.negations
    in_negation = SpanIndex((n.start, n.end) for n in negated)
    on_furniture = SpanIndex(analysis.furniture)
    text = analysis.text
    sale: list[dict[str, Any]] = []
    neg: list[dict[str, Any]] = []
    for t in analysis.terms:
        if t.kind == "sale_cue" and not in_negation.contains(t.start, t.end):
            sale.append({"kind": "sale_cue", "start": t.start, "end": t.end, "term": text[t.start : t.end], "weight": t.weight})
        elif t.kind == "negative_cue" and not on_furniture.contains_point(t.start):
            neg.append({"kind": "negative_cue", "start": t.start, "end": t.end, "term": text[t.start : t.end], "weight": t.weight})
    for n in negated:
        neg.append({"kind": "negative_cue", "start": n.start, "end": n.end, "term": text[n.start : n.end], "weight": n.weight})
    amounts = [
        {"kind": a.kind, "start": a.start, "end": a.end, "term": text[a.start : a.end], "weight": _SALE_KINDS[a.kind], "value": a.value, "unit": a.unit}
        for a in analysis.amounts
    ]
    return sale, neg, amounts


def decide(
    analysis: Analysis,
    settings: Mapping[str, Any],
    scores: Mapping[str, float] | None = None,
    model_version: str | None = None,
) -> dict[str, Any]:
    """The tagging result for one page (offsets index analysis.text). `scores`: the classifier's
    category scores for this page (None: no classifier ran)."""
    window = int(settings["offer_window"])
    support_chars = int(settings["weak_support_chars"])
    kind = analysis.page_kind.kind
    commercial = kind in COMMERCIAL
    text = analysis.text
    sale_cues, neg, amounts = _evidence(analysis)
    quotes = _quotes(text) if kind != "shop" and any(t.kind == "commodity" for t in analysis.terms) else []
    if len(quotes) >= 2 and analysis.page_kind.reason != "hint" and sum(e - s for s, e in quotes) >= _DIALOGUE_SHARE * len(text):
        kind, commercial = "news", False  # a narrative quoting people, not the seller's own page
    if quotes and not commercial:
        # on a page that is not a shop or listing, sale words and prices inside quotation marks
        # are what someone is reported to have said
        quoted = SpanIndex(quotes)
        sale_cues = [e for e in sale_cues if not quoted.contains(e["start"], e["end"])]
        amounts = [e for e in amounts if not quoted.contains(e["start"], e["end"])]
    # in news and other running prose that is not a shop, an amount is a fact being reported and
    # a word like "price" describes one: neither is sale evidence there
    reported = kind == "news" or (not commercial and analysis.page_kind.prose)
    if reported:
        descriptive = _lowered(settings.get("descriptive", ()))
        sale_cues = [e for e in sale_cues if e["term"].lower() not in descriptive]
    sale = sorted(sale_cues + ([] if reported else amounts), key=lambda e: e["start"])
    neg.sort(key=lambda e: e["start"])
    amounts.sort(key=lambda e: e["start"])
    sale_starts, neg_starts, amount_starts = [e["start"] for e in sale], [e["start"] for e in neg], [e["start"] for e in amounts]
    page_sale = sum(e["weight"] for e in sale)
    page_neg = sum(e["weight"] for e in neg)
    # a shop or listing page is not a report because of words elsewhere on it; only context
    # near the commodity counts there
    page_is_report = not commercial and page_neg > float(settings["page_negative_factor"]) * page_sale
    # one item on the page, marked sold ("Sold #7043", "This item has been sold"): an archive or
    # price-guide record of a past sale, not an offer, wherever on the page the mark is (a short
    # status line too, which counts as page furniture for other negative cues)
    sold_status = _lowered(settings.get("sold_status", ()))
    if kind == "listing" and (sold_status and any(
        t.kind == "negative_cue" and text[t.start : t.end].lower() in sold_status for t in analysis.terms
    ) or _sold_line(text)):
        page_is_report = True
    scores = dict(scores or {})
    threshold = float(settings["classifier_threshold"])
    categories: list[str] = []
    offers: list[dict[str, Any]] = []
    evidence: list[dict[str, Any]] = []
    seen: set[tuple[str, str, int, int]] = set()

    def cite(category: str, item: dict[str, Any]) -> None:
        key = (category, item["kind"], item["start"], item["end"])
        if key not in seen:
            seen.add(key)
            cited = {"category": category, "kind": item["kind"], "start": item["start"], "end": item["end"], "term": item["term"]}
            if "score" in item:
                cited["score"] = item["score"]
            evidence.append(cited)

    ambiguous = _lowered(settings.get("ambiguous", ()))
    senses = [t for t in analysis.terms if t.kind == "sense"]
    infos = [t for t in analysis.terms if t.kind == "info_product"]
    head_start, head_end = _head(text, int(settings["classifier_chars"]))
    # a page whose title is a guide, e-book or tool sells information, not the goods it names
    info_page = kind != "shop" and any(head_start <= i.start < head_end for i in infos)
    sense_spans = SpanIndex((s.start, s.end) for s in senses)
    info_starts = [i.start for i in infos]

    def near_info(t: Any) -> bool:  # only guides within reach on the same line can qualify
        lo = bisect.bisect_left(info_starts, t.start - _INFO_REACH)
        hi = bisect.bisect_right(info_starts, t.end + _INFO_REACH)
        return any(_same_line_near(text, t, i, 80) for i in infos[lo:hi])

    commodities = [
        t for t in analysis.terms
        if t.kind == "commodity"
        and not (text[t.start : t.end].lower() in ambiguous and sense_spans.overlaps(t.start - window, t.end + window))
        and not (t.category in INFO_CATEGORIES and (info_page or near_info(t)))
    ]
    strong = [t for t in commodities if t.weight >= 1.0]
    strong_spans = {(t.start, t.end, t.category) for t in strong}
    strong_by_cat = {cat: SpanIndex((t.start, t.end) for t in strong if t.category == cat) for cat in {t.category for t in strong}}

    def supported(c: Any) -> bool:
        """A weak word counts with an amount right next to it, a strong term of its category
        nearby, or the classifier agreeing."""
        if c.weight >= 1.0 or (c.start, c.end, c.category) in strong_spans:
            return True
        near = _within(amounts, amount_starts, c.start - support_chars, c.end + support_chars)
        # an amount next to another category's commodity is that commodity's ("0.2g Crack COMBO")
        if near and not any(idx.overlaps(c.start - support_chars, c.end + support_chars) for cat, idx in strong_by_cat.items() if cat != c.category):
            return True
        same = strong_by_cat.get(c.category)
        if same is not None and same.overlaps(c.start - window, c.end + window):
            return True
        return scores.get(c.category or "", 0.0) >= threshold

    # a page that describes one item (its measures or condition) and has no reporting,
    # enforcement or prevention word anywhere: a dealer's object page written as prose; the
    # commodity named near its top is the item on offer
    described_item = (
        kind == "other"
        and not quotes
        and not analysis.negations
        and not any(t.kind == "negative_cue" for t in analysis.terms)
        and analysis.page_kind.scores.get("listing", 0.0) >= _DESCRIBED_MIN
    )

    for category in sorted({t.category for t in commodities if t.category}):
        if page_is_report:
            continue
        for c in (t for t in commodities if t.category == category):
            if not supported(c):
                continue
            lo, hi = c.start - window, c.end + window
            local_sale, local_neg = _within(sale, sale_starts, lo, hi), _within(neg, neg_starts, lo, hi)
            score = sum(e["weight"] for e in local_sale) - sum(e["weight"] for e in local_neg)
            if commercial or (described_item and c.weight >= 1.0 and c.start < _DESCRIBED_HEAD):
                score += float(settings["listing_bonus"])  # on a listing the commodity is the offer
            elif not any(e["kind"] in ("sale_cue", "price") for e in local_sale):
                continue
            if score <= 0:
                continue
            local_amounts = _within(amounts, amount_starts, lo, hi)
            price = _nearest(c, [e for e in local_amounts if e["kind"] == "price"])
            qty = _nearest(c, [e for e in local_amounts if e["kind"] == "quantity"])
            _add_offer(offers, category, c.name, c.start, c.end, price, qty)
            cite(category, {"kind": "commodity", "start": c.start, "end": c.end, "term": text[c.start : c.end]})
            for e in local_sale + local_neg + [x for x in (price, qty) if x]:
                cite(category, e)
        if any(o["category"] == category for o in offers):
            categories.append(category)

    # the classifier: recall on cue-less titles, on listings and shops (elsewhere only with a
    # confident score and sale words on the page; never on news)
    if scores and not page_is_report and not info_page and kind != "news" and analysis.lang in settings["classifier_langs"]:
        by_rules = bool(categories)
        head_amounts = _within(amounts, amount_starts, head_start, head_end)
        units = {e["unit"] for e in head_amounts if e["kind"] == "quantity"}
        for category, score in sorted(scores.items()):
            needed = float(settings["classifier_thresholds"].get(category, threshold))
            if units & set(settings["unit_support"].get(category, ())):
                needed = min(needed, threshold)  # "230MG", "[20GR]": the title's unit supports it
            if category in categories or score < needed:
                continue
            if kind == "listing" and by_rules:
                continue  # one item: the rules already named what it is
            if not commercial and (score < float(settings["classifier_threshold_other"]) or not sale_cues):
                continue
            if _within(neg, neg_starts, head_start - window, head_end + window):
                continue
            if category in INFO_CATEGORIES and any(head_start <= i.start < head_end for i in infos):
                continue
            named = next((c for c in commodities if c.category == category and head_start <= c.start < head_end), None)
            price = next((e for e in head_amounts if e["kind"] == "price"), None)
            qty = next((e for e in head_amounts if e["kind"] == "quantity"), None)
            _add_offer(offers, category, named.name if named else None, head_start, head_end, price, qty)
            categories.append(category)
            cite(category, {"kind": "classifier", "start": head_start, "end": head_end, "term": text[head_start:head_end], "score": round(score, 3)})
    dump = _dump_evidence(analysis, settings["dump"])
    if dump and "leaked_data" not in categories:
        categories.append("leaked_data")
    for d in dump:
        cite("leaked_data", {"kind": "entity", "start": d.start, "end": d.end, "term": d.label})
    return {
        "categories": sorted(categories),
        "entities": [e.as_dict() for e in analysis.entities],
        "offers": offers,
        "evidence": sorted(evidence, key=lambda e: (e["start"], e["end"], e["category"])),
        "lang": analysis.lang,
        "page_kind": kind,
        "model_version": model_version,
        "scores": {k: round(v, 3) for k, v in sorted(scores.items())},
    }


def _lowered(words: Any) -> frozenset[str] | set[str]:
    """A word list as a set of lower-case words; a frozenset is taken to be one already (the
    pipeline component makes them once, not on every page)."""
    return words if isinstance(words, frozenset) else {w.lower() for w in words}


def _add_offer(offers: list[dict[str, Any]], category: str, commodity: str | None, start: int, end: int,
               price: dict[str, Any] | None, qty: dict[str, Any] | None) -> None:
    parts = [start, end] + [x for e in (price, qty) if e for x in (e["start"], e["end"])]
    offer = {
        "category": category, "commodity": commodity, "start": min(parts), "end": max(parts),
        "price": price["value"] if price else None, "currency": price["unit"] if price else None,
        "quantity": qty["value"] if qty else None, "unit": qty["unit"] if qty else None,
    }
    same = offers[-1] if offers else None  # one listing named in several languages is one offer
    if same and all(same[k] == offer[k] for k in ("category", "commodity", "price", "currency", "quantity")):
        same["start"], same["end"] = min(same["start"], offer["start"]), max(same["end"], offer["end"])
    else:
        offers.append(offer)


def _head(text: str, limit: int) -> tuple[int, int]:
    """The span the classifier's evidence points at: the first non-empty line (the title),
    at most `limit` characters."""
    start = len(text) - len(text.lstrip())
    end = text.find("\n", start)
    end = len(text) if end < 0 else end
    end = min(end, start + limit)
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _same_line_near(text: str, a: Any, b: Any, reach: int) -> bool:
    """a and b on one line, at most `reach` characters apart (a title and its "guide")."""
    lo, hi = min(a.start, b.start), max(a.end, b.end)
    return hi - lo <= reach + (a.end - a.start) + (b.end - b.start) and "\n" not in text[lo:hi]


_INFO_REACH = 400  # beyond this a guide word and a commodity are never "near" (_same_line_near's reach 80 + term lengths)
_LONGEST_CUE = 200  # no cue or amount is longer: bounds the backwards search


_SOLD = re.compile(r"SOLD\b")
_SOLD_LINE_NOISE = " \t.#:|-*0123456789"


def _sold_line(text: str) -> bool:
    """A line that says only SOLD (a dealer's "SOLD" badge, "# 28026 ........ SOLD"): the item
    has been sold. Upper case only: "sold with its stand" and "SOLD OUT" counters are not it."""
    for m in _SOLD.finditer(text):
        lo = text.rfind("\n", 0, m.start()) + 1
        hi = text.find("\n", m.end())
        if text[lo : len(text) if hi < 0 else hi].strip(_SOLD_LINE_NOISE) == "SOLD":
            return True
    return False


def _quotes(text: str) -> list[tuple[int, int]]:
    """Spans of quoted speech (see _QUOTE)."""
    return [m.span() for m in _QUOTE.finditer(text)]


def _within(items: list[dict[str, Any]], starts: list[int], lo: int, hi: int) -> list[dict[str, Any]]:
    """Items (sorted by start) overlapping [lo, hi)."""
    first = bisect.bisect_left(starts, lo - _LONGEST_CUE)
    last = bisect.bisect_left(starts, hi)
    return [e for e in items[first:last] if e["end"] > lo]


def _nearest(term: Any, items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The price/quantity that belongs to a commodity. Listings name the item first and
    price it after, and an amount just before a commodity is often the previous
    listing's: the nearest one after wins, one before only when nothing follows."""
    after = [e for e in items if e["start"] >= term.start]
    if after:
        return min(after, key=lambda e: e["start"])
    return max(items, key=lambda e: e["end"], default=None)


def _dump_evidence(analysis: Analysis, cfg: Mapping[str, Any]) -> list[Any]:
    """Entities that make the page a dump of personal data (many validated sensitive values)."""
    sensitive = [e for e in analysis.entities if e.label in cfg["labels"]]
    if len(sensitive) >= int(cfg["min_entities"]):
        return sensitive[:50]
    contacts = [e for e in analysis.entities if e.label in cfg["contact_labels"]]
    if len(contacts) >= int(cfg["min_contact_entities"]):
        return contacts[:50]
    return []
