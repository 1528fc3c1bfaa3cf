"""Page record → listing records and identifier occurrences (listings/records.py).

``ListingExtractor`` is a crawl processor: the item pipeline builds it from the setting
ONIONWATCH_PROCESSORS (with Scrapy's build_from_crawler) and calls it with each enriched
batch; it attaches ``listings`` and ``identifiers`` (plain dicts) to every record, which the
store writes beside the page. It reads the raw body (the clear page: personal data in it is
hashed and masked here, never passed on), the tagger's categories and offers, and nothing of
onionwatch but the data package ``configs``.

One page that fails to parse, or one listing that fails to read, never drops the page: the
page gets what could be read, and the counters say what went wrong (no content is logged).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

import configs
from listings.generic import (
    Candidate,
    GenericExtractor,
    PageContext,
    element_text,
    links_of,
    merge,
    parse_html,
)
from listings.identifiers import Found, IdentifierFinder, display, mask, value_hash
from listings.prices import PriceReader, to_usd
from listings.records import (
    PERSONAL_KINDS,
    Identifier,
    Listing,
    listing_id,
    normalise_title,
    normalise_vendor,
)
from listings.rules import SiteRule, load_rules

logger = logging.getLogger(__name__)

_LONG_DIGITS = re.compile(r"\d{9,}")
_AUTHOR_CUT = re.compile(r"\s*(?:·|\||•|—|–| - |,|\(|\n| on \d|\d{4}-\d{2}-\d{2}).*", re.DOTALL)


class _Settings(Protocol):
    def get(self, name: str, default: Any = None) -> Any: ...


class _Crawler(Protocol):
    settings: _Settings


@dataclass
class Extraction:
    listings: list[dict[str, Any]] = field(default_factory=list)
    identifiers: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def decode(raw: bytes, content_type: str = "") -> str:
    """Bytes as the page's own charset says (HTTP header, then <meta>), else UTF-8 leniently."""
    from w3lib.encoding import html_to_unicode

    header = f"text/html; charset={content_type.split('charset=')[-1]}" if "charset=" in content_type else None
    return html_to_unicode(header, raw)[1]


class ListingExtractor:
    """Extracts listings and identifiers from page records, in place (see module doc)."""

    fields = ("listings", "identifiers")  # the keys it attaches: the pipeline keeps them beside the page record

    def __init__(self, key: bytes, *, sites_dir: Path | None = None, rates: dict[str, float] | None = None,
                 extract_config: Path | None = None, market_config: Path | None = None) -> None:
        if not key:
            raise ValueError("a PII key is required: personal identifiers are stored as keyed hashes only")
        self.key = key
        self.cfg = _yaml(extract_config or configs.path("listings", "extract.yaml"))
        self.reader = PriceReader(_yaml(market_config or configs.path("tagger", "market.yaml")), self.cfg)
        self.generic = GenericExtractor(self.cfg, self.reader)
        self.rules: list[SiteRule] = load_rules(sites_dir if sites_dir is not None else configs.path("sites"))
        self.rates = dict(rates or {})
        limits = self.cfg.get("limits", {})
        self.max_html = int(limits.get("max_html_bytes", 6_000_000))
        self.max_title = int(limits.get("max_title_chars", 300))
        self.finder_args = {"max_pgp_block": int(limits.get("max_pgp_block_bytes", 65536)),
                            "max_pgp_blocks": int(limits.get("max_pgp_blocks", 20)),
                            "max_found": int(limits.get("max_identifiers", 2000))}
        self.counts: Counter[str] = Counter()

    @classmethod
    def from_crawler(cls, crawler: _Crawler) -> ListingExtractor:
        """ONIONWATCH_PII_KEY (required, the enricher's key), ONIONWATCH_LISTINGS (default on),
        ONIONWATCH_SITES (site rule files; default configs/sites), ONIONWATCH_LISTING_RATES
        (a YAML table {usd_per: {BTC: …}}; default none: price_usd only for USD prices)."""
        from scrapy.exceptions import NotConfigured  # only a crawl builds it this way

        s = crawler.settings
        enabled = s.get("ONIONWATCH_LISTINGS", True)
        if enabled in (False, 0, "0", "false", "False", "no"):
            raise NotConfigured("ONIONWATCH_LISTINGS is off")
        key = s.get("ONIONWATCH_PII_KEY") or b""
        if not key:
            raise NotConfigured("no ONIONWATCH_PII_KEY: identifiers could not be hashed")
        rates = None
        if s.get("ONIONWATCH_LISTING_RATES"):
            rates = (_yaml(Path(s.get("ONIONWATCH_LISTING_RATES"))) or {}).get("usd_per") or {}
        sites = s.get("ONIONWATCH_SITES")
        if isinstance(sites, (list, tuple)):  # the crawl add-on sets a list of profile directories
            sites = sites[0] if sites else None
        return cls(key.encode() if isinstance(key, str) else bytes(key), sites_dir=Path(sites) if sites else None,
                   rates=rates)

    # -- the processor --------------------------------------------------------------------------
    def __call__(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            try:
                result = self.extract_record(record)
            except Exception as exc:  # noqa: BLE001 — the page is stored whatever happens here
                self.counts["pages_failed"] += 1
                logger.warning("listing extraction failed on one page (%s); the page is kept", type(exc).__name__)
                result = Extraction(errors=[type(exc).__name__])
            record["listings"] = result.listings
            record["identifiers"] = result.identifiers

    def extract_record(self, record: dict[str, Any]) -> Extraction:
        raw = record.get("raw") or b""
        if record.get("failure") or not raw or "html" not in (record.get("content_type") or "text/html"):
            return Extraction()
        html = decode(bytes(raw[: self.max_html]) if isinstance(raw, (bytes, bytearray)) else str(raw).encode(),
                      record.get("content_type") or "")
        return self.extract(
            html, url=record.get("url") or "", onion=record.get("onion") or "", fetched_at=record.get("fetched_at") or "",
            lang=record.get("lang"), text=record.get("text") or "", offers=record.get("offers") or [],
            categories=record.get("categories") or [],
        )

    # -- one page ---------------------------------------------------------------------------------
    def extract(self, html: str, *, url: str, onion: str, fetched_at: str = "", lang: str | None = None,
                text: str = "", offers: list[dict[str, Any]] | tuple = (), categories: list[str] | tuple = ()) -> Extraction:
        self.counts["pages"] += 1
        root = parse_html(html[: self.max_html])
        if root is None:
            return Extraction()
        rule = next((r for r in self.rules if r.matches(onion, root)), None)
        market = (rule.market if rule and rule.market else None) or onion
        lang = None if lang in (None, "", "und") else lang
        candidates: list[Candidate] = []
        errors: list[str] = []
        page_vendor: str | None = None
        if rule is not None:
            try:
                candidates, page_vendor = self._by_rule(rule, root, url, lang)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"rule {rule.name}: {type(exc).__name__}")
        links = links_of(root, url)
        page_text = element_text(root.find("body") if root.find("body") is not None else root)
        ctx = PageContext(url=url, lang=lang)
        if rule is None or rule.generic:
            generic, ctx = self.generic.extract(root, url, lang, html)
            candidates = merge(candidates + generic)
            errors += ctx.errors
        page_vendor = page_vendor or ctx.page_vendor
        if not candidates:
            candidates = self._from_offer(root, ctx, offers, lang)
        listings: list[dict[str, Any]] = []
        by_candidate: list[tuple[Candidate, dict[str, Any]]] = []
        for c in candidates:
            try:
                rec = self._listing(c, market=market, url=url, onion=onion, fetched_at=fetched_at,
                                    text=text, offers=offers, categories=categories, single=len(candidates) == 1)
            except Exception as exc:  # noqa: BLE001 — one bad listing never drops the page
                errors.append(f"listing: {type(exc).__name__}")
                continue
            if rec is not None:
                listings.append(rec)
                by_candidate.append((c, rec))
        identifiers = self._identifiers(root, page_text, links, by_candidate, rule, page_vendor, url, onion,
                                        fetched_at, lang)
        self.counts["listings"] += len(listings)
        self.counts["identifiers"] += len(identifiers)
        self.counts["errors"] += len(errors)
        return Extraction(listings, identifiers, errors)

    def _by_rule(self, rule: SiteRule, root: Any, url: str, lang: str | None) -> tuple[list[Candidate], str | None]:
        out: list[Candidate] = []
        page_vendor = rule.vendor.value(root) if rule.vendor else None
        for block_sel, fields in rule.rows:
            for block in block_sel.all(root):
                if isinstance(block, str):
                    continue
                c = self._rule_fields(fields, block, lang, f"rule:{rule.name}", block)
                if c is not None:
                    out.append(c)
        if rule.listing_fields and (rule.listing_when is None or rule.listing_when.all(root)):
            c = self._rule_fields(rule.listing_fields, root, lang, f"rule:{rule.name}", None)
            if c is not None:
                out.append(c)
        for c in out:
            c.fields.setdefault("vendor", page_vendor) if page_vendor else None
        return out, page_vendor

    def _rule_fields(self, fields: Any, el: Any, lang: str | None, source: str, block: Any) -> Candidate | None:
        values: dict[str, Any] = {}
        for name, sel in fields.items():
            v = sel.value(el)
            if v is None:
                continue
            if name == "title":
                values["title"] = v
            else:
                self.generic._set(values, name, v, lang)
        if not values.get("title"):
            return None
        return Candidate(values, source, block, lang)

    def _from_offer(self, root: Any, ctx: PageContext, offers: Any, lang: str | None) -> list[Candidate]:
        """A page with no listing structure but a priced offer the tagger found (a forum thread
        selling something, a one-product shop page): one listing named by its heading."""
        priced = [o for o in offers or () if o.get("price") is not None]
        h1 = root.find(".//h1")
        heading = " ".join(h1.itertext()).strip() if h1 is not None else ""
        posts = self._post_authors(root, None)
        if not priced or not heading or not posts:  # a thread, not an index of threads or a home page
            return []
        o = priced[0]
        fields: dict[str, Any] = {"title": heading, "price": o["price"], "currency": o.get("currency")}
        if o.get("quantity") is not None:
            fields.update(quantity=o["quantity"], unit=o.get("unit"))
        fields["vendor"] = posts[0][1]
        return [Candidate(fields, "offer", None, lang)]

    # -- records ----------------------------------------------------------------------------------
    def _listing(self, c: Candidate, *, market: str, url: str, onion: str, fetched_at: str, text: str,
                 offers: Any, categories: Any, single: bool) -> dict[str, Any] | None:
        f = c.fields
        title = self._mask_title(str(f.get("title") or ""))[: self.max_title]
        if not title.strip():
            return None
        price = f.get("price")
        vendor = self._mask_title(str(f["vendor"]))[:120] if f.get("vendor") else None
        rec = Listing(
            listing_id=listing_id(market, vendor, title), market=market, title=title,
            price=float(price) if price is not None else None,
            price_max=float(f["price_max"]) if f.get("price_max") is not None else None,
            currency=f.get("currency"), price_usd=to_usd(price, f.get("currency"), self.rates),
            price_note=f.get("price_note"),
            quantity=float(f["quantity"]) if f.get("quantity") is not None else None, unit=f.get("unit"),
            vendor=vendor, vendor_norm=normalise_vendor(vendor), title_norm=normalise_title(title),
            ships_from=f.get("ships_from"), ships_to=f.get("ships_to"),
            category=self._category(title, text, offers, categories, single),
            site_category=f.get("category"), listed_at=f.get("listed_at"), lang=c.lang, url=url, onion=onion,
            fetched_at=fetched_at, source=c.source,
        )
        return rec.to_dict()

    def _mask_title(self, title: str) -> str:
        """Titles are stored in clear, so personal identifiers and long digit runs in them are masked."""
        finder = IdentifierFinder(max_pgp_blocks=0)
        out = list(title)
        for hit in finder.find(title):
            if hit.kind in PERSONAL_KINDS and hit.end > hit.start:
                span = title[hit.start:hit.end]
                masked = mask(hit.kind, span)
                out[hit.start:hit.end] = masked if len(masked) == len(span) else "•" * len(span)
        masked = "".join(out)
        return _LONG_DIGITS.sub(lambda m: m.group()[:2] + "•" * (len(m.group()) - 2), masked)

    @staticmethod
    def _category(title: str, text: str, offers: Any, categories: Any, single: bool) -> str | None:
        """The tagger's category: the page's when it has one (or the listing is the page's only
        one), else that of the tagged offer nearest after the listing's title in the page text."""
        cats = list(dict.fromkeys(categories or []))
        if single and len(cats) == 1:
            return cats[0]
        if not offers:
            return None
        low = text.lower()
        pos = low.find(title.lower()[:80]) if title else -1
        if pos < 0:
            return cats[0] if single and cats else None
        near = [o for o in offers if o.get("start") is not None and pos - 40 <= o["start"] <= pos + len(title) + 240]
        if near:
            return min(near, key=lambda o: abs(o["start"] - pos)).get("category")
        return cats[0] if single and cats else None

    # -- identifiers ----------------------------------------------------------------------------
    def _post_authors(self, root: Any, rule: SiteRule | None) -> list[tuple[Any, str]]:
        from lxml.cssselect import CSSSelector

        if rule is not None and rule.posts is not None:
            block_sel, author_sel = rule.posts
            blocks = [b for b in block_sel.all(root) if not isinstance(b, str)]
            pairs = [(b, author_sel.value(b)) for b in blocks]
        else:
            posts = self.cfg.get("posts") or {}
            if not posts:
                return []
            blocks = CSSSelector(posts["block"])(root)
            author_sel = CSSSelector(posts["author"])
            pairs = []
            for b in blocks:
                hit = author_sel(b)
                pairs.append((b, " ".join(hit[0].itertext()) if hit else None))
        out = []
        for b, author in pairs:
            name = _AUTHOR_CUT.sub("", " ".join((author or "").split())).strip()
            if name and len(name) <= 64:
                out.append((b, name))
        return out

    def _identifiers(self, root: Any, page_text: str, links: list[str], listings: list[tuple[Candidate, dict[str, Any]]],
                     rule: SiteRule | None, page_vendor: str | None, url: str, onion: str, fetched_at: str,
                     lang: str | None) -> list[dict[str, Any]]:
        finder = IdentifierFinder(**self.finder_args)
        out: dict[tuple[str, str, str | None], dict[str, Any]] = {}
        claimed: set[tuple[str, str]] = set()
        own = onion.lower()

        def emit(hits: list[Found], listing: dict[str, Any] | None, vendor: str | None) -> None:
            for h in hits:
                if h.kind == "onion" and h.value == own:
                    continue
                lid = listing["listing_id"] if listing else None
                k = (h.kind, h.value, lid)
                if k in out or (listing is None and (h.kind, h.value) in claimed):
                    continue
                claimed.add((h.kind, h.value))
                out[k] = Identifier(
                    kind=h.kind, value_hash=value_hash(h.kind, h.value, self.key), masked=mask(h.kind, h.value),
                    display=display(h.kind, h.value), url=url, onion=onion, listing_id=lid,
                    vendor=vendor, vendor_norm=normalise_vendor(vendor), key_id=h.key_id, source=h.source, fetched_at=fetched_at,
                ).to_dict()

        # identifiers inside one listing's block belong to that listing and its vendor
        for c, rec in listings:
            if c.element is not None:
                el_links = links_of(c.element, url, 200)
                emit(finder.find(element_text(c.element), el_links, lang=lang), rec, rec.get("vendor"))
        # a forum post's identifiers belong to its author
        for block, author in self._post_authors(root, rule):
            emit(finder.find(element_text(block), links_of(block, url, 200), lang=lang), None, author)
        # the rest of the page: the page's one listing, else the vendor whose page it is
        single = listings[0][1] if len(listings) == 1 and listings[0][0].element is None else None
        vendor = page_vendor or (single.get("vendor") if single else None)
        emit(finder.find(_pgp_text(root) + "\n" + page_text, links, lang=lang), single, vendor)
        self.counts.update(f"rejected_{r.kind}_{r.reason}" for r in finder.rejected)
        return list(out.values())


def _pgp_text(root: Any) -> str:
    """Armoured key blocks keep their line breaks only inside <pre>/<textarea>/<code>: give the
    finder those texts as they are."""
    parts = []
    for el in root.iter("pre", "textarea", "code"):
        t = "".join(el.itertext())
        if "BEGIN PGP" in t:
            parts.append(t)
    return "\n".join(parts)
