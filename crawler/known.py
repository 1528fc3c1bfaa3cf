"""What the journal says we already know: URLs per onion across crawls, and per crawl id.

The journal (crawler.capture) is the one record of what was fetched. Two things are derived
from it, in a small SQLite file beside the crawl state (ONIONWATCH_KNOWN_URLS):

* per onion, the URLs ever journaled (fetched or failed): the per-onion page cap counts
  these, so a crawler trap stays capped across runs — a re-run may fetch a known URL again
  (its content may have changed) but no new trap page once the onion is at its cap;
* per crawl id, the URLs journaled under it: a resumed job (``--jobdir``) counts exactly
  these as seen, and nothing else — a page fetched but not journaled before a crash is
  fetched again.

The table is a journal consumer: it records the journal seq it has applied, catches up
from the journal on open (after a crash, or when deleted: rebuilt from seq 1), and is
updated by the store pipeline right after each journal append.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from journal import Journal
from journal.consumer import iterate_labelled

SCHEMA = """
CREATE TABLE IF NOT EXISTS urls (onion TEXT NOT NULL, fp TEXT NOT NULL, PRIMARY KEY (onion, fp)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS crawl_urls (crawl TEXT NOT NULL, fp TEXT NOT NULL, PRIMARY KEY (crawl, fp)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def segment_label(crawl_id: str) -> str:
    """The journal segment label a crawl id gets (crawler.capture.CaptureLog.spider_opened)."""
    return "".join(c if c.isalnum() or c in "_.-" else "_" for c in str(crawl_id or "crawl"))[:64] or "crawl"


class KnownUrls:
    """The derived table (see the module docstring). ``fingerprint(url)`` must be the
    dupefilter's, so a URL is the same key here and there."""

    def __init__(self, path: str | Path, journal: Journal, fingerprint: Callable[[str], str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.journal = journal
        self.fingerprint = fingerprint
        self._lock = threading.Lock()
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.path.chmod(0o600)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # the journal is the durable record; this is rebuilt from it
        self.db.executescript(SCHEMA)

    def applied_seq(self) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()
        return int(row[0]) if row else 0

    def _rows(self, payloads: Iterable[dict[str, Any]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        urls, crawls = [], []
        for p in payloads:
            url, onion = p.get("url"), p.get("onion")
            if not url or not onion:
                continue
            fp = self.fingerprint(url)
            urls.append((onion, fp))
            crawls.append((str(p.get("crawl_id") or ""), fp))
        return urls, crawls

    def add(self, payloads: Iterable[dict[str, Any]], seqs: list[int] | None = None) -> None:
        """Record journaled captures/failures; ``seqs`` (their journal seqs) move the applied
        mark when they follow on from it (another process's entries in between: the next
        open catches up)."""
        urls, crawls = self._rows(payloads)
        with self._lock:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR IGNORE INTO urls VALUES (?, ?)", urls)
            self.db.executemany("INSERT OR IGNORE INTO crawl_urls VALUES (?, ?)", crawls)
            if seqs and seqs == list(range(seqs[0], seqs[0] + len(seqs))) and seqs[0] == self.applied_seq() + 1:
                self.db.execute("INSERT OR REPLACE INTO meta VALUES ('seq', ?)", (str(seqs[-1]),))
            self.db.execute("COMMIT")

    def catch_up(self, batch: int = 1000) -> int:
        """Apply every journal entry after the applied mark; returns how many."""
        start = self.applied_seq() + 1
        n, chunk, last = 0, [], start - 1
        for entry in self.journal.iterate(start):
            if entry.kind in ("capture", "failure") and isinstance(entry.payload, dict):
                chunk.append(entry.payload)
            last = entry.seq
            if len(chunk) >= batch:
                n += self._apply(chunk, last)
                chunk = []
        n += self._apply(chunk, last)
        return n

    def _apply(self, payloads: list[dict[str, Any]], last: int) -> int:
        urls, crawls = self._rows(payloads)
        with self._lock:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR IGNORE INTO urls VALUES (?, ?)", urls)
            self.db.executemany("INSERT OR IGNORE INTO crawl_urls VALUES (?, ?)", crawls)
            if last > self.applied_seq():
                self.db.execute("INSERT OR REPLACE INTO meta VALUES ('seq', ?)", (str(last),))
            self.db.execute("COMMIT")
        return len(payloads)

    def counts(self) -> dict[str, int]:
        """Known URLs per onion, now."""
        with self._lock:
            return dict(self.db.execute("SELECT onion, COUNT(*) FROM urls GROUP BY onion").fetchall())

    def contains(self, onion: str, fp: str) -> bool:
        with self._lock:
            return self.db.execute("SELECT 1 FROM urls WHERE onion = ? AND fp = ?", (onion, fp)).fetchone() is not None

    def of_crawl(self, crawl_id: str) -> set[str]:
        """Fingerprints journaled under one crawl id (a job being resumed)."""
        with self._lock:
            return {r[0] for r in self.db.execute("SELECT fp FROM crawl_urls WHERE crawl = ?", (crawl_id,))}

    def close(self) -> None:
        with self._lock:
            self.db.close()


def journaled_pages(journal_dir: str | Path, crawl_id: str) -> Iterator[dict[str, Any]]:
    """The fetched pages a crawl journaled (payloads of its ``capture`` entries), in order:
    a resumed job follows their links again to rebuild its frontier."""
    root = Path(journal_dir)
    if not (root / "segments").is_dir():
        return
    label = segment_label(crawl_id)
    for entry in iterate_labelled(Journal(root), label):
        p = entry.payload
        if entry.kind == "capture" and isinstance(p, dict) and p.get("crawl_id") == crawl_id:
            yield p


def read_job(jobdir: str | Path) -> dict[str, Any] | None:
    path = Path(jobdir) / "job.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_job(jobdir: str | Path, job: dict[str, Any]) -> None:
    d = Path(jobdir)
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = d / ".job.json.tmp"
    tmp.write_text(json.dumps(job, indent=2))
    tmp.replace(d / "job.json")
