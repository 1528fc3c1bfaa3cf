"""The audit trail in the web app: admins only, chain state shown, export audited, and raw
snapshot downloads recorded. Real ES-compatible server, real Flask app."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from flask import Flask

import index
from evidence import AuditLog
from index import Names, PageWriter
from onionwatch.web import Backend, TokenStore, create_app
from tests.fixtures_es import drop_prefix, onion, page_record

pytestmark = pytest.mark.slow  # needs the Elasticsearch-compatible server

PAGE = page_record(f"http://{onion(7)}/leak", "<p>rows: a@b.example</p>")


@pytest.fixture(scope="module")
def names(es: Elasticsearch) -> Iterator[Names]:
    names = Names(f"a{uuid.uuid4().hex[:10]}")
    writer = PageWriter(es, names, snapshot_key=b"k")
    writer.write(PAGE)
    assert writer.flush().ok
    yield names
    drop_prefix(es, names.prefix)


@pytest.fixture
def setup(es: Elasticsearch, names: Names, tmp_path: Path) -> dict:
    tokens = TokenStore(tmp_path / "tokens.json")
    audit = AuditLog(tmp_path / "audit")
    audit.record("pii_lookup", who="cli-user", what={"hash": "ab" * 32, "label": "EMAIL_ADDRESS"}, results=2)
    app: Flask = create_app(Backend(es=es, names=names, snapshot_key=lambda: b"k"), tokens, b"s" * 32, audit=audit)
    return {"app": app, "audit": audit, "admin": tokens.create("chief", admin=True), "analyst": tokens.create("analyst"),
            "dir": tmp_path / "audit"}


def get(setup: dict, path: str, who: str) -> object:
    return setup["app"].test_client().get(path, headers={"Authorization": f"Bearer {setup[who]}"})


def test_admin_sees_the_trail_analyst_does_not(setup: dict) -> None:
    resp = get(setup, "/audit", "admin")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Chain intact" in page and "cli-user" in page and "pii_lookup" in page
    assert ">Audit<" in get(setup, "/search", "admin").get_data(as_text=True)
    assert get(setup, "/audit", "analyst").status_code == 403
    assert get(setup, "/audit.json", "analyst").status_code == 403
    assert ">Audit<" not in get(setup, "/search", "analyst").get_data(as_text=True)
    data = get(setup, "/audit.json", "admin").get_json()
    assert data["chain_intact"] is True and data["entries"][0]["payload"]["who"] == "cli-user"


def test_snapshot_download_is_audited_and_export_too(setup: dict) -> None:
    pid = index.page_id(PAGE["url"], PAGE["sha256"])
    resp = get(setup, f"/api/pages/{pid}/snapshot", "analyst")
    assert resp.status_code == 200 and resp.data == PAGE["raw"]
    last = list(setup["audit"].entries())[-1].payload
    assert last["action"] == "snapshot_download" and last["who"] == "analyst" and last["what"]["sha256"] == PAGE["sha256"]
    export = get(setup, "/audit.jsonl", "admin")
    lines = [json.loads(x) for x in export.get_data(as_text=True).splitlines()]
    assert [x["payload"]["action"] for x in lines] == ["pii_lookup", "snapshot_download"]
    assert list(setup["audit"].entries())[-1].payload["action"] == "audit_export"


def test_a_tampered_trail_is_shown_as_broken(setup: dict) -> None:
    seg = next((setup["dir"] / "segments").glob("*.jsonl"))
    seg.write_text(seg.read_text().replace("cli-user", "someone"))
    page = get(setup, "/audit", "admin").get_data(as_text=True)
    assert "chain is broken" in page and "entry edited" in page
