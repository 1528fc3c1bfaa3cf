"""`onionwatch index rebuild --from-journal`: the index, derived again from the crawl journal.

The crawl journal (<home>/journal, crawler.capture) holds every masked record a crawl took,
fetched or failed, and the encrypted raw bodies beside it: enough to rebuild pages,
services and snapshots in an empty (or damaged) index. Page ids are deterministic, so a
rebuild over an index that has the pages already changes nothing. Added to the ``index``
group (onionwatch/commands/index_cmd.py) from here, so the two modules stay apart.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from onionwatch.commands.crawl import _store_settings, journal_dir
from onionwatch.commands.index_cmd import index_group


class _Settings(dict):
    """What a crawler's settings look like to index.sink.IndexSink.from_crawler."""

    def get(self, name: str, default: Any = None) -> Any:
        value = super().get(name, default)
        return default if value is None else value


@click.command("rebuild")
@click.option("--from-journal", "from_journal", is_flag=True, help="Rebuild from the crawl journal (required).")
@click.option("--crawl", "crawl_ids", multiple=True, metavar="ID", help="Only this crawl's entries (repeatable).")
@click.option("--pending", is_flag=True, help="Only what no crawl saw indexed yet (after the consumer marker).")
@click.option("--wait", type=float, default=300.0, show_default=True,
              help="Seconds to keep trying while Elasticsearch is unreachable.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def rebuild(from_journal: bool, crawl_ids: tuple[str, ...], pending: bool, wait: float, as_json: bool) -> None:
    """Index every journaled record again (idempotent: same ids, no duplicates)."""
    import json
    from types import SimpleNamespace

    from crawler.indexer import JournalIndexer
    from index.sink import IndexSink
    from journal import Journal
    from journal.blobs import BlobStore

    if not from_journal:
        raise click.UsageError("say where from: --from-journal")
    root = journal_dir()
    if not (root / "segments").is_dir() or not Journal(root).segments():
        click.echo(f"error: no crawl journal at {root}: nothing to rebuild from", err=True)
        sys.exit(2)
    journal = Journal(root)
    values = _Settings(_store_settings(None, True))
    sink = IndexSink.from_crawler(SimpleNamespace(settings=values))
    key = values.get("ONIONWATCH_SNAPSHOT_KEY")
    blobs = BlobStore(root / "blobs", key.encode()) if key and (root / "blobs").is_dir() else None
    wanted = set(crawl_ids)
    indexer = JournalIndexer(journal, sink, blobs, start_seq=None if pending else 1,
                             select=(lambda p: p.get("crawl_id") in wanted) if wanted else None)
    head, _ = journal.head()
    try:
        report = indexer.catch_up(wait)
        if report["indexed"]:
            sink.refresh()
    finally:
        sink.close()
        journal.close()
    report["journal_head"] = head
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        scope = f"crawl {', '.join(sorted(wanted))}" if wanted else ("pending entries" if pending else "every entry")
        click.echo(f"rebuilt from the journal ({scope}, up to seq {head}): {report['indexed']} records indexed, "
                   f"{report['rejected']} refused, {report['pending']} not confirmed")
    if not report["caught_up"]:
        click.echo(f"error: not indexed: {report['pending']} entries from journal seq {report['pending_from_seq']} "
                   f"({report.get('last_error') or 'Elasticsearch did not confirm them in time'})", err=True)
        sys.exit(1)
    if report["rejected"]:
        click.echo(f"error: Elasticsearch refused {report['rejected']} records for good (see "
                   f"{root / 'consumers'})", err=True)
        sys.exit(1)


index_group.add_command(rebuild)
COMMANDS: list[click.Command] = []  # `rebuild` joins the index group above
