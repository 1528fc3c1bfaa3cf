"""Precision and recall of extracted listings against a truth, per field.

Listings on one page are matched by normalised title; then, per field: a value equal to the
truth's is a true positive, a value where the truth has none (or a spurious listing) a false
positive, a truth value missed or got wrong a false negative (a wrong value counts as both).
Used by bench/listing_bench.py and the lab tests, on the lab's own truth (lab.listing_truth).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from listings.records import normalise_title, normalise_vendor

FIELDS = ("title", "vendor", "price", "currency", "quantity", "unit", "ships_from", "ships_to")


def same(field: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if field in ("price", "quantity"):
        return math.isclose(float(a), float(b), rel_tol=1e-6)
    if field == "vendor":
        return normalise_vendor(str(a)) == normalise_vendor(str(b))
    if field in ("currency", "unit"):
        return str(a).strip().casefold() == str(b).strip().casefold()
    return normalise_title(str(a)) == normalise_title(str(b))


def score_page(extracted: Iterable[Mapping[str, Any]], truth: Iterable[Mapping[str, Any]],
               fields: tuple[str, ...] = FIELDS) -> dict[str, Counter[str]]:
    """{field: Counter(tp, fp, fn)} for one page."""
    out = {f: Counter() for f in fields}
    left = list(extracted)
    for t in truth:
        key = normalise_title(str(t.get("title") or ""))
        match = next((e for e in left if normalise_title(str(e.get("title") or "")) == key), None)
        if match is None:
            for f in fields:
                if t.get(f) is not None:
                    out[f]["fn"] += 1
            continue
        left.remove(match)
        for f in fields:
            tv, ev = t.get(f), match.get(f)
            if tv is None and ev is None:
                continue
            if same(f, tv, ev):
                out[f]["tp"] += 1
            else:
                out[f]["fp"] += ev is not None
                out[f]["fn"] += tv is not None
    for e in left:  # listings the page does not have
        for f in fields:
            if e.get(f) is not None:
                out[f]["fp"] += 1
    return out


def add(total: dict[str, Counter[str]], page: dict[str, Counter[str]]) -> None:
    for f, c in page.items():
        total.setdefault(f, Counter()).update(c)


def rates(counts: Mapping[str, Counter[str]]) -> dict[str, dict[str, float | int | None]]:
    """{field: {precision, recall, tp, fp, fn}} (None where nothing was there to measure)."""
    out: dict[str, dict[str, float | int | None]] = {}
    for f, c in counts.items():
        tp, fp, fn = c["tp"], c["fp"], c["fn"]
        out[f] = {"precision": round(tp / (tp + fp), 4) if tp + fp else None,
                  "recall": round(tp / (tp + fn), 4) if tp + fn else None, "tp": tp, "fp": fp, "fn": fn}
    return out
