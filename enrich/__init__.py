"""Tagging: page text → categories (offers only), validated personal data, offers, evidence.

Imports nothing of onionwatch but the data package `configs` (to find configs/tagger).
`import enrich` registers the spaCy factory, so a packaged pipeline directory can then be opened
with `spacy.load`.
"""

from enrich import compiled

compiled.select()  # first: compiled (mypyc) or plain-Python submodules, see enrich/compiled.py

from enrich.pipeline import build, package  # noqa: E402
from enrich.protect import pii_hash, protect  # noqa: E402
from enrich.tagger import Tagger  # noqa: E402

__all__ = ["Tagger", "build", "package", "pii_hash", "protect"]
