"""Tor Metrics' estimate of onion services, imported from the CSV an analyst downloads.

Shape (Tor Metrics' graph CSVs, e.g. ``hidserv-dir-v3-onions-seen.csv`` and the historical
v2 ``hidserv-dir-onions-seen.csv``): comment lines starting with ``#`` (licence, title,
column notes), then a header row ``date,onions,frac``, then one row per day: an ISO date,
the extrapolated number of unique .onion addresses (empty when too few relays reported),
and the fraction of relays (0..1) whose statistics the estimate rests on. The ``#`` lines
are kept as the citation shown in every export.

Import is all or nothing: the whole file is parsed first and any bad line is a
``TorMetricsError`` naming the file and line; a store that fails midway is rolled back.
"""

from __future__ import annotations

import csv
import io
import math
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.helpers import bulk

from index import schema
from index.names import Names

TOR_METRICS = "tor_metrics"
SERIES = ("v3", "v2")
REQUIRED = ("date", "onions")
OPTIONAL = ("frac",)
DEFAULT_CITATION = "Tor Project, Tor Metrics (metrics.torproject.org), onion services: unique .onion addresses"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class TorMetricsError(ValueError):
    """A line of the file is not what Tor Metrics writes; nothing was imported."""

    def __init__(self, source: str, line: int, message: str) -> None:
        super().__init__(f"{source}, line {line}: {message}")
        self.source, self.line, self.message = source, line, message


@dataclass
class Series:
    series: str
    source: str
    rows: list[dict[str, Any]]
    comments: list[str] = field(default_factory=list)

    @property
    def citation(self) -> str:
        notes = [c for c in self.comments if c]
        return " | ".join([DEFAULT_CITATION + f" ({self.series}), file {self.source}"] + notes[:3])


def _number(text: str, what: str, source: str, line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise TorMetricsError(source, line, f"{what} {text!r} is not a number") from None
    if math.isnan(value) or math.isinf(value) or value < 0:
        raise TorMetricsError(source, line, f"{what} {text!r} is not a non-negative number")
    return value


def guess_series(source: str, comments: Sequence[str]) -> str | None:
    """v3 or v2 from the file name or Tor Metrics' title comment, else None."""
    name = Path(source).name.lower()
    text = " ".join(comments).lower()
    if "v3" in name or "version 3" in text or "v3 onion" in text:
        return "v3"
    if "hidserv-dir-onions-seen" in name or "version 2" in text or "v2" in name:
        return "v2"
    return None


def parse(text: str, source: str = "tor-metrics.csv", series: str | None = None) -> Series:
    """Parse a whole file (see the module docstring); raises ``TorMetricsError``."""
    comments: list[str] = []
    header: list[str] | None = None
    cols: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().lstrip("\ufeff")
        if not line:
            continue
        if line.startswith("#"):
            if header is not None:
                raise TorMetricsError(source, n, "comment line after the header row")
            comments.append(line.lstrip("#").strip())
            continue
        cells = next(csv.reader(io.StringIO(line)))
        cells = [c.strip() for c in cells]
        if header is None:
            header = [c.lower() for c in cells]
            missing = [c for c in REQUIRED if c not in header]
            unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
            if missing or unknown or len(set(header)) != len(header):
                raise TorMetricsError(source, n, f"header must be the columns date,onions[,frac] "
                                                 f"(found {','.join(cells)!r})")
            cols = {c: i for i, c in enumerate(header)}
            continue
        if len(cells) != len(header):
            raise TorMetricsError(source, n, f"expected {len(header)} fields ({','.join(header)}), found {len(cells)}")
        day = cells[cols["date"]]
        if not _DATE.match(day):
            raise TorMetricsError(source, n, f"date {day!r} is not YYYY-MM-DD")
        try:
            date.fromisoformat(day)
        except ValueError:
            raise TorMetricsError(source, n, f"date {day!r} does not exist") from None
        if day in seen:
            raise TorMetricsError(source, n, f"date {day} repeats line {seen[day]}")
        seen[day] = n
        onions_text = cells[cols["onions"]]
        onions = None if onions_text in ("", "NA") else _number(onions_text, "onions", source, n)
        frac = None
        if "frac" in cols:
            frac_text = cells[cols["frac"]]
            if frac_text not in ("", "NA"):
                if not re.fullmatch(r"\d+(\.\d+)?([eE]-?\d+)?", frac_text):
                    raise TorMetricsError(source, n, f"frac {frac_text!r} is not a fraction between 0 and 1")
                frac = float(frac_text)
                if frac > 1:
                    raise TorMetricsError(source, n, f"frac {frac_text!r} is not a fraction between 0 and 1")
        rows.append({"date": day, "onions": onions, "frac": frac, "line": n})
    if header is None:
        raise TorMetricsError(source, max(1, len(text.splitlines())), "no header row date,onions,frac found")
    if not rows:
        raise TorMetricsError(source, max(1, len(text.splitlines())), "no data rows")
    series = series or guess_series(source, comments)
    if series not in SERIES:
        raise TorMetricsError(source, 1, "cannot tell the series (v3 or v2) from the file name or its comments; "
                                         "name it explicitly")
    rows.sort(key=lambda r: r["date"])
    return Series(series, Path(source).name, rows, comments)


def parse_file(path: str | Path, series: str | None = None) -> Series:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TorMetricsError(p.name, 1, f"not UTF-8 text ({exc.reason})") from None
    return parse(text, p.name, series)


def store(es: Elasticsearch, names: Names, data: Series) -> dict[str, Any]:
    """Replace the stored series with this file's rows, all or nothing."""
    schema.setup(es, names)
    alias = names.alias(TOR_METRICS)
    before = [h["_source"] | {"_id": h["_id"]} for h in _all(es, alias, data.series)]
    import_id = uuid.uuid4().hex[:12]
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    docs = [{"kind": "day", "series": data.series, "date": r["date"], "onions": r["onions"], "frac": r["frac"],
             "source": data.source, "import_id": import_id, "imported_at": now} for r in data.rows]
    meta = {"kind": "meta", "series": data.series, "source": data.source, "citation": data.citation,
            "rows": len(docs), "first": data.rows[0]["date"], "last": data.rows[-1]["date"],
            "import_id": import_id, "imported_at": now}
    actions = [{"_index": alias, "_id": f"{data.series}:{d['date']}", "_source": d} for d in docs]
    actions.append({"_index": alias, "_id": f"meta:{data.series}", "_source": meta})
    keep = {a["_id"] for a in actions}
    try:
        _, errors = bulk(es, actions, raise_on_error=False, chunk_size=2000)
        if errors:
            raise RuntimeError(f"{len(errors)} rows not stored, e.g. {errors[0]}")
    except Exception:
        # roll back: drop what this import wrote, put back what was there
        es.indices.refresh(index=alias)
        mine = [h["_id"] for h in _all(es, alias, data.series) if h["_source"].get("import_id") == import_id]
        if mine:
            bulk(es, [{"_op_type": "delete", "_index": alias, "_id": i} for i in mine], raise_on_error=False)
        if before:
            bulk(es, [{"_index": alias, "_id": d.pop("_id"), "_source": d} for d in before], raise_on_error=False)
        es.indices.refresh(index=alias)
        raise
    stale = [d["_id"] for d in before if d["_id"] not in keep]
    if stale:
        bulk(es, [{"_op_type": "delete", "_index": alias, "_id": i} for i in stale], raise_on_error=False)
    es.indices.refresh(index=alias)
    return {"series": data.series, "rows": len(docs), "first": meta["first"], "last": meta["last"],
            "replaced": len(before) - (1 if any(d.get("kind") == "meta" for d in before) else 0),
            "citation": data.citation}


def _all(es: Elasticsearch, alias: str, series: str) -> Iterable[dict[str, Any]]:
    after: list[Any] | None = None
    while True:
        kwargs: dict[str, Any] = {"search_after": after} if after else {}
        resp = es.search(index=alias, size=5000, query={"term": {"series": series}},
                         sort=[{"kind": "asc"}, {"date": {"order": "asc", "missing": "_last"}}], **kwargs)
        hits = resp["hits"]["hits"]
        yield from hits
        if len(hits) < 5000:
            return
        after = hits[-1]["sort"]


def points(es: Elasticsearch, names: Names, *, since: str | date | datetime | None = None,
           until: str | date | datetime | None = None) -> list[dict[str, Any]]:
    """Imported daily estimates in [since, until] (dates), every series, oldest first."""
    alias = names.alias(TOR_METRICS)
    if not es.indices.exists_alias(name=alias):
        return []
    bounds = {}
    if since is not None:
        bounds["gte"] = str(since)[:10]
    if until is not None:
        bounds["lte"] = str(until)[:10]
    filt: list[dict[str, Any]] = [{"term": {"kind": "day"}}]
    if bounds:
        filt.append({"range": {"date": bounds}})
    out: list[dict[str, Any]] = []
    after: list[Any] | None = None
    while True:
        kwargs: dict[str, Any] = {"search_after": after} if after else {}
        resp = es.search(index=alias, size=5000, query={"bool": {"filter": filt}},
                         sort=[{"date": "asc"}, {"series": "asc"}], source=["date", "onions", "series", "frac"],
                         **kwargs)
        hits = resp["hits"]["hits"]
        out += [{"date": h["_source"]["date"], "onions": h["_source"]["onions"], "series": h["_source"]["series"],
                 "frac": h["_source"].get("frac")} for h in hits]
        if len(hits) < 5000:
            return out
        after = hits[-1]["sort"]


def sources(es: Elasticsearch, names: Names) -> list[dict[str, Any]]:
    """One citation per imported series: file, citation text, rows, date range, import time."""
    alias = names.alias(TOR_METRICS)
    if not es.indices.exists_alias(name=alias):
        return []
    resp = es.search(index=alias, size=len(SERIES), query={"term": {"kind": "meta"}}, sort=[{"series": "asc"}])
    return [{k: h["_source"].get(k) for k in ("series", "source", "citation", "rows", "first", "last", "imported_at")}
            for h in resp["hits"]["hits"]]


def per_interval(pts: Sequence[dict[str, Any]], spans: Sequence[Any], series: str) -> list[float | None]:
    """Mean of one series' daily estimates inside each interval (``spans``: objects with
    ``start``/``end`` datetimes), None where Tor Metrics has no estimate."""
    out: list[float | None] = []
    days = [(date.fromisoformat(p["date"]), p["onions"]) for p in pts if p["series"] == series and p["onions"] is not None]
    for b in spans:
        vals = [v for d, v in days if b.start.date() <= d < b.end.date()]
        out.append(round(sum(vals) / len(vals), 1) if vals else None)
    return out
