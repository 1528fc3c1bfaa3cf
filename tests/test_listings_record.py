"""One definition each for the listing and the identifier (listings/records.py): the docs'
tables, the index templates and the dataclasses must agree."""

from __future__ import annotations

import json
import re
from dataclasses import fields
from pathlib import Path

from index.listings import CURRENT, fact
from listings.records import IDENTIFIER_FIELDS, LISTING_FIELDS, Identifier, Listing

REPO = Path(__file__).resolve().parent.parent
DOC = (REPO / "docs" / "record.md").read_text(encoding="utf-8")


def _props(name: str) -> dict:
    return json.loads((REPO / "configs" / "index" / name).read_text(encoding="utf-8"))["template"]["mappings"]["properties"]


def _table(heading: str) -> list[str]:
    section = DOC.split(heading, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE)


def test_docs_list_the_listing_fields_in_order_with_meanings() -> None:
    assert _table("## Listing") == list(LISTING_FIELDS)
    for f in fields(Listing):
        assert f.metadata.get("doc"), f"Listing.{f.name} has no meaning for the docs"
        assert f.metadata["doc"] in DOC


def test_docs_list_the_identifier_fields_in_order_with_meanings() -> None:
    assert _table("## Identifier") == list(IDENTIFIER_FIELDS)
    for f in fields(Identifier):
        assert f.metadata.get("doc") and f.metadata["doc"] in DOC, f"Identifier.{f.name}"


def test_listings_template_maps_what_the_store_writes() -> None:
    props = _props("listings.v1.json")
    listing = {f: None for f in LISTING_FIELDS} | {"listing_id": "x", "fetched_at": "2026-11-22T10:00:00Z", "price": 1.0}
    written = set(fact(listing, "p" * 40)) | {"indexed_at", "updated_at"}
    assert written == set(props), f"only written: {written - set(props)}; only mapped: {set(props) - written}"
    assert set(CURRENT) <= set(LISTING_FIELDS)
    for doc_field in ("onions", "urls", "page_ids", "first_seen", "last_seen", "indexed_at", "prices"):
        assert f"`{doc_field}`" in DOC


def test_identifiers_template_maps_the_occurrence() -> None:
    props = _props("identifiers.v1.json")
    stored = set(IDENTIFIER_FIELDS) - {"fetched_at"} | {"occ_id", "ident_id", "page_id", "first_seen", "last_seen",
                                                        "indexed_at", "updated_at"}
    assert stored == set(props)
    assert props["masked"].get("index") is False  # a masked value is shown, never searched
