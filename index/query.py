"""Search request bodies, as pure functions (unit-tested by the exact body they build).

Text matching: each whitespace-separated term must match. Terms in scripts written
without spaces (Thai, CJK, Lao, Khmer, Burmese) are matched as phrases on the 2-gram
subfields (substring search without a dictionary segmenter); all other terms go
through the standard analyzer on title and text.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import date, datetime, timedelta
from typing import Any, Sequence

SORTS = ("relevance", "newest")
MAX_SIZE = 500
HIGHLIGHT_PRE, HIGHLIGHT_POST = "<mark>", "</mark>"
SNIPPET_CHARS = 200
HIT_SOURCE = ["doc_id", "url", "onion", "title", "categories", "fetched_at", "lang", "entities", "offers", "sha256",
              "page_kind"]

_NO_SPACE_SCRIPT = re.compile(
    "[\u0e00-\u0e7f"  # Thai
    "\u0e80-\u0eff"  # Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs
    "\uac00-\ud7af]"  # Hangul syllables
)


def needs_ngram(term: str) -> bool:
    """Whether a term is in a script the standard analyzer cannot split into words."""
    return len(term) >= 2 and bool(_NO_SPACE_SCRIPT.search(term))


def text_clauses(query: str) -> list[dict[str, Any]]:
    """Clauses that must all match for a free-text query (empty query: none)."""
    terms = query.split()
    words = [t for t in terms if not needs_ngram(t)]
    clauses: list[dict[str, Any]] = []
    if words:
        clauses.append({"multi_match": {"query": " ".join(words), "fields": ["title^2", "text"], "operator": "and"}})
    for term in terms:
        if needs_ngram(term):
            clauses.append({"multi_match": {"query": term, "type": "phrase", "fields": ["title.ngram^2", "text.ngram"]}})
    return clauses


def _day_or_time(value: str | date | datetime) -> tuple[str, bool]:
    """ISO string of a bound, and whether it is a bare date (whole day)."""
    if isinstance(value, datetime):
        return value.isoformat(), False
    if isinstance(value, date):
        return value.isoformat(), True
    text = str(value).strip()
    try:
        return date.fromisoformat(text).isoformat(), True
    except ValueError:
        return datetime.fromisoformat(text).isoformat(), False  # 3.11 reads RFC 3339 "Z" itself


def time_range(field: str, since: str | date | datetime | None, until: str | date | datetime | None) -> dict[str, Any] | None:
    """Inclusive range; a bare ``until`` date includes that whole day (UTC)."""
    bounds: dict[str, str] = {}
    if since is not None:
        bounds["gte"] = _day_or_time(since)[0]
    if until is not None:
        text, is_day = _day_or_time(until)
        if is_day:
            bounds["lt"] = (date.fromisoformat(text) + timedelta(days=1)).isoformat()
        else:
            bounds["lte"] = text
    return {"range": {field: bounds}} if bounds else None


def encode_after(sort_values: Sequence[Any]) -> str:
    """Opaque paging token from the last hit's sort values."""
    raw = json.dumps(list(sort_values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_after(token: str) -> list[Any]:
    """Sort values back from a token; ValueError on anything that is not ours."""
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("invalid paging token") from exc
    if not isinstance(values, list) or not values or not all(isinstance(v, (str, int, float)) for v in values):
        raise ValueError("invalid paging token")
    return values


def sort_clause(sort: str) -> list[dict[str, Any]]:
    """Sort keys, always ending in the doc_id tiebreaker that makes search_after exact."""
    if sort == "relevance":
        return [{"_score": "desc"}, {"fetched_at": "desc"}, {"doc_id": "asc"}]
    if sort == "newest":
        return [{"fetched_at": "desc"}, {"doc_id": "asc"}]
    raise ValueError(f"sort must be one of {SORTS}, not {sort!r}")


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def filters(
    *,
    categories: str | Sequence[str] | None = None,
    entity_labels: str | Sequence[str] | None = None,
    onion: str | Sequence[str] | None = None,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    lang: str | Sequence[str] | None = None,
    pii_hash: str | None = None,
    url: str | Sequence[str] | None = None,
    page_kind: str | Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Filter clauses shared by search and anything else that scopes pages (alerts, stats).
    They go to the bool query's filter context: no scoring, cacheable, applied with the text."""
    out: list[dict[str, Any]] = []
    if urls := _as_list(url):
        out.append({"terms": {"url": urls}})
    if cats := _as_list(categories):
        out.append({"terms": {"categories": cats}})
    if onions := [o.lower() for o in _as_list(onion)]:
        out.append({"terms": {"onion": onions}})
    if langs := _as_list(lang):
        out.append({"terms": {"lang": langs}})
    if kinds := _as_list(page_kind):
        out.append({"terms": {"page_kind": kinds}})
    if rng := time_range("fetched_at", since, until):
        out.append(rng)
    if labels := _as_list(entity_labels):
        out.append({"nested": {"path": "entities", "query": {"terms": {"entities.label": labels}}}})
    if pii_hash:
        out.append({"nested": {"path": "entities", "query": {"term": {"entities.hash": pii_hash.lower()}}}})
    return out


def build_search(
    query: str = "",
    *,
    categories: str | Sequence[str] | None = None,
    entity_labels: str | Sequence[str] | None = None,
    onion: str | Sequence[str] | None = None,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    lang: str | Sequence[str] | None = None,
    pii_hash: str | None = None,
    url: str | Sequence[str] | None = None,
    page_kind: str | Sequence[str] | None = None,
    sort: str = "relevance",
    size: int = 20,
    after: str | None = None,
) -> dict[str, Any]:
    """The full search request body for the pages alias: text clauses score, every other
    condition filters; only the fields a hit shows come back (``_source`` trimmed)."""
    if not 1 <= size <= MAX_SIZE:
        raise ValueError(f"size must be between 1 and {MAX_SIZE}")
    clauses = text_clauses(query)
    highlight_fields: dict[str, Any] = {
        "text": {"fragment_size": SNIPPET_CHARS, "number_of_fragments": 2, "no_match_size": SNIPPET_CHARS},
    }
    if any(needs_ngram(t) for t in query.split()):
        highlight_fields["text.ngram"] = {"fragment_size": SNIPPET_CHARS, "number_of_fragments": 2}
    body: dict[str, Any] = {
        "query": {"bool": {
            "must": clauses or [{"match_all": {}}],
            "filter": filters(categories=categories, entity_labels=entity_labels, onion=onion, since=since,
                              until=until, lang=lang, pii_hash=pii_hash, url=url, page_kind=page_kind),
        }},
        "sort": sort_clause(sort),
        "size": size,
        "track_total_hits": True,
        "_source": HIT_SOURCE,
        "highlight": {
            "encoder": "html",
            "pre_tags": [HIGHLIGHT_PRE],
            "post_tags": [HIGHLIGHT_POST],
            "fields": highlight_fields,
        },
    }
    if after:
        values = decode_after(after)
        if len(values) != len(body["sort"]):
            raise ValueError("paging token does not belong to this sort order")
        body["search_after"] = values
    return body


def build_pii_lookup(value_hash: str, *, size: int = 20, max_onions: int = 100) -> dict[str, Any]:
    """Pages whose entities carry this PII hash, newest first, with per-onion first/last seen.

    First/last seen come from sorted top_hits rather than min/max of a date, which
    noida-db does not aggregate.
    """
    seen = {"_source": ["fetched_at"], "size": 1}
    return {
        "query": {"bool": {"filter": [
            {"nested": {"path": "entities", "query": {"term": {"entities.hash": value_hash.lower()}}}}]}},
        "sort": [{"fetched_at": "desc"}, {"doc_id": "asc"}],
        "size": size,
        "track_total_hits": True,
        "_source": ["doc_id", "url", "onion", "fetched_at", "categories", "entities"],
        "aggs": {
            "onions": {
                "terms": {"field": "onion", "size": max_onions},
                "aggs": {
                    "first": {"top_hits": {**seen, "sort": [{"fetched_at": "asc"}]}},
                    "last": {"top_hits": {**seen, "sort": [{"fetched_at": "desc"}]}},
                },
            },
            "onion_count": {"cardinality": {"field": "onion"}},
        },
    }
