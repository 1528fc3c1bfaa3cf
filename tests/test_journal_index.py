"""The index derived from the crawl journal, on the real ES-compatible server: journaled
records (bodies sealed beside them) become pages and snapshots; a server that does not
answer is retried, never skipped; `onionwatch index rebuild --from-journal` rebuilds an
empty index without duplicates; the crawl pipeline acknowledges once journaled."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from crawler.capture import CaptureLog, record_from_entry
from crawler.indexer import JournalIndexer
from index.sink import IndexSink
from journal import Journal
from journal.blobs import BlobStore
from tests.fixtures_es import onion

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
KEY = "journal-index-test-key"
SECRET_CARD = "4111 1111 1111 1111"


def pages(n: int, crawl_id: str = "c1", start: int = 0) -> list[dict]:
    out = []
    for i in range(start, start + n):
        host = onion(i % 3)
        raw = f"<html><title>page {i}</title><p>card {SECRET_CARD} lot {i}</p></html>".encode()
        out.append({
            "url": f"http://{host}/p/{i}", "onion": host, "fetched_at": "2026-11-22T10:00:00Z", "status": 200,
            "failure": None, "content_type": "text/html", "title": f"page {i}", "text": f"card **** lot {i}",
            "links": [], "onion_links": [], "lang": "en", "sha256": hashlib.sha256(raw).hexdigest(), "size": len(raw),
            "raw": raw, "depth": 1, "crawl_id": crawl_id, "categories": [], "entities": [], "offers": [], "evidence": [],
        })
    out.append({"url": f"http://{onion(9)}/gone", "onion": onion(9), "fetched_at": "2026-11-22T10:00:01Z",
                "status": None, "failure": "timeout", "content_type": "", "title": "", "text": "", "links": [],
                "onion_links": [], "lang": "und", "sha256": "", "size": 0, "raw": b"", "depth": 0, "crawl_id": crawl_id,
                "categories": [], "entities": [], "offers": [], "evidence": []})
    return out


class Enriched:
    """Stands for the enricher in the capture log (its presence says: text was masked)."""

    tagger = None


def journal_with(tmp_path: Path, records: list[dict], crawl_id: str = "c1") -> Journal:
    log = CaptureLog(Journal(tmp_path / "journal"), ["127.0.0.1:9050"], "0.4.9",
                     BlobStore(tmp_path / "journal" / "blobs", KEY.encode()))
    log.journal.roll(crawl_id)
    log.append(records, enricher=Enriched())
    log.close()
    return Journal(tmp_path / "journal")


def sink_for(url: str, prefix: str, **extra: object) -> IndexSink:
    settings = {"ONIONWATCH_ES_URL": url, "ONIONWATCH_INDEX_PREFIX": prefix, "ONIONWATCH_SNAPSHOT_KEY": KEY, **extra}
    return IndexSink.from_crawler(SimpleNamespace(settings=SimpleNamespace(get=lambda k, d=None: settings.get(k, d))))


def test_capture_entries_hold_no_body_and_no_clear_card(tmp_path: Path) -> None:
    j = journal_with(tmp_path, pages(3))
    entries = list(j.iterate())
    assert [e.kind for e in entries] == ["capture"] * 3 + ["failure"]
    cap = entries[0].payload
    assert "raw" not in cap and cap["body"]["pack"].endswith(".pack") and cap["tor"]["version"] == "0.4.9"
    for f in (tmp_path / "journal").rglob("*"):
        if f.is_file():
            assert SECRET_CARD.encode() not in f.read_bytes(), f
    record, problem = record_from_entry(cap, BlobStore(tmp_path / "journal" / "blobs", KEY.encode()))
    assert problem is None and hashlib.sha256(record["raw"]).hexdigest() == cap["sha256"]
    assert not set(record) & {"tor", "tagger", "body"}


def test_journal_to_index_with_snapshots(es, es_url, index_prefix, tmp_path: Path) -> None:
    import index
    from index import Names

    j = journal_with(tmp_path, pages(12))
    sink = sink_for(es_url, index_prefix)
    blobs = BlobStore(tmp_path / "journal" / "blobs", KEY.encode())
    report = JournalIndexer(j, sink, blobs, batch=5).catch_up(30)
    assert report["caught_up"] and report["indexed"] == 13 and report["rejected"] == 0
    assert j.done(sink.consumer_name) == 13
    sink.refresh()
    names = Names(index_prefix)
    assert es.count(index=names.pages)["count"] == 12
    raw = index.get_snapshot(es, names, pages(1)[0]["sha256"], KEY.encode())
    assert raw.startswith(b"<html><title>page 0")
    # again from the start: the same documents, nothing new
    JournalIndexer(j, sink, blobs, start_seq=1).catch_up(30)
    sink.refresh()
    assert es.count(index=names.pages)["count"] == 12
    sink.close()


def test_an_unreachable_server_is_retried_not_skipped(tmp_path: Path) -> None:
    from procs import free_ports

    j = journal_with(tmp_path, pages(2))
    sink = sink_for(f"http://127.0.0.1:{free_ports(1)[0]}", "tunreach")
    errors, retry = sink.store_batch([record_from_entry(e.payload, None)[0] for e in j.iterate()])
    assert retry and all(errors)
    indexer = JournalIndexer(j, sink, None, max_wait=0.2)
    report = indexer.catch_up(1.5)
    assert not report["caught_up"] and report["unavailable"] and report["pending"] == 3
    assert j.done(sink.consumer_name) == 0, "nothing marked done that was not indexed"
    assert sink.identity() is None


def test_a_record_refused_for_good_is_reported_and_skipped(es_url, index_prefix, tmp_path: Path) -> None:
    records = pages(2)
    records[0]["fetched_at"] = "yesterday"  # not RFC 3339: refused by the writer, whatever the retries
    j = journal_with(tmp_path, records)
    sink = sink_for(es_url, index_prefix)
    report = JournalIndexer(j, sink, None).catch_up(30)
    assert report["caught_up"] and report["rejected"] == 1 and "invalid record" in report["rejections"][0]["reason"]
    sink.close()


def test_identity_names_the_embedded_server_process(es_url, index_prefix, tmp_path: Path) -> None:
    control = tmp_path / "noida.control.json"
    control.write_text(json.dumps({"pid": 123, "started_ms": 456}))
    sink = sink_for(es_url, index_prefix, ONIONWATCH_ES_PERSIST_LAG="2", ONIONWATCH_ES_IDENTITY_FILE=str(control))
    first = sink.identity()
    assert first is not None and "pid 123" in first and sink.durable_after == 2.0
    control.write_text(json.dumps({"pid": 124, "started_ms": 999}))
    assert sink.identity() != first, "a restarted server is another identity: unconfirmed writes are replayed"
    sink.close()


def test_rebuild_from_journal_command(es, es_url, index_prefix, tmp_path: Path) -> None:
    from index import Names

    home = tmp_path / "home"
    home.mkdir()
    (home / "snapshot.key").write_text(KEY)
    j = journal_with(home, pages(4, "crawl-a"), "crawl-a")
    j.close()
    log = CaptureLog(Journal(home / "journal"), [], None, BlobStore(home / "journal" / "blobs", KEY.encode()))
    log.journal.roll("crawl-b")
    log.append(pages(3, "crawl-b", start=100), enricher=Enriched())
    log.close()
    env = {"PATH": "/usr/bin:/bin", "ONIONWATCH_HOME": str(home), "ONIONWATCH_ES_URL": es_url,
           "ONIONWATCH_INDEX_PREFIX": index_prefix}

    def rebuild(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "onionwatch", "index", "rebuild", "--from-journal", *args, "--json"], check=False,
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=120)

    names = Names(index_prefix)
    proc = rebuild("--crawl", "crawl-b")
    assert proc.returncode == 0, proc.stderr
    es.indices.refresh(index=names.pages)
    assert es.count(index=names.pages)["count"] == 3
    proc = rebuild()
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["indexed"] == 9  # 7 pages + 2 failures
    proc = rebuild()  # again: same ids, no duplicates
    es.indices.refresh(index=names.pages)
    assert proc.returncode == 0 and es.count(index=names.pages)["count"] == 7
    assert rebuild("--pending").returncode == 0
    empty = subprocess.run([sys.executable, "-m", "onionwatch", "index", "rebuild", "--from-journal"], check=False, cwd=REPO,
                           env=dict(env, ONIONWATCH_HOME=str(tmp_path / "nohome")), capture_output=True, text=True)
    assert empty.returncode == 2 and "no crawl journal" in empty.stderr


def test_crawl_with_elasticsearch_gone_exits_non_zero_naming_what_waits_then_rebuild(es, es_url, index_prefix,
                                                                                     tmp_path: Path) -> None:
    """Without the lab: a loopback SOCKS server that answers like Tor. Elasticsearch never
    comes: the crawl still journals every page, says so once, waits ONIONWATCH_INDEX_WAIT,
    exits 1 naming the entries that wait; `index rebuild --from-journal --pending` indexes them."""
    import threading
    from http.server import ThreadingHTTPServer

    from index import Names
    from procs import free_ports
    from tests.test_crawl_local import A, B, Chain
    from tests.test_liveness_checker import TorLikeSocks

    server = ThreadingHTTPServer(("127.0.0.1", 0), Chain)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proxy = TorLikeSocks(server.server_address[1], {A: "up", B: "up"})
    home = tmp_path / "home"
    env = {"PATH": "/usr/bin:/bin", "ONIONWATCH_HOME": str(home), "PYTHONUNBUFFERED": "1",
           "ONIONWATCH_ES_URL": f"http://127.0.0.1:{free_ports(1)[0]}", "ONIONWATCH_INDEX_PREFIX": index_prefix}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "onionwatch", "crawl", "--seeds", A, "--socks", proxy.addr, "--max-depth", "2",
             "--summary-json", "-s", "ONIONWATCH_STORE_MAX_WAIT=0.2", "-s", "ONIONWATCH_INDEX_WAIT=3",
             "-s", "ONIONWATCH_PROCESSORS="],
            check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    finally:
        proxy.close()
        server.shutdown()
        server.server_close()
    assert proc.returncode == 1, proc.stderr[-3000:]
    lines = proc.stderr.splitlines()
    assert sum("Elasticsearch unreachable" in line for line in lines) == 1, proc.stderr
    summary = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert summary["journaled"] == summary["pages"] == 6 and summary["index"]["pending"] == 6
    assert any(line.startswith("error: not indexed: 6 journaled entries from journal seq 1") for line in lines), lines
    assert any(line.startswith("error: not indexed, e.g. http://") for line in lines), lines
    rebuilt = subprocess.run([sys.executable, "-m", "onionwatch", "index", "rebuild", "--from-journal", "--pending"],
                             check=False, cwd=REPO, env=dict(env, ONIONWATCH_ES_URL=es_url), capture_output=True,
                             text=True, timeout=120)
    assert rebuilt.returncode == 0, rebuilt.stderr
    es.indices.refresh(index=Names(index_prefix).pages)
    assert es.count(index=Names(index_prefix).pages)["count"] == 6
    assert Journal(home / "journal").done(f"index.{index_prefix}") == 6


def test_acknowledged_then_lost_by_the_embedded_server_is_sent_again(tmp_path: Path) -> None:
    """noida-db acknowledges before it persists (about 0.5 s later): SIGKILLed right after
    an ack and restarted on its port, it is another process (identity), so nothing of that
    batch was marked done and the whole batch goes again — layout included."""
    import os
    import signal

    from index import Names
    from onionwatch import es_server
    from tests.fixtures_es import make_client

    data = tmp_path / "es"
    server = es_server.start(data)
    try:
        sink = sink_for(server.url, "tlost", ONIONWATCH_ES_PERSIST_LAG="2",
                        ONIONWATCH_ES_IDENTITY_FILE=str(data / "noida.control.json"))
        j = journal_with(tmp_path, pages(40))
        indexer = JournalIndexer(j, sink, BlobStore(tmp_path / "journal" / "blobs", KEY.encode()), batch=100)
        assert indexer.consumer.step()  # the batch is acknowledged ...
        os.kill(server.pid, signal.SIGKILL)  # ... and the server killed at once
        assert j.done(sink.consumer_name) == 0, "nothing was confirmed: the ack has not lasted yet"
        server = es_server.start(data, port=server.port)
        es = make_client(server.url)
        names = Names("tlost")
        kept = es.count(index=names.pages)["count"] if es.indices.exists_alias(name=names.pages) else 0
        report = indexer.catch_up(60)
        es.indices.refresh(index=names.pages)
        print(f"\n[faults] embedded server kept {kept} of 40 acknowledged pages after SIGKILL; "
              f"after replay {es.count(index=names.pages)['count']}")
        assert report["caught_up"] and report["replays"] == 1
        assert es.count(index=names.pages)["count"] == 40 and j.done(sink.consumer_name) == 41
        es.close()
        sink.close()
    finally:
        es_server.stop(data)


def test_a_lost_index_is_set_up_again_before_the_batch_is_retried(es, es_url, index_prefix) -> None:
    """A server that restarted may have lost an index it had acknowledged (noida-durability.md):
    the batch that meets the missing index is offered again, and the sink sets its layout up
    again first instead of failing on the same missing index until the crawl gives up."""
    from index import Names

    names = Names(index_prefix)
    sink = sink_for(es_url, index_prefix)

    def with_listing(i: int) -> dict:
        record = pages(1, start=i)[0]
        record["listings"] = [{"listing_id": f"lost-{i}", "market": "lab", "title": f"lot {i}", "vendor": "v",
                               "vendor_norm": "v", "url": record["url"], "onion": record["onion"],
                               "fetched_at": record["fetched_at"], "price": 10.0, "currency": "USD"}]
        return record

    errors, retry = sink.store_batch([with_listing(1)])
    assert errors == [None] and not retry
    for index in es.indices.get_alias(name=names.alias("listings")).body:
        es.indices.delete(index=index)  # lost, as a killed embedded server loses what it had not written out
    errors, retry = sink.store_batch([with_listing(2)])
    assert retry and errors[0] and "listings not stored: NotFoundError" in errors[0]
    errors, retry = sink.store_batch([with_listing(2)])  # the journal consumer's next attempt
    assert errors == [None] and not retry
    es.indices.refresh(index=names.alias("listings"))
    assert es.count(index=names.alias("listings"))["count"] == 1
    sink.close()
