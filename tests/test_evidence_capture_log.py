"""The capture log in the crawl's store pipeline: every record, fetched or failed, is journaled
(masked, fsynced) before the store sees it; nothing unmasked is ever journaled."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import ClassVar

from scrapy.utils.test import get_crawler

from crawler import settings as project
from crawler.pipelines import StorePipeline
from crawler.spiders.onion import OnionSpider
from journal import Journal
from tests.test_evidence_data import MARKET

PROJECT = {k: getattr(project, k) for k in dir(project) if k.isupper()}
EMAIL = "buyer.one@example.org"


class JournalCheckingSink:
    """Records, at store time, how far the journal already went."""

    seen_head: ClassVar[list[int]] = []

    def __init__(self, journal_dir: str) -> None:
        self.journal_dir = journal_dir

    @classmethod
    def from_crawler(cls, crawler) -> JournalCheckingSink:
        return cls(crawler.settings.get("ONIONWATCH_JOURNAL_DIR"))

    def store(self, records: list[dict]) -> list[str | None]:
        JournalCheckingSink.seen_head.append(Journal(self.journal_dir).head()[0])
        return ["index down"] * len(records)

    def close(self) -> None:
        pass


def records() -> list[dict]:
    body = f"<p>Contact {EMAIL} for the list</p>".encode()
    return [
        {"url": f"http://{MARKET}/leak", "onion": MARKET, "fetched_at": "2026-11-22T10:00:00Z", "status": 200,
         "failure": None, "content_type": "text/html", "title": "Leak", "text": f"Contact {EMAIL} for the list",
         "links": [], "onion_links": [], "lang": "en", "sha256": hashlib.sha256(body).hexdigest(), "size": len(body),
         "raw": body, "depth": 1, "crawl_id": "c1"},
        {"url": f"http://{MARKET}/gone", "onion": MARKET, "fetched_at": "2026-11-22T10:00:01Z", "status": None,
         "failure": "timeout", "content_type": "", "title": "", "text": "", "links": [], "onion_links": [],
         "lang": "und", "sha256": "", "size": 0, "raw": b"", "depth": 1, "crawl_id": "c1"},
    ]


def pipeline(tmp_path: Path, **extra: object) -> StorePipeline:
    settings = dict(PROJECT, ONIONWATCH_SINK=f"{__name__}.JournalCheckingSink",
                    ONIONWATCH_CAPTURE_LOG="crawler.capture.CaptureLog", ONIONWATCH_JOURNAL_DIR=str(tmp_path / "j"),
                    ONIONWATCH_TOR_SOCKS=["127.0.0.1:9050", "127.0.0.1:9052"], ONIONWATCH_TOR_CONTROL=[],
                    ONIONWATCH_TOR_VERSION="0.4.8.13", **extra)
    p = StorePipeline.from_crawler(get_crawler(OnionSpider, settings))
    p.capture.spider_opened(type("S", (), {"crawl_id": "c1"})())
    return p


def test_masked_records_are_journaled_before_the_store(tmp_path: Path) -> None:
    p = pipeline(tmp_path, ONIONWATCH_ENRICHER="enrich.records.RecordEnricher", ONIONWATCH_PII_KEY="k")
    JournalCheckingSink.seen_head.clear()
    errors = p._enrich_and_store(records())
    assert errors == ["index down", "index down"]  # the index failed ...
    assert JournalCheckingSink.seen_head == [2]  # ... but both were journaled before it was asked
    p.capture.close()
    j = Journal(tmp_path / "j")
    entries = list(j.iterate())
    assert [e.kind for e in entries] == ["capture", "failure"] and j.verify() is None
    assert j.segments()[0].name == "000000000001-c1.jsonl"
    cap = entries[0].payload
    assert cap["sha256"] == records()[0]["sha256"] and cap["size"] == records()[0]["size"] and "raw" not in cap
    assert cap["tor"]["socks"] in ("127.0.0.1:9050", "127.0.0.1:9052") and cap["tor"]["version"] == "0.4.8.13"
    assert cap["tor"]["isolation"] and cap["tagger"] and cap["crawl_id"] == "c1"
    assert EMAIL not in cap["text"] and any(e["label"] == "EMAIL_ADDRESS" for e in cap["entities"])
    assert entries[1].payload["failure"] == "timeout"
    for f in (tmp_path / "j").rglob("*"):
        if f.is_file():
            assert EMAIL.encode() not in f.read_bytes(), f


def test_unenriched_crawl_journals_facts_only(tmp_path: Path) -> None:
    p = pipeline(tmp_path, ONIONWATCH_ENRICHER=None)
    p._enrich_and_store(records())
    p.capture.close()
    entry = next(Journal(tmp_path / "j").iterate())
    assert entry.payload["unmasked_fields_withheld"] is True and "text" not in entry.payload
    assert "title" not in entry.payload and entry.payload["sha256"] == records()[0]["sha256"]


def test_no_journal_dir_means_no_capture_log(tmp_path: Path) -> None:
    settings = dict(PROJECT, ONIONWATCH_SINK=f"{__name__}.JournalCheckingSink", ONIONWATCH_ENRICHER=None,
                    ONIONWATCH_CAPTURE_LOG="crawler.capture.CaptureLog")
    assert StorePipeline.from_crawler(get_crawler(OnionSpider, settings)).capture is None
