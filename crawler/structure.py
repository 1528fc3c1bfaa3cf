"""A page-kind hint from the page's HTML structure, for the tagger.

On a market listing the commodity alone is the offer; on a forum post it needs sale cues. The
text alone often cannot tell ("ARCTIC WOLF HEROIN 0.5G AAA+" over a long description reads
like prose), but the HTML can: schema.org Product/Offer items, a table whose header names a
price column, repeated blocks that each hold a link and a price, a product page's own markup,
forum software's post markup. The hint is given only when the structure says so
unambiguously; otherwise there is none and the tagger decides from the text (paste pages too:
configs/structure.yaml says why).

The names are the tagger's page kinds (enrich.pagekind.KINDS; tests/test_structure.py keeps
them in step): ``listing`` (one item's page), ``shop`` (several priced items), ``forum``. The markers are data (configs/structure.yaml). Works on the tree the extractor
already parsed (no second parse) and is bounded: one pass over at most ``max_elements``
elements, capped JSON-LD, tables, rows and block text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

import configs

HINTS = ("listing", "shop", "forum")
_BLOCK_ITEMS = frozenset(("li", "div", "article", "section", "p", "dl"))
_SHORT = 48  # a price "standing alone": in a text node of at most this many characters
_LABEL_STRIP = " :：*#\u00a0\t\r\n"


def _words(values: Any) -> tuple[str, ...]:
    return tuple(str(v).lower() for v in values or ())


@dataclass(frozen=True)
class StructureRules:
    """The markers of configs/structure.yaml, with the price words of the tagger and the
    listing extractor."""

    forum_generators: tuple[str, ...]
    forum_classes: frozenset[str]
    forum_ids: re.Pattern[str]
    forum_types: frozenset[str]
    post_ids: re.Pattern[str]
    min_posts: int
    blog_classes: frozenset[str]
    blog_generators: tuple[str, ...]
    product_types: frozenset[str]
    offer_types: frozenset[str]
    listing_classes: frozenset[str]
    min_blocks: int
    price_labels: tuple[str, ...]
    price: re.Pattern[str]
    limits: dict[str, int]

    @classmethod
    def load(cls, root: Path | None = None) -> StructureRules:
        base = Path(root) if root is not None else configs.root()
        cfg = yaml.safe_load((base / "structure.yaml").read_text(encoding="utf-8"))
        market = yaml.safe_load((base / "tagger" / "market.yaml").read_text(encoding="utf-8"))
        labels = yaml.safe_load((base / "listings" / "extract.yaml").read_text(encoding="utf-8"))["labels"]
        forum, listing = cfg["forum"], cfg["listing"]
        return cls(
            forum_generators=_words(forum["generators"]),
            forum_classes=frozenset(forum["classes"]),
            forum_ids=re.compile(forum["ids"]),
            forum_types=frozenset(forum["types"]),
            post_ids=re.compile(forum["post_ids"]),
            min_posts=int(forum["min_posts"]),
            blog_classes=frozenset(forum["blog_classes"]),
            blog_generators=_words(forum["blog_generators"]),
            product_types=frozenset(listing["product_types"]),
            offer_types=frozenset(listing["offer_types"]),
            listing_classes=frozenset(listing["classes"]),
            min_blocks=int(listing["min_blocks"]),
            price_labels=tuple(sorted(_words(labels["price"]), key=len, reverse=True)),
            price=_price_pattern(market),
            limits={k: int(v) for k, v in cfg["limits"].items()},
        )


def _price_pattern(market: dict[str, Any]) -> re.Pattern[str]:
    """A number with a currency word of the tagger's (configs/tagger/market.yaml) before or
    after it; multiplier words ("k", "jt") alone are not a currency."""
    multipliers = {str(m).lower() for m in market.get("multipliers") or {}}

    def alt(words: Any) -> str:
        ws = sorted({str(w).lower() for w in words} - multipliers, key=len, reverse=True)
        return "|".join(re.escape(w) for w in ws)

    return re.compile(
        rf"(?i)(?<![^\W\d_])(?:{alt(market['currency_prefix'])})\s?\d"
        rf"|\d[\d.,]*\s?(?:{alt(market['currency_suffix'])})(?![^\W\d_])"
    )


@lru_cache(maxsize=4)
def _rules_at(root: str) -> StructureRules:
    return StructureRules.load(Path(root))


def rules() -> StructureRules:
    """The rules of the configs in force ($ONIONWATCH_CONFIGS read now), loaded once per root."""
    return _rules_at(str(configs.root()))


def _type_names(value: Any) -> Iterator[str]:
    """schema.org type names from an itemtype/typeof attribute or a JSON-LD @type:
    "http://schema.org/Product" / "schema:Product" / ["Product", …] → "Product"."""
    items = value if isinstance(value, list) else str(value or "").split()
    for item in items:
        if isinstance(item, str) and item:
            yield re.split(r"[/:#]", item.rstrip("/"))[-1]


@dataclass
class _Seen:
    """What the one pass over the page found."""

    generator: str = ""
    forum_marks: int = 0
    post_ids: int = 0
    blog: bool = False
    listing_marks: int = 0
    items: int = 0  # schema.org products (and offers outside a product)


def _jsonld(texts: list[str], r: StructureRules, seen: _Seen) -> None:
    budget = r.limits["max_jsonld_nodes"]
    for text in texts:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            continue
        stack: list[tuple[Any, bool]] = [(data, False)]
        while stack and budget > 0:
            node, in_product = stack.pop()
            if isinstance(node, list):
                stack.extend((x, in_product) for x in node[:budget])
                continue
            if not isinstance(node, dict):
                continue
            budget -= 1
            names = set(_type_names(node.get("@type")))
            if names & r.product_types:
                seen.items += 1
                in_product = True
            elif names & r.offer_types and not in_product:
                seen.items += 1
            if names & r.forum_types:
                seen.forum_marks += 1
            stack.extend((v, in_product) for v in node.values() if isinstance(v, (dict, list)))


def _microdata(products: list[Any], offers: list[Any], seen: _Seen) -> None:
    """Products not inside another product, offers not inside a product: one item each."""
    ids = {id(p) for p in products}
    for el in products + offers:
        if not any(id(a) in ids for a in el.iterancestors()):
            seen.items += 1


def _label(text: str, labels: tuple[str, ...]) -> bool:
    """A header or key cell that names the price ("Price", "Giá", "Price (excl. tax)")."""
    low = " ".join(text.split()).lower().strip(_LABEL_STRIP)
    for word in labels:
        if low == word or (low.startswith(word) and not low[len(word)].isalnum() and len(low) <= len(word) + 24):
            return True
    return False


def _cells(tr: Any) -> list[Any]:
    return [c for c in tr if c.tag in ("td", "th")]


def _rows(table: Any, limit: int) -> list[Any]:
    out: list[Any] = []
    for child in table:
        if child.tag == "tr":
            out.append(child)
        elif child.tag in ("thead", "tbody", "tfoot"):
            out.extend(tr for tr in child if tr.tag == "tr")
        if len(out) >= limit:
            break
    return out[:limit]


def _tables(tables: list[Any], r: StructureRules) -> tuple[int, int]:
    """(item rows under a header that names a price column, key/value rows stating a price).
    A header table of items is a shop's (a vendor's page with one item still lists it)."""
    priced = keyed = 0
    for table in tables:
        rows = _rows(table, r.limits["max_rows"])
        header: list[Any] | None = None
        column = -1
        for tr in rows:
            cells = _cells(tr)
            if header is None and len(cells) >= 2 and all(c.tag == "th" for c in cells):
                header = cells
                column = next((i for i, c in enumerate(cells) if _label(c.text_content(), r.price_labels)), -1)
                continue
            if len(cells) == 2 and _label(cells[0].text_content(), r.price_labels) and any(ch.isdigit() for ch in cells[1].text_content()):
                keyed += 1
            elif (column >= 0 and header is not None and len(cells) == len(header)
                  and any(ch.isdigit() for ch in cells[column].text_content())
                  and tr.find(".//a[@href]") is not None):
                priced += 1  # an item's row: its price, and a link (to the item, its vendor)
    return priced, keyed


def _stands_alone(el: Any, r: StructureRules, budget: list[int]) -> bool:
    """The block has a price in a short text node of its own ("— 0.05 BTC", "£12.00"), not
    inside a sentence ("caught with $4.5 million in ivory")."""
    cap = r.limits["max_block_chars"]
    used = 0
    for piece in el.itertext():
        used += len(piece)
        s = piece.strip()
        if s and len(s) <= _SHORT and r.price.search(s):
            budget[0] -= used
            return True
        if used >= cap:
            break
    budget[0] -= used
    return False


def _blocks(parents: list[Any], r: StructureRules) -> int:
    """The most priced members of one group of repeated blocks (siblings with the same tag and
    class, each with a link and a price standing alone)."""
    budget = [r.limits["max_block_text"]]
    best = 0
    for parent in parents:
        groups: dict[tuple[str, str], list[Any]] = {}
        for child in parent:
            if isinstance(child.tag, str) and child.tag in _BLOCK_ITEMS:
                groups.setdefault((child.tag, child.get("class") or ""), []).append(child)
        for members in groups.values():
            if len(members) < r.min_blocks:
                continue
            priced = 0
            for m in members:
                if budget[0] <= 0:
                    return best
                if m.find(".//a[@href]") is not None and _stands_alone(m, r, budget):
                    priced += 1
            if priced >= r.min_blocks and priced * 2 >= len(members):
                best = max(best, priced)
    return best


def structure_hint(root: Any, r: StructureRules | None = None) -> str | None:
    """The page kind the structure of this parsed page (lxml.html) shows, or None. Call it
    before scripts are dropped (JSON-LD lives in <script>)."""
    r = r or rules()
    lim = r.limits
    seen = _Seen()
    jsonld: list[str] = []
    tables: list[Any] = []
    parents: list[Any] = []
    products: list[Any] = []
    offers: list[Any] = []
    for n, el in enumerate(root.iter()):
        if n >= lim["max_elements"]:
            break
        tag = el.tag
        if not isinstance(tag, str):
            continue
        if tag == "meta" and (el.get("name") or "").lower() == "generator":
            seen.generator += " " + (el.get("content") or "").lower()[:200]
        elif tag == "script":
            if "ld+json" in (el.get("type") or "").lower() and len(jsonld) < lim["max_jsonld"] and el.text:
                jsonld.append(el.text[: lim["max_jsonld_chars"]])
            continue
        elif tag == "table" and len(tables) < lim["max_tables"]:
            tables.append(el)
        if len(el) >= r.min_blocks:
            parents.append(el)
        classes = el.get("class")
        if classes:
            tokens = set(classes.split())
            seen.forum_marks += bool(tokens & r.forum_classes)
            seen.listing_marks += bool(tokens & r.listing_classes)
            seen.blog = seen.blog or bool(tokens & r.blog_classes)
        ident = el.get("id")
        if ident:
            if r.forum_ids.match(ident):
                seen.forum_marks += 1
            elif r.post_ids.match(ident):
                seen.post_ids += 1
        kinds = el.get("itemtype") or el.get("typeof")
        if kinds:
            names = set(_type_names(kinds))
            if names & r.product_types and len(products) < lim["max_items"]:
                products.append(el)
            elif names & r.offer_types and len(offers) < lim["max_items"]:
                offers.append(el)
            if names & r.forum_types:
                seen.forum_marks += 1
    gen = seen.generator
    blog = seen.blog or any(g in gen for g in r.blog_generators)
    if seen.forum_marks or any(g in gen for g in r.forum_generators) or (seen.post_ids >= r.min_posts and not blog):
        return "forum"
    _jsonld(jsonld, r, seen)
    _microdata(products, offers, seen)
    if seen.items:
        return "listing" if seen.items == 1 else "shop"
    priced_rows, keyed = _tables(tables, r)
    if seen.listing_marks or (keyed == 1 and priced_rows == 0):
        return "listing"  # one product's own page (recommendations beside it are not a shop)
    if priced_rows or _blocks(parents, r) >= r.min_blocks:
        return "shop"
    return None
