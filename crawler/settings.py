"""Scrapy settings for onionwatch. `scrapy crawl onion -a seeds=...` uses these too;
ONIONWATCH_TOR_SOCKS / ONIONWATCH_TOR_CONTROL come from the environment or -s."""

import os

BOT_NAME = "onionwatch"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# --- Tor: every request, no exceptions ----------------------------------------
ONIONWATCH_TOR_SOCKS = [p for p in os.environ.get("ONIONWATCH_TOR_SOCKS", "127.0.0.1:9050").split(",") if p]
ONIONWATCH_TOR_CONTROL = [p for p in os.environ.get("ONIONWATCH_TOR_CONTROL", "127.0.0.1:9051").split(",") if p]
ONIONWATCH_ALLOW_CLEARNET = False
ONIONWATCH_NEWNYM_AFTER = 5
ONIONWATCH_KEEPALIVE_CONNECTIONS = 256  # idle Tor streams kept open for reuse, across onions
DOWNLOAD_HANDLERS = {
    "http": "crawler.handler.TorDownloadHandler",
    "https": "crawler.handler.TorDownloadHandler",
    "file": None,
    "data": None,
    "ftp": None,
    "s3": None,
}
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.httpproxy.HttpProxyMiddleware": None,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.middlewares.OnionRedirectMiddleware": 600,
    "crawler.middlewares.OnionMetaRefreshMiddleware": 580,
    "crawler.middlewares.TorFailureMiddleware": 560,
    "crawler.middlewares.TorRoutingMiddleware": 990,
}

# --- what we fetch ------------------------------------------------------------
ONIONWATCH_BLOCKLIST = [os.path.join(os.path.dirname(os.path.dirname(__file__)), "configs", "blocklist.txt")]
ONIONWATCH_TEXT_CONTENT_TYPES = ["text/", "application/xhtml+xml", "application/xml", "application/json"]
ONIONWATCH_MEDIA_EXTENSIONS = [
    ".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".ico", ".svg", ".tif", ".tiff", ".avif",
    ".mp4", ".webm", ".mkv", ".avi", ".mov", ".flv", ".mp3", ".ogg", ".wav", ".flac", ".m4a",
    ".zip", ".rar", ".7z", ".gz", ".tar", ".exe", ".apk", ".iso", ".pdf", ".woff", ".woff2", ".ttf",
]
ONIONWATCH_DISCOVER = True
ONIONWATCH_MAX_PAGES_PER_ONION = 500
ONIONWATCH_MAX_DEPTH = 8
ONIONWATCH_MAX_URL_LENGTH = 512
ONIONWATCH_MAX_QUERY_PARAMS = 4
ONIONWATCH_MAX_TEXT_CHARS = 500_000
DOWNLOAD_MAXSIZE = 5 * 1024 * 1024  # also caps decompressed size (decompression bombs)
DOWNLOAD_WARNSIZE = 1024 * 1024
DOWNLOAD_TIMEOUT = 60
REDIRECT_MAX_TIMES = 5
RETRY_TIMES = 2
COOKIES_ENABLED = False
REFERRER_POLICY = "same-origin"  # don't tell one onion which onion linked to it
ROBOTSTXT_OBEY = False
USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0"
DEFAULT_REQUEST_HEADERS = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1", "Accept-Language": "en"}
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False  # no listening control server in a crawler that handles evidence

# --- breadth-first, resumable (JOBDIR keeps the queue on disk) -----------------
DEPTH_PRIORITY = 1
SCHEDULER_DISK_QUEUE = "scrapy.squeues.PickleFifoDiskQueue"
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"
DUPEFILTER_CLASS = "crawler.dupefilter.OnionCapDupeFilter"
CONCURRENT_REQUESTS = 32
CONCURRENT_ITEMS = 16  # items per response processed in parallel (Scrapy's 100 only adds tasks)
ONIONWATCH_STORE_BATCH = 200  # records per tag+index batch (bench/index_bench.py: bigger batches, fewer aggregations)
ONIONWATCH_STORE_MAX_WAIT = 2.0  # seconds a record may wait for its batch to fill
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_DELAY = 0

# --- items: never log page content (it may hold personal data) ----------------
LOG_FORMATTER = "crawler.logformatter.QuietLogFormatter"
LOG_LEVEL = "INFO"
ITEM_PIPELINES = {"crawler.pipelines.StorePipeline": 800}
EXTENSIONS = {
    "crawler.extensions.Progress": 500,
    "crawler.extensions.NetworkGuard": 0,
}
ONIONWATCH_PROGRESS_INTERVAL = 5.0
ONIONWATCH_NETWORK_GUARD = False
