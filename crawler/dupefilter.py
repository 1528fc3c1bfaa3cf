"""Which requests to make: in-run duplicates, a resumed job's journaled pages, the page cap.

The per-onion page cap lives in the dupefilter: it is the one place that sees each unique
request exactly once, so links repeated on every page (navigation) don't use up an onion's
budget, and a crawler trap stops at the cap.

Nothing here is remembered on its own: what counts as already fetched comes from the
journal (crawler.known), never from a fingerprint file written when a request was merely
scheduled — Scrapy's ``requests.seen`` would outlive a page that was never stored. So:

* a request is seen if this run scheduled it already, or if a job being resumed
  (ONIONWATCH_JOBDIR) has it in the journal;
* the cap counts, per onion, the URLs the journal knows from every earlier crawl
  (ONIONWATCH_KNOWN_URLS) plus the new ones this run scheduled: a known URL may be fetched
  again, a new one only while the onion is under ONIONWATCH_MAX_PAGES_PER_ONION.
"""

from __future__ import annotations

import logging

from scrapy import Request
from scrapy.dupefilters import BaseDupeFilter

from crawler.onion import onion_of_url

logger = logging.getLogger(__name__)


class OnionCapDupeFilter(BaseDupeFilter):
    """Scrapy's duplicate filter (request fingerprints, REQUEST_FINGERPRINTER_CLASS) kept in
    memory for the run, seeded from the journal; plus the per-onion page cap."""

    def __init__(self, fingerprinter, cap: int, stats, debug: bool = False) -> None:
        self.fingerprinter = fingerprinter
        self.cap = cap
        self.stats = stats
        self.debug = debug
        self.seen: set[str] = set()
        self.known = None  # crawler.known.KnownUrls
        self.known_counts: dict[str, int] = {}
        self.new_counts: dict[str, int] = {}
        self.resumed = 0

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        df = cls(crawler.request_fingerprinter, s.getint("ONIONWATCH_MAX_PAGES_PER_ONION"), crawler.stats,
                 s.getbool("DUPEFILTER_DEBUG"))
        known_path, journal_dir = s.get("ONIONWATCH_KNOWN_URLS"), s.get("ONIONWATCH_JOURNAL_DIR")
        if known_path and journal_dir:
            from crawler.known import KnownUrls
            from journal import Journal

            df.known = KnownUrls(known_path, Journal(journal_dir), df.url_fingerprint)
            df.known.catch_up()
            df.known_counts = df.known.counts()
            crawl_id = s.get("ONIONWATCH_CRAWL_ID")
            if s.get("ONIONWATCH_JOBDIR") and crawl_id:
                journaled = df.known.of_crawl(crawl_id)
                df.seen.update(journaled)
                df.resumed = len(journaled)
        return df

    def fingerprint(self, request: Request) -> str:
        return self.fingerprinter.fingerprint(request).hex()

    def url_fingerprint(self, url: str) -> str:
        """The fingerprint of a plain GET of ``url`` (what a journaled record's URL was)."""
        return self.fingerprint(Request(url))

    def close(self, reason: str) -> None:
        if self.known is not None:
            self.known.close()

    def request_seen(self, request: Request) -> bool:
        fp = self.fingerprint(request)
        if fp in self.seen:
            return True
        onion = onion_of_url(request.url) or ""
        if self.known is None or not self.known.contains(onion, fp):
            count = self.known_counts.get(onion, 0) + self.new_counts.get(onion, 0)
            if count >= self.cap:
                self.stats.inc_value("onionwatch/caps/pages")
                return True
            self.new_counts[onion] = self.new_counts.get(onion, 0) + 1
        self.seen.add(fp)
        return False

    def log(self, request: Request, spider) -> None:
        if self.debug:
            logger.debug("filtered duplicate request: %s", request)
        self.stats.inc_value("dupefilter/filtered")
