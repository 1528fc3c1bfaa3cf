"""`onionwatch listings | vendors | pivot`: offers as records, vendors across onions, and where
an identifier (address, key, handle, email, phone, onion, vendor name) occurs.

JSON shapes (scripts rely on them):
  listings --json  {"total", "hits": [{listing_id, title, price, currency, quantity, unit, vendor, ships_from,
                    ships_to, category, site_category, onion, url, first_seen, last_seen, prices: [{at, price, currency}]}]}
  vendors --json   {"vendors": [{name, onions: [...], links: [{kind, value}]}]}
  pivot --json     {"kind", "value", "occurrences": [{onion, url, listing_id, first_seen, last_seen}]}
Personal data never appears in clear: a personal value given to `pivot` is hashed here with the
installation's PII key before the lookup, and shown masked.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

import index
from index import identifiers as ident_index
from index import listings as listing_index
from listings.identifiers import PUBLIC_KINDS, classify, display, value_hash
from listings.records import KINDS, normalise_vendor
from onionwatch import es_server, settings
from onionwatch.commands.search import terminal_text
from onionwatch.reports import CATEGORIES

CONTRACT_HIT = ("listing_id", "title", "price", "currency", "quantity", "unit", "vendor", "ships_from", "ships_to",
                "category", "site_category", "onion", "url", "first_seen", "last_seen", "prices")


def _connect() -> tuple[Any, index.Names]:
    es = es_server.client()
    names = es_server.index_names()
    index.setup(es, names, es_server.index_config_dir())
    return es, names


def _price(h: dict[str, Any]) -> str:
    if h.get("price") is None:
        return "contact for price" if h.get("price_note") == "contact" else "-"
    p = f"{h['price']:g} {h.get('currency') or ''}".strip()
    return p + (f" for {h['quantity']:g} {h.get('unit') or ''}" if h.get("quantity") is not None else "")


@click.command("listings")
@click.argument("query", nargs=-1)
@click.option("--category", "categories", multiple=True, type=click.Choice(CATEGORIES), help="The tagger's category. Repeatable.")
@click.option("--vendor", metavar="NAME", help="Vendor name (case and punctuation do not matter).")
@click.option("--ships-to", metavar="PLACE", help="Words the listing's ships-to contains, e.g. Vietnam.")
@click.option("--ships-from", metavar="PLACE")
@click.option("--price-min", type=float)
@click.option("--price-max", type=float)
@click.option("--currency", metavar="CODE", help="USD, THB, VND, BTC, XMR, USDT…")
@click.option("--onion", metavar="ADDR", help="Only listings seen on this onion.")
@click.option("--since", metavar="DATE", help="First seen on or after (YYYY-MM-DD or RFC 3339).")
@click.option("--size", type=click.IntRange(1, 10000), default=None, help="At most this many (default: all with --json, 50 otherwise).")
@click.option("--json", "as_json", is_flag=True, help='Print {"total", "hits": [...]}.')
def listings_cmd(query: tuple[str, ...], categories: tuple[str, ...], vendor: str | None, ships_to: str | None,
                 ships_from: str | None, price_min: float | None, price_max: float | None, currency: str | None,
                 onion: str | None, since: str | None, size: int | None, as_json: bool) -> None:
    """Search listings (one record per offer) by words and filters; newest sighting first."""
    es, names = _connect()
    filters = {"category": list(categories) or None, "vendor_norm": normalise_vendor(vendor) if vendor else None,
               "ships_to": ships_to, "ships_from": ships_from, "price_min": price_min, "price_max": price_max,
               "currency": currency, "onion": onion, "since": since}
    text = " ".join(query)
    if size is None and as_json:
        hits = listing_index.all_listings(es, names, text, **filters)
        total = len(hits)
    else:
        result = listing_index.search_listings(es, names, text, size=size or 50, **filters)
        hits, total = result["hits"], result["total"]
    if as_json:
        click.echo(json.dumps({"total": total, "hits": [{k: h.get(k) for k in CONTRACT_HIT} for h in hits]},
                              ensure_ascii=False, indent=2))
        return
    for n, h in enumerate(hits, 1):
        click.echo(f"{n:>3}. {click.style(terminal_text(h['title']), bold=True)}  [{h.get('category') or '-'}]")
        ships = " → ".join(x for x in (h.get("ships_from"), h.get("ships_to")) if x)
        click.echo(f"     {_price(h)} · vendor {terminal_text(h.get('vendor')) or '?'}"
                   + (f" · ships {terminal_text(ships)}" if ships else "")
                   + f" · {len(h.get('prices') or [])} price point(s)")
        click.echo(f"     {terminal_text(h.get('url'))}  seen {h.get('first_seen')} .. {h.get('last_seen')}")
    click.echo(f"{total} listing(s)")


@click.command("vendors")
@click.option("--min-markets", type=click.IntRange(1), default=2, show_default=True,
              help="Only vendors seen on at least this many onions.")
@click.option("--json", "as_json", is_flag=True, help='Print {"vendors": [{name, onions, links}]}.')
def vendors_cmd(min_markets: int, as_json: bool) -> None:
    """Vendors seen on several onions, linked by the same name, PGP key, payment address or handle."""
    es, names = _connect()
    found = listing_index.vendors(es, names, min_markets=min_markets)
    if as_json:
        click.echo(json.dumps({"vendors": [{"name": v["name"], "onions": v["onions"], "links": v["links"],
                                            "names": v["names"], "listings": v["listings"]} for v in found]},
                              ensure_ascii=False, indent=2))
        return
    for v in found:
        links = ", ".join(f"{link['kind']} {terminal_text(link['value'])}" for link in v["links"]) or "-"
        click.echo(f"{click.style(terminal_text(v['name']), bold=True)}  on {len(v['onions'])} onion(s), "
                   f"{v['listings']} listing(s); also known as {', '.join(map(terminal_text, v['names']))}")
        click.echo(f"     linked by: {links}")
        for o in v["onions"]:
            click.echo(f"     {o}")
    click.echo(f"{len(found)} vendor(s) on at least {min_markets} onion(s)")


def pivot_lookup(es: Any, names: index.Names, value: str, kind: str | None = None) -> dict[str, Any]:
    """The pivot contract for one value: identifiers by keyed hash, else a vendor name."""
    hit = classify(value, kind) if kind != "vendor" else None
    if hit is not None:
        h = value_hash(hit.kind, hit.value, settings.pii_key())
        found = ident_index.pivot(es, names, h, hit.kind)
        return {"kind": hit.kind, "value": display(hit.kind, hit.value), "public": hit.kind in PUBLIC_KINDS,
                "ident_id": ident_index.ident_id(hit.kind, h), "key_id": hit.key_id,
                "onions": found["onions"], "occurrences": found["occurrences"]}
    if kind not in (None, "vendor"):
        raise click.UsageError(f"{value[:3]}… is not a valid {kind} identifier")
    norm = normalise_vendor(value)
    hits = listing_index.all_listings(es, names, "", vendor_norm=norm) if norm else []
    occ = [{"onion": o, "url": h["url"] if o == h["onion"] else None, "listing_id": h["listing_id"],
            "first_seen": h["first_seen"], "last_seen": h["last_seen"]} for h in hits for o in h["onions"]]
    for o in ident_index.for_vendors(es, names, [norm]) if norm else []:
        if o["listing_id"] is None:
            occ.append({"onion": o["onion"], "url": o["url"], "listing_id": None, "first_seen": o["first_seen"],
                        "last_seen": o["last_seen"]})
    occ.sort(key=lambda x: (x["first_seen"] or "", x["onion"] or ""))
    return {"kind": "vendor", "value": value.strip(), "public": True, "onions": sorted({o["onion"] for o in occ}),
            "occurrences": occ}


@click.command("pivot")
@click.argument("value")
@click.option("--kind", type=click.Choice(sorted(KINDS | {"vendor"})), help="What VALUE is (default: detected).")
@click.option("--json", "as_json", is_flag=True, help='Print {"kind", "value", "occurrences": [...]}.')
def pivot_cmd(value: str, kind: str | None, as_json: bool) -> None:
    """Every onion, listing and page where VALUE occurs (a crypto address, PGP key or
    fingerprint, email, phone, Telegram/Jabber/Session/Wickr/Tox handle, onion, or vendor name).
    '-' reads VALUE from stdin (keeps personal data out of the shell history; an armoured PGP key too)."""
    if value == "-":
        value = sys.stdin.read()
    es, names = _connect()
    result = pivot_lookup(es, names, value, kind)
    if not result["public"]:  # a pivot on a personal identifier is a lookup of personal data: audited
        from onionwatch.commands.evidence import actor, audit

        audit("pii_lookup", who=actor(None), results=len(result["occurrences"]),
              what={"ident_id": result.get("ident_id"), "kind": result["kind"], "by": "value", "via": "cli pivot"})
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    occ = result["occurrences"]
    click.echo(f"{result['kind']} {terminal_text(result['value'])}: {len(occ)} occurrence(s) on "
               f"{len(result['onions'])} onion(s)")
    for o in occ:
        click.echo(f"  {o['onion']}  {terminal_text(o.get('url') or '')}  {o['first_seen']} .. {o['last_seen']}"
                   + (f"  listing {o['listing_id']}" if o.get("listing_id") else ""))


COMMANDS = [listings_cmd, vendors_cmd, pivot_cmd]
