"""Exact onion-service counts per interval, for addresses and for sites (clusters of mirrors).

One *lifespan* document per counted unit (an onion address, or a site = the addresses of one
cluster) carries what the counts need, precomputed from services, checks and site
assignments: ``first_seen``, ``last_alive``, ``up_days`` (UTC days with a successful check),
``down_since`` (the first failed check after the last sign of life), ``seized_at``,
``lifetime_days``, categories and languages. Every count is then an exact *document count*:
date_histogram buckets on single-valued dates (first_seen, seized_at, last_alive x
down_since), date_histogram on ``up_days`` (a document counts once per bucket however many
of its days fall in it) and exhaustive ``terms`` buckets (checked: no ``sum_other_doc_count``)
on a single-shard index — exact at any size, unlike the ``cardinality`` aggregation that
``index.checks.onion_stats`` uses over check documents (HyperLogLog++: exact in practice
below its 40,000 precision threshold, an estimate above; bench/stats_bench.py measures by
how much).

Definitions, per interval [start, end) (UTC days, ISO weeks, calendar months):

- ``known``: first seen before ``end``;
- ``new`` (births): first seen inside the interval;
- ``alive``: at least one successful check inside the interval;
- ``gone`` (deaths, with the N-interval rule, N = ``gone_after``): counted once, in the
  interval N after the one of its last sign of life (N intervals in a row without a
  successful check end there) — or later, in the interval of its first failed check, if
  nobody looked earlier: a failed check after the last sign of life must prove it was
  looked for, so a checker that did not run makes nothing gone. A unit that came back is
  not dead: deaths are final deaths as of the data. Seized units count as seized, not gone;
- ``seized``: the unit's seizure banner was first seen inside the interval (a site is
  seized when a member was seized and no member answered normally after that);
- for sites, clones (``role`` clone) are sites of their own but are left out of the site
  counts (they would inflate them like mirrors do) and reported as ``clones`` (known).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

from index import schema
from index.checks import (
    INTERVALS,
    Bucket,
    buckets,
    floor_interval,
    iso_utc,
    next_interval,
    range_filter,
)
from index.names import Names, parse_time

LIFESPANS = "lifespans"
TALLY = "tally"  # unit of the documents caching per-bucket aggregation results
UNITS = {"addresses": "address", "sites": "site"}
BY_FIELDS = {"category": "categories", "lang": "langs"}
LIFETIME_BINS = (0, 7, 30, 90, 180, 365)  # days; the last bin is open-ended
RETRY_STATUS = (429, 500, 502, 503, 504)


def _t(value: str | date | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return parse_time(str(value))


def _day(dt: datetime) -> date:
    return dt.astimezone(UTC).date()


@dataclass
class History:
    """What is known about one onion address, as input to the lifespan documents."""

    onion: str
    first_seen: str | datetime | None          # first successful fetch
    last_seen: str | datetime | None = None    # last successful fetch
    categories: Sequence[str] = ()
    langs: Sequence[str] = ()
    up: Iterable[str | datetime] = ()          # times of successful checks
    down: Iterable[str | datetime] = ()        # times of failed checks (with a verdict)
    seized_at: str | datetime | None = None    # first time a seizure banner was seen
    site_id: str | None = None
    role: str | None = None                    # mirror | clone (from the site assignment)
    clone_of: str | None = None


@dataclass
class _Facts:
    first_seen: datetime
    last_alive: datetime
    up_days: set[date]
    downs: list[datetime]                      # failed checks after the last successful one
    last_checked: datetime | None
    seized_at: datetime | None
    categories: set[str] = field(default_factory=set)
    langs: set[str] = field(default_factory=set)


def _facts(h: History) -> _Facts | None:
    first = _t(h.first_seen)
    if first is None:  # never fetched successfully: not a known service
        return None
    ups = sorted(t for t in (_t(x) for x in h.up) if t is not None)
    downs = sorted(t for t in (_t(x) for x in h.down) if t is not None)
    last_alive = max([first] + ([_t(h.last_seen)] if h.last_seen else []) + ups[-1:])  # type: ignore[list-item]
    checked = (ups[-1:] + downs[-1:])
    return _Facts(first, last_alive, {_day(t) for t in ups}, [t for t in downs if t > last_alive],
                  max(checked) if checked else None, _t(h.seized_at),
                  set(h.categories or ()), {x for x in h.langs or () if x and x != "und"})


def _doc(unit: str, key: str, members: list[tuple[History, _Facts]], site_id: str | None,
         role: str | None, clone_of: str | None, now: str) -> dict[str, Any]:
    facts = [f for _, f in members]
    first = min(f.first_seen for f in facts)
    last_alive = max(f.last_alive for f in facts)
    downs = sorted(t for f in facts for t in f.downs if t > last_alive)
    seized = [f.seized_at for f in facts if f.seized_at is not None]
    seized_at = min(seized) if seized else None
    if seized_at is not None and any(f.seized_at is None and f.last_alive > seized_at for f in facts):
        seized_at = None  # a member still answered normally after the seizure
    checked = [f.last_checked for f in facts if f.last_checked is not None]
    status = "seized" if seized_at else ("down" if downs else ("up" if checked else "unknown"))
    return {
        "unit": unit, "key": key, "site_id": site_id, "role": role, "clone_of": clone_of,
        "onions": sorted(h.onion for h, _ in members),
        "categories": sorted(set().union(*(f.categories for f in facts))),
        "langs": sorted(set().union(*(f.langs for f in facts))),
        "first_seen": iso_utc(first), "last_alive": iso_utc(last_alive),
        "up_days": sorted(d.isoformat() for d in set().union(*(f.up_days for f in facts))),
        "down_since": iso_utc(downs[0]) if downs else None,
        "last_checked": iso_utc(max(checked)) if checked else None,
        "seized_at": iso_utc(seized_at) if seized_at else None,
        "status": status,
        "lifetime_days": (last_alive - first).days,
        "updated_at": now,
    }


def lifespan_docs(histories: Iterable[History], *, now: str | None = None) -> Iterator[dict[str, Any]]:
    """Address documents, then site documents (addresses grouped by site id; an address
    without a site assignment is a site of its own, keyed by its onion)."""
    now = now or iso_utc(datetime.now(UTC))
    sites: dict[str, list[tuple[History, _Facts]]] = {}
    for h in histories:
        f = _facts(h)
        if f is None:
            continue
        yield _doc("address", h.onion, [(h, f)], h.site_id, h.role, h.clone_of, now)
        sites.setdefault(h.site_id or h.onion, []).append((h, f))
    for sid, members in sites.items():
        h0 = members[0][0]
        clone = h0.role == "clone"
        yield _doc("site", sid, members, h0.site_id or sid, "clone" if clone else "site",
                   h0.clone_of if clone else None, now)


def doc_id(doc: Mapping[str, Any]) -> str:
    return f"{doc['unit']}:{doc['key']}"


def write_lifespans(es: Elasticsearch, names: Names, docs: Iterable[Mapping[str, Any]], *,
                    replace: bool = True, chunk_size: int = 2000) -> dict[str, Any]:
    """Store lifespan documents (idempotent by unit+key); with ``replace``, documents this
    run did not produce are deleted, so the index equals the input afterwards."""
    schema.setup(es, names)
    alias = names.alias(LIFESPANS)
    seen: set[str] = set()
    failed: list[tuple[str, str]] = []

    def actions() -> Iterator[dict[str, Any]]:
        for d in docs:
            _id = doc_id(d)
            seen.add(_id)
            yield {"_op_type": "index", "_index": alias, "_id": _id, "_source": dict(d)}

    stored = 0
    for ok, item in streaming_bulk(es, actions(), chunk_size=chunk_size, max_chunk_bytes=20 * 1024 * 1024,
                                   raise_on_error=False, raise_on_exception=False,
                                   retry_on_status=RETRY_STATUS, max_retries=5):
        info = next(iter(item.values()))
        if ok:
            stored += 1
        else:
            err = info.get("error")
            failed.append((str(info.get("_id")), err.get("type", "error") if isinstance(err, dict) else str(err)[:200]))
    deleted = 0
    if replace and not failed:
        es.indices.refresh(index=alias)
        stale = [i for i in _all_ids(es, alias) if i not in seen and not i.startswith(f"{TALLY}:")]
        for i in range(0, len(stale), 1000):
            resp = es.bulk(operations=[{"delete": {"_index": alias, "_id": x}} for x in stale[i:i + 1000]])
            deleted += sum(1 for it in resp["items"] if it["delete"].get("result") == "deleted")
    es.indices.refresh(index=alias)
    return {"stored": stored, "deleted": deleted, "failed": failed}


def _all_ids(es: Elasticsearch, index: str, page: int = 5000) -> Iterator[str]:
    after: list[Any] | None = None
    while True:
        kwargs: dict[str, Any] = {"search_after": after} if after else {}
        resp = es.search(index=index, size=page, sort=[{"unit": "asc"}, {"key": "asc"}], source=False, **kwargs)
        hits = resp["hits"]["hits"]
        for h in hits:
            yield h["_id"]
        if len(hits) < page:
            return
        after = hits[-1]["sort"]


# -- reading the history out of services, checks and site assignments -------------------------

def _scan(es: Elasticsearch, index: str, sort: list[Any], source: list[str], page: int = 5000,
          query: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    after: list[Any] | None = None
    while True:
        kwargs: dict[str, Any] = {"search_after": after} if after else {}
        resp = es.search(index=index, size=page, sort=sort, source=source, query=query or {"match_all": {}}, **kwargs)
        hits = resp["hits"]["hits"]
        for h in hits:
            yield h["_source"]
        if len(hits) < page:
            return
        after = hits[-1]["sort"]


def histories(es: Elasticsearch, names: Names, sites: Mapping[str, Mapping[str, Any]] | None = None) -> list[History]:
    """Every known service's history: services (first/last seen, categories, languages, a
    ``seized`` status if the crawler recorded one) joined with its checks (streamed in onion
    order, so memory holds one service's checks at a time) and its site assignment."""
    sites = sites or {}
    # writers leave visibility to the refresh interval; read what has been written until now
    es.indices.refresh(index=f"{names.services},{names.checks}", ignore_unavailable=True)
    out: dict[str, History] = {}
    for s in _scan(es, names.services, [{"onion": "asc"}],
                   ["onion", "first_seen", "last_seen", "categories", "langs", "status", "seized_at"]):
        a = sites.get(s["onion"], {})
        out[s["onion"]] = History(s["onion"], s.get("first_seen"), s.get("last_seen"), s.get("categories") or [],
                                  s.get("langs") or [], [], [],
                                  s.get("seized_at") or (s.get("last_seen") if s.get("status") == "seized" else None),
                                  a.get("site_id"), a.get("role"), a.get("clone_of"))
    current: str | None = None
    ups: list[str] = []
    downs: list[str] = []
    seized: str | None = None

    def flush() -> None:
        if current in out:
            h = out[current]
            h.up, h.down = ups, downs
            if seized and (h.seized_at is None or parse_time(seized) < parse_time(str(h.seized_at))):
                h.seized_at = seized

    for c in _scan(es, names.checks, [{"onion": "asc"}, {"checked_at": "asc"}, {"doc_id": "asc"}],
                   ["onion", "checked_at", "status"]):
        if c["onion"] != current:
            flush()
            current, ups, downs, seized = c["onion"], [], [], None
        if c["status"] == "up":
            ups.append(c["checked_at"])
        elif c["status"] == "down":
            downs.append(c["checked_at"])
        elif c["status"] == "seized" and seized is None:
            seized = c["checked_at"]
    flush()
    return list(out.values())


def refresh(es: Elasticsearch, names: Names, sites: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Rebuild every lifespan document from services, checks and site assignments."""
    sources = source_counts(es, names)
    hist = histories(es, names, sites)
    result = write_lifespans(es, names, lifespan_docs(hist))
    took = store_tallies(es, names, sources) if not result["failed"] else {}
    return dict(result, services=len(hist), tally_seconds=took)


def source_counts(es: Elasticsearch, names: Names) -> dict[str, int]:
    """Document counts of what lifespans are built from (services, checks, site assignments):
    checks are append-only and services and sites grow, so a changed count means new data."""
    out = {}
    for kind in ("services", "checks", "sites"):
        alias = names.alias(kind)
        out[kind] = int(es.count(index=alias)["count"]) if es.indices.exists_alias(name=alias) else 0
    return out


def stale(es: Elasticsearch, names: Names) -> bool:
    """True when no tally is stored or the sources changed since (see ``source_counts``)."""
    stored = es.options(ignore_status=404).get(index=names.alias(LIFESPANS), id=f"{TALLY}:addresses:month")
    if not stored.get("found"):
        return True
    return stored["_source"]["tally"].get("sources") != source_counts(es, names)


# -- counting ------------------------------------------------------------------------------
#
# One aggregation request per (unit, interval) returns a *tally*: exact per-bucket document
# counts from date_histograms (first_seen, up_days, seized_at, and last_alive x down_since for
# the deaths), overall and per category and language (terms buckets, checked exhaustive).
# Rows for any window and any N are arithmetic on the tally, so ``refresh`` stores the tallies
# (docs ``unit = tally``) and a stats request reads one document instead of aggregating over
# every service again; ``counts(..., cached=False)`` always aggregates live.


def _dh(field_: str, interval: str, **sub: Any) -> dict[str, Any]:
    agg: dict[str, Any] = {"date_histogram": {"field": field_, "calendar_interval": interval, "time_zone": "UTC",
                                              "min_doc_count": 1}}
    if sub:
        agg["aggs"] = sub
    return agg


def _measures(interval: str) -> dict[str, Any]:
    not_seized = {"bool": {"must_not": [{"exists": {"field": "seized_at"}}]}}
    return {
        "first": _dh("first_seen", interval),
        "up": _dh("up_days", interval),
        "seized": _dh("seized_at", interval),
        "dead": {"filter": {"bool": {"filter": [{"exists": {"field": "down_since"}}, not_seized]}},
                 "aggs": {"last": _dh("last_alive", interval, down=_dh("down_since", interval))}},
    }


def _read(node: Mapping[str, Any]) -> dict[str, Any]:
    def hist(h: Mapping[str, Any]) -> dict[str, int]:
        return {str(b["key"]): int(b["doc_count"]) for b in h["buckets"] if b["doc_count"]}

    out = {"total": int(node["doc_count"]), "first": hist(node["first"]), "up": hist(node["up"]),
           "seized": hist(node["seized"]),
           "dead": [[int(b["key"]), int(d["key"]), int(d["doc_count"])]
                    for b in node["dead"]["last"]["buckets"] for d in b["down"]["buckets"] if d["doc_count"]]}
    if "life" in node:
        life = node["life"]
        _check_exact(life["seized"]["days"], "lifetime_days")
        out["life"] = {"seized": {str(b["key"]): int(b["doc_count"]) for b in life["seized"]["days"]["buckets"]},
                       "dead": [[int(b["key"]), int(d["key"]), int(d["doc_count"])]
                                for b in life["dead"]["last"]["buckets"] for d in b["days"]["buckets"]]}
        for b in life["dead"]["last"]["buckets"]:
            _check_exact(b["days"], "lifetime_days")
    return out


def _check_exact(terms: Mapping[str, Any], what: str) -> None:
    if terms.get("sum_other_doc_count") or terms.get("doc_count_error_upper_bound"):
        raise RuntimeError(f"{what}: terms aggregation was not exhaustive; counts would not be exact")


def tally(es: Elasticsearch, names: Names, *, unit: str, interval: str) -> dict[str, Any]:
    """Aggregate one (unit, interval) tally live: {all, by: {category: {value: t}, lang: {...}},
    clones: {...}}, where each t holds bucket-start (epoch ms) -> count maps."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {tuple(UNITS)}, not {unit!r}")
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}, not {interval!r}")
    m = _measures(interval)
    if interval == "month":  # lifetimes: lifetime_days of the ended-or-ending, by month of last sign of life
        days = {"terms": {"field": "lifetime_days", "size": 100000}}
        m["life"] = {"filter": {"bool": {"should": [{"exists": {"field": "seized_at"}},
                                                     {"exists": {"field": "down_since"}}], "minimum_should_match": 1}},
                     "aggs": {"seized": {"filter": {"exists": {"field": "seized_at"}}, "aggs": {"days": days}},
                              "dead": {"filter": {"bool": {"must_not": [{"exists": {"field": "seized_at"}}]}},
                                       "aggs": {"last": _dh("last_alive", interval, days=days)}}}}
    per = {f"by_{by}": {"terms": {"field": f, "size": 1000}, "aggs": m} for by, f in BY_FIELDS.items()}
    first = {"first": _dh("first_seen", interval)}
    clone_by = {f"by_{by}": {"terms": {"field": f, "size": 1000}, "aggs": first} for by, f in BY_FIELDS.items()}
    # a clone is an address like any other, but not a site of the count (see the module docstring)
    main = {"bool": {"must_not": [{"term": {"role": "clone"}}]}} if unit == "sites" else {"match_all": {}}
    aggs = {"main": {"filter": main, "aggs": {**m, **per}},
            "clones": {"filter": {"term": {"role": "clone"}}, "aggs": {**first, **clone_by}}}
    resp = es.search(index=names.alias(LIFESPANS), size=0, query={"term": {"unit": UNITS[unit]}}, aggs=aggs)
    main, clones = resp["aggregations"]["main"], resp["aggregations"]["clones"]
    out: dict[str, Any] = {"unit": unit, "interval": interval, "all": _read(main), "by": {}, "clones": {}}
    out["clones"]["all"] = {str(b["key"]): int(b["doc_count"]) for b in clones["first"]["buckets"]}
    for by in BY_FIELDS:
        _check_exact(main[f"by_{by}"], by)
        _check_exact(clones[f"by_{by}"], by)
        out["by"][by] = {b["key"]: _read(b) for b in main[f"by_{by}"]["buckets"]}
        out["clones"][by] = {b["key"]: {str(x["key"]): int(x["doc_count"]) for x in b["first"]["buckets"]}
                             for b in clones[f"by_{by}"]["buckets"]}
    return out


def _ordinal(ms: int | datetime, interval: str) -> int:
    """Interval number of a time (consecutive intervals have consecutive numbers)."""
    dt = ms if isinstance(ms, datetime) else datetime.fromtimestamp(ms / 1000, tz=UTC)
    if interval == "month":
        return dt.year * 12 + dt.month - 1
    days = (floor_interval(dt, "day") - datetime(2000, 1, 3, tzinfo=UTC)).days  # a Monday
    return days if interval == "day" else days // 7


def _rows_from(t: Mapping[str, Any], clones: Mapping[str, int] | None, spans: list[Bucket], interval: str,
               gone_after: int, label: str | None) -> list[dict[str, Any]]:
    first = {_ordinal(int(k), interval): v for k, v in t["first"].items()}
    up = {_ordinal(int(k), interval): v for k, v in t["up"].items()}
    seized = {_ordinal(int(k), interval): v for k, v in t["seized"].items()}
    gone: dict[int, int] = {}
    for la, ds, n in t["dead"]:
        i = max(_ordinal(la, interval) + gone_after, _ordinal(ds, interval))
        gone[i] = gone.get(i, 0) + n
    clone_first = {_ordinal(int(k), interval): v for k, v in (clones or {}).items()}
    rows = []
    for b in spans:
        i = _ordinal(b.start, interval)
        row = {"start": iso_utc(b.start), "end": iso_utc(b.end), "category": label,
               "known": sum(v for k, v in first.items() if k <= i), "alive": up.get(i, 0), "new": first.get(i, 0),
               "gone": gone.get(i, 0), "seized": seized.get(i, 0)}
        if clones is not None:
            row["clones"] = sum(v for k, v in clone_first.items() if k <= i)
        rows.append(row)
    return rows


def store_tallies(es: Elasticsearch, names: Names, sources: Mapping[str, int] | None = None) -> dict[str, float]:
    """Aggregate and store every (unit, interval) tally (with the ``source_counts`` they were
    built from, for ``stale``); returns seconds per tally."""
    alias = names.alias(LIFESPANS)
    took: dict[str, float] = {}
    now = iso_utc(datetime.now(UTC))
    for unit in UNITS:
        for interval in INTERVALS:
            t0 = time.perf_counter()
            t = tally(es, names, unit=unit, interval=interval)
            t["sources"] = dict(sources) if sources is not None else None
            es.index(index=alias, id=f"{TALLY}:{unit}:{interval}",
                     document={"unit": TALLY, "key": f"{unit}:{interval}", "tally": t, "updated_at": now})
            took[f"{unit}/{interval}"] = time.perf_counter() - t0
    es.indices.refresh(index=alias)
    return took


def stored_tally(es: Elasticsearch, names: Names, unit: str, interval: str) -> dict[str, Any] | None:
    resp = es.options(ignore_status=404).get(index=names.alias(LIFESPANS), id=f"{TALLY}:{unit}:{interval}")
    return resp["_source"]["tally"] if resp.get("found") else None


def counts(
    es: Elasticsearch,
    names: Names,
    *,
    unit: str = "addresses",
    interval: str,
    since: str | date | datetime,
    until: str | date | datetime,
    by: str | None = None,
    values: Sequence[str] | None = None,
    category: str | None = None,
    gone_after: int = 2,
    cached: bool = True,
) -> list[dict[str, Any]]:
    """Per interval {start, end, category, known, alive, new, gone, seized} (+ ``clones`` for
    sites). ``by`` ("category" or "lang") gives one row per value and interval, for the
    ``values`` given (zeros where nothing matches) or every value found; ``category`` limits
    the rows to one category. ``cached`` reads the tally ``refresh`` stored, if any."""
    if by is not None and by not in BY_FIELDS:
        raise ValueError(f"by must be one of {tuple(BY_FIELDS)}, not {by!r}")
    if gone_after < 1:
        raise ValueError("gone_after must be at least 1")
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {tuple(UNITS)}, not {unit!r}")
    spans = buckets(interval, since, until)
    t = stored_tally(es, names, unit, interval) if cached else None
    t = t or tally(es, names, unit=unit, interval=interval)
    sites_unit = unit == "sites"
    empty = {"first": {}, "up": {}, "seized": {}, "dead": []}
    if category and not by:
        return _rows_from(t["by"]["category"].get(category, empty),
                          t["clones"]["category"].get(category, {}) if sites_unit else None,
                          spans, interval, gone_after, category)
    if not by:
        return _rows_from(t["all"], t["clones"]["all"] if sites_unit else None, spans, interval, gone_after, None)
    found = t["by"][by]
    rows: list[dict[str, Any]] = []
    for value in (values if values is not None else sorted(found)):
        rows += _rows_from(found.get(value, empty), t["clones"][by].get(value, {}) if sites_unit else None,
                           spans, interval, gone_after, value)
    return rows


def lifetimes(
    es: Elasticsearch,
    names: Names,
    *,
    unit: str = "addresses",
    by: str | None = "category",
    values: Sequence[str] | None = None,
    interval: str = "month",
    gone_after: int = 2,
    as_of: str | date | datetime | None = None,
    cached: bool = True,
) -> list[dict[str, Any]]:
    """Lifetime (first seen -> last alive, whole days) per category (or language): the
    distribution and the exact median over *ended* lifetimes (seized, or gone by the
    N-interval rule as of ``as_of``), and how many are still running (right-censored: their
    lifetimes are lower bounds, not in the median). Exact: from a terms aggregation on the
    integer ``lifetime_days`` (every distinct value, counted). Monthly, as of now, it reads the
    stored tally (``cached``); otherwise it aggregates live."""
    if cached and as_of is None and interval == "month":
        t = stored_tally(es, names, unit, interval)
        if t is not None and "life" in t["all"]:
            return _lifetimes_from(t, by, values, gone_after)
    as_of_t = _t(as_of) or datetime.now(UTC)
    cutoff = next_interval(floor_interval(as_of_t, interval), interval, 1 - gone_after)
    ended = {"bool": {"should": [
        {"exists": {"field": "seized_at"}},
        {"bool": {"filter": [{"exists": {"field": "down_since"}}, range_filter("last_alive", lt=cutoff),
                             range_filter("down_since", lt=as_of_t)]}},
    ], "minimum_should_match": 1}}
    days = {"terms": {"field": "lifetime_days", "size": 100000}}
    sub = {"ended": {"filter": ended, "aggs": {"days": days}}}
    filt: list[dict[str, Any]] = [{"term": {"unit": UNITS[unit]}}]
    if unit == "sites":
        filt.append({"bool": {"must_not": [{"term": {"role": "clone"}}]}})
    aggs: dict[str, Any] = dict(sub)
    if by:
        aggs = {"by": {"terms": {"field": BY_FIELDS[by], "size": 1000}, "aggs": sub}, **sub}
    resp = es.search(index=names.alias(LIFESPANS), size=0, track_total_hits=True,
                     query={"bool": {"filter": filt}}, aggs=aggs)
    got = resp["aggregations"]

    def summary(label: str | None, node: Mapping[str, Any], total: int) -> dict[str, Any]:
        _check_exact(node["ended"]["days"], "lifetime_days")
        hist = {int(b["key"]): int(b["doc_count"]) for b in node["ended"]["days"]["buckets"]}
        return _life_summary(label, hist, total)

    out = [summary(None, got, int(resp["hits"]["total"]["value"]))]
    if by:
        _check_exact(got["by"], by)
        found = {b["key"]: b for b in got["by"]["buckets"]}
        empty = {"ended": {"doc_count": 0, "days": {"buckets": []}}, "doc_count": 0}
        for value in (values if values is not None else sorted(found)):
            node = found.get(value, empty)
            out.append(summary(value, node, int(node["doc_count"])))
    return out


def _life_summary(label: str | None, hist: Mapping[int, int], total: int) -> dict[str, Any]:
    values_sorted = [d for d, c in sorted(hist.items()) for _ in range(c)]
    bins = [{"days_from": lo, "days_to": hi,
             "count": sum(c for d, c in hist.items() if d >= lo and (hi is None or d < hi))}
            for lo, hi in zip(LIFETIME_BINS, LIFETIME_BINS[1:] + (None,), strict=True)]
    ended = sum(hist.values())
    return {"category": label, "known": total, "ended": ended, "still_running": total - ended,
            "median_days": statistics.median(values_sorted) if values_sorted else None, "histogram": bins}


def _lifetimes_from(t: Mapping[str, Any], by: str | None, values: Sequence[str] | None,
                    gone_after: int) -> list[dict[str, Any]]:
    """``lifetimes`` as of now from a stored monthly tally."""
    last_i = _ordinal(datetime.now(UTC), "month") + 1 - gone_after  # ended: last alive before this

    def one(label: str | None, node: Mapping[str, Any] | None) -> dict[str, Any]:
        if node is None:
            return _life_summary(label, {}, 0)
        hist: dict[int, int] = {}
        for d, n in node["life"]["seized"].items():
            hist[int(d)] = hist.get(int(d), 0) + n
        for la, d, n in node["life"]["dead"]:
            if _ordinal(la, "month") < last_i:
                hist[d] = hist.get(d, 0) + n
        return _life_summary(label, hist, node["total"])

    out = [one(None, t["all"])]
    if by:
        found = t["by"][by]
        out += [one(v, found.get(v)) for v in (values if values is not None else sorted(found))]
    return out


def data_range(es: Elasticsearch, names: Names) -> dict[str, str | None]:
    """Earliest first_seen and latest last sign of life in the lifespans index (for captions):
    the first document of each sort order."""
    units = {"terms": {"unit": list(UNITS.values())}}
    out: dict[str, str | None] = {}
    for key, field_, order in (("first", "first_seen", "asc"), ("last", "last_alive", "desc")):
        hits = es.search(index=names.alias(LIFESPANS), size=1, query=units, source=[field_],
                         sort=[{field_: {"order": order, "missing": "_last"}}])["hits"]["hits"]
        out[key] = hits[0]["_source"].get(field_) if hits else None
    return out
