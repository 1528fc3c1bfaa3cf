"""The crawl is wired by Scrapy add-ons and settings that name components by import path."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.settings import Settings
from scrapy.utils.conf import build_component_list
from scrapy.utils.test import get_crawler

import crawler.settings as project
from crawler.addons import OnionCrawl, RedisFrontier
from crawler.pipelines import JsonlSink, StorePipeline
from crawler.spiders.onion import OnionSpider

PROJECT = {k: getattr(project, k) for k in dir(project) if k.isupper()}


def test_project_settings_read_nothing_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    monkeypatch.setenv("ONIONWATCH_TOR_SOCKS", "127.0.0.1:1")
    fresh = importlib.reload(project)
    assert not any("127.0.0.1:1" in json.dumps(getattr(fresh, k), default=str) for k in dir(fresh) if k.isupper())


def test_onion_crawl_addon_routes_everything_through_tor() -> None:
    s = Settings()
    s.setmodule(project, priority="project")
    OnionCrawl().update_settings(s)
    handlers = s.getwithbase("DOWNLOAD_HANDLERS")
    assert handlers["http"] == handlers["https"] == "crawler.handler.TorDownloadHandler"
    assert all(handlers[scheme] is None for scheme in ("file", "data", "ftp", "s3"))
    mws = build_component_list(s.getwithbase("DOWNLOADER_MIDDLEWARES"))
    assert mws[-1] == "crawler.middlewares.TorRoutingMiddleware", "routing is last before the handler"
    for builtin in ("httpproxy.HttpProxyMiddleware", "redirect.RedirectMiddleware",
                    "redirect.MetaRefreshMiddleware", "httpcompression.HttpCompressionMiddleware"):
        assert f"scrapy.downloadermiddlewares.{builtin}" not in mws
    assert s["ONIONWATCH_SINK"] == "index.sink.IndexSink"
    assert s["ONIONWATCH_ENRICHER"] == "enrich.records.RecordEnricher"
    assert s.getint("DEPTH_LIMIT") == 8 and s.getint("URLLENGTH_LIMIT") == 512
    assert s.getlist("ONIONWATCH_BLOCKLIST_DEFAULT")[0].endswith("blocklist.txt")


def test_command_line_still_wins_over_the_addon() -> None:
    s = Settings()
    s.set("DEPTH_LIMIT", 3, priority="cmdline")
    s.set("DOWNLOADER_MIDDLEWARES", {"bench.Example": 995}, priority="cmdline")
    OnionCrawl().update_settings(s)
    assert s.getint("DEPTH_LIMIT") == 3
    mws = s.getdict("DOWNLOADER_MIDDLEWARES")
    assert "bench.Example" in mws and "crawler.middlewares.TorRoutingMiddleware" in mws


def test_redis_frontier_is_off_unless_configured() -> None:
    with pytest.raises(NotConfigured):
        RedisFrontier.from_crawler(SimpleNamespace(settings=Settings()))
    with pytest.raises(ValueError):
        RedisFrontier.from_crawler(SimpleNamespace(settings=Settings({"ONIONWATCH_FRONTIER_URL": "http://x/"})))
    addon = RedisFrontier.from_crawler(SimpleNamespace(settings=Settings({"REDIS_URL": "redis://127.0.0.1:6379/0"})))
    s = Settings()
    addon.update_settings(s)
    assert s["SCHEDULER"] == "crawler.frontier.SharedScheduler" and s["REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert s["SCHEDULER_QUEUE_KEY"] == "onionwatch:%(spider)s:requests"


def test_addons_applied_by_the_crawler() -> None:
    plain = get_crawler(OnionSpider, PROJECT)
    assert plain.settings["SCHEDULER"] == "scrapy.core.scheduler.Scheduler"
    assert plain.settings["DUPEFILTER_CLASS"] == "crawler.dupefilter.OnionCapDupeFilter"
    assert build_component_list(plain.settings.getwithbase("ITEM_PIPELINES")) == ["crawler.pipelines.StorePipeline"]
    shared = get_crawler(OnionSpider, dict(PROJECT, ONIONWATCH_FRONTIER_URL="redis://127.0.0.1:6379/0"))
    assert shared.settings["SCHEDULER"] == "crawler.frontier.SharedScheduler"
    assert shared.settings["DUPEFILTER_CLASS"] == "scrapy_redis.dupefilter.RFPDupeFilter"


class RecordingSink:
    """A sink named by import path, as index.sink.IndexSink is."""

    def __init__(self, prefix: str) -> None:
        self.prefix, self.stored = prefix, []

    @classmethod
    def from_crawler(cls, crawler) -> RecordingSink:
        return cls(crawler.settings.get("TEST_PREFIX"))

    def store(self, records: list[dict]) -> list[str | None]:
        self.stored += records
        return [None] * len(records)

    def close(self) -> None:
        pass


class Upper:
    @classmethod
    def from_crawler(cls, crawler) -> Upper:
        return cls()

    def __call__(self, records: list[dict]) -> None:
        for r in records:
            r["text"] = r["text"].upper()
            r["entities"] = [{"label": "X", "start": 0, "end": 1, "score": 1.0, "masked": "*", "hash": "h", "value": "secret"}]


def test_store_pipeline_builds_sink_and_enricher_from_their_import_paths(tmp_path) -> None:
    crawler = get_crawler(OnionSpider, dict(PROJECT, ONIONWATCH_SINK=f"{__name__}.RecordingSink",
                                             ONIONWATCH_ENRICHER=f"{__name__}.Upper", TEST_PREFIX="p"))
    pipeline = StorePipeline.from_crawler(crawler)
    assert isinstance(pipeline.sink, RecordingSink) and pipeline.sink.prefix == "p"
    record = {"url": "http://a.onion/", "onion": "a.onion", "fetched_at": "2026-01-01T00:00:00Z", "text": "abc"}
    assert pipeline._enrich_and_store([record]) == [None]
    stored = pipeline.sink.stored[0]
    assert stored["text"] == "ABC" and "value" not in stored["entities"][0]
    out = tmp_path / "out.jsonl"
    jsonl = StorePipeline.from_crawler(get_crawler(OnionSpider, dict(PROJECT, ONIONWATCH_OUTPUT=str(out),
                                                                     ONIONWATCH_ENRICHER=None)))
    assert isinstance(jsonl.sink, JsonlSink) and jsonl.enrich is None
    jsonl.sink.close()


def test_a_missing_store_is_an_error_not_a_silent_crawl() -> None:
    with pytest.raises(RuntimeError):
        StorePipeline.from_crawler(get_crawler(OnionSpider, dict(PROJECT, ONIONWATCH_SINK=None)))
