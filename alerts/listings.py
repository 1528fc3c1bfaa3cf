"""Alert rules on listings, identifiers and vendors (a rule's ``target``), evaluated like page
rules (same watermark, dedup and channels, alerts/evaluate.py):

  listings     a new listing (first stored since the watermark) matching the rule's query,
               categories and onions, any vendor or only ``vendors``: one alert per listing,
               whatever pages or mirrors show it. The payload says what is sold, by whom, at
               what price and where, and its snippet is plain text built from those fields
               (never the page's navigation).
  identifiers  one of ``identifiers`` (values: an address, a PGP fingerprint or key, a handle)
               or ``identifier_hashes`` seen on an onion where it was not seen before: one alert
               per (identifier, onion).
  vendors      one of ``vendors`` listed (or posting) on an onion it was not on before: one
               alert per (vendor, onion).
Personal values are hashed with the installation's PII key (passed in by the caller) before
any lookup; payloads show them masked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from elasticsearch import Elasticsearch

from alerts.rules import Rule
from index import Names, get_page
from index import alerts as store
from index import identifiers as ident_index
from index import listings as listing_index
from listings.identifiers import PUBLIC_KINDS, classify, display, value_hash
from listings.records import normalise_vendor

Scan = Callable[[Elasticsearch, Names, Rule, list[str], str, str], tuple[int, int, str | None]]


def scanner(rule: Rule, pii_key: bytes | None) -> Scan | None:
    """The scan for a rule's target; None for page rules (alerts.evaluate.scan)."""
    if rule.target == "listings":
        return scan_listings
    if rule.target == "identifiers":
        return lambda es, names, r, channels, start, now: scan_identifiers(es, names, r, channels, start, now, pii_key)
    if rule.target == "vendors":
        return scan_vendors
    return None


def _price(listing: dict[str, Any]) -> str:
    if listing.get("price") is None:
        return "price on request" if listing.get("price_note") == "contact" else "no price stated"
    p = f"{listing['price']:g} {listing.get('currency') or ''}".strip()
    if listing.get("price_max") is not None:
        p = f"{listing['price']:g}-{listing['price_max']:g} {listing.get('currency') or ''}".strip()
    if listing.get("quantity") is not None:
        p += f" for {listing['quantity']:g} {listing.get('unit') or ''}".rstrip()
    return p


def listing_snippet(listing: dict[str, Any]) -> str:
    """What, by whom, at what price, where: plain text (no HTML, no page navigation)."""
    parts = [listing.get("title") or "(untitled)", _price(listing), f"vendor {listing.get('vendor') or 'unknown'}"]
    if listing.get("ships_from") or listing.get("ships_to"):
        parts.append("ships " + " → ".join(x for x in (listing.get("ships_from"), listing.get("ships_to")) if x))
    parts.append(f"on {listing.get('onion')}")
    return " — ".join(parts)


def listing_fingerprint(listing: dict[str, Any]) -> str:
    """One alert per sale: a vendor's listing of one title is the same sale on a mirror (or a
    second market) whatever the onion; a listing without vendor is its own listing."""
    if listing.get("vendor_norm"):
        key = f"{listing['vendor_norm']}\x1f{listing.get('title_norm') or ''}"
        return "listing:" + hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"listing:{listing['listing_id']}"


def _page_sha(es: Elasticsearch, names: Names, page_id: str | None) -> str | None:
    if not page_id:
        return None
    doc = get_page(es, names, page_id)
    return (doc or {}).get("sha256")


def listing_payload(es: Elasticsearch, names: Names, rule: Rule, listing: dict[str, Any], fp: str) -> dict[str, Any]:
    keys = ("listing_id", "title", "vendor", "price", "price_max", "currency", "price_usd", "price_note", "quantity",
            "unit", "ships_from", "ships_to", "category", "site_category", "market", "onions", "first_seen")
    return {
        "rule": rule.name, "kind": "listing", **{k: listing.get(k) for k in keys},
        "onion": listing.get("onion"), "url": listing.get("url"), "categories": [listing["category"]] if listing.get("category") else [],
        "entities": [], "snippet": listing_snippet(listing), "page_id": listing.get("page_id"),
        "evidence_sha256": _page_sha(es, names, listing.get("page_id")), "fetched_at": listing.get("last_seen"),
        "indexed_at": listing.get("indexed_at"), "lang": listing.get("lang"), "fingerprint": fp,
    }


def _enqueue(es: Elasticsearch, names: Names, rule: Rule, channels: list[str], now: str, fp: str,
             payload: dict[str, Any], indexed_at: str) -> bool:
    doc = {"rule": rule.name, "fingerprint": fp, "page_id": payload.get("page_id"), "page_indexed_at": indexed_at,
           "onion": payload.get("onion"), "url": payload.get("url"), "state": "queued", "pending": channels,
           "delivered": [], "attempts": 0, "created_at": now, "updated_at": now, "payload": payload}
    return store.enqueue(es, names, doc)


def scan_listings(es: Elasticsearch, names: Names, rule: Rule, channels: list[str], start: str,
                  now: str) -> tuple[int, int, str | None]:
    """One alert per new listing matching the rule."""
    matched = queued = 0
    latest: str | None = None
    vendors = [normalise_vendor(v) for v in rule.vendors]
    for listing in listing_index.listings_since(es, names, start, query=rule.query, categories=rule.categories,
                                                vendor_norms=vendors, onions=rule.onions):
        matched += 1
        latest = listing["indexed_at"]
        fp = listing_fingerprint(listing)
        queued += _enqueue(es, names, rule, channels, now, fp, listing_payload(es, names, rule, listing, fp),
                           listing["indexed_at"])
    return matched, queued, latest


def watched(rule: Rule, pii_key: bytes | None) -> tuple[list[str], list[str], dict[str, str]]:
    """(value hashes, public displays, label per hash/display) a rule watches."""
    hashes = [h.lower() for h in rule.identifier_hashes]
    displays: list[str] = []
    label: dict[str, str] = {h: "identifier (by hash)" for h in hashes}
    for value in rule.identifiers:
        hit = classify(value)
        if hit is None:
            continue
        shown = display(hit.kind, hit.value)
        if pii_key:
            h = value_hash(hit.kind, hit.value, pii_key)
            hashes.append(h)
            label[h] = f"{hit.kind} {shown}"
        if hit.kind in PUBLIC_KINDS:
            displays.append(shown)
            label[shown] = f"{hit.kind} {shown}"
    return hashes, displays, label


def scan_identifiers(es: Elasticsearch, names: Names, rule: Rule, channels: list[str], start: str, now: str,
                     pii_key: bytes | None) -> tuple[int, int, str | None]:
    """One alert per (identifier, onion) when a watched identifier shows up on an onion it had
    not been seen on before ``start``."""
    hashes, displays, label = watched(rule, pii_key)
    matched = queued = 0
    latest: str | None = None
    for occ in ident_index.occurrences_since(es, names, start, value_hashes=hashes, displays=displays):
        matched += 1
        latest = occ["indexed_at"]
        if ident_index.seen_on_onion_before(es, names, occ["value_hash"], occ["onion"], start):
            continue
        fp = f"ident:{occ['value_hash']}:{occ['onion']}"
        what = label.get(occ["value_hash"]) or label.get(occ.get("display") or "") or occ["kind"]
        listing = listing_index.get_listings(es, names, [occ.get("listing_id")]).get(occ.get("listing_id") or "")
        snippet = f"{occ['kind']} {occ.get('display')} seen on {occ['onion']} for the first time"
        if occ.get("vendor"):
            snippet += f" — vendor {occ['vendor']}"
        if listing:
            snippet += f" — listing: {listing_snippet(listing)}"
        payload = {
            "rule": rule.name, "kind": "identifier", "identifier_kind": occ["kind"], "identifier": occ.get("display"),
            "watched": what, "onion": occ["onion"], "url": occ["url"], "listing_id": occ.get("listing_id"),
            "vendor": occ.get("vendor"), "categories": [], "entities": [], "snippet": snippet,
            "page_id": occ.get("page_id"), "evidence_sha256": _page_sha(es, names, occ.get("page_id")),
            "fetched_at": occ.get("first_seen"), "indexed_at": occ["indexed_at"], "lang": None, "fingerprint": fp,
        }
        queued += _enqueue(es, names, rule, channels, now, fp, payload, occ["indexed_at"])
    return matched, queued, latest


def _vendor_sightings(es: Elasticsearch, names: Names, rule: Rule, start: str) -> Iterable[tuple[str, dict[str, Any]]]:
    norms = [normalise_vendor(v) for v in rule.vendors]
    for listing in listing_index.listings_since(es, names, start, vendor_norms=norms):
        yield listing["indexed_at"], {"vendor": listing.get("vendor"), "vendor_norm": listing["vendor_norm"],
                                      "onion": listing["onion"], "url": listing["url"], "page_id": listing.get("page_id"),
                                      "listing": listing}
    for occ in ident_index.occurrences_since_vendors(es, names, start, norms):
        yield occ["indexed_at"], {"vendor": occ.get("vendor"), "vendor_norm": occ["vendor_norm"], "onion": occ["onion"],
                                  "url": occ["url"], "page_id": occ.get("page_id"), "listing": None}


def scan_vendors(es: Elasticsearch, names: Names, rule: Rule, channels: list[str], start: str,
                 now: str) -> tuple[int, int, str | None]:
    """One alert per (vendor, onion) when a watched vendor appears on an onion it was not on."""
    matched = queued = 0
    latest: str | None = None
    for indexed_at, s in sorted(_vendor_sightings(es, names, rule, start), key=lambda x: x[0]):
        matched += 1
        latest = max(latest or indexed_at, indexed_at)
        if listing_index.vendor_on_onion_before(es, names, s["vendor_norm"], s["onion"], start):
            continue
        fp = f"vendor:{s['vendor_norm']}:{s['onion']}"
        snippet = f"vendor {s['vendor']} appears on {s['onion']}"
        if s["listing"]:
            snippet += f" — listing: {listing_snippet(s['listing'])}"
        payload = {
            "rule": rule.name, "kind": "vendor", "vendor": s["vendor"], "onion": s["onion"], "url": s["url"],
            "listing_id": (s["listing"] or {}).get("listing_id"), "categories": [], "entities": [], "snippet": snippet,
            "page_id": s["page_id"], "evidence_sha256": _page_sha(es, names, s["page_id"]), "fetched_at": None,
            "indexed_at": indexed_at, "lang": None, "fingerprint": fp,
        }
        queued += _enqueue(es, names, rule, channels, now, fp, payload, indexed_at)
    return matched, queued, latest


def split_identifiers(values: Iterable[str], pii_key: bytes) -> tuple[list[str], list[str]]:
    """(public values kept as written, keyed hashes of personal ones): what a rule file may hold."""
    public: list[str] = []
    hashes: list[str] = []
    for value in values:
        hit = classify(value)
        if hit is None:
            raise ValueError(f"not an identifier: {value[:4]}…")
        if hit.kind in PUBLIC_KINDS:
            public.append(display(hit.kind, hit.value))
        else:
            hashes.append(value_hash(hit.kind, hit.value, pii_key))
    return public, hashes
