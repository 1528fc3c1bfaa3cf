"""Onion-service counts as the analyst cites them, one result for the CLI and the web app:
per address or per site, with Tor Metrics' own estimate beside them and a caption that says
how every number was made (what "alive" and "gone" mean, the data range, the clustering).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch

import index
from index import lifespans, tor_metrics
from index import sites as site_index
from index.checks import buckets, floor_interval, next_interval

UNITS = tuple(lifespans.UNITS)  # addresses, sites
BY = tuple(lifespans.BY_FIELDS)  # category, lang
CATEGORIES = ("leaked_data", "drugs", "wildlife")
DEFAULT_INTERVALS = 12
LIFETIME_GONE_AFTER = 2  # lifetimes end by the monthly rule: two months without a sign of life
COLUMNS = ("start", "category", "known", "alive", "new", "gone", "seized", "clones", "tor_onions", "end")


def onion_stats(es: Elasticsearch, names: index.Names, *, unit: str = "addresses", interval: str = "week",
                since: str | None = None, until: str | None = None, by: str | None = None, gone_after: int = 2,
                refresh: bool = False) -> dict[str, Any]:
    """{unit, interval, since, until, gone_after, rows, tor_metrics, tor_sources, caption}.

    Lifespans (and their tallies) are rebuilt first when forced or when services, checks or
    site assignments changed since the last build. Raises ValueError for bad parameters."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}")
    if by is not None and by not in BY:
        raise ValueError(f"by must be one of {', '.join(BY)}")
    now = datetime.now(UTC)
    until_v = until or now.isoformat(timespec="seconds")
    since_v = since or next_interval(floor_interval(now, interval), interval, 1 - DEFAULT_INTERVALS).isoformat()
    refreshed = False
    if refresh or lifespans.stale(es, names):
        lifespans.refresh(es, names, site_index.previous(es, names))
        refreshed = True
    rows = lifespans.counts(es, names, unit=unit, interval=interval, since=since_v, until=until_v, by=by,
                            values=list(CATEGORIES) if by == "category" else None, gone_after=gone_after)
    spans = buckets(interval, since_v, until_v)
    points = tor_metrics.points(es, names, since=spans[0].start.date(), until=spans[-1].end.date())
    series = sorted({p["series"] for p in points})
    if series:  # the interval mean of Tor's daily estimate (v3 when both are there)
        means = tor_metrics.per_interval(points, spans, "v3" if "v3" in series else series[0])
        by_start = {b.start.isoformat().replace("+00:00", "Z"): m for b, m in zip(spans, means, strict=True)}
        for r in rows:
            r["tor_onions"] = by_start.get(r["start"])
    result = {"unit": unit, "interval": interval, "since": since_v, "until": until_v, "by": by,
              "gone_after": gone_after, "refreshed": refreshed,
              "rows": [{c: r[c] for c in COLUMNS if c in r} for r in rows],
              "tor_metrics": [{"date": p["date"], "onions": p["onions"], "series": p["series"]} for p in points],
              "tor_sources": tor_metrics.sources(es, names)}
    split = by or "category"
    result["lifetimes"] = lifespans.lifetimes(es, names, unit=unit, by=split,
                                              values=list(CATEGORIES) if split == "category" else None,
                                              interval="month", gone_after=LIFETIME_GONE_AFTER)
    result["caption"] = caption(es, names, result)
    return result


def caption(es: Elasticsearch, names: index.Names, result: dict[str, Any]) -> list[str]:
    """The method, in sentences an analyst can paste under a figure."""
    n, interval = result["gone_after"], result["interval"]
    rng = lifespans.data_range(es, names)
    lines = []
    if result["unit"] == "sites":
        lines.append("Counted by site: onion addresses that serve the same content are one site (mirrors); "
                     "an address with the same content but other payment addresses is a clone, counted apart "
                     f"(column clones). Clustering: {site_index.method(es, names) or 'no clustering run yet'}.")
    else:
        lines.append("Counted by onion address (mirrors of one site count once each).")
    lines.append(f"known: first seen (first successful fetch) before the end of the {interval}; new: first seen in "
                 f"it; alive: at least one successful liveness check in it; gone: a death, counted {n} {interval}(s) "
                 "after the last sign of life once a failed check shows it was looked for (one that came back is "
                 "not dead); seized: a seizure banner first seen in it.")
    lines.append("Lifetimes: first seen to last sign of life, in whole days, over the lifetimes that ended (seized, "
                 f"or gone by the monthly rule: {LIFETIME_GONE_AFTER} months without a successful check); those still "
                 "running are counted apart, not in the median.")
    lines.append("Exact document counts from Elasticsearch aggregations over one lifespan document per "
                 f"address/site (no approximate cardinality). Data from {(rng['first'] or '-')[:10]} to "
                 f"{(rng['last'] or '-')[:10]}; window {result['since'][:10]} to {result['until'][:10]} (UTC).")
    for src in result.get("tor_sources") or []:
        lines.append(f"Tor Metrics {src['series']} ({src['first']} to {src['last']}, tor_onions = mean daily "
                     f"estimate per {interval}): {src['citation']}")
    return lines


def to_csv(result: dict[str, Any]) -> str:
    """The rows as CSV, preceded by the caption as '#' comment lines."""
    buf = io.StringIO()
    for line in result["caption"]:
        buf.write(f"# {line}\n")
    cols = [c for c in COLUMNS if any(c in r for r in result["rows"]) and (c != "category" or result["by"])]
    writer = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(result["rows"])
    return buf.getvalue()
