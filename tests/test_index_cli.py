"""The search/index/es commands, run in-process against the test server."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch

from index import Names, PageWriter
from onionwatch import es_server, settings
from onionwatch.commands.index_cmd import es_group, index_group
from onionwatch.commands.search import search_cmd, terminal_snippet
from tests.fixtures_es import onion, page_record

SHOP, NEWS = onion(20), onion(21)


@pytest.fixture
def cli_env(es_url: str, names: Names, es: Elasticsearch, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Names:
    monkeypatch.setenv("ONIONWATCH_ES_URL", es_url)
    for name in ("USER", "PASSWORD", "CA_CERTS"):  # a secured real cluster, when tests use one
        if os.environ.get(f"ONIONWATCH_TEST_ES_{name}"):
            monkeypatch.setenv(f"ONIONWATCH_ES_{name}", os.environ[f"ONIONWATCH_TEST_ES_{name}"])
    monkeypatch.setenv("ONIONWATCH_HOME", str(tmp_path))
    monkeypatch.setattr(settings, "index_prefix", lambda: names.prefix, raising=False)
    w = PageWriter(es, names, snapshot_key=b"k")
    w.write(page_record(f"http://{SHOP}/p", "Pangolin scales for sale \x1b[31m", title="Scales",
                        categories=["wildlife"], fetched_at="2026-11-20T00:00:00Z", page_kind="listing",
                        entities=[{"label": "EMAIL_ADDRESS", "start": 0, "end": 3, "score": 1.0,
                                   "masked": "a***@x", "hash": "ab" * 32}]))
    w.write(page_record(f"http://{NEWS}/n", "Police seized pangolin scales", fetched_at="2026-11-21T00:00:00Z",
                        page_kind="news"))
    assert w.flush().ok
    return names


def test_search_json_returns_listings_not_news(cli_env: Names) -> None:
    result = CliRunner().invoke(search_cmd, ["pangolin", "--category", "wildlife", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["total"] == 1 and out["next"] is None
    (hit,) = out["hits"]
    assert hit["url"] == f"http://{SHOP}/p" and hit["onion"] == SHOP and hit["categories"] == ["wildlife"]
    assert "<mark>Pangolin</mark>" in hit["snippet"] and hit["fetched_at"] == "2026-11-20T00:00:00Z"


def test_search_by_page_kind(cli_env: Names) -> None:
    result = CliRunner().invoke(search_cmd, ["pangolin", "--kind", "news", "--json"])
    assert result.exit_code == 0, result.output
    (hit,) = json.loads(result.output)["hits"]
    assert hit["onion"] == NEWS and hit["page_kind"] == "news"
    both = json.loads(CliRunner().invoke(search_cmd, ["pangolin", "--kind", "news", "--kind", "listing", "--json"]).output)
    assert both["total"] == 2
    assert CliRunner().invoke(search_cmd, ["pangolin", "--kind", "blog"]).exit_code == 2


def test_cli_and_web_page_kinds_are_the_taggers() -> None:
    from enrich.pagekind import KINDS
    from onionwatch.commands.search import PAGE_KINDS
    from onionwatch.web.records import PAGE_KINDS as WEB_KINDS

    assert PAGE_KINDS == WEB_KINDS == KINDS


def test_search_pages_with_after_token_and_prints_safely(cli_env: Names) -> None:
    runner = CliRunner()
    first = json.loads(runner.invoke(search_cmd, ["pangolin", "--sort", "newest", "--size", "1", "--json"]).output)
    assert first["total"] == 2 and first["hits"][0]["onion"] == NEWS
    second = json.loads(runner.invoke(search_cmd, ["pangolin", "--sort", "newest", "--size", "1",
                                                   "--after", first["next"], "--json"]).output)
    assert [h["onion"] for h in second["hits"]] == [SHOP]
    text = runner.invoke(search_cmd, ["pangolin", "--onion", SHOP])
    assert text.exit_code == 0 and "Scales" in text.output and "\x1b[31m" not in text.output
    assert "1 result(s)" in text.output
    bad = runner.invoke(search_cmd, ["x", "--after", "garbage!"])
    assert bad.exit_code == 2 and "paging token" in bad.output


def test_search_by_pii_hash_reports_first_and_last_seen(cli_env: Names) -> None:
    result = CliRunner().invoke(search_cmd, ["--pii-hash", "ab" * 32, "--json"])
    out = json.loads(result.output)
    assert out["pii"]["found"] and out["pii"]["onions"][0]["onion"] == SHOP
    assert [h["url"] for h in out["hits"]] == [f"http://{SHOP}/p"]
    assert "seen on 1 page(s)" in CliRunner().invoke(search_cmd, ["--pii-hash", "ab" * 32]).output
    assert CliRunner().invoke(search_cmd, ["--pii-value", "a@x"]).exit_code == 2  # needs --pii-label


def test_index_status_and_migrate_commands(cli_env: Names) -> None:
    status = CliRunner().invoke(index_group, ["status", "--json"])
    assert status.exit_code == 0, status.output
    out = json.loads(status.output)
    assert out["counts"]["pages"] == 2
    assert {k["alias"] for k in out["kinds"]} >= {cli_env.pages, cli_env.services, cli_env.snapshots}
    migrate = CliRunner().invoke(index_group, ["migrate"])
    assert migrate.exit_code == 0 and "Nothing to migrate" in migrate.output


def test_terminal_snippet_unescapes_and_strips_controls() -> None:
    rendered = terminal_snippet("a &lt;b&gt; <mark>x</mark> \x1b[2J")
    assert "<b>" in rendered and "\x1b[2J" not in rendered and "&lt;" not in rendered


def test_local_server_is_started_once_reused_and_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONIONWATCH_ES_URL", raising=False)
    monkeypatch.setenv("ONIONWATCH_HOME", str(tmp_path))
    runner = CliRunner()
    assert runner.invoke(es_group, ["status"]).exit_code == 1
    up = runner.invoke(es_group, ["up"])
    assert up.exit_code == 0 and "127.0.0.1:" in up.output
    server = es_server.status()
    assert server is not None and Path(server.data_dir) == (tmp_path / "es").resolve()
    assert es_server.start().pid == server.pid  # reused, not a second server
    assert es_server.client().info()["tagline"] == "You Know, for Search"
    assert "running" in runner.invoke(es_group, ["status"]).output
    assert "Stopped." in runner.invoke(es_group, ["down"]).output
    assert es_server.status() is None
    assert "not running" in runner.invoke(es_group, ["down"]).output


def test_search_by_pii_value_hashes_it_locally_and_never_prints_it(cli_env: Names, es: Elasticsearch) -> None:
    from enrich import pii_hash

    h = pii_hash("EMAIL_ADDRESS", "alice@example.com", settings.pii_key())
    w = PageWriter(es, cli_env, snapshot_key=b"k")
    w.write(page_record(f"http://{NEWS}/leak", "dump **** ****", fetched_at="2026-11-23T00:00:00Z",
                        entities=[{"label": "EMAIL_ADDRESS", "start": 5, "end": 9, "score": 1.0,
                                   "masked": "a****@e******.com", "hash": h}]))
    assert w.flush().ok
    runner = CliRunner()
    result = runner.invoke(search_cmd, ["--pii-value", "alice@example.com", "--pii-label", "EMAIL_ADDRESS", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["pii"]["pages"] == 1 and out["pii"]["onions"][0]["onion"] == NEWS
    assert "alice" not in result.output
    from_stdin = runner.invoke(search_cmd, ["--pii-value", "-", "--pii-label", "EMAIL_ADDRESS"],
                               input="alice@example.com\n")
    assert "seen on 1 page(s)" in from_stdin.output and "alice" not in from_stdin.output
    unseen = runner.invoke(search_cmd, ["--pii-value", "bob@example.com", "--pii-label", "EMAIL_ADDRESS"])
    assert "not seen" in unseen.output
