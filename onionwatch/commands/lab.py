"""`onionwatch lab`: the private Tor network with the sample onion sites."""

from __future__ import annotations

import json

import click

from onionwatch.lab import control


@click.group()
def lab() -> None:
    """Start, inspect and stop the lab (a private Tor network on 127.0.0.1)."""


@lab.command()
@click.option("--clients", default=1, show_default=True, help="Tor client instances (SOCKS ports).")
@click.option("--bulk", default=None, metavar="ONIONS:PAGES", help="Add generated sites for benchmarks, e.g. 50:200.")
def up(clients: int, bulk: str | None) -> None:
    """Start the lab; returns once every lab onion answers through Tor."""
    bulk_t = tuple(int(x) for x in bulk.split(":")) if bulk else None
    state = control.up(clients=clients, bulk=bulk_t, log=lambda m: click.echo(m, err=True))
    click.echo(f"lab up: {len(state['sites'])} sites, SOCKS {', '.join(state['socks'])}")


@lab.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(as_json: bool) -> None:
    """Show every lab site with its onion address and role, and the client ports."""
    st = control.status()
    if as_json:
        click.echo(json.dumps(st, indent=2))
        return
    click.echo(f"lab is {'up' if st['up'] else 'down'}  socks={','.join(st['socks'])}  control={','.join(st['control'])}")
    for site in st["sites"]:
        click.echo(f"  {site['role']:<10} {site['name']:<12} http://{site['onion']}/")


@lab.command()
def down() -> None:
    """Stop every lab process."""
    control.down()
    click.echo("lab down")


@lab.command("stop-site")
@click.argument("name")
def stop_site(name: str) -> None:
    """Withdraw one lab onion from the network (liveness tests)."""
    click.echo(control.stop_site(name))


@lab.command("start-site")
@click.argument("name")
def start_site(name: str) -> None:
    """Publish a withdrawn lab onion again."""
    click.echo(control.start_site(name))


COMMANDS = [lab]
