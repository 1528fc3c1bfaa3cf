"""Every way a fetch can end badly, as one named reason (crawler.items.FAILURE_REASONS,
documented in docs/record.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from scrapy.exceptions import (
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import TimeoutError as TwistedTimeout

from crawler._scrapy_compat import is_decompression_limit
from crawler.tor import TorPolicyError, TorSocksError


def exception_chain(exc: BaseException | None) -> Iterator[BaseException]:
    """The exception and what it was raised from, outermost first (at most 10; a cycle ends it)."""
    seen: set[int] = set()
    while exc is not None and len(seen) < 10 and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def failure_reason(exc: BaseException) -> str:
    for e in exception_chain(exc):
        reason = getattr(e, "reason", None)
        if isinstance(e, (TorSocksError, TorPolicyError)) or (isinstance(reason, str) and isinstance(e, IgnoreRequest)):
            return e.reason
        if is_decompression_limit(e):
            return "decompression_bomb"
    if isinstance(exc, HttpError):
        return "http_error"
    for e in exception_chain(exc):
        if isinstance(e, DownloadCancelledError):
            return "too_large"
        if isinstance(e, (DownloadTimeoutError, TwistedTimeout, asyncio.TimeoutError, TimeoutError)):
            return "timeout"
        if isinstance(e, DownloadConnectionRefusedError):
            return "connection_refused"
    if isinstance(exc, IgnoreRequest):
        return "ignored"
    return "download_error"
