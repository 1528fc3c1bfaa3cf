"""The one place the web app reads liveness checks, counts over time and alerts, through the
same functions as `onionwatch check`, `stats onions` and `alerts list` (onionwatch.reports),
so a page, its CSV and the CLI show the same columns in the same order."""

from __future__ import annotations

from typing import Any, Callable

from elasticsearch import Elasticsearch

import alerts
import index
from index.checks import INTERVALS
from onionwatch import counts, reports

CATEGORIES = reports.CATEGORIES
DEFAULT_INTERVALS = reports.DEFAULT_INTERVALS

__all__ = ["INTERVALS", "BadRequest", "alerts_overview", "service_history", "stats_csv", "stats_series"]


class BadRequest(ValueError):
    """A client parameter that cannot be used (shown to the user, answered with 400)."""


def service_history(es: Elasticsearch, names: index.Names, onion: str, size: int = 50) -> list[dict[str, Any]]:
    """Liveness checks of one service, newest first (as `onionwatch check` wrote them)."""
    return index.checks.check_history(es, names, onion, size=size)


def stats_series(es: Elasticsearch, names: index.Names, *, interval: str = "day", since: str | None = None,
                 until: str | None = None, by: str | None = None, unit: str = "addresses") -> dict[str, Any]:
    """Onion-service counts per interval, as `onionwatch stats onions` computes them
    (onionwatch.counts): {unit, interval, rows, tor_metrics, caption, since, until, ...}."""
    try:
        return counts.onion_stats(es, names, unit=unit, interval=interval, since=since, until=until, by=by)
    except ValueError as exc:  # e.g. until before since
        raise BadRequest(str(exc)) from exc


def stats_csv(result: dict[str, Any]) -> str:
    """The CSV behind the chart (caption as # lines), as `onionwatch stats onions --format csv`."""
    return counts.to_csv(result)


def _rules(alert_config: Callable[[], alerts.AlertConfig]) -> tuple[list[dict[str, Any]], str | None]:
    try:
        config = alert_config()
    except alerts.AlertConfigError as exc:
        return [], f"The alert configuration cannot be read: {exc}"
    return reports.alert_rules(config), None


def alerts_overview(es: Elasticsearch, names: index.Names, alert_config: Callable[[], alerts.AlertConfig],
                    size: int = 100) -> dict[str, Any]:
    """Alert rules (as `onionwatch alerts list --rules`) and the alerts they fired, newest first:
    {rules, fired[, rules_note]}; channel targets are redacted."""
    rules, note = _rules(alert_config)
    out: dict[str, Any] = {"rules": rules, "fired": reports.fired_alerts(es, names, size=size), "limit": size}
    if note:
        out["rules_note"] = note
    return out
