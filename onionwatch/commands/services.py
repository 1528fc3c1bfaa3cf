"""`onionwatch services [--status S] [--json]`: every known onion service with its status —
up, down, seized (a law-enforcement seizure banner, with its evidence) or unknown — the last
named wall it showed, and when it was first and last seen and last checked.

The status is the newer of what the last crawl said (services index: status, wall) and what
the last liveness check said (checks index, `onionwatch check`)."""

from __future__ import annotations

import json
from typing import Any

import click

import index
from index.names import parse_time
from onionwatch import es_server

STATUSES = ("up", "down", "seized", "unknown")
FIELDS = ["onion", "status", "wall", "wall_url", "first_seen", "last_seen", "last_checked", "seized_at", "seizure",
          "last_failure"]


def _all_services(es: Any, names: index.Names, page: int = 1000) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after: list[Any] | None = None
    while True:
        kwargs: dict[str, Any] = {"search_after": after} if after else {}
        hits = es.search(index=names.services, query={"match_all": {}}, size=page, sort=[{"onion": "asc"}],
                         source=FIELDS, **kwargs)["hits"]["hits"]
        out += [h["_source"] for h in hits]
        if len(hits) < page:
            return out
        after = hits[-1]["sort"]


def _later(a: str | None, b: str | None) -> bool:
    """a is after b (RFC 3339 times)."""
    if not a or not b:
        return bool(a)
    return parse_time(a) > parse_time(b)


def service_rows(es: Any, names: index.Names, status: str | None = None) -> list[dict[str, Any]]:
    """One row per service, status from the newer of its last crawl and its last check."""
    services = _all_services(es, names)
    checks: dict[str, dict[str, Any]] = {}
    for i in range(0, len(services), 1000):
        chunk = [s["onion"] for s in services[i:i + 1000]]
        try:
            checks.update({c["onion"]: c for c in index.latest_checks(es, names, chunk, size=len(chunk))})
        except Exception:  # noqa: BLE001 — no checks index yet: crawls alone decide
            break
    rows = []
    for s in services:
        state = s.get("status") or "unknown"
        last_checked = s.get("last_checked")
        check = checks.get(s["onion"])
        if check and _later(check.get("checked_at"), last_checked):
            state, last_checked = check.get("status") or state, check["checked_at"]
        row = {"onion": s["onion"], "status": state if state in STATUSES else "unknown", "wall": s.get("wall"),
               "first_seen": s.get("first_seen"), "last_seen": s.get("last_seen"), "last_checked": last_checked}
        if s.get("seized_at"):
            row["seized_at"] = s["seized_at"]
            row["seizure"] = s.get("seizure")
        if status is None or row["status"] == status:
            rows.append(row)
    return rows


@click.command("services")
@click.option("--status", "status", type=click.Choice(STATUSES), help="Only services with this status.")
@click.option("--json", "as_json", is_flag=True, help='Print {"services": [...]} as JSON.')
def services_cmd(status: str | None, as_json: bool) -> None:
    """List known onion services: status (up, down, seized, unknown), last wall, first/last
    seen and last checked; a seized one with its seizure evidence."""
    es = es_server.client()
    names = es_server.index_names()
    index.setup(es, names, es_server.index_config_dir())
    es.indices.refresh(index=names.services)
    rows = service_rows(es, names, status)
    if as_json:
        click.echo(json.dumps({"services": rows}, indent=2, ensure_ascii=False))
        return
    for r in rows:
        extra = ""
        if r["status"] == "seized" and r.get("seizure"):
            extra = f"  seized {r['seized_at']} at {r['seizure'].get('url')} [{', '.join(r['seizure'].get('evidence') or [])}]"
        click.echo(f"{r['status']:<8} {r['onion']}  wall={r['wall'] or '-'}  first={r['first_seen'] or '-'}  "
                   f"last={r['last_seen'] or '-'}  checked={r['last_checked'] or '-'}{extra}")
    click.echo(f"{len(rows)} service(s)")


COMMANDS = [services_cmd]
