"""The page record: the one definition of what flows from the crawler through enrich into
the index. docs/record.md documents it and configs/index/pages.v1.json maps it;
tests/test_record.py fails when either disagrees with the dataclasses here.

Records travel through Scrapy and the sink as plain dicts (``PageRecord.to_dict()``), so
enrich/ and index/ need nothing from this package; ``PageRecord.from_mapping`` is the gate
that cuts an enriched dict back to this shape before it is stored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

# Field metadata: "by" says which stage sets the field; "stored": False marks the fields the
# pages index never holds (the raw body goes to the snapshot store, a failure only to the
# service's last_failure, since a failed fetch stores no page document).
_CRAWLER = {"by": "crawler"}


@dataclass
class Entity:
    """A personal-data span: offsets into the (redacted) text, never the clear value."""

    label: str
    start: int
    end: int
    score: float
    masked: str
    hash: str


@dataclass
class Offer:
    """One thing offered for sale; parts the tagger could not find are None."""

    category: str
    commodity: str | None = None
    start: int | None = None
    end: int | None = None
    price: float | None = None
    currency: str | None = None
    quantity: float | None = None
    unit: str | None = None


@dataclass
class Evidence:
    """A span that drove a category decision."""

    category: str
    kind: str
    start: int
    end: int
    term: str


@dataclass
class PageRecord:
    """One fetched (or failed) URL."""

    url: str = field(metadata=_CRAWLER)
    onion: str = field(metadata=_CRAWLER)
    fetched_at: str = field(metadata=_CRAWLER)
    status: int | None = field(default=None, metadata=_CRAWLER)
    failure: str | None = field(default=None, metadata={"by": "crawler", "stored": False})
    wall: str | None = field(default=None, metadata={"by": "crawler", "stored": False})
    wall_evidence: list[str] = field(default_factory=list, metadata={"by": "crawler", "stored": False})
    content_type: str = field(default="", metadata=_CRAWLER)
    title: str = field(default="", metadata=_CRAWLER)
    text: str = field(default="", metadata={"by": "crawler, then enrich"})
    links: list[str] = field(default_factory=list, metadata=_CRAWLER)
    onion_links: list[str] = field(default_factory=list, metadata=_CRAWLER)
    lang: str = field(default="und", metadata={"by": "crawler hint, enrich decides"})
    sha256: str = field(default="", metadata=_CRAWLER)
    size: int = field(default=0, metadata=_CRAWLER)
    raw: bytes = field(default=b"", repr=False, metadata={"by": "crawler", "stored": False})
    depth: int = field(default=0, metadata=_CRAWLER)
    crawl_id: str = field(default="", metadata=_CRAWLER)
    categories: list[str] = field(default_factory=list, metadata={"by": "enrich"})
    entities: list[Entity] = field(default_factory=list, metadata={"by": "enrich"})
    offers: list[Offer] = field(default_factory=list, metadata={"by": "enrich"})
    evidence: list[Evidence] = field(default_factory=list, metadata={"by": "enrich"})
    page_kind: str | None = field(default=None, metadata={"by": "enrich"})
    model_version: str | None = field(default=None, metadata={"by": "enrich"})

    def to_dict(self) -> dict[str, Any]:
        """The record as it travels: a plain dict (nested shapes as dicts, bytes kept)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in NESTED:
            out[name] = [_shallow(x) for x in out[name]]
        return out

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PageRecord:
        """Build a record from a dict, keeping only the fields defined here (also inside
        entities, offers and evidence), so nothing a stage adds on the side is stored."""
        kwargs = {name: data[name] for name in FIELDS if name in data}
        for name, shape in NESTED.items():
            keys = [f.name for f in fields(shape)]
            kwargs[name] = [shape(**{k: item.get(k) for k in keys}) for item in data.get(name) or ()]
        return cls(**kwargs)


def _shallow(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


# A transient key the spider puts on a record's dict (never a PageRecord field, so the cut to
# the record's shape drops it before anything is stored): the page kind the page's HTML
# structure shows (crawler.structure), which the enricher named by ONIONWATCH_ENRICHER passes to
# the tagger as its page-kind hint (enrich.records.RecordEnricher reads the same name).
KIND_HINT = "kind_hint"

FIELDS: tuple[str, ...] = tuple(f.name for f in fields(PageRecord))
NESTED: dict[str, type] = {"entities": Entity, "offers": Offer, "evidence": Evidence}
STORED_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(PageRecord) if f.metadata.get("stored", True))
ENTITY_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Entity))


def shape(record: Mapping[str, Any]) -> dict[str, Any]:
    """An enriched record dict cut to the PageRecord shape (see from_mapping)."""
    return PageRecord.from_mapping(record).to_dict()


# Every value the crawler can put in a record's `failure`, and what it means. docs/record.md
# lists the same names (tests/test_docs.py, tests/test_record.py).
FAILURE_REASONS: dict[str, str] = {
    # Tor's extended SOCKS replies (crawler.tor.SOCKS_REASONS, 0xF0-0xF7)
    "onion_descriptor_not_found": "Tor found no descriptor for the service on the HSDirs (0xF0): gone or not yet published",
    "onion_descriptor_invalid": "the service's descriptor could not be parsed or verified (0xF1)",
    "onion_intro_failed": "every introduction point failed (0xF2)",
    "onion_rendezvous_failed": "the rendezvous circuit failed (0xF3)",
    "onion_missing_client_auth": "the service requires client authorisation we do not have (0xF4)",
    "onion_bad_client_auth": "the client authorisation was refused (0xF5)",
    "onion_bad_address": "the address is not a valid onion address (0xF6)",
    "onion_intro_timeout": "the introduction timed out (0xF7)",
    # RFC 1928 replies and SOCKS trouble
    "onion_unreachable": "Tor reported the host unreachable (SOCKS 0x04)",
    "connection_refused": "the connection was refused (SOCKS 0x05, or by the service)",
    "socks_error": "any other SOCKS failure (general failure, TTL expired, protocol errors)",
    # time and size caps
    "timeout": "no complete response within DOWNLOAD_TIMEOUT (wall clock, so a slow drip ends too)",
    "too_large": "the body exceeded DOWNLOAD_MAXSIZE; cut while downloading, nothing kept",
    "decompression_bomb": "the body exceeded DOWNLOAD_MAXSIZE while being decompressed",
    # policy: refused before any packet left
    "offsite": "the URL is not a v3 onion: refused before anything was sent",
    "offsite_redirect": "a redirect (HTTP or meta refresh) left the onion space: refused, never requested",
    "blocked": "the onion is on the blocklist: never requested",
    "url_too_long": "a seed or redirect target longer than URLLENGTH_LIMIT: never requested",
    "non_text_content": "media or binary content (by extension or Content-Type): body not downloaded or kept",
    "excluded": "a link never followed (log out, delete, vote, buy, send a message) or excluded by the site's profile: never requested",
    # answers that are not pages
    "http_error": "the service answered with an HTTP error status (status is set)",
    # walls (configs/walls.yaml, configs/seizure.yaml): recorded with `wall` and a sealed snapshot, never indexed as content
    "captcha": "a captcha stands in front of the content (never solved automatically; a profile may supply a session cookie)",
    "queue": "an EndGame-style queue or waiting room did not let us in within ONIONWATCH_QUEUE_MAX_WAIT",
    "js_required": "the page shows nothing without JavaScript",
    "login_required": "a login form (or a redirect to one) instead of the content",
    "rate_limited": "the site refused more requests (HTTP 429 or a notice) for longer than ONIONWATCH_RATE_LIMIT_MAX_WAIT",
    "seized": "a law-enforcement seizure banner in place of the site: the service's status becomes seized",
    # site profiles with a login (configs/sites/*.yaml)
    "login_failed": "the login form refused the profile's credentials; given up after session.max_failures in a row",
    "account_locked": "the site says the account is locked or suspended: no further login attempts",
    "login_loop": "every page goes back to the login form even right after logging in (or session.max_logins reached): stopped",
    "ignored": "dropped by a Scrapy component without a named reason (e.g. too many redirects)",
    "download_error": "any other download failure (connection reset, malformed HTTP, data loss)",
}
