"""Dead onions filtered before any HTTP: one descriptor lookup (HSFETCH on the ControlPort)
per address, many at once, and a per-onion back-off so a dead address is not looked up
again until its back-off expires.

Most addresses in any onion directory are dead. Crawled naively each costs a SOCKS
connection that waits for Tor's own descriptor fetch, times the retries; a descriptor
lookup is one small HSDir request whose answer (RECEIVED / FAILED NOT_FOUND) arrives as a
HS_DESC event, so hundreds run in parallel on one control connection.

Only a NOT_FOUND answer (confirmed by a second HSDir when ``confirm`` is set) calls an
onion dead; any other outcome (timeout, rate limit, no HSDir left to ask) is ``unknown`` and
the onion is crawled as before — the filter can only save work, never hide a live site.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

FOUND, NOT_FOUND, UNKNOWN, BACKING_OFF = "found", "not_found", "unknown", "backing_off"

logger = logging.getLogger(__name__)


class BackoffState:
    """Per-onion back-off for dead addresses (SQLite, e.g. $ONIONWATCH_HOME/crawl-state/backoff.sqlite):
    the n-th consecutive dead verdict holds the onion back ``base * factor**(n-1)`` seconds
    (at most ``cap``); a live verdict clears it."""

    def __init__(self, path: str | Path, base: float = 3600.0, factor: float = 2.0, cap: float = 7 * 86400.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.base, self.factor, self.cap = base, factor, cap
        self._lock = threading.Lock()
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.db.execute("CREATE TABLE IF NOT EXISTS backoff (onion TEXT PRIMARY KEY, failures INTEGER NOT NULL, "
                        "next_at REAL NOT NULL, reason TEXT, updated REAL NOT NULL)")

    def waiting(self, onions: Iterable[str], now: float | None = None) -> dict[str, float]:
        """Those of ``onions`` still backing off, with the time their back-off ends."""
        now = time.time() if now is None else now
        wanted = set(onions)
        with self._lock:
            rows = self.db.execute("SELECT onion, next_at FROM backoff WHERE next_at > ?", (now,)).fetchall()
        return {o: t for o, t in rows if o in wanted}

    def dead(self, onion: str, reason: str, now: float | None = None) -> float:
        """Record a dead verdict; returns when the onion may be looked up again."""
        now = time.time() if now is None else now
        with self._lock:
            row = self.db.execute("SELECT failures FROM backoff WHERE onion = ?", (onion,)).fetchone()
            failures = (row[0] if row else 0) + 1
            until = now + min(self.cap, self.base * self.factor ** (failures - 1))
            self.db.execute("INSERT OR REPLACE INTO backoff VALUES (?, ?, ?, ?, ?)", (onion, failures, until, reason, now))
        return until

    def alive(self, onion: str) -> None:
        with self._lock:
            self.db.execute("DELETE FROM backoff WHERE onion = ?", (onion,))

    def record(self, onion: str, verdict: str) -> None:
        """A lookup's verdict: not found starts (or lengthens) the back-off, found clears it;
        no answer changes nothing."""
        if verdict == NOT_FOUND:
            self.dead(onion, "onion_descriptor_not_found")
        elif verdict == FOUND:
            self.alive(onion)

    def failures(self, onion: str) -> int:
        row = self.db.execute("SELECT failures FROM backoff WHERE onion = ?", (onion,)).fetchone()
        return row[0] if row else 0

    def close(self) -> None:
        self.db.close()


class DescriptorLookup:
    """HSFETCH many onions on one control connection, at most ``parallel`` in flight; each
    answer is the first HS_DESC RECEIVED or FAILED event for that address."""

    def __init__(self, control_addr: str, parallel: int = 32, timeout: float = 30.0, confirm: int = 1) -> None:
        self.control_addr = control_addr
        self.parallel = max(1, parallel)
        self.timeout = timeout
        self.confirm = confirm  # extra HSFETCHes (each to another HSDir) before calling an onion dead
        self.lookups = 0
        self.in_flight = self.parallel  # lookups at once, capped by Tor's own limit when run

    def run(self, onions: Iterable[str], on_verdict: Callable[[str, str], None] | None = None) -> dict[str, str]:
        """Every onion's verdict; ``on_verdict(onion, verdict)`` (from a worker thread) as each arrives."""
        from stem.control import Controller, EventType

        host, _, port = self.control_addr.rpartition(":")
        waiting: dict[str, list] = {}  # address without .onion -> [threading.Event, verdict]
        lock = threading.Lock()

        def on_event(event) -> None:
            action = str(event.action)
            if action not in ("RECEIVED", "FAILED"):
                return
            with lock:
                slot = waiting.get(event.address)
            if slot is None or slot[0].is_set():
                return
            slot[1] = FOUND if action == "RECEIVED" else (NOT_FOUND if str(event.reason) == "NOT_FOUND" else UNKNOWN)
            slot[0].set()

        out: dict[str, str] = {}
        with Controller.from_port(address=host or "127.0.0.1", port=int(port)) as c:
            c.authenticate()
            c.add_event_listener(on_event, EventType.HS_DESC)
            # Each HSFETCH builds its own circuit; near Tor's MaxClientCircuitsPending (32 by default)
            # the builds time out, Tor resets its circuit-build timeout and lookups run into ours
            # (lab, 2 cores: 100 dead at 64 in flight 303 s with 12 unknown; 300 dead at 32 in flight
            # > 3 min, at 16 32 s, at 8 41 s, all found dead). So at most half of Tor's limit.
            try:
                tor_cap = int(c.get_conf("MaxClientCircuitsPending", "32") or 32)
            except Exception:  # noqa: BLE001 — an old or restricted Tor: its default
                tor_cap = 32
            self.in_flight = min(self.parallel, max(1, tor_cap // 2))
            sem = threading.BoundedSemaphore(self.in_flight)

            def one(onion: str) -> str:
                addr = onion.lower().removesuffix(".onion")
                verdict = UNKNOWN
                for _ in range(1 + self.confirm):
                    with sem:
                        slot = [threading.Event(), UNKNOWN]
                        with lock:
                            waiting[addr] = slot
                        try:
                            c.msg(f"HSFETCH {addr}")
                            with lock:
                                self.lookups += 1
                            slot[0].wait(self.timeout)
                        except Exception:  # noqa: BLE001 — a refused or broken lookup is "unknown"
                            slot[1] = UNKNOWN
                        finally:
                            with lock:
                                waiting.pop(addr, None)
                    verdict = slot[1]
                    if verdict != NOT_FOUND:
                        break
                if on_verdict is not None:
                    on_verdict(onion, verdict)
                return verdict

            threads: list[threading.Thread] = []
            names = list(dict.fromkeys(o.lower() for o in onions))
            for onion in names:
                t = threading.Thread(target=lambda o=onion: out.__setitem__(o, one(o)), daemon=True)
                t.start()
                threads.append(t)
            for t in threads:
                t.join()
            c.remove_event_listener(on_event)
        return out


@dataclass
class PrefilterResult:
    """Verdicts per onion: crawl ``live`` and ``unknown``; ``dead`` just found dead; ``backing_off``
    skipped without a lookup (dead before, back-off not expired)."""

    verdicts: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    lookups: int = 0

    def crawl(self) -> set[str]:
        return {o for o, v in self.verdicts.items() if v in (FOUND, UNKNOWN)}

    def counts(self) -> dict[str, int]:
        out = {FOUND: 0, NOT_FOUND: 0, UNKNOWN: 0, BACKING_OFF: 0}
        for v in self.verdicts.values():
            out[v] += 1
        return out


def prefilter(onions: Iterable[str], control_addr: str, state: BackoffState | None = None, *, parallel: int = 32,
              timeout: float = 30.0, confirm: int = 1) -> PrefilterResult:
    """Look up every onion not backing off; record dead ones (back-off) and live ones (cleared)."""
    started = time.monotonic()
    names = list(dict.fromkeys(o.lower() for o in onions))
    held = state.waiting(names) if state else {}
    result = PrefilterResult({o: BACKING_OFF for o in held})
    lookup = DescriptorLookup(control_addr, parallel=parallel, timeout=timeout, confirm=confirm)
    found = lookup.run([o for o in names if o not in held])
    for onion, verdict in found.items():
        result.verdicts[onion] = verdict
        if state is not None:
            state.record(onion, verdict)
    result.seconds = time.monotonic() - started
    result.lookups = lookup.lookups
    return result


class PrefilterStartMiddleware:
    """`crawl --prefilter` as a stream (a spider middleware on the start requests): the
    descriptor lookups run in a thread while the crawl already fetches the onions found live,
    so the lookup phase and the HTTP phase overlap instead of adding up (lab sweep, 300 dead +
    30 slow live onions: lookups ~23 s, HTTP ~21 s one after the other; bench/sweep_bench.py).
    A start request whose onion is dead (or backing off) never reaches the downloader; one
    whose lookup said nothing is crawled as before. Active only with ONIONWATCH_PREFILTER_CONTROL.
    """

    def __init__(self, crawler, control: str, state: str | None, parallel: int, timeout: float, confirm: int) -> None:
        self.crawler = crawler
        self.control = control
        self.state_path = state
        self.parallel, self.timeout, self.confirm = parallel, timeout, confirm

    @classmethod
    def from_crawler(cls, crawler):
        from scrapy.exceptions import NotConfigured

        s = crawler.settings
        control = s.get("ONIONWATCH_PREFILTER_CONTROL")
        if not control:
            raise NotConfigured
        return cls(crawler, control, s.get("ONIONWATCH_PREFILTER_STATE"), s.getint("ONIONWATCH_PREFILTER_PARALLEL", 32),
                   s.getfloat("ONIONWATCH_PREFILTER_TIMEOUT", 30.0), s.getint("ONIONWATCH_PREFILTER_CONFIRM", 1))

    async def process_start(self, start: AsyncIterator) -> AsyncIterator:
        import asyncio

        from scrapy import Request

        from crawler.onion import onion_of_url

        stats = self.crawler.stats
        parked: dict[str, list] = {}
        async for item in start:
            onion = onion_of_url(item.url) if isinstance(item, Request) else None
            if onion is None:
                yield item  # not an onion request: the downloader policy decides, as without the prefilter
            else:
                parked.setdefault(onion, []).append(item)
        if not parked:
            return
        started = time.monotonic()
        state = BackoffState(self.state_path) if self.state_path else None
        held = state.waiting(parked) if state else {}
        for onion in held:
            stats.inc_value(f"onionwatch/prefilter/{BACKING_OFF}")
            del parked[onion]
        loop = asyncio.get_running_loop()
        verdicts: asyncio.Queue = asyncio.Queue()
        lookup = DescriptorLookup(self.control, parallel=self.parallel, timeout=self.timeout, confirm=self.confirm)

        job: asyncio.Future = loop.create_future()

        def from_thread(fn, *args) -> None:
            try:
                loop.call_soon_threadsafe(fn, *args)
            except RuntimeError:  # the crawl is over and its loop closed: nobody waits any more
                pass

        def looked_up(onion: str, verdict: str) -> None:  # a worker thread
            from_thread(verdicts.put_nowait, (onion, verdict))

        def lookups() -> None:  # a daemon thread: a crawl stopped early (budget, signal) does not wait for it
            try:
                lookup.run(list(parked), looked_up)
                from_thread(lambda: job.done() or job.set_result(None))
            except Exception as exc:  # noqa: BLE001 — handed to the crawl, which crawls the rest as before
                failure = exc
                from_thread(lambda: job.done() or job.set_exception(failure))

        remaining = set(parked)
        if remaining:
            threading.Thread(target=lookups, name="prefilter", daemon=True).start()
        try:
            while remaining:
                if verdicts.empty():
                    if job.done():  # the lookups ended without a verdict for these: crawl them as before
                        why = job.exception() or "no verdict"
                        logger.warning("prefilter: no descriptor lookup for %d onions (%s): crawling them as before",
                                       len(remaining), why)
                        stats.inc_value(f"onionwatch/prefilter/{UNKNOWN}", len(remaining))
                        for onion in sorted(remaining):
                            for request in parked[onion]:
                                yield request
                        break
                    getter = asyncio.ensure_future(verdicts.get())
                    await asyncio.wait({getter, job}, return_when=asyncio.FIRST_COMPLETED)
                    if not getter.done():
                        getter.cancel()  # it took nothing from the queue; look again
                        continue
                    onion, verdict = getter.result()
                else:
                    onion, verdict = verdicts.get_nowait()
                remaining.discard(onion)
                stats.inc_value(f"onionwatch/prefilter/{verdict}")
                if state is not None:
                    state.record(onion, verdict)
                if verdict == NOT_FOUND:
                    continue
                for request in parked[onion]:
                    yield request
        finally:
            stats.set_value("onionwatch/prefilter/lookups", lookup.lookups)
            stats.set_value("onionwatch/prefilter/in_flight", lookup.in_flight)
            stats.set_value("onionwatch/prefilter/seconds", round(time.monotonic() - started, 2))
            if state is not None:
                state.close()
