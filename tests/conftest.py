"""Shared fixtures live in per-area plugin modules so areas don't edit one file.

Test tiers are kept honest here rather than by hand: a test that uses a fixture which starts
a server (the lab's Tor network, the Elasticsearch-compatible server, Redis, a local web or
SMTP receiver, a browser) is marked ``slow`` automatically, and a test that is not ``slow``
may not open a listening socket at all — so ``pytest -m "not slow"`` starts no server.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

pytest_plugins = ["tests.fixtures_es", "tests.fixtures_lab"]

# Fixtures that start a server (directly or through another fixture).
SERVER_FIXTURES = frozenset({
    "lab", "es_url", "es", "redis_url", "receivers", "site", "socks_server", "served", "trap",
    "browser", "tsa", "es_history",
})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _fast_tests_start_no_server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fast test that listens on a socket is a slow test in disguise: fail it loudly."""
    if request.node.get_closest_marker("slow") is None:
        def refuse(self: socket.socket, *args: object) -> None:
            raise RuntimeError("a test not marked slow started a server (socket.listen); mark it @pytest.mark.slow")

        monkeypatch.setattr(socket.socket, "listen", refuse)
    yield
