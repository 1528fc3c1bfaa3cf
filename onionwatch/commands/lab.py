"""`onionwatch lab`: the private Tor network with the sample onion sites."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click

from lab import control
from onionwatch import settings


@click.group()
def lab() -> None:
    """Start, inspect and stop the lab (a private Tor network on 127.0.0.1)."""


@lab.command()
@click.option("--clients", default=1, show_default=True, help="Tor client instances (SOCKS ports).")
@click.option("--bulk", default=None, metavar="ONIONS:PAGES", help="Add generated sites for benchmarks, e.g. 50:200.")
@click.option("--with", "options", multiple=True, metavar="OPTION",
              help="Add a group of extra sites, e.g. `walls` (login market, captcha forum, queue, seized site, "
                   "JS-only and rate-limited sites); also to a lab that is already up.")
@click.option("--apps", "apps", default="", metavar="NAME,...",
              help="Add real web apps installed from PyPI (configs/lab/apps), e.g. pinnwand,oscar (or all); "
                   "same as --with app-NAME.")
@click.option("--latency", default=None, metavar="LO-HI",
              help="Every response of a site waits a fixed delay drawn per site from LO..HI seconds, e.g. 0.5-3 "
                   "(as real onions answer); default: at once.")
@click.option("--dead", default=0, show_default=True, type=click.IntRange(min=0), metavar="N",
              help="List N checksum-valid v3 addresses nobody publishes (no descriptor) on the directory "
                   "among the live onions; `status --json` names them under `dead`.")
def up(clients: int, bulk: str | None, options: tuple[str, ...], apps: str, latency: str | None, dead: int) -> None:
    """Start the lab; returns once every lab onion answers through Tor."""
    from lab.latency import Latency

    try:
        Latency.parse(latency)
    except ValueError as exc:
        raise click.BadParameter(f"{latency!r}: {exc} (e.g. 0.5-3 or 2)", param_hint="--latency") from exc
    if apps.strip():  # one option for all of them: started together, each knows the others' onions
        options += (f"app-{apps.strip()}",)
    bulk_t = tuple(int(x) for x in bulk.split(":")) if bulk else None
    try:
        state = control.up(settings.lab_dir(), clients=clients, bulk=bulk_t, options=options,
                           latency=latency, dead=dead, log=lambda m: click.echo(m, err=True))
    except KeyError as exc:
        raise click.UsageError(str(exc.args[0])) from exc
    click.echo(f"lab up: {len(state['sites'])} sites, SOCKS {', '.join(state['socks'])}")
    if state.get("latency") or state.get("dead"):
        lat = state.get("latency")
        said = f"{lat['lo']:g}-{lat['hi']:g} s per response" if lat else "none"
        click.echo(f"latency: {said}; dead addresses on the directory: {len(state.get('dead') or [])}")
    click.echo(f"drop-in folder: {state['dropin']} (files there are served while the lab runs)")
    if state.get("profiles"):
        click.echo(f"site profiles: {state['profiles']} (ONIONWATCH_SITES; `lab status --json` names the credential variables)")


@lab.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(as_json: bool) -> None:
    """Show every lab site with its onion address and role, which ones are withdrawn,
    the client ports and the running lab's drop-in folder."""
    st = control.status(settings.lab_dir())
    if as_json:
        click.echo(json.dumps(st, indent=2))
        return
    click.echo(f"lab is {'up' if st['up'] else 'down'}  socks={','.join(st['socks'])}  control={','.join(st['control'])}")
    click.echo(f"  lab dir:        {st['root']}")
    if st["up"]:
        click.echo(f"  drop-in folder: {st['dropin']}")
        click.echo(f"  withdrawn:      {', '.join(st['withdrawn']) or 'none'}")
    for site in st["sites"]:
        mark = "  (withdrawn: `onionwatch lab start-site " + site["name"] + "`)" if site["withdrawn"] else ""
        click.echo(f"  {site['role']:<10} {site['name']:<12} http://{site['onion']}/{mark}")


@lab.command()
def down() -> None:
    """Stop every lab process."""
    control.down(settings.lab_dir())
    click.echo("lab down")


def _site_op(op: Callable[[str, Path], str], name: str) -> str:
    try:
        return op(name, settings.lab_dir())
    except KeyError as exc:
        raise click.UsageError(str(exc.args[0])) from exc


@lab.command("stop-site")
@click.argument("name")
def stop_site(name: str) -> None:
    """Withdraw one lab onion from the network (liveness tests)."""
    onion = _site_op(control.stop_site, name)
    click.echo(f"withdrew {name} ({onion}): its onion descriptor is no longer served; "
               f"`onionwatch lab start-site {name}` publishes it again")


@lab.command("start-site")
@click.argument("name")
def start_site(name: str) -> None:
    """Publish a withdrawn lab onion again."""
    onion = _site_op(control.start_site, name)
    click.echo(f"published {name} again at {onion}")


COMMANDS = [lab]
