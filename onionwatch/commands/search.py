"""`onionwatch search`: full-text search over crawled pages, and "has this PII appeared?"."""

from __future__ import annotations

import html
import json
import re
import sys
from typing import Any

import click

import index
from onionwatch import es_server, settings
from onionwatch.reports import CATEGORIES
# enrich.pagekind.KINDS, spelled out: importing enrich loads spaCy (seconds) for every search;
# tests/test_index_cli.py checks the two agree.
PAGE_KINDS = ("listing", "shop", "forum", "paste", "news", "other")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # crawled text must not drive the terminal
_MARK = re.compile(r"<mark>(.*?)</mark>", re.S)


def terminal_text(value: str | None) -> str:
    """Crawled text made safe for a terminal: no control characters or escape sequences."""
    return _CONTROL.sub(" ", value or "")


def terminal_snippet(snippet: str) -> str:
    """A search snippet (safe HTML with <mark>) rendered for a terminal with bold matches."""
    parts = []
    pos = 0
    for m in _MARK.finditer(snippet):
        parts.append(terminal_text(html.unescape(snippet[pos:m.start()])))
        parts.append(click.style(terminal_text(html.unescape(m.group(1))), bold=True, underline=True))
        pos = m.end()
    parts.append(terminal_text(html.unescape(snippet[pos:])))
    return "".join(parts)


def pii_hash_of(label: str, value: str) -> str:
    """The keyed hash enrich stores for a PII value, computed here so only the hash is sent."""
    from enrich import pii_hash  # loaded only for --pii-value: it brings in the tagger's dependencies

    return pii_hash(label, value, settings.pii_key())


def _print_hits(result: dict[str, Any]) -> None:
    for n, hit in enumerate(result["hits"], 1):
        cats = ",".join(hit["categories"]) or "-"
        click.echo(f"{n:>3}. {click.style(terminal_text(hit['title']) or '(no title)', bold=True)}  [{cats}]")
        click.echo(f"     {terminal_text(hit['url'])}  {hit['fetched_at']}  {hit['lang'] or ''}")
        if hit["snippet"]:
            click.echo(f"     {terminal_snippet(hit['snippet'])}")
    click.echo(f"{result['total']} result(s)" + (f"; next page: --after {result['next']}" if result["next"] else ""))


def _print_pii(lookup: dict[str, Any]) -> None:
    if not lookup["found"]:
        click.echo("PII value: not seen on any stored page.")
        return
    click.echo(f"PII value: seen on {lookup['pages']} page(s) across {lookup['onion_count']} onion(s), "
               f"first {lookup['first_seen']}, last {lookup['last_seen']}")
    for o in lookup["onions"]:
        click.echo(f"  {o['onion']}  {o['pages']} page(s)  {o['first_seen']} .. {o['last_seen']}")


@click.command("search")
@click.argument("query", nargs=-1)
@click.option("--category", "categories", multiple=True, type=click.Choice(CATEGORIES), help="Repeatable.")
@click.option("--entity", "entity_labels", multiple=True, metavar="LABEL",
              help="Pages with an entity of this type, e.g. EMAIL_ADDRESS. Repeatable.")
@click.option("--onion", "onions", multiple=True, metavar="ADDR", help="Only this onion host. Repeatable.")
@click.option("--since", metavar="DATE", help="Fetched on or after (YYYY-MM-DD or RFC 3339).")
@click.option("--until", metavar="DATE", help="Fetched on or before (a bare date includes the whole day).")
@click.option("--lang", "langs", multiple=True, metavar="CODE", help="ISO 639-1 language, e.g. vi. Repeatable.")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(PAGE_KINDS),
              help="Page kind the tagger judged (pages stored before it have none). Repeatable.")
@click.option("--sort", type=click.Choice(index.query.SORTS), default="relevance", show_default=True)
@click.option("--size", type=click.IntRange(1, index.query.MAX_SIZE), default=20, show_default=True)
@click.option("--after", metavar="TOKEN", help="Continue after the page that printed this token.")
@click.option("--pii-value", metavar="VALUE",
              help="Has this value (email, card, phone...) appeared? Hashed locally; '-' reads it from stdin.")
@click.option("--pii-label", metavar="LABEL", help="Entity type of --pii-value, e.g. EMAIL_ADDRESS.")
@click.option("--pii-hash", metavar="HEX", help="Same lookup by an already computed PII hash.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {total, hits, next[, pii]}.")
def search_cmd(query: tuple[str, ...], categories: tuple[str, ...], entity_labels: tuple[str, ...],
               onions: tuple[str, ...], since: str | None, until: str | None, langs: tuple[str, ...],
               kinds: tuple[str, ...], sort: str,
               size: int, after: str | None, pii_value: str | None, pii_label: str | None, pii_hash: str | None,
               as_json: bool) -> None:
    """Search crawled pages (title and text) with filters; newest or best first."""
    if pii_value is not None:
        if not pii_label:
            raise click.UsageError("--pii-value needs --pii-label")
        value = sys.stdin.readline().rstrip("\n") if pii_value == "-" else pii_value
        pii_hash = pii_hash_of(pii_label, value)
    es = es_server.client()
    names = es_server.index_names()
    index.setup(es, names, es_server.index_config_dir())
    try:
        result = index.search(
            es, names, " ".join(query), categories=categories, entity_labels=entity_labels, onion=onions,
            since=since, until=until, lang=langs, pii_hash=pii_hash, sort=sort, size=size, after=after,
            page_kind=kinds,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    lookup = index.pii_lookup(es, names, pii_hash) if pii_hash else None
    if lookup is not None:  # a lookup of personal data by value (or its hash) is audited
        from onionwatch.commands.evidence import actor, audit

        audit("pii_lookup", who=actor(None), results=lookup["pages"],
              what={"hash": pii_hash, "label": pii_label, "by": "value" if pii_value is not None else "hash",
                    "via": "cli search"})
    if as_json:
        out = dict(result, pii=lookup) if lookup is not None else result
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    if lookup is not None:
        _print_pii(lookup)
    _print_hits(result)


COMMANDS = [search_cmd]
