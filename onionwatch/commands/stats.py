"""`onionwatch stats onions`: how many onion services were known, alive, new and gone, per interval."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from typing import Any

import click

import index
from index.checks import INTERVALS, next_interval
from onionwatch import es_server
from onionwatch.commands.search import CATEGORIES
from onionwatch.stats_chart import SERIES, render


@click.group("stats")
def stats() -> None:
    """Counts over time."""


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    return ["start"] + (["category"] if any(r["category"] for r in rows) else []) + list(SERIES)


def as_table(rows: list[dict[str, Any]]) -> str:
    cols = _columns(rows)
    cells = [[("" if r[c] is None else str(r[c])[:10] if c == "start" else str(r[c])) for c in cols] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cols, widths)))]
    lines += ["  ".join(v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths))) for row in cells]
    return "\n".join(lines)


def as_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=_columns(rows) + ["end"], extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


@stats.command("onions")
@click.option("--interval", type=click.Choice(INTERVALS), default="week", show_default=True)
@click.option("--since", metavar="DATE", help="First interval holds this date (default: 12 intervals back).")
@click.option("--until", metavar="DATE", help="Last interval holds this date (default: now).")
@click.option("--by", type=click.Choice(["category"]), help="One series per category.")
@click.option("--gone-after", type=click.IntRange(1, 52), default=2, show_default=True,
              help="Intervals with checks but no successful one before a service counts as gone.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "png"]), default="table", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False), help="Write here (required for png).")
def onions(interval: str, since: str | None, until: str | None, by: str | None, gone_after: int, fmt: str,
           output: str | None) -> None:
    """Per interval: services known, alive (≥1 successful check), new (first seen) and gone."""
    if fmt == "png" and not output:
        raise click.UsageError("--format png needs --output FILE")
    now = datetime.now(timezone.utc)
    until_v = until or now.isoformat()
    since_v = since or next_interval(index.checks.floor_interval(now, interval), interval, -11).isoformat()
    es = es_server.client()
    names = es_server.index_names()
    index.setup(es, names, es_server.index_config_dir())
    try:
        rows: list[dict[str, Any]] = []
        for category in (CATEGORIES if by == "category" else (None,)):
            rows += index.onion_stats(es, names, interval=interval, since=since_v, until=until_v,
                                      category=category, gone_after=gone_after)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if fmt == "png":
        render(rows, output, interval=interval,
               title=f"Onion services per {interval}" + (" by category" if by else ""))
        click.echo(f"wrote {output}", err=True)
        return
    text = {"table": as_table, "csv": as_csv, "json": lambda r: json.dumps(r, indent=2)}[fmt](rows)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")
    else:
        click.echo(text.rstrip("\n"))


COMMANDS = [stats]
