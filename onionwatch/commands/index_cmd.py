"""`onionwatch index ...` (layout, migration) and `onionwatch es ...` (the local server)."""

from __future__ import annotations

import json

import click

import index
from index.client import connect
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
@click.option("--port", type=click.IntRange(1, 65535), help="Listen here (recorded: later starts reuse it).")
def es_up(port: int | None) -> None:
    """Start the local server (reused if already running) on its recorded port."""
    if _configured():
        click.echo(f"Using the configured cluster {_configured()}; nothing to start.")
        return
    try:
        server = es_server.start(port=port)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
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
        port = es_server.recorded_port()
        where = f" (it will listen on port {port} again)" if port else ""
        click.echo(f"Local server: not running{where}; `onionwatch es up` starts it.")
        raise SystemExit(1)
    click.echo(f"Local server: running at {server.url}  pid {server.pid}  data {server.data_dir}")
    cap = es_server.capacity(connect(server.url), es_server.index_names())
    click.echo(f"Pages: {cap['pages']:,} of the embedded server's limit of about {cap['limit']:,} "
               "(full-text search within 1 s; bench/es_limit_bench.py)")


@es_group.command("down")
def es_down() -> None:
    """Stop the local server; its data stays in the data directory."""
    if _configured():
        click.echo("Using a configured cluster; onionwatch does not stop it.")
        return
    click.echo("Stopped." if es_server.stop() else "Local server was not running.")


@es_group.command("migrate")
@click.option("--to", "to_url", required=True, metavar="URL", help="The cluster to copy into (comma-separated nodes).")
@click.option("--to-user", metavar="NAME", help="User on the target (the password is asked for).")
@click.option("--to-api-key", metavar="KEY", help="API key on the target.")
@click.option("--to-ca-certs", metavar="FILE", type=click.Path(exists=True, dir_okay=False), help="CA bundle of the target.")
@click.option("--all-prefixes", is_flag=True, help="Copy every index on the server, not only this installation's.")
def es_migrate(to_url: str, to_user: str | None, to_api_key: str | None, to_ca_certs: str | None,
               all_prefixes: bool) -> None:
    """Copy everything (templates, indices with their documents, aliases) into another cluster,
    verified by counts; then point onionwatch at it with ONIONWATCH_ES_URL.

    Stop crawls and checks first: documents written during the copy may be missed."""
    from index.transfer import TransferError, copy_all

    password = click.prompt(f"Password of {to_user} on {to_url}", hide_input=True) if to_user else None
    source = es_server.client()
    target = connect(to_url, username=to_user, password=password, api_key=to_api_key, ca_certs=to_ca_certs)
    prefix = None if all_prefixes else es_server.index_names().prefix
    try:
        report = copy_all(source, target, prefix=prefix, progress=lambda msg: click.echo(msg, err=True))
    except TransferError as exc:
        raise click.ClickException(f"copy not verified: {exc}") from exc
    click.echo(f"Copied {len(report.component_templates)} component template(s), {len(report.index_templates)} "
               f"index template(s), {len(report.aliases)} alias(es):")
    for name, c in sorted(report.indices.items()):
        click.echo(f"  {name}  {c['target']} docs (source {c['source']})")
    click.echo(f"Verified: every index holds as many documents on {to_url} as here.")
    click.echo(f"Use it from now on:  export ONIONWATCH_ES_URL={to_url}")


COMMANDS = [index_group, es_group]
