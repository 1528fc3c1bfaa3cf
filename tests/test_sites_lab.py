"""The lab's Scaly Road Market: three mirrors and one phishing clone (same text, another
deposit address). Their pages as the lab serves them, extracted by the crawler's extractor,
tagged by the crawl's enricher and stored by the index writer, cluster into 1 site (3
addresses) + 1 clone, and the counts by site say so.

`test_lab_pages_cluster_*` renders the lab in-process (no Tor, fast); the slow test crawls
the real lab through Tor and asks the CLI, as an analyst would."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from elasticsearch import Elasticsearch

import index
from index import Names, lifespans
from onionwatch.commands.sites import recluster
from tests.fixtures_lab import lab_env, run_onionwatch

MIRRORS = ("pangolin-1", "pangolin-2", "pangolin-3")
CLONE = "pangolin-phish"
OTHERS = ("market", "forum", "news", "leak")


def lab_records(names: tuple[str, ...]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Every page of the named lab sites, as the crawl's pipeline hands them to the sink."""
    import configs
    from crawler.extract import extract
    from crawler.items import shape
    from crawler.onion import find_onions
    from enrich.records import RecordEnricher
    from enrich.tagger import Tagger
    from lab import expected_pages, fake_onion, load_sites, serve_sites

    specs = load_sites()
    onion_of = {s.name: fake_onion(s.name) for s in specs}
    wanted = [s for s in specs if s.name in names]
    site_lab = serve_sites(wanted, onion_of)
    out = []
    try:
        for spec in wanted:
            for n, path in enumerate(sorted(expected_pages(spec, onion_of))):
                raw = b"".join(site_lab.apps[spec.name].handle(path).body)
                url = f"http://{onion_of[spec.name]}{path}"
                page = extract(raw.decode(), url)
                out.append({
                    "url": url, "onion": onion_of[spec.name], "status": 200, "failure": None,
                    "fetched_at": datetime(2026, 3, 1 + len(out) % 5, 10, n % 60, tzinfo=UTC)
                    .isoformat().replace("+00:00", "Z"),
                    "content_type": "text/html", "title": page.title, "text": page.text, "links": page.links,
                    "onion_links": find_onions(" ".join([page.text, *page.links])), "lang": page.lang or "und",
                    "sha256": hashlib.sha256(raw).hexdigest(), "size": len(raw), "raw": raw,
                    "depth": 0 if path == "/" else 1, "crawl_id": "lab-test",
                })
    finally:
        site_lab.stop()
    RecordEnricher(Tagger.load(configs.path("tagger")), b"lab-test-pii-key" * 2)(out)
    return [shape(r) for r in out], onion_of


@pytest.mark.slow
def test_lab_pages_cluster_into_one_site_and_a_clone(es: Elasticsearch, names: Names) -> None:
    records, onion_of = lab_records(MIRRORS + (CLONE,) + OTHERS)
    home = [r for r in records if r["onion"] == onion_of[CLONE] and r["url"].endswith("/")]
    assert any(e["label"] == "CRYPTO" for e in home[0]["entities"])  # the deposit address, as a keyed hash
    assert "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3" not in home[0]["text"]
    index.setup(es, names)
    writer = index.PageWriter(es, names, snapshot_key=b"k" * 32)
    assert not [e for e in writer.store(records) if e]
    run = recluster(es, names, b"k" * 32)
    assert run["failed"] == []
    listing = index.sites.listing(es, names)
    (market,) = [s for s in listing if s["title"] == "Scaly Road Market"]
    roles = {o["onion"]: o["role"] for o in market["onions"]}
    assert roles == {**{onion_of[m]: "mirror" for m in MIRRORS}, onion_of[CLONE]: "clone"}
    assert (market["mirrors"], market["clones"]) == (3, 1)
    assert all(len(s["onions"]) == 1 for s in listing if s is not market)  # the other lab sites stay apart
    month = dict(interval="month", since="2026-03-01", until="2026-03-31")
    sites = lifespans.counts(es, names, unit="sites", **month)[0]
    addresses = lifespans.counts(es, names, unit="addresses", **month)[0]
    n = len(MIRRORS) + 1 + len(OTHERS)
    assert addresses["known"] == n
    assert (sites["known"], sites["clones"]) == (n - 3, 1)  # 3 mirrors are 1 site; the clone apart


@pytest.mark.slow
def test_lab_crawl_counts_one_site_with_three_addresses_and_a_clone(lab: dict, tmp_path) -> None:
    env = lab_env(lab, tmp_path)
    onions = {s["name"]: s["onion"] for s in lab["sites"]}
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("".join(f"http://{onions[n]}/\n" for n in MIRRORS + (CLONE, "news")))
    crawl = run_onionwatch(["crawl", "--seeds", str(seeds), "--timeout", "8", "--max-depth", "1"], env, timeout=900)
    assert crawl.returncode == 0, crawl.stderr[-3000:]
    proc = run_onionwatch(["sites", "--json"], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    found = [s for s in out["sites"] if s["title"] == "Scaly Road Market"]
    assert len(found) == 1, (proc.stdout[-3000:], crawl.stderr[-3000:], crawl.stdout[-1000:])
    market = found[0]
    roles = {o["onion"]: o["role"] for o in market["onions"]}
    assert roles == {**{onions[m]: "mirror" for m in MIRRORS}, onions[CLONE]: "clone"}
    clone = next(o for o in market["onions"] if o["role"] == "clone")
    assert clone["clone_of"] == market["site_id"]
    today = datetime.now(UTC).date().isoformat()
    stats = run_onionwatch(["stats", "onions", "--interval", "day", "--since", today, "--unit", "sites",
                            "--format", "json"], env)
    assert stats.returncode == 0, stats.stderr[-3000:]
    (row,) = json.loads(stats.stdout)["rows"]
    crawled = len({o for o in onions.values() if o in {*(onions[n] for n in MIRRORS + (CLONE,)), onions["news"]}})
    assert crawled == 5
    # the news site, the market (3 addresses) as 1 site; the clone counted apart
    assert (row["known"], row["clones"]) == (2, 1)
    addresses = json.loads(run_onionwatch(["stats", "onions", "--interval", "day", "--since", today,
                                           "--format", "json"], env).stdout)["rows"][0]
    assert addresses["known"] == 5
