"""Evaluating alert rules against newly indexed pages and delivering what they fire.

A run, per rule: read pages indexed since the rule's watermark (minus a small overlap, so a
page that became searchable late is still seen), keep those that match (optionally only
pages at a URL never indexed before), and create one queued alert per listing fingerprint
(the same listing re-crawled or mirrored on another onion creates nothing new). Then every
queued alert is delivered to its channels; a channel that fails stays pending for the next
run. The watermark moves only as far as every alert before it has been delivered. State
lives in Elasticsearch (index.alerts), so several runners may share it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

from elasticsearch import Elasticsearch

from alerts.channels import Deliverer, error_text, redact_channel
from alerts.listings import scanner  # rules on listings, identifiers and vendors
from alerts.rules import AlertConfig, Rule
from alerts.services import scan_services  # rules on services: seized, locked out
from index import Names
from index import alerts as store

OVERLAP = timedelta(minutes=2)
CLAIM = timedelta(minutes=5)
SCAN_BATCH = 200
_ONION_RE = re.compile(r"\b(?:[a-z2-7]{56}|[a-z2-7]{16})\.onion\b", re.I)


def fingerprint(page: dict[str, Any]) -> str:
    """Identity of a listing independent of where it is hosted: normalised title + text with
    onion addresses removed, so a mirror or a re-crawl of the same listing is the same."""
    parts = []
    for value in (page.get("title") or "", page.get("text") or ""):
        value = unicodedata.normalize("NFKC", value).casefold()
        parts.append(" ".join(_ONION_RE.sub(" ", value).split()))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def payload(rule: Rule, page: dict[str, Any], fp: str) -> dict[str, Any]:
    """What a channel receives: no clear PII (entities masked, text already redacted), no PII hashes."""
    return {
        "rule": rule.name, "onion": page.get("onion"), "url": page.get("url"),
        "categories": page.get("categories") or [],
        "entities": [{"label": e.get("label"), "masked": e.get("masked")} for e in page.get("entities") or []],
        "snippet": page.get("snippet") or "", "evidence_sha256": page.get("sha256"), "page_id": page.get("doc_id"),
        "fetched_at": page.get("fetched_at"), "indexed_at": page.get("indexed_at"), "lang": page.get("lang"),
        "fingerprint": fp,
    }


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _time(value: str) -> datetime:
    dt = datetime.fromisoformat(value)
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def scan(es: Elasticsearch, names: Names, rule: Rule, channels: list[str], start: str, now: str) -> tuple[int, int, str | None]:
    """Queue an alert for each new matching listing indexed since ``start``.
    Returns (pages matched, alerts queued, latest indexed_at seen)."""
    matched = queued = 0
    latest: str | None = None
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal queued
        first = store.first_page_per_url(es, names, [p["url"] for p in batch]) if rule.new_pages_only else {}
        for page in batch:
            if rule.new_pages_only and first.get(page["url"]) != page["doc_id"]:
                continue  # the URL was indexed before: a changed page, not a new listing
            fp = fingerprint(page)
            doc = {"rule": rule.name, "fingerprint": fp, "page_id": page["doc_id"], "page_indexed_at": page["indexed_at"],
                   "onion": page["onion"], "url": page["url"], "state": "queued", "pending": channels, "delivered": [],
                   "attempts": 0, "created_at": now, "updated_at": now, "payload": payload(rule, page, fp)}
            queued += store.enqueue(es, names, doc)
        batch.clear()

    for page in store.pages_since(es, names, start, query=rule.query, categories=rule.categories,
                                  entity_labels=rule.entity_labels, lang=rule.lang, onion=rule.onions):
        matched += 1
        latest = page["indexed_at"]
        batch.append(page)
        if len(batch) >= SCAN_BATCH:
            flush()
    if batch:
        flush()
    return matched, queued, latest


def deliver(es: Elasticsearch, names: Names, deliverer: Deliverer, rule: str | None, now: datetime) -> dict[str, Any]:
    """Deliver every queued alert (of one rule, or all) to its pending channels.
    Returns alert counts and, per channel (redacted), how many sends worked or failed."""
    done = failed = 0
    sent: Counter[str] = Counter()
    lost: Counter[str] = Counter()
    for alert in store.undelivered(es, names, rule):
        src = alert["source"]
        if src.get("claimed_until") and _time(src["claimed_until"]) > now:
            continue  # another runner is delivering it
        src["claimed_until"] = _iso(now + CLAIM)
        claimed = store.save_alert(es, names, alert)
        if claimed is None:
            continue
        still, errors = [], []
        for spec in src["pending"]:
            try:
                deliverer.send(spec, src["payload"])
                src["delivered"] = list(dict.fromkeys(src["delivered"] + [spec]))
                sent[redact_channel(spec)] += 1
            except Exception as exc:  # noqa: BLE001 — any channel failure keeps the alert queued
                still.append(spec)
                lost[redact_channel(spec)] += 1
                errors.append(f"{redact_channel(spec)}: {error_text(exc)}")
        src.update(pending=still, attempts=int(src.get("attempts") or 0) + 1, claimed_until=None,
                   updated_at=_iso(now), last_error="; ".join(errors) or None)
        if not still:
            src.update(state="delivered", delivered_at=_iso(datetime.now(timezone.utc)))
            done += 1
        else:
            failed += 1
        store.save_alert(es, names, claimed)
    channels = [{"channel": c, "delivered": sent[c], "failed": lost[c]} for c in dict.fromkeys([*sent, *lost])]
    return {"delivered": done, "failed": failed, "channels": channels}


def _per_channel(configured: list[str], used: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rule's channels (redacted, in its order) with their send counts, then any other
    channel an older queued alert still went to."""
    counts = {c["channel"]: c for c in used}
    out = [counts.pop(c, {"channel": c, "delivered": 0, "failed": 0})
           for c in dict.fromkeys(redact_channel(spec) for spec in configured)]
    return out + list(counts.values())


def run(
    es: Elasticsearch,
    names: Names,
    config: AlertConfig,
    *,
    rule_name: str | None = None,
    since: str | None = None,
    deliverer: Deliverer | None = None,
    now: datetime | None = None,
    pii_key: bytes | None = None,
) -> list[dict[str, Any]]:
    """Evaluate rules and deliver; one summary per rule (matched, queued, delivered, failed,
    pending, watermark, and per channel where alerts went). A rule's first run (without
    ``since``) only sets its baseline: "new" means new since the rule started watching."""
    now = now or datetime.now(timezone.utc)
    now_s = _iso(now)
    deliverer = deliverer or Deliverer(config.smtp)
    rules = [config.rule(rule_name)] if rule_name else config.rules
    summaries = []
    for rule in rules:
        channels = config.resolve(rule.channels)
        wm = store.get_watermark(es, names, rule.name)
        summary: dict[str, Any] = {"rule": rule.name, "matched": 0, "queued": 0, "baseline": False}
        if since:
            start = _time(since)
            floor = min(start, _time(wm["floor"])) if wm else start
        elif wm is None:
            store.set_watermark(es, names, rule.name, now_s, now_s, now_s)
            summaries.append(dict(summary, baseline=True, delivered=0, failed=0, pending=0, watermark=now_s,
                                  channels=_per_channel(channels, [])))
            continue
        else:
            floor = _time(wm["floor"])
            start = max(floor, _time(wm["watermark"]) - OVERLAP)
        scan_fn = scan_services if rule.target == "services" else (scanner(rule, pii_key) or scan)
        matched, queued, latest = scan_fn(es, names, rule, channels, _iso(start), now_s)
        summary.update(matched=matched, queued=queued)
        sent = deliver(es, names, deliverer, rule.name, now)
        summary.update(delivered=sent["delivered"], failed=sent["failed"])
        pending = store.undelivered(es, names, rule.name)
        candidates = [t for t in (latest, wm and wm["watermark"]) if t]
        mark = max(candidates, key=_time) if candidates else _iso(start)
        if pending:  # not past anything still undelivered
            mark = min([mark] + [_iso(max(floor, _time(a["source"]["page_indexed_at"]))) for a in pending], key=_time)
            if wm:
                mark = max(mark, wm["watermark"], key=_time)
        store.set_watermark(es, names, rule.name, mark, _iso(floor), now_s)
        summaries.append(dict(summary, pending=len(pending), watermark=mark,
                              channels=_per_channel(channels, sent["channels"])))
    return summaries
