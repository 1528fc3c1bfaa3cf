"""`onionwatch check`: is each known onion service up? One check document per service per run."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import click

import index
from crawler.liveness import Checker, Progress, Target, parse_duration, run_checks
from onionwatch import es_server
from onionwatch.commands.crawl import tor_route


def _targets(es: Any, names: index.Names, onions: tuple[str, ...], all_: bool) -> list[Target]:
    """The services to check, with what the services index knows (first_seen, categories)."""
    if all_:
        return [Target(s["onion"], s.get("first_seen"), tuple(s.get("categories") or []))
                for s in index.known_services(es, names)]
    targets = []
    for onion in dict.fromkeys(o.lower().strip() for o in onions):
        if not onion.endswith(".onion"):
            onion += ".onion"
        svc = index.get_service(es, names, onion) or {}
        targets.append(Target(onion, svc.get("first_seen"), tuple(svc.get("categories") or [])))
    return targets


def run_once(es: Any, names: index.Names, targets: list[Target], checker: Checker, concurrency: int,
             quiet: bool) -> dict[str, Any]:
    """Check, store as results come in, and summarise one run."""
    failed: list[tuple[str, str]] = []
    stored = 0

    def store(batch: list[dict[str, Any]]) -> None:
        nonlocal stored
        n, bad = index.write_checks(es, names, batch, es_server.index_config_dir())
        stored += n
        failed.extend(bad)

    docs = run_checks(targets, checker, concurrency=concurrency, on_batch=store,
                      progress=None if quiet else Progress(len(targets)))
    statuses = Counter(d["status"] for d in docs)
    return {
        "run_id": checker.run_id, "services": len(docs), "stored": stored, "store_failed": len(failed),
        "up": statuses["up"], "down": statuses["down"], "unknown": statuses["unknown"], "seized": statuses["seized"],
        "reasons": dict(Counter(d["reason"] for d in docs if d["status"] not in ("up", "seized"))),
        "checks": sorted(docs, key=lambda d: d["onion"]),
    }


@click.command("check")
@click.option("--all", "all_", is_flag=True, help="Check every service in the services index.")
@click.option("--onion", "onions", multiple=True, metavar="ADDR", help="Check this onion. Repeatable.")
@click.option("--every", metavar="DURATION", help="Keep running: start a run every DURATION (e.g. 6h, 30m).")
@click.option("--concurrency", type=click.IntRange(1, 256), default=8, show_default=True)
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds per HTTP attempt.")
@click.option("--attempts", type=click.IntRange(1, 10), default=3, show_default=True,
              help="Attempts (each on a fresh circuit) before a service is called down.")
@click.option("--backoff", type=float, default=2.0, show_default=True, help="Seconds before the 2nd attempt; doubles.")
@click.option("--socks", multiple=True, metavar="HOST:PORT", help="Tor SocksPort; default: the lab's, else $ONIONWATCH_TOR_SOCKS.")
@click.option("--control", multiple=True, metavar="HOST:PORT", help="Tor ControlPort (descriptor fetches).")
@click.option("--json", "as_json", is_flag=True, help="Print each run's summary with every check as JSON.")
@click.option("--quiet", is_flag=True, help="No progress line.")
def check_cmd(all_: bool, onions: tuple[str, ...], every: str | None, concurrency: int, timeout: float,
              attempts: int, backoff: float, socks: tuple[str, ...], control: tuple[str, ...], as_json: bool,
              quiet: bool) -> None:
    """Check whether onion services are up; store one check per service per run."""
    if all_ == bool(onions):
        raise click.UsageError("give either --all or --onion ADDR")
    period = parse_duration(every) if every else None
    socks_l, control_l = tor_route(socks, control)
    control_addr = control_l[0] if control_l else None
    if control_addr:
        from crawler.tor import wait_bootstrapped

        host, _, port = control_addr.rpartition(":")
        try:
            wait_bootstrapped(int(port), timeout=120, host=host or "127.0.0.1")
        except OSError as exc:
            click.echo(f"warning: Tor control port {control_addr} not reachable ({exc}); "
                       "no descriptor evidence", err=True)
            control_addr = None
    es = es_server.client()
    names = es_server.index_names()
    index.setup(es, names, es_server.index_config_dir())
    while True:
        started = time.monotonic()
        targets = _targets(es, names, onions, all_)
        checker = Checker(socks_l[0], control_addr, timeout=timeout, attempts=attempts, backoff=backoff)
        summary = run_once(es, names, targets, checker, concurrency, quiet)
        if as_json:
            click.echo(json.dumps(summary, ensure_ascii=False))
        else:
            click.echo(f"run {summary['run_id']}: {summary['services']} services, up {summary['up']}, "
                       f"down {summary['down']} {summary['reasons']}, unknown {summary['unknown']}, "
                       f"seized {summary['seized']}; "
                       f"stored {summary['stored']}, store failures {summary['store_failed']}")
        if summary["store_failed"]:
            raise SystemExit(1)
        if period is None:
            return
        time.sleep(max(0.0, period - (time.monotonic() - started)))


COMMANDS = [check_cmd]
