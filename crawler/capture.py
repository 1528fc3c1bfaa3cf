"""The capture log: every record the crawl produces, fetched or failed, appended to the
hash-chained journal (journal/) and fsynced before the store sees it.

Named by import path (ONIONWATCH_CAPTURE_LOG = "crawler.capture.CaptureLog") and built with
build_from_crawler by the store pipeline; NotConfigured unless ONIONWATCH_JOURNAL_DIR is set.
An entry's payload is the record as it will be stored — masked by the enricher, without the
raw body (that goes encrypted to the snapshot store, referenced by ``sha256``) — plus the
route it took through Tor and the tagger that masked it. Kind ``capture`` for a fetched page,
``failure`` for a failed fetch. One segment per crawl (``crawl_id``). A crawl without an
enricher (``--no-enrich``) journals only the capture facts (FACTS), never unmasked text.

With ONIONWATCH_SNAPSHOT_KEY set, the raw body goes encrypted into the journal's side store
(journal.blobs, ``<journal>/blobs``) before its entry is appended, and the entry's ``body``
names where: the index can then be rebuilt from the journal alone, snapshots included, and a
crawl keeps its bodies while Elasticsearch is down. ``record_from_entry`` turns an entry
back into the record the store takes.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler.tor import isolation_username
from journal import Journal
from journal.blobs import BlobError, BlobStore

logger = logging.getLogger(__name__)
# What a capture is, without anything a page said: safe to journal even when nothing was masked.
# (links: the URLs a page points at, as the index stores them; a resumed crawl follows them on)
FACTS = ("url", "onion", "fetched_at", "status", "failure", "content_type", "sha256", "size", "depth", "crawl_id",
         "onion_links", "links")
# Keys an entry's payload adds to the record: not part of what the store takes.
ENTRY_ONLY = ("tor", "tagger", "body", "unmasked_fields_withheld")


def tor_version(controls: list[str]) -> str | None:
    """The Tor version on the first control port that answers (None if none does)."""
    from stem.control import Controller

    for ctl in controls:
        host, _, port = ctl.rpartition(":")
        try:
            with Controller.from_port(address=host or "127.0.0.1", port=int(port)) as c:
                c.authenticate()
                return str(c.get_version()).split(" ")[0]
        except Exception as exc:  # noqa: BLE001 - the version is a nice-to-have fact, never a reason to stop
            logger.debug("no Tor version from control port %s: %s", ctl, type(exc).__name__)
    return None


def tagger_version(enricher: Any) -> str | None:
    """What masked and tagged the records: the spaCy pipeline's name and version and a digest
    of the tagger's data (its source directory's files), so a later reader knows exactly which
    lexicons and thresholds were in force."""
    tagger = getattr(enricher, "tagger", None)
    if tagger is None:
        return None
    meta = getattr(getattr(tagger, "nlp", None), "meta", None) or {}
    name = f"{meta.get('lang', 'xx')}_{meta.get('name', 'pipeline')} {meta.get('version', '?')}"
    source = getattr(tagger, "source", None)
    if source is not None and Path(source).exists():
        h = hashlib.sha256()
        root = Path(source)
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for f in files:
            try:
                data = f.read_bytes()
            except OSError:  # vanished while we looked (an editor's temp file): not part of the data
                continue
            h.update(str(f.relative_to(root) if root.is_dir() else f.name).encode() + b"\0")
            h.update(hashlib.sha256(data).digest())
        name += f" data sha256:{h.hexdigest()[:16]}"
    return name


class CaptureLog:
    def __init__(self, journal: Journal, socks: list[str], tor_version: str | None = None,
                 blobs: BlobStore | None = None) -> None:
        self.journal = journal
        self.blobs = blobs
        self.socks = socks
        self.tor_version = tor_version
        self.appended = 0
        self._tagger: tuple[Any, str | None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> CaptureLog:
        s = crawler.settings
        directory = s.get("ONIONWATCH_JOURNAL_DIR")
        if not directory:
            raise NotConfigured("ONIONWATCH_JOURNAL_DIR is not set")
        socks = s.getlist("ONIONWATCH_TOR_SOCKS")
        version = s.get("ONIONWATCH_TOR_VERSION") or tor_version(s.getlist("ONIONWATCH_TOR_CONTROL"))
        key = s.get("ONIONWATCH_SNAPSHOT_KEY")
        blobs = BlobStore(Path(directory) / "blobs", key.encode() if isinstance(key, str) else bytes(key)) if key else None
        log = cls(Journal(directory), socks, version, blobs)
        crawler.signals.connect(log.spider_opened, signal=signals.spider_opened)
        return log

    def spider_opened(self, spider: Any) -> None:
        crawl_id = str(getattr(spider, "crawl_id", "") or "crawl")
        self.journal.roll("".join(c if c.isalnum() or c in "_.-" else "_" for c in crawl_id)[:64] or "crawl")

    def _route(self, onion: str) -> dict[str, Any]:
        """The same onion → Tor instance mapping as the routing middleware, and the SOCKS
        username that isolates the onion's circuits (IsolateSOCKSAuth)."""
        if not self.socks or not onion:
            return {"socks": None, "isolation": None, "version": self.tor_version}
        index = int.from_bytes(hashlib.sha256(onion.encode()).digest()[:4], "big") % len(self.socks)
        return {"socks": self.socks[index], "isolation": isolation_username(onion), "version": self.tor_version}

    def append(self, records: list[dict[str, Any]], enricher: Any = None) -> list[int]:
        """Journal the (masked) records; returns their seqs once they are on disk."""
        if self._tagger is None or self._tagger[0] is not enricher:
            self._tagger = (enricher, tagger_version(enricher))
        tagger = self._tagger[1]
        refs: dict[str, dict[str, Any]] = {}
        if self.blobs is not None:  # bodies first: an entry never names a body that is not on disk
            bodies = {r["sha256"]: r["raw"] for r in records
                      if not r.get("failure") and r.get("raw") and r.get("sha256")}
            refs = self.blobs.put_many(bodies) if bodies else {}
        items = []
        for r in records:
            if enricher is None:  # nothing masked the text: keep only the capture facts
                payload = {k: r.get(k) for k in FACTS}
                payload["unmasked_fields_withheld"] = True
            else:
                payload = {k: v for k, v in r.items() if k != "raw"}
            payload["tor"] = self._route(r.get("onion") or "")
            payload["tagger"] = tagger
            if r.get("sha256") in refs and not r.get("failure"):
                payload["body"] = refs[r["sha256"]]
            items.append(("failure" if r.get("failure") else "capture", payload))
        entries = self.journal.append_many(items)
        self.appended += len(entries)
        return [e.seq for e in entries]

    def close(self) -> None:
        self.journal.close()


def indexable(payload: Any) -> bool:
    """An entry the index is built from: a capture or failure whose text was masked (an
    unenriched crawl journals facts only, nothing to search)."""
    return isinstance(payload, dict) and bool(payload.get("url")) and not payload.get("unmasked_fields_withheld")


def record_from_entry(payload: dict[str, Any], blobs: BlobStore | None) -> tuple[dict[str, Any], str | None]:
    """(the record as the store takes it, a problem reading its body or None). The body
    comes from the journal's side store; without it ``raw`` is None (the page is stored,
    its snapshot is taken to be there already)."""
    record = {k: v for k, v in payload.items() if k not in ENTRY_ONLY}
    record["raw"] = None
    ref = payload.get("body")
    if ref and not payload.get("failure"):
        if blobs is None:
            return record, "no key to read the journal's bodies"
        try:
            record["raw"] = blobs.get(ref, payload.get("sha256") or "")
        except BlobError as exc:
            return record, str(exc)
    return record, None
