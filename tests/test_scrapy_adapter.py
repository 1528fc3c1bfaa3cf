"""crawler/_scrapy_compat.py is the one module that relies on Scrapy internals. These tests
fail loudly when a Scrapy upgrade renames or reshapes what it relies on."""

from __future__ import annotations

import gzip
import inspect

import pytest
from scrapy import Request
from scrapy.core.engine import ExecutionEngine
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler import _scrapy_compat as compat
from crawler.middlewares import BoundedHttpCompressionMiddleware
from crawler.outcomes import failure_reason


def test_the_engine_still_polls_its_scheduler_on_the_interval_we_set() -> None:
    value = getattr(ExecutionEngine, compat.IDLE_POLL_ATTRIBUTE)
    assert isinstance(value, float) and value == 5.0, "Scrapy's idle poll changed: revisit crawler/frontier.py"
    source = inspect.getsource(ExecutionEngine)
    assert f"heartbeat.start(self.{compat.IDLE_POLL_ATTRIBUTE})" in source, "the heartbeat no longer reads it"


def test_set_idle_poll_interval_changes_only_that_engine() -> None:
    class Engine(ExecutionEngine):
        def __init__(self) -> None:  # no crawler needed to hold the attribute
            pass

    engine = Engine()
    compat.set_idle_poll_interval(engine, 1)
    assert getattr(engine, compat.IDLE_POLL_ATTRIBUTE) == 1.0
    assert getattr(ExecutionEngine, compat.IDLE_POLL_ATTRIBUTE) == 5.0


def test_the_decompression_limit_exception_still_exists() -> None:
    from scrapy.utils import _compression

    cls = getattr(_compression, compat.DECOMPRESSION_LIMIT_NAME)
    assert issubclass(cls, Exception) and compat.is_decompression_limit(Exception.__new__(cls))
    assert compat.DECOMPRESSION_LIMIT_NAME in inspect.getsource(HttpCompressionMiddleware.process_response)


def _bomb() -> tuple[Request, HtmlResponse]:
    body = gzip.compress(b"\0" * 200_000)
    request = Request("http://example.onion/bomb")
    return request, HtmlResponse(request.url, body=body, headers={"Content-Encoding": "gzip"}, request=request)


@pytest.mark.parametrize("cls", [HttpCompressionMiddleware, BoundedHttpCompressionMiddleware])
def test_a_gzip_bomb_is_named_decompression_bomb(cls: type) -> None:
    crawler = get_crawler(settings_dict={"DOWNLOAD_MAXSIZE": 10_000, "DOWNLOAD_WARNSIZE": 5_000})
    mw = cls.from_crawler(crawler)
    request, response = _bomb()
    with pytest.raises(IgnoreRequest) as exc:
        mw.process_response(request, response)
    assert failure_reason(exc.value) == "decompression_bomb"
