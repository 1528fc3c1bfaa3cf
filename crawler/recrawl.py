"""Recrawl policy: which known onions and pages to revisit first, and conditional requests.

Every crawl records, per fetched page, its body hash, validators (ETag, Last-Modified), when
it was fetched and checked, and how often its hash changed (``RecrawlRecorder``, an
extension, into a SQLite file: ONIONWATCH_RECRAWL_STATE). ``onionwatch crawl --recrawl``
then revisits in this order (``plan``):

1. new onions (linked from a page we have, never fetched) — their front page;
2. known pages by how overdue they are: ``(now - last checked) / interval``, where the
   interval halves with every change of the page's hash seen so far and is divided by its
   category's weight (markets and leak sites before others).

Requests carry If-None-Match / If-Modified-Since when the site sent validators; a 304 is
"unchanged" (checked time updated, no record, no new version), never a failure. Budgets:
pages (the plan is cut) and time (CLOSESPIDER_TIMEOUT).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import scrapy
from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler.onion import onion_of_url
from crawler.spiders.onion import OnionSpider, root_url

# Category weights: an interval is divided by its page's weight (higher: revisited sooner).
CATEGORY_WEIGHTS = {"market": 4.0, "leak": 4.0, "data_leak": 4.0, "drugs": 2.0, "wildlife": 2.0, "forum": 1.5}
BASE_INTERVAL = 86400.0
MAX_HALVINGS = 6

SCHEMA = """
CREATE TABLE IF NOT EXISTS pages (url TEXT PRIMARY KEY, onion TEXT NOT NULL, sha256 TEXT, etag TEXT,
  last_modified TEXT, fetched_at REAL, checked_at REAL NOT NULL, fetches INTEGER NOT NULL DEFAULT 0,
  changes INTEGER NOT NULL DEFAULT 0, unchanged INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS onions (onion TEXT PRIMARY KEY, first_seen REAL NOT NULL, categories TEXT);
"""


class RecrawlState:
    """What the recrawl policy knows per page and onion (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock = threading.Lock()
        os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))  # SQLite gives its -wal/-shm the same mode
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    def fetched(self, url: str, sha256: str, etag: str | None, last_modified: str | None,
                now: float | None = None) -> bool:
        """A 200 for ``url``; returns True when its hash differs from the last one (a change)."""
        now = time.time() if now is None else now
        onion = onion_of_url(url) or ""
        with self._lock:
            row = self.db.execute("SELECT sha256 FROM pages WHERE url = ?", (url,)).fetchone()
            changed = bool(row and row[0] and row[0] != sha256)
            self.db.execute(
                "INSERT INTO pages (url, onion, sha256, etag, last_modified, fetched_at, checked_at, fetches, changes) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 1, 0) ON CONFLICT(url) DO UPDATE SET sha256 = excluded.sha256, "
                "etag = excluded.etag, last_modified = excluded.last_modified, fetched_at = excluded.fetched_at, "
                "checked_at = excluded.checked_at, fetches = fetches + 1, changes = changes + ?",
                (url, onion, sha256, etag, last_modified, now, now, int(changed)))
            self.db.execute("INSERT OR IGNORE INTO onions (onion, first_seen) VALUES (?, ?)", (onion, now))
        return changed

    def unchanged(self, url: str, now: float | None = None) -> None:
        """A 304: checked now, same version."""
        now = time.time() if now is None else now
        with self._lock:
            self.db.execute("UPDATE pages SET checked_at = ?, unchanged = unchanged + 1 WHERE url = ?", (now, url))

    def seen_onions(self, onions: list[str], categories: list[str] | None = None, source: str | None = None,
                    now: float | None = None) -> None:
        """Onions linked from a page (new ones are recrawled first); a page's categories go to its onion."""
        now = time.time() if now is None else now
        with self._lock:
            self.db.executemany("INSERT OR IGNORE INTO onions (onion, first_seen) VALUES (?, ?)",
                                [(o, now) for o in onions])
            if source and categories:
                self.db.execute("UPDATE onions SET categories = ? WHERE onion = ?", (",".join(sorted(categories)), source))

    def page(self, url: str) -> dict[str, Any] | None:
        cur = self.db.execute("SELECT * FROM pages WHERE url = ?", (url,))
        row = cur.fetchone()
        return dict(zip([d[0] for d in cur.description], row)) if row else None

    def close(self) -> None:
        self.db.close()


@dataclass(frozen=True)
class Visit:
    url: str
    reason: str  # new_onion | due
    score: float
    headers: Mapping[str, str]


def plan(state: RecrawlState, *, now: float | None = None, max_pages: int | None = None,
         base_interval: float = BASE_INTERVAL, weights: Mapping[str, float] = CATEGORY_WEIGHTS,
         onions: set[str] | None = None) -> list[Visit]:
    """The revisit order (module docstring), cut to ``max_pages``; ``onions`` limits it to those."""
    now = time.time() if now is None else now
    cats = {o: (c or "").split(",") for o, c in state.db.execute("SELECT onion, categories FROM onions")}
    fetched = {o for (o,) in state.db.execute("SELECT DISTINCT onion FROM pages")}
    visits = [Visit(root_url(o), "new_onion", float("inf"), {}) for o in sorted(cats)
              if o not in fetched and o and (onions is None or o in onions)]
    rows = state.db.execute("SELECT url, onion, etag, last_modified, checked_at, changes FROM pages")
    due = []
    for url, onion, etag, last_modified, checked_at, changes in rows:
        if onions is not None and onion not in onions:
            continue
        weight = max([weights.get(c, 1.0) for c in cats.get(onion, []) if c] or [1.0])
        interval = base_interval * 0.5 ** min(changes, MAX_HALVINGS) / weight
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        due.append(Visit(url, "due", (now - checked_at) / interval, headers))
    due.sort(key=lambda v: (-v.score, v.url))
    out = visits + due
    return out[:max_pages] if max_pages else out


class RecrawlRecorder:
    """Extension: keeps the RecrawlState up to date from every response and scraped page."""

    def __init__(self, state: RecrawlState) -> None:
        self.state = state

    @classmethod
    def from_crawler(cls, crawler):
        path = crawler.settings.get("ONIONWATCH_RECRAWL_STATE")
        if not path:
            raise NotConfigured
        ext = cls(RecrawlState(path))
        crawler.signals.connect(ext.response_received, signal=signals.response_received)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        ext.stats = crawler.stats
        return ext

    def response_received(self, response, request, spider) -> None:
        url = (request.meta.get("redirect_urls") or [request.url])[0]
        if response.status == 304:
            self.state.unchanged(url)
            self.stats.inc_value("onionwatch/recrawl/unchanged")
        elif response.status == 200:
            import hashlib

            h = response.headers
            changed = self.state.fetched(url, hashlib.sha256(response.body).hexdigest(),
                                         (h.get("ETag") or b"").decode("latin-1") or None,
                                         (h.get("Last-Modified") or b"").decode("latin-1") or None)
            if changed:
                self.stats.inc_value("onionwatch/recrawl/changed")

    def item_scraped(self, item, response, spider) -> None:
        if isinstance(item, dict) and item.get("onion"):
            self.state.seen_onions(list(item.get("onion_links") or []), list(item.get("categories") or []),
                                   source=item["onion"])

    def spider_closed(self, spider) -> None:
        self.state.close()


class RecrawlSpider(OnionSpider):
    """The onion spider revisiting by plan: no link following (revisits only), the plan's
    order as request priority, validators as conditional headers, a 304 not a failure."""

    name = "onion-recrawl"

    def __init__(self, *args, max_pages: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_pages = int(max_pages) if max_pages else None

    async def start(self):
        self._configure()
        self.follow = self.discover = False
        s = self.crawler.settings
        state = RecrawlState(s.get("ONIONWATCH_RECRAWL_STATE"))
        only = {onion_of_url(u) for u in self.seed_urls} - {None} or None
        visits = plan(state, max_pages=self.max_pages, onions=only)
        state.close()
        logger_info = f"recrawl: {len(visits)} pages planned"
        self.logger.info(logger_info)
        for i, v in enumerate(visits):
            self.onions_seen.add(onion_of_url(v.url) or "")
            yield scrapy.Request(v.url, callback=self.revisit, errback=self.failed, headers=dict(v.headers),
                                 priority=len(visits) - i, dont_filter=True,
                                 meta={"handle_httpstatus_list": [304], "recrawl": v.reason})

    def revisit(self, response):
        if response.status == 304:
            return  # unchanged: recorded by RecrawlRecorder, no new version
        yield from self.parse(response)
