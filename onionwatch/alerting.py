"""Alert rules: load them, evaluate them against newly indexed pages, deliver the alerts.

A run, per rule: read pages indexed since the rule's watermark (minus a small overlap, so a
page that became searchable late is still seen), keep those that match (optionally only
pages at a URL never indexed before), and create one queued alert per listing fingerprint
(the same listing re-crawled or mirrored on another onion creates nothing new). Then every
queued alert is delivered to its channels; a channel that fails stays pending for the next
run. The watermark moves only as far as every alert before it has been delivered.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import smtplib
import sys
import time
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Callable

import requests
import yaml
from elasticsearch import Elasticsearch

from index import Names
from index import alerts as store
from onionwatch import settings

CONFIG_FILE = "alerts.yaml"
CHANNEL_KINDS = ("webhook", "email", "jsonl", "stdout")
OVERLAP = timedelta(minutes=2)
CLAIM = timedelta(minutes=5)
_ONION_RE = re.compile(r"\b(?:[a-z2-7]{56}|[a-z2-7]{16})\.onion\b", re.I)
_MARK_RE = re.compile(r"</?mark>")


class AlertConfigError(ValueError):
    """A rule or channel that cannot work as written."""


@dataclass(frozen=True)
class Rule:
    """One alert rule; the filters mean what they mean in `onionwatch search`."""

    name: str
    query: str = ""
    categories: tuple[str, ...] = ()
    entity_labels: tuple[str, ...] = ()
    lang: tuple[str, ...] = ()
    onions: tuple[str, ...] = ()
    new_pages_only: bool = False
    channels: tuple[str, ...] = ()
    description: str = ""

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "Rule":
        def tup(key: str) -> tuple[str, ...]:
            value = raw.get(key) or ()
            return (value,) if isinstance(value, str) else tuple(str(v) for v in value)

        if not raw.get("name"):
            raise AlertConfigError(f"rule without a name: {raw}")
        return cls(name=str(raw["name"]), query=str(raw.get("query") or ""), categories=tup("categories"),
                   entity_labels=tup("entity_labels") or tup("entities"), lang=tup("lang"), onions=tup("onions"),
                   new_pages_only=bool(raw.get("new_pages_only", False)), channels=tup("channels"),
                   description=str(raw.get("description") or ""))

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items() if v not in ("", ())}


@dataclass
class AlertConfig:
    rules: list[Rule]
    channels: dict[str, list[str]] = field(default_factory=dict)
    smtp: dict[str, Any] = field(default_factory=dict)
    home: Path = field(default_factory=settings.home)

    def rule(self, name: str) -> Rule:
        for r in self.rules:
            if r.name == name:
                return r
        raise AlertConfigError(f"no rule named {name!r}; known: {[r.name for r in self.rules]}")

    def resolve(self, specs: tuple[str, ...] | list[str], _depth: int = 0) -> list[str]:
        """Channel specs with named channels expanded and ``{home}`` filled in; validated."""
        out: list[str] = []
        for spec in specs:
            if spec in self.channels and _depth < 3:
                out += self.resolve(self.channels[spec], _depth + 1)
                continue
            spec = spec.replace("{home}", str(self.home))
            kind, _, target = spec.partition(":")
            if kind not in CHANNEL_KINDS or (kind != "stdout" and not target):
                raise AlertConfigError(f"bad channel {spec!r}: use webhook:URL, email:ADDR, jsonl:PATH or stdout")
            out.append(spec)
        return list(dict.fromkeys(out))


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise AlertConfigError(f"{path}: expected a mapping")
    return data


def local_config_path(home: Path | None = None) -> Path:
    return (home or settings.home()) / CONFIG_FILE


def load_config(configs_dir: Path | None = None, home: Path | None = None) -> AlertConfig:
    """Shipped configs/alerts.yaml with <home>/alerts.yaml merged over it."""
    home = home or settings.home()
    shipped = _read_yaml((configs_dir or settings.CONFIGS) / CONFIG_FILE)
    local = _read_yaml(local_config_path(home))
    rules: dict[str, Rule] = {}
    for raw in (shipped.get("rules") or []) + (local.get("rules") or []):
        rule = Rule.from_dict(raw)
        rules[rule.name] = rule
    cfg = AlertConfig(list(rules.values()), {**(shipped.get("channels") or {}), **(local.get("channels") or {})},
                      {**(shipped.get("smtp") or {}), **(local.get("smtp") or {})}, home)
    for r in cfg.rules:
        cfg.resolve(r.channels)
    return cfg


def add_rule(rule: Rule, home: Path | None = None) -> Path:
    """Store a rule in <home>/alerts.yaml (replacing one of the same name). Owner-only: a
    webhook URL may carry a token."""
    path = local_config_path(home)
    data = _read_yaml(path)
    data["rules"] = [r for r in data.get("rules") or [] if r.get("name") != rule.name] + [rule.to_dict()]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)
    return path


# -- matching ---------------------------------------------------------------------------------

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
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
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
        if len(batch) >= 200:
            flush()
    if batch:
        flush()
    return matched, queued, latest


# -- delivery ---------------------------------------------------------------------------------

def _retry(send: Callable[[], None], attempts: int, backoff: float) -> None:
    for n in range(attempts):
        try:
            send()
            return
        except Exception:
            if n == attempts - 1:
                raise
            time.sleep(backoff * 2 ** n)


def plain_text(p: dict[str, Any]) -> str:
    entities = ", ".join(f"{e['label']} {e['masked']}" for e in p["entities"]) or "none"
    snippet = html.unescape(_MARK_RE.sub("", p["snippet"]))
    return (f"Rule: {p['rule']}\nOnion: {p['onion']}\nURL: {p['url']}\nCategories: {', '.join(p['categories'])}\n"
            f"Entities (masked): {entities}\nEvidence sha256: {p['evidence_sha256']}\nFetched: {p['fetched_at']}\n\n"
            f"{snippet}\n")


@dataclass
class Deliverer:
    """Sends one payload to one channel spec; raises on failure (after its own retries)."""

    smtp: dict[str, Any]
    attempts: int = 3
    backoff: float = 0.5
    timeout: float = 10.0
    stdout: Any = None

    def send(self, spec: str, p: dict[str, Any]) -> None:
        kind, _, target = spec.partition(":")
        if kind == "webhook":
            def post() -> None:
                resp = requests.post(target, json=p, timeout=self.timeout, allow_redirects=False,
                                     headers={"User-Agent": "onionwatch-alerts"})
                if not 200 <= resp.status_code < 300:
                    raise RuntimeError(f"webhook answered HTTP {resp.status_code}")
            _retry(post, self.attempts, self.backoff)
        elif kind == "email":
            _retry(lambda: self._email(target, p), self.attempts, self.backoff)
        elif kind == "jsonl":
            path = Path(target)
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(p, ensure_ascii=False) + "\n")
        elif kind == "stdout":
            out = self.stdout or sys.stdout
            out.write(json.dumps(p, ensure_ascii=False) + "\n")
            out.flush()
        else:
            raise AlertConfigError(f"unknown channel {spec!r}")

    def _email(self, to: str, p: dict[str, Any]) -> None:
        msg = EmailMessage()
        msg["From"] = self.smtp.get("from", "onionwatch@localhost")
        msg["To"] = to
        msg["Subject"] = f"[onionwatch] {p['rule']}: {p['onion']}"
        msg.set_content(plain_text(p))
        msg.add_attachment(json.dumps(p, ensure_ascii=False, indent=2).encode(), maintype="application",
                           subtype="json", filename="alert.json")
        with smtplib.SMTP(self.smtp.get("host", "127.0.0.1"), int(self.smtp.get("port", 25)),
                          timeout=float(self.smtp.get("timeout", 20))) as smtp:
            if self.smtp.get("starttls"):
                smtp.starttls()
            if self.smtp.get("username"):
                smtp.login(self.smtp["username"], self.smtp.get("password") or "")
            smtp.send_message(msg)


def redact_channel(spec: str) -> str:
    """A channel as logged or shown: kind and host only (webhook URLs may carry tokens or
    user:password, which a netloc would still include)."""
    kind, _, target = spec.partition(":")
    if kind == "webhook":
        return f"webhook:{requests.utils.urlparse(target).hostname or '?'}"
    return spec


def _error_text(exc: Exception) -> str:
    """Why a delivery failed, without echoing URLs (requests puts the full URL, token and
    all, into its messages)."""
    if isinstance(exc, requests.RequestException):
        return type(exc).__name__
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def deliver(es: Elasticsearch, names: Names, deliverer: Deliverer, rule: str | None, now: datetime) -> dict[str, int]:
    """Deliver every queued alert (of one rule, or all) to its pending channels."""
    done = failed = 0
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
            except Exception as exc:  # noqa: BLE001 — any channel failure keeps the alert queued
                still.append(spec)
                errors.append(f"{redact_channel(spec)}: {_error_text(exc)}")
        src.update(pending=still, attempts=int(src.get("attempts") or 0) + 1, claimed_until=None,
                   updated_at=_iso(now), last_error="; ".join(errors) or None)
        if not still:
            src.update(state="delivered", delivered_at=_iso(datetime.now(timezone.utc)))
            done += 1
        else:
            failed += 1
        store.save_alert(es, names, claimed)
    return {"delivered": done, "failed": failed}


# -- a run ------------------------------------------------------------------------------------

def run(
    es: Elasticsearch,
    names: Names,
    config: AlertConfig,
    *,
    rule_name: str | None = None,
    since: str | None = None,
    deliverer: Deliverer | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Evaluate rules and deliver; one summary per rule. A rule's first run (without
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
            summaries.append(dict(summary, baseline=True, delivered=0, failed=0, pending=0, watermark=now_s))
            continue
        else:
            floor = _time(wm["floor"])
            start = max(floor, _time(wm["watermark"]) - OVERLAP)
        matched, queued, latest = scan(es, names, rule, channels, _iso(start), now_s)
        summary.update(matched=matched, queued=queued)
        summary.update(deliver(es, names, deliverer, rule.name, now))
        pending = store.undelivered(es, names, rule.name)
        candidates = [t for t in (latest, wm and wm["watermark"]) if t]
        mark = max(candidates, key=_time) if candidates else _iso(start)
        if pending:  # not past anything still undelivered
            mark = min([mark] + [_iso(max(floor, _time(a["source"]["page_indexed_at"]))) for a in pending], key=_time)
            if wm:
                mark = max(mark, wm["watermark"], key=_time)
        store.set_watermark(es, names, rule.name, mark, _iso(floor), now_s)
        summaries.append(dict(summary, pending=len(pending), watermark=mark))
    return summaries
