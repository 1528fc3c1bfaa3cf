"""Delivering a journal to a store that goes away, restarts and loses what it acknowledged;
the journal's encrypted side store for raw bodies."""

from __future__ import annotations

import hashlib
import os
import stat
import time
from pathlib import Path

import pytest

from journal import Journal
from journal.blobs import BlobError, BlobStore
from journal.consumer import Consumer, Unavailable, iterate_labelled


class FlakyStore:
    """Keeps documents by id; can be down, can restart (losing what it has not "persisted")."""

    def __init__(self) -> None:
        self.docs: dict[str, int] = {}
        self.persisted: dict[str, int] = {}
        self.down = False
        self.generation = 1
        self.refuse: set[int] = set()
        self.calls = 0

    def deliver(self, entries) -> list[str | None]:
        self.calls += 1
        if self.down:
            raise Unavailable("connection refused")
        out = []
        for e in entries:
            if e.payload["n"] in self.refuse:
                out.append("mapper_parsing_exception")
            else:
                self.docs[f"doc{e.payload['n']}"] = e.seq
                out.append(None)
        return out

    def identity(self) -> str | None:
        return None if self.down else f"gen{self.generation}"

    def persist(self) -> None:
        self.persisted = dict(self.docs)

    def crash_and_restart(self) -> None:
        self.docs = dict(self.persisted)
        self.generation += 1


def fill(j: Journal, start: int, n: int) -> None:
    j.append_many([("capture", {"n": i}) for i in range(start, start + n)])


def test_delivers_in_batches_and_marks_done(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j")
    fill(j, 0, 25)
    store = FlakyStore()
    c = Consumer(j, "index.t", store.deliver, batch=10)
    assert c.catch_up(timeout=10)
    assert len(store.docs) == 25 and store.calls == 3 and j.done("index.t") == 25
    fill(j, 25, 5)
    c2 = Consumer(j, "index.t", store.deliver, batch=10)  # a new run starts after the marker
    assert c2.pending() == 5 and c2.catch_up(timeout=10) and store.calls == 4


def test_unavailable_store_is_retried_with_backoff_and_reported_once(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j")
    fill(j, 0, 8)
    store = FlakyStore()
    store.down = True
    events: list[str] = []
    c = Consumer(j, "index.t", store.deliver, batch=4, max_wait=0.2, on_event=lambda e, info: events.append(e))
    c.start()
    time.sleep(1.0)
    assert store.calls >= 3 and not store.docs and j.done("index.t") == 0
    store.down = False
    assert c.drain(timeout=10)
    assert len(store.docs) == 8 and events == ["unavailable", "available"]
    assert c.progress.outages and c.progress.outages[0] >= 0.9


def test_a_restart_before_persistence_replays_the_unconfirmed(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j")
    fill(j, 0, 6)
    store = FlakyStore()
    events: list[str] = []
    c = Consumer(j, "index.t", store.deliver, batch=3, durable_after=0.3, identity=store.identity,
                 on_event=lambda e, info: events.append(e))
    assert c.step() and c.step()  # both batches acknowledged ...
    assert j.done("index.t") == 0  # ... but not yet confirmed
    store.crash_and_restart()  # lost before it persisted anything
    assert not store.docs
    assert c.catch_up(timeout=10)
    assert "replay" in events and len(store.docs) == 6 and j.done("index.t") == 6


def test_an_ack_that_lasted_is_confirmed_and_not_replayed(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j")
    fill(j, 0, 3)
    store = FlakyStore()
    c = Consumer(j, "index.t", store.deliver, batch=3, durable_after=0.2, identity=store.identity)
    c.step()
    time.sleep(0.3)
    store.persist()
    c.step()  # nothing new to deliver: confirms
    assert j.done("index.t") == 3 and c.progress.replays == 0


def test_rejected_entries_are_recorded_and_skipped(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j")
    fill(j, 0, 5)
    store = FlakyStore()
    store.refuse = {2}
    c = Consumer(j, "index.t", store.deliver, batch=10)
    assert c.catch_up(timeout=5)
    assert [r["seq"] for r in c.rejected()] == [3] and c.rejected()[0]["reason"] == "mapper_parsing_exception"
    assert j.done("index.t") == 5 and len(store.docs) == 4


def test_rebuild_from_the_start_and_select(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j")
    j.roll("crawlA")
    fill(j, 0, 3)
    j.roll("crawlB")
    fill(j, 3, 3)
    assert [e.payload["n"] for e in iterate_labelled(j, "crawlB")] == [3, 4, 5]
    store = FlakyStore()
    Consumer(j, "index.t", store.deliver).catch_up(timeout=5)
    store.docs.clear()
    only_b = Consumer(j, "index.t", store.deliver, start_seq=1, select=lambda e: e.payload["n"] >= 3)
    assert only_b.catch_up(timeout=5) and sorted(store.docs) == ["doc3", "doc4", "doc5"]
    assert j.done("index.t") == 6


def test_a_torn_last_line_is_not_delivered_until_complete(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j")
    fill(j, 0, 2)
    seg = j.segments()[-1]
    with open(seg, "ab") as fh:
        fh.write(b'{"at":"2026')
    store = FlakyStore()
    c = Consumer(j, "index.t", store.deliver)
    c.step()
    assert len(store.docs) == 2


def test_blobs_are_sealed_at_rest_and_verified(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs", b"secret")
    bodies = {hashlib.sha256(b).hexdigest(): b for b in (b"<p>card 4111111111111111</p>", b"second body")}
    refs = store.put_many(bodies)
    for sha, raw in bodies.items():
        assert store.get(refs[sha], sha) == raw
    data = b"".join(p.read_bytes() for p in (tmp_path / "blobs").iterdir())
    assert b"4111111111111111" not in data and b"second body" not in data
    assert stat.S_IMODE(os.stat(tmp_path / "blobs").st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in (tmp_path / "blobs").iterdir())
    sha = next(iter(bodies))
    with pytest.raises(BlobError):
        BlobStore(tmp_path / "blobs", b"other key").get(refs[sha], sha)
    with pytest.raises(BlobError):
        store.get(refs[sha], "0" * 64)  # a body cannot be passed off as another
    with pytest.raises(ValueError):
        store.put_many({"0" * 64: b"x"})
