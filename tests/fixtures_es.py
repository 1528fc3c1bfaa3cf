"""Elasticsearch fixtures: a real server for the whole session, a unique prefix per test.

``ONIONWATCH_TEST_ES_URL`` (plus ONIONWATCH_TEST_ES_USER/PASSWORD/CA_CERTS) points the
tests at a real cluster; otherwise a noida-db is started on a free loopback port in a
temporary data dir and stopped at the end.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit
from pathlib import Path
from typing import Any, Iterator

import pytest
from elasticsearch import Elasticsearch

from index import Names
from index.client import connect
from onionwatch import es_server


@pytest.fixture(scope="session")
def es_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("ONIONWATCH_TEST_ES_URL")
    if url:
        yield url
        return
    data_dir: Path = tmp_path_factory.mktemp("noida-es")
    server = es_server.start(data_dir)
    try:
        yield server.url
    finally:
        es_server.stop(data_dir)


def make_client(url: str) -> Elasticsearch:
    return connect(
        url,
        username=os.environ.get("ONIONWATCH_TEST_ES_USER"),
        password=os.environ.get("ONIONWATCH_TEST_ES_PASSWORD"),
        ca_certs=os.environ.get("ONIONWATCH_TEST_ES_CA_CERTS"),
    )


@pytest.fixture(scope="session")
def es(es_url: str) -> Iterator[Elasticsearch]:
    client = make_client(es_url)
    yield client
    client.close()


@pytest.fixture
def index_prefix(es: Elasticsearch) -> Iterator[str]:
    """A prefix no other test uses; its indices and templates are deleted afterwards."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    yield prefix
    drop_prefix(es, prefix)


def drop_prefix(es: Elasticsearch, prefix: str) -> None:
    """Delete every index and template under a test prefix."""
    indices = list(es.indices.get(index=f"{prefix}-*", expand_wildcards="all").body)
    for i in range(0, len(indices), 50):  # delete by name: wildcard deletes are refused
        es.indices.delete(index=",".join(indices[i:i + 50]))
    templates = es.options(ignore_status=404).indices.get_index_template(name=f"{prefix}-*").body.get("index_templates", [])
    for t in templates:
        es.indices.delete_index_template(name=t["name"])
    comps = es.options(ignore_status=404).cluster.get_component_template(name=f"{prefix}-*").body
    for c in comps.get("component_templates", []):
        es.cluster.delete_component_template(name=c["name"])


@pytest.fixture
def names(index_prefix: str) -> Names:
    return Names(index_prefix)


def onion(n: int) -> str:
    """A deterministic v3-shaped onion host for test data."""
    return (hashlib.sha256(str(n).encode()).hexdigest()[:56].translate(str.maketrans("0189", "abcd"))) + ".onion"


def page_record(url: str, body: str, *, fetched_at: str = "2026-11-22T10:00:00Z", **fields: Any) -> dict[str, Any]:
    """A page record as docs/record.md specifies it, after enrich (text = body here)."""
    raw = body.encode()
    host = fields.pop("onion", None) or url.split("/")[2]
    record: dict[str, Any] = {
        "url": url, "onion": host, "fetched_at": fetched_at, "status": 200, "failure": None,
        "content_type": "text/html", "title": fields.pop("title", body[:40]), "text": body,
        "links": [], "onion_links": [], "lang": "en", "sha256": hashlib.sha256(raw).hexdigest(),
        "size": len(raw), "raw": raw, "depth": 0, "crawl_id": "test", "categories": [],
        "entities": [], "offers": [], "evidence": [],
    }
    record.update(fields)
    return record


class FaultyProxy:
    """A real HTTP proxy on loopback in front of the test server that fails the first
    ``fail`` bulk requests: ``mode`` "429"/"503" answers that status, "drop" closes the
    connection without an answer. Counts what it saw."""

    def __init__(self, upstream: str, *, fail: int, mode: str = "429") -> None:
        self.fail, self.mode, self.seen_bulk, self.faults = fail, mode, 0, 0
        target = urlsplit(upstream)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if "/_bulk" in self.path:
                    with lock:
                        proxy.seen_bulk += 1
                        fault = proxy.faults < proxy.fail
                        proxy.faults += fault
                    if fault and proxy.mode == "drop":
                        self.close_connection = True
                        self.connection.close()
                        return
                    if fault:
                        status = int(proxy.mode)
                        payload = b'{"error":{"type":"es_rejected_execution_exception","reason":"injected"},"status":%d}' % status
                        self.send_response(status)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("X-Elastic-Product", "Elasticsearch")
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                        return
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _relay

            def log_message(self, *args: Any) -> None:
                pass

        lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FaultyProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
