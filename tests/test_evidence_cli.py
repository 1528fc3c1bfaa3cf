"""The evidence and export commands end to end on the real ES-compatible server: pages and
encrypted snapshots stored by index/, the capture journal beside them, bundles verified."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from index import PageWriter
from onionwatch import es_server
from onionwatch.cli import main
from tests.test_evidence_data import EMAIL, KEY, MARKET, market_captures

pytestmark = pytest.mark.slow  # needs the Elasticsearch-compatible server

SNAPSHOT_KEY = "test-snapshot-key"


@pytest.fixture
def env(es_url: str, names, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    home = tmp_path / "home"
    home.mkdir()
    for k, v in {"ONIONWATCH_ES_URL": es_url, "ONIONWATCH_INDEX_PREFIX": names.prefix, "ONIONWATCH_HOME": str(home),
                 "ONIONWATCH_SNAPSHOT_KEY": SNAPSHOT_KEY, "ONIONWATCH_PII_KEY": KEY.decode()}.items():
        monkeypatch.setenv(k, v)
    caps, _journal = market_captures(home / "journal")
    es = es_server.client()
    writer = PageWriter(es, names, snapshot_key=SNAPSHOT_KEY.encode(), config_dir=es_server.index_config_dir())
    errors = writer.store([dict(c.page, raw=c.body) for c in caps])
    assert errors == [None, None, None]
    es.indices.refresh(index=names.pages)
    yield {"home": home, "caps": caps, "tmp": tmp_path}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_export_verify_tamper_and_audit(env: dict) -> None:
    out = env["tmp"] / "bundle"
    code, stdout, stderr = run("evidence", "export", "--onion", MARKET, "--out", str(out), "--operator", "Insp. Lim",
                               "--case", "SEAJ-7")
    assert code == 0, stderr
    assert (out / "manifest.json").exists() and "3 capture(s), 3 screenshot(s)" in stdout
    m = json.loads((out / "manifest.json").read_text())
    assert {c["journal"]["seq"] for c in m["captures"]} == {1, 3, 5}
    code, stdout, stderr = run("evidence", "verify", str(out))
    assert code == 0 and stdout.startswith("OK:") and "seq 1..5 chain intact" in stdout, (stdout, stderr)
    report = out / "report.html"
    report.write_text(report.read_text().replace("SEAJ-7", "SEAJ-8"))
    code, stdout, stderr = run("evidence", "verify", str(out))
    assert code == 1 and stderr.startswith("FAIL: report.html"), stderr
    code, stdout, stderr = run("evidence", "audit", "--json")
    assert code == 0
    entries = [json.loads(line) for line in stdout.splitlines()]
    assert entries[-1]["payload"]["action"] == "evidence_export" and entries[-1]["payload"]["who"] == "Insp. Lim"
    assert entries[-1]["payload"]["results"] == 3 and entries[-1]["payload"]["what"]["case"] == "SEAJ-7"


def test_empty_selection_writes_nothing(env: dict) -> None:
    out = env["tmp"] / "none"
    code, _, stderr = run("evidence", "export", "--query", "no such words anywhere zzqx", "--out", str(out))
    assert code == 1 and "Nothing to export" in stderr and not out.exists()
    code, _, stderr = run("export", "stix", "--query", "zzqx nothing", "--out", str(env["tmp"] / "s.json"))
    assert code == 1 and "Nothing to export" in stderr and not (env["tmp"] / "s.json").exists()


def test_include_pii_is_audited_and_listing_export(env: dict) -> None:
    listing = next(c for c in env["caps"] if "listing" in c.page["url"])
    out = env["tmp"] / "pii"
    code, _, stderr = run("evidence", "export", "--listing", listing.page["doc_id"], "--out", str(out), "--include-pii",
                          "--no-screenshots", "--operator", "Insp. Lim")
    assert code == 0, stderr
    assert run("evidence", "verify", str(out))[0] == 0
    _, stdout, _ = run("evidence", "audit", "--json")
    actions = [json.loads(line)["payload"]["action"] for line in stdout.splitlines()]
    assert actions[-2:] == ["include_pii", "evidence_export"]


def test_stix_and_misp_commands(env: dict) -> None:
    from pymisp import MISPEvent
    from stix2validator import ValidationOptions, validate_string

    stix_out, misp_out = env["tmp"] / "b.json", env["tmp"] / "e.json"
    code, _, stderr = run("export", "stix", "--onion", MARKET, "--out", str(stix_out))
    assert code == 0, stderr
    text = stix_out.read_text()
    assert validate_string(text, ValidationOptions(version="2.1")).is_valid and EMAIL not in text
    assert "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq" in text
    code, _stdout, stderr = run("export", "misp", "--query", "pangolin", "--out", str(misp_out))
    assert code == 0, stderr
    event = MISPEvent()
    event.load(json.loads(misp_out.read_text()))
    assert any(o.name == "tor-hiddenservice" for o in event.objects) and EMAIL not in misp_out.read_text()
    assert os.stat(misp_out).st_mode & 0o777 == 0o600


def test_pii_lookup_by_value_is_audited_with_the_hash_only(env: dict) -> None:
    code, stdout, stderr = run("search", "--pii-value", EMAIL, "--pii-label", "EMAIL_ADDRESS", "--json")
    assert code == 0, stderr
    _, out, _ = run("evidence", "audit", "--json")
    last = json.loads(out.splitlines()[-1])["payload"]
    assert last["action"] == "pii_lookup" and last["what"]["by"] == "value" and len(last["what"]["hash"]) == 64
    assert last["results"] == json.loads(stdout)["pii"]["pages"]
    for f in (env["home"] / "audit").rglob("*"):
        if f.is_file():
            assert EMAIL.encode() not in f.read_bytes()


def test_export_a_past_crawl_by_its_id(env: dict) -> None:
    out = env["tmp"] / "crawl"
    code, _, stderr = run("evidence", "export", "--crawl", "crawl-a", "--out", str(out), "--no-screenshots")
    assert code == 0, stderr
    m = json.loads((out / "manifest.json").read_text())
    assert len(m["captures"]) == 3 and {c["crawl_id"] for c in m["captures"]} == {"crawl-a"}
    assert run("evidence", "verify", str(out))[0] == 0
    code, _, stderr = run("evidence", "export", "--crawl", "no-such-crawl", "--out", str(env["tmp"] / "none"))
    assert code == 1 and "Nothing to export" in stderr


def test_pivot_on_a_personal_identifier_is_audited(env: dict) -> None:
    code, _, stderr = run("pivot", EMAIL, "--json")
    assert code == 0, stderr
    _, out, _ = run("evidence", "audit", "--json")
    last = json.loads(out.splitlines()[-1])["payload"]
    assert last["action"] == "pii_lookup" and last["what"]["via"] == "cli pivot" and last["what"]["kind"] == "email"
    code, _, _ = run("pivot", MARKET, "--json")  # a public identifier: not a lookup of personal data
    _, out2, _ = run("evidence", "audit", "--json")
    assert code == 0 and len(out2.splitlines()) == len(out.splitlines())
