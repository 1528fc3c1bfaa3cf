"""The lab markets' listing truth: every listing each market page shows and the fields that
page states, derived from the same listing files and site specs the pages are rendered from
(never a hand-kept list), so an extractor's precision and recall per field can be measured
against what the lab really serves (bench/listing_bench.py, tests/test_listings_lab.py).

Which fields a page states depends on its template; ``SHOWS`` says it per template, next to
the templates themselves (configs/lab/templates).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lab.content import groups, items, page_url
from lab.specs import SiteSpec, known_specs

FIELDS = ("title", "vendor", "price", "currency", "quantity", "unit", "ships_from", "ships_to")
SHOWS: dict[str, tuple[str, ...]] = {
    # Golden Lotus (list-and-paragraph layout)
    "market/listing.html.j2": FIELDS,
    "market/category.html.j2": ("title", "vendor", "price", "currency", "quantity", "unit"),
    "market/vendor.html.j2": ("title", "vendor", "price", "currency"),
    "market/home.html.j2": ("title", "price", "currency"),
    # Dream Bazaar (table layout)
    "bazaar/item.html.j2": FIELDS,
    "bazaar/browse.html.j2": ("title", "vendor", "price", "currency", "ships_from", "ships_to"),
    "bazaar/seller.html.j2": ("title", "vendor", "price", "currency", "ships_to"),
    "bazaar/home.html.j2": ("title", "vendor", "price", "currency"),
}
HOME_LATEST = {"market/home.html.j2": 6, "bazaar/home.html.j2": 10}


def facts(item: Mapping[str, Any], vendor_name: str | None = None) -> dict[str, Any]:
    """All fields a listing file states (the first price is the listing's price)."""
    if "prices" in item:  # Golden Lotus: a list of prices, the first one shown first
        first = (item.get("prices") or [{}])[0]
        price, currency = first.get("amount"), first.get("currency")
        ships_to = item.get("ships_to", "worldwide") if "ships_from" in item else None
    else:  # Dream Bazaar: one price as shown in price_text (None for "contact for price")
        price, currency, ships_to = item.get("price"), item.get("currency"), item.get("ships_to")
    return {
        "title": item.get("title"), "vendor": vendor_name or item.get("vendor"),
        "price": float(price) if price is not None else None, "currency": currency,
        "quantity": float(item["quantity"]) if item.get("quantity") is not None else None,
        "unit": item.get("unit"), "ships_from": item.get("ships_from"), "ships_to": ships_to,
    }


def _stated(template: str, item: Mapping[str, Any], vendor_name: str | None = None) -> dict[str, Any]:
    shown = SHOWS[template]
    return {k: (v if k in shown else None) for k, v in facts(item, vendor_name).items()}


def expected_listings(site: SiteSpec, onion_of: Mapping[str, str], dropin: Path | None = None) -> list[dict[str, Any]]:
    """[{path, template, fields}] for every listing shown on every page of a lab market."""
    if site.role != "market":
        return []
    specs = known_specs(site.root, onion_of)
    colls = {c["name"]: (c, items(site, c, specs, onion_of, dropin)) for c in site.collections}
    listing_coll = next(((c, found) for c, found in colls.values() if "index" in c), None)
    if listing_coll is None:
        return []
    coll, listings = listing_coll
    vendor_coll = next(((c, found) for c, found in colls.values() if c is not coll), None)
    out: list[dict[str, Any]] = []
    for item in listings:
        out.append({"path": item["url"], "template": coll["item_template"], "fields": _stated(coll["item_template"], item)})
    for g in groups(coll, listings):
        per = g["per_page"]
        for n in range(1, g["pages"] + 1):
            for item in g["items"][(n - 1) * per:n * per]:
                out.append({"path": page_url(g["base"], n), "template": coll["index"]["template"],
                            "fields": _stated(coll["index"]["template"], item)})
    for page in site.pages:
        latest = HOME_LATEST.get(page["template"])
        if latest:
            for item in listings[:latest]:
                out.append({"path": page["path"], "template": page["template"], "fields": _stated(page["template"], item)})
    if vendor_coll is not None:
        vcoll, vendors = vendor_coll
        for v in vendors:
            for item in listings:
                if item.get("vendor") == v.get("slug"):
                    out.append({"path": v["url"], "template": vcoll["item_template"],
                                "fields": _stated(vcoll["item_template"], item, v.get("name"))})
    return out


def listing_pages(site: SiteSpec, onion_of: Mapping[str, str], dropin: Path | None = None) -> list[str]:
    """Every page of a market that shows at least one listing."""
    return sorted({e["path"] for e in expected_listings(site, onion_of, dropin)})
