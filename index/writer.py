"""Writing page records (docs/record.md) into pages, services and snapshots.

Failure policy: bulk requests go out in chunks bounded by count and bytes; documents
rejected with 429/5xx and requests that fail with 429/5xx are retried with exponential
backoff (connection errors too, by resubmitting what got no answer); every document
that still fails is returned as a ``Failure`` with its reason. ``flush`` returns only
after Elasticsearch answered for every document, so a caller acknowledges upstream
(e.g. the crawler's item pipeline) only what ``FlushResult`` reports as stored.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from elasticsearch import Elasticsearch, TransportError
from elasticsearch.helpers import streaming_bulk
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from index import schema
from index.names import PAGES, Names, month_partition, parse_time
from index.snapshots import seal

RETRY_STATUS = (429, 500, 502, 503, 504)
# Fields a page document has that the page record does not: the index sets them.
INDEX_FIELDS = ("doc_id", "indexed_at", "last_fetched_at")


def page_fields(spec: schema.Spec) -> tuple[str, ...]:
    """The record fields a page document stores: the pages template's properties (the one
    mapping of the record, configs/index/pages.vN.json) minus the index's own fields."""
    return tuple(k for k in spec.template["mappings"]["properties"] if k not in INDEX_FIELDS)


MAX_TITLES = 20
_PREVIEW_RE = re.compile(r"\s*Preview of field's value:.*", re.S)


@dataclass(frozen=True)
class Failure:
    """One document Elasticsearch did not store, and why. ``kind`` is page, snapshot or service."""

    kind: str
    id: str
    url: str | None
    status: int | None
    reason: str


@dataclass
class FlushResult:
    """What one flush stored. A record is stored when its page (and snapshot) are."""

    pages: int = 0
    snapshots: int = 0
    services: int = 0
    failed: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def failed_urls(self) -> set[str]:
        return {f.url for f in self.failed if f.url}


def page_id(url: str, sha256: str) -> str:
    """Document id of a page: the same URL with the same content is the same document."""
    return hashlib.sha256(f"{url}\n{sha256}".encode()).hexdigest()[:40]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _clean_reason(error: Any) -> str:
    """A short failure reason without the field-value preview ES adds (it may hold PII)."""
    if isinstance(error, dict):
        text = f"{error.get('type', 'error')}: {_PREVIEW_RE.sub('', str(error.get('reason', '')))}"
        if isinstance(error.get("caused_by"), dict):
            text += f" (caused by {error['caused_by'].get('type')})"
    else:
        text = _PREVIEW_RE.sub("", str(error))
    return text[:500]


def _valid_time(value: str) -> bool:
    try:
        parse_time(value)
    except (TypeError, ValueError):
        return False
    return True


def _earliest(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return a if parse_time(a) <= parse_time(b) else b


def _latest(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return a if parse_time(a) >= parse_time(b) else b


def service_fact(record: Mapping[str, Any]) -> dict[str, Any]:
    """What one fetch says about its onion service, as a partial services document."""
    t = record["fetched_at"]
    fetched = not record.get("failure")
    title = (record.get("title") or "").strip()
    lang = record.get("lang")
    return {
        "onion": record["onion"],
        "first_checked": t,
        "last_checked": t,
        "first_seen": t if fetched else None,
        "last_seen": t if fetched else None,
        "last_status": record.get("status") if isinstance(record.get("status"), int) else None,
        "last_failure": record.get("failure"),
        "categories": sorted(set(record.get("categories") or [])),
        "titles": [title] if fetched and title else [],
        "langs": [lang] if fetched and lang and lang != "und" else [],
    }


def merge_service(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """Merge two service documents. Order-independent and idempotent: first_* only move
    back, last_* only forward, the latest check decides status, sets are unions."""
    if not old:
        return dict(new)
    merged = dict(old)
    for key in ("first_seen", "first_checked"):
        merged[key] = _earliest(old.get(key), new.get(key))
    for key in ("last_seen", "last_checked"):
        merged[key] = _latest(old.get(key), new.get(key))
    if new.get("last_checked") and merged["last_checked"] == new["last_checked"]:
        merged["last_status"] = new.get("last_status")
        merged["last_failure"] = new.get("last_failure")
    merged["categories"] = sorted(set(old.get("categories") or []) | set(new.get("categories") or []))
    for key, cap in (("titles", MAX_TITLES), ("langs", None)):
        values = list(old.get(key) or [])
        values += [v for v in new.get(key) or [] if v not in values]
        merged[key] = values[:cap] if cap else values
    for key in ("page_count", "updated_at"):
        if new.get(key) is not None:
            merged[key] = new[key]
    return merged


class PageWriter:
    """Buffers page records; ``flush`` stores them (snapshots, then pages, then services)."""

    def __init__(
        self,
        es: Elasticsearch,
        names: Names,
        *,
        snapshot_key: bytes,
        config_dir: Path | None = None,
        chunk_docs: int = 200,
        chunk_bytes: int = 8 * 1024 * 1024,
        max_retries: int = 5,
        initial_backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        self.es = es
        self.names = names
        self._key = snapshot_key
        self._config_dir = config_dir
        self._chunk = {"chunk_size": chunk_docs, "max_chunk_bytes": chunk_bytes}
        self._retry = {"max_retries": max_retries, "initial_backoff": initial_backoff, "max_backoff": max_backoff}
        self._buffer: list[Mapping[str, Any]] = []
        self._pages_spec: schema.Spec | None = None
        self._partitions: set[str] = set()

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def write(self, record: Mapping[str, Any]) -> None:
        """Buffer one record; nothing is stored until ``flush``."""
        self._buffer.append(record)

    def store(self, records: list[Mapping[str, Any]]) -> list[str | None]:
        """The crawler's Sink protocol: store a batch now; one error (or None) per record.

        A record fails if its page or snapshot was not stored, or its service's roll-up
        was not (re-storing is idempotent, so the caller may simply retry)."""
        for r in records:
            self.write(r)
        result = self.flush()
        by_page = {f.id: f.reason for f in result.failed if f.kind == "page"}
        by_service = {f.id: f.reason for f in result.failed if f.kind == "service"}
        errors: list[str | None] = []
        for r in records:
            pid = page_id(r.get("url") or "", r.get("sha256") or "")
            reason = by_page.get(pid)
            if reason is None and r.get("onion") in by_service:
                reason = f"service {r['onion']} not updated: {by_service[r['onion']]}"
            errors.append(reason)
        return errors

    def close(self) -> None:
        """Sink protocol: store whatever is still buffered."""
        self.flush()

    def __enter__(self) -> "PageWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()

    # -- bulk with the failure policy ---------------------------------------------------

    def _send(self, actions: list[dict[str, Any]]) -> dict[str, tuple[bool, int | None, Any]]:
        """Send actions (unique ``_id`` each); {_id: (ok, status, item-or-error)} for all.

        Per-item and per-request 429/5xx are retried by ``streaming_bulk`` with backoff;
        a connection failure resubmits the actions that got no answer, with backoff.
        """
        answers: dict[str, tuple[bool, int | None, Any]] = {}

        def submit_unanswered() -> None:
            pending = [a for a in actions if str(a["_id"]) not in answers]
            for ok, item in streaming_bulk(
                self.es, pending, raise_on_error=False, raise_on_exception=False,
                retry_on_status=RETRY_STATUS, **self._chunk, **self._retry,
            ):
                info = next(iter(item.values()))
                error = None if ok else info.get("error", "unknown error")
                answers[str(info["_id"])] = (ok, info.get("status"), info if ok else error)

        retrying = Retrying(  # connection refused/reset/timeout: no answer, so resubmit
            retry=retry_if_exception_type(TransportError),
            stop=stop_after_attempt(self._retry["max_retries"] + 1),
            wait=wait_exponential(multiplier=self._retry["initial_backoff"], max=self._retry["max_backoff"]),
            reraise=True,
        )
        try:
            retrying(submit_unanswered)
        except TransportError as exc:
            for action in actions:
                answers.setdefault(str(action["_id"]), (False, None, f"{type(exc).__name__}: {exc}"))
        return answers

    # -- flush ----------------------------------------------------------------------------

    def flush(self) -> FlushResult:
        """Store everything buffered; returns once Elasticsearch answered for every doc."""
        if not self._buffer:
            return FlushResult()
        if self._pages_spec is None:  # may raise (server down): the buffer stays for a retry
            self._pages_spec = schema.setup(self.es, self.names, self._config_dir)[PAGES]
        records, self._buffer = self._buffer, []
        result = FlushResult()

        valid: list[Mapping[str, Any]] = []
        for r in records:
            missing = [k for k in ("url", "onion", "fetched_at") if not r.get(k)]
            if not r.get("failure") and not r.get("sha256"):
                missing.append("sha256")
            if not missing and not _valid_time(r["fetched_at"]):
                missing.append("fetched_at (not RFC 3339)")
            if missing:
                pid = page_id(r.get("url") or "", r.get("sha256") or "")
                result.failed.append(Failure("page", pid, r.get("url"), None, f"invalid record: missing or bad {missing}"))
            else:
                valid.append(r)
        fetched = [r for r in valid if not r.get("failure")]
        stored = self._write_snapshots(fetched, result)
        self._write_pages([r for r in fetched if r["sha256"] in stored], result)
        self._write_services(valid, result)
        return result

    def _write_snapshots(self, records: list[Mapping[str, Any]], result: FlushResult) -> set[str]:
        """Seal raw bodies; returns the sha256s safely stored (or already present, or absent)."""
        ok: set[str] = set()
        bodies: dict[str, bytes] = {}
        for r in records:
            raw = r.get("raw")
            if raw is None:
                ok.add(r["sha256"])  # re-index without the body: page only
            elif hashlib.sha256(raw).hexdigest() != r["sha256"]:
                result.failed.append(Failure("page", page_id(r["url"], r["sha256"]), r["url"], None,
                                             "raw body does not match its sha256"))
            else:
                bodies[r["sha256"]] = raw
        actions = [{"_op_type": "create", "_index": self.names.snapshots, "_id": sha, "_source": seal(raw, sha, self._key)}
                   for sha, raw in bodies.items()]
        # No refresh: `create` conflicts on _id are detected in real time, and nothing
        # searches snapshots (they are fetched by id).
        answers = self._send(actions) if actions else {}
        for sha, (done, status, info) in answers.items():
            if done or status == 409:  # 409: this exact body is already stored
                ok.add(sha)
                result.snapshots += int(done)
            else:
                reason = _clean_reason(info)
                result.failed.append(Failure("snapshot", sha, None, status, reason))
                for r in records:
                    if r["sha256"] == sha:
                        result.failed.append(Failure("page", page_id(r["url"], sha), r["url"], status,
                                                     f"snapshot not stored: {reason}"))
        return ok

    def _existing_pages(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Where each already-stored page lives, so a re-index overwrites it in place."""
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(ids), 1000):
            chunk = ids[i:i + 1000]
            resp = self.es.search(
                index=self.names.pages, query={"ids": {"values": chunk}}, size=len(chunk),
                source=["fetched_at", "last_fetched_at", "indexed_at"],
            )
            for hit in resp["hits"]["hits"]:
                prev = found.get(hit["_id"])
                if prev is None or _earliest(prev["fetched_at"], hit["_source"].get("fetched_at")) != prev["fetched_at"]:
                    found[hit["_id"]] = {"_index": hit["_index"], **hit["_source"]}
        return found

    def _write_pages(self, records: list[Mapping[str, Any]], result: FlushResult) -> None:
        docs: dict[str, dict[str, Any]] = {}
        assert self._pages_spec is not None
        fields = page_fields(self._pages_spec)
        for r in records:
            pid = page_id(r["url"], r["sha256"])
            doc = {k: r.get(k) for k in fields}
            doc.update(doc_id=pid, fetched_at=r["fetched_at"], last_fetched_at=r["fetched_at"])
            if pid in docs:  # same page twice in one batch: keep the time span
                doc["fetched_at"] = _earliest(docs[pid]["fetched_at"], doc["fetched_at"])
                doc["last_fetched_at"] = _latest(docs[pid]["last_fetched_at"], doc["last_fetched_at"])
            docs[pid] = doc
        if not docs:
            return
        existing = self._existing_pages(list(docs))
        now = _now()
        actions = []
        for pid, doc in docs.items():
            old = existing.get(pid)
            if old:
                index = old["_index"]
                doc["fetched_at"] = _earliest(old.get("fetched_at"), doc["fetched_at"])
                doc["last_fetched_at"] = _latest(old.get("last_fetched_at"), doc["last_fetched_at"])
                doc["indexed_at"] = old.get("indexed_at") or now
            else:
                index = self._partition(doc["fetched_at"])
                doc["indexed_at"] = now
            actions.append({"_op_type": "index", "_index": index, "_id": pid, "_source": doc})
        for pid, (done, status, info) in self._send(actions).items():
            if done:
                result.pages += 1
            else:
                result.failed.append(Failure("page", pid, docs[pid]["url"], status, _clean_reason(info)))
        self.es.indices.refresh(index=self.names.pages)

    def _partition(self, fetched_at: str) -> str:
        assert self._pages_spec is not None
        partition = month_partition(fetched_at)
        index = self.names.index(PAGES, self._pages_spec.version, partition)
        if index not in self._partitions:
            schema.ensure_partition(self.es, self.names, self._pages_spec, partition)
            self._partitions.add(index)
        return index

    def _page_counts(self, onions: Iterable[str]) -> dict[str, int]:
        """Distinct URLs stored per onion, counted by the index (idempotent, unlike +1)."""
        onions = sorted(set(onions))
        resp = self.es.search(
            index=self.names.pages, size=0, query={"terms": {"onion": onions}},
            aggs={"by_onion": {"terms": {"field": "onion", "size": len(onions)},
                               "aggs": {"urls": {"cardinality": {"field": "url"}}}}},
        )
        return {b["key"]: int(b["urls"]["value"]) for b in resp["aggregations"]["by_onion"]["buckets"]}

    def _write_services(self, records: list[Mapping[str, Any]], result: FlushResult) -> None:
        """Read-modify-write with optimistic concurrency; conflicting writers retry."""
        facts: dict[str, dict[str, Any]] = {}
        for r in records:
            facts[r["onion"]] = merge_service(facts.get(r["onion"]), service_fact(r))
        if not facts:
            return
        counts = self._page_counts(facts)
        pending = sorted(facts)
        for _ in range(5):
            current = self.es.mget(index=self.names.services, ids=pending)["docs"]
            actions = []
            for onion, cur in zip(pending, current):
                fact = dict(facts[onion], page_count=counts.get(onion, 0), updated_at=_now())
                action: dict[str, Any] = {"_index": self.names.services, "_id": onion}
                if cur.get("found"):
                    action.update(_op_type="index", if_seq_no=cur["_seq_no"], if_primary_term=cur["_primary_term"],
                                  _source=merge_service(cur["_source"], fact))
                else:
                    action.update(_op_type="create", _source=merge_service(None, fact))
                actions.append(action)
            conflicts = []
            for onion, (done, status, info) in self._send(actions).items():
                if done:
                    result.services += 1
                elif status == 409:
                    conflicts.append(onion)
                else:
                    result.failed.append(Failure("service", onion, None, status, _clean_reason(info)))
            if not conflicts:
                break
            pending = sorted(conflicts)
        else:
            for onion in pending:
                result.failed.append(Failure("service", onion, None, 409, "version conflicts on every retry"))
        self.es.indices.refresh(index=self.names.services)
