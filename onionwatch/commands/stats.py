"""`onionwatch stats onions`: how many onion services (addresses, or sites = clusters of
mirrors) were known, alive, new, gone and seized per interval, beside Tor Metrics' estimate;
`onionwatch stats import-tor-metrics FILE.csv`: bring that estimate in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

import index
from index import tor_metrics
from index.checks import INTERVALS
from onionwatch import chart, counts, es_server


@click.group("stats")
def stats() -> None:
    """Counts over time."""


def _table(result: dict[str, Any]) -> str:
    rows = result["rows"]
    cols = [c for c in counts.COLUMNS if c != "end" and any(c in r for r in rows) and (c != "category" or result["by"])]
    cells = [[("" if r.get(c) is None else str(r[c])[:10] if c == "start" else str(r[c])) for c in cols] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    text = sum(c in ("start", "category") for c in cols)

    def line(values: list[str]) -> str:
        return "  ".join(v.ljust(w) if i < text else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths,
                                                                                                strict=True)))

    life = [f"{lt['category'] or 'all'}: median {lt['median_days'] if lt['median_days'] is not None else '-'} days "
            f"({lt['ended']} ended, {lt['still_running']} running)" for lt in result.get("lifetimes") or []]
    return "\n".join([line(cols)] + [line(r) for r in cells] + ["", "lifetimes: " + "; ".join(life), ""]
                     + result["caption"])


@stats.command("onions")
@click.option("--interval", type=click.Choice(INTERVALS), default="week", show_default=True)
@click.option("--since", metavar="DATE", help="First interval holds this date (default: 12 intervals back).")
@click.option("--until", metavar="DATE", help="Last interval holds this date (default: now).")
@click.option("--unit", type=click.Choice(counts.UNITS), default="addresses", show_default=True,
              help="Count onion addresses, or sites (addresses clustered as mirrors; clones apart).")
@click.option("--by", type=click.Choice(counts.BY), help="One series per category or per language.")
@click.option("--gone-after", type=click.IntRange(1, 52), default=2, show_default=True,
              help="Intervals without a successful check after which a service counts as gone (dead).")
@click.option("--refresh", is_flag=True, help="Rebuild the per-address/per-site documents first (done by itself "
                                              "when services, checks or site assignments changed).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "png", "svg"]), default="table",
              show_default=True)
@click.option("--output", type=click.Path(dir_okay=False), help="Write here (required for png and svg).")
def onions(interval: str, since: str | None, until: str | None, unit: str, by: str | None, gone_after: int,
           refresh: bool, fmt: str, output: str | None) -> None:
    """Per interval: known, alive (≥1 successful check), new (first seen), gone (died), seized;
    with Tor Metrics' estimate when imported. Every export carries a caption with the method."""
    if fmt in ("png", "svg") and not output:
        raise click.UsageError(f"--format {fmt} needs --output FILE")
    es = es_server.client()
    names = es_server.index_names()
    index.setup(es, names, es_server.index_config_dir())
    try:
        result = counts.onion_stats(es, names, unit=unit, interval=interval, since=since, until=until, by=by,
                                    gone_after=gone_after, refresh=refresh)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if result["refreshed"]:
        click.echo("rebuilt the per-address and per-site counts from services, checks and sites", err=True)
    if fmt in ("png", "svg"):
        draw = chart.counts_png if fmt == "png" else chart.counts_svg_file
        draw(result, output)
        click.echo(f"wrote {output}", err=True)
        return
    text = {"table": _table, "csv": counts.to_csv, "json": lambda r: json.dumps(r, indent=2)}[fmt](result)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")
    else:
        click.echo(text.rstrip("\n"))


@stats.command("import-tor-metrics")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--series", type=click.Choice(tor_metrics.SERIES),
              help="v3 or v2 (default: told by the file name or Tor Metrics' title comment).")
def import_tor_metrics(file: Path, series: str | None) -> None:
    """Import Tor Metrics' onion-service CSV (hidserv-dir-v3-onions-seen, or the historical v2
    hidserv-dir-onions-seen: comment lines, then date,onions,frac). All or nothing: a bad
    line is reported with its number and nothing is imported. Re-importing replaces the series."""
    try:
        data = tor_metrics.parse_file(file, series)
    except tor_metrics.TorMetricsError as exc:
        raise click.ClickException(f"{exc}; nothing was imported") from exc
    es = es_server.client()
    names = es_server.index_names()
    index.setup(es, names, es_server.index_config_dir())
    out = tor_metrics.store(es, names, data)
    click.echo(f"imported {out['rows']} days of Tor Metrics {out['series']} ({out['first']} to {out['last']}) "
               f"from {file.name}; cited as: {out['citation']}")


COMMANDS = [stats]
