"""Listing search, a vendor's page and an identifier's page, each linking to the others,
over the same index/ functions as `onionwatch listings | vendors | pivot`.

Everything crawled is shown as text (autoescaped, URLs never as links); personal identifiers
only ever appear masked, and pages are addressed by ids that reveal nothing (vendor_norm for a
vendor, ident_id for an identifier), never by a keyed hash.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request

from index import identifiers as ident_index
from index import listings as listing_index
from listings.records import normalise_vendor
from onionwatch.web.records import (
    CATEGORIES,
    Backend,
    BadRequest,
    normalise_onion,
    parse_date,
)

bp = Blueprint("listings", __name__)
_IDENT = re.compile(r"^[0-9a-f]{24}$")
_CURRENCY = re.compile(r"^[A-Za-z]{2,5}$")
SIZES = (20, 50, 100)


def backend() -> Backend:
    return current_app.extensions["onionwatch"]["backend"]


def _float(name: str) -> float | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError as exc:
        raise BadRequest(f"{name} must be a number") from exc


def listing_params() -> dict[str, Any]:
    """Validated listing-search parameters from the query string."""
    category = request.args.get("category") or None
    if category and category not in CATEGORIES:
        raise BadRequest(f"unknown category {category!r}")
    currency = (request.args.get("currency") or "").strip() or None
    if currency and not _CURRENCY.match(currency):
        raise BadRequest("currency must be a code such as USD or BTC")
    onion = (request.args.get("onion") or "").strip()
    try:
        size = int(request.args.get("size") or 50)
    except ValueError as exc:
        raise BadRequest("size must be a number") from exc
    if size not in SIZES:
        size = 50
    return {
        "q": (request.args.get("q") or "").strip()[:300], "category": category,
        "vendor": (request.args.get("vendor") or "").strip()[:120] or None,
        "ships_to": (request.args.get("ships_to") or "").strip()[:120] or None,
        "ships_from": (request.args.get("ships_from") or "").strip()[:120] or None,
        "price_min": _float("price_min"), "price_max": _float("price_max"), "currency": currency,
        "onion": normalise_onion(onion) if onion else None, "since": parse_date(request.args.get("since"), "since"),
        "size": size,
    }


def identifiers_by_listing(listing_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    b = backend()
    out: dict[str, list[dict[str, Any]]] = {}
    seen: set[tuple[str, str]] = set()
    for o in ident_index.for_listings(b.es, b.names, listing_ids):
        if (o["listing_id"], o["ident_id"]) not in seen:
            seen.add((o["listing_id"], o["ident_id"]))
            out.setdefault(o["listing_id"], []).append(o)
    return out


@bp.route("/listings")
def listings() -> Any:
    error = None
    result = None
    p: dict[str, Any] = {"q": "", "size": 50}
    try:
        p = listing_params()
        b = backend()
        result = listing_index.search_listings(
            b.es, b.names, p["q"], size=p["size"], category=p["category"],
            vendor_norm=normalise_vendor(p["vendor"]) if p["vendor"] else None, ships_to=p["ships_to"],
            ships_from=p["ships_from"], price_min=p["price_min"], price_max=p["price_max"], currency=p["currency"],
            onion=p["onion"], since=p["since"])
    except BadRequest as exc:
        error = str(exc)
    idents = identifiers_by_listing([h["listing_id"] for h in result["hits"]]) if result else {}
    return render_template("listings.html", p=p, result=result, error=error, idents=idents, sizes=SIZES), (400 if error else 200)


def _group(vendor_norm: str) -> dict[str, Any] | None:
    """The cross-onion vendor group (vendors --min-markets 1) this vendor belongs to."""
    b = backend()
    for v in listing_index.vendors(b.es, b.names, min_markets=1):
        if vendor_norm in v["vendor_norms"]:
            return v
    return None


@bp.route("/vendor/<name>")
def vendor(name: str) -> Any:
    norm = normalise_vendor(name)
    if not norm or len(norm) > 120:
        abort(404, "no such vendor")
    b = backend()
    group = _group(norm)
    if group is None:
        abort(404, "no such vendor")
    norms = group["vendor_norms"]
    found: list[dict[str, Any]] = []
    for v in norms:
        found += listing_index.all_listings(b.es, b.names, "", vendor_norm=v)
    occ = ident_index.for_vendors(b.es, b.names, norms)
    identifiers: dict[str, dict[str, Any]] = {}
    for o in occ:
        i = identifiers.setdefault(o["ident_id"], {"ident_id": o["ident_id"], "kind": o["kind"],
                                                   "display": o.get("display"), "onions": set(), "vendors": set()})
        i["onions"].add(o["onion"])
        if o.get("vendor"):
            i["vendors"].add(o["vendor"])
    idents = sorted(identifiers.values(), key=lambda i: (i["kind"], i["display"] or ""))
    return render_template("vendor.html", name=name, group=group, listings=found, identifiers=idents,
                           posts=[o for o in occ if not o.get("listing_id")])


@bp.route("/identifier/<ident>")
def identifier(ident: str) -> Any:
    if not _IDENT.match(ident):
        abort(404, "no such identifier")
    b = backend()
    found = ident_index.summary(b.es, b.names, ident)
    if found is None:
        abort(404, "no such identifier")
    titles = listing_index.get_listings(b.es, b.names, [o.get("listing_id") for o in found["occurrences"]])
    vendor_links = sorted({(o.get("vendor"), o.get("vendor_norm")) for o in found["occurrences"] if o.get("vendor_norm")})
    return render_template("identifier.html", i=found, listings=titles, vendors=vendor_links)
