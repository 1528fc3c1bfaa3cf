"""What the pages and the JSON API show, built once from index/ results so both agree.

Every string in here that came from a crawled page is still raw text: templates escape
it (autoescape) and the API emits JSON. The only HTML is a search snippet, which
index.search returns escaped with nothing but our <mark> tags raw; ``safe_snippet``
re-checks that before a template may insert it unescaped.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable

from elasticsearch import Elasticsearch
from markupsafe import Markup

import alerts
import configs
import index
from onionwatch.web import sources
from onionwatch.web.sources import BadRequest

CATEGORIES = sources.CATEGORIES
PAGE_KINDS = ("listing", "shop", "forum", "paste", "news", "other")  # enrich.pagekind.KINDS (tests check)
SORTS = index.query.SORTS
PAGE_SIZES = (10, 20, 50, 100)
CONTEXT_CHARS = 60
MAX_OTHER_CRAWLS_SCAN = 500  # pages of one onion scanned for other crawls of a URL
_ONION = re.compile(r"^[a-z2-7]{56}\.onion$")
_LANG = re.compile(r"^[a-z]{2,3}$")
_LABEL = re.compile(r"^[A-Z][A-Z0-9_]{0,40}$")
_DOC_ID = re.compile(r"^[0-9a-f]{40}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SNIPPET_TOKEN = re.compile(r"(</?mark>)")


def installation_alert_config() -> alerts.AlertConfig:
    """The alert rules `onionwatch alerts` uses: the configs in force plus <home>/alerts.yaml."""
    from onionwatch import settings

    return alerts.load_config(configs.root(), home=settings.home())


@dataclass
class Backend:
    """What the app reads from: a connected client, the index names, the snapshot key, and
    where the alert rules come from."""

    es: Elasticsearch
    names: index.Names
    snapshot_key: Callable[[], bytes]
    entity_labels: list[str] = field(default_factory=list)
    alert_config: Callable[[], alerts.AlertConfig] = installation_alert_config
    # a warning shown on every page, e.g. the embedded server nearing its page limit
    capacity_note: Callable[[], str | None] = lambda: None


def safe_snippet(snippet: str) -> Markup:
    """The snippet as Markup only if every tag in it is <mark>/</mark> and every other
    character is already escaped; otherwise escape the whole thing (defence in depth)."""
    parts = _SNIPPET_TOKEN.split(snippet or "")
    for part in parts:
        if part in ("<mark>", "</mark>"):
            continue
        if "<" in part or ">" in part or '"' in part or re.search(r"&(?![a-zA-Z]+;|#\d+;|#x[0-9a-fA-F]+;)", part):
            return Markup.escape(html.unescape(_SNIPPET_TOKEN.sub("", snippet)))
    return Markup(snippet or "")


def normalise_onion(value: str) -> str:
    """An onion host from user input (case, scheme and path tolerated); BadRequest otherwise."""
    host = value.strip().lower()
    host = re.sub(r"^[a-z]+://", "", host).split("/", 1)[0]
    if not host.endswith(".onion"):
        host += ".onion"
    if not _ONION.match(host):
        raise BadRequest("onion must be a v3 onion address (56 characters + .onion)")
    return host


def parse_date(value: str | None, name: str) -> str | None:
    if not value:
        return None
    text = value.strip()
    try:
        date.fromisoformat(text)
    except ValueError:
        try:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise BadRequest(f"{name} must be a date (YYYY-MM-DD) or an RFC 3339 time") from exc
    return text


@dataclass
class SearchParams:
    q: str = ""
    categories: list[str] = field(default_factory=list)
    entity_labels: list[str] = field(default_factory=list)
    onion: str | None = None
    since: str | None = None
    until: str | None = None
    lang: str | None = None
    kinds: list[str] = field(default_factory=list)
    sort: str = "relevance"
    size: int = 20
    after: str | None = None

    @classmethod
    def from_args(cls, args: Any) -> "SearchParams":
        """From a request's query arguments (a werkzeug MultiDict)."""
        cats = [c for c in args.getlist("category") if c]
        if bad := [c for c in cats if c not in CATEGORIES]:
            raise BadRequest(f"unknown category {bad[0]!r}; one of {', '.join(CATEGORIES)}")
        labels = [e.strip().upper() for e in args.getlist("entity") if e.strip()]
        if bad := [e for e in labels if not _LABEL.match(e)]:
            raise BadRequest(f"invalid entity type {bad[0][:40]!r}")
        lang = (args.get("lang") or "").strip().lower() or None
        if lang and not _LANG.match(lang):
            raise BadRequest("lang must be an ISO 639-1 code such as vi")
        kinds = [k for k in args.getlist("kind") if k]
        if bad := [k for k in kinds if k not in PAGE_KINDS]:
            raise BadRequest(f"unknown page kind {bad[0][:40]!r}; one of {', '.join(PAGE_KINDS)}")
        sort = args.get("sort") or "relevance"
        if sort not in SORTS:
            raise BadRequest(f"sort must be one of {', '.join(SORTS)}")
        try:
            size = int(args.get("size") or 20)
        except ValueError as exc:
            raise BadRequest("size must be a number") from exc
        if not 1 <= size <= 100:
            raise BadRequest("size must be between 1 and 100")
        onion = args.get("onion", "").strip()
        return cls(
            q=(args.get("q") or "").strip()[:500], categories=cats, entity_labels=labels,
            onion=normalise_onion(onion) if onion else None, since=parse_date(args.get("since"), "since"),
            until=parse_date(args.get("until"), "until"), lang=lang, kinds=kinds, sort=sort, size=size,
            after=(args.get("after") or None),
        )

    def query_args(self, **override: Any) -> dict[str, Any]:
        """URL arguments reproducing this search (for paging and sort links)."""
        out: dict[str, Any] = {"q": self.q, "category": self.categories, "entity": self.entity_labels,
                               "onion": self.onion, "since": self.since, "until": self.until, "lang": self.lang,
                               "kind": self.kinds,
                               "sort": self.sort, "size": self.size if self.size != 20 else None}
        out.update(override)
        return {k: v for k, v in out.items() if v not in (None, "", [])}


def search(backend: Backend, params: SearchParams) -> dict[str, Any]:
    try:
        return index.search(
            backend.es, backend.names, params.q, categories=params.categories, entity_labels=params.entity_labels,
            onion=params.onion, since=params.since, until=params.until, lang=params.lang, page_kind=params.kinds,
            sort=params.sort,
            size=params.size, after=params.after,
        )
    except ValueError as exc:  # bad paging token, or one from another sort order
        raise BadRequest(str(exc)) from exc


def _excerpt(text: str, start: Any, end: Any) -> dict[str, str] | None:
    """Span of the (redacted) page text with some context, as three plain strings."""
    if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start <= end <= len(text):
        return None
    lo, hi = max(0, start - CONTEXT_CHARS), min(len(text), end + CONTEXT_CHARS)
    return {"before": ("…" if lo else "") + text[lo:start], "match": text[start:end],
            "after": text[end:hi] + ("…" if hi < len(text) else "")}


def _evidence_by_category(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    text = doc.get("text") or ""
    grouped: dict[str, list[dict[str, Any]]] = {c: [] for c in doc.get("categories") or []}
    for ev in doc.get("evidence") or []:
        item = {"kind": ev.get("kind"), "term": ev.get("term"), "start": ev.get("start"), "end": ev.get("end"),
                "excerpt": _excerpt(text, ev.get("start"), ev.get("end"))}
        grouped.setdefault(ev.get("category") or "other", []).append(item)
    return grouped


def other_crawls(backend: Backend, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Other stored versions of the same URL (same URL, different content), newest first.

    index.search filters by onion, not by URL, so this scans the onion's newest pages (bounded)."""
    if not doc.get("onion") or not doc.get("url"):
        return []
    found = index.search(backend.es, backend.names, "", onion=doc["onion"], sort="newest", size=MAX_OTHER_CRAWLS_SCAN)
    return [{"id": h["id"], "fetched_at": h["fetched_at"], "sha256": h["sha256"], "title": h["title"]}
            for h in found["hits"] if h["url"] == doc["url"] and h["id"] != doc.get("doc_id")]


def page_record(backend: Backend, doc_id: str) -> dict[str, Any] | None:
    """One page with its evidence grouped by category and its other crawls."""
    if not _DOC_ID.match(doc_id):
        return None
    doc = index.get_page(backend.es, backend.names, doc_id)
    if doc is None:
        return None
    text = doc.get("text") or ""
    entities = [dict(e, excerpt=_excerpt(text, e.get("start"), e.get("end"))) for e in doc.get("entities") or []]
    offers = [dict(o, excerpt=_excerpt(text, o.get("start"), o.get("end"))) for o in doc.get("offers") or []]
    return {
        "id": doc.get("doc_id", doc_id), "url": doc.get("url"), "onion": doc.get("onion"), "title": doc.get("title"),
        "fetched_at": doc.get("fetched_at"), "last_fetched_at": doc.get("last_fetched_at"),
        "status": doc.get("status"), "failure": doc.get("failure"), "content_type": doc.get("content_type"),
        "lang": doc.get("lang"), "size": doc.get("size"), "sha256": doc.get("sha256"), "crawl_id": doc.get("crawl_id"),
        "page_kind": doc.get("page_kind"), "model_version": doc.get("model_version"),
        "categories": doc.get("categories") or [], "evidence": _evidence_by_category(doc), "entities": entities,
        "offers": offers, "onion_links": doc.get("onion_links") or [], "links": doc.get("links") or [],
        "text": text, "other_crawls": other_crawls(backend, doc),
    }


def snapshot(backend: Backend, doc_id: str) -> tuple[str, bytes] | None:
    """(sha256, verified raw body) of a stored page's snapshot; None if the page is unknown.
    Raises index.SnapshotError when the page exists but its snapshot cannot be produced."""
    if not _DOC_ID.match(doc_id):
        return None
    doc = index.get_page(backend.es, backend.names, doc_id)
    sha = (doc or {}).get("sha256") or ""
    if not _SHA256.match(sha):
        return None
    return sha, index.get_snapshot(backend.es, backend.names, sha, backend.snapshot_key())


def service_record(backend: Backend, onion: str, *, size: int = 50) -> dict[str, Any] | None:
    """An onion service: its document, newest pages, and liveness history (when checks exist)."""
    try:
        host = normalise_onion(onion)
    except BadRequest:
        return None
    svc = index.get_service(backend.es, backend.names, host)
    if svc is None:
        return None
    pages = index.search(backend.es, backend.names, "", onion=host, sort="newest", size=size)
    return {"service": svc, "pages": pages["hits"], "page_total": pages["total"],
            "history": sources.service_history(backend.es, backend.names, host)}


def services(backend: Backend, category: str | None, size: int = 200) -> list[dict[str, Any]]:
    if category and category not in CATEGORIES:
        raise BadRequest(f"unknown category {category!r}")
    return index.services(backend.es, backend.names, category=category, size=size)


def overview(backend: Backend) -> dict[str, Any]:
    return index.counts(backend.es, backend.names)
