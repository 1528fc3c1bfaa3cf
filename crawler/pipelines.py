"""The item pipeline: enrich (tag + mask PII) → store, in batches.

The enricher and the sink are named by import path in the settings and built with Scrapy's
build_from_crawler, so this package never imports enrich/ or index/:

  ONIONWATCH_OUTPUT    a file: records as JSON lines (JsonlSink) instead of ONIONWATCH_SINK
  ONIONWATCH_SINK      e.g. "index.sink.IndexSink": store(records) -> [error or None], close()
  ONIONWATCH_ENRICHER  e.g. "enrich.records.RecordEnricher": called with each batch, changes
                       the records in place; empty: records are stored as crawled
  ONIONWATCH_CAPTURE_LOG  "crawler.capture.CaptureLog": every enriched (masked) record of a batch
                       is appended to the hash-chained journal and fsynced before the sink
                       stores it; optional (NotConfigured without ONIONWATCH_JOURNAL_DIR)
  ONIONWATCH_PROCESSORS  an ordered list of import paths (e.g. "listings.extract.ListingExtractor"),
                       each built with build_from_crawler and called as proc(records) after the
                       enricher (NotConfigured: skipped). A processor that attaches keys of its
                       own lists them in its ``fields`` attribute; those keys are kept beside the
                       page record's fields (the cut to PageRecord drops anything else)

An item is acknowledged to Scrapy only after the batch holding it is journaled (appended
and fsynced by the capture log) — and, for a sink written directly (JsonlSink), stored: the
coroutine awaits the batch's outcome, so a crash or a failed write never counts a page as
collected that isn't. A sink fed from the journal (``sink.journaled``, index.sink.IndexSink)
is not written here: crawler.indexer delivers journaled records to it in the background and
marks them done only once the sink has kept them, so the crawl goes on while Elasticsearch
is away and catches up when it is back; the pipeline waits for it at the end
(ONIONWATCH_INDEX_WAIT seconds) and the summary says what was not indexed. After each
append the journaled URLs go into the known-URL table (crawler.known, ONIONWATCH_KNOWN_URLS)
that the page cap and a resumed job read. Enrichment and storage run in a worker thread so
tagging and disk or bulk I/O don't stall the crawl's event loop."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any, Protocol

from scrapy import Request
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.utils.misc import build_from_crawler, load_object

from crawler.items import shape

logger = logging.getLogger(__name__)


class Sink(Protocol):
    """Where enriched records go. `store` returns one error (or None) per record."""

    def store(self, records: list[dict[str, Any]]) -> list[str | None]: ...

    def close(self) -> None: ...


class JsonlSink:
    """A file of records (raw bytes left out) — for `crawl --output` and debugging."""

    def __init__(self, path: str) -> None:
        self.fh = open(path, "a", encoding="utf-8")

    @classmethod
    def from_crawler(cls, crawler) -> JsonlSink:
        path = crawler.settings.get("ONIONWATCH_OUTPUT")
        if not path:
            raise NotConfigured("ONIONWATCH_OUTPUT is not set")
        return cls(path)

    def store(self, records: list[dict[str, Any]]) -> list[str | None]:
        for record in records:
            self.fh.write(json.dumps({k: v for k, v in record.items() if k != "raw"}, ensure_ascii=False) + "\n")
        self.fh.flush()
        return [None] * len(records)

    def close(self) -> None:
        self.fh.close()


def _build(crawler, setting: str) -> Any:
    path = crawler.settings.get(setting)
    if not path:
        return None
    try:
        return build_from_crawler(load_object(path), crawler)
    except NotConfigured as exc:  # a store or an enricher that was asked for but can't run is an error
        raise RuntimeError(f"{setting} = {path} is not configured: {exc}") from exc


def _build_processors(crawler) -> list[Any]:
    """ONIONWATCH_PROCESSORS, in order; a processor that raises NotConfigured is skipped."""
    out = []
    for path in filter(None, crawler.settings.getlist("ONIONWATCH_PROCESSORS")):  # "-s ONIONWATCH_PROCESSORS=": none
        try:
            out.append(build_from_crawler(load_object(path), crawler))
        except NotConfigured as exc:
            logger.debug("processor %s not configured: %s", path, exc)
    return out


class StorePipeline:
    def __init__(self, crawler, sink: Sink, enrich: Callable[[list[dict]], None] | None, capture: Any = None,
                 processors: list[Callable[[list[dict]], None]] | None = None) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.processors = list(processors or [])
        self.extra_fields = tuple(dict.fromkeys(f for p in self.processors for f in getattr(p, "fields", ()) or ()))
        self.capture = capture  # the capture log (crawler.capture.CaptureLog) or None
        self.stats = crawler.stats
        self.batch_size = settings.getint("ONIONWATCH_STORE_BATCH")
        self.max_wait = settings.getfloat("ONIONWATCH_STORE_MAX_WAIT")
        self.index_wait = settings.getfloat("ONIONWATCH_INDEX_WAIT", 120.0)
        self.sink = sink
        self.enrich = enrich
        self.indexer: Any = None  # crawler.indexer.JournalIndexer when the sink is fed from the journal
        self.known: Any = None  # crawler.known.KnownUrls
        if capture is not None and getattr(sink, "journaled", False):
            from crawler.indexer import JournalIndexer

            self.indexer = JournalIndexer(capture.journal, sink, capture.blobs, batch=self.batch_size)
        known_path = settings.get("ONIONWATCH_KNOWN_URLS")
        if capture is not None and known_path:
            from crawler.known import KnownUrls

            fingerprinter = crawler.request_fingerprinter
            self.known = KnownUrls(known_path, capture.journal, lambda url: fingerprinter.fingerprint(Request(url)).hex())
        self.pending: list[tuple[dict, asyncio.Future]] = []
        self.timer: asyncio.TimerHandle | None = None
        self.lock = asyncio.Lock()
        self.tasks: set[asyncio.Future] = set()

    @classmethod
    def from_crawler(cls, crawler):
        if crawler.settings.get("ONIONWATCH_OUTPUT"):
            sink = JsonlSink.from_crawler(crawler)
        else:
            sink = _build(crawler, "ONIONWATCH_SINK")
            if sink is None:
                raise RuntimeError("no store: set ONIONWATCH_SINK (e.g. index.sink.IndexSink) or ONIONWATCH_OUTPUT")
        capture = None
        if crawler.settings.get("ONIONWATCH_CAPTURE_LOG"):
            try:
                capture = build_from_crawler(load_object(crawler.settings.get("ONIONWATCH_CAPTURE_LOG")), crawler)
            except NotConfigured:
                capture = None  # no journal directory given: no capture log
        return cls(crawler, sink, _build(crawler, "ONIONWATCH_ENRICHER"), capture, _build_processors(crawler))

    def open_spider(self, spider=None) -> None:
        if self.indexer is not None:
            self.indexer.start()  # first replays what an earlier run journaled but did not see indexed

    async def process_item(self, item):
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending.append((item, future))
        if len(self.pending) >= self.batch_size:
            self._flush_now()
        elif self.timer is None:
            self.timer = loop.call_later(self.max_wait, self._flush_now)
        error = await future
        if error:
            self.stats.inc_value("onionwatch/store_failed")
            raise DropItem(f"not stored: {error}")
        self.stats.inc_value("onionwatch/stored")
        return item

    def _flush_now(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        batch, self.pending = self.pending, []
        if batch:
            task = asyncio.ensure_future(self._store(batch))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _store(self, batch: list[tuple[dict, asyncio.Future]]) -> None:
        records = [item for item, _ in batch]
        async with self.lock:  # one batch in the store at a time keeps memory bounded
            try:
                errors = await asyncio.to_thread(self._enrich_and_store, records)
            except Exception as exc:  # noqa: BLE001 - the whole batch failed: every item says so
                logger.error("store failed for a batch of %d: %s", len(records), exc)
                errors = [f"{type(exc).__name__}: {exc}"] * len(records)
        failed = [e for e in errors if e]
        if failed:
            logger.warning("%d of %d records not stored, e.g. %s", len(failed), len(records), failed[0][:300])
        for (_, future), error in zip(batch, errors, strict=True):
            if not future.done():
                future.set_result(error)

    def _enrich_and_store(self, records: list[dict]) -> list[str | None]:
        """Enrich, cut to the record's shape, journal (fsynced); then store directly, or leave
        it to the journal's indexer. One error (or None) per record."""
        if self.enrich is not None:
            self.enrich(records)
        for proc in self.processors:
            proc(records)
        for record in records:  # whatever the enricher added on the side is not stored
            cut = shape(record)
            cut.update((k, record[k]) for k in self.extra_fields if k in record)
            record.clear()
            record.update(cut)
        if self.capture is not None:  # journaled (fsynced) before the store sees it
            seqs = self.capture.append(records, enricher=self.enrich)
            self.stats.inc_value("onionwatch/journaled", len(seqs))
            if self.known is not None:
                try:
                    self.known.add(records, seqs)
                except Exception as exc:  # noqa: BLE001 - derived from the journal: the next start catches up
                    logger.warning("known-URL table not updated (%s); it catches up from the journal next time", exc)
        if self.indexer is not None:
            self.indexer.wake()
            return [None] * len(records)
        return self.sink.store(records)

    async def close_spider(self, spider=None) -> None:
        self._flush_now()
        while self.tasks:
            await asyncio.gather(*list(self.tasks))
        try:
            if self.indexer is not None:
                report = await asyncio.to_thread(self.indexer.finish, self.index_wait)
                self.stats.set_value("onionwatch/index", report)
                if report["caught_up"] and report["indexed"]:
                    try:
                        await asyncio.to_thread(self.sink.refresh)  # searchable when the command returns
                    except Exception as exc:  # noqa: BLE001 - visibility only; everything is stored
                        logger.debug("refresh after the crawl failed: %s", exc)
        finally:
            self.sink.close()
            if self.capture is not None:
                self.capture.close()
            if self.known is not None:
                self.known.close()
