"""The listing and identifier records: the one definition of what the extractor attaches to a
page record (``record["listings"]``, ``record["identifiers"]``) and what index/listings.py
stores. docs/record.md documents both; tests/test_listings_record.py fails when the docs, the
index templates and these dataclasses disagree.

Both travel as plain dicts (``to_dict``), so index/ needs nothing from this package.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import asdict, dataclass, field, fields
from typing import Any

# Identifier kinds whose clear value may be shown and exported (public by nature); every other
# kind is personal data: only its mask and keyed hash are kept.
PUBLIC_KINDS = frozenset({"btc", "eth", "xmr", "tron", "pgp", "onion"})
PERSONAL_KINDS = frozenset({"email", "phone", "telegram", "xmpp", "session", "wickr", "tox"})
KINDS = PUBLIC_KINDS | PERSONAL_KINDS


@dataclass
class Listing:
    """One offer as a market shows it. Missing parts are None; one listing keeps its
    ``listing_id`` across re-crawls and mirrors (market + vendor + normalised title)."""

    listing_id: str = field(metadata={"doc": "hash of market, vendor_norm and title_norm (32 hex)"})
    market: str = field(metadata={"doc": "the market: a site rule's name, else the onion"})
    title: str = field(metadata={"doc": "as shown (personal identifiers masked, capped)"})
    price: float | None = field(default=None, metadata={"doc": "first stated price (lower bound of a range)"})
    price_max: float | None = field(default=None, metadata={"doc": "upper bound of a price range"})
    currency: str | None = field(default=None, metadata={"doc": "ISO 4217 or crypto code (USD, THB, VND, BTC, XMR, USDT...)"})
    price_usd: float | None = field(default=None, metadata={"doc": "price in USD from a configured rate table (no live rates); USD prices as they are"})
    price_note: str | None = field(default=None, metadata={"doc": "`contact` (no price stated) or `range`"})
    quantity: float | None = field(default=None, metadata={"doc": "how much the price buys"})
    unit: str | None = field(default=None, metadata={"doc": "unit of quantity as written (g, kg, records, viên...)"})
    vendor: str | None = field(default=None, metadata={"doc": "vendor name as shown"})
    vendor_norm: str = field(default="", metadata={"doc": "vendor name normalised (case, width, punctuation dropped): what vendors are matched by"})
    title_norm: str = field(default="", metadata={"doc": "title normalised: with market and vendor_norm, the listing's identity"})
    ships_from: str | None = field(default=None, metadata={"doc": "where it ships from, as written"})
    ships_to: str | None = field(default=None, metadata={"doc": "where it ships to, as written"})
    category: str | None = field(default=None, metadata={"doc": "the tagger's category (leaked_data, drugs, wildlife)"})
    site_category: str | None = field(default=None, metadata={"doc": "the market's own category"})
    listed_at: str | None = field(default=None, metadata={"doc": "date the market says it was listed (YYYY-MM-DD)"})
    lang: str | None = field(default=None, metadata={"doc": "language of the listing's block or page (ISO 639-1)"})
    url: str = field(default="", metadata={"doc": "the page it was seen on"})
    onion: str = field(default="", metadata={"doc": "that page's onion"})
    fetched_at: str = field(default="", metadata={"doc": "when that page was fetched (RFC 3339)"})
    source: str = field(default="", metadata={"doc": "what found it: jsonld, microdata, labels, table, blocks, rule:<name>"})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Identifier:
    """One identifier seen at one URL (and, when it belongs to one, one listing)."""

    kind: str = field(metadata={"doc": "btc, eth, xmr, tron, pgp, onion (public); email, phone, telegram, xmpp, session, wickr, tox (personal)"})
    value_hash: str = field(metadata={"doc": "HMAC-SHA256 (hex) of the normalised value with the PII key (enrich's pii_hash for email, phone, crypto, onion)"})
    masked: str = field(metadata={"doc": "masked form (public kinds: first and last characters kept)"})
    display: str = field(metadata={"doc": "clear value for public kinds, the masked form for personal data"})
    url: str = field(default="", metadata={"doc": "the page it was seen on"})
    onion: str = field(default="", metadata={"doc": "that page's onion"})
    listing_id: str | None = field(default=None, metadata={"doc": "the listing it belongs to (it was in that listing's block, or on its page)"})
    vendor: str | None = field(default=None, metadata={"doc": "the vendor (or forum author) it belongs to, when the page says"})
    vendor_norm: str = field(default="", metadata={"doc": "vendor normalised, as in Listing"})
    key_id: str | None = field(default=None, metadata={"doc": "PGP: the 16-hex-digit key id"})
    source: str = field(default="text", metadata={"doc": "text, link or pgp_block"})
    fetched_at: str = field(default="", metadata={"doc": "when the page was fetched (RFC 3339)"})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


LISTING_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Listing))
IDENTIFIER_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Identifier))

def _words(text: str) -> str:
    """Letters, marks (Thai vowels, Vietnamese tones) and digits kept, everything else a space."""
    return "".join(c if unicodedata.category(c)[0] in "LMN" else " " for c in text)


def normalise_title(title: str) -> str:
    """Case, width, punctuation and spacing do not make a different listing."""
    return " ".join(_words(unicodedata.normalize("NFKC", title or "").casefold()).split())


def normalise_vendor(name: str | None) -> str:
    """"Yunnan-Jade", "yunnan_jade" and "YunnanJade" are one vendor name."""
    return "".join(_words(unicodedata.normalize("NFKC", name or "").casefold()).split())


def listing_id(market: str, vendor: str | None, title: str) -> str:
    """The identity of a listing: market + vendor + normalised title (vendor may be unknown)."""
    key = f"{market.lower()}\x1f{normalise_vendor(vendor)}\x1f{normalise_title(title)}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]
