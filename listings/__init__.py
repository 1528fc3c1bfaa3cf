"""Listings and identifiers: a market page → one record per offer (title, price, vendor, ships
from/to …) and every identifier on it that can tie one onion to another (payment addresses,
PGP keys, handles, emails, phones, onions), personal ones as masked keyed hashes.

A library one step above enrich: it uses the tagger's address validators (enrich.validators) and
the data package `configs` (configs/listings/extract.yaml, configs/tagger/market.yaml,
configs/sites/*.yaml), and nothing else of ours (import contract in pyproject.toml).
"""

from listings.extract import Extraction, ListingExtractor
from listings.identifiers import IdentifierFinder, display, mask, value_hash
from listings.records import (
    IDENTIFIER_FIELDS,
    KINDS,
    LISTING_FIELDS,
    PERSONAL_KINDS,
    PUBLIC_KINDS,
    Identifier,
    Listing,
    listing_id,
    normalise_title,
    normalise_vendor,
)
from listings.rules import RuleError, SiteRule, load_rules

__all__ = [
    "IDENTIFIER_FIELDS", "KINDS", "LISTING_FIELDS", "PERSONAL_KINDS", "PUBLIC_KINDS", "Extraction", "Identifier",
    "IdentifierFinder", "Listing", "ListingExtractor", "RuleError", "SiteRule", "display", "listing_id", "load_rules",
    "mask", "normalise_title", "normalise_vendor", "value_hash",
]
