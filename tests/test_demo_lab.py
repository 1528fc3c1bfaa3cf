"""The demo end to end: it crawls the lab through Tor into the local
Elasticsearch, `search pangolin` finds the market's offers (not the news report as an
offer), a PII value is findable by hash only, and a re-run changes no counts."""

from __future__ import annotations

import json

import pytest

from tests.fixtures_lab import lab_env, run_onionwatch

pytestmark = pytest.mark.slow
STDERR: list[str] = []  # what each demo run printed on stderr


@pytest.fixture(scope="module")
def demo_home(lab, tmp_path_factory):  # noqa: ANN001, ANN201
    home = tmp_path_factory.mktemp("demo-home")
    env = lab_env(lab, home)
    env.pop("ONIONWATCH_ES_URL", None)
    runs = []
    stderr = []
    for _ in range(2):
        proc = run_onionwatch(["demo", "--keep", "--json", "--timeout", "6"], env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs.append(json.loads(proc.stdout))
        stderr.append(proc.stderr)
    STDERR[:] = stderr
    yield env, runs
    run_onionwatch(["es", "down"], env)


def test_demo_prints_no_framework_noise(demo_home) -> None:  # noqa: ANN001
    """Indexing into Elasticsearch and crawling through Tor, the user sees onionwatch's own
    words only: no per-request client log, no Scrapy log, no deprecation warnings."""
    noise = ("elastic_transport", "HEAD http", "POST http", "PUT http", "Scrapy", "scrapy.", "[twisted",
             "DeprecationWarning", "is experimental", " INFO", " DEBUG", "ERROR", "Traceback")
    assert len(STDERR) == 2
    for stderr in STDERR:
        noisy = [line for line in stderr.splitlines() if any(n in line for n in noise)]
        assert not noisy, noisy[:5]
        assert "crawling: " in stderr and "\r" not in stderr


def test_demo_stores_everything_and_is_idempotent(demo_home) -> None:  # noqa: ANN001
    _, (first, second) = demo_home
    assert first["crawl"]["store_failed"] == 0
    assert first["crawl"]["onions"] == 11  # 6 sites, Dream Bazaar, the Scaly Road market's 3 mirrors and its clone
    assert first["index"]["pages"] == first["crawl"]["pages"] > 100
    for key in ("pages", "onions", "services", "pages_by_category"):
        assert second["index"][key] == first["index"][key], key
    assert set(first["index"]["pages_by_category"]) == {"leaked_data", "drugs", "wildlife"}
    assert first["total_seconds"] < 180


def test_search_pangolin_finds_offers_not_news(demo_home) -> None:  # noqa: ANN001
    env, _ = demo_home
    proc = run_onionwatch(["search", "pangolin", "--json", "--size", "50"], env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["total"] >= 3
    offers = [h for h in result["hits"] if "wildlife" in h["categories"]]
    assert offers, "the market's pangolin listings are tagged as wildlife offers"
    assert all(any(m in h["title"] for m in ("Golden Lotus", "Delta", "Scaly Road")) for h in offers)
    news = [h for h in result["hits"] if "Mekong Watch" in h["title"]]
    assert news, "the seizure report is found by full-text search ..."
    assert all(h["categories"] == [] for h in news), "... but never as an offer"
    for hit in result["hits"]:
        assert {"url", "onion", "title", "categories", "snippet", "fetched_at"} <= set(hit)


def test_category_filter_and_pii_lookup_by_hash(demo_home) -> None:  # noqa: ANN001
    env, _ = demo_home
    proc = run_onionwatch(["search", "--category", "leaked_data", "--entity", "EMAIL_ADDRESS", "--json"], env)
    result = json.loads(proc.stdout)
    assert result["total"] > 0 and all("leaked_data" in h["categories"] for h in result["hits"])
    email = "anong.s@example.com"
    proc = run_onionwatch(["search", "--pii-value", email, "--pii-label", "EMAIL_ADDRESS", "--json"], env)
    assert proc.returncode == 0, proc.stderr
    lookup = json.loads(proc.stdout)["pii"]
    assert lookup["found"] and lookup["pages"] >= 1
    assert email not in proc.stdout, "the value itself is never echoed back"
    missing = run_onionwatch(["search", "--pii-value", "nobody@example.invalid", "--pii-label", "EMAIL_ADDRESS", "--json"], env)
    assert json.loads(missing.stdout)["pii"]["found"] is False


def test_no_clear_pii_in_the_index(demo_home, tmp_path) -> None:  # noqa: ANN001
    """Stored text is masked in place: the leak site's emails and cards are not searchable in clear."""
    env, _ = demo_home
    for value in ("anong.s@example.com", "4111111111111111", "somchai888"):
        proc = run_onionwatch(["search", value, "--json"], env)
        result = json.loads(proc.stdout)
        for hit in result["hits"]:
            assert value not in json.dumps(hit), f"{value} stored in clear"
