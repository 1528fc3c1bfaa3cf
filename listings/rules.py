"""Per-site extraction rules, as data: the ``extract:`` key of configs/sites/<name>.yaml (the same
files hold a site's crawl profile under their other keys), for the sites where the generic
extractor is wrong.

  name: bazaar                      # the file's site name
  onions: [<56 chars>.onion, ...]  # the site and its mirrors (shared with the crawl profile)
  extract:
    market: Dream Bazaar            # one market name for every mirror: listings keep their identity
    match:                          # which pages the rule applies to: onion, or a page fingerprint
      onions: [...]                 #   (defaults to the file's top-level onions)
      title: "— Dream Bazaar$"      #   regex on <title>
      selector: "meta[name=generator][content^=bazaar]"   # CSS or XPath that must match
    listing:                        # a listing's own page
      when: "table.item"            #   only pages where this matches
      fields: {title: "h1", price: "//th[.='Price']/following-sibling::td", vendor: "td.seller a"}
    rows:                           # many listings on one page, one per block
      - block: "table.listings tr.item"
        fields: {title: "td.name a", price: "td.price", vendor: "td.seller", ships_to: "td.to"}
    vendor: "h1.vendor-name"        # the page's vendor (a vendor's shop page)
    posts: {block: "article", author: "h3"}   # identifiers in a post belong to its author
    generic: false                  # also run the generic extractor (default true)

A selector is XPath when it starts with "/", "./", "(" or "xpath:", else CSS. Field values are
the matched element's text (or an attribute, with XPath ``/@attr``) and go through the same
parsing as the generic extractor's (prices, quantities, dates). ``load_rules`` checks every
selector and regex when it reads the files: a broken rule fails loudly, naming its file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from lxml import etree
from lxml.cssselect import CSSSelector, SelectorError

RULE_FIELDS = frozenset({"title", "vendor", "price", "quantity", "ships_from", "ships_to", "category", "listed_at"})
_RULE_KEYS = frozenset({"market", "match", "listing", "rows", "vendor", "posts", "generic"})


class RuleError(ValueError):
    """A rule file that cannot work as written."""


@dataclass(frozen=True)
class Selector:
    text: str
    compiled: Any

    @classmethod
    def of(cls, text: str, where: str) -> Selector:
        if not isinstance(text, str) or not text.strip():
            raise RuleError(f"{where}: a selector must be a non-empty string")
        expr = text.strip()
        try:
            if expr.startswith("xpath:"):
                return cls(text, etree.XPath(expr[6:].strip()))
            if expr.startswith(("/", "./", "(")):
                return cls(text, etree.XPath(expr))
            return cls(text, CSSSelector(expr))
        except (etree.XPathSyntaxError, SelectorError, etree.XPathEvalError) as exc:
            raise RuleError(f"{where}: invalid selector {text!r}: {exc}") from exc

    def all(self, el: Any) -> list[Any]:
        try:
            found = self.compiled(el)
        except etree.XPathEvalError:
            return []
        return found if isinstance(found, list) else [found]

    def value(self, el: Any) -> str | None:
        for hit in self.all(el):
            text = hit if isinstance(hit, str) else " ".join(hit.itertext())
            text = " ".join(str(text).split())
            if text:
                return text
        return None


@dataclass(frozen=True)
class SiteRule:
    name: str
    path: Path
    market: str | None = None
    onions: frozenset[str] = frozenset()
    title: re.Pattern[str] | None = None
    selector: Selector | None = None
    listing_when: Selector | None = None
    listing_fields: Mapping[str, Selector] = field(default_factory=dict)
    rows: tuple[tuple[Selector, Mapping[str, Selector]], ...] = ()
    vendor: Selector | None = None
    posts: tuple[Selector, Selector] | None = None
    generic: bool = True

    def matches(self, onion: str, root: Any) -> bool:
        """Keyed by onion when the rule names onions; else (or also) by the page fingerprint."""
        fingerprint = self.title is not None or self.selector is not None
        if self.onions and onion.lower() not in self.onions:
            return False
        if not fingerprint:
            return bool(self.onions)
        if self.title is not None:
            t = root.find(".//title")
            if t is None or not self.title.search(" ".join(t.itertext())):
                return False
        return self.selector is None or bool(self.selector.all(root))


def _fields(raw: Any, where: str) -> dict[str, Selector]:
    if not isinstance(raw, Mapping) or not raw:
        raise RuleError(f"{where}: fields must be a mapping of field → selector")
    unknown = set(raw) - RULE_FIELDS
    if unknown:
        raise RuleError(f"{where}: unknown field(s) {sorted(unknown)}; known: {sorted(RULE_FIELDS)}")
    if "title" not in raw:
        raise RuleError(f"{where}: a listing needs a title selector")
    return {k: Selector.of(v, f"{where}.{k}") for k, v in raw.items()}


def parse_rule(data: Mapping[str, Any], path: Path) -> SiteRule | None:
    """The rule in one site file, or None when the file has no ``extract:`` key."""
    raw = data.get("extract")
    if raw is None:
        return None
    where = f"{path.name}: extract"
    if not isinstance(raw, Mapping):
        raise RuleError(f"{where} must be a mapping")
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise RuleError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(_RULE_KEYS)}")
    match = raw.get("match") or {}
    onions = match.get("onions", data.get("onions")) or []
    if isinstance(onions, str):
        onions = [onions]
    bad = [o for o in onions if not re.fullmatch(r"[a-z2-7]{56}\.onion", str(o).lower())]
    if bad:
        raise RuleError(f"{where}: not v3 onion addresses: {bad}")
    try:
        title = re.compile(match["title"]) if match.get("title") else None
    except re.error as exc:
        raise RuleError(f"{where}.match.title: {exc}") from exc
    if not onions and title is None and not match.get("selector"):
        raise RuleError(f"{where}: a rule must match by onions or by a page fingerprint (match.title / match.selector)")
    listing = raw.get("listing") or {}
    rows = []
    for i, row in enumerate(raw.get("rows") or []):
        rows.append((Selector.of(row.get("block"), f"{where}.rows[{i}].block"), _fields(row.get("fields"), f"{where}.rows[{i}]")))
    posts = raw.get("posts")
    return SiteRule(
        name=str(data.get("name") or path.stem), path=path, market=raw.get("market"),
        onions=frozenset(str(o).lower() for o in onions), title=title,
        selector=Selector.of(match["selector"], f"{where}.match.selector") if match.get("selector") else None,
        listing_when=Selector.of(listing["when"], f"{where}.listing.when") if listing.get("when") else None,
        listing_fields=_fields(listing["fields"], f"{where}.listing") if listing else {},
        rows=tuple(rows),
        vendor=Selector.of(raw["vendor"], f"{where}.vendor") if raw.get("vendor") else None,
        posts=(Selector.of(posts.get("block"), f"{where}.posts.block"), Selector.of(posts.get("author"), f"{where}.posts.author"))
        if posts else None,
        generic=bool(raw.get("generic", True)),
    )


def load_rules(sites_dir: Path | None) -> list[SiteRule]:
    """Every ``extract:`` rule under ``sites_dir`` (configs/sites); files without one are crawl
    profiles only and are skipped. A missing directory means no rules."""
    if sites_dir is None or not Path(sites_dir).is_dir():
        return []
    rules = []
    for path in sorted(Path(sites_dir).glob("*.y*ml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise RuleError(f"{path.name}: not YAML: {exc}") from exc
        if not isinstance(data, Mapping):
            raise RuleError(f"{path.name}: expected a mapping")
        rule = parse_rule(data, path)
        if rule is not None:
            rules.append(rule)
    return rules
