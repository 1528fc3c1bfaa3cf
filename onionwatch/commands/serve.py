"""`onionwatch serve`: the web app for investigators."""

from __future__ import annotations

import ipaddress

import click


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
def serve(host: str, port: int) -> None:
    """Serve the web app (search, pages, services, stats, alerts, JSON API under /api).

    Log in with a token from `onionwatch token create NAME`. Plain HTTP: keep it on
    loopback or put it behind an HTTPS reverse proxy."""
    from werkzeug.serving import make_server

    from onionwatch.web import app_from_settings, token_store

    if not _loopback(host):
        click.echo(f"warning: listening on {host} over plain HTTP; use an HTTPS reverse proxy", err=True)
    if not token_store().list():
        click.echo("note: no API token exists yet; create one with `onionwatch token create NAME`", err=True)
    server = make_server(host, port, app_from_settings(), threaded=True)
    click.echo(f"onionwatch web app on http://{host}:{server.server_port}/", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


COMMANDS = [serve]
