"""Running searches and shaping hits for the CLI and the web app.

Snippets are safe HTML: Elasticsearch escapes the page text (``encoder: html``) and only
our ``<mark>`` tags are raw, so a UI can insert them as-is; everything else in a hit is
plain text the UI must escape.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from index.names import Names
from index.query import build_pii_lookup, build_search, encode_after

MASKED_ENTITY_FIELDS = ("label", "start", "end", "score", "masked")


def _snippet(hit: dict[str, Any]) -> str:
    hl = hit.get("highlight") or {}
    fragments = hl.get("text.ngram") or hl.get("text") or []
    return " … ".join(fragments)


def _masked_entities(entities: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Entities as shown to users: the masked form, never the hash used for lookups."""
    return [{k: e.get(k) for k in MASKED_ENTITY_FIELDS} for e in entities or []]


def _hit(hit: dict[str, Any]) -> dict[str, Any]:
    src = hit["_source"]
    return {
        "id": src.get("doc_id", hit["_id"]),
        "url": src.get("url"),
        "onion": src.get("onion"),
        "title": src.get("title"),
        "categories": src.get("categories") or [],
        "snippet": _snippet(hit),
        "fetched_at": src.get("fetched_at"),
        "lang": src.get("lang"),
        "page_kind": src.get("page_kind"),
        "entities": _masked_entities(src.get("entities")),
        "offers": src.get("offers") or [],
        "score": hit.get("_score"),
        "sha256": src.get("sha256"),
    }


def search(es: Elasticsearch, names: Names, query: str = "", **kwargs: Any) -> dict[str, Any]:
    """Search pages; kwargs as ``build_search``. ``next`` is the token for the following
    page (None on the last page)."""
    body = build_search(query, **kwargs)
    resp = es.search(index=names.pages, **body)
    raw_hits = resp["hits"]["hits"]
    nxt = encode_after(raw_hits[-1]["sort"]) if raw_hits and len(raw_hits) == body["size"] else None
    return {"total": resp["hits"]["total"]["value"], "hits": [_hit(h) for h in raw_hits], "next": nxt}


def pii_lookup(es: Elasticsearch, names: Names, value_hash: str, *, size: int = 20) -> dict[str, Any]:
    """Has a PII value (given only as its keyed hash) appeared, where, and when."""
    resp = es.search(index=names.pages, **build_pii_lookup(value_hash, size=size))
    onions = []
    for b in resp["aggregations"]["onions"]["buckets"]:
        first = b["first"]["hits"]["hits"][0]["_source"]["fetched_at"]
        last = b["last"]["hits"]["hits"][0]["_source"]["fetched_at"]
        onions.append({"onion": b["key"], "pages": b["doc_count"], "first_seen": first, "last_seen": last})
    onions.sort(key=lambda o: o["first_seen"])
    pages = []
    for h in resp["hits"]["hits"]:
        src = h["_source"]
        labels = sorted({e["label"] for e in src.get("entities") or [] if e.get("hash") == value_hash.lower()})
        pages.append({"id": src.get("doc_id"), "url": src.get("url"), "onion": src.get("onion"),
                      "fetched_at": src.get("fetched_at"), "categories": src.get("categories") or [],
                      "labels": labels})
    return {
        "found": resp["hits"]["total"]["value"] > 0,
        "pages": resp["hits"]["total"]["value"],
        "onion_count": int(resp["aggregations"]["onion_count"]["value"]),
        "first_seen": min((o["first_seen"] for o in onions), default=None),
        "last_seen": max((o["last_seen"] for o in onions), default=None),
        "onions": onions,
        "recent": pages,
    }


def get_page(es: Elasticsearch, names: Names, doc_id: str) -> dict[str, Any] | None:
    """The full stored page document (redacted text, entities with masked values)."""
    resp = es.search(index=names.pages, query={"bool": {"filter": [{"ids": {"values": [doc_id]}}]}}, size=1)
    hits = resp["hits"]["hits"]
    if not hits:
        return None
    doc = dict(hits[0]["_source"])
    doc["entities"] = _masked_entities(doc.get("entities"))
    return doc


def page_counts(es: Elasticsearch, names: Names, onions: Sequence[str]) -> dict[str, int]:
    """Distinct URLs stored per onion, counted by the index when asked (the writer keeps no
    count: a counter on the write path would cost a read or break idempotence)."""
    onions = sorted({o.lower() for o in onions})
    if not onions:
        return {}
    resp = es.search(
        index=names.pages, size=0, query={"bool": {"filter": [{"terms": {"onion": onions}}]}},
        aggs={"by_onion": {"terms": {"field": "onion", "size": len(onions)},
                           "aggs": {"urls": {"cardinality": {"field": "url"}}}}},
    )
    counts = {b["key"]: int(b["urls"]["value"]) for b in resp["aggregations"]["by_onion"]["buckets"]}
    return {o: counts.get(o, 0) for o in onions}


def service_view(doc: dict[str, Any], page_count: int) -> dict[str, Any]:
    """A services document as readers see it: sets sorted, page_count counted now."""
    out = dict(doc)
    for key in ("categories", "langs"):
        out[key] = sorted(out.get(key) or [])
    out["page_count"] = page_count
    return out


def get_service(es: Elasticsearch, names: Names, onion: str) -> dict[str, Any] | None:
    """One onion service's document (with its page count), or None if never seen."""
    try:
        doc = es.get(index=names.services, id=onion.lower())["_source"]
    except NotFoundError:
        return None
    host = str(doc.get("onion") or onion).lower()
    return service_view(doc, page_counts(es, names, [host])[host])
