"""`onionwatch token ...`: API tokens for the web app and its JSON API."""

from __future__ import annotations

import click


@click.group("token")
def token_group() -> None:
    """API tokens (only their SHA-256 is stored; a token is shown once, at creation)."""


@token_group.command("create")
@click.argument("name")
@click.option("--admin", is_flag=True, help="This token may also read and export the audit trail.")
def token_create(name: str, admin: bool) -> None:
    """Create a token for NAME and print it on stdout."""
    from onionwatch.web import token_store

    try:
        token = token_store().create(name, admin=admin)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(token)


@token_group.command("list")
def token_list() -> None:
    """Token names and creation times."""
    from onionwatch.web import token_store

    for t in token_store().list():
        click.echo(f"{t['name']}\t{t['created_at']}" + ("\tadmin" if t["admin"] else ""))


@token_group.command("revoke")
@click.argument("name")
def token_revoke(name: str) -> None:
    """Revoke NAME's token; its sessions end at their next request."""
    from onionwatch.web import token_store

    if not token_store().revoke(name):
        raise click.ClickException(f"no token named {name!r}")
    click.echo(f"revoked {name}")


COMMANDS = [token_group]
