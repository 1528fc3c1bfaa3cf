"""`onionwatch alerts run|list|add`: rules over newly indexed pages, delivered to webhooks, email, files."""

from __future__ import annotations

import json
from typing import Any

import click

import alerts as alerting
import configs
import index
from onionwatch import es_server, reports, settings
from onionwatch.commands.search import terminal_text


@click.group("alerts")
def alerts() -> None:
    """Alert on new pages matching rules (configs/alerts.yaml plus your own)."""


def _connect() -> tuple[Any, index.Names]:
    es = es_server.client()
    names = es_server.index_names()
    index.setup(es, names, es_server.index_config_dir())
    return es, names


def _config() -> alerting.AlertConfig:
    try:
        return alerting.load_config(configs.root(), home=settings.home())
    except alerting.AlertConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _where(channels: list[dict[str, Any]]) -> list[str]:
    """One line per channel (target redacted): alerts sent there this run, and failures."""
    return [f"  {c['channel']}: {c['delivered']} sent"
            + (f", {c['failed']} failed (kept for the next run)" if c["failed"] else "") for c in channels]


@alerts.command("run")
@click.option("--since", metavar="DATE", help="Re-hunt pages indexed since DATE (YYYY-MM-DD or RFC 3339).")
@click.option("--rule", "rule_name", metavar="NAME", help="Only this rule.")
@click.option("--json", "as_json", is_flag=True, help="Print the per-rule summaries as JSON.")
def run_cmd(since: str | None, rule_name: str | None, as_json: bool) -> None:
    """Evaluate rules on pages indexed since each rule's watermark and deliver the alerts;
    says per rule and channel (targets redacted) how many were delivered."""
    config = _config()
    es, names = _connect()
    try:
        summaries = alerting.run(es, names, config, rule_name=rule_name, since=since, pii_key=settings.pii_key())
    except (alerting.AlertConfigError, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(summaries, indent=2))
    else:
        for s in summaries:
            if s["baseline"]:
                click.echo(f"{s['rule']}: first run, watching from {s['watermark']} (use --since to hunt history); "
                           f"will deliver to {', '.join(c['channel'] for c in s['channels']) or 'no channels'}")
            else:
                click.echo(f"{s['rule']}: {s['matched']} page(s) matched, {s['queued']} new alert(s), "
                           f"{s['delivered']} delivered to every channel, {s['pending']} still queued")
                for line in _where(s["channels"]):
                    click.echo(line)
    if any(s.get("pending") for s in summaries):
        raise SystemExit(2)  # alerts are kept and retried next run; tell cron something failed


@alerts.command("list")
@click.option("--rule", "rule_name", metavar="NAME")
@click.option("--size", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--rules", "show_rules", is_flag=True, help="List the configured rules instead.")
@click.option("--json", "as_json", is_flag=True)
def list_cmd(rule_name: str | None, size: int, show_rules: bool, as_json: bool) -> None:
    """Show fired alerts, newest first (or the rules with --rules); channel targets redacted."""
    if show_rules:
        rules = reports.alert_rules(_config())
        if as_json:
            click.echo(json.dumps(rules, indent=2, ensure_ascii=False))
        for r in [] if as_json else rules:
            click.echo(f"{r['name']}: query={r.get('query', '')!r} categories={r.get('categories', [])} "
                       f"entities={r.get('entity_labels', [])} new_pages_only={r.get('new_pages_only', False)} "
                       f"channels={len(r.get('channels', []))}")
        return
    es, names = _connect()
    fired = reports.fired_alerts(es, names, rule_name, size=size)
    if as_json:
        click.echo(json.dumps(fired, indent=2, ensure_ascii=False))
        return
    for a in fired:
        cats = ",".join(a["payload"]["categories"])
        click.echo(f"{a['created_at']}  {a['state']:<9}  {a['rule']}  [{cats}]  {terminal_text(a['url'])}"
                   + (f"  pending: {len(a['pending'])} channel(s)" if a["pending"] else ""))
    click.echo(f"{len(fired)} alert(s)")


@alerts.command("add")
@click.argument("name")
@click.option("--query", default="", help="Search text, as in `onionwatch search`.")
@click.option("--category", "categories", multiple=True, type=click.Choice(reports.CATEGORIES))
@click.option("--entity", "entity_labels", multiple=True, metavar="LABEL", help="e.g. EMAIL_ADDRESS.")
@click.option("--lang", "langs", multiple=True, metavar="CODE")
@click.option("--onion", "onions", multiple=True, metavar="ADDR")
@click.option("--new-pages-only", is_flag=True, help="Only pages at URLs never indexed before.")
@click.option("--target", type=click.Choice(alerting.TARGETS), default="pages", show_default=True,
              help="What to watch: new pages, new listings, identifiers on new onions, vendors on new onions.")
@click.option("--vendor", "vendors", multiple=True, metavar="NAME", help="listings/vendors rules: this vendor. Repeatable.")
@click.option("--identifier", "identifiers", multiple=True, metavar="VALUE",
              help="identifiers rules: an address, PGP fingerprint or handle (personal values are stored hashed). Repeatable.")
@click.option("--channel", "channels", multiple=True, required=True,
              metavar="webhook:URL|email:ADDR|jsonl:PATH|stdout")
def add_cmd(name: str, query: str, categories: tuple[str, ...], entity_labels: tuple[str, ...],
            langs: tuple[str, ...], onions: tuple[str, ...], new_pages_only: bool, target: str,
            vendors: tuple[str, ...], identifiers: tuple[str, ...], channels: tuple[str, ...]) -> None:
    """Add (or replace) a rule in <ONIONWATCH_HOME>/alerts.yaml."""
    try:
        public, hashes = alerting.split_identifiers(identifiers, settings.pii_key())
        rule = alerting.Rule.from_dict({"name": name, "query": query, "categories": categories,
                                        "entity_labels": entity_labels, "lang": langs, "onions": onions,
                                        "new_pages_only": new_pages_only, "channels": channels, "target": target,
                                        "vendors": vendors, "identifiers": public, "identifier_hashes": hashes})
    except (alerting.AlertConfigError, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        _config().resolve(rule.channels)
    except alerting.AlertConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    path = alerting.add_rule(rule, settings.home())
    click.echo(f"rule {name!r} saved in {path}; its first `alerts run` sets its baseline "
               "(use --since DATE to hunt history)")


COMMANDS = [alerts]
