"""Tagging: page text → categories (offers only), validated personal data, offers, evidence.

Imports nothing else of onionwatch. `import enrich` registers the spaCy factories, so a packaged
pipeline directory can then be opened with `spacy.load`.
"""

from enrich.pipeline import build, package
from enrich.protect import pii_hash, protect
from enrich.tagger import Tagger

__all__ = ["Tagger", "build", "package", "pii_hash", "protect"]
