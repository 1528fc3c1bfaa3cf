"""The per-onion page cap lives in the dupefilter: it is the one place that sees each
unique request exactly once, so links repeated on every page (navigation) don't use
up an onion's budget, and a crawler trap stops at the cap."""

from __future__ import annotations

import json
from pathlib import Path

from scrapy.dupefilters import RFPDupeFilter
from scrapy.utils.job import job_dir

from crawler.onion import onion_of_url


class OnionCapDupeFilter(RFPDupeFilter):
    @classmethod
    def from_crawler(cls, crawler):  # noqa: ANN001, ANN206
        df = super().from_crawler(crawler)
        df.cap = crawler.settings.getint("ONIONWATCH_MAX_PAGES_PER_ONION")
        df.stats = crawler.stats
        jobdir = job_dir(crawler.settings)
        df.counts_file = Path(jobdir) / "onion_page_counts.json" if jobdir else None
        df.counts = json.loads(df.counts_file.read_text()) if df.counts_file and df.counts_file.exists() else {}
        return df

    def close(self, reason: str):  # noqa: ANN201
        """With JOBDIR the caps survive a stop/resume, like the seen-requests file does."""
        if self.counts_file:
            self.counts_file.write_text(json.dumps(self.counts))
        return super().close(reason)

    def request_seen(self, request) -> bool:  # noqa: ANN001
        if super().request_seen(request):
            return True
        onion = onion_of_url(request.url) or ""
        count = self.counts.get(onion, 0)
        if count >= self.cap:
            self.stats.inc_value("onionwatch/caps/pages")
            return True
        self.counts[onion] = count + 1
        return False
