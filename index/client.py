"""Building an Elasticsearch client: the one place that chooses our timeouts and retries.

Lives in index/ beside every other Elasticsearch call so the CLI, the crawler's sink, the
web app, the tests and the benches all get the same client. Credentials are passed in;
nothing here reads the environment.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch


def connect(url: str, *, username: str | None = None, password: str | None = None,
            api_key: str | None = None, ca_certs: str | None = None) -> Elasticsearch:
    """A client with our timeouts for ``url`` (several nodes: comma-separated; the client
    spreads requests and fails over). No immediate retries on 429/5xx: PageWriter retries
    those with backoff, and an instant retry only adds load to an overloaded cluster."""
    kwargs: dict[str, Any] = {"request_timeout": 60, "retry_on_timeout": True, "max_retries": 2,
                              "retry_on_status": ()}
    if api_key:
        kwargs["api_key"] = api_key
    elif username:
        kwargs["basic_auth"] = (username, password or "")
    if ca_certs:
        kwargs["ca_certs"] = ca_certs
    return Elasticsearch([u.strip() for u in url.split(",") if u.strip()], **kwargs)
