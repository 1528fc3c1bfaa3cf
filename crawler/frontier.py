"""A crawl frontier shared through Redis, so N crawler processes on N machines share one
crawl: scrapy-redis's priority queue (breadth-first, as DEPTH_PRIORITY orders it) and its
Redis-set dupefilter, so each URL is fetched once across all of them.

What scrapy-redis 0.9.1 lacks for this, added here:
- When to stop. Its scheduler says "nothing pending" as soon as the shared queue is
  momentarily empty, so a process would quit while another is still fetching pages whose
  links will refill the queue. Here every process publishes whether it is busy (a key with
  a TTL, refreshed every second, so a crashed process stops counting after STALE seconds);
  a process finishes only when the queue is empty and no live process is busy for QUIET
  seconds in a row.
- Persistence: an early finisher must not flush the shared dupefilter under the others
  (SCHEDULER_PERSIST), and the last one out of a finished crawl deletes the crawl's keys so
  the next run (e.g. tomorrow's re-check) starts fresh; an interrupted crawl keeps them and
  resumes.
- Polling: an idle process looks at the shared queue every second instead of Scrapy's 5.
- Stats are counted without the `spider=` argument (deprecated in Scrapy 2.19).
The settings that put a crawl's frontier in Redis come from the RedisFrontier add-on
(crawler.addons). Our spider schedules its seeds from `async def start()` (Scrapy 2.13+), so scrapy-redis's
RedisSpider and its start_requests/start_urls machinery are not used at all.
"""

from __future__ import annotations

import os
import socket
import time
import uuid

from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

from crawler._scrapy_compat import set_idle_poll_interval

KEY_PREFIX = "onionwatch:%(spider)s"
HEARTBEAT = 1.0  # seconds between "busy/idle" refreshes, and idle polls of the queue
STALE = 15  # a process whose key wasn't refreshed for this long is gone
QUIET = 3.0  # queue empty and everybody idle for this long: the crawl is finished


class SharedScheduler(Scheduler):
    """scrapy-redis's scheduler plus a shared notion of "this crawl is finished"."""

    @classmethod
    def from_crawler(cls, crawler):
        scheduler = super().from_crawler(crawler)
        scheduler.crawler = crawler
        scheduler.prefix = crawler.settings.get("ONIONWATCH_FRONTIER_PREFIX", KEY_PREFIX)
        scheduler.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        scheduler.busy = None
        scheduler.quiet_since = None
        scheduler.heartbeat = None
        # Scrapy polls an idle scheduler every 5 s; a shared queue refills from elsewhere.
        set_idle_poll_interval(crawler.engine, HEARTBEAT)
        return scheduler

    # -- keys -------------------------------------------------------------------------
    def _key(self, name: str) -> str:
        return f"{self.prefix % {'spider': self.spider.name}}:{name}"

    def _publish(self, busy: bool) -> None:
        if busy == self.busy:
            return
        self.busy = busy
        self._refresh()

    def _refresh(self) -> None:
        pipe = self.server.pipeline()
        pipe.sadd(self._key("workers"), self.worker)
        pipe.set(self._key(f"worker:{self.worker}"), "1" if self.busy else "0", ex=STALE)
        pipe.execute()

    def _others(self) -> dict[str, str]:
        """Live other processes of this crawl → "1" (busy) / "0" (idle); forgets dead ones."""
        ids = [i.decode() if isinstance(i, bytes) else i for i in self.server.smembers(self._key("workers"))]
        ids = [i for i in ids if i != self.worker]
        states = self.server.mget([self._key(f"worker:{i}") for i in ids]) if ids else []
        live = {}
        for wid, state in zip(ids, states):
            if state is None:
                self.server.srem(self._key("workers"), wid)
            else:
                live[wid] = state.decode() if isinstance(state, bytes) else state
        return live

    # -- scheduler interface ------------------------------------------------------------
    def open(self, spider):
        result = super().open(spider)
        self._publish(True)  # busy until proven idle: our seeds are about to be scheduled
        self.heartbeat = task.LoopingCall(self._refresh)
        self.heartbeat.start(HEARTBEAT, now=False)
        return result

    def enqueue_request(self, request) -> bool:
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        self.stats.inc_value("scheduler/enqueued/redis")
        self.queue.push(request)
        return True

    def next_request(self):
        if self.busy is False:
            self._publish(True)  # before the pop: nobody may see an empty queue and all idle
        request = self.queue.pop(self.idle_before_close)
        if request is not None:
            self.stats.inc_value("scheduler/dequeued/redis")
        elif self._locally_idle():
            self._publish(False)
        return request

    def has_pending_requests(self) -> bool:
        """False only once the shared crawl is over (not merely our share of it)."""
        if len(self.queue):
            self.quiet_since = None
            return True
        if not self._locally_idle():
            return True
        self._publish(False)
        if any(state == "1" for state in self._others().values()):
            self.quiet_since = None
            return True
        now = time.monotonic()
        if self.quiet_since is None:
            self.quiet_since = now
        return now - self.quiet_since < QUIET

    def close(self, reason: str) -> None:
        if self.heartbeat is not None and self.heartbeat.running:
            self.heartbeat.stop()
        self.server.delete(self._key(f"worker:{self.worker}"))
        self.server.srem(self._key("workers"), self.worker)
        if reason == "finished" and not self._others():
            # the crawl is complete: the next run starts from its seeds again
            self.server.delete(self.queue.key, self.df.key, self._key("workers"))
        super().close(reason)

    def _locally_idle(self) -> bool:
        engine = self.crawler.engine
        scraper_slot = getattr(engine.scraper, "slot", None)
        return not engine.downloader.active and (scraper_slot is None or scraper_slot.is_idle())
