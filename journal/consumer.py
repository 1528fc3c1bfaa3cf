"""Delivering a journal to a store that may go away: replay, back-off, confirm only what lasted.

A ``Consumer`` reads entries after its marker (``Journal.done(name)``), hands them in batches
to ``deliver``, and moves the marker only when the store has *kept* them:

* ``deliver(entries)`` returns one rejection reason (or None) per entry, or raises
  ``Unavailable`` when the store cannot take the batch now (unreachable, overloaded). The
  batch is then retried with exponential back-off (tenacity) for as long as the consumer
  runs; the caller hears about it once (``on_event("unavailable", …)``) and once more when
  it is back (``"available"``). A rejected entry (the store refuses it for good) is recorded
  in ``consumers/<name>.rejected.jsonl`` and skipped, so one bad entry cannot stall the rest.
* A store that acknowledges before it persists (the embedded noida-db saves about 0.5 s
  after an ack; flush and refresh do not persist) is handled by ``durable_after`` and
  ``identity``: a delivered batch is confirmed only after ``durable_after`` seconds *and* if
  ``identity()`` (e.g. the server process's pid + start time) still gives what it gave at
  delivery. If it changed, the server restarted and may have lost what it acknowledged:
  every unconfirmed entry is delivered again. ``identity()`` returning None means the store
  cannot be reached right now: confirmation waits.

Deliveries must be idempotent (deterministic ids): replay after a crash or a restart
re-sends entries the store may already hold.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenacity import RetryCallState, wait_exponential

from journal.log import _SEGMENT, Entry, Journal, utc_now

logger = logging.getLogger(__name__)


class Unavailable(Exception):
    """The store cannot take this batch now; try again later (nothing was lost)."""


@dataclass
class Progress:
    delivered: int = 0  # entries handed to the store and accepted (not yet necessarily confirmed)
    confirmed_seq: int = 0  # this consumer's position: every entry up to here is kept (or rejected, recorded)
    rejected: int = 0
    replays: int = 0  # times unconfirmed entries were sent again (the store restarted)
    unavailable_since: float | None = None  # monotonic time of the first failure in a row
    last_error: str | None = None
    outages: list[float] = field(default_factory=list)  # seconds each outage lasted


class _Cursor:
    """Reads entries in order from a seq on, keeping its place in the segment files (a
    re-read from the segment start per batch would be quadratic)."""

    def __init__(self, journal: Journal, seq: int) -> None:
        self.journal = journal
        self.reset(seq)

    def reset(self, seq: int) -> None:
        self.next = max(1, seq)
        self.seg: Path | None = None
        self.offset = 0

    def _segments(self) -> list[tuple[int, Path]]:
        out = []
        for p in self.journal.segments():
            m = _SEGMENT.match(p.name)
            if m:
                out.append((int(m.group(1)), p))
        return out

    def read(self, limit: int) -> list[Entry]:
        segs = self._segments()
        if not segs:
            return []
        if self.seg is None or not self.seg.exists():
            start = [p for s, p in segs if s <= self.next]
            self.seg, self.offset = (start[-1] if start else segs[0][1]), 0
        out: list[Entry] = []
        while len(out) < limit:
            with open(self.seg, "rb") as fh:
                fh.seek(self.offset)
                for line in fh:
                    if not line.endswith(b"\n"):
                        break  # being written (or torn): read again later
                    self.offset += len(line)
                    data = json.loads(line)
                    if data["seq"] < self.next:
                        continue
                    out.append(Entry.from_dict(data))
                    self.next = data["seq"] + 1
                    if len(out) >= limit:
                        break
            if len(out) >= limit:
                break
            later = [p for _, p in segs if p.name > self.seg.name]
            if not later or self.offset < self.seg.stat().st_size:
                break
            self.seg, self.offset = later[0], 0
        return out


class Consumer:
    """One consumer of a journal (see the module docstring). ``run`` in a thread, ``wake``
    after appending, ``drain`` to finish; or ``catch_up`` to do it all in the caller's thread."""

    def __init__(self, journal: Journal, name: str, deliver: Callable[[list[Entry]], list[str | None]], *,
                 batch: int = 200, durable_after: float = 0.0, identity: Callable[[], str | None] | None = None,
                 select: Callable[[Entry], bool] | None = None, start_seq: int | None = None,
                 max_wait: float = 30.0, on_event: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.journal = journal
        self.name = name
        self.deliver = deliver
        self.batch = batch
        self.durable_after = durable_after
        self.identity = identity or (lambda: "-")
        self.select = select
        self.on_event = on_event or (lambda event, info: None)
        first = start_seq if start_seq is not None else journal.done(name) + 1
        self.progress = Progress(confirmed_seq=first - 1)
        self.cursor = _Cursor(journal, first)
        self._unconfirmed: list[tuple[int, float, str | None]] = []  # (last seq of a batch, acked at, identity)
        self._wait = wait_exponential(multiplier=0.5, min=min(0.5, max_wait), max=max_wait)
        self._attempt = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._drain_until: float | None = None
        self._lock = threading.Lock()
        self.thread: threading.Thread | None = None

    # -- rejected entries ---------------------------------------------------------------
    @property
    def rejected_path(self) -> Path:
        return self.journal.root / "consumers" / f"{self.name}.rejected.jsonl"

    def _reject(self, items: list[tuple[Entry, str]]) -> None:
        lines = b"".join(json.dumps({"seq": e.seq, "kind": e.kind, "reason": reason[:500], "at": utc_now()},
                                    ensure_ascii=False).encode() + b"\n" for e, reason in items)
        fd = os.open(self.rejected_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, lines)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.progress.rejected += len(items)

    def rejected(self) -> list[dict[str, Any]]:
        """Every entry this consumer's store refused for good, with the reason."""
        try:
            text = self.rejected_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    # -- one step -------------------------------------------------------------------------
    def _confirm(self) -> None:
        """Move the marker over delivered batches that have lasted ``durable_after``."""
        while self._unconfirmed:
            last, acked_at, ident = self._unconfirmed[0]
            if self.durable_after > 0 and ident is not None:  # None: nothing of this batch was delivered
                if time.monotonic() - acked_at < self.durable_after:
                    return
                now_ident = self._safe_identity()
                if now_ident is None:
                    return  # cannot tell now: keep waiting
                if now_ident != ident:
                    self._replay(f"the store restarted ({ident} -> {now_ident}) before it had kept seq {last}")
                    return
            self._unconfirmed.pop(0)
            self._mark(last)

    def _mark(self, seq: int) -> None:
        self.progress.confirmed_seq = max(self.progress.confirmed_seq, seq)
        if seq > self.journal.done(self.name):  # the marker only moves forward (a rebuild re-delivers behind it)
            self.journal.mark_done(self.name, seq)

    def _replay(self, why: str) -> None:
        start = self.progress.confirmed_seq + 1
        self.progress.replays += 1
        self.on_event("replay", {"from_seq": start, "why": why})
        self._unconfirmed.clear()
        self.cursor.reset(start)

    def _safe_identity(self) -> str | None:
        try:
            return self.identity()
        except Exception as exc:  # noqa: BLE001 - an unreachable store is a state, not an error here
            logger.debug("identity check failed: %s", exc)
            return None

    def step(self) -> bool:
        """Confirm what lasted, then deliver the next batch. True if an entry was delivered."""
        with self._lock:
            self._confirm()
            start = self.cursor.next, self.cursor.seg, self.cursor.offset
            entries = self.cursor.read(self.batch)
            if not entries:
                return False
            todo = [e for e in entries if self.select is None or self.select(e)]
            ident = self._safe_identity() if todo and self.durable_after > 0 else None
            try:
                if todo and self.durable_after > 0 and ident is None:
                    raise Unavailable("no answer")
                reasons = self.deliver(todo) if todo else []
            except Unavailable as exc:
                self.cursor.next, self.cursor.seg, self.cursor.offset = start  # read the same batch again
                self._failed(str(exc) or type(exc).__name__)
                raise
            if len(reasons) != len(todo):
                raise RuntimeError(f"deliver returned {len(reasons)} outcomes for {len(todo)} entries")
            self._available()
            bad = [(e, r) for e, r in zip(todo, reasons, strict=True) if r]
            if bad:
                self._reject(bad)
            self.progress.delivered += len(todo) - len(bad)
            self._unconfirmed.append((entries[-1].seq, time.monotonic(), ident))
            self._confirm()
            return True

    def _failed(self, reason: str) -> None:
        p = self.progress
        p.last_error = reason
        if p.unavailable_since is None:
            p.unavailable_since = time.monotonic()
            self.on_event("unavailable", {"reason": reason, "pending": self.pending()})

    def _available(self) -> None:
        p = self.progress
        self._attempt = 0
        p.last_error = None
        if p.unavailable_since is not None:
            took = time.monotonic() - p.unavailable_since
            p.outages.append(took)
            p.unavailable_since = None
            self.on_event("available", {"after_seconds": took, "pending": self.pending()})

    def _next_wait(self) -> float:
        self._attempt += 1
        state = RetryCallState(None, None, (), {})
        state.attempt_number = self._attempt
        return float(self._wait(state))

    # -- how far ----------------------------------------------------------------------------
    def pending(self) -> int:
        """Entries after the marker (not yet confirmed), counted to the journal's head."""
        head, _ = self.journal.head()
        return max(0, head - self.progress.confirmed_seq)

    def caught_up(self, head: int | None = None) -> bool:
        head = self.journal.head()[0] if head is None else head
        return self.progress.confirmed_seq >= head and not self._unconfirmed

    # -- running ----------------------------------------------------------------------------
    def wake(self) -> None:
        self._wake.set()

    def _loop(self, until: Callable[[], bool], poll: float = 0.5) -> None:
        while not until():
            try:
                busy = self.step()
            except Unavailable:
                self._sleep(self._next_wait())
                continue
            if not busy:
                wait = poll
                if self._unconfirmed and self.durable_after > 0:
                    wait = min(poll, max(0.05, self._unconfirmed[0][1] + self.durable_after - time.monotonic()))
                self._sleep(wait)

    def _sleep(self, seconds: float) -> None:
        if self._drain_until is not None:  # finishing: nothing else to do but look again soon
            seconds = min(seconds, 1.0, max(0.0, self._drain_until - time.monotonic()))
        self._wake.wait(seconds)
        self._wake.clear()

    def start(self) -> None:
        """Deliver in a background thread until ``drain`` or ``stop``."""

        def done() -> bool:
            if self._stop.is_set():
                return True
            if self._drain_until is None:
                return False
            return self.caught_up() or time.monotonic() >= self._drain_until

        def target() -> None:
            try:
                self._loop(done)
            except Exception as exc:
                self.progress.last_error = f"{type(exc).__name__}: {exc}"
                logger.exception("journal consumer %s stopped", self.name)

        self.thread = threading.Thread(target=target, name=f"journal-{self.name}", daemon=True)
        self.thread.start()

    def drain(self, timeout: float) -> bool:
        """Finish: deliver and confirm everything journaled so far, for at most ``timeout``
        seconds. True if the consumer caught up with the journal's head."""
        self._drain_until = time.monotonic() + timeout
        self._wake.set()
        if self.thread is not None:
            self.thread.join(timeout + 5)
        return self.caught_up()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self.thread is not None:
            self.thread.join(10)

    def catch_up(self, timeout: float) -> bool:
        """Deliver and confirm up to the current head in this thread (e.g. a CLI command)."""
        self._drain_until = time.monotonic() + timeout
        head = self.journal.head()[0]
        self._loop(lambda: self.caught_up(head) or time.monotonic() >= (self._drain_until or 0))
        return self.caught_up(head)


def iterate_labelled(journal: Journal, label: str) -> Iterator[Entry]:
    """Entries of the segments named after ``label`` (e.g. one crawl id), in order."""
    for seg in journal.segments():
        m = _SEGMENT.match(seg.name)
        if not m or m.group(2) != label:
            continue
        with open(seg, "rb") as fh:
            for line in fh:
                if not line.endswith(b"\n"):
                    break
                yield Entry.from_dict(json.loads(line))
