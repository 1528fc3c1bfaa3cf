"""`onionwatch crawl`: the Scrapy crawler wired to Tor, the tagger and the index.

The crawler is configured only through Scrapy settings: this command puts the Tor ports,
keys and Elasticsearch connection into them, and the crawler builds the enricher and the
store it is told to (ONIONWATCH_ENRICHER, ONIONWATCH_SINK / ONIONWATCH_OUTPUT).
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import click

from onionwatch import settings

# Loggers whose messages are onionwatch's own words; everything else (Scrapy, Twisted, the
# Elasticsearch client, warnings) is shown without --verbose only when it is an error.
OWN_LOGGERS = ("crawler", "onionwatch", "enrich", "index", "lab", "alerts")


class _OwnWords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        own = record.name.split(".", 1)[0] in OWN_LOGGERS
        return record.levelno >= (logging.INFO if own else logging.ERROR)


class _Plain(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text if record.levelno < logging.WARNING else f"{record.levelname.lower()}: {text}"


def quiet_logging() -> None:
    """Without --verbose: progress and outcomes only, in onionwatch's words (stderr)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_OwnWords())
    handler.setFormatter(_Plain())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def tor_route(socks: tuple[str, ...], controls: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Explicit ports win; else a running lab; else the environment; else Tor's defaults."""
    if socks:
        return list(socks), list(controls)
    from lab import control as lab_control

    state = lab_control.read_state(settings.lab_dir())
    if lab_control.is_up(state):
        return state["socks"], state["control"]
    return settings.tor_socks(), settings.tor_control()


# An ack from the embedded noida-db is kept only if the same server process stays up this long
# after it (/work/notes/noida-durability.md: lost at 0.2 s, kept from 0.5 s on).
EMBEDDED_PERSIST_LAG = 2.0


def _store_settings(output: str | None, enrich: bool) -> dict[str, Any]:
    """Where records go and how they are protected, as crawler settings."""
    out: dict[str, Any] = {}
    if enrich:
        out["ONIONWATCH_PII_KEY"] = settings.pii_key().decode()
    else:
        out["ONIONWATCH_ENRICHER"] = None
    if output:
        out["ONIONWATCH_OUTPUT"] = output
        return out
    from onionwatch import es_server

    es = settings.es_config()
    if es.url is None:  # no cluster configured: the embedded server, which persists ~0.5 s after an ack
        server = es_server.start()
        url = server.url
        out.update(ONIONWATCH_ES_PERSIST_LAG=EMBEDDED_PERSIST_LAG,
                   ONIONWATCH_ES_IDENTITY_FILE=str(Path(server.data_dir) / "noida.control.json"))
    else:
        url = es.url
    out.update(
        ONIONWATCH_ES_URL=url,
        ONIONWATCH_ES_USER=es.username, ONIONWATCH_ES_PASSWORD=es.password,
        ONIONWATCH_ES_API_KEY=es.api_key, ONIONWATCH_ES_CA_CERTS=es.ca_certs,
        ONIONWATCH_INDEX_PREFIX=settings.index_prefix(),
        ONIONWATCH_SNAPSHOT_KEY=settings.snapshot_key().decode(),
    )
    return out


def run_crawl(
    seeds: str,
    *,
    socks: list[str],
    controls: list[str],
    output: str | None = None,
    enrich: bool = True,
    overrides: dict | None = None,
    crawl_id: str | None = None,
    verbose: bool = False,
    spider_args: dict | None = None,
) -> dict:
    """Run one crawl in this process and return its summary (see crawler.extensions)."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    from crawler.spiders.onion import OnionSpider
    from crawler.tor import wait_bootstrapped
    from onionwatch.profiles import crawl_settings

    profile_settings = crawl_settings()  # site profiles: a bad one (or a missing credential) stops here
    for ctl in controls:
        host, _, port = ctl.rpartition(":")
        try:
            wait_bootstrapped(int(port), timeout=120, host=host or "127.0.0.1")
        except OSError as exc:  # no control port: the SOCKS port may still work
            click.echo(f"warning: Tor control port {ctl} not reachable ({exc}); not waiting for bootstrap", err=True)

    s = Settings()
    s.setmodule("crawler.settings", priority="project")
    summary_file = Path(settings.home()) / f"crawl-{uuid.uuid4().hex[:8]}.json"
    crawl_id = crawl_id or uuid.uuid4().hex[:12]
    values: dict[str, Any] = {
        "ONIONWATCH_TOR_SOCKS": socks,
        "ONIONWATCH_TOR_CONTROL": controls,
        "ONIONWATCH_SUMMARY_FILE": str(summary_file),
        "LOG_INSTALL_ROOT_HANDLER": verbose,
        "ONIONWATCH_JOURNAL_DIR": str(journal_dir()),  # the capture log (evidence) and the index's source
        "ONIONWATCH_KNOWN_URLS": str(known_urls_path()),  # per-onion caps across runs, resumed jobs
        "ONIONWATCH_CRAWL_ID": crawl_id,
        "ONIONWATCH_RECRAWL_STATE": str(recrawl_state_path()),  # crawler.recrawl: what --recrawl revisits
        **_store_settings(output, enrich),
        **profile_settings,
        **(overrides or {}),
    }
    values["EXTENSIONS"] = {**dict(values.get("EXTENSIONS") or {}), "crawler.recrawl.RecrawlRecorder": 700}
    for key, value in values.items():
        s.set(key, value, priority="cmdline")
    if not verbose:
        quiet_logging()
    process = CrawlerProcess(s)
    spider_args = dict(spider_args or {})
    if spider_args.pop("recrawl", False):
        from crawler.recrawl import RecrawlSpider as spider_cls
    else:
        spider_cls = OnionSpider
    process.crawl(spider_cls, seeds=seeds, crawl_id=crawl_id, **spider_args)
    process.start()
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    summary_file.unlink(missing_ok=True)
    return summary


def journal_dir() -> Path:
    """The crawl journal (crawler.capture): what was captured, from which the index is built."""
    return settings.home() / "journal"


def known_urls_path() -> Path:
    """URLs per onion known from the journal (crawler.known): caps across runs, resumed jobs."""
    return settings.home() / "crawl-state" / "known-urls.sqlite"


def recrawl_state_path() -> Path:
    """Per page hash, validators and change count (crawler.recrawl): the --recrawl policy's input."""
    return settings.home() / "crawl-state" / "recrawl.sqlite"


def backoff_state_path() -> Path:
    """Per-onion back-off of dead addresses (crawler.prefilter)."""
    return settings.home() / "crawl-state" / "backoff.sqlite"


def prefilter_settings(controls: list[str], parallel: int) -> dict:
    """--prefilter: descriptor lookups for the start onions on the first ControlPort, streamed
    into the crawl (crawler.prefilter.PrefilterStartMiddleware); dead ones are backed off."""
    if not controls:
        click.echo("warning: --prefilter needs a Tor control port; crawling every seed", err=True)
        return {}
    return {"ONIONWATCH_PREFILTER_CONTROL": controls[0], "ONIONWATCH_PREFILTER_PARALLEL": parallel,
            "ONIONWATCH_PREFILTER_STATE": str(backoff_state_path())}


def prefilter_line(counts: dict | None) -> str:
    c = counts or {}
    return (f"prefilter: {c.get('found', 0)} with a descriptor, {c.get('not_found', 0)} dead, "
            f"{c.get('backing_off', 0)} backing off, {c.get('unknown', 0)} unknown "
            f"({c.get('lookups', 0)} lookups in {float(c.get('seconds', 0.0)):.1f}s, {c.get('in_flight', 0)} at once)")


def job(jobdir: str | None, seeds: str) -> str | None:
    """A --jobdir's crawl id: the one it was started with (a resume), or a new one it keeps."""
    if not jobdir:
        return None
    from crawler.known import read_job, write_job

    found = read_job(jobdir)
    if found and found.get("crawl_id"):
        click.echo(f"resuming crawl {found['crawl_id']} from {jobdir}", err=True)
        return str(found["crawl_id"])
    crawl_id = uuid.uuid4().hex[:12]
    write_job(jobdir, {"crawl_id": crawl_id, "seeds": seeds, "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                          time.gmtime())})
    return crawl_id


def outcome(summary: dict) -> int:
    """The exit status, with one line per thing that did not end well: 0 only if every
    fetched page was journaled and (when indexing) indexed, and Tor did not go away."""
    rc = 0
    if not summary:
        click.echo("error: the crawl did not run (see the errors above)", err=True)
        return 1
    if summary.get("finish_reason") == "tor_unreachable":
        rc = 3  # the "Tor is unreachable" line was logged when it happened
    if summary.get("store_failed"):
        click.echo(f"error: {summary['store_failed']} records were not journaled (see the warnings above)", err=True)
        rc = rc or 1
    report = summary.get("index") or {}
    if report and not report.get("caught_up"):
        why = report.get("last_error") or "Elasticsearch did not confirm them in time"
        click.echo(f"error: not indexed: {report.get('pending', 0)} journaled entries from journal seq "
                   f"{report.get('pending_from_seq')} ({' '.join(str(why).split())[:200]}); they stay in the journal and "
                   "are indexed by the next crawl or `onionwatch index rebuild --from-journal --pending`", err=True)
        if report.get("pending_urls"):
            click.echo(f"error: not indexed, e.g. {', '.join(report['pending_urls'])}", err=True)
        rc = rc or 1
    if report.get("rejected"):
        shown = ", ".join(f"seq {r['seq']} {r.get('url') or ''} ({r['reason'][:120]})"
                          for r in report.get("rejections", [])[:5])
        click.echo(f"error: Elasticsearch refused {report['rejected']} records for good: {shown}", err=True)
        rc = rc or 1
    return rc


def checked_seeds(spec: str, *, allow_clearnet: bool = False, max_url: int = 512) -> list[str]:
    """Every seed checked before anything starts (crawler.seeds): one line per bad seed naming
    it and the reason; no valid seed left: exit 2 before Tor, Elasticsearch or the crawl."""
    from crawler.seeds import check_seeds

    checked = check_seeds(spec, allow_clearnet=allow_clearnet, max_url=max_url)
    level = "warning" if checked.urls else "error"
    for problem in checked.problems:
        click.echo(f"{level}: {problem}", err=True)
    if not checked.urls:
        click.echo(f"error: no valid seed in {checked.source}: nothing to crawl", err=True)
        sys.exit(2)
    return checked.urls


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
@click.option("--jobdir", type=click.Path(file_okay=False),
              help="Resumable job: re-run with the same --jobdir to continue (what is journaled is not fetched again).")
@click.option("--frontier", metavar="redis://HOST:PORT/DB",
              help="Share the queue and dupefilter with other crawler processes through this Redis.")
@click.option("--max-pages-per-onion", type=int, help="Cap on pages fetched per onion.")
@click.option("--max-depth", type=click.IntRange(min=0),
              help="Cap on link depth within an onion (DEPTH_LIMIT); 0: only the seeds and other onions' front pages.")
@click.option("--concurrency", type=int, help="Concurrent requests.")
@click.option("--timeout", type=float, help="Per-request wall-clock timeout, seconds.")
@click.option("--allow-clearnet", is_flag=True, help="Permit non-onion hosts (still only through Tor).")
@click.option("--summary-json", is_flag=True, help="Print the summary as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's and the libraries' own log as well.")
@click.option("--warc", "warc_dir", type=click.Path(file_okay=False),
              help="Also write WARC/1.1 files here (raw bodies in clear: personal data included).")
@click.option("--prefilter", is_flag=True, help="Look up descriptors first (ControlPort): dead onions are not fetched, and backed off.")
@click.option("--prefilter-parallel", type=int, default=32, show_default=True, help="Descriptor lookups at once.")
@click.option("--recrawl", is_flag=True, help="Revisit known onions and pages by policy (crawler.recrawl); --seeds limits it to those onions ('all': every one).")
@click.option("--every", metavar="DURATION", help="With --recrawl: run again every DURATION (e.g. 6h) until stopped.")
@click.option("--budget-pages", type=int, help="With --recrawl: at most this many pages per run.")
@click.option("--budget-time", metavar="DURATION", help="Stop a run after this long (e.g. 30m).")
@click.option("-s", "--set", "extra", multiple=True, metavar="NAME=VALUE", help="Any Scrapy/onionwatch setting.")
def crawl(seeds, socks, control, output, no_enrich, jobdir, frontier, max_pages_per_onion, max_depth, concurrency,
          timeout, allow_clearnet, summary_json, verbose, warc_dir, prefilter, prefilter_parallel, recrawl, every,
          budget_pages, budget_time, extra) -> None:
    """Crawl onion services through Tor, tag pages and index them."""
    if every:
        if not recrawl:
            raise click.BadParameter("--every needs --recrawl", param_hint="--every")
        _every(every)
        return
    overrides = _parse_overrides(extra)
    seed_urls = ([] if recrawl and seeds == "all" else
                 checked_seeds(seeds, allow_clearnet=allow_clearnet, max_url=int(overrides.get("URLLENGTH_LIMIT") or 512)))
    socks_l, control_l = tor_route(socks, control)
    if prefilter:
        overrides.update(prefilter_settings(control_l, prefilter_parallel))
    if budget_time:
        from crawler.liveness import parse_duration

        overrides["CLOSESPIDER_TIMEOUT"] = parse_duration(budget_time)
    if no_enrich and not output:
        click.echo("error: --no-enrich needs --output: the index (and the journal it is built from) only ever "
                   "holds masked text", err=True)
        sys.exit(2)
    for key, value in (
        ("ONIONWATCH_JOBDIR", jobdir),
        ("ONIONWATCH_MAX_PAGES_PER_ONION", max_pages_per_onion),
        ("CONCURRENT_REQUESTS", concurrency),
        ("DOWNLOAD_TIMEOUT", timeout),
    ):
        if value is not None:
            overrides[key] = value
    if max_depth == 0:
        overrides["ONIONWATCH_FOLLOW_LINKS"] = False  # Scrapy's DEPTH_LIMIT = 0 means "no limit"
    elif max_depth is not None:
        overrides["DEPTH_LIMIT"] = max_depth
    if allow_clearnet:
        overrides["ONIONWATCH_ALLOW_CLEARNET"] = True
    if warc_dir:
        import getpass
        from importlib import metadata

        overrides["EXTENSIONS"] = {"evidence.crawl.WarcRecorder": 600}
        overrides["ONIONWATCH_WARC_DIR"] = warc_dir
        overrides["ONIONWATCH_WARC_OPERATOR"] = getpass.getuser()
        overrides["ONIONWATCH_SOFTWARE"] = f"onionwatch {metadata.version('onionwatch')}"
    if frontier:
        if not frontier.startswith(("redis://", "rediss://", "unix://")):
            raise click.BadParameter("the frontier must be a redis:// (or rediss://, unix://) URL", param_hint="--frontier")
        overrides["ONIONWATCH_FRONTIER_URL"] = frontier
    started = time.time()
    crawl_id = job(jobdir, seeds)
    spider_args = {"recrawl": True, "max_pages": budget_pages} if recrawl else None
    summary = run_crawl(",".join(seed_urls), socks=socks_l, controls=control_l, output=output, enrich=not no_enrich,
                        overrides=overrides, verbose=verbose, crawl_id=crawl_id, spider_args=spider_args)
    if overrides.get("ONIONWATCH_PREFILTER_CONTROL"):
        click.echo(prefilter_line(summary.get("prefilter")), err=True)
    if summary_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(
            f"crawl finished in {time.time() - started:.1f}s: {summary.get('pages', 0)} pages from "
            f"{summary.get('onions', 0)} onions ({summary.get('pages_per_second', 0)} pages/s), "
            f"{summary.get('failures', 0)} failures {summary.get('failure_reasons', {})}, "
            f"journaled {summary.get('journaled', 0)}, store failures {summary.get('store_failed', 0)}"
            + (f", indexed {(summary.get('index') or {}).get('indexed', 0)}" if summary.get("index") else "")
        )
    rc = outcome(summary)
    if rc:
        sys.exit(rc)


def _every(every: str) -> None:
    """Scheduled recrawls: the same command without --every, in a child process per run (a
    Twisted reactor runs once per process), started every DURATION until interrupted."""
    import subprocess

    from crawler.liveness import parse_duration

    period = parse_duration(every)
    argv = list(sys.argv[1:])
    i = argv.index("--every")
    del argv[i:i + 2]
    while True:
        started = time.time()
        rc = subprocess.call([sys.executable, "-m", "onionwatch", *argv])
        click.echo(f"recrawl run ended (rc {rc}); next in {max(0.0, period - (time.time() - started)):.0f}s", err=True)
        time.sleep(max(0.0, period - (time.time() - started)))


COMMANDS = [crawl]
