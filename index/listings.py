"""Listings: one document per offer (docs/record.md "Listing"), written beside the page that
showed it, searched by what, who, price and where, and rolled up into vendors seen on several
onions.

Writes are idempotent. A listing's ``_id`` is its listing_id (market + vendor + normalised
title), so a re-crawl or a mirror updates the same document: first_seen only moves back,
last_seen forward, onions/urls/page_ids are unions, and the price history gains a point only
when the price or the currency changed. A listing seen without its vendor (a market's "latest
listings" box) joins the one listing of the same market and title that has a vendor; one seen
first without and later with its vendor is folded into the vendor's. Updates use
``if_seq_no``/``if_primary_term`` (no scripts), retried on conflict, like the services roll-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError
from elasticsearch.helpers import streaming_bulk

from index import identifiers as ident_store
from index.names import Names, parse_time
from index.query import needs_ngram
from index.writer import page_id

LISTINGS = "listings"
MAX_URLS = 50
RETRY_STATUS = (429, 500, 502, 503, 504)
HIT_FIELDS = ("listing_id", "title", "price", "currency", "quantity", "unit", "vendor", "ships_from", "ships_to",
              "category", "site_category", "onion", "url", "first_seen", "last_seen", "prices")
# listing fields a later sighting may change (the rest only fill gaps)
CURRENT = ("price", "price_max", "currency", "price_usd", "price_note", "quantity", "unit", "ships_from", "ships_to",
           "site_category", "listed_at", "category", "lang")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _earliest(a: str | None, b: str | None) -> str | None:
    if not a or not b:
        return a or b
    return a if parse_time(a) <= parse_time(b) else b


def _latest(a: str | None, b: str | None) -> str | None:
    if not a or not b:
        return a or b
    return a if parse_time(a) >= parse_time(b) else b


def _union(old: Iterable[str] | None, new: Iterable[str] | None, cap: int = MAX_URLS) -> list[str]:
    out = list(dict.fromkeys([*(old or []), *(new or [])]))
    return out[:cap]


def send(es: Elasticsearch, actions: list[dict[str, Any]]) -> dict[str, tuple[bool, int | None, Any]]:
    """Bulk with retries on 429/5xx; {_id: (ok, status, error)} for every action."""
    answers: dict[str, tuple[bool, int | None, Any]] = {}
    for ok, item in streaming_bulk(es, actions, raise_on_error=False, raise_on_exception=False,
                                   retry_on_status=RETRY_STATUS, max_retries=3, initial_backoff=0.5, chunk_size=200):
        info = next(iter(item.values()))
        answers[str(info["_id"])] = (ok, info.get("status"), None if ok else info.get("error"))
    for a in actions:
        answers.setdefault(str(a["_id"]), (False, None, "no answer"))
    return answers


# -- the document ------------------------------------------------------------------------------
def fact(listing: Mapping[str, Any], pid: str) -> dict[str, Any]:
    """What one sighting of a listing says, as a partial listing document."""
    t = listing.get("fetched_at")
    point = {"at": t, "price": listing.get("price"), "price_max": listing.get("price_max"),
             "currency": listing.get("currency"), "price_usd": listing.get("price_usd"), "url": listing.get("url")}
    doc = {k: listing.get(k) for k in ("listing_id", "market", "title", "title_norm", "vendor", "vendor_norm",
                                        "source", "url", "onion") + CURRENT}
    doc.update(onions=[listing.get("onion")], urls=[listing.get("url")], page_id=pid, page_ids=[pid],
               first_seen=t, last_seen=t, prices=[point] if listing.get("price") is not None else [])
    return doc


def add_point(prices: list[dict[str, Any]], point: dict[str, Any]) -> list[dict[str, Any]]:
    """The price history with one more sighting: a point only where the price or currency
    differs from the one in force just before it (re-seeing a price adds nothing)."""
    pts = sorted(prices, key=lambda p: parse_time(p["at"]))
    before = [p for p in pts if parse_time(p["at"]) <= parse_time(point["at"])]
    prev = before[-1] if before else None
    if prev is not None and (prev["price"], prev.get("currency")) == (point["price"], point.get("currency")):
        return pts
    after = [p for p in pts if parse_time(p["at"]) > parse_time(point["at"])]
    if after and (after[0]["price"], after[0].get("currency")) == (point["price"], point.get("currency")):
        after[0] = point  # the same price seen earlier than we knew: its point moves back
        return before + after
    return before + [point] + after


def merge(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """Merge two listing documents (order-independent for times and sets)."""
    if not old:
        return dict(new)
    out = dict(old)
    newer = parse_time(new["last_seen"]) >= parse_time(old["last_seen"]) if old.get("last_seen") else True
    for k in CURRENT + ("title", "vendor", "url", "page_id"):
        if new.get(k) is not None and (newer or out.get(k) is None):
            out[k] = new[k]
    for k in ("market", "title_norm", "vendor_norm", "listing_id", "source"):
        out[k] = out.get(k) or new.get(k)
    out["first_seen"] = _earliest(old.get("first_seen"), new.get("first_seen"))
    out["last_seen"] = _latest(old.get("last_seen"), new.get("last_seen"))
    if parse_time(out["first_seen"]) == parse_time(new["first_seen"]) and new.get("onion"):
        out["onion"] = new["onion"] if parse_time(new["first_seen"]) < parse_time(old["first_seen"]) else old.get("onion")
    for k in ("onions", "urls", "page_ids"):
        out[k] = _union(old.get(k), new.get(k))
    prices = list(old.get("prices") or [])
    for p in new.get("prices") or []:
        prices = add_point(prices, p)
    out["prices"] = prices
    if prices:  # the price in force is the latest point's
        last = prices[-1]
        out.update(price=last["price"], price_max=last.get("price_max"), currency=last.get("currency"),
                   price_usd=last.get("price_usd"))
    return out


# -- writing -----------------------------------------------------------------------------------
class ListingStore:
    """Stores the ``listings`` and ``identifiers`` a crawl processor attached to page records."""

    def __init__(self, es: Elasticsearch, names: Names, *, refresh: bool = True) -> None:
        self.es = es
        self.names = names
        self.refresh = refresh

    @property
    def index(self) -> str:
        return self.names.alias(LISTINGS)

    def store(self, records: Sequence[Mapping[str, Any]], errors: Sequence[str | None] | None = None) -> list[str | None]:
        """Write the listings and identifiers of every record whose page was stored (``errors``
        from the page write, None = stored); one error (or None) per record."""
        errors = list(errors) if errors is not None else [None] * len(records)
        todo = [(i, r) for i, r in enumerate(records) if errors[i] is None and (r.get("listings") or r.get("identifiers"))]
        if not todo:
            return errors
        facts: dict[str, dict[str, Any]] = {}
        owners: dict[str, list[int]] = {}
        for i, r in todo:
            pid = page_id(r.get("url") or "", r.get("sha256") or "")
            for listing in r.get("listings") or []:
                f = fact(listing, pid)
                facts[f["listing_id"]] = merge(facts.get(f["listing_id"]), f)
                owners.setdefault(f["listing_id"], []).append(i)
        remap = self._resolve_vendorless(facts)
        for old_id, new_id in remap.items():
            if old_id in facts:
                f = facts.pop(old_id)
                f["listing_id"] = new_id
                f["vendor"], f["vendor_norm"] = facts.get(new_id, {}).get("vendor"), facts.get(new_id, {}).get("vendor_norm")
                facts[new_id] = merge(facts.get(new_id), f) if new_id in facts else f
                owners.setdefault(new_id, []).extend(owners.pop(old_id, []))
        failed = self._write(facts, remap)
        for lid, reason in failed.items():
            for i in owners.get(lid, []):
                errors[i] = errors[i] or f"listing not stored: {reason}"
        occ: list[tuple[int, dict[str, Any]]] = []
        for i, r in todo:
            pid = page_id(r.get("url") or "", r.get("sha256") or "")
            for ident in r.get("identifiers") or []:
                d = dict(ident, page_id=pid)
                if d.get("listing_id") in remap:
                    d["listing_id"] = remap[d["listing_id"]]
                occ.append((i, d))
        for i, reason in ident_store.write(self.es, self.names, occ).items():
            errors[i] = errors[i] or f"identifier not stored: {reason}"
        if self.refresh:
            self.es.indices.refresh(index=f"{self.index},{self.names.alias(ident_store.IDENTIFIERS)}")
        return errors

    def _resolve_vendorless(self, facts: dict[str, dict[str, Any]]) -> dict[str, str]:
        """{listing_id: listing_id to use}: a vendorless listing joins the one vendor listing of
        its market and title; a vendor listing absorbs stored vendorless ones (moved later)."""
        keys = {(f["market"], f["title_norm"]) for f in facts.values()}
        if not keys:
            return {}
        stored = self._by_title(keys)
        remap: dict[str, str] = {}
        for lid, f in facts.items():
            if f.get("vendor_norm"):
                continue
            key = (f["market"], f["title_norm"])
            owners = {x["listing_id"] for x in stored.get(key, []) if x.get("vendor_norm")}
            owners |= {g["listing_id"] for g in facts.values() if g.get("vendor_norm") and (g["market"], g["title_norm"]) == key}
            if len(owners) == 1:
                remap[lid] = owners.pop()
        for f in list(facts.values()):
            if not f.get("vendor_norm"):
                continue
            key = (f["market"], f["title_norm"])
            vendors = {x["vendor_norm"] for x in stored.get(key, []) if x.get("vendor_norm")} | {f["vendor_norm"]}
            if len(vendors) == 1:
                for x in stored.get(key, []):
                    if not x.get("vendor_norm") and x["listing_id"] != f["listing_id"]:
                        remap[x["listing_id"]] = f["listing_id"]
        return remap

    def _by_title(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
        out: dict[tuple[str, str], list[dict[str, Any]]] = {}
        keys_l = sorted(keys)
        for i in range(0, len(keys_l), 200):
            chunk = keys_l[i:i + 200]
            should = [{"bool": {"filter": [{"term": {"market": m}}, {"term": {"title_norm": t}}]}} for m, t in chunk]
            resp = self.es.search(index=self.index, query={"bool": {"should": should, "minimum_should_match": 1}},
                                  size=1000, source=["listing_id", "market", "title_norm", "vendor_norm"])
            for h in resp["hits"]["hits"]:
                s = h["_source"]
                out.setdefault((s["market"], s["title_norm"]), []).append(s)
        return out

    def _write(self, facts: dict[str, dict[str, Any]], remap: dict[str, str]) -> dict[str, str]:
        """Read-modify-write with optimistic concurrency; {listing_id: reason} for failures."""
        failed: dict[str, str] = {}
        absorbed = {old: new for old, new in remap.items() if old not in facts and new in facts}
        pending = sorted(facts)
        folded: dict[str, dict[str, Any]] = {}
        if absorbed:  # stored vendorless listings folded into their vendor's
            got = self.es.mget(index=self.index, ids=sorted(absorbed))["docs"]
            for d in got:
                if d.get("found"):
                    folded[d["_id"]] = d["_source"]
        for _ in range(5):
            current = self.es.mget(index=self.index, ids=pending)["docs"] if pending else []
            actions = []
            now = now_iso()
            for lid, cur in zip(pending, current):
                doc = facts[lid]
                for old_id, new_id in absorbed.items():
                    if new_id == lid and old_id in folded:
                        old = dict(folded[old_id], listing_id=lid, vendor=doc.get("vendor"), vendor_norm=doc.get("vendor_norm"))
                        doc = merge(old, doc)
                        doc["indexed_at"] = _earliest(doc.get("indexed_at"), folded[old_id].get("indexed_at"))
                action: dict[str, Any] = {"_index": self.index, "_id": lid}
                if cur.get("found"):
                    merged = merge(cur["_source"], doc)
                    merged["indexed_at"] = _earliest(cur["_source"].get("indexed_at"), doc.get("indexed_at")) or now
                    merged["updated_at"] = now
                    action.update(_op_type="index", if_seq_no=cur["_seq_no"], if_primary_term=cur["_primary_term"],
                                  _source=merged)
                else:
                    action.update(_op_type="create", _source=dict(doc, indexed_at=doc.get("indexed_at") or now, updated_at=now))
                actions.append(action)
            conflicts = []
            for lid, (ok, status, error) in send(self.es, actions).items():
                if ok:
                    continue
                if status == 409:
                    conflicts.append(lid)
                else:
                    failed[lid] = str(error)[:300]
            if not conflicts:
                break
            pending = sorted(conflicts)
        else:
            for lid in pending:
                failed[lid] = "version conflicts on every retry"
        gone = [old for old, new in absorbed.items() if old in folded and new not in failed]
        if gone:
            send(self.es, [{"_op_type": "delete", "_index": self.index, "_id": old} for old in gone])
            ident_store.relink(self.es, self.names, {old: absorbed[old] for old in gone})
        return failed


def store(es: Elasticsearch, names: Names, records: Sequence[Mapping[str, Any]],
          errors: Sequence[str | None] | None = None) -> list[str | None]:
    """The sink's one call, after the page write: the listings and identifiers of the records
    whose pages were stored. One error (or None) per record: a record whose listings could not
    be written gets an error (the writes are idempotent, so storing it again is safe)."""
    try:
        return ListingStore(es, names).store(records, errors)
    except (TransportError, ApiError) as exc:
        reason = f"listings not stored: {type(exc).__name__}"
        return [e or (reason if r.get("listings") or r.get("identifiers") else None)
                for e, r in zip(errors or [None] * len(records), records, strict=True)]


# -- searching ---------------------------------------------------------------------------------
def build_listing_search(query: str = "", *, category: str | Sequence[str] | None = None,
                         vendor_norm: str | None = None, ships_to: str | None = None, ships_from: str | None = None,
                         price_min: float | None = None, price_max: float | None = None,
                         currency: str | None = None, onion: str | None = None, since: str | None = None,
                         listing_ids: Sequence[str] | None = None, size: int = 50,
                         after: Sequence[Any] | None = None) -> dict[str, Any]:
    """The search request body for the listings alias (a pure function)."""
    must: list[dict[str, Any]] = []
    words = [t for t in query.split() if not needs_ngram(t)]
    if words:
        must.append({"multi_match": {"query": " ".join(words), "operator": "and",
                                     "fields": ["title^2", "vendor", "site_category", "ships_from", "ships_to"]}})
    for term in query.split():
        if needs_ngram(term):
            must.append({"match_phrase": {"title.ngram": term}})
    flt: list[dict[str, Any]] = []
    cats = [category] if isinstance(category, str) else list(category or [])
    if cats:
        flt.append({"terms": {"category": cats}})
    if vendor_norm:
        flt.append({"term": {"vendor_norm": vendor_norm}})
    for name, value in (("ships_to", ships_to), ("ships_from", ships_from)):
        if value:
            flt.append({"match": {name: {"query": value, "operator": "and"}}})
    if price_min is not None or price_max is not None:
        rng = {k: v for k, v in (("gte", price_min), ("lte", price_max)) if v is not None}
        flt.append({"range": {"price": rng}})
    if currency:
        flt.append({"term": {"currency": currency.upper()}})
    if onion:
        flt.append({"term": {"onions": onion.lower()}})
    if since:
        flt.append({"range": {"first_seen": {"gte": since}}})
    if listing_ids is not None:
        flt.append({"ids": {"values": list(listing_ids)}})
    body: dict[str, Any] = {
        "query": {"bool": {"must": must or [{"match_all": {}}], "filter": flt}},
        "sort": [{"last_seen": "desc"}, {"listing_id": "asc"}],
        "size": size, "track_total_hits": True,
    }
    if after:
        body["search_after"] = list(after)
    return body


def shape(src: Mapping[str, Any]) -> dict[str, Any]:
    """A listing as the CLI contract and the web app show it."""
    out = {k: src.get(k) for k in HIT_FIELDS}
    out["prices"] = [{"at": p.get("at"), "price": p.get("price"), "currency": p.get("currency")} for p in src.get("prices") or []]
    out["onions"] = src.get("onions") or []
    out["market"] = src.get("market")
    out["price_note"] = src.get("price_note")
    out["price_usd"] = src.get("price_usd")
    out["vendor_norm"] = src.get("vendor_norm")
    return out


def search_listings(es: Elasticsearch, names: Names, query: str = "", *, size: int = 50, **filters: Any) -> dict[str, Any]:
    """{"total", "hits": [listing…]}, newest sighting first."""
    body = build_listing_search(query, size=size, **filters)
    resp = es.search(index=names.alias(LISTINGS), **body)
    return {"total": resp["hits"]["total"]["value"], "hits": [shape(h["_source"]) for h in resp["hits"]["hits"]]}


def all_listings(es: Elasticsearch, names: Names, query: str = "", *, page_size: int = 500, **filters: Any) -> list[dict[str, Any]]:
    """Every matching listing (search_after paging)."""
    out: list[dict[str, Any]] = []
    after = None
    while True:
        body = build_listing_search(query, size=page_size, after=after, **filters)
        hits = es.search(index=names.alias(LISTINGS), **body)["hits"]["hits"]
        out += [shape(h["_source"]) for h in hits]
        if len(hits) < page_size:
            return out
        after = hits[-1]["sort"]


def get_listings(es: Elasticsearch, names: Names, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    ids = sorted({i for i in ids if i})
    if not ids:
        return {}
    docs = es.mget(index=names.alias(LISTINGS), ids=ids)["docs"]
    return {d["_id"]: shape(d["_source"]) for d in docs if d.get("found")}


def listings_since(es: Elasticsearch, names: Names, since: str, *, query: str = "", categories: Sequence[str] = (),
                   vendor_norms: Sequence[str] = (), onions: Sequence[str] = (), page_size: int = 200) -> Iterable[dict[str, Any]]:
    """Listings first stored at or after ``since``, oldest first (what alert rules read)."""
    body = build_listing_search(query, category=list(categories) or None, size=page_size)
    flt = body["query"]["bool"]["filter"]
    flt.append({"range": {"indexed_at": {"gte": since}}})
    if vendor_norms:
        flt.append({"terms": {"vendor_norm": list(vendor_norms)}})
    if onions:
        flt.append({"terms": {"onions": [o.lower() for o in onions]}})
    body["sort"] = [{"indexed_at": "asc"}, {"listing_id": "asc"}]
    body.pop("track_total_hits", None)
    while True:
        hits = es.search(index=names.alias(LISTINGS), **body)["hits"]["hits"]
        for h in hits:
            yield dict(h["_source"])
        if len(hits) < page_size:
            return
        body["search_after"] = hits[-1]["sort"]


def vendor_on_onion_before(es: Elasticsearch, names: Names, vendor_norm: str, onion: str, before: str) -> bool:
    """Was this vendor listed on this onion by a listing stored before ``before``?"""
    resp = es.count(index=names.alias(LISTINGS), query={"bool": {"filter": [
        {"term": {"vendor_norm": vendor_norm}}, {"term": {"onions": onion.lower()}},
        {"range": {"indexed_at": {"lt": before}}}]}})
    if resp["count"]:
        return True
    return ident_store.vendor_on_onion_before(es, names, vendor_norm, onion, before)


# -- vendors across onions ---------------------------------------------------------------------
def vendors(es: Elasticsearch, names: Names, *, min_markets: int = 2, size: int = 10000) -> list[dict[str, Any]]:
    """Vendors seen on at least ``min_markets`` onions, each linked by the same name, the same
    PGP fingerprint or the same payment address (or handle) across its onions:
    [{name, names, onions, links: [{kind, value}], listings}]. Personal handles are shown masked."""
    resp = es.search(index=names.alias(LISTINGS), size=0, query={"bool": {"filter": [{"exists": {"field": "vendor_norm"}}]}},
                     aggs={"v": {"terms": {"field": "vendor_norm", "size": size},
                                 "aggs": {"onions": {"terms": {"field": "onions", "size": 200}},
                                          "names": {"terms": {"field": "vendor.raw", "size": 5}}}}})
    nodes: dict[tuple[str, str], set[str]] = {}  # (vendor_norm, onion) -> names
    listings: dict[str, int] = {}
    for b in resp["aggregations"]["v"]["buckets"]:
        if not b["key"]:
            continue
        listings[b["key"]] = b["doc_count"]
        for o in b["onions"]["buckets"]:
            nodes.setdefault((b["key"], o["key"]), set()).update(n["key"] for n in b["names"]["buckets"])
    occurrences = ident_store.vendor_occurrences(es, names)
    for occ in occurrences:
        nodes.setdefault((occ["vendor_norm"], occ["onion"]), set()).add(occ.get("vendor") or occ["vendor_norm"])
    parent: dict[tuple[str, str], tuple[str, str]] = {n: n for n in nodes}

    def find(n: tuple[str, str]) -> tuple[str, str]:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    def union(a: tuple[str, str], b: tuple[str, str]) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    by_name: dict[str, list[tuple[str, str]]] = {}
    for n in nodes:
        by_name.setdefault(n[0], []).append(n)
    for group in by_name.values():
        for n in group[1:]:
            union(group[0], n)
    by_ident: dict[tuple[str, str], set[tuple[str, str]]] = {}
    shown: dict[tuple[str, str], str] = {}
    for occ in occurrences:
        if occ["kind"] == "onion":
            continue  # an onion named on a vendor's page is where it is, not who it is
        key = (occ["kind"], occ["value_hash"])
        by_ident.setdefault(key, set()).add((occ["vendor_norm"], occ["onion"]))
        shown[key] = occ.get("display") or occ.get("masked") or ""
    for members in by_ident.values():
        m = sorted(members)
        for n in m[1:]:
            union(m[0], n)
    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for n in nodes:
        groups.setdefault(find(n), []).append(n)
    out = []
    for members in groups.values():
        onions = sorted({o for _, o in members})
        if len(onions) < max(1, min_markets):
            continue
        norms = {v for v, _ in members}
        links: list[dict[str, Any]] = []
        for norm in sorted(norms):
            on = {o for v, o in members if v == norm}
            if len(on) >= 2:
                links.append({"kind": "name", "value": min(nodes[(norm, min(on))]) if nodes[(norm, min(on))] else norm})
        for key, where in sorted(by_ident.items(), key=lambda kv: kv[0]):
            inside = where & set(members)
            if len({o for _, o in inside}) >= 2:
                links.append({"kind": key[0], "value": shown[key]})
        all_names = sorted({n for m in members for n in nodes[m]})
        top = max(norms, key=lambda v: (listings.get(v, 0), v))
        name = next((n for m in members if m[0] == top for n in sorted(nodes[m])), top)
        out.append({"name": name, "names": all_names, "onions": onions, "links": links,
                    "listings": sum(listings.get(v, 0) for v in norms), "vendor_norms": sorted(norms)})
    out.sort(key=lambda v: (-len(v["onions"]), v["name"].lower()))
    return out
