"""`onionwatch index ...` (layout, migration) and `onionwatch es ...` (the local server)."""

from __future__ import annotations

import json

import click

import index
from onionwatch import es_server, settings


@click.group("index")
def index_group() -> None:
    """Elasticsearch indices: status and mapping migrations."""


@index_group.command("status")
@click.option("--json", "as_json", is_flag=True)
def index_status(as_json: bool) -> None:
    """Aliases, the indices behind them, doc counts, and whether a migration is due."""
    es = es_server.client()
    names = es_server.index_names()
    config = es_server.index_config_dir()
    index.setup(es, names, config)
    kinds = index.status(es, names, config)
    if as_json:
        click.echo(json.dumps({"kinds": kinds, "counts": index.counts(es, names)}, indent=2))
        return
    for k in kinds:
        flag = "  (migration due: run `onionwatch index migrate`)" if k["needs_migrate"] else ""
        click.echo(f"{k['alias']}  latest v{k['latest_version']}{flag}")
        for i in k["indices"]:
            click.echo(f"  {i['index']}  v{i['version']}  {i['docs']} docs")


@index_group.command("migrate")
@click.option("--delete-old", is_flag=True, help="Delete the old indices after the alias swap.")
def index_migrate(delete_old: bool) -> None:
    """Apply the newest mapping versions: reindex into new indices, then swap aliases atomically.

    Stop crawlers first; documents written meanwhile to new indices are kept."""
    es = es_server.client()
    try:
        report = index.migrate(es, es_server.index_names(), es_server.index_config_dir(), delete_old=delete_old)
    except index.MigrationError as exc:
        raise click.ClickException(str(exc)) from exc
    if not report:
        click.echo("Nothing to migrate: every alias points at the latest mapping version.")
    for r in report:
        click.echo(f"{r['from']} -> {r['to']}: {r['copied']} copied, {r['kept_newer']} newer kept"
                   + (", old deleted" if r["deleted_old"] else ""))


@click.group("es")
def es_group() -> None:
    """The Elasticsearch server: the embedded local one unless ONIONWATCH_ES_URL is set."""


def _configured() -> str | None:
    return settings.es_config().url


@es_group.command("up")
def es_up() -> None:
    """Start the local server (reused if already running)."""
    if _configured():
        click.echo(f"Using the configured cluster {_configured()}; nothing to start.")
        return
    server = es_server.start()
    click.echo(f"Elasticsearch API (noida-db) at {server.url}  pid {server.pid}  data {server.data_dir}")


@es_group.command("status")
def es_status() -> None:
    """Whether the server answers, and where."""
    if _configured():
        info = es_server.client().info()
        click.echo(f"Configured cluster {_configured()}: {info['cluster_name']} {info['version']['number']}")
        return
    server = es_server.status()
    if server is None:
        click.echo("Local server: not running (`onionwatch es up` starts it).")
        raise SystemExit(1)
    click.echo(f"Local server: running at {server.url}  pid {server.pid}  data {server.data_dir}")


@es_group.command("down")
def es_down() -> None:
    """Stop the local server; its data stays in the data directory."""
    if _configured():
        click.echo("Using a configured cluster; onionwatch does not stop it.")
        return
    click.echo("Stopped." if es_server.stop() else "Local server was not running.")


COMMANDS = [index_group, es_group]
