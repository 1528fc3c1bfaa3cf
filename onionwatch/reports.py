"""What the CLI and the web app both show, built once: onion-service counts over time,
fired alerts and alert rules, each with one column order for tables, CSV and JSON.

Reading here goes through index/ and alerts/; printing (terminal tables, CSV, pages, JSON
responses) stays with each front end, which only picks columns from the lists below.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from elasticsearch import Elasticsearch

import index
from alerts import AlertConfig, redact_channel
from index.checks import floor_interval, next_interval

CATEGORIES = ("leaked_data", "drugs", "wildlife")
DEFAULT_INTERVALS = 12  # the default stats window: this interval and the 11 before it

# One order per kind of row: JSON objects list these keys first, CSV and tables these columns.
STATS_COLUMNS = ("start", "category", "known", "alive", "new", "gone", "end")
ALERT_COLUMNS = ("created_at", "state", "rule", "onion", "url", "page_id", "delivered", "pending", "attempts",
                 "last_error", "delivered_at", "updated_at")
RULE_COLUMNS = ("name", "description", "query", "categories", "entity_labels", "lang", "onions", "new_pages_only",
                "channels")


def ordered(row: dict[str, Any], columns: Sequence[str]) -> dict[str, Any]:
    """`row` with the `columns` it has first, in that order, then its other keys as they were."""
    return {**{c: row[c] for c in columns if c in row}, **{k: v for k, v in row.items() if k not in columns}}


# -- onion-service counts --------------------------------------------------------------------

def onion_counts(es: Elasticsearch, names: index.Names, *, interval: str, since: str | None = None,
                 until: str | None = None, by_category: bool = False, gone_after: int = 2) -> dict[str, Any]:
    """Services known, alive, new and gone per interval (per category when split), the last
    `DEFAULT_INTERVALS` intervals unless `since` is given: {rows, since, until}.
    Raises ValueError for a window index/ refuses (e.g. until before since)."""
    now = datetime.now(timezone.utc)
    until_v = until or now.isoformat(timespec="seconds")
    since_v = since or next_interval(floor_interval(now, interval), interval, 1 - DEFAULT_INTERVALS).isoformat()
    rows: list[dict[str, Any]] = []
    for category in CATEGORIES if by_category else (None,):
        rows += index.onion_stats(es, names, interval=interval, since=since_v, until=until_v, category=category,
                                  gone_after=gone_after)
    return {"rows": [ordered(r, STATS_COLUMNS) for r in rows], "since": since_v, "until": until_v}


def stats_columns(rows: Iterable[dict[str, Any]], *, end: bool = True) -> list[str]:
    """STATS_COLUMNS without `category` when no row is split by category (and without `end`
    for a terminal table)."""
    split = any(r.get("category") for r in rows)
    return [c for c in STATS_COLUMNS if (c != "category" or split) and (c != "end" or end)]


def stats_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=stats_columns(rows), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def stats_table(rows: list[dict[str, Any]]) -> str:
    """Aligned text: dates and categories left, counts right."""
    cols = stats_columns(rows, end=False)
    cells = [[("" if r[c] is None else str(r[c])[:10] if c == "start" else str(r[c])) for c in cols] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    text = sum(c in ("start", "category") for c in cols)

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) if i < text else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths)))

    return "\n".join([line(cols)] + [line(row) for row in cells])


# -- alerts ----------------------------------------------------------------------------------

def fired_alerts(es: Elasticsearch, names: index.Names, rule: str | None = None, *, size: int = 50) -> list[dict[str, Any]]:
    """Fired alerts, newest first, with channel targets redacted (no tokens or passwords)."""
    out = []
    for alert in index.alerts.fired(es, names, rule, size=size):
        redacted = {k: [redact_channel(c) for c in alert.get(k) or []] for k in ("delivered", "pending")}
        out.append(ordered(dict(alert, **redacted), ALERT_COLUMNS))
    return out


def alert_rules(config: AlertConfig) -> list[dict[str, Any]]:
    """The configured rules as shown to users: channel targets redacted."""
    rules = []
    for rule in config.rules:
        r = rule.to_dict()
        r["channels"] = [redact_channel(c) for c in r.get("channels", [])]
        rules.append(ordered(r, RULE_COLUMNS))
    return rules
