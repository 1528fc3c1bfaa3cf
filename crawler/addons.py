"""Scrapy add-ons (the ADDONS setting): onionwatch's crawl as groups of settings, applied
at "addon" priority so a project's settings or the command line can still tune any of them.

  ADDONS = {"crawler.addons.OnionCrawl": 0, "crawler.addons.RedisFrontier": 10}

OnionCrawl is the crawl itself: every request through Tor (routing middleware + the Tor
download handler, nothing else can fetch), the onion-only policy, the caps, the store
pipeline, progress and the network guard. RedisFrontier shares the queue and dupefilter
through Redis; it disables itself (NotConfigured) unless ONIONWATCH_FRONTIER_URL (or
scrapy-redis's REDIS_URL) is set, so listing it costs nothing.
"""

from __future__ import annotations

from typing import Any

from scrapy.exceptions import NotConfigured

import configs
from crawler.profiles import load_profiles, slot_settings

PRIORITY = "addon"

ONION_CRAWL: dict[str, Any] = {
    # --- Tor: every request, no exceptions --------------------------------------------------
    "ONIONWATCH_TOR_SOCKS": ["127.0.0.1:9050"],
    "ONIONWATCH_TOR_CONTROL": ["127.0.0.1:9051"],
    "ONIONWATCH_ALLOW_CLEARNET": False,
    "ONIONWATCH_NEWNYM_AFTER": 5,
    "ONIONWATCH_KEEPALIVE_CONNECTIONS": 256,  # idle Tor streams kept open for reuse, across onions
    "DOWNLOAD_HANDLERS": {
        "http": "crawler.handler.TorDownloadHandler",
        "https": "crawler.handler.TorDownloadHandler",
        "file": None, "data": None, "ftp": None, "s3": None,
    },
    # --- what we fetch ----------------------------------------------------------------------
    "ONIONWATCH_BLOCKLIST": [],  # more files of MD5/SHA-256 onion hashes, besides configs' blocklist.txt
    "ONIONWATCH_TEXT_CONTENT_TYPES": ["text/", "application/xhtml+xml", "application/xml", "application/json"],
    "ONIONWATCH_MEDIA_EXTENSIONS": [
        ".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".ico", ".svg", ".tif", ".tiff", ".avif",
        ".mp4", ".webm", ".mkv", ".avi", ".mov", ".flv", ".mp3", ".ogg", ".wav", ".flac", ".m4a",
        ".zip", ".rar", ".7z", ".gz", ".tar", ".exe", ".apk", ".iso", ".pdf", ".woff", ".woff2", ".ttf",
    ],
    "ONIONWATCH_DISCOVER": True,  # follow links to other onions (each starts again at depth 0)
    "ONIONWATCH_FOLLOW_LINKS": True,  # follow links within an onion
    "ONIONWATCH_MAX_PAGES_PER_ONION": 500,
    "DEPTH_LIMIT": 8,  # link depth within an onion
    "DEPTH_PRIORITY": 1,  # breadth-first
    "URLLENGTH_LIMIT": 512,
    "ONIONWATCH_MAX_QUERY_PARAMS": 4,
    # --- site profiles and walls (crawler.profiles, crawler.walls) ----------------------------
    "ONIONWATCH_SITE_SECRETS": {},  # {env var name: value} for the profiles' credentials (set by `onionwatch crawl`)
    "ONIONWATCH_WALLS": True,  # recognise captcha/queue/login/JS/rate-limit walls and seizure banners
    "ONIONWATCH_QUEUE_MAX_WAIT": 120.0,  # seconds one request may wait in a site's queue
    "ONIONWATCH_RATE_LIMIT_MAX_WAIT": 60.0,  # seconds one request may wait for a rate limit to lift
    "ONIONWATCH_MAX_TEXT_CHARS": 500_000,
    "DOWNLOAD_MAXSIZE": 5 * 1024 * 1024,  # also caps decompressed size (decompression bombs)
    "DOWNLOAD_WARNSIZE": 1024 * 1024,
    "DOWNLOAD_TIMEOUT": 60,
    "REDIRECT_MAX_TIMES": 5,
    "RETRY_TIMES": 2,
    "RETRY_GIVE_UP_LOG_LEVEL": "INFO",  # a failed fetch is recorded and counted, not a crawler error
    "COOKIES_ENABLED": False,
    "REFERRER_POLICY": "same-origin",  # don't tell one onion which onion linked to it
    "ROBOTSTXT_OBEY": False,
    "USER_AGENT": "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0",
    "DEFAULT_REQUEST_HEADERS": {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1", "Accept-Language": "en"},
    "TELNETCONSOLE_ENABLED": False,
    "REMOTE_CONTROL_ENABLED": False,  # no listening control server in a crawler that handles evidence
    # --- queue: resumable with JOBDIR ------------------------------------------------------
    "SCHEDULER_DISK_QUEUE": "scrapy.squeues.PickleFifoDiskQueue",
    "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
    "DUPEFILTER_CLASS": "crawler.dupefilter.OnionCapDupeFilter",
    # --- store -----------------------------------------------------------------------------
    "ONIONWATCH_SINK": "index.sink.IndexSink",
    "ONIONWATCH_ENRICHER": "enrich.records.RecordEnricher",
    "ONIONWATCH_PROCESSORS": ["listings.extract.ListingExtractor"],  # called as proc(records) after the enricher, in order
    "ONIONWATCH_CAPTURE_LOG": "crawler.capture.CaptureLog",  # active when ONIONWATCH_JOURNAL_DIR is set
    "ONIONWATCH_STORE_BATCH": 200,  # records per tag+index batch (bench/index_bench.py: bigger batches, fewer aggregations)
    "ONIONWATCH_STORE_MAX_WAIT": 2.0,  # seconds a record may wait for its batch to fill
    "ONIONWATCH_INDEX_WAIT": 120.0,  # at the end, seconds to wait for the index to take what was journaled
    "ONIONWATCH_TOR_WAIT": 180.0,  # our Tor gone mid-crawl: seconds to wait (paused) before stopping
    # --- never log page content (it may hold personal data) --------------------------------
    "LOG_FORMATTER": "crawler.logformatter.QuietLogFormatter",
    "ONIONWATCH_PROGRESS_INTERVAL": 5.0,
    "ONIONWATCH_NETWORK_GUARD": False,
}

DOWNLOADER_MIDDLEWARES: dict[str, str | None] = {
    # replaced by onion-only subclasses below
    "scrapy.downloadermiddlewares.httpproxy.HttpProxyMiddleware": None,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
}
DOWNLOADER_COMPONENTS = {
    "crawler.middlewares.OnionRedirectMiddleware": 600,
    "crawler.middlewares.BoundedHttpCompressionMiddleware": 590,
    "crawler.middlewares.OnionMetaRefreshMiddleware": 580,
    "crawler.middlewares.TorFailureMiddleware": 560,
    "crawler.middlewares.SiteSessionMiddleware": 650,  # sees a redirect to a login form before it is followed
    "crawler.middlewares.WallMiddleware": 585,  # sees decompressed pages before the meta refresh is followed
    "crawler.torwatch.TorWatch": 985,  # first to see a download's exception: our Tor gone = pause, not a failure
    "crawler.middlewares.TorRoutingMiddleware": 990,  # last before the handler: nothing bypasses it
}


def _set_components(settings, name: str, components: dict[str, int | None]) -> None:
    """Put components into a component priority dict (DOWNLOADER_MIDDLEWARES, …) whatever
    that setting's priority, keeping it (like Scrapy's set_in_component_priority_dict,
    with import paths as keys so a None also switches off a built-in one)."""
    merged = dict(settings.getdict(name))
    merged.update(components)
    settings.set(name, merged, settings.getpriority(name) or 0)


class OnionCrawl:
    """The onion crawl: Tor routing + download handler + policy middlewares + store pipeline
    + progress/guard extensions, and the caps and defaults that make it safe."""

    def update_settings(self, settings) -> None:
        for name, value in ONION_CRAWL.items():
            settings.set(name, value, PRIORITY)
        # the shipped blocklist is always honoured; ONIONWATCH_BLOCKLIST adds more files
        settings.set("ONIONWATCH_BLOCKLIST_DEFAULT", [str(configs.path("blocklist.txt"))], PRIORITY)
        _set_components(settings, "DOWNLOADER_MIDDLEWARES", {**DOWNLOADER_MIDDLEWARES, **DOWNLOADER_COMPONENTS})
        _set_components(settings, "ITEM_PIPELINES", {"crawler.pipelines.StorePipeline": 800})
        _set_components(settings, "SPIDER_MIDDLEWARES", {"crawler.middlewares.WallSpiderMiddleware": 950,
                                                          # --prefilter: dead start onions never reach the downloader
                                                          "crawler.prefilter.PrefilterStartMiddleware": 960})
        # site profiles (configs/sites, or ONIONWATCH_SITES): politeness as Scrapy download slots
        settings.set("ONIONWATCH_SITES", [str(configs.path("sites"))], PRIORITY)
        profiles = load_profiles(settings.getlist("ONIONWATCH_SITES"))
        slots = {**slot_settings(profiles), **settings.getdict("DOWNLOAD_SLOTS")}
        if slots:
            settings.set("DOWNLOAD_SLOTS", slots, settings.getpriority("DOWNLOAD_SLOTS") or 0)
        _set_components(settings, "EXTENSIONS", {"crawler.extensions.Progress": 500,
                                                 "crawler.extensions.NetworkGuard": 0})


class RedisFrontier:
    """One crawl shared by many processes through Redis (crawler.frontier)."""

    def __init__(self, url: str, prefix: str) -> None:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("the frontier must be a redis:// (or rediss://, unix://) URL")
        self.url = url
        self.prefix = prefix

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        url = s.get("ONIONWATCH_FRONTIER_URL") or s.get("REDIS_URL")
        if not url:
            raise NotConfigured  # no frontier configured: the crawl keeps its queue to itself
        from crawler.frontier import KEY_PREFIX

        return cls(url, s.get("ONIONWATCH_FRONTIER_PREFIX") or KEY_PREFIX)

    def update_settings(self, settings) -> None:
        for name, value in {
            "SCHEDULER": "crawler.frontier.SharedScheduler",
            "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
            "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
            "SCHEDULER_QUEUE_KEY": f"{self.prefix}:requests",
            "SCHEDULER_DUPEFILTER_KEY": f"{self.prefix}:dupefilter",
            "SCHEDULER_PERSIST": True,
            "REDIS_URL": self.url,
            "ONIONWATCH_FRONTIER_PREFIX": self.prefix,
        }.items():
            settings.set(name, value, PRIORITY)
