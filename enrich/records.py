"""Enriching page records (docs/record.md) in batches: tag the text, then mask every personal
data span in place and keep only its keyed hash.

The crawler names this class in its settings (ONIONWATCH_ENRICHER) and builds it with
Scrapy's build_from_crawler; nothing here imports Scrapy, the crawler only has to pass an
object with a ``settings.get(name)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import configs
from enrich.protect import protect
from enrich.tagger import Tagger

KIND_HINT = "kind_hint"  # the crawler's name for it is crawler.items.KIND_HINT (tests keep them equal)


class _Settings(Protocol):
    def get(self, name: str, default: Any = None) -> Any: ...


class _Crawler(Protocol):
    settings: _Settings


class RecordEnricher:
    """Tags and protects records in place: ``text`` becomes the redacted text, and
    ``categories``, ``entities``, ``offers``, ``evidence``, ``page_kind``, ``model_version``
    (the offer classifier's, so a re-tag is traceable) and ``lang`` when the tagger is sure
    are set. A record that failed or has no text gets empty lists (and no page kind).

    ``kind_hint`` (KIND_HINT), a transient key the crawler may put on a record: the page kind
    the page's HTML structure shows (``listing``, ``shop``, ``forum``; the crawler's
    structure module). It goes to the tagger as the page-kind hint (a valid kind wins over the
    text's guess, see enrich.pagekind) and is not a stored field: the crawl's cut to the page
    record drops it. Without it the text decides."""

    def __init__(self, tagger: Tagger, key: bytes) -> None:
        if not key:
            raise ValueError("a PII key is required: personal data is stored as keyed hashes only")
        self.tagger = tagger
        self.key = key

    @classmethod
    def from_crawler(cls, crawler: _Crawler) -> RecordEnricher:
        """ONIONWATCH_PII_KEY (required) and ONIONWATCH_TAGGER (a packaged pipeline or a
        configs/tagger directory; default: the tagger directory of the configs in force)."""
        settings = crawler.settings
        key = settings.get("ONIONWATCH_PII_KEY") or b""
        path = settings.get("ONIONWATCH_TAGGER") or configs.path("tagger")
        return cls(Tagger.load(Path(path)), key.encode() if isinstance(key, str) else bytes(key))

    def __call__(self, records: list[dict[str, Any]]) -> None:
        todo = [r for r in records if not r.get("failure") and r.get("text")]
        for record, result in zip(todo, self.tagger.tag_many([_tag_input(r) for r in todo])):
            text, entities = protect(record["text"], result["entities"], self.key)
            record.update(
                text=text,
                entities=entities,
                categories=result["categories"],
                offers=result.get("offers", []),
                evidence=result.get("evidence", []),
                page_kind=result.get("page_kind"),
                model_version=result.get("model_version"),
            )
            if result.get("lang") and result["lang"] != "und":
                record["lang"] = result["lang"]
        for record in records:
            for name in ("categories", "entities", "offers", "evidence"):
                record.setdefault(name, [])


def _tag_input(record: dict[str, Any]) -> str | tuple[str, str]:
    """The record's text, paired with the crawler's structural page-kind hint when it has one."""
    hint = record.get(KIND_HINT)
    return (record["text"], hint) if isinstance(hint, str) and hint else record["text"]
