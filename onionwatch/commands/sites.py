"""`onionwatch sites`: onion addresses grouped into sites (mirrors) and clones.

Re-clusters what the index holds (clusters/ on each onion's entry page: text, title, DOM
skeleton and inline favicon from the sealed snapshot, payment identifier hashes from the
tagger), keeps the site ids of the previous run, stores the assignments, rebuilds the
per-address and per-site lifespan documents the counts read, and lists the sites.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import click
from elasticsearch import Elasticsearch

import clusters
import index
from index import lifespans
from index import sites as site_index
from onionwatch import es_server, settings


def recluster(es: Elasticsearch, names: index.Names, snapshot_key: bytes | None = None,
           params: clusters.Params | None = None) -> dict[str, Any]:
    """Cluster every crawled onion, store the assignments, refresh the lifespan documents."""
    params = params or clusters.Params()
    previous = site_index.previous(es, names)
    docs = []
    for item in site_index.cluster_input(es, names):
        raw = None
        if snapshot_key and item.get("sha256"):
            try:
                raw = index.get_snapshot(es, names, item["sha256"], snapshot_key)
            except (index.SnapshotError, KeyError, ValueError):
                raw = None  # structure is supporting evidence only: text still decides
        docs.append(clusters.Doc(item["onion"], item["text"], item["title"], clusters.template_hash(raw),
                                 clusters.favicon_hash(raw), (), item["payment"], item.get("first_seen"),
                                 item["links"]))
    result = clusters.cluster(docs, {o: a["site_id"] for o, a in previous.items()}, params)
    by_onion = {d.onion: d for d in docs}
    members = [{"onion": m.onion, "site_id": m.site_id, "group": m.group, "role": m.role, "clone_of": m.clone_of,
                "similarity": m.similarity, "signals": list(m.signals), "first_seen": by_onion[m.onion].first_seen,
                "title": by_onion[m.onion].title[:500] or None} for m in result.members.values()]
    stored = site_index.write(es, names, members, run_id=uuid.uuid4().hex[:12], method=params.describe())
    refreshed = lifespans.refresh(es, names, {m["onion"]: m for m in members})
    return {"onions": len(docs), "sites": sum(1 for s in result.sites.values() if s.clone_of is None),
            "clones": sum(1 for s in result.sites.values() if s.clone_of is not None),
            "merged_ids": result.merged_ids, "stored": stored["stored"], "failed": stored["failed"] + refreshed["failed"],
            "method": params.describe()}


def _text(listing: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    lines = [(f"{summary['sites']} sites ({summary['addresses']} addresses as mirrors), {summary['clones']} clones "
              f"({summary['clone_addresses']} addresses)")]
    for s in listing:
        lines.append(f"\n{s['site_id']}  {s.get('title') or ''}  ({s['mirrors']} mirrors, {s['clones']} clones)")
        for o in s["onions"]:
            sim = "" if o.get("similarity") is None else f"similarity {o['similarity']:.2f}"
            why = ",".join(o.get("signals") or [])
            clone = f" of {o['clone_of']}" if o.get("clone_of") else ""
            lines.append(f"  {o['role']:<6}  {o['onion']}  {sim}  {why}{clone}".rstrip())
    return "\n".join(lines)


@click.command("sites")
@click.option("--json", "as_json", is_flag=True, help="JSON: {summary, method, sites: [{site_id, onions: [...]}]}.")
@click.option("--update/--no-update", default=True, show_default=True,
              help="Re-cluster the crawled onions first (ids of the last run are kept).")
@click.option("--all", "show_all", is_flag=True, help="List single-address sites too (default: only groups of 2+).")
def sites(as_json: bool, update: bool, show_all: bool) -> None:
    """Onion addresses grouped into sites: each member a mirror or a clone (same content,
    other payment addresses)."""
    es = es_server.client()
    names = es_server.index_names()
    index.setup(es, names, es_server.index_config_dir())
    run = recluster(es, names, settings.snapshot_key()) if update else None
    listing = site_index.listing(es, names)
    summary = {"sites": sum(1 for s in listing if s["mirrors"]), "addresses": sum(s["mirrors"] for s in listing),
               "clones": len({o["site_id"] for s in listing for o in s["onions"] if o["role"] == "clone"}),
               "clone_addresses": sum(s["clones"] for s in listing)}
    shown = listing if show_all else [s for s in listing if len(s["onions"]) > 1]
    if as_json:
        click.echo(json.dumps({"summary": summary, "method": (run or {}).get("method") or clusters.Params().describe(),
                               "sites": shown}, indent=2))
    else:
        click.echo(_text(shown, summary))
        if not show_all and len(shown) < len(listing):
            click.echo(f"\n({len(listing) - len(shown)} single-address sites not shown; --all lists them)")


COMMANDS = [sites]
