"""`onionwatch stats onions`: how many onion services were known, alive, new and gone, per interval."""

from __future__ import annotations

import json

import click

import index
from index.checks import INTERVALS
from onionwatch import chart, es_server, reports


@click.group("stats")
def stats() -> None:
    """Counts over time."""


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
    """Per interval: services known, alive (≥1 successful check), new (first seen) and gone.
    CSV and JSON list the same columns in the same order (start, category, known, alive,
    new, gone, end); the PNG is the web app's chart."""
    if fmt == "png" and not output:
        raise click.UsageError("--format png needs --output FILE")
    es = es_server.client()
    names = es_server.index_names()
    index.setup(es, names, es_server.index_config_dir())
    try:
        rows = reports.onion_counts(es, names, interval=interval, since=since, until=until,
                                    by_category=by == "category", gone_after=gone_after)["rows"]
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if fmt == "png":
        chart.png(rows, output, interval=interval, by_category=by == "category")
        click.echo(f"wrote {output}", err=True)
        return
    text = {"table": reports.stats_table, "csv": reports.stats_csv,
            "json": lambda r: json.dumps(r, indent=2)}[fmt](rows)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")
    else:
        click.echo(text.rstrip("\n"))


COMMANDS = [stats]
