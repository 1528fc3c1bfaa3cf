"""The item pipeline: tag (enrich) → mask PII → store (index), in batches.

An item is acknowledged to Scrapy only after the batch holding it is stored: the
coroutine awaits the batch's outcome, so a crash or a rejected write never counts
a page as collected that isn't. Storage runs in a worker thread so tagging and
bulk I/O don't stall the crawl's event loop."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any, Protocol

from scrapy.exceptions import DropItem

logger = logging.getLogger(__name__)


class Sink(Protocol):
    """Where enriched records go. `store` returns one error (or None) per record."""

    def store(self, records: list[dict[str, Any]]) -> list[str | None]: ...

    def close(self) -> None: ...


class JsonlSink:
    """A file of records (raw bytes left out) — for `crawl --output` and debugging."""

    def __init__(self, path: str) -> None:
        self.fh = open(path, "a", encoding="utf-8")

    def store(self, records: list[dict[str, Any]]) -> list[str | None]:
        for record in records:
            self.fh.write(json.dumps({k: v for k, v in record.items() if k != "raw"}, ensure_ascii=False) + "\n")
        self.fh.flush()
        return [None] * len(records)

    def close(self) -> None:
        self.fh.close()


# The stored entity shape (docs/record.md); anything else the tagger adds stays out.
ENTITY_FIELDS = ("label", "start", "end", "score", "masked", "hash")


class Enricher:
    """Tags text and replaces PII in place with masked values plus keyed hashes."""

    def __init__(self, key: bytes) -> None:
        from enrich import Tagger

        self.tagger = Tagger.load()
        self.key = key

    def __call__(self, records: list[dict[str, Any]]) -> None:
        from enrich import protect

        todo = [r for r in records if not r.get("failure") and r.get("text")]
        results = self.tagger.tag_many([r["text"] for r in todo])
        for record, result in zip(todo, results):
            text, entities = protect(record["text"], result["entities"], self.key)
            record.update(
                text=text,
                entities=[{k: e.get(k) for k in ENTITY_FIELDS} for e in entities],
                categories=result["categories"],
                offers=result.get("offers", []),
                evidence=result.get("evidence", []),
            )
            if result.get("lang") and result["lang"] != "und":
                record["lang"] = result["lang"]
        for record in records:
            for field in ("categories", "entities", "offers", "evidence"):
                record.setdefault(field, [])


# Components are built by the composition root (onionwatch crawl) and handed over
# through this hook, so the crawler never imports onionwatch/.
SINK_FACTORY: Callable[[Any], Sink] | None = None
ENRICHER_FACTORY: Callable[[Any], Callable[[list[dict]], None]] | None = None


class StorePipeline:
    def __init__(self, crawler) -> None:  # noqa: ANN001
        settings = crawler.settings
        self.stats = crawler.stats
        self.batch_size = settings.getint("ONIONWATCH_STORE_BATCH")
        self.max_wait = settings.getfloat("ONIONWATCH_STORE_MAX_WAIT")
        output = settings.get("ONIONWATCH_OUTPUT")
        if SINK_FACTORY is not None:
            self.sink: Sink = SINK_FACTORY(settings)
        elif output:
            self.sink = JsonlSink(output)
        else:
            raise RuntimeError("no sink: set ONIONWATCH_OUTPUT or run through `onionwatch crawl`")
        if ENRICHER_FACTORY is not None:
            self.enrich = ENRICHER_FACTORY(settings)
        elif settings.getbool("ONIONWATCH_ENRICH", True):
            self.enrich = Enricher(settings.get("ONIONWATCH_PII_KEY", "").encode() or _no_key())
        else:
            self.enrich = lambda records: None
        self.pending: list[tuple[dict, asyncio.Future]] = []
        self.timer: asyncio.TimerHandle | None = None
        self.lock = asyncio.Lock()
        self.tasks: set[asyncio.Future] = set()

    @classmethod
    def from_crawler(cls, crawler):  # noqa: ANN001, ANN206
        return cls(crawler)

    async def process_item(self, item):  # noqa: ANN001, ANN201
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
            except Exception as exc:  # the whole batch failed: every item says so
                logger.error("store failed for a batch of %d: %s", len(records), exc)
                errors = [f"{type(exc).__name__}: {exc}"] * len(records)
        for (_, future), error in zip(batch, errors):
            if not future.done():
                future.set_result(error)

    def _enrich_and_store(self, records: list[dict]) -> list[str | None]:
        self.enrich(records)
        return self.sink.store(records)

    async def close_spider(self, spider=None) -> None:  # noqa: ANN001
        self._flush_now()
        while self.tasks:
            await asyncio.gather(*list(self.tasks))
        self.sink.close()


def _no_key() -> bytes:
    raise RuntimeError("ONIONWATCH_PII_KEY is required to store personal data as keyed hashes")
