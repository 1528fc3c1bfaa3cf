"""Alert rules on onion services (``target: services``): a service whose status became one
of ``statuses`` (e.g. ``seized``: a law-enforcement banner in place of the site) or whose
last fetch ended in one of ``failures`` (e.g. ``account_locked``: our crawler account was
locked out), once per service and event, whatever crawls and checks see it again.

Evaluated like the other targets (alerts/evaluate.py: same watermark, dedup and channels),
over the services index by its ``updated_at`` (the writer moves it only when a service's
document changed). The payload carries the evidence: the banner's URL, its sealed snapshot
(sha256) and the signals the seizure rules matched.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

from alerts.rules import Rule
from index import Names
from index import alerts as store

PAGE = 200
FIELDS = ["onion", "status", "wall", "wall_url", "wall_sha256", "seized_at", "seizure", "last_failure",
          "last_checked", "first_seen", "last_seen", "categories", "titles", "updated_at"]


def services_since(es: Elasticsearch, names: Names, rule: Rule, start: str):
    """Services changed at or after ``start`` that show one of the rule's statuses or failures."""
    should: list[dict[str, Any]] = []
    if rule.statuses:
        should.append({"terms": {"status": list(rule.statuses)}})
    if rule.failures:
        should.append({"terms": {"last_failure": list(rule.failures)}})
    flt: list[dict[str, Any]] = [{"range": {"updated_at": {"gte": start}}}]
    if rule.categories:
        flt.append({"terms": {"categories": list(rule.categories)}})
    if rule.onions:
        flt.append({"terms": {"onion": [o.lower() for o in rule.onions]}})
    query = {"bool": {"filter": flt, "should": should, "minimum_should_match": 1}}
    after: list[Any] | None = None
    while True:
        kwargs: dict[str, Any] = {"search_after": after} if after else {}
        hits = es.search(index=names.services, query=query, size=PAGE, source=FIELDS,
                         sort=[{"updated_at": "asc"}, {"onion": "asc"}], **kwargs)["hits"]["hits"]
        yield from (h["_source"] for h in hits)
        if len(hits) < PAGE:
            return
        after = hits[-1]["sort"]


def event_of(rule: Rule, svc: dict[str, Any]) -> str:
    return svc["status"] if svc.get("status") in rule.statuses else str(svc.get("last_failure"))


def payload(rule: Rule, svc: dict[str, Any], event: str, fp: str) -> dict[str, Any]:
    seizure = svc.get("seizure") or {}
    url = seizure.get("url") if event == "seized" else svc.get("wall_url")
    what = {"seized": "shows a law-enforcement seizure banner"}.get(event, f"crawl ended in {event}")
    return {
        "rule": rule.name, "kind": "service", "event": event, "onion": svc.get("onion"), "url": url,
        "status": svc.get("status"), "wall": svc.get("wall"), "seized_at": svc.get("seized_at"),
        "evidence": list(seizure.get("evidence") or []) if event == "seized" else [],
        "evidence_sha256": seizure.get("sha256") if event == "seized" else svc.get("wall_sha256"),
        "categories": svc.get("categories") or [], "titles": (svc.get("titles") or [])[:3],
        "first_seen": svc.get("first_seen"), "last_seen": svc.get("last_seen"), "fetched_at": svc.get("last_checked"),
        "snippet": f"{svc.get('onion')} {what}" + (f" (was: {svc['titles'][0]})" if svc.get("titles") else ""),
        "entities": [], "page_id": None, "indexed_at": svc.get("updated_at"), "fingerprint": fp,
    }


def scan_services(es: Elasticsearch, names: Names, rule: Rule, channels: list[str], start: str,
                  now: str) -> tuple[int, int, str | None]:
    """One alert per (service, event): a re-crawl or a mirror of the same event adds none."""
    matched = queued = 0
    latest: str | None = None
    for svc in services_since(es, names, rule, start):
        matched += 1
        latest = svc["updated_at"]
        event = event_of(rule, svc)
        fp = f"service:{event}:{svc['onion']}"
        data = payload(rule, svc, event, fp)
        doc = {"rule": rule.name, "fingerprint": fp, "page_id": None, "page_indexed_at": svc["updated_at"],
               "onion": svc["onion"], "url": data["url"], "state": "queued", "pending": channels, "delivered": [],
               "attempts": 0, "created_at": now, "updated_at": now, "payload": data}
        queued += store.enqueue(es, names, doc)
    return matched, queued, latest
