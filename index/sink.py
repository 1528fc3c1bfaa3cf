"""The crawler's store: page records into pages, services and snapshots.

The crawler names this class in its settings (ONIONWATCH_SINK = "index.sink.IndexSink")
and builds it with Scrapy's build_from_crawler. Nothing here imports Scrapy: from_crawler
only needs an object with ``settings.get(name)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import configs
from index.client import connect
from index.listings import store as store_listings
from index.names import Names
from index.schema import setup
from index.writer import PageWriter


class _Settings(Protocol):
    def get(self, name: str, default: Any = None) -> Any: ...


class _Crawler(Protocol):
    settings: _Settings


def _bytes(value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value or b"")


class IndexSink:
    """Sets up the index layout once, then stores each batch through a PageWriter:
    ``store(records)`` returns one error (or None) per record; ``close()`` flushes."""

    def __init__(self, writer: PageWriter) -> None:
        self.writer = writer

    @classmethod
    def from_crawler(cls, crawler: _Crawler) -> IndexSink:
        """Settings: ONIONWATCH_ES_URL (required; several nodes comma-separated),
        ONIONWATCH_ES_USER / _PASSWORD / _API_KEY / _CA_CERTS, ONIONWATCH_INDEX_PREFIX
        (default "onionwatch"), ONIONWATCH_SNAPSHOT_KEY (required: raw pages are stored
        encrypted), ONIONWATCH_INDEX_CONFIG (templates; default: configs' index/)."""
        s = crawler.settings
        url = s.get("ONIONWATCH_ES_URL")
        if not url:
            raise ValueError("ONIONWATCH_ES_URL is not set: no Elasticsearch to store pages in")
        key = _bytes(s.get("ONIONWATCH_SNAPSHOT_KEY"))
        if not key:
            raise ValueError("ONIONWATCH_SNAPSHOT_KEY is required: raw pages are stored encrypted")
        if isinstance(url, (list, tuple)):
            url = ",".join(url)
        es = connect(url, username=s.get("ONIONWATCH_ES_USER") or None,
                     password=s.get("ONIONWATCH_ES_PASSWORD") or None,
                     api_key=s.get("ONIONWATCH_ES_API_KEY") or None,
                     ca_certs=s.get("ONIONWATCH_ES_CA_CERTS") or None)
        names = Names(s.get("ONIONWATCH_INDEX_PREFIX") or "onionwatch")
        config_dir = Path(s.get("ONIONWATCH_INDEX_CONFIG") or configs.path("index"))
        setup(es, names, config_dir)
        return cls(PageWriter(es, names, snapshot_key=key, config_dir=config_dir))

    def store(self, records: list[Mapping[str, Any]]) -> list[str | None]:
        # then the listings and identifiers the crawl attached (index/listings.py)
        return store_listings(self.writer.es, self.writer.names, records, self.writer.store(records))

    def close(self) -> None:
        try:
            self.writer.close()
        finally:
            self.writer.es.close()
