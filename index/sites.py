"""Site assignments (which onion belongs to which site, as mirror or clone) and the page
material the clustering reads. The clustering itself lives in ``clusters/``; this module
only stores and reads, so site ids survive between runs: the previous assignments are read
back and handed to the next run, which keeps every id it can.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

from index import schema
from index.names import Names

SITES = "sites"
FIELDS = ("onion", "site_id", "group", "role", "clone_of", "similarity", "signals", "first_seen", "title",
          "assigned_at", "run_id", "method")
PAYMENT_LABELS = ("CRYPTO",)  # page entities (enrich) whose hashes are payment identifiers
MAX_TEXT = 50_000


def _scan(es: Elasticsearch, index: str, sort: list[Any], page: int = 2000, **kw: Any) -> Iterator[dict[str, Any]]:
    after: list[Any] | None = None
    while True:
        extra: dict[str, Any] = {"search_after": after} if after else {}
        resp = es.search(index=index, size=page, sort=sort, **kw, **extra)
        hits = resp["hits"]["hits"]
        yield from hits
        if len(hits) < page:
            return
        after = hits[-1]["sort"]


def previous(es: Elasticsearch, names: Names) -> dict[str, dict[str, Any]]:
    """The stored assignments: onion -> {site_id, role, clone_of, group, ...}."""
    alias = names.alias(SITES)
    if not es.indices.exists_alias(name=alias):
        return {}
    return {h["_source"]["onion"]: h["_source"] for h in _scan(es, alias, [{"onion": "asc"}])}


def write(es: Elasticsearch, names: Names, members: Iterable[Mapping[str, Any]], *, run_id: str,
          method: str) -> dict[str, Any]:
    """Store one run's assignments (one document per onion, replaced in place)."""
    schema.setup(es, names)
    alias = names.alias(SITES)
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    actions = ({"_index": alias, "_id": m["onion"],
                "_source": {k: m.get(k) for k in FIELDS} | {"assigned_at": now, "run_id": run_id, "method": method}}
               for m in members)
    stored, failed = 0, []
    for ok, item in streaming_bulk(es, actions, chunk_size=2000, raise_on_error=False, raise_on_exception=False,
                                   retry_on_status=(429, 500, 502, 503, 504), max_retries=5):
        info = next(iter(item.values()))
        if ok:
            stored += 1
        else:
            failed.append((info.get("_id"), str(info.get("error"))[:200]))
    es.indices.refresh(index=alias)
    return {"stored": stored, "failed": failed}


def listing(es: Elasticsearch, names: Names) -> list[dict[str, Any]]:
    """Content groups as sites: [{site_id, onions: [{onion, role, site_id, clone_of, similarity,
    signals, first_seen, title}], mirrors, clones}], biggest group first."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for a in previous(es, names).values():
        groups.setdefault(a.get("group") or a["site_id"], []).append(a)
    out = []
    for gid, members in groups.items():
        members.sort(key=lambda m: (m.get("role") != "mirror", m.get("first_seen") or "~", m["onion"]))
        out.append({
            "site_id": gid,
            "title": next((m.get("title") for m in members if m.get("role") == "mirror" and m.get("title")), None),
            "mirrors": sum(1 for m in members if m.get("role") == "mirror"),
            "clones": sum(1 for m in members if m.get("role") == "clone"),
            "onions": [{k: m.get(k) for k in ("onion", "role", "site_id", "clone_of", "similarity", "signals",
                                                "first_seen", "title")} for m in members],
        })
    out.sort(key=lambda s: (-len(s["onions"]), s["site_id"]))
    return out


def cluster_input(es: Elasticsearch, names: Names) -> Iterator[dict[str, Any]]:
    """Per onion, what clustering compares: the text and title of its entry page (lowest
    depth, then shortest URL, then earliest), the sha256 of that page (for structural hashes
    from its snapshot), payment identifier hashes and linked onions from all its pages, and
    first_seen."""
    # writers leave visibility to the refresh interval; read what has been written until now
    es.indices.refresh(index=f"{names.pages},{names.services}", ignore_unavailable=True)
    first_seen = {h["_source"]["onion"]: h["_source"].get("first_seen")
                  for h in _scan(es, names.services, [{"onion": "asc"}], source=["onion", "first_seen"])}
    current: str | None = None
    best: dict[str, Any] | None = None
    payment: set[str] = set()
    links: set[str] = set()

    def done() -> dict[str, Any] | None:
        if current is None or best is None:
            return None
        return {"onion": current, "text": (best.get("text") or "")[:MAX_TEXT], "title": best.get("title") or "",
                "sha256": best.get("sha256"), "url": best.get("url"), "payment": sorted(payment),
                "links": sorted(links - {current}), "first_seen": first_seen.get(current)}

    for h in _scan(es, names.pages, [{"onion": "asc"}, {"depth": "asc"}, {"fetched_at": "asc"}, {"doc_id": "asc"}],
                   source=["onion", "url", "title", "text", "depth", "sha256", "entities", "fetched_at",
                           "onion_links"]):
        s = h["_source"]
        if s["onion"] != current:
            item = done()
            if item:
                yield item
            current, best, payment, links = s["onion"], None, set(), set()
        if best is None or (s.get("depth") or 0, len(s.get("url") or "")) < (best.get("depth") or 0,
                                                                             len(best.get("url") or "")):
            best = s
        for e in s.get("entities") or []:
            if e.get("label") in PAYMENT_LABELS and e.get("hash"):
                payment.add(e["hash"])
        links.update(o.lower() for o in s.get("onion_links") or [])
    item = done()
    if item:
        yield item


def method(es: Elasticsearch, names: Names) -> str | None:
    """How the stored assignments were made (the clustering parameters of the latest run)."""
    alias = names.alias(SITES)
    if not es.indices.exists_alias(name=alias):
        return None
    resp = es.search(index=alias, size=1, sort=[{"assigned_at": "desc"}], source=["method"])
    hits = resp["hits"]["hits"]
    return hits[0]["_source"].get("method") if hits else None
