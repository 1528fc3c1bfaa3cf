"""Writing page records (docs/record.md) into pages, services and snapshots, at bulk speed.

The write path makes no searches, no aggregations and no refreshes; its cost per record
does not grow with the index. One ``store(batch)`` is two bulk requests:

1. snapshots (``create``: a body stored once) and the page registry (``page_ids``: a
   scripted upsert per page whose result, returned in the bulk response by the Update
   API's ``_source`` option, says which month partition holds the page and its first and
   last fetch), then
2. the pages (an update with ``doc`` + ``upsert`` into that partition: a new page gets
   ``indexed_at``, a re-fetched one keeps it) and one scripted upsert per onion service
   (``services``: first/last seen and checked only move outwards, the latest check sets
   the status, categories/titles/langs are unions). ``page_count`` is not kept on the
   write path: readers count pages when asked (index.search.get_service, index.stats).

Scripts are documented Painless restricted to what the embedded server (noida-db) also
runs correctly, measured: null checks, ``String.substring`` + ``Long.parseLong`` to
compare RFC 3339 times (no ``compareTo``, no date parsing), ``List.contains``/``add``,
``ctx.op = 'noop'`` when nothing changed. Times are written in UTC (``...Z``).

Visibility: ``store`` (the crawler's sink) leaves new documents to the index's refresh
interval (1 s by default); ``flush()`` refreshes once at its end for callers that read
right after writing (``flush(refresh=False)`` does not).

Failure policy: bulk requests go out in chunks bounded by count and bytes; documents
rejected with 429/5xx and requests that fail with 429/5xx are retried with exponential
backoff (connection errors too, by resubmitting what got no answer); every document
that still fails is returned as a ``Failure`` with its reason. ``flush`` returns only
after Elasticsearch answered for every document, so a caller acknowledges upstream
(e.g. the crawler's item pipeline) only what ``FlushResult`` reports as stored.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from elasticsearch import Elasticsearch, TransportError
from elasticsearch.helpers import streaming_bulk
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from index import schema
from index.names import PAGES, Names, month_partition
from index.names import parse_time as _parse_time
from index.snapshots import seal

RETRY_STATUS = (429, 500, 502, 503, 504)
# Fields a page document has that the page record does not: the index sets them.
INDEX_FIELDS = ("doc_id", "indexed_at", "last_fetched_at")


def page_fields(spec: schema.Spec) -> tuple[str, ...]:
    """The record fields a page document stores: the pages template's properties (the one
    mapping of the record, configs/index/pages.vN.json) minus the index's own fields."""
    return tuple(k for k in spec.template["mappings"]["properties"] if k not in INDEX_FIELDS)


MAX_TITLES = 20
_PREVIEW_RE = re.compile(r"\s*Preview of field's value:.*", re.DOTALL)


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


@functools.lru_cache(maxsize=4096)  # asked up to four times per record while one batch is written
def page_id(url: str, sha256: str) -> str:
    """Document id of a page: the same URL with the same content is the same document."""
    return hashlib.sha256(f"{url}\n{sha256}".encode()).hexdigest()[:40]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _clean_reason(error: Any) -> str:
    """A short failure reason without the field-value preview ES adds (it may hold PII)."""
    if isinstance(error, dict):
        text = f"{error.get('type', 'error')}: {_PREVIEW_RE.sub('', str(error.get('reason', '')))}"
        if isinstance(error.get("caused_by"), dict):
            text += f" (caused by {error['caused_by'].get('type')})"
    else:
        text = _PREVIEW_RE.sub("", str(error))
    return text[:500]


@functools.lru_cache(maxsize=8192)
def parse_time(value: str) -> datetime:
    """names.parse_time, remembered: a crawl's records share a few thousand timestamps
    (one per second), and every record needs its time parsed several times."""
    return _parse_time(value)


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


# Failure reasons (docs/record.md) that say the service did not answer at all: status down.
UNREACHABLE = frozenset({
    "onion_descriptor_not_found", "onion_descriptor_invalid", "onion_intro_failed", "onion_rendezvous_failed",
    "onion_missing_client_auth", "onion_bad_client_auth", "onion_bad_address", "onion_intro_timeout",
    "onion_unreachable", "connection_refused", "socks_error", "timeout", "download_error",
})
SEIZED = "seized"


def service_status(record: Mapping[str, Any]) -> str | None:
    """What one fetch says of the service: seized (a seizure banner), up (it answered: a
    page, a wall, any HTTP status), down (it did not answer), None (no evidence either way,
    e.g. a request our own policy refused)."""
    if record.get("wall") == SEIZED:
        return SEIZED
    if not record.get("failure") or record.get("wall") or isinstance(record.get("status"), int):
        return "up"
    return "down" if record.get("failure") in UNREACHABLE else None


def service_fact(record: Mapping[str, Any]) -> dict[str, Any]:
    """What one fetch says about its onion service, as a partial services document."""
    t = record["fetched_at"]
    fetched = not record.get("failure")
    title = (record.get("title") or "").strip()
    lang = record.get("lang")
    wall = record.get("wall") or None
    seized = wall == SEIZED
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
        "status": service_status(record),
        "wall": wall,
        "wall_url": record.get("url") if wall else None,
        "wall_sha256": record.get("sha256") or None if wall else None,
        "seized_at": t if seized else None,
        "seizure": {"url": record.get("url"), "sha256": record.get("sha256") or None, "fetched_at": t,
                    "evidence": list(record.get("wall_evidence") or [])} if seized else None,
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
        for key in ("wall", "wall_url", "wall_sha256"):
            merged[key] = new.get(key)
        if new.get("status") is not None:
            merged["status"] = new["status"]
    if new.get("seized_at") and _earliest(old.get("seized_at"), new["seized_at"]) == new["seized_at"]:
        merged["seized_at"], merged["seizure"] = new["seized_at"], new.get("seizure")
    merged["categories"] = sorted(set(old.get("categories") or []) | set(new.get("categories") or []))
    for key, cap in (("titles", MAX_TITLES), ("langs", None)):
        values = list(old.get(key) or [])
        values += [v for v in new.get(key) or [] if v not in values]
        merged[key] = values[:cap] if cap else values
    for key in ("page_count", "updated_at"):
        if new.get(key) is not None:
            merged[key] = new[key]
    return merged


# -- scripts (documented Painless; only constructs measured to run correctly on noida-db too) --

@functools.lru_cache(maxsize=8192)
def utc(value: str) -> str:
    """An RFC 3339 time in UTC with ``Z`` (fractional seconds kept): the form every time the
    writer stores has, so the scripts can order times by their first 19 characters."""
    dt = parse_time(value)
    return dt.isoformat(timespec="microseconds" if dt.microsecond else "seconds").replace("+00:00", "Z")


@functools.lru_cache(maxsize=8192)  # a batch shares a few timestamps; each is keyed up to five times per record
def time_key(value: str) -> int:
    """YYYYMMDDhhmmss of a ``utc`` time as a number: what the scripts compare (to the second)."""
    return int(value[0:4] + value[5:7] + value[8:10] + value[11:13] + value[14:16] + value[17:19])


def _key(expr: str) -> str:
    """Painless twin of ``time_key`` (no compareTo, no date parsing: the embedded server
    fails both, while substring + parseLong run alike on both servers)."""
    return (f"Long.parseLong({expr}.substring(0, 4) + {expr}.substring(5, 7) + {expr}.substring(8, 10) + "
            f"{expr}.substring(11, 13) + {expr}.substring(14, 16) + {expr}.substring(17, 19))")


def _bad(expr: str) -> str:
    """True when a stored time cannot be compared (absent, or not RFC 3339 from an older writer)."""
    return f"({expr} == null || !({expr} instanceof String) || {expr}.length() < 19)"


def _earlier(field_: str, param: str) -> str:
    src = f"ctx._source.{field_}"
    return (f"if (params.{param} != null && ({_bad(src)} || params.{param}_key < {_key(src)})) "
            f"{{ {src} = params.{param}; changed = true; }} ")


def _later(field_: str, param: str) -> str:
    src = f"ctx._source.{field_}"
    return (f"if (params.{param} != null && ({_bad(src)} || params.{param}_key > {_key(src)})) "
            f"{{ {src} = params.{param}; changed = true; }} ")


def _union(field_: str, cap: int | None = None) -> str:
    src = f"ctx._source.{field_}"
    room = f" && {src}.size() < {cap}" if cap else ""
    return (f"if ({src} == null) {{ {src} = new ArrayList(); }} "
            f"for (def v : params.{field_}) {{ if (!{src}.contains(v){room}) {{ {src}.add(v); changed = true; }} }} ")


# A page's registry entry: the partition of its first write (kept), its first and last
# fetch with their comparison keys (stored beside them, so nothing is parsed here).
PAGE_ID_SCRIPT = (
    "if (ctx._source.partition == null) { ctx._source.partition = params.partition; "
    "ctx._source.fetched_at = params.first; ctx._source.first_key = params.first_key; "
    "ctx._source.last_fetched_at = params.last; ctx._source.last_key = params.last_key; } "
    "else { boolean changed = false; "
    "if (params.first_key < ctx._source.first_key) "
    "{ ctx._source.fetched_at = params.first; ctx._source.first_key = params.first_key; changed = true; } "
    "if (params.last_key > ctx._source.last_key) "
    "{ ctx._source.last_fetched_at = params.last; ctx._source.last_key = params.last_key; changed = true; } "
    "if (!changed) { ctx.op = 'noop'; } }"
)

# One onion service's roll-up. The latest check (ties: the one being written) sets the status.
SERVICE_SCRIPT = (
    "boolean changed = false; "
    "if (ctx._source.onion == null) { ctx._source.onion = params.onion; changed = true; } "
    + _earlier("first_seen", "first_seen") + _later("last_seen", "last_seen")
    + _earlier("first_checked", "first_checked")
    + f"if ({_bad('ctx._source.last_checked')} || params.last_checked_key >= {_key('ctx._source.last_checked')}) {{ "
      "if (ctx._source.last_checked != params.last_checked || ctx._source.last_status != params.last_status "
      "|| ctx._source.last_failure != params.last_failure) { "
      "ctx._source.last_checked = params.last_checked; ctx._source.last_status = params.last_status; "
      "ctx._source.last_failure = params.last_failure; changed = true; } "
      "if (ctx._source.wall != params.wall || ctx._source.wall_url != params.wall_url) { "
      "ctx._source.wall = params.wall; ctx._source.wall_url = params.wall_url; "
      "ctx._source.wall_sha256 = params.wall_sha256; changed = true; } "
      "if (params.status != null && ctx._source.status != params.status) { "
      "ctx._source.status = params.status; changed = true; } } "
    + f"if (params.seized_at != null && ({_bad('ctx._source.seized_at')} || params.seized_at_key < "
      f"{_key('ctx._source.seized_at')})) {{ ctx._source.seized_at = params.seized_at; "
      "ctx._source.seizure = params.seizure; changed = true; } "
    + _union("categories") + _union("titles", MAX_TITLES) + _union("langs")
    + "if (changed) { ctx._source.updated_at = params.now; } else { ctx.op = 'noop'; }"
)


def _timed_params(values: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """Script params: each time in UTC with its comparison key beside it."""
    out = dict(values)
    for k in keys:
        out[k] = utc(values[k]) if values.get(k) else None
        out[f"{k}_key"] = time_key(out[k]) if out[k] else None
    return out


PAGE_IDS = "page_ids"
BACKFILL_MARK = "_backfilled"


class PageWriter:
    """Buffers page records; ``flush``/``store`` write them (see the module docstring)."""

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
        self._registry: str = names.alias(PAGE_IDS)
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
        was not (re-storing is idempotent, so the caller may simply retry). No refresh:
        the pages become searchable within the index's refresh interval."""
        for r in records:
            self.write(r)
        result = self.flush(refresh=False)
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
        self.flush(refresh=False)

    def refresh(self) -> None:
        """Make everything written so far searchable now (pages and services)."""
        self.es.indices.refresh(index=f"{self.names.pages},{self.names.services}")

    def __enter__(self) -> Self:
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

    def flush(self, *, refresh: bool = True) -> FlushResult:
        """Store everything buffered; returns once Elasticsearch answered for every doc.
        ``refresh``: make the pages and services searchable before returning (one refresh)."""
        if not self._buffer:
            return FlushResult()
        if self._pages_spec is None:  # may raise (server down): the buffer stays for a retry
            specs = schema.setup(self.es, self.names, self._config_dir)
            if PAGE_IDS not in specs:
                raise RuntimeError(f"no {PAGE_IDS}.vN.json template in the index config dir: PageWriter needs it")
            self._backfill_registry()
            self._pages_spec = specs[PAGES]
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
        # a wall page (docs/record.md `wall`) is no page document, but its body is sealed like one
        walled = {r["sha256"]: r for r in valid if r.get("wall") and r.get("raw") is not None and r.get("sha256")}
        docs = self._page_docs(fetched)
        placed = self._write_snapshots_and_registry(fetched, docs, result, walled)
        self._write_pages_and_services({pid: docs[pid] for pid in placed}, placed, valid, result)
        if refresh:
            self.refresh()
        return result

    def _page_docs(self, records: list[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        """One page document per page id (a page twice in a batch keeps its time span)."""
        assert self._pages_spec is not None
        fields = page_fields(self._pages_spec)
        docs: dict[str, dict[str, Any]] = {}
        for r in records:
            pid = page_id(r["url"], r["sha256"])
            t = utc(r["fetched_at"])
            doc = {k: r.get(k) for k in fields}
            doc.update(doc_id=pid, fetched_at=t, last_fetched_at=t)
            if pid in docs:
                doc["fetched_at"] = _earliest(docs[pid]["fetched_at"], t)
                doc["last_fetched_at"] = _latest(docs[pid]["last_fetched_at"], t)
            docs[pid] = doc
        return docs

    def _write_snapshots_and_registry(self, records: list[Mapping[str, Any]], docs: dict[str, dict[str, Any]],
                                      result: FlushResult, walled: Mapping[str, Mapping[str, Any]] | None = None,
                                      ) -> dict[str, dict[str, Any]]:
        """First bulk: seal raw bodies (``create``) and upsert each page's registry entry.
        Returns {page id: registry entry} for the pages whose snapshot is safe (stored, already
        present, or not given) and whose entry was written."""
        bodies: dict[str, bytes] = {}
        bad_body: set[str] = set()
        for r in records:
            raw = r.get("raw")
            if raw is None:
                continue  # re-index without the body: page only
            if hashlib.sha256(raw).hexdigest() != r["sha256"]:
                bad_body.add(page_id(r["url"], r["sha256"]))
                result.failed.append(Failure("page", page_id(r["url"], r["sha256"]), r["url"], None,
                                             "raw body does not match its sha256"))
            else:
                bodies[r["sha256"]] = raw
        for sha, r in (walled or {}).items():
            if hashlib.sha256(r["raw"]).hexdigest() == sha:
                bodies.setdefault(sha, r["raw"])
            else:
                result.failed.append(Failure("page", page_id(r["url"], sha), r["url"], None,
                                             "raw body does not match its sha256"))
        # No refresh: `create` conflicts on _id are detected in real time, and nothing
        # searches snapshots (they are fetched by id).
        now = _now()
        actions: list[dict[str, Any]] = [
            {"_op_type": "create", "_index": self.names.snapshots, "_id": sha, "_source": seal(raw, sha, self._key, now)}
            for sha, raw in bodies.items()]
        for pid, doc in docs.items():
            if pid in bad_body:
                continue
            params = _timed_params({"partition": month_partition(doc["fetched_at"]), "first": doc["fetched_at"],
                                    "last": doc["last_fetched_at"]}, ("first", "last"))
            actions.append({"_op_type": "update", "_index": self._registry, "_id": pid, "_source": True,
                            "retry_on_conflict": 5, "scripted_upsert": True, "upsert": {},
                            "script": {"source": PAGE_ID_SCRIPT, "lang": "painless", "params": params}})
        answers = self._send(actions) if actions else {}

        snapshot_ok = set()
        for sha in bodies:
            done, status, info = answers[sha]
            if done or status == 409:  # 409: this exact body is already stored
                snapshot_ok.add(sha)
                result.snapshots += int(done)
            else:
                result.failed.append(Failure("snapshot", sha, None, status, _clean_reason(info)))
        for sha, r in (walled or {}).items():
            if sha in bodies and sha not in snapshot_ok:
                result.failed.append(Failure("page", page_id(r["url"], sha), r["url"], None, "wall snapshot not stored"))
        placed: dict[str, dict[str, Any]] = {}
        for r in records:
            pid = page_id(r["url"], r["sha256"])
            if pid in bad_body or pid in placed:
                continue
            if r.get("raw") is not None and r["sha256"] not in snapshot_ok:
                _, status, info = answers[r["sha256"]]
                result.failed.append(Failure("page", pid, r["url"], status, f"snapshot not stored: {_clean_reason(info)}"))
                continue
            done, status, info = answers[pid]
            entry = ((info.get("get") or {}).get("_source") if done else None)
            if not entry or not entry.get("partition"):
                reason = _clean_reason(info) if not done else "registry entry not returned"
                result.failed.append(Failure("page", pid, r["url"], status, f"page registry not updated: {reason}"))
                continue
            placed[pid] = entry
        return placed

    def _write_pages_and_services(self, docs: dict[str, dict[str, Any]], placed: dict[str, dict[str, Any]],
                                  records: list[Mapping[str, Any]], result: FlushResult) -> None:
        """Second bulk: each page into its partition with the registry's time span, and one
        scripted upsert per onion service.

        A page is an update with ``doc`` and ``upsert`` (no script): a new page is created
        with ``indexed_at`` = now; an existing one gets every field but ``indexed_at``, which
        therefore stays the time the page was first stored (alerts read pages by it)."""
        now = _now()
        actions: list[dict[str, Any]] = []
        for pid, doc in docs.items():
            entry = placed[pid]
            doc["fetched_at"] = entry.get("fetched_at") or doc["fetched_at"]
            doc["last_fetched_at"] = entry.get("last_fetched_at") or doc["last_fetched_at"]
            actions.append({"_op_type": "update", "_index": self._partition(entry["partition"]), "_id": pid,
                            "retry_on_conflict": 5, "doc": doc, "upsert": dict(doc, indexed_at=now)})
        facts: dict[str, dict[str, Any]] = {}
        for r in records:
            facts[r["onion"]] = merge_service(facts.get(r["onion"]), service_fact(r))
        for onion, fact in facts.items():
            params = _timed_params(
                {k: fact.get(k) for k in ("onion", "first_seen", "last_seen", "first_checked", "last_checked",
                                          "last_status", "last_failure", "categories", "titles", "langs",
                                          "status", "wall", "wall_url", "wall_sha256", "seized_at", "seizure")},
                ("first_seen", "last_seen", "first_checked", "last_checked", "seized_at"))
            if params["seizure"]:
                params["seizure"] = dict(params["seizure"], fetched_at=params["seized_at"])
            params["now"] = now
            actions.append({"_op_type": "update", "_index": self.names.services, "_id": onion,
                            "retry_on_conflict": 5, "scripted_upsert": True, "upsert": {},
                            "script": {"source": SERVICE_SCRIPT, "lang": "painless", "params": params}})
        answers = self._send(actions) if actions else {}
        for pid, doc in docs.items():
            done, status, info = answers[pid]
            if done:
                result.pages += 1
            else:
                result.failed.append(Failure("page", pid, doc["url"], status, _clean_reason(info)))
        for onion in facts:
            done, status, info = answers[onion]
            if done:
                result.services += 1
            else:
                result.failed.append(Failure("service", onion, None, status, _clean_reason(info)))

    # -- the registry ------------------------------------------------------------------------

    def _backfill_registry(self) -> None:
        """Once per installation: enter pages stored before the registry existed (older
        writers), so their re-fetches go back to their own partition."""
        if self.es.exists(index=self._registry, id=BACKFILL_MARK):
            return
        from elasticsearch.helpers import scan

        actions = []
        for hit in scan(self.es, index=self.names.pages, query={"query": {"match_all": {}}},
                        _source=["fetched_at", "last_fetched_at"], size=1000):
            parsed = self.names.parse(hit["_index"])
            src = hit["_source"]
            if not parsed or not parsed[2] or not src.get("fetched_at"):
                continue
            first, last = utc(src["fetched_at"]), utc(src.get("last_fetched_at") or src["fetched_at"])
            actions.append({"_op_type": "create", "_index": self._registry, "_id": hit["_id"], "_source": {
                "partition": parsed[2], "fetched_at": first, "first_key": time_key(first),
                "last_fetched_at": last, "last_key": time_key(last)}})
        for i in range(0, len(actions), 1000):
            answers = self._send(actions[i:i + 1000])
            bad = [a for a, (ok, status, _) in answers.items() if not ok and status != 409]
            if bad:
                raise RuntimeError(f"could not enter {len(bad)} stored pages into {self._registry}")
        self.es.index(index=self._registry, id=BACKFILL_MARK, document={"partition": BACKFILL_MARK,
                                                                        "fetched_at": _now()})

    def _partition(self, partition: str) -> str:
        assert self._pages_spec is not None
        index = self.names.index(PAGES, self._pages_spec.version, partition)
        if index not in self._partitions:
            schema.ensure_partition(self.es, self.names, self._pages_spec, partition)
            self._partitions.add(index)
        return index
