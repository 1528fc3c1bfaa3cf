"""Sharing: STIX 2.1 (validated with stix2-validator) and MISP event JSON (loaded back with pymisp)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from stix2validator import ValidationOptions, validate_string

from enrich.protect import pii_hash
from evidence import identifiers, misp, stix
from tests.test_evidence_data import (
    BTC,
    EMAIL,
    FORUM,
    KEY,
    MARKET,
    PGP,
    PHONE,
    market_captures,
)


def hash_fn(label: str, value: str) -> str:
    return pii_hash(label, value, KEY)


@pytest.fixture
def caps(tmp_path: Path) -> list:
    return market_captures(tmp_path / "j")[0]


def test_identifiers_public_in_clear_personal_as_hashes(caps: list) -> None:
    ids = identifiers.collect(caps, hash_fn=hash_fn)
    by_kind = {(s.kind, s.value) for s in ids}
    assert ("onion", MARKET) in by_kind and ("onion", FORUM) in by_kind
    assert ("crypto", BTC) in by_kind and ("pgp", PGP.replace(" ", "")) in by_kind
    personal = [s for s in ids if s.kind == "personal"]
    assert {s.label for s in personal} == {"EMAIL_ADDRESS", "PHONE_NUMBER"} and all(s.value is None for s in personal)
    btc = next(s for s in ids if s.kind == "crypto")
    assert btc.count == 2 and btc.first == "2026-11-22T10:00:00Z" and btc.last == "2026-11-22T10:01:00Z"
    # Without the key no clear crypto address can be confirmed: hashes only.
    assert all(s.value is None for s in identifiers.collect(caps) if s.kind == "crypto")
    clear = identifiers.collect(caps, hash_fn=hash_fn, include_pii=True)
    assert {s.value for s in clear if s.kind == "personal"} == {EMAIL, PHONE}


def _validate(text: str) -> None:
    results = validate_string(text, ValidationOptions(version="2.1"))
    assert results.is_valid, [str(e) for r in ([results] if not isinstance(results, list) else results)
                              for e in getattr(r, "errors", [])]


def test_stix_bundle_validates_and_keeps_pii_hashed(caps: list) -> None:
    ids = identifiers.collect(caps, hash_fn=hash_fn)
    text = stix.to_json(stix.build(caps, ids, producer="DSI cyber unit", query="pangolin"))
    _validate(text)
    data = json.loads(text)
    types = [o["type"] for o in data["objects"]]
    assert types.count("identity") == 1 and types.count("report") == 3 and "indicator" in types and "note" in types
    assert {"domain-name", "observed-data", "x-onionwatch-crypto-address", "x-onionwatch-pgp-key", "url"} <= set(types)
    amber = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
    for o in data["objects"]:
        if o["type"] not in ("marking-definition",):
            assert o.get("object_marking_refs") == [amber], o["type"]
    ind = next(o for o in data["objects"] if o["type"] == "indicator" and MARKET in o["pattern"])
    assert ind["pattern"] == f"[domain-name:value = '{MARKET}']"
    assert EMAIL not in text and PHONE not in text and BTC in text
    listing = next(o for o in data["objects"] if o["type"] == "report" and "Pangolin" in o["name"])
    assert "pangolin scales" in listing["description"] and listing["labels"] == ["wildlife"]


def test_stix_tlp_red_and_include_pii(caps: list) -> None:
    ids = identifiers.collect(caps, hash_fn=hash_fn, include_pii=True)
    text = stix.to_json(stix.build(caps, ids, tlp="red", include_pii=True))
    _validate(text)
    assert "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed" in text and EMAIL in text


def test_stix_empty_is_refused() -> None:
    with pytest.raises(ValueError, match="matched no stored page"):
        stix.build([], [])


def test_misp_event_loads_back(caps: list) -> None:
    from pymisp import MISPEvent

    ids = identifiers.collect(caps, hash_fn=hash_fn)
    event = misp.build(caps, ids, info="onionwatch: pangolin listings")
    text = event.to_json()
    assert EMAIL not in text and PHONE not in text
    back = MISPEvent()
    back.load(json.loads(text))
    assert back.info == "onionwatch: pangolin listings"
    assert {t.name for t in back.tags} == {"tlp:amber", "onionwatch"}
    names = [o.name for o in back.objects]
    assert names.count("url") == 3 and "tor-hiddenservice" in names and "coin-address" in names and "pgp-meta" in names
    onions = {o.get_attributes_by_relation("address")[0].value for o in back.objects if o.name == "tor-hiddenservice"}
    assert onions == {MARKET, FORUM}
    coin = next(o for o in back.objects if o.name == "coin-address")
    assert coin.get_attributes_by_relation("address")[0].value == BTC
    hashed = [a for a in back.attributes if a.type == "text" and "HMAC" in (a.comment or "")]
    assert len(hashed) == 2 and all(not a.to_ids for a in hashed)
    assert back.event_reports and "pangolin scales" in back.event_reports[0].content


def test_misp_empty_is_refused() -> None:
    with pytest.raises(ValueError, match="matched no stored page"):
        misp.build([], [], info="x")
