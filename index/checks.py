"""Liveness checks (a time series) and the onion-service counts over time built from them.

Counts are computed by the index with aggregations, never by pulling documents:

- ``known``: services first seen (services index ``first_seen``) before the interval ended;
- ``new``: services first seen inside the interval;
- ``alive``: services with at least one successful check inside the interval;
- ``gone``: services first seen before the last ``gone_after`` intervals began, checked in
  that window with a verdict, and never up in it (a checker that did not run, or could not
  reach Tor, makes nothing "gone").

Intervals are UTC calendar days, ISO weeks (Monday) or months, like Elasticsearch's
``calendar_interval``. Check documents carry the service's ``first_seen`` and ``categories``
as they were when checked, so the check-side counts need no join.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

from index import schema
from index.names import CHECKS, Names, month_partition, parse_time

INTERVALS = ("day", "week", "month")
STATUSES = ("up", "down", "unknown", "seized")  # seized: the front page is a seizure banner
CHECK_FIELDS = (
    "run_id", "onion", "checked_at", "status", "method", "latency_ms", "reason", "attempts",
    "descriptor", "http_status", "evidence", "first_seen", "categories",
)
# cardinality is exact below this many distinct values (Elasticsearch's maximum threshold)
PRECISION = 40000
RETRY_STATUS = (429, 500, 502, 503, 504)


def check_id(run_id: str, onion: str) -> str:
    """One document per service per run: re-writing a run's results is idempotent."""
    return hashlib.sha256(f"{run_id}\n{onion}".encode()).hexdigest()[:40]


def iso_utc(dt: datetime) -> str:
    """RFC 3339 UTC with a Z, as every index of ours stores times."""
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def write_checks(
    es: Elasticsearch, names: Names, checks: Sequence[Mapping[str, Any]], config_dir: Path | None = None
) -> tuple[int, list[tuple[str, str]]]:
    """Store check documents; returns (stored, [(onion, reason)] for every one not stored)."""
    spec = schema.setup(es, names, config_dir)[CHECKS]
    partitions: set[str] = set()
    actions = []
    failed: list[tuple[str, str]] = []
    for c in checks:
        if c.get("status") not in STATUSES or not c.get("onion") or not c.get("checked_at") or not c.get("run_id"):
            failed.append((str(c.get("onion")), "invalid check: needs run_id, onion, checked_at, status"))
            continue
        doc = {k: c.get(k) for k in CHECK_FIELDS}
        doc["up"] = {"up": True, "down": False}.get(doc["status"])
        doc["doc_id"] = check_id(doc["run_id"], doc["onion"])
        doc["categories"] = sorted(set(doc.get("categories") or []))
        partition = month_partition(doc["checked_at"])
        if partition not in partitions:
            schema.ensure_partition(es, names, spec, partition)
            partitions.add(partition)
        actions.append({"_op_type": "index", "_index": names.index(CHECKS, spec.version, partition),
                        "_id": doc["doc_id"], "_source": doc})
    stored = 0
    for ok, item in streaming_bulk(es, actions, raise_on_error=False, raise_on_exception=False,
                                   retry_on_status=RETRY_STATUS, max_retries=5, chunk_size=500):
        info = next(iter(item.values()))
        if ok:
            stored += 1
        else:
            err = info.get("error")
            reason = err.get("type", "error") if isinstance(err, dict) else str(err)[:200]
            failed.append((info.get("_id", "?"), reason))
    if actions:
        es.indices.refresh(index=names.checks)
    return stored, failed


def known_services(es: Elasticsearch, names: Names, *, page: int = 1000) -> Iterator[dict[str, Any]]:
    """Every service document (onion, first_seen, categories, ...), paged by onion."""
    after: list[Any] | None = None
    while True:
        kwargs: dict[str, Any] = {"search_after": after} if after else {}
        resp = es.search(index=names.services, query={"match_all": {}}, size=page, sort=[{"onion": "asc"}],
                         source=["onion", "first_seen", "last_seen", "categories", "last_failure"], **kwargs)
        hits = resp["hits"]["hits"]
        for h in hits:
            yield h["_source"]
        if len(hits) < page:
            return
        after = hits[-1]["sort"]


def latest_checks(es: Elasticsearch, names: Names, onions: Sequence[str] | None = None,
                  *, size: int = 1000) -> list[dict[str, Any]]:
    """The most recent check of each onion (or of the given ones)."""
    query: dict[str, Any] = ({"bool": {"filter": [{"terms": {"onion": [o.lower() for o in onions]}}]}}
                             if onions else {"match_all": {}})
    resp = es.search(index=names.checks, size=0, query=query, aggs={"by_onion": {
        "terms": {"field": "onion", "size": size},
        "aggs": {"last": {"top_hits": {"size": 1, "sort": [{"checked_at": "desc"}, {"doc_id": "asc"}]}}},
    }})
    return [b["last"]["hits"]["hits"][0]["_source"] for b in resp["aggregations"]["by_onion"]["buckets"]]


def check_history(es: Elasticsearch, names: Names, onion: str, *, size: int = 50) -> list[dict[str, Any]]:
    """One service's checks, newest first (status pages, the web app)."""
    resp = es.search(index=names.checks, query={"bool": {"filter": [{"term": {"onion": onion.lower()}}]}}, size=size,
                     sort=[{"checked_at": "desc"}, {"doc_id": "asc"}])
    return [h["_source"] for h in resp["hits"]["hits"]]


# -- intervals -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Bucket:
    start: datetime
    end: datetime


def floor_interval(t: datetime, interval: str) -> datetime:
    """Start of the calendar interval holding ``t`` (UTC)."""
    t = t.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "day":
        return t
    if interval == "week":
        return t - timedelta(days=t.weekday())
    if interval == "month":
        return t.replace(day=1)
    raise ValueError(f"interval must be one of {INTERVALS}, not {interval!r}")


def next_interval(start: datetime, interval: str, n: int = 1) -> datetime:
    """``start`` moved by n calendar intervals (n may be negative)."""
    if interval == "day":
        return start + timedelta(days=n)
    if interval == "week":
        return start + timedelta(weeks=n)
    months = start.year * 12 + start.month - 1 + n
    return start.replace(year=months // 12, month=months % 12 + 1)


def _as_time(value: str | date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    return parse_time(str(value).strip())


def buckets(interval: str, since: str | date | datetime, until: str | date | datetime) -> list[Bucket]:
    """Every interval from the one holding ``since`` to the one holding ``until``."""
    start = floor_interval(_as_time(since), interval)
    last = floor_interval(_as_time(until), interval)
    if last < start:
        raise ValueError("until is before since")
    out = []
    while start <= last:
        end = next_interval(start, interval)
        out.append(Bucket(start, end))
        start = end
    return out


# -- stats -----------------------------------------------------------------------------------

def range_filter(field: str, gte: datetime | None = None, lt: datetime | None = None) -> dict[str, Any]:
    """A range query on a date field, open on the sides not given."""
    bounds = {}
    if gte is not None:
        bounds["gte"] = iso_utc(gte)
    if lt is not None:
        bounds["lt"] = iso_utc(lt)
    return {"range": {field: bounds}}


def _histogram(field: str, interval: str, spans: list[Bucket]) -> dict[str, Any]:
    return {"date_histogram": {
        "field": field, "calendar_interval": interval, "min_doc_count": 0, "time_zone": "UTC",
        "extended_bounds": {"min": iso_utc(spans[0].start), "max": iso_utc(spans[-1].start)},
    }}


def _by_start(resp_buckets: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {int(b["key"]): b for b in resp_buckets}


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def onion_stats(
    es: Elasticsearch,
    names: Names,
    *,
    interval: str,
    since: str | date | datetime,
    until: str | date | datetime,
    category: str | None = None,
    gone_after: int = 2,
) -> list[dict[str, Any]]:
    """Per interval: {start, end, known, new, alive, gone} (see the module docstring).

    Two requests: one to services (known/new), one to checks (alive/gone)."""
    if gone_after < 1:
        raise ValueError("gone_after must be at least 1")
    spans = buckets(interval, since, until)
    first, stop = spans[0].start, spans[-1].end
    cat = [{"term": {"categories": category}}] if category else []

    svc = es.search(index=names.services, size=0, query={"bool": {"filter": cat}}, aggs={
        "before": {"filter": range_filter("first_seen", lt=first)},
        "during": {"filter": range_filter("first_seen", gte=first, lt=stop),
                   "aggs": {"h": _histogram("first_seen", interval, spans)}},
    })["aggregations"]
    new_by = _by_start(svc["during"]["h"]["buckets"])

    windows = {str(i): next_interval(b.start, interval, 1 - gone_after) for i, b in enumerate(spans)}
    verdict = {"terms": {"status": ["up", "down"]}}
    distinct = {"cardinality": {"field": "onion", "precision_threshold": PRECISION}}
    chk = es.search(index=names.checks, size=0, query={"bool": {"filter": cat + [{"exists": {"field": "first_seen"}}]}},
                    aggs={
        "alive": {"filter": {"bool": {"filter": [{"term": {"status": "up"}}, range_filter("checked_at", first, stop)]}},
                  "aggs": {"h": {**_histogram("checked_at", interval, spans), "aggs": {"n": distinct}}}},
        "gone": {"filters": {"filters": {
            i: {"bool": {"filter": [verdict, range_filter("checked_at", w, spans[int(i)].end), range_filter("first_seen", lt=w)]}}
            for i, w in windows.items()}},
            "aggs": {"checked": distinct, "up": {"filter": {"term": {"status": "up"}}, "aggs": {"n": distinct}}}},
    })["aggregations"]
    alive_by = _by_start(chk["alive"]["h"]["buckets"])

    rows = []
    known = int(svc["before"]["doc_count"])
    for i, b in enumerate(spans):
        new = int(new_by.get(_ms(b.start), {}).get("doc_count", 0))
        known += new
        g = chk["gone"]["buckets"][str(i)]
        alive = alive_by.get(_ms(b.start))
        rows.append({
            "start": iso_utc(b.start), "end": iso_utc(b.end), "category": category,
            "known": known, "new": new,
            "alive": int(alive["n"]["value"]) if alive else 0,
            "gone": int(g["checked"]["value"]) - int(g["up"]["n"]["value"]),
        })
    return rows
