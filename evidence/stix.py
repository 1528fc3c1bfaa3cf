"""STIX 2.1 bundles (library ``stix2``) for partner agencies' threat-intelligence tools.

Mapping: an identity for the producer; per onion service a ``domain-name`` observable, an
``observed-data`` (first/last seen, count) and an ``indicator``; crypto addresses and PGP
fingerprints as custom observables (``x-onionwatch-crypto-address``, ``x-onionwatch-pgp-key``)
with their own observed-data; personal identifiers as a ``note`` of keyed hashes (clear only
with include_pii); one ``report`` per listing page (title, offers, tags). Every object carries
the TLP marking (amber unless told otherwise).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import stix2
from stix2 import properties

from evidence.bundle import Capture
from evidence.identifiers import Seen

TLP = {"clear": stix2.TLP_WHITE, "white": stix2.TLP_WHITE, "green": stix2.TLP_GREEN, "amber": stix2.TLP_AMBER,
       "red": stix2.TLP_RED}
NAMESPACE = "onionwatch"


@stix2.CustomObservable("x-onionwatch-crypto-address", [
    ("value", properties.StringProperty(required=True)),
    ("label", properties.StringProperty()),
], id_contrib_props=["value"])
class CryptoAddress:
    pass


@stix2.CustomObservable("x-onionwatch-pgp-key", [
    ("fingerprint", properties.StringProperty(required=True)),
], id_contrib_props=["fingerprint"])
class PgpKey:
    pass


def _time(value: str) -> datetime:
    dt = datetime.fromisoformat(value) if value else datetime.now(UTC)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _observed(sco: Any, seen: Seen, common: dict[str, Any], extra_refs: list[str] | None = None) -> stix2.ObservedData:
    first, last = _time(seen.first), _time(seen.last)
    return stix2.ObservedData(first_observed=first, last_observed=max(first, last), number_observed=max(1, seen.count),
                              object_refs=[sco.id, *(extra_refs or [])], allow_custom=True, **common)


def build(captures: list[Capture], identifiers: list[Seen], *, producer: str = "onionwatch", tlp: str = "amber",
          query: str = "", include_pii: bool = False) -> stix2.Bundle:
    """A STIX 2.1 bundle for the captures and the identifiers collected from them."""
    if not captures:
        raise ValueError("nothing to export: the query matched no stored page")
    marking = TLP[tlp.lower()]
    identity = stix2.Identity(name=producer, identity_class="organization",
                              description="Onion-service monitoring (onionwatch): pages fetched through Tor only.",
                              object_marking_refs=[marking])
    common = {"created_by_ref": identity.id, "object_marking_refs": [marking]}
    objects: list[Any] = [identity]
    by_url: dict[str, list[str]] = {}
    for s in identifiers:
        if s.kind == "onion" and s.value:
            sco = stix2.DomainName(value=s.value, object_marking_refs=[marking])
            od = _observed(sco, s, common)
            ind = stix2.Indicator(name=f"Onion service {s.value}", pattern_type="stix",
                                  pattern=f"[domain-name:value = '{s.value}']", valid_from=_time(s.first),
                                  indicator_types=["malicious-activity"],
                                  description=f"Seen on {len(s.urls)} captured page(s) between {s.first} and {s.last}.",
                                  **common)
            objects += [sco, od, ind, stix2.Relationship(ind, "based-on", od, **common)]
        elif s.kind == "crypto" and s.value:
            sco = CryptoAddress(value=s.value, label=s.label, object_marking_refs=[marking])
            objects += [sco, _observed(sco, s, common)]
        elif s.kind == "pgp" and s.value:
            sco = PgpKey(fingerprint=s.value, object_marking_refs=[marking])
            objects += [sco, _observed(sco, s, common)]
        else:
            continue
        for url in s.urls:
            by_url.setdefault(url, []).append(objects[-1].id)
    hashed = [s for s in identifiers if s.kind in ("personal", "crypto") and not (s.value and (s.kind == "crypto" or include_pii))]
    clear_personal = [s for s in identifiers if s.kind == "personal" and s.value and include_pii]
    if hashed or clear_personal:
        lines = [f"{s.label}: HMAC-SHA256 {s.hash} (seen {s.count}x, {s.first} .. {s.last})" for s in hashed]
        lines += [f"{s.label}: {s.value} (seen {s.count}x)" for s in clear_personal]
        od_refs = [o.id for o in objects if o.type == "observed-data"] or [identity.id]
        objects.append(stix2.Note(abstract="Identifiers of people seen on these pages" +
                                  (" (clear values included on the operator's instruction)" if clear_personal else
                                   " (keyed hashes only: ask the producer to match a value you hold)"),
                                  content="\n".join(lines), object_refs=od_refs, allow_custom=True, **common))
    for c in captures:
        p = c.page
        offers = p.get("offers") or []
        lines = [f"URL: {p.get('url')}", f"Fetched (UTC): {p.get('fetched_at')}", f"SHA-256 of body: {p.get('sha256')}",
                 f"Tags: {', '.join(p.get('categories') or []) or 'none'}"]
        for o in offers[:50]:
            lines.append("Offer: " + ", ".join(f"{k}={o.get(k)}" for k in ("category", "commodity", "price", "currency",
                                                                            "quantity", "unit") if o.get(k) is not None))
        url_sco = stix2.URL(value=p.get("url"), object_marking_refs=[marking])
        first = _time(p.get("fetched_at") or "")
        od = stix2.ObservedData(first_observed=first, last_observed=first, number_observed=1,
                                object_refs=[url_sco.id], **common)
        objects += [url_sco, od]
        objects.append(stix2.Report(name=(p.get("title") or p.get("url") or "captured page")[:200],
                                    published=first, report_types=["observed-data"],
                                    description="\n".join(lines), object_refs=[od.id, *by_url.get(p.get("url") or "", [])],
                                    labels=p.get("categories") or None, allow_custom=True, **common))
    seen_ids: set[str] = set()
    unique = [o for o in objects if not (o.id in seen_ids or seen_ids.add(o.id))]  # type: ignore[func-returns-value]
    return stix2.Bundle(objects=unique, allow_custom=True)


def to_json(bundle: stix2.Bundle) -> str:
    return json.dumps(json.loads(bundle.serialize()), indent=1, ensure_ascii=False)
