"""Scrapy project settings for onionwatch. Reads nothing from the environment: `onionwatch
crawl` puts the Tor ports, keys and Elasticsearch URL into the settings; with plain
`scrapy crawl onion -a seeds=...` give them with -s (e.g. -s ONIONWATCH_TOR_SOCKS=127.0.0.1:9050).

The crawl itself (Tor routing, policy, caps, store) is the OnionCrawl add-on; a shared
Redis frontier is the RedisFrontier add-on, inactive until ONIONWATCH_FRONTIER_URL is set.
"""

BOT_NAME = "onionwatch"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

ADDONS = {
    "crawler.addons.OnionCrawl": 0,
    "crawler.addons.RedisFrontier": 10,  # after OnionCrawl: it replaces the scheduler and dupefilter
}

# Throughput (bench/crawl_bench.py): Tor circuits, not CPU, are the limit.
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 8
CONCURRENT_ITEMS = 16  # items per response processed in parallel (Scrapy's 100 only adds tasks)
DOWNLOAD_DELAY = 0

LOG_LEVEL = "INFO"
