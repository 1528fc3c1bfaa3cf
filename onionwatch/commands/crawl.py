"""`onionwatch crawl`: the Scrapy crawler wired to Tor, the tagger and the index."""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path

import click

from onionwatch import settings
from onionwatch.lab import control as lab_control


def tor_route(socks: tuple[str, ...], controls: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Explicit ports win; else a running lab; else the environment; else Tor's defaults."""
    if socks:
        return list(socks), list(controls)
    state = lab_control.read_state()
    if lab_control.is_up(state):
        return state["socks"], state["control"]
    env_socks = os.environ.get("ONIONWATCH_TOR_SOCKS", "127.0.0.1:9050")
    env_ctl = os.environ.get("ONIONWATCH_TOR_CONTROL", "127.0.0.1:9051")
    return env_socks.split(","), env_ctl.split(",")


def run_crawl(
    seeds: str,
    *,
    socks: list[str],
    controls: list[str],
    output: str | None = None,
    enrich: bool = True,
    overrides: dict | None = None,
    crawl_id: str | None = None,
) -> dict:
    """Run one crawl in this process and return its summary (see crawler.extensions)."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    from crawler import pipelines
    from crawler.spiders.onion import OnionSpider
    from crawler.tor import wait_bootstrapped

    for ctl in controls:
        host, _, port = ctl.rpartition(":")
        try:
            wait_bootstrapped(int(port), timeout=120, host=host or "127.0.0.1")
        except OSError as exc:  # no control port: the SOCKS port may still work
            click.echo(f"warning: Tor control port {ctl} not reachable ({exc}); not waiting for bootstrap", err=True)

    s = Settings()
    s.setmodule("crawler.settings", priority="project")
    summary_file = Path(settings.home()) / f"crawl-{uuid.uuid4().hex[:8]}.json"
    s.set("ONIONWATCH_TOR_SOCKS", socks, priority="cmdline")
    s.set("ONIONWATCH_TOR_CONTROL", controls, priority="cmdline")
    s.set("ONIONWATCH_SUMMARY_FILE", str(summary_file), priority="cmdline")
    s.set("ONIONWATCH_PII_KEY", settings.pii_key().decode(), priority="cmdline")
    s.set("ONIONWATCH_ENRICH", enrich, priority="cmdline")
    for key, value in (overrides or {}).items():
        s.set(key, value, priority="cmdline")
    writer = None
    if output:
        s.set("ONIONWATCH_OUTPUT", output, priority="cmdline")
        pipelines.SINK_FACTORY = None
    else:
        from index.schema import setup
        from index.writer import PageWriter
        from onionwatch import es_server

        es = es_server.client()
        names = es_server.index_names()
        setup(es, names, es_server.index_config_dir())
        writer = PageWriter(es, names, snapshot_key=settings.snapshot_key(), config_dir=es_server.index_config_dir())
        pipelines.SINK_FACTORY = lambda _settings: writer
    process = CrawlerProcess(s, install_root_handler=True)
    process.crawl(OnionSpider, seeds=seeds, crawl_id=crawl_id or uuid.uuid4().hex[:12])
    process.start()
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    summary_file.unlink(missing_ok=True)
    return summary


def _parse_overrides(pairs: tuple[str, ...]) -> dict:
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        out[key] = value
    return out


@click.command()
@click.option("--seeds", required=True, help="File of onion URLs/addresses, or a comma-separated list.")
@click.option("--socks", multiple=True, metavar="HOST:PORT", help="Tor SocksPort(s); default: the lab's, else $ONIONWATCH_TOR_SOCKS.")
@click.option("--control", multiple=True, metavar="HOST:PORT", help="Tor ControlPort(s), same order as --socks.")
@click.option("--output", type=click.Path(dir_okay=False), help="Write JSON lines here instead of indexing.")
@click.option("--no-enrich", is_flag=True, help="Skip tagging (raw crawl).")
@click.option("--jobdir", type=click.Path(file_okay=False), help="Keep the queue on disk here; re-run to resume.")
@click.option("--frontier", metavar="redis://HOST:PORT/DB",
              help="Share the queue and dupefilter with other crawler processes through this Redis.")
@click.option("--max-pages-per-onion", type=int, help="Cap on pages fetched per onion.")
@click.option("--max-depth", type=int, help="Cap on link depth within an onion.")
@click.option("--concurrency", type=int, help="Concurrent requests.")
@click.option("--timeout", type=float, help="Per-request wall-clock timeout, seconds.")
@click.option("--allow-clearnet", is_flag=True, help="Permit non-onion hosts (still only through Tor).")
@click.option("--summary-json", is_flag=True, help="Print the summary as JSON.")
@click.option("-s", "--set", "extra", multiple=True, metavar="NAME=VALUE", help="Any Scrapy/onionwatch setting.")
def crawl(seeds, socks, control, output, no_enrich, jobdir, frontier, max_pages_per_onion, max_depth, concurrency,
          timeout, allow_clearnet, summary_json, extra) -> None:  # noqa: ANN001
    """Crawl onion services through Tor, tag pages and index them."""
    socks_l, control_l = tor_route(socks, control)
    overrides = _parse_overrides(extra)
    for key, value in (
        ("JOBDIR", jobdir),
        ("ONIONWATCH_MAX_PAGES_PER_ONION", max_pages_per_onion),
        ("ONIONWATCH_MAX_DEPTH", max_depth),
        ("CONCURRENT_REQUESTS", concurrency),
        ("DOWNLOAD_TIMEOUT", timeout),
    ):
        if value is not None:
            overrides[key] = value
    if allow_clearnet:
        overrides["ONIONWATCH_ALLOW_CLEARNET"] = True
    if frontier:
        from crawler.frontier import frontier_settings

        overrides.update(frontier_settings(frontier))
    started = time.time()
    summary = run_crawl(seeds, socks=socks_l, controls=control_l, output=output, enrich=not no_enrich, overrides=overrides)
    if summary_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(
            f"crawl finished in {time.time() - started:.1f}s: {summary.get('pages', 0)} pages from "
            f"{summary.get('onions', 0)} onions ({summary.get('pages_per_second', 0)} pages/s), "
            f"{summary.get('failures', 0)} failures {summary.get('failure_reasons', {})}, "
            f"stored {summary.get('stored', 0)}, store failures {summary.get('store_failed', 0)}"
        )
    if summary.get("store_failed"):
        sys.exit(1)


COMMANDS = [crawl]
