"""The one place the web app reads liveness checks, counts over time and alerts (issue 5),
through the same functions as `onionwatch check`, `stats onions` and `alerts list`."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from elasticsearch import Elasticsearch

import index
from index.checks import INTERVALS, floor_interval, next_interval
from onionwatch import alerting

CATEGORIES = ("leaked_data", "drugs", "wildlife")
DEFAULT_INTERVALS = 12  # the default window, as in the CLI

__all__ = ["INTERVALS", "BadRequest", "alerts_overview", "service_history", "stats_csv", "stats_series"]


class BadRequest(ValueError):
    """A client parameter that cannot be used (shown to the user, answered with 400)."""


def service_history(es: Elasticsearch, names: index.Names, onion: str, size: int = 50) -> list[dict[str, Any]]:
    """Liveness checks of one service, newest first (as `onionwatch check` wrote them)."""
    return index.checks.check_history(es, names, onion, size=size)


def stats_series(es: Elasticsearch, names: index.Names, *, interval: str = "day", since: str | None = None,
                 until: str | None = None, by_category: bool = False) -> dict[str, Any]:
    """Onion-service counts per interval, as `onionwatch stats onions` computes them:
    {rows: [{start, end, category, known, new, alive, gone}], since, until}."""
    now = datetime.now(timezone.utc)
    until_v = until or now.isoformat(timespec="seconds")
    since_v = since or next_interval(floor_interval(now, interval), interval, 1 - DEFAULT_INTERVALS).isoformat()
    rows: list[dict[str, Any]] = []
    try:
        for category in CATEGORIES if by_category else (None,):
            rows += index.onion_stats(es, names, interval=interval, since=since_v, until=until_v, category=category)
    except ValueError as exc:  # e.g. until before since
        raise BadRequest(str(exc)) from exc
    return {"rows": rows, "since": since_v, "until": until_v}


def stats_csv(rows: list[dict[str, Any]]) -> str:
    """The CSV behind the chart, in the same columns as `onionwatch stats onions --format csv`."""
    from onionwatch.commands.stats import as_csv

    return as_csv(rows)


def _rules() -> tuple[list[dict[str, Any]], str | None]:

    try:
        config = alerting.load_config()
    except alerting.AlertConfigError as exc:
        return [], f"The alert configuration cannot be read: {exc}"
    rules = []
    for rule in config.rules:
        r = rule.to_dict()
        r["channels"] = [alerting.redact_channel(c) for c in r.get("channels", [])]
        rules.append(r)
    return rules, None


def alerts_overview(es: Elasticsearch, names: index.Names, size: int = 100) -> dict[str, Any]:
    """Alert rules (as `onionwatch alerts list --rules`) and the alerts they fired, newest first:
    {rules, fired[, rules_note]}; channel targets are redacted."""
    rules, note = _rules()
    fired = []
    for alert in index.alerts.fired(es, names, size=size):
        fired.append(dict(alert, **{k: [alerting.redact_channel(c) for c in alert.get(k) or []] for k in ("delivered", "pending")}))
    out: dict[str, Any] = {"rules": rules, "fired": fired, "limit": size}
    if note:
        out["rules_note"] = note
    return out
