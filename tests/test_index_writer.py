"""The write path at bulk speed: only bulk requests, roll-ups merged by the server, pages
back into their own partition, and the same answers whatever the order of the writes."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Self

import pytest
from elasticsearch import Elasticsearch

import index
from index import Names, PageWriter
from index.writer import BACKFILL_MARK, PAGE_IDS, time_key, utc
from tests.fixtures_es import drop_prefix, onion, page_record

KEY = b"writer-test-key"
A, B = onion(31), onion(32)


def writer(es: Elasticsearch, names: Names) -> PageWriter:
    return PageWriter(es, names, snapshot_key=KEY, initial_backoff=0.05)


class Requests:
    """Every HTTP request a client makes (method, path), recorded at its transport."""

    def __init__(self, es: Elasticsearch) -> None:
        self.seen: list[tuple[str, str]] = []
        transport = es.transport
        real = transport.perform_request

        def record(method: str, target: str, *args: object, **kwargs: object) -> object:
            self.seen.append((method, target.split("?")[0]))
            return real(method, target, *args, **kwargs)

        transport.perform_request = record  # type: ignore[method-assign]
        self._undo = lambda: setattr(transport, "perform_request", real)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._undo()


@pytest.fixture
def other_names(es: Elasticsearch) -> Iterator[list[Names]]:
    made: list[Names] = []
    yield made
    for n in made:
        drop_prefix(es, n.prefix)


def test_utc_times_order_by_their_key() -> None:
    assert utc("2026-11-22T17:00:00+07:00") == "2026-11-22T10:00:00Z"
    assert utc("2026-11-22T10:00:00.250Z") == "2026-11-22T10:00:00.250000Z"
    assert time_key("2026-11-22T10:00:00Z") == 20261122100000
    times = ["2026-11-22T10:00:01Z", "2025-12-31T23:59:59Z", "2026-01-01T00:00:00Z"]
    assert sorted(times, key=time_key) == sorted(times)


def test_store_sends_only_bulk_requests_whatever_the_index_holds(es: Elasticsearch, names: Names) -> None:
    w = writer(es, names)
    assert not any(w.store([page_record(f"http://{A}/warm", "warm up")]))  # setup, once per writer
    for round_ in range(3):  # new pages, re-fetches (a later month), failures, a second onion
        batch = [page_record(f"http://{A}/{round_}/{i}", f"page {round_} {i}") for i in range(20)]
        batch += [page_record(f"http://{A}/0/{i}", f"page 0 {i}", fetched_at="2026-12-05T00:00:00Z") for i in range(5)]
        batch.append({"url": f"http://{B}/", "onion": B, "fetched_at": "2026-11-22T11:00:00Z", "status": None,
                      "failure": "timeout", "sha256": None, "raw": None})
        with Requests(es) as requests:
            errors = w.store(batch)
        assert errors == [None] * len(batch)
        assert [path for _, path in requests.seen] == ["/_bulk", "/_bulk"], requests.seen
    with Requests(es) as requests:
        w.close()
    assert requests.seen == []  # nothing was left to send
    w.refresh()
    assert index.counts(es, names)["pages"] == 1 + 3 * 20
    assert not es.indices.exists(index=f"{names.prefix}-pages-v1-2026.12")  # re-fetches stayed in November


def test_re_fetch_keeps_first_fetch_partition_and_indexed_at(es: Elasticsearch, names: Names) -> None:
    first = page_record(f"http://{A}/p", "the same body", fetched_at="2026-10-10T10:00:00Z")
    w = writer(es, names)
    assert w.store([first]) == [None]
    w.close()
    w.refresh()
    (hit,) = es.search(index=names.pages, query={"term": {"url": f"http://{A}/p"}})["hits"]["hits"]
    indexed_at = hit["_source"]["indexed_at"]
    time.sleep(1.1)  # indexed_at has 1 s resolution
    for t in ("2026-12-01T00:00:00Z", "2026-09-30T23:00:00Z"):  # later, then an out-of-order replay
        w2 = writer(es, names)
        assert w2.store([dict(first, fetched_at=t)]) == [None]
        w2.close()
    w2.refresh()
    (hit,) = es.search(index=names.pages, query={"term": {"url": f"http://{A}/p"}})["hits"]["hits"]
    assert hit["_index"] == f"{names.prefix}-pages-v1-2026.10"
    assert hit["_source"]["fetched_at"] == "2026-09-30T23:00:00Z"
    assert hit["_source"]["last_fetched_at"] == "2026-12-01T00:00:00Z"
    assert hit["_source"]["indexed_at"] == indexed_at  # alerts read by indexed_at: a re-fetch is not new
    entry = es.get(index=names.alias(PAGE_IDS), id=hit["_id"])["_source"]
    assert entry == {"partition": "2026.10", "fetched_at": "2026-09-30T23:00:00Z", "first_key": 20260930230000,
                     "last_fetched_at": "2026-12-01T00:00:00Z", "last_key": 20261201000000}


def test_pages_stored_before_the_registry_are_found_by_a_new_writer(es: Elasticsearch, names: Names) -> None:
    index.setup(es, names)
    old = page_record(f"http://{A}/legacy", "stored by an older writer", fetched_at="2026-08-03T00:00:00Z")
    pid = index.page_id(old["url"], old["sha256"])
    partition = f"{names.prefix}-pages-v1-2026.08"
    es.indices.create(index=partition, aliases={names.pages: {}})
    doc = {k: v for k, v in old.items() if k != "raw"}
    doc.update(doc_id=pid, last_fetched_at=old["fetched_at"], indexed_at="2026-08-03T00:00:05Z")
    es.index(index=partition, id=pid, document=doc, refresh=True)

    w = writer(es, names)
    assert w.store([dict(old, fetched_at="2026-11-01T00:00:00Z")]) == [None]
    w.close()
    w.refresh()
    hits = es.search(index=names.pages, query={"ids": {"values": [pid]}})["hits"]["hits"]
    assert [h["_index"] for h in hits] == [partition]
    assert hits[0]["_source"]["indexed_at"] == "2026-08-03T00:00:05Z"
    assert hits[0]["_source"]["last_fetched_at"] == "2026-11-01T00:00:00Z"
    assert es.exists(index=names.alias(PAGE_IDS), id=BACKFILL_MARK)


def _service(es: Elasticsearch, names: Names, host: str) -> dict:
    """A service document without its write time; titles in arrival order, so as a set."""
    svc = index.get_service(es, names, host)
    assert svc is not None
    return {k: (sorted(v) if k == "titles" else v) for k, v in svc.items() if k != "updated_at"}


def test_service_roll_up_is_the_same_in_any_order_of_batches(es: Elasticsearch, other_names: list[Names]) -> None:
    early = page_record(f"http://{A}/a", "early", fetched_at="2026-10-01T00:00:00Z", categories=["drugs"], title="One")
    late = page_record(f"http://{A}/b", "late", fetched_at="2026-11-01T00:00:00+07:00", categories=["wildlife"],
                       title="Two", lang="th")
    failed = {"url": f"http://{A}/", "onion": A, "fetched_at": "2026-11-05T00:00:00Z", "status": None,
              "failure": "onion_intro_failed", "sha256": None, "raw": None}
    results = []
    for order in itertools.permutations([early, late, failed]):
        names = Names(f"o{uuid.uuid4().hex[:10]}")
        other_names.append(names)
        for record in order:  # one batch (and one writer) per record: the server merges
            w = writer(es, names)
            assert w.store([record]) == [None]
            w.close()
        w.refresh()
        results.append(_service(es, names, A))
    for r in results:
        assert r == results[0]
    svc = results[0]
    assert svc["first_seen"] == svc["first_checked"] == "2026-10-01T00:00:00Z"
    assert svc["last_seen"] == "2026-10-31T17:00:00Z"  # stored in UTC
    assert svc["last_checked"] == "2026-11-05T00:00:00Z"
    assert (svc["last_status"], svc["last_failure"]) == (None, "onion_intro_failed")
    assert svc["categories"] == ["drugs", "wildlife"] and svc["langs"] == ["en", "th"]
    assert sorted(svc["titles"]) == ["One", "Two"] and svc["page_count"] == 2


def test_re_storing_changes_no_service_document(es: Elasticsearch, names: Names) -> None:
    records = [page_record(f"http://{A}/{i}", f"body {i}", title=f"T{i}", categories=["drugs"]) for i in range(25)]
    w = writer(es, names)
    assert not any(w.store(records))
    w.close()
    before = es.get(index=names.services, id=A)
    assert len(before["_source"]["titles"]) == 20  # capped
    assert not any(writer(es, names).store(list(reversed(records))))
    after = es.get(index=names.services, id=A)
    assert after["_version"] == before["_version"]  # the script said noop: nothing was rewritten
    assert after["_source"] == before["_source"]


def test_times_an_older_writer_stored_are_merged_not_fatal(es: Elasticsearch, names: Names) -> None:
    index.setup(es, names)
    es.index(index=names.services, id=A, refresh=True, document={
        "onion": A, "first_seen": "2026-10-01", "last_seen": "2026-10-02T09:00:00+02:00",
        "first_checked": "2026-10-01", "last_checked": "2026-10-02T09:00:00+02:00", "categories": ["drugs"],
        "titles": ["Old"], "langs": [], "page_count": 7})
    w = writer(es, names)
    assert w.store([page_record(f"http://{A}/n", "new", fetched_at="2026-11-01T00:00:00Z")]) == [None]
    w.refresh()
    svc = index.get_service(es, names, A)
    assert svc["last_seen"] == "2026-11-01T00:00:00Z" and svc["categories"] == ["drugs"]
    assert svc["titles"] == ["Old", "new"] and svc["page_count"] == 1  # counted now, not the stale 7


def test_concurrent_writers_on_one_service(es_url: str, names: Names) -> None:
    from tests.fixtures_es import make_client

    def crawl(n: int) -> list[str | None]:
        w = writer(make_client(es_url), names)
        errors: list[str | None] = []
        for b in range(5):
            errors += w.store([page_record(f"http://{A}/{n}/{b}/{i}", f"w{n} b{b} p{i}",
                                           fetched_at=f"2026-11-{10 + n:02d}T{b:02d}:{i:02d}:00Z")
                               for i in range(5)])
        w.close()
        return errors

    out: list[list[str | None]] = []
    threads = [threading.Thread(target=lambda n=n: out.append(crawl(n))) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == 4 and all(e is None for errors in out for e in errors)
    es = make_client(es_url)
    es.indices.refresh(index=f"{names.pages},{names.services}")
    svc = index.get_service(es, names, A)
    assert svc["first_seen"] == "2026-11-10T00:00:00Z" and svc["last_seen"] == "2026-11-13T04:04:00Z"
    assert svc["page_count"] == 100 and index.counts(es, names)["pages"] == 100


def test_a_page_whose_write_failed_is_indexed_when_it_is_finally_stored(es: Elasticsearch, names: Names) -> None:
    bad = page_record(f"http://{A}/r", "rejected first", depth="deep")  # integer field: the page write fails
    w = writer(es, names)
    (error,) = w.store([bad])
    assert error is not None and "pars" in error
    time.sleep(1.1)
    started = utc(datetime.now(UTC).isoformat())
    assert w.store([dict(bad, depth=2)]) == [None]  # same page id (same URL and body), now valid
    w.refresh()
    (hit,) = es.search(index=names.pages, query={"term": {"url": bad["url"]}})["hits"]["hits"]
    assert time_key(hit["_source"]["indexed_at"]) >= time_key(started)  # not the failed attempt's time
    assert hit["_source"]["depth"] == 2


def test_sealing_reuses_its_cipher_and_compressor_safely_across_threads() -> None:
    """seal keeps one AES-GCM object per key and one zstd compressor per thread (a fresh
    compressor per page cost twice the compression): every body still round-trips, each
    with its own nonce, also when four threads seal at once."""
    from concurrent.futures import ThreadPoolExecutor
    from hashlib import sha256

    from index.snapshots import seal, unseal

    bodies = [(f"<html>page {i} " + "x" * (i * 37 % 5000) + "</html>").encode() for i in range(200)]

    def one(raw: bytes) -> bytes:
        digest = sha256(raw).hexdigest()
        doc = seal(raw, digest, KEY, "2026-11-30T10:00:00Z")
        assert doc["stored_at"] == "2026-11-30T10:00:00Z"
        return unseal(doc, digest, KEY)

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(one, bodies)) == bodies
    digest = sha256(bodies[0]).hexdigest()
    a, b = seal(bodies[0], digest, KEY), seal(bodies[0], digest, KEY)
    assert a["data"] != b["data"] and a["stored_at"].endswith("Z")  # a new nonce every time
