"""Identifier occurrences (docs/record.md "Identifier"): where a payment address, PGP key,
handle, email, phone or onion address was seen, and the pivots over them.

One document per (kind, value_hash, url, listing_id), so a re-crawl updates it (last_seen
forward, first_seen back) and adds nothing. Lookups are by ``value_hash`` (the caller hashes
the value with the installation's PII key): the index never holds a personal value in clear.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

from index.names import Names, parse_time

IDENTIFIERS = "identifiers"
RETRY_STATUS = (429, 500, 502, 503, 504)
PUBLIC_KINDS = frozenset({"btc", "eth", "xmr", "tron", "pgp", "onion"})
OCC_SOURCE = ["occ_id", "ident_id", "kind", "value_hash", "display", "masked", "url", "onion", "listing_id", "vendor",
              "vendor_norm", "key_id", "source", "page_id", "first_seen", "last_seen", "indexed_at"]


def ident_id(kind: str, value_hash: str) -> str:
    """One identifier across all its occurrences (for links; reveals nothing of the value)."""
    return hashlib.sha256(f"ident\n{kind}\n{value_hash}".encode()).hexdigest()[:24]


def occurrence_id(doc: Mapping[str, Any]) -> str:
    key = f"{doc['kind']}\n{doc['value_hash']}\n{doc.get('url') or ''}\n{doc.get('listing_id') or ''}"
    return hashlib.sha256(key.encode()).hexdigest()[:40]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _min(a: str | None, b: str | None) -> str | None:
    if not a or not b:
        return a or b
    return a if parse_time(a) <= parse_time(b) else b


def _max(a: str | None, b: str | None) -> str | None:
    if not a or not b:
        return a or b
    return a if parse_time(a) >= parse_time(b) else b


def _doc(occ: Mapping[str, Any]) -> dict[str, Any]:
    t = occ.get("fetched_at")
    doc = {k: occ.get(k) for k in ("kind", "value_hash", "masked", "display", "url", "onion", "listing_id", "vendor",
                                    "vendor_norm", "key_id", "source", "page_id")}
    if doc["kind"] not in PUBLIC_KINDS:
        doc["display"] = doc.get("masked")  # never a clear personal value, whatever the caller sent
    doc.update(ident_id=ident_id(doc["kind"], doc["value_hash"]), first_seen=t, last_seen=t)
    return doc


def _send(es: Elasticsearch, actions: list[dict[str, Any]]) -> dict[str, tuple[bool, int | None, Any]]:
    answers: dict[str, tuple[bool, int | None, Any]] = {}
    for ok, item in streaming_bulk(es, actions, raise_on_error=False, raise_on_exception=False,
                                   retry_on_status=RETRY_STATUS, max_retries=3, initial_backoff=0.5, chunk_size=500):
        info = next(iter(item.values()))
        answers[str(info["_id"])] = (ok, info.get("status"), None if ok else info.get("error"))
    for a in actions:
        answers.setdefault(str(a["_id"]), (False, None, "no answer"))
    return answers


def write(es: Elasticsearch, names: Names, occurrences: Sequence[tuple[int, Mapping[str, Any]]]) -> dict[int, str]:
    """Store occurrences (each tagged with the index of the record it came from); returns
    {record index: reason} for those not stored. Idempotent (read-modify-write by id)."""
    index = names.alias(IDENTIFIERS)
    docs: dict[str, dict[str, Any]] = {}
    owners: dict[str, list[int]] = {}
    for i, occ in occurrences:
        if not occ.get("kind") or not occ.get("value_hash"):
            continue
        d = _doc(occ)
        oid = d["occ_id"] = occurrence_id(d)
        if oid in docs:
            d["first_seen"] = _min(docs[oid]["first_seen"], d["first_seen"])
            d["last_seen"] = _max(docs[oid]["last_seen"], d["last_seen"])
        docs[oid] = d
        owners.setdefault(oid, []).append(i)
    failed: dict[int, str] = {}
    pending = sorted(docs)
    for _ in range(5):
        if not pending:
            break
        current = es.mget(index=index, ids=pending)["docs"]
        now = _now()
        actions = []
        for oid, cur in zip(pending, current):
            d = dict(docs[oid], updated_at=now)
            action: dict[str, Any] = {"_index": index, "_id": oid}
            if cur.get("found"):
                old = cur["_source"]
                d["first_seen"] = _min(old.get("first_seen"), d["first_seen"])
                d["last_seen"] = _max(old.get("last_seen"), d["last_seen"])
                d["indexed_at"] = old.get("indexed_at") or now
                for k in ("vendor", "vendor_norm", "key_id", "page_id"):
                    d[k] = d.get(k) or old.get(k)
                action.update(_op_type="index", if_seq_no=cur["_seq_no"], if_primary_term=cur["_primary_term"], _source=d)
            else:
                action.update(_op_type="create", _source=dict(d, indexed_at=now))
            actions.append(action)
        conflicts = []
        for oid, (ok, status, error) in _send(es, actions).items():
            if ok:
                continue
            if status == 409:
                conflicts.append(oid)
            else:
                for i in owners.get(oid, []):
                    failed[i] = str(error)[:300]
        pending = sorted(conflicts)
    for oid in pending:
        for i in owners.get(oid, []):
            failed[i] = "version conflicts on every retry"
    return failed


def relink(es: Elasticsearch, names: Names, remap: Mapping[str, str]) -> None:
    """Occurrences of listings folded into another move to that listing."""
    index = names.alias(IDENTIFIERS)
    es.indices.refresh(index=index)
    for old, new in remap.items():
        resp = es.search(index=index, query={"term": {"listing_id": old}}, size=1000, source=True)
        moved = []
        for h in resp["hits"]["hits"]:
            d = dict(h["_source"], listing_id=new)
            d["occ_id"] = occurrence_id(d)
            moved.append({"_op_type": "index", "_index": index, "_id": d["occ_id"], "_source": d})
            moved.append({"_op_type": "delete", "_index": index, "_id": h["_id"]})
        if moved:
            _send(es, moved)


# -- reading -----------------------------------------------------------------------------------
def _scan(es: Elasticsearch, index: str, query: dict[str, Any], source: list[str], page_size: int = 1000) -> Iterable[dict[str, Any]]:
    body: dict[str, Any] = {"query": query, "size": page_size, "sort": [{"first_seen": "asc"}, {"occ_id": "asc"}], "_source": source}
    while True:
        hits = es.search(index=index, **body)["hits"]["hits"]
        for h in hits:
            yield h["_source"]
        if len(hits) < page_size:
            return
        body["search_after"] = hits[-1]["sort"]


def occurrences(es: Elasticsearch, names: Names, value_hashes: Sequence[str], *, kind: str | None = None,
                ident: str | None = None) -> list[dict[str, Any]]:
    """Every occurrence of a value (by its hashes, or by ident_id), oldest first."""
    flt: list[dict[str, Any]] = []
    if ident:
        flt.append({"term": {"ident_id": ident}})
    else:
        flt.append({"terms": {"value_hash": [h.lower() for h in value_hashes]}})
    if kind:
        flt.append({"term": {"kind": kind}})
    return list(_scan(es, names.alias(IDENTIFIERS), {"bool": {"filter": flt}}, OCC_SOURCE))


def pivot(es: Elasticsearch, names: Names, value_hash: str, kind: str | None = None) -> dict[str, Any]:
    """Where one value occurs: {kind, onions, occurrences: [{onion, url, listing_id, vendor,
    first_seen, last_seen}]} (occurrences oldest first)."""
    occ = occurrences(es, names, [value_hash], kind=kind)
    kinds = sorted({o["kind"] for o in occ})
    return {
        "kind": kind or (kinds[0] if len(kinds) == 1 else None),
        "display": occ[0].get("display") if occ else None,
        "ident_id": occ[0].get("ident_id") if occ else None,
        "onions": sorted({o["onion"] for o in occ}),
        "occurrences": [{"onion": o.get("onion"), "url": o.get("url"), "listing_id": o.get("listing_id"),
                         "vendor": o.get("vendor"), "first_seen": o.get("first_seen"), "last_seen": o.get("last_seen")}
                        for o in occ],
    }


def for_listings(es: Elasticsearch, names: Names, listing_ids: Sequence[str]) -> list[dict[str, Any]]:
    ids = sorted({i for i in listing_ids if i})
    if not ids:
        return []
    return list(_scan(es, names.alias(IDENTIFIERS), {"terms": {"listing_id": ids}}, OCC_SOURCE))


def for_vendors(es: Elasticsearch, names: Names, vendor_norms: Sequence[str]) -> list[dict[str, Any]]:
    norms = sorted({v for v in vendor_norms if v})
    if not norms:
        return []
    return list(_scan(es, names.alias(IDENTIFIERS), {"terms": {"vendor_norm": norms}}, OCC_SOURCE))


def vendor_occurrences(es: Elasticsearch, names: Names) -> list[dict[str, Any]]:
    """Every occurrence that belongs to a vendor (or a forum author): the links between onions."""
    return list(_scan(es, names.alias(IDENTIFIERS), {"bool": {"filter": [{"exists": {"field": "vendor_norm"}}],
                                                                   "must_not": [{"term": {"vendor_norm": ""}}]}},
                      ["kind", "value_hash", "display", "masked", "vendor", "vendor_norm", "onion"]))


def vendor_on_onion_before(es: Elasticsearch, names: Names, vendor_norm: str, onion: str, before: str) -> bool:
    resp = es.count(index=names.alias(IDENTIFIERS), query={"bool": {"filter": [
        {"term": {"vendor_norm": vendor_norm}}, {"term": {"onion": onion.lower()}},
        {"range": {"indexed_at": {"lt": before}}}]}})
    return resp["count"] > 0


def seen_on_onion_before(es: Elasticsearch, names: Names, value_hash: str, onion: str, before: str) -> bool:
    """Did this value occur on this onion in an occurrence stored before ``before``?"""
    resp = es.count(index=names.alias(IDENTIFIERS), query={"bool": {"filter": [
        {"term": {"value_hash": value_hash}}, {"term": {"onion": onion.lower()}},
        {"range": {"indexed_at": {"lt": before}}}]}})
    return resp["count"] > 0


def occurrences_since(es: Elasticsearch, names: Names, since: str, *, value_hashes: Sequence[str] = (),
                      displays: Sequence[str] = (), page_size: int = 500) -> Iterable[dict[str, Any]]:
    """Occurrences first stored at or after ``since`` of the given values, oldest first."""
    should: list[dict[str, Any]] = []
    if value_hashes:
        should.append({"terms": {"value_hash": [h.lower() for h in value_hashes]}})
    if displays:
        should.append({"terms": {"display": list(displays)}})
    if not should:
        return
    query = {"bool": {"filter": [{"range": {"indexed_at": {"gte": since}}}], "should": should,
                      "minimum_should_match": 1}}
    yield from _in_index_order(es, names, query, page_size)


def summary(es: Elasticsearch, names: Names, ident: str) -> dict[str, Any] | None:
    """One identifier (by ident_id) with its occurrences, for the web app's identifier page."""
    occ = occurrences(es, names, [], ident=ident)
    if not occ:
        return None
    first = occ[0]
    return {"ident_id": ident, "kind": first["kind"], "display": first.get("display"), "key_id": first.get("key_id"),
            "public": first["kind"] in PUBLIC_KINDS, "onions": sorted({o["onion"] for o in occ}),
            "vendors": sorted({o["vendor"] for o in occ if o.get("vendor")}),
            "first_seen": min((o["first_seen"] for o in occ if o.get("first_seen")), default=None),
            "last_seen": max((o["last_seen"] for o in occ if o.get("last_seen")), default=None),
            "occurrences": occ}


def occurrences_since_vendors(es: Elasticsearch, names: Names, since: str, vendor_norms: Sequence[str],
                              page_size: int = 500) -> Iterable[dict[str, Any]]:
    """Occurrences first stored at or after ``since`` that belong to one of these vendors."""
    norms = [v for v in vendor_norms if v]
    if not norms:
        return
    query = {"bool": {"filter": [{"range": {"indexed_at": {"gte": since}}}, {"terms": {"vendor_norm": norms}}]}}
    yield from _in_index_order(es, names, query, page_size)


def _in_index_order(es: Elasticsearch, names: Names, query: dict[str, Any], page_size: int) -> Iterator[dict[str, Any]]:
    """Every occurrence matching ``query``, in the order it was stored (search_after paging)."""
    body: dict[str, Any] = {"query": query, "size": page_size, "sort": [{"indexed_at": "asc"}, {"occ_id": "asc"}],
                            "_source": OCC_SOURCE}
    while True:
        hits = es.search(index=names.alias(IDENTIFIERS), **body)["hits"]["hits"]
        for h in hits:
            yield h["_source"]
        if len(hits) < page_size:
            return
        body["search_after"] = hits[-1]["sort"]
