"""Tagging: page text → categories (offers only), validated personal data, offers, evidence.

Imports nothing of onionwatch but the data package `configs` (to find configs/tagger).
`import enrich` registers the spaCy factory, so a packaged pipeline directory can then be opened
with `spacy.load`.
"""

from enrich.pipeline import build, package
from enrich.protect import pii_hash, protect
from enrich.tagger import Tagger

__all__ = ["Tagger", "build", "package", "pii_hash", "protect"]
