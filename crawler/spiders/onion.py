"""The onion spider: breadth-first within each onion, discovery across onions.

Routing and the onion-only policy are not here on purpose: they are enforced below
every spider, in crawler.middlewares and crawler.handler."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections import OrderedDict
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import scrapy
from scrapy.http import TextResponse

from crawler.extract import extract
from crawler.items import KIND_HINT, PageRecord
from crawler.known import journaled_pages
from crawler.onion import find_onions, onion_of_url
from crawler.outcomes import failure_reason
from crawler.seeds import check_seeds

RECENT_LINKS = 50_000
logger = logging.getLogger(__name__)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def root_url(onion: str) -> str:
    return f"http://{onion}/"


def read_seeds(seeds: str, *, allow_clearnet: bool = False) -> list[str]:
    """Seeds: a file of URLs/onions (one a line) or a comma/space separated list, checked by
    crawler.seeds; each bad seed is logged (one line naming it and why) and left out."""
    checked = check_seeds(seeds, allow_clearnet=allow_clearnet)
    for problem in checked.problems:
        logger.warning("%s", problem)
    return checked.urls


class OnionSpider(scrapy.Spider):
    name = "onion"

    def __init__(self, seeds: str = "", crawl_id: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.seeds = seeds
        self.seed_urls: list[str] = []
        self.crawl_id = crawl_id or uuid.uuid4().hex[:12]
        self.onions_seen: set[str] = set()
        # Navigation links repeat on every page: remember recent ones so each becomes a
        # Request once, not ~25 times (the dupefilter stays the authority; this is bounded).
        self.recent_links: OrderedDict[str, None] = OrderedDict()

    def _configure(self) -> None:
        """Read the crawl settings. Not in from_crawler: Scrapy creates the spider before the
        add-ons (crawler.addons.OnionCrawl) have put their settings in place."""
        s = self.crawler.settings
        self.discover = s.getbool("ONIONWATCH_DISCOVER")  # follow links to other onions
        self.follow = s.getbool("ONIONWATCH_FOLLOW_LINKS")  # follow links within an onion
        self.depth_limit = s.getint("DEPTH_LIMIT")  # Scrapy's DepthMiddleware enforces it
        self.max_query_params = s.getint("ONIONWATCH_MAX_QUERY_PARAMS")
        self.max_text = s.getint("ONIONWATCH_MAX_TEXT_CHARS")
        self.media_ext = tuple(s.getlist("ONIONWATCH_MEDIA_EXTENSIONS"))
        self.seed_urls = read_seeds(self.seeds, allow_clearnet=s.getbool("ONIONWATCH_ALLOW_CLEARNET")) if self.seeds else []

    async def start(self):
        self._configure()
        for url in self.seed_urls:
            request = self._request(url)
            if request is not None:
                yield request
        for request in self._resume():
            yield request

    def _resume(self):
        """A resumed job (ONIONWATCH_JOBDIR, same crawl id): the pages this crawl journaled
        are not fetched again (crawler.dupefilter), so their links are followed again from
        the journal — whatever was scheduled, or fetched but not journaled, before the stop
        or crash is requested again."""
        s = self.crawler.settings
        journal_dir = s.get("ONIONWATCH_JOURNAL_DIR")
        if not (s.get("ONIONWATCH_JOBDIR") and journal_dir):
            return
        pages = 0
        for page in journaled_pages(journal_dir, self.crawl_id):
            pages += 1
            yield from self._follow(page.get("onion") or "", int(page.get("depth") or 0), page.get("links") or [],
                                    page.get("onion_links") or [], replay=True)
        if pages:
            logger.info("resuming: %d pages of this crawl are journaled (not fetched again); following their links",
                        pages)

    # -- scheduling with caps --------------------------------------------------
    # Depth is Scrapy's: DepthMiddleware numbers requests (depth_reset starts a discovered
    # onion at 0) and drops those past DEPTH_LIMIT; UrlLengthMiddleware drops links longer
    # than URLLENGTH_LIMIT; the per-onion page cap is in crawler.dupefilter.
    def _request(self, url: str, *, new_onion: bool = False) -> scrapy.Request | None:
        onion = onion_of_url(url)
        meta = {"depth_reset": True} if new_onion else None
        if onion is None:
            # Only a seed gets here (links are checked before): it still goes to the
            # downloader policy, so the refusal is recorded rather than silently dropped.
            return scrapy.Request(url, callback=self.parse, errback=self.failed)
        url = self._normalise(url)
        if url is None:
            self.crawler.stats.inc_value("onionwatch/caps/url")
            return None
        self.onions_seen.add(onion)
        return scrapy.Request(url, callback=self.parse, errback=self.failed, meta=meta)

    def _normalise(self, url: str) -> str | None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return None
        if parts.path.lower().endswith(self.media_ext):
            return None
        if len(parse_qsl(parts.query, keep_blank_values=True)) > self.max_query_params:
            return None
        return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path or "/", parts.query, ""))

    # -- callbacks -------------------------------------------------------------
    def parse(self, response):
        onion = onion_of_url(response.url) or ""
        body = response.body
        depth = response.meta.get("depth", 0)
        record = PageRecord(
            url=response.url,
            onion=onion,
            fetched_at=now_iso(),
            status=response.status,
            content_type=(response.headers.get("Content-Type") or b"").decode("latin-1").split(";")[0].strip().lower(),
            sha256=hashlib.sha256(body).hexdigest(),
            size=len(body),
            raw=body,
            depth=depth,
            crawl_id=self.crawl_id,
        )
        if not isinstance(response, TextResponse):
            record.failure = "non_text_content"
            record.raw = b""
            yield record.to_dict()
            return
        page = extract(response.text, response.url, max_text=self.max_text)
        onions = find_onions(" ".join(page.links) + "\n" + page.text)
        record.title, record.text, record.links, record.onion_links = page.title, page.text, page.links, onions
        record.lang = page.lang or "und"
        item = record.to_dict()
        if page.kind:
            item[KIND_HINT] = page.kind  # transient: the enricher reads it, the cut to PageRecord drops it
        yield item
        yield from self._follow(onion, depth, page.links, onions)

    def _follow(self, onion: str, depth: int, links: list[str], onions: list[str], *, replay: bool = False):
        """Requests for a page's links (and, with discovery, other onions' front pages).
        ``replay``: the page is a journaled one being followed again on resume, so there is
        no response to number depths from: they are set here as DepthMiddleware would."""
        # Links one step deeper than DEPTH_LIMIT would only be dropped by DepthMiddleware;
        # not building them also keeps them out of recent_links, so a shorter path to the
        # same page is still followed.
        follow = self.follow and not (self.depth_limit and depth >= self.depth_limit)
        for link in links:
            if link in self.recent_links:
                self.recent_links.move_to_end(link)
                continue
            if onion_of_url(link) == onion:
                if not follow:
                    self.crawler.stats.inc_value("onionwatch/caps/depth")
                    continue
                request = self._request(link)
                if request is None:
                    continue
                if replay:
                    request.meta["depth"] = depth + 1
                    request.priority -= (depth + 1) * self.crawler.settings.getint("DEPTH_PRIORITY")
                yield request
            self._remember(link)
        if self.discover:
            for other in onions:
                if other != onion and other not in self.onions_seen:
                    request = self._request(root_url(other), new_onion=True)
                    if request is not None:
                        yield request

    def _remember(self, link: str) -> None:
        self.recent_links[link] = None
        if len(self.recent_links) > RECENT_LINKS:
            self.recent_links.popitem(last=False)

    def failed(self, failure):
        request = failure.request
        url = (request.meta.get("redirect_urls") or [request.url])[0]
        response = getattr(failure.value, "response", None)
        target = getattr(failure.value, "target", None) or request.url
        record = PageRecord(
            url=url,
            onion=onion_of_url(url) or "",
            fetched_at=now_iso(),
            status=getattr(response, "status", None),
            failure=failure_reason(failure.value),
            links=[target] if target != url else [],
            depth=request.meta.get("depth", 0),
            crawl_id=self.crawl_id,
        )
        self.crawler.stats.inc_value(f"onionwatch/failure/{record.failure}")
        yield record.to_dict()
