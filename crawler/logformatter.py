"""Scrapy logs whole items by default; ours hold page text that may contain personal
data, so only the URL is logged."""

from scrapy.logformatter import LogFormatter


class QuietLogFormatter(LogFormatter):
    def scraped(self, item, response, spider):
        entry = super().scraped(item, response, spider)
        entry["msg"] = "Stored %(url)s"
        entry["args"] = {"url": item.get("url", "?") if hasattr(item, "get") else "?"}
        return entry

    def dropped(self, item, exception, response, spider):
        entry = super().dropped(item, exception, response, spider)
        entry["msg"] = "Dropped %(url)s: %(exception)s"
        entry["args"] = {"url": item.get("url", "?") if hasattr(item, "get") else "?", "exception": exception}
        return entry

    def item_error(self, item, exception, response, spider):
        entry = super().item_error(item, exception, response, spider)
        entry["msg"] = "Error processing %(url)s"
        entry["args"] = {"url": item.get("url", "?") if hasattr(item, "get") else "?"}
        return entry
