"""`onionwatch demo`: the whole pipeline on the lab, from nothing to search results."""

from __future__ import annotations

import json
import time

import click

from lab import control as lab_control
from onionwatch import es_server, settings
from onionwatch.commands.crawl import outcome, run_crawl
from onionwatch.commands.search import terminal_snippet, terminal_text

DEMO_QUERIES = ("pangolin", "fullz", "ivory", "MDMA")


@click.command()
@click.option("--keep", is_flag=True, help="Leave the lab and the local Elasticsearch running afterwards.")
@click.option("--timeout", default=10.0, show_default=True, help="Per-request timeout for the crawl (the lab has a slow-drip page).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's and the libraries' own log as well.")
def demo(keep: bool, timeout: float, as_json: bool, verbose: bool) -> None:
    """Lab up, local Elasticsearch up, crawl the lab through Tor, tag, index, summarise.

    Idempotent: page ids come from URL + content hash, so a second run stores the same
    documents again and the counts stay the same."""
    t0 = time.time()
    say = (lambda m: click.echo(m, err=True))
    state = lab_control.up(settings.lab_dir(), log=say)
    lab_seconds = time.time() - t0
    local_es = settings.es_config().url is None
    es = es_server.client()
    names = es_server.index_names()
    directory = next(s for s in state["sites"] if s["role"] == "directory")
    say(f"crawling from the directory onion http://{directory['onion']}/ through Tor ...")
    t1 = time.time()
    crawl = run_crawl(
        directory["onion"], socks=state["socks"], controls=state["control"],
        # Depth 5 bounds the lab's infinite trap (fan-out 3) at 121 pages, below the
        # per-onion page cap, so which trap pages get fetched doesn't depend on timing
        # and a re-run stores exactly the same documents.
        overrides={"DOWNLOAD_TIMEOUT": timeout, "RETRY_TIMES": 1, "DEPTH_LIMIT": 5, "ONIONWATCH_PROGRESS_INTERVAL": 10.0},
        verbose=verbose,
    )
    crawl_seconds = time.time() - t1
    es.indices.refresh(index=names.pages)
    es.indices.refresh(index=names.services)
    import index

    counts = index.counts(es, names)
    searches = {q: index.search(es, names, q, size=3) for q in DEMO_QUERIES}
    summary = {
        "lab_ready_seconds": round(lab_seconds, 1),
        "crawl_seconds": round(crawl_seconds, 1),
        "total_seconds": round(time.time() - t0, 1),
        "crawl": crawl,
        "index": counts,
        "top_hits": {q: [{"title": h["title"], "url": h["url"], "categories": h["categories"]} for h in r["hits"]]
                     for q, r in searches.items()},
    }
    if not keep:
        lab_control.down(settings.lab_dir())
        if local_es:
            es_server.stop()
    if as_json:
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        _print_summary(summary, searches, keep)
    rc = outcome(crawl)
    if rc:
        raise SystemExit(rc)


def _print_summary(summary: dict, searches: dict, keep: bool) -> None:
    crawl, counts = summary["crawl"], summary["index"]
    click.echo("")
    click.echo(click.style("onionwatch demo", bold=True) + f" — {summary['total_seconds']}s in all "
               f"(lab ready {summary['lab_ready_seconds']}s, crawl {summary['crawl_seconds']}s)")
    click.echo(f"  crawled   {crawl.get('pages', 0)} pages from {crawl.get('onions', 0)} onions through Tor "
               f"({crawl.get('pages_per_second', 0)} pages/s); {crawl.get('failures', 0)} failures: "
               f"{crawl.get('failure_reasons', {})}")
    if crawl.get("store_failed"):
        click.echo(click.style(f"  NOT STORED {crawl['store_failed']} pages (see the warnings above)", fg="red"))
    click.echo(f"  indexed   {counts['pages']} pages, {counts['onions']} onions, {counts['services']} services")
    click.echo(f"  tagged    pages by category {counts['pages_by_category']}; offers {counts['offers_by_category']}")
    for q, result in searches.items():
        click.echo(f"  search {q!r}: {result['total']} hit(s)")
        for hit in result["hits"]:
            cats = ",".join(hit["categories"]) or "no offer"
            click.echo(f"      [{cats}] {terminal_text(hit['title'])}")
            if hit["snippet"]:
                click.echo(f"          {' '.join(terminal_snippet(hit['snippet']).split())[:200]}")
    if keep:
        click.echo("lab and local Elasticsearch left running: `onionwatch lab down` / `onionwatch es down` stop them")


COMMANDS = [demo]
