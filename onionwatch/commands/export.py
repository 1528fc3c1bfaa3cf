"""`onionwatch export stix|misp`: share indicators with partner agencies' tools.

Public identifiers (onion addresses, crypto addresses, PGP fingerprints) leave in clear;
personal identifiers as keyed hashes only unless --include-pii (recorded in the audit log).
"""

from __future__ import annotations

from pathlib import Path

import click

from onionwatch.commands.evidence import (
    Selection,
    actor,
    audit,
    load_captures,
    pii_functions,
    select_pages,
    selection_options,
)

TLPS = ("clear", "green", "amber", "red")


def _gather(sel: Selection, max_pages: int, include_pii: bool, who: str, command: str) -> tuple[list, list]:
    from evidence import identifiers

    pages = select_pages(sel, limit=max_pages)
    if not pages:
        click.echo(f"Nothing to export: no stored page matches {sel.describe()}. No file written.", err=True)
        audit(f"{command}_export", who=who, what={"selection": sel.as_dict(), "out": None}, results=0)
        raise SystemExit(1)
    if include_pii:
        audit("include_pii", who=who, what={"command": f"export {command}", "selection": sel.as_dict()},
              results=len(pages))
    captures, _ = load_captures(pages)
    hash_fn, validate = pii_functions()
    return captures, identifiers.collect(captures, hash_fn=hash_fn, include_pii=include_pii, validate=validate)


def _write(out: Path, text: str) -> None:
    out.write_text(text, encoding="utf-8")
    out.chmod(0o600)


@click.group("export")
def export_group() -> None:
    """Indicators for partners: STIX 2.1 bundles and MISP events."""


@export_group.command("stix")
@selection_options
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--tlp", type=click.Choice(TLPS), default="amber", show_default=True)
@click.option("--producer", default="onionwatch", show_default=True, help="Name of the producing organisation.")
@click.option("--include-pii", is_flag=True, help="Personal identifiers in clear (recorded in the audit log).")
@click.option("--operator", metavar="NAME", help="Who exports (default: the OS user).")
def stix_cmd(onions: tuple[str, ...], listings: tuple[str, ...], query: str | None, crawl: str | None, since: str | None,
             until: str | None, max_pages: int, out: Path, tlp: str, producer: str, include_pii: bool,
             operator: str | None) -> None:
    """A STIX 2.1 bundle: identity, onion indicators, observed identifiers, reports per listing."""
    from evidence import stix

    sel, who = Selection(onions, listings, query, since, until, crawl), actor(operator)
    captures, ids = _gather(sel, max_pages, include_pii, who, "stix")
    bundle = stix.build(captures, ids, producer=producer, tlp=tlp, query=sel.describe(), include_pii=include_pii)
    _write(out, stix.to_json(bundle))
    audit("stix_export", who=who, what={"selection": sel.as_dict(), "out": str(out.resolve()), "tlp": tlp,
                                        "include_pii": include_pii}, results=len(captures))
    click.echo(f"STIX 2.1 bundle with {len(bundle.objects)} objects from {len(captures)} page(s) written to {out} "
               f"(TLP:{tlp.upper()})")


@export_group.command("misp")
@selection_options
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--tlp", type=click.Choice(TLPS), default="amber", show_default=True)
@click.option("--info", default="", help="Event title (default: the selection).")
@click.option("--include-pii", is_flag=True, help="Personal identifiers in clear (recorded in the audit log).")
@click.option("--operator", metavar="NAME", help="Who exports (default: the OS user).")
def misp_cmd(onions: tuple[str, ...], listings: tuple[str, ...], query: str | None, crawl: str | None, since: str | None,
             until: str | None, max_pages: int, out: Path, tlp: str, info: str, include_pii: bool,
             operator: str | None) -> None:
    """A MISP event (JSON) built offline with pymisp objects."""
    from evidence import misp

    sel, who = Selection(onions, listings, query, since, until, crawl), actor(operator)
    captures, ids = _gather(sel, max_pages, include_pii, who, "misp")
    event = misp.build(captures, ids, info=info or f"onionwatch: {sel.describe()}", tlp=tlp, include_pii=include_pii)
    _write(out, event.to_json(indent=1))
    audit("misp_export", who=who, what={"selection": sel.as_dict(), "out": str(out.resolve()), "tlp": tlp,
                                        "include_pii": include_pii}, results=len(captures))
    click.echo(f"MISP event with {len(event.objects)} objects from {len(captures)} page(s) written to {out} "
               f"(tlp:{tlp})")


COMMANDS = [export_group]
