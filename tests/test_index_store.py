"""Writes against a real server: templates, aliases, idempotence, partitions, failure policy,
snapshots, services, migration."""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from pathlib import Path

import pytest
from elasticsearch import ConnectionError as ESConnectionError
from elasticsearch import Elasticsearch

import index
from index import Names, PageWriter, SnapshotError, get_snapshot
from index.schema import default_config_dir, load_specs
from index.snapshots import seal
from tests.fixtures_es import FaultyProxy, make_client, onion, page_record

KEY = b"test-snapshot-key"
A, B = onion(1), onion(2)


def writer(es: Elasticsearch, names: Names, **kw: object) -> PageWriter:
    kw.setdefault("initial_backoff", 0.05)
    return PageWriter(es, names, snapshot_key=KEY, **kw)  # type: ignore[arg-type]


def store(es: Elasticsearch, names: Names, records: list[dict], **kw: object) -> index.FlushResult:
    w = writer(es, names, **kw)
    for r in records:
        w.write(r)
    return w.flush()


def test_setup_installs_versioned_templates_behind_aliases(es: Elasticsearch, names: Names) -> None:
    index.setup(es, names)
    index.setup(es, names)  # idempotent
    templates = {t["name"] for t in es.indices.get_index_template(name=f"{names.prefix}-*")["index_templates"]}
    kinds = sorted(load_specs())  # every template file in configs/index
    assert {"pages", "page_ids", "services", "snapshots", "checks", "alerts"} <= set(kinds)
    assert templates == {f"{names.prefix}-{k}-v1" for k in kinds}
    aliases = es.indices.get_alias(name=f"{names.prefix}-*").body
    services = aliases[f"{names.prefix}-services-v1"]["aliases"][names.services]
    assert services.get("is_write_index") is True
    (pages_index,) = [i for i in aliases if i.startswith(f"{names.prefix}-pages-v1-")]
    mapping = es.indices.get_mapping(index=pages_index)[pages_index]["mappings"]
    assert mapping["dynamic"] == "strict"
    assert mapping["properties"]["entities"]["type"] == "nested"
    assert mapping["properties"]["text"]["fields"]["ngram"]["analyzer"] == "ngram2"
    assert mapping["properties"]["evidence"]["enabled"] is False
    assert [s["kind"] for s in index.status(es, names)] == kinds


def test_writing_the_same_records_twice_changes_no_count(es: Elasticsearch, names: Names) -> None:
    records = [
        page_record(f"http://{A}/1", "pangolin scales", categories=["wildlife"]),
        page_record(f"http://{A}/2", "ivory", categories=["wildlife"]),
        page_record(f"http://{B}/", "news"),
    ]
    first = store(es, names, records)
    assert first.ok and (first.pages, first.snapshots, first.services) == (3, 3, 2)
    before = index.counts(es, names)
    es.indices.refresh(index=names.snapshots)  # the writer does not refresh snapshots (read by id only)
    snaps = es.count(index=names.snapshots)["count"]
    second = store(es, names, records + records)  # even duplicated within one batch
    assert second.ok and second.snapshots == 0
    assert index.counts(es, names) == before
    assert before["pages"] == 3 and before["onions"] == 2 and before["services"] == 2
    es.indices.refresh(index=names.snapshots)
    assert es.count(index=names.snapshots)["count"] == snaps == 3
    assert index.get_service(es, names, A)["page_count"] == 2


def test_pages_go_to_the_month_of_fetched_at_and_stay_there_when_refetched(es: Elasticsearch, names: Names) -> None:
    oct_page = page_record(f"http://{A}/x", "same body", fetched_at="2026-10-31T23:59:59Z")
    nov_page = page_record(f"http://{A}/y", "other body", fetched_at="2026-11-01T00:00:00Z")
    assert store(es, names, [oct_page, nov_page]).ok
    behind = set(es.indices.get_alias(name=names.pages).body)
    assert {f"{names.prefix}-pages-v1-2026.10", f"{names.prefix}-pages-v1-2026.11"} <= behind
    refetch = page_record(f"http://{A}/x", "same body", fetched_at="2026-12-02T08:00:00Z")
    assert store(es, names, [refetch]).ok
    hits = es.search(index=names.pages, query={"term": {"url": f"http://{A}/x"}})["hits"]["hits"]
    assert len(hits) == 1
    assert hits[0]["_index"] == f"{names.prefix}-pages-v1-2026.10"
    assert hits[0]["_source"]["fetched_at"] == "2026-10-31T23:59:59Z"
    assert hits[0]["_source"]["last_fetched_at"] == "2026-12-02T08:00:00Z"
    assert not es.indices.exists(index=f"{names.prefix}-pages-v1-2026.12")


def test_every_rejected_document_is_reported_with_its_reason(es: Elasticsearch, names: Names) -> None:
    good = page_record(f"http://{A}/ok", "fine")
    rejected = page_record(f"http://{A}/bad", "bad depth", depth="deep")  # integer field
    tampered = page_record(f"http://{A}/t", "body")
    tampered["raw"] = b"another body"
    no_hash = page_record(f"http://{A}/n", "no hash", sha256="")
    bad_time = page_record(f"http://{A}/d", "bad time", fetched_at="yesterday")
    result = store(es, names, [good, rejected, tampered, no_hash, bad_time])
    assert result.pages == 1 and not result.ok
    by_url = {f.url: f for f in result.failed}
    assert set(by_url) == {f"http://{A}/bad", f"http://{A}/t", f"http://{A}/n", f"http://{A}/d"}
    assert by_url[f"http://{A}/bad"].status == 400
    assert "pars" in by_url[f"http://{A}/bad"].reason  # mapper/document parsing exception
    assert "'deep'" not in by_url[f"http://{A}/bad"].reason  # field value previews are dropped
    assert "sha256" in by_url[f"http://{A}/t"].reason
    assert "fetched_at" in by_url[f"http://{A}/d"].reason
    assert index.counts(es, names)["pages"] == 1


def test_sink_protocol_reports_one_error_per_record(es: Elasticsearch, names: Names) -> None:
    good = page_record(f"http://{A}/ok", "fine")
    rejected = page_record(f"http://{A}/bad", "bad", status="teapot")
    down = {"url": f"http://{B}/", "onion": B, "fetched_at": "2026-11-22T10:00:00Z", "status": None,
            "failure": "timeout", "sha256": None, "raw": None}
    w = writer(es, names)
    errors = w.store([good, rejected, down])
    assert errors[0] is None and errors[2] is None
    assert errors[1] is not None and "status" in errors[1]
    assert index.get_service(es, names, B)["last_failure"] == "timeout"
    w.close()
    assert w.pending == 0


needs_http = pytest.mark.skipif(os.environ.get("ONIONWATCH_TEST_ES_URL", "").startswith("https"),
                                reason="the fault-injecting proxy speaks plain HTTP only")


# The client retries a dropped connection twice at once; the 4th drop reaches PageWriter.
@needs_http
@pytest.mark.parametrize(("mode", "fail", "min_wait"), [("429", 2, 0.3), ("503", 2, 0.3), ("drop", 4, 0.1)])
def test_overload_and_dropped_connections_are_retried_with_backoff(
    es_url: str, es: Elasticsearch, names: Names, mode: str, fail: int, min_wait: float
) -> None:
    index.setup(es, names)
    records = [page_record(f"http://{A}/{i}", f"page {i}") for i in range(5)]
    with FaultyProxy(es_url, fail=fail, mode=mode) as proxy:
        started = time.monotonic()
        result = store(make_client(proxy.url), names, records, chunk_docs=2, initial_backoff=0.1)
        elapsed = time.monotonic() - started
    assert result.ok, result.failed
    assert result.pages == 5 and proxy.faults == fail
    assert proxy.seen_bulk > fail
    assert elapsed >= min_wait  # backoff 0.1 s, then 0.2 s, was waited
    assert index.counts(es, names)["pages"] == 5


@needs_http
def test_documents_that_never_get_through_are_all_reported(es_url: str, es: Elasticsearch, names: Names) -> None:
    index.setup(es, names)
    records = [page_record(f"http://{A}/{i}", f"page {i}") for i in range(3)]
    with FaultyProxy(es_url, fail=10**6, mode="429") as proxy:
        result = store(make_client(proxy.url), names, records, max_retries=2, initial_backoff=0.01)
    failed_pages = {f.url for f in result.failed if f.kind == "page"}
    assert failed_pages == {r["url"] for r in records}
    assert {f.status for f in result.failed} == {429}
    assert result.pages == 0 and index.counts(es, names)["pages"] == 0


def test_flush_keeps_the_buffer_when_the_server_is_unreachable(names: Names) -> None:
    from index.client import connect
    from procs import free_ports

    w = PageWriter(connect(f"http://127.0.0.1:{free_ports(1)[0]}"), names, snapshot_key=KEY)
    w.write(page_record(f"http://{A}/", "x"))
    with pytest.raises(ESConnectionError):
        w.flush()
    assert w.pending == 1


def test_snapshot_round_trip_is_encrypted_and_verified(es: Elasticsearch, names: Names) -> None:
    secret = "card 4111 1111 1111 1111 owner alice@example.com " * 20
    rec = page_record(f"http://{A}/leak", secret)
    assert store(es, names, [rec]).ok
    assert get_snapshot(es, names, rec["sha256"], KEY) == rec["raw"]
    stored = es.get(index=names.snapshots, id=rec["sha256"])["_source"]
    blob = base64.b64decode(stored["data"])
    assert b"alice@example.com" not in blob and b"alice" not in json.dumps(stored).encode()
    assert stored["size"] == len(rec["raw"]) and stored["stored_size"] < len(rec["raw"])  # compressed
    with pytest.raises(SnapshotError, match="decrypt"):
        get_snapshot(es, names, rec["sha256"], b"wrong key")
    with pytest.raises(SnapshotError, match="not stored"):
        get_snapshot(es, names, "0" * 64, KEY)
    # a blob moved under another id fails authentication (the id is associated data)
    other = "f" * 64
    es.index(index=names.snapshots, id=other, document=stored, refresh=True)
    with pytest.raises(SnapshotError, match="decrypt"):
        get_snapshot(es, names, other, KEY)
    # correctly sealed but with content that does not hash to its id: the digest check catches it
    es.index(index=names.snapshots, id=other, document=seal(b"forged", other, KEY), refresh=True)
    with pytest.raises(SnapshotError, match="SHA-256"):
        get_snapshot(es, names, other, KEY)


def test_services_first_seen_never_moves_forward(es: Elasticsearch, names: Names) -> None:
    nov = page_record(f"http://{A}/", "drugs page", fetched_at="2026-11-10T00:00:00Z", categories=["drugs"], title="Shop")
    assert store(es, names, [nov]).ok
    oct_ = page_record(f"http://{A}/old", "older page", fetched_at="2026-10-01T00:00:00Z", categories=["wildlife"])
    down = {"url": f"http://{A}/", "onion": A, "fetched_at": "2026-12-01T00:00:00Z", "status": None,
            "failure": "onion_intro_failed", "sha256": None, "raw": None}
    result = store(es, names, [oct_, down])
    assert result.ok and result.pages == 1
    svc = index.get_service(es, names, A)
    assert svc["first_seen"] == "2026-10-01T00:00:00Z"
    assert svc["last_seen"] == "2026-11-10T00:00:00Z"
    assert svc["last_checked"] == "2026-12-01T00:00:00Z"
    assert (svc["last_status"], svc["last_failure"]) == (None, "onion_intro_failed")
    assert svc["categories"] == ["drugs", "wildlife"] and svc["page_count"] == 2
    assert "Shop" in svc["titles"]
    listing = index.services(es, names)
    assert [s["onion"] for s in listing] == [A]
    assert index.services(es, names, category="wildlife")[0]["onion"] == A
    assert index.services(es, names, category="leaked_data") == []


def test_migrate_reindexes_into_the_new_version_and_swaps_the_alias(
    es: Elasticsearch, names: Names, tmp_path: Path
) -> None:
    config = tmp_path / "index"
    shutil.copytree(default_config_dir(), config)
    records = [page_record(f"http://{A}/{i}", f"pangolin {i}", fetched_at=f"2026-{m}-05T00:00:00Z")
               for i, m in enumerate(["10", "11", "11"])]
    assert store(es, names, records, config_dir=config).ok
    v2 = json.loads((config / "pages.v1.json").read_text())
    v2["template"]["mappings"]["properties"]["reviewed"] = {"type": "boolean"}
    (config / "pages.v2.json").write_text(json.dumps(v2))
    pages_status = next(s for s in index.status(es, names, config) if s["kind"] == "pages")
    assert pages_status["needs_migrate"] and pages_status["latest_version"] == 2

    report = index.migrate(es, names, config, delete_old=True)
    moved = {(r["from"], r["to"]) for r in report}
    p = names.prefix
    assert (f"{p}-pages-v1-2026.10", f"{p}-pages-v2-2026.10") in moved
    assert (f"{p}-pages-v1-2026.11", f"{p}-pages-v2-2026.11") in moved
    assert all(r["kind"] == "pages" for r in report)
    behind = set(es.indices.get_alias(name=names.pages).body)
    assert behind and all("-pages-v2-" in i for i in behind)
    assert not es.indices.exists(index=f"{p}-pages-v1-2026.10")
    assert index.search(es, names, "pangolin")["total"] == 3
    assert not any(s["needs_migrate"] for s in index.status(es, names, config))
    # writers on the new version write v2 partitions, and re-writes stay idempotent
    new = page_record(f"http://{A}/new", "pangolin new", fetched_at="2026-11-20T00:00:00Z")
    assert store(es, names, records + [new], config_dir=config).ok
    assert index.counts(es, names)["pages"] == 4
    assert index.migrate(es, names, config) == []


def test_fields_added_to_the_pages_file_reach_existing_partitions_without_a_migration(
    es: Elasticsearch, names: Names, tmp_path: Path
) -> None:
    """page_kind and model_version were added to pages.v1.json in place (new fields are legal in
    an existing mapping): partitions created before them get them from ``setup``, so a writer
    can put a re-fetch into its old partition although the mapping is strict."""
    old = tmp_path / "index"
    shutil.copytree(default_config_dir(), old)
    spec = json.loads((old / "pages.v1.json").read_text())
    for name in ("page_kind", "model_version"):
        del spec["template"]["mappings"]["properties"][name]
    (old / "pages.v1.json").write_text(json.dumps(spec))
    page = page_record(f"http://{A}/listing", "Liquid Ketamine - 1000mg / 10mL", fetched_at="2026-10-05T00:00:00Z",
                       categories=["drugs"], page_kind="listing", model_version="offers-test")
    assert store(es, names, [page], config_dir=old).ok  # the old layout: the fields are not written
    oct_index = f"{names.prefix}-pages-v1-2026.10"
    assert "page_kind" not in es.indices.get_mapping(index=oct_index)[oct_index]["mappings"]["properties"]

    refetch = dict(page, fetched_at="2026-11-30T00:00:00Z")  # same body: same document, its first month
    result = store(es, names, [refetch])  # the shipped layout
    assert result.ok, result.failed
    props = es.indices.get_mapping(index=oct_index)[oct_index]["mappings"]["properties"]
    assert props["page_kind"] == props["model_version"] == {"type": "keyword"}
    assert not any(s["needs_migrate"] for s in index.status(es, names))
    (hit,) = index.search(es, names, "", page_kind="listing")["hits"]
    assert hit["url"] == page["url"] and hit["page_kind"] == "listing"
    doc = index.get_page(es, names, hit["id"])
    assert doc["model_version"] == "offers-test" and doc["last_fetched_at"] == "2026-11-30T00:00:00Z"
    assert index.counts(es, names)["pages"] == 1


def test_an_enriched_page_is_stored_with_its_page_kind_and_model_version(es: Elasticsearch, names: Names) -> None:
    """The crawl's own path (RecordEnricher with the shipped tagger, the record gate, the
    sink's PageWriter) on the real server: the stored page says what kind of text it is
    and which classifier tagged it, and search filters by the kind."""
    from crawler.items import shape
    from enrich.records import RecordEnricher
    from enrich.tagger import Tagger

    tagger = Tagger.load()
    listing = page_record(f"http://{A}/heroin", "ARCTIC WOLF HEROIN 0.5G AAA+")
    news = page_record(f"http://{B}/news", "Police seized 40 kg of heroin at the port, officials said on Tuesday. "
                       "The suspects were arrested and will be prosecuted.")
    records = [listing, news]
    RecordEnricher(tagger, b"store-test-pii-key")(records)
    assert store(es, names, [shape(r) for r in records]).ok
    by_url = {h["url"]: h for h in index.search(es, names, "heroin")["hits"]}
    assert by_url[listing["url"]]["page_kind"] == "listing" and by_url[news["url"]]["page_kind"] == "news"
    for hit in by_url.values():
        assert index.get_page(es, names, hit["id"])["model_version"] == tagger.model_version
    assert [h["url"] for h in index.search(es, names, "heroin", page_kind="listing")["hits"]] == [listing["url"]]
