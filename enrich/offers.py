"""Offer decisions: a commodity becomes an offer only with sale evidence near it that outweighs
reporting/enforcement/prevention context, and the result names the spans that decided it."""

from __future__ import annotations

import bisect
from typing import Any

from enrich.scan import Analysis

_SALE_KINDS = {"sale_cue": 1.0, "price": 1.5, "quantity": 0.5}


def _evidence(analysis: Analysis) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Sale and negative evidence items {kind, start, end, term, weight, value, unit}."""
    negated = analysis.negations
    sale: list[dict[str, Any]] = []
    neg: list[dict[str, Any]] = []
    text = analysis.text
    for t in analysis.terms:
        if t.kind == "sale_cue" and not any(n.start <= t.start and t.end <= n.end for n in negated):
            sale.append({"kind": "sale_cue", "start": t.start, "end": t.end, "term": text[t.start : t.end], "weight": t.weight})
        elif t.kind == "negative_cue":
            neg.append({"kind": "negative_cue", "start": t.start, "end": t.end, "term": text[t.start : t.end], "weight": t.weight})
    for n in negated:
        neg.append({"kind": "negative_cue", "start": n.start, "end": n.end, "term": text[n.start : n.end], "weight": n.weight})
    for a in analysis.amounts:
        sale.append({"kind": a.kind, "start": a.start, "end": a.end, "term": text[a.start : a.end], "weight": _SALE_KINDS[a.kind], "value": a.value, "unit": a.unit})
    return sale, neg


def decide(analysis: Analysis, settings: dict[str, Any]) -> dict[str, Any]:
    """The tagging result for one page (offsets index analysis.text)."""
    window = int(settings["offer_window"])
    sale, neg = _evidence(analysis)
    sale.sort(key=lambda e: e["start"])
    neg.sort(key=lambda e: e["start"])
    sale_starts, neg_starts = [e["start"] for e in sale], [e["start"] for e in neg]
    page_sale = sum(e["weight"] for e in sale)
    page_neg = sum(e["weight"] for e in neg)
    page_is_report = page_neg > float(settings["page_negative_factor"]) * page_sale
    categories: list[str] = []
    offers: list[dict[str, Any]] = []
    evidence: list[dict[str, Any]] = []
    seen: set[tuple[str, str, int, int]] = set()

    def cite(category: str, item: dict[str, Any]) -> None:
        key = (category, item["kind"], item["start"], item["end"])
        if key not in seen:
            seen.add(key)
            evidence.append({"category": category, "kind": item["kind"], "start": item["start"], "end": item["end"], "term": item["term"]})

    ambiguous = {w.lower() for w in settings.get("ambiguous", ())}
    senses = [t for t in analysis.terms if t.kind == "sense"]
    commodities = [
        t for t in analysis.terms
        if t.kind == "commodity"
        and not (analysis.text[t.start : t.end].lower() in ambiguous and any(t.start - window < s.end and s.start < t.end + window for s in senses))
    ]
    for category in sorted({t.category for t in commodities if t.category}):
        if page_is_report:
            continue
        for c in (t for t in commodities if t.category == category):
            lo, hi = c.start - window, c.end + window
            local_sale, local_neg = _within(sale, sale_starts, lo, hi), _within(neg, neg_starts, lo, hi)
            score = sum(e["weight"] for e in local_sale) - sum(e["weight"] for e in local_neg)
            if score <= 0 or not any(e["kind"] in ("sale_cue", "price") for e in local_sale):
                continue
            price = _nearest(c, [e for e in local_sale if e["kind"] == "price"])
            qty = _nearest(c, [e for e in local_sale if e["kind"] == "quantity"])
            parts = [c.start, c.end] + [x for e in (price, qty) if e for x in (e["start"], e["end"])]
            offer = {
                "category": category, "commodity": c.name, "start": min(parts), "end": max(parts),
                "price": price["value"] if price else None, "currency": price["unit"] if price else None,
                "quantity": qty["value"] if qty else None, "unit": qty["unit"] if qty else None,
            }
            same = offers[-1] if offers else None  # one listing named in several languages is one offer
            if same and all(same[k] == offer[k] for k in ("category", "commodity", "price", "currency", "quantity")):
                same["start"], same["end"] = min(same["start"], offer["start"]), max(same["end"], offer["end"])
            else:
                offers.append(offer)
            cite(category, {"kind": "commodity", "start": c.start, "end": c.end, "term": analysis.text[c.start : c.end]})
            for e in local_sale + local_neg:
                cite(category, e)
        if any(o["category"] == category for o in offers):
            categories.append(category)
    dump = _dump_evidence(analysis, settings["dump"])
    if dump and "leaked_data" not in categories:
        categories.append("leaked_data")
    for e in dump:
        cite("leaked_data", {"kind": "entity", "start": e.start, "end": e.end, "term": e.label})
    return {
        "categories": sorted(categories),
        "entities": [e.as_dict() for e in analysis.entities],
        "offers": offers,
        "evidence": sorted(evidence, key=lambda e: (e["start"], e["end"], e["category"])),
        "lang": analysis.lang,
    }


_LONGEST_CUE = 200  # no cue or amount is longer: bounds the backwards search


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


def _dump_evidence(analysis: Analysis, cfg: dict[str, Any]) -> list[Any]:
    """Entities that make the page a dump of personal data (many validated sensitive values)."""
    sensitive = [e for e in analysis.entities if e.label in cfg["labels"]]
    if len(sensitive) >= int(cfg["min_entities"]):
        return sensitive[:50]
    contacts = [e for e in analysis.entities if e.label in cfg["contact_labels"]]
    if len(contacts) >= int(cfg["min_contact_entities"]):
        return contacts[:50]
    return []
