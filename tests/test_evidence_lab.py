"""On the lab: crawl the market through real Tor (capture journal + crawl-time WARC), export a
bundle for the market onion, verify it, tamper with it, and keep a listing screenshot."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evidence import warc
from journal import Journal
from tests.fixtures_lab import lab_env, run_onionwatch, site

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="module")
def crawled(lab, es_url, tmp_path_factory):
    from tests.fixtures_es import drop_prefix, make_client

    home = tmp_path_factory.mktemp("evidence-home")
    prefix = "tevidencelab"
    env = dict(lab_env(lab, home), ONIONWATCH_ES_URL=es_url, ONIONWATCH_INDEX_PREFIX=prefix,
               ONIONWATCH_SNAPSHOT_KEY="lab-snapshot-key", ONIONWATCH_PII_KEY="lab-pii-key")
    market = site(lab, "market")["onion"]
    proc = run_onionwatch(["crawl", "--seeds", market, "--warc", str(home / "warc"), "--summary-json",
                           "-s", "ONIONWATCH_DISCOVER=0", "--timeout", "20"], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout[proc.stdout.index("{"):])
    yield {"home": home, "env": env, "market": market, "summary": summary, "tmp": tmp_path_factory.mktemp("ev")}
    drop_prefix(make_client(es_url), prefix)


def test_crawl_journaled_every_capture_and_wrote_warc(crawled) -> None:
    j = Journal(crawled["home"] / "journal")
    assert j.verify() is None
    entries = list(j.iterate())
    captures = [e for e in entries if e.kind == "capture"]
    assert len(entries) == crawled["summary"]["pages"] + crawled["summary"]["failures"]
    assert captures and all(e.payload["onion"] == crawled["market"] for e in captures)
    assert all(e.payload["tor"]["socks"] and e.payload["tor"]["isolation"] for e in captures)
    (warc_file,) = sorted((crawled["home"] / "warc").glob("*.warc.gz"))
    responses = {r.payload_sha256 for r in warc.read(warc_file) if r.rec_type == "response"}
    assert {e.payload["sha256"] for e in captures if e.payload["status"] == 200} <= responses


def test_export_verify_and_tamper_on_the_market(crawled) -> None:
    out = crawled["tmp"] / "bundle"
    proc = run_onionwatch(["evidence", "export", "--onion", crawled["market"], "--out", str(out),
                           "--operator", "lab tester", "--case", "LAB-2026-1"], crawled["env"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = json.loads((out / "manifest.json").read_text())
    assert len(m["captures"]) == crawled["summary"]["pages"] > 10
    assert all(c["journal"] for c in m["captures"]) and m["journal"]["first_seq"] >= 1
    verified = run_onionwatch(["evidence", "verify", str(out)], crawled["env"])
    assert verified.returncode == 0 and verified.stdout.startswith("OK:"), verified.stderr
    listing = next(c for c in m["captures"] if "/listing/" in c["url"] and c["screenshot"])
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(out / listing["screenshot"], ARTIFACTS / "evidence-lab-listing.png")
    shot = out / listing["screenshot"]
    data = bytearray(shot.read_bytes())
    data[len(data) // 2] ^= 0x20
    shot.write_bytes(bytes(data))
    failed = run_onionwatch(["evidence", "verify", str(out)], crawled["env"])
    assert failed.returncode == 1 and failed.stderr.startswith(f"FAIL: {listing['screenshot']}"), failed.stderr
