"""Walls and seizures in the index (real ES-compatible server): a wall record stores no page
document but a sealed snapshot of its body, the service records the wall and its status, a
seizure banner gives `seized` with its evidence and keeps the first sighting, and fields added
to a mapping version reach an index created before them."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest

import index
from index.snapshots import get_snapshot
from index.writer import PageWriter, service_status
from tests.fixtures_es import onion, page_record

pytestmark = pytest.mark.slow
KEY = b"k" * 32


def wall_record(url: str, body: str, wall: str, *, fetched_at: str, status: int = 200, **kw: Any) -> dict[str, Any]:
    r = page_record(url, body, fetched_at=fetched_at, status=status, **kw)
    r.update(failure=wall, wall=wall, wall_evidence=kw.pop("wall_evidence", ["test"]), text="", title="")
    return r


def test_service_status_from_one_record() -> None:
    assert service_status({"failure": None}) == "up"
    assert service_status({"failure": "captcha", "wall": "captcha"}) == "up"
    assert service_status({"failure": "seized", "wall": "seized"}) == "seized"
    assert service_status({"failure": "http_error", "status": 404}) == "up"
    assert service_status({"failure": "onion_descriptor_not_found", "status": None}) == "down"
    assert service_status({"failure": "blocked", "status": None}) is None  # never asked: no evidence


def test_wall_is_sealed_not_indexed_and_the_service_knows(es, names) -> None:
    host = onion("walled")
    seized = onion("seized")
    w = PageWriter(es, names, snapshot_key=KEY)
    cap = wall_record(f"http://{host}/", "<form><img src=captcha.png></form>", "captcha", fetched_at="2026-11-22T10:00:00Z")
    page = page_record(f"http://{host}/rules", "Forum rules: be nice", fetched_at="2026-11-22T09:00:00Z")
    banner = "<title>THIS HIDDEN SITE HAS BEEN SEIZED</title>"
    first = wall_record(f"http://{seized}/", banner, "seized", fetched_at="2026-11-22T11:00:00Z",
                        wall_evidence=["phrase:en", "agency:Europol"])
    earlier_live = page_record(f"http://{seized}/listing/x", "Ketamine 20g 0.01 BTC", fetched_at="2026-11-20T11:00:00Z")
    for r in (cap, page, first, earlier_live):
        w.write(r)
    result = w.flush()
    assert result.ok, result.failed
    assert result.pages == 2  # the two ordinary pages only
    hits = es.search(index=names.pages, query={"match_all": {}}, size=10)["hits"]["hits"]
    assert sorted(h["_source"]["url"] for h in hits) == sorted([page["url"], earlier_live["url"]])
    assert get_snapshot(es, names, cap["sha256"], KEY) == cap["raw"]  # the wall can be shown again
    svc = index.get_service(es, names, host)
    assert (svc["status"], svc["wall"], svc["wall_url"], svc["wall_sha256"]) == ("up", "captcha", cap["url"], cap["sha256"])
    assert svc["last_failure"] == "captcha" and svc["first_seen"] == "2026-11-22T09:00:00Z"
    s = index.get_service(es, names, seized)
    assert (s["status"], s["seized_at"]) == ("seized", "2026-11-22T11:00:00Z")
    assert s["seizure"] == {"url": first["url"], "sha256": first["sha256"], "fetched_at": "2026-11-22T11:00:00Z",
                            "evidence": ["phrase:en", "agency:Europol"]}
    # a later banner keeps the first sighting; a crawl of the same banner changes nothing
    later = wall_record(f"http://{seized}/x", banner + " ", "seized", fetched_at="2026-11-23T11:00:00Z")
    w.write(later)
    w.write(first)
    assert w.flush().ok
    s2 = index.get_service(es, names, seized)
    assert s2["seized_at"] == "2026-11-22T11:00:00Z" and s2["seizure"]["url"] == first["url"]
    assert (s2["status"], s2["wall_url"]) == ("seized", later["url"])
    # it came back with its content: up again, the seizure stays on record
    back = page_record(f"http://{seized}/", "Emerald Road is back", fetched_at="2026-11-24T11:00:00Z")
    w.write(back)
    assert w.flush().ok
    s3 = index.get_service(es, names, seized)
    assert (s3["status"], s3["wall"], s3["seized_at"]) == ("up", None, "2026-11-22T11:00:00Z")


def test_new_mapping_fields_reach_an_existing_index(es, names, tmp_path) -> None:
    """An index created from the mapping before status/wall existed gets them on the next setup."""
    import json
    import shutil

    import configs
    from index import schema

    old = tmp_path / "index"
    shutil.copytree(configs.path("index"), old)
    spec_file = old / "services.v1.json"
    data = json.loads(spec_file.read_text())
    for field in ("status", "wall", "wall_url", "wall_sha256", "seized_at", "seizure"):
        data["template"]["mappings"]["properties"].pop(field)
    spec_file.write_text(json.dumps(data))
    schema.setup(es, names, old)
    host = onion("old-index")
    with pytest.raises(Exception):  # noqa: B017 — the strict old mapping refuses the new field
        es.index(index=names.services, id=host, document={"onion": host, "status": "up"})
    schema.setup(es, names)  # the shipped mapping: adds the new fields in place
    es.index(index=names.services, id=host, document={"onion": host, "status": "seized"}, refresh=True)
    assert index.get_service(es, names, host)["status"] == "seized"


def test_seizure_alert_fires_once_and_services_lists_it(es, names, es_url, tmp_path, monkeypatch) -> None:
    """The shipped rule "a monitored market was seized" fires once per service, however many
    crawls see the banner again; `onionwatch services --status seized --json` shows it."""
    import json
    from datetime import datetime, timedelta

    from click.testing import CliRunner

    import alerts as alerting
    import configs
    from onionwatch.cli import main

    market = onion("market-to-be-seized")
    other = onion("still-up")
    home = tmp_path / "home"
    home.mkdir()
    (home / "alerts.yaml").write_text(f"channels:\n  default: ['jsonl:{home}/alerts.jsonl']\n")
    config = alerting.load_config(configs.root(), home=home)
    rule = "a monitored market was seized"
    t0 = datetime.now(UTC)
    w = PageWriter(es, names, snapshot_key=KEY)
    w.write(page_record(f"http://{market}/", "Emerald Road: ketamine 20g", categories=["drugs"],
                        fetched_at=(t0 - timedelta(hours=2)).isoformat(timespec="seconds").replace("+00:00", "Z")))
    w.write(page_record(f"http://{other}/", "A shop"))
    assert w.flush().ok
    assert alerting.run(es, names, config, rule_name=rule, now=t0)[0]["baseline"]
    banner = "<title>THIS HIDDEN SITE HAS BEEN SEIZED</title>"
    for hours in (1, 2, 3):  # three crawls see the banner
        t = t0 + timedelta(hours=hours)
        w.write(wall_record(f"http://{market}/", banner, "seized", fetched_at=t.isoformat(timespec="seconds").replace("+00:00", "Z"),
                            wall_evidence=["phrase:en", "agency:Europol"]))
        assert w.flush().ok
        summary = alerting.run(es, names, config, rule_name=rule, now=t + timedelta(minutes=1))[0]
        assert summary["queued"] == (1 if hours == 1 else 0), summary
    sent = [json.loads(line) for line in (home / "alerts.jsonl").read_text().splitlines()]
    assert len(sent) == 1
    assert (sent[0]["onion"], sent[0]["event"], sent[0]["evidence"]) == (market, "seized", ["phrase:en", "agency:Europol"])
    assert sent[0]["categories"] == ["drugs"] and sent[0]["evidence_sha256"]
    monkeypatch.setenv("ONIONWATCH_ES_URL", es_url)
    monkeypatch.setenv("ONIONWATCH_INDEX_PREFIX", names.prefix)
    monkeypatch.setenv("ONIONWATCH_HOME", str(home))
    out = CliRunner().invoke(main, ["services", "--status", "seized", "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)["services"]
    assert [r["onion"] for r in rows] == [market]
    assert set(rows[0]) >= {"onion", "status", "wall", "first_seen", "last_seen", "last_checked"}
    assert rows[0]["status"] == "seized" and rows[0]["wall"] == "seized" and rows[0]["seizure"]["evidence"]
    everyone = json.loads(CliRunner().invoke(main, ["services", "--json"]).output)["services"]
    assert {r["onion"]: r["status"] for r in everyone} == {market: "seized", other: "up"}
