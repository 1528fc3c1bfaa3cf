"""The crawler's store: page records into pages, services and snapshots.

The crawler names this class in its settings (ONIONWATCH_SINK = "index.sink.IndexSink")
and builds it with Scrapy's build_from_crawler. Nothing here imports Scrapy: from_crawler
only needs an object with ``settings.get(name)``.

The crawl does not write here directly: it journals every record first, and a journal
consumer (crawler.indexer) hands journaled records to ``store_batch``. For that this sink
says what it can promise:

* ``store_batch(records)`` -> (one error or None per record, retry): ``retry`` is True when
  Elasticsearch could not take the batch now (unreachable, 429/5xx) — nothing is lost, the
  consumer sends it again later; otherwise an error is final (the record is refused).
* ``durable_after`` / ``identity()``: an acknowledged write is kept only if the same server
  process stayed up for ``durable_after`` seconds after the ack (ONIONWATCH_ES_PERSIST_LAG;
  0 for Elasticsearch, whose translog is fsynced before it acknowledges; ~2 s for the
  embedded noida-db, which persists about 0.5 s after an ack). ``identity()`` names the
  server process (cluster uuid and node name, plus the pid and start time in
  ONIONWATCH_ES_IDENTITY_FILE when given, e.g. noida's noida.control.json), or None when
  it does not answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from elasticsearch import ApiError, TransportError

import configs
from index.client import connect
from index.listings import store as store_listings
from index.names import Names
from index.schema import setup
from index.writer import RETRY_STATUS, PageWriter, page_id


class _Settings(Protocol):
    def get(self, name: str, default: Any = None) -> Any: ...


class _Crawler(Protocol):
    settings: _Settings


def _bytes(value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value or b"")


def _brief(exc: Exception) -> str:
    """A one-line reason: what kind of failure, never a response body (it may quote a page)."""
    if isinstance(exc, ApiError):
        return f"{type(exc).__name__}: HTTP {exc.status_code} {getattr(exc, 'error', '')}".strip()
    text = str(exc)
    for cue in ("Connection refused", "timed out", "Connection reset", "Name or service not known"):
        if cue.lower() in text.lower():
            return f"{type(exc).__name__}: {cue.lower()}"
    return f"{type(exc).__name__}: no answer"


# Writer failures without an HTTP status that are about the record, not the connection.
_FINAL_WITHOUT_STATUS = ("invalid record", "raw body does not match")


class IndexSink:
    """Sets up the index layout once (when Elasticsearch first answers), then stores each
    batch through a PageWriter; ``close()`` flushes."""

    journaled = True  # the crawl feeds this sink from its journal (crawler.indexer), not directly

    def __init__(self, writer: PageWriter, names: Names, config_dir: Path | None = None, *,
                 persist_lag: float = 0.0, identity_file: str | None = None,
                 new_writer: Callable[[], PageWriter] | None = None) -> None:
        self.writer = writer
        self._new_writer = new_writer
        self.names = names
        self.config_dir = config_dir
        self.durable_after = float(persist_lag)
        self.identity_file = identity_file
        self._ready = False
        self._layout_on: str | None = None  # identity() of the server the layout was set up on

    @property
    def consumer_name(self) -> str:
        """The journal consumer marker for this index (one per index prefix)."""
        return "index." + re.sub(r"[^A-Za-z0-9_.-]", "_", self.names.prefix)[:58]

    @classmethod
    def from_crawler(cls, crawler: _Crawler) -> IndexSink:
        """Settings: ONIONWATCH_ES_URL (required; several nodes comma-separated),
        ONIONWATCH_ES_USER / _PASSWORD / _API_KEY / _CA_CERTS, ONIONWATCH_INDEX_PREFIX
        (default "onionwatch"), ONIONWATCH_SNAPSHOT_KEY (required: raw pages are stored
        encrypted), ONIONWATCH_INDEX_CONFIG (templates; default: configs' index/),
        ONIONWATCH_ES_PERSIST_LAG and ONIONWATCH_ES_IDENTITY_FILE (see the module docstring).
        Nothing is sent to Elasticsearch here: a crawl starts even while it is down."""
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
        def new_writer() -> PageWriter:  # the journal consumer backs off between attempts: the writer retries briefly
            return PageWriter(es, names, snapshot_key=key, config_dir=config_dir, max_retries=2, max_backoff=2.0)

        return cls(new_writer(), names, config_dir, persist_lag=float(s.get("ONIONWATCH_ES_PERSIST_LAG") or 0.0),
                   identity_file=s.get("ONIONWATCH_ES_IDENTITY_FILE") or None, new_writer=new_writer)

    def reset(self) -> None:
        """The server restarted and may have lost what it acknowledged — templates, aliases
        and indices included: set the layout up again before the next write."""
        self._ready = False
        if self._new_writer is not None:
            self.writer = self._new_writer()

    def _setup(self) -> None:
        answering = self.identity()  # another server process than the layout's may have lost it
        if not self._ready or answering != self._layout_on:
            setup(self.writer.es, self.names, self.config_dir)
            self._ready = True
            self._layout_on = answering

    def store(self, records: list[Mapping[str, Any]]) -> list[str | None]:
        """Store a batch now; one error (or None) per record."""
        self._setup()
        # then the listings and identifiers the crawl attached (index/listings.py)
        return store_listings(self.writer.es, self.writer.names, records, self.writer.store(records))

    def store_batch(self, records: list[Mapping[str, Any]]) -> tuple[list[str | None], bool]:
        """Store a batch; (one error or None per record, whether to try the batch again later)."""
        try:
            self._setup()
            for r in records:
                self.writer.write(r)
            result = self.writer.flush(refresh=False)
        except (TransportError, ApiError) as exc:
            status = getattr(exc, "status_code", None) if isinstance(exc, ApiError) else None
            self._ready = False
            return [_brief(exc)] * len(records), status is None or status in RETRY_STATUS
        retry = any(
            (f.status is None and not f.reason.startswith(_FINAL_WITHOUT_STATUS)) or f.status in RETRY_STATUS
            for f in result.failed
        )
        by_page = {f.id: f.reason for f in result.failed if f.kind == "page"}
        by_service = {f.id: f.reason for f in result.failed if f.kind == "service"}
        errors: list[str | None] = []
        for r in records:
            reason = by_page.get(page_id(r.get("url") or "", r.get("sha256") or ""))
            if reason is None and r.get("onion") in by_service:
                reason = f"service {r['onion']} not updated: {by_service[r['onion']]}"
            errors.append(reason)
        # then the listings and identifiers the crawl attached (index/listings.py); idempotent, so a
        # batch whose listings failed is simply offered again
        listed = store_listings(self.writer.es, self.writer.names, records, errors)
        retry = retry or listed != errors
        if retry:
            self._ready = False  # e.g. an index the server lost: set the layout up again (idempotent) first
        return listed, retry

    def identity(self) -> str | None:
        """Which server process answers now (see the module docstring); None if none does."""
        try:
            info = self.writer.es.info()
        except (TransportError, ApiError):
            return None
        ident = f"{info.get('cluster_uuid')}/{info.get('name')}"
        if self.identity_file:
            try:
                proc = json.loads(Path(self.identity_file).read_text())
                ident += f"/pid {proc['pid']}/started {proc['started_ms']}"
            except (OSError, ValueError, KeyError, TypeError):
                return None
        return ident

    def refresh(self) -> None:
        """Make what was stored searchable now (for a reader right after a crawl)."""
        self.writer.es.indices.refresh(index=f"{self.names.pages},{self.names.services}")

    def close(self) -> None:
        try:
            self.writer.close()
        except (TransportError, ApiError):
            pass  # what was not stored is still in the journal
        finally:
            self.writer.es.close()
