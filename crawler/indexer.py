"""The index, derived from the crawl's journal.

The crawl acknowledges a page once its masked record is journaled (crawler.capture); this
consumer (journal.consumer.Consumer) then delivers journaled records to a sink that says it
is fed from the journal (``sink.journaled``, e.g. index.sink.IndexSink) and moves the sink's
marker only when the sink confirms it *kept* them (``durable_after`` + ``identity``). While
Elasticsearch is unreachable the crawl goes on into the journal; this says so once, backs
off, and catches up when it is back. On start it first replays what an earlier run left
unconfirmed. ``onionwatch index rebuild --from-journal`` uses the same class.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from crawler.capture import indexable, record_from_entry
from journal import Entry, Journal
from journal.blobs import BlobStore
from journal.consumer import Consumer, Unavailable

logger = logging.getLogger(__name__)


class JournalIndexer:
    """Delivers a journal's indexable entries to a sink with ``store_batch``, ``durable_after``,
    ``identity`` and ``consumer_name`` (index.sink.IndexSink)."""

    def __init__(self, journal: Journal, sink: Any, blobs: BlobStore | None, *, batch: int = 200,
                 start_seq: int | None = None, select: Callable[[dict[str, Any]], bool] | None = None,
                 max_wait: float = 5.0, target: str = "Elasticsearch") -> None:
        self.journal = journal
        self.sink = sink
        self.blobs = blobs
        self.target = target
        self.body_problems = 0
        self._select = select
        self.consumer = Consumer(
            journal, sink.consumer_name, self._deliver, batch=batch,
            durable_after=float(getattr(sink, "durable_after", 0.0) or 0.0),
            identity=getattr(sink, "identity", None), select=self._indexable, start_seq=start_seq,
            max_wait=max_wait, on_event=self._event,
        )

    def _indexable(self, entry: Entry) -> bool:
        return (entry.kind in ("capture", "failure") and indexable(entry.payload)
                and (self._select is None or self._select(entry.payload)))

    def _deliver(self, entries: list[Entry]) -> list[str | None]:
        records = []
        for e in entries:
            record, problem = record_from_entry(e.payload, self.blobs)
            if problem:
                self.body_problems += 1
                if self.body_problems == 1:
                    logger.warning("journal seq %d: body not readable (%s); the page is indexed without it", e.seq, problem)
            records.append(record)
        errors, retry = self.sink.store_batch(records)
        if retry:
            raise Unavailable(next((err for err in errors if err), "the store asked to try again"))
        return errors

    def _event(self, event: str, info: dict[str, Any]) -> None:
        if event == "unavailable":
            logger.warning("%s unreachable (%s): crawling on into the journal; %d journaled entries will be indexed "
                           "when it is back", self.target, _short(info["reason"]), info["pending"])
        elif event == "available":
            logger.info("%s is back after %.1f s: indexing %d journaled entries", self.target,
                        info["after_seconds"], info["pending"])
        elif event == "replay":
            reset = getattr(self.sink, "reset", None)
            if reset is not None:
                reset()  # a restarted server may have lost its layout too
            logger.warning("%s restarted before it had kept what it acknowledged: sending again from journal seq %d",
                           self.target, info["from_seq"])

    # -- the crawl's life cycle --------------------------------------------------------------
    def start(self) -> None:
        pending = self.consumer.pending()
        if pending:
            logger.info("indexing %d entries an earlier crawl journaled but did not see indexed", pending)
        self.consumer.start()

    def wake(self) -> None:
        self.consumer.wake()

    def finish(self, timeout: float) -> dict[str, Any]:
        """Wait (at most ``timeout`` s) until everything journaled is indexed; what happened."""
        c = self.consumer
        if not c.caught_up() and c.progress.unavailable_since is not None:
            logger.warning("waiting up to %.0f s for %s to index %d journaled entries", timeout, self.target,
                           c.pending())
        done = c.drain(timeout)
        return self.report(done)

    def catch_up(self, timeout: float) -> dict[str, Any]:
        return self.report(self.consumer.catch_up(timeout))

    def _urls(self, from_seq: int, limit: int = 5) -> list[str]:
        """The first few URLs journaled from ``from_seq`` on that the index should hold."""
        out: list[str] = []
        for entry in self.journal.iterate(from_seq):
            if self._indexable(entry):
                out.append(str(entry.payload.get("url")))
                if len(out) >= limit:
                    break
        return out

    def report(self, done: bool) -> dict[str, Any]:
        c = self.consumer
        rejections = c.rejected()[-20:] if c.progress.rejected else []
        for r in rejections[:5]:
            entry = self.journal.get(int(r["seq"]))
            r["url"] = entry.payload.get("url") if entry is not None and isinstance(entry.payload, dict) else None
        pending = c.pending()
        return {
            "caught_up": done,
            "indexed": c.progress.delivered,
            "pending": pending,
            "pending_from_seq": c.progress.confirmed_seq + 1,
            "pending_urls": self._urls(c.progress.confirmed_seq + 1) if pending else [],
            "rejected": c.progress.rejected,
            "rejections": rejections,
            "replays": c.progress.replays,
            "outage_seconds": [round(x, 1) for x in c.progress.outages],
            "unavailable": c.progress.unavailable_since is not None,
            "last_error": c.progress.last_error,
            "bodies_missing": self.body_problems,
        }


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "…"
