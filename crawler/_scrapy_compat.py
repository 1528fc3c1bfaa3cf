"""The one place that touches a private Scrapy internal. tests/test_scrapy_adapter.py checks
that every name used here still exists with the shape relied on, so a Scrapy upgrade that
changes it fails that test loudly instead of silently changing how the crawl behaves.

Scrapy 2.19 has no setting or public method for how often an idle engine asks its
scheduler for work again (5 s). With a shared Redis frontier the queue refills from other
processes, so an idle process should look every second.
"""

from __future__ import annotations

from scrapy.core.engine import ExecutionEngine

IDLE_POLL_ATTRIBUTE = "_SLOT_HEARTBEAT_INTERVAL"


def set_idle_poll_interval(engine: ExecutionEngine, seconds: float) -> None:
    """How often an idle engine polls its scheduler. Call before the engine starts (from a
    scheduler's from_crawler): the heartbeat reads the value when the spider opens."""
    if not isinstance(getattr(type(engine), IDLE_POLL_ATTRIBUTE, None), float):
        raise RuntimeError(f"Scrapy's ExecutionEngine has no float {IDLE_POLL_ATTRIBUTE}: update crawler/_scrapy_compat.py")
    setattr(engine, IDLE_POLL_ATTRIBUTE, float(seconds))


# The exception HttpCompressionMiddleware raises (and wraps in IgnoreRequest) when a body
# grows past DOWNLOAD_MAXSIZE while being decompressed. Matched by name, so a failure chain
# from Scrapy's own middleware is still named decompression_bomb (crawler.outcomes).
DECOMPRESSION_LIMIT_NAME = "_DecompressionMaxSizeExceeded"


def is_decompression_limit(exc: BaseException) -> bool:
    """True for Scrapy's "decompressed body over DOWNLOAD_MAXSIZE" exception."""
    return type(exc).__name__ == DECOMPRESSION_LIMIT_NAME
