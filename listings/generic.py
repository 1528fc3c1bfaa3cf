"""The generic listing extractor: needs no per-site work.

Four readers, merged per page (a listing found twice on one page is one listing):
  1. embedded metadata (schema.org Product/Offer as JSON-LD, microdata or RDFa, via extruct);
  2. table rows under a header whose cells name fields ("Listing | Vendor | Price | Ships to"),
     in any of the languages configs/listings/extract.yaml knows;
  3. repeated blocks (list items, sibling divs) that each hold a link and a price;
  4. a listing's own page: its heading plus label/value pairs anywhere outside those blocks
     ("Vendor: X", "Giá: 500k", "ราคา 300 บาท", "发货地: 云南", key/value table rows, dl lists).
A vendor's own page (/vendor/<name>, …) gives its listings that vendor; a category page gives
them the market's own category (its heading).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from listings.prices import ParsedPrice, PriceReader
from listings.records import normalise_title, normalise_vendor

DROP_TAGS = ("script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed")
BLOCK_TAGS = frozenset({
    "p", "div", "br", "li", "ul", "ol", "tr", "td", "th", "table", "h1", "h2", "h3", "h4", "h5", "h6",
    "section", "article", "header", "footer", "nav", "aside", "main", "pre", "blockquote", "dd", "dt", "dl",
    "form", "hr", "title", "option", "caption", "tbody", "thead", "figure", "figcaption",
})
LEAF_TAGS = ("p", "li", "dd", "dt", "div", "span", "h2", "h3", "h4", "h5", "h6", "td", "th", "caption",
             "small", "section", "pre")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_MONTH = re.compile(r"(\d{4})[-/.](\d{1,2})(?![-/.\d])")
FIELDS = ("title", "vendor", "price", "quantity", "ships_from", "ships_to", "category", "listed_at")


def clean(text: str | None) -> str:
    return _SPACES.sub(" ", text or "").strip()


def element_text(el: Any) -> str:
    """Visible text of an element with a newline at every block boundary (like the crawler's)."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag in DROP_TAGS:
            if node.tail:
                parts.append(node.tail)
            return
        if tag in BLOCK_TAGS:
            parts.append("\n")
        if node.text and isinstance(node.tag, str):
            parts.append(node.text)
        for child in node:
            walk(child)
        if tag in BLOCK_TAGS:
            parts.append("\n")
        if node is not el and node.tail:
            parts.append(node.tail)

    walk(el)
    lines = (clean(line) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def inline_text(el: Any) -> str:
    return clean(" ".join(el.itertext()))


def iso_date(text: str | None) -> str | None:
    if not text:
        return None
    m = _DATE.search(text)
    if m:
        y, mo, d = (int(x) for x in m.groups())
        if 1990 <= y <= 2100 and 1 <= mo <= 12 and 1 <= d <= 31:
            return f"{y:04d}-{mo:02d}-{d:02d}"
    m = _MONTH.search(text)
    if m:
        y, mo = int(m.group(1)), int(m.group(2))
        if 1990 <= y <= 2100 and 1 <= mo <= 12:
            return f"{y:04d}-{mo:02d}-01"
    return None


@dataclass
class Candidate:
    """A listing before it is a record: the fields found, where, and by which reader."""

    fields: dict[str, Any]
    source: str
    element: Any = None
    lang: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return normalise_vendor(self.fields.get("vendor")), normalise_title(self.fields.get("title") or "")


class Vocabulary:
    """Field names in five languages, from configs/listings/extract.yaml."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.words = sorted(((w.lower(), f) for f, ws in cfg["labels"].items() for w in ws),
                            key=lambda x: len(x[0]), reverse=True)
        self.bare = set(cfg.get("bare_labels", ()))
        self.phrases = [re.compile(p, re.IGNORECASE) for p in cfg.get("phrases", ())]
        self.after_price = [re.compile(p, re.IGNORECASE) for p in cfg.get("quantity_after_price", ())]
        self.separators = re.compile("|".join(re.escape(s) for s in cfg.get("separators", ("·", "|"))))
        self.vendor_paths = {s.lower() for s in cfg.get("vendor_paths", ())}
        self.category_paths = {s.lower() for s in cfg.get("category_paths", ())}

    def header(self, text: str) -> str | None:
        """The field a table header or key cell names ("Price", "Giá", "ราคา", "Price · Giá")."""
        low = clean(text).lower().strip(" :：*#")
        if not low or len(low) > 80:
            return None
        for word, fld in self.words:
            if low == word or (low.startswith(word) and not _continues_word(low, len(word))
                               and self.separators.match(low[len(word):].lstrip()) is not None):
                return fld
        return None

    def pair(self, segment: str) -> tuple[str, str] | None:
        """("price", "500k") from "Giá: 500k"; bare labels also without a colon."""
        s = segment.strip()
        low = s.lower()
        if len(low) != len(s):
            return None
        for word, fld in self.words:
            if not low.startswith(word) or _continues_word(low, len(word)):
                continue
            rest = s[len(word):]
            stripped = rest.lstrip()
            if stripped[:1] in (":", "："):
                value = stripped[1:].strip()
                return (fld, value) if value else None
            if fld in self.bare and rest[:1].isspace() and stripped:
                return fld, stripped
        return None


def _continues_word(low: str, i: int) -> bool:
    """True when the label word is only the start of a longer latin word ("pricey")."""
    return i < len(low) and low[i].isascii() and low[i].isalnum() and low[i - 1].isascii()


@dataclass
class PageContext:
    url: str
    lang: str | None = None
    page_vendor: str | None = None
    site_category: str | None = None
    title: str | None = None
    errors: list[str] = field(default_factory=list)


class GenericExtractor:
    def __init__(self, extract_cfg: dict[str, Any], reader: PriceReader) -> None:
        self.cfg = extract_cfg
        self.vocab = Vocabulary(extract_cfg)
        self.reader = reader
        self.limits = extract_cfg.get("limits", {})
        self.max_listings = int(self.limits.get("max_listings", 500))

    # -- entry point ----------------------------------------------------------------------------
    def extract(self, root: Any, url: str, lang: str | None, html: str | None = None) -> tuple[list[Candidate], PageContext]:
        """Candidates from one parsed page (``root`` is changed: scripts are dropped)."""
        ctx = PageContext(url=url, lang=lang)
        found: list[Candidate] = []
        if html is not None:
            found += self._guarded(ctx, "metadata", lambda: self.metadata(html, url))
        for el in list(root.iter(*DROP_TAGS)):
            el.drop_tree()
        ctx.title = self._heading(root)
        self._page_kind(root, ctx)
        rows, used = self._guarded_rows(root, ctx)
        found += rows
        single = self._guarded(ctx, "labels", lambda: self.single(root, ctx, used))
        found += single
        for c in found:
            if c.fields.get("vendor") is None and ctx.page_vendor:
                c.fields["vendor"] = ctx.page_vendor
            if c.fields.get("category") is None and ctx.site_category and c.source in ("table", "blocks"):
                c.fields["category"] = ctx.site_category
        return merge(found)[: self.max_listings], ctx

    def _guarded(self, ctx: PageContext, what: str, fn: Any) -> list[Candidate]:
        try:
            return list(fn())
        except Exception as exc:  # noqa: BLE001 — one reader failing never drops the page
            ctx.errors.append(f"{what}: {type(exc).__name__}")
            return []

    def _guarded_rows(self, root: Any, ctx: PageContext) -> tuple[list[Candidate], set[Any]]:
        used: set[Any] = set()
        out: list[Candidate] = []
        for reader, name in ((self.tables, "table"), (self.blocks, "blocks")):
            try:
                for c in reader(root, ctx, used):
                    out.append(c)
                    if c.element is not None:
                        used.add(c.element)
            except Exception as exc:  # noqa: BLE001
                ctx.errors.append(f"{name}: {type(exc).__name__}")
        return out, used

    # -- page kind ------------------------------------------------------------------------------
    @staticmethod
    def _heading(root: Any) -> str | None:
        h1 = root.find(".//h1")
        if h1 is not None and inline_text(h1):
            return inline_text(h1)
        title = root.find(".//title")
        if title is not None and inline_text(title):
            return re.split(r"\s+[—–|-]\s+", inline_text(title))[0]
        return None

    def _page_kind(self, root: Any, ctx: PageContext) -> None:
        parts = [p for p in urlsplit(ctx.url).path.split("/") if p]
        if len(parts) >= 2 and parts[0].lower() in self.vocab.vendor_paths:
            ctx.page_vendor = ctx.title or parts[1]
        elif len(parts) >= 2 and parts[0].lower() in self.vocab.category_paths and ctx.title:
            ctx.site_category = self.vocab.separators.split(ctx.title)[0].strip() or None

    # -- 1. embedded metadata -------------------------------------------------------------------
    def metadata(self, html: str, url: str) -> Iterator[Candidate]:
        if not re.search(r"application/ld\+json|itemscope|typeof=", html[:2_000_000], re.IGNORECASE):
            return
        import extruct

        data = extruct.extract(html, base_url=url, syntaxes=["json-ld", "microdata", "rdfa"], uniform=True,
                               errors="ignore")
        for syntax in ("json-ld", "microdata", "rdfa"):
            for item in _walk_items(data.get(syntax) or []):
                c = self._product(item, syntax)
                if c is not None:
                    yield c

    def _product(self, item: dict[str, Any], syntax: str) -> Candidate | None:
        kinds = item.get("@type")
        kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
        if not any(str(k).rsplit("/", 1)[-1] in ("Product", "IndividualProduct", "Offer") for k in kinds):
            return None
        name = _first_text(item.get("name"))
        offers = item.get("offers") or item if "Offer" in str(kinds) else item.get("offers") or {}
        offer = offers[0] if isinstance(offers, list) and offers else offers if isinstance(offers, dict) else {}
        fields: dict[str, Any] = {"title": name}
        price = _first_text(offer.get("price") or offer.get("lowPrice"))
        currency = _first_text(offer.get("priceCurrency"))
        if price:
            parsed = self.reader.parse(f"{price} {currency or ''}".strip())
            if parsed is not None:
                fields.update(price=parsed.amount, currency=(currency or parsed.currency or None))
                if offer.get("highPrice"):
                    high = self.reader.parse(str(_first_text(offer.get("highPrice"))))
                    if high is not None and high.amount:
                        fields.update(price_max=high.amount, price_note="range")
        seller = offer.get("seller") or item.get("brand") or {}
        fields["vendor"] = _first_text(seller.get("name") if isinstance(seller, dict) else seller)
        fields["category"] = _first_text(item.get("category"))
        area = offer.get("areaServed") or offer.get("eligibleRegion")
        if area:
            fields["ships_to"] = _first_text(area.get("name") if isinstance(area, dict) else area)
        origin = item.get("countryOfOrigin") or (offer.get("availableAtOrFrom") or {})
        if origin:
            fields["ships_from"] = _first_text(origin.get("name") if isinstance(origin, dict) else origin)
        if not name:
            return None
        return Candidate({k: v for k, v in fields.items() if v not in (None, "")}, syntax.replace("json-ld", "jsonld"))

    # -- 2. tables ------------------------------------------------------------------------------
    def tables(self, root: Any, ctx: PageContext, used: set[Any]) -> Iterator[Candidate]:
        for table in root.iter("table"):
            rows = [tr for tr in table.iter("tr") if _nearest(tr, "table") is table]
            if len(rows) < 2:
                continue
            header_row = next((tr for tr in rows if tr.find("th") is not None and tr.find("td") is None), None)
            if header_row is None:
                continue
            heads = [c for c in header_row if c.tag in ("th", "td")]
            columns = [self.vocab.header(inline_text(h)) for h in heads]
            if "price" not in columns or sum(c is not None for c in columns) < 2:
                continue
            for tr in rows:
                if tr is header_row:
                    continue
                cells = [c for c in tr if c.tag in ("td", "th")]
                if len(cells) != len(columns):
                    continue
                c = self._row(cells, columns, ctx, tr)
                if c is not None:
                    yield c

    def _row(self, cells: list[Any], columns: list[str | None], ctx: PageContext, tr: Any) -> Candidate | None:
        fields: dict[str, Any] = {}
        lang = _lang_of(tr) or ctx.lang
        for cell, col in zip(cells, columns):
            text = inline_text(cell)
            if col == "title" or (col is None and "title" not in columns and "title" not in fields and cell.find(".//a") is not None):
                fields["title"] = text
            elif col is not None and text:
                self._set(fields, col, text, lang)
        if not fields.get("title") or ("price" not in fields and fields.get("price_note") != "contact"):
            return None
        return Candidate(fields, "table", tr, lang)

    # -- 3. repeated blocks ---------------------------------------------------------------------
    def blocks(self, root: Any, ctx: PageContext, used: set[Any]) -> Iterator[Candidate]:
        seen: set[Any] = set()
        for parent in root.iter():
            if not isinstance(parent.tag, str) or parent.tag in ("table", "tbody", "thead", "tr") or parent in seen:
                continue
            groups: dict[tuple[str, str], list[Any]] = {}
            for child in parent:
                if isinstance(child.tag, str) and child.tag in ("li", "div", "article", "section", "p", "dl"):
                    groups.setdefault((child.tag, child.get("class") or ""), []).append(child)
            for members in groups.values():
                if len(members) < 2:
                    continue
                for m in members:
                    if any(_inside(m, u) or _inside(u, m) for u in used):
                        continue
                    c = self._block(m, ctx)
                    if c is not None:
                        seen.add(m)
                        yield c

    def _block(self, el: Any, ctx: PageContext) -> Candidate | None:
        links = [a for a in el.iter("a") if inline_text(a)]
        if not links:
            return None
        lang = _lang_of(el) or ctx.lang
        fields: dict[str, Any] = {}
        title_link = None
        for a in links:
            kind = self._link_kind(a.get("href") or "")
            if kind == "vendor" and "vendor" not in fields:
                fields["vendor"] = inline_text(a)
            elif kind is None and title_link is None and len(inline_text(a)) >= 3:
                title_link = a
        if title_link is None:
            return None
        title = inline_text(title_link)
        text = element_text(el)
        for line in text.split("\n"):
            for seg in self.vocab.separators.split(line):
                p = self.vocab.pair(seg)
                if p is not None and p[0] != "title":
                    self._set(fields, p[0], p[1], lang)
        if "price" not in fields:
            rest = text.replace(title, " ", 1)
            for name in (fields.get("vendor"),):
                if name:
                    rest = rest.replace(name, " ", 1)
            parsed = self.reader.parse(rest, lang)
            if parsed is None or (parsed.currency is None and parsed.note != "contact"):
                return None
            self._price(fields, parsed, rest)
        fields["title"] = title
        return Candidate(fields, "blocks", el, lang)

    def _link_kind(self, href: str) -> str | None:
        parts = [p for p in urlsplit(href).path.split("/") if p]
        if parts and parts[0].lower() in self.vocab.vendor_paths:
            return "vendor"
        if parts and parts[0].lower() in self.vocab.category_paths:
            return "category"
        if not parts and not urlsplit(href).query:
            return "home"
        return None

    # -- 4. a listing's own page ---------------------------------------------------------------
    def single(self, root: Any, ctx: PageContext, used: set[Any]) -> Iterator[Candidate]:
        if ctx.page_vendor or ctx.site_category:
            return  # a vendor's shop or a category index lists listings, it is not one
        body = root.find("body") if root.find("body") is not None else root
        fields: dict[str, Any] = {}
        lang = ctx.lang
        for el in body.iter(*LEAF_TAGS, "tr", "dl"):
            if any(_inside(el, u) for u in used):
                continue
            if el.tag == "tr":
                cells = [c for c in el if c.tag in ("td", "th")]
                if len(cells) == 2:
                    fld = self.vocab.header(inline_text(cells[0]))
                    if fld and fld != "title":
                        self._set(fields, fld, inline_text(cells[1]), lang)
                continue
            if el.tag == "dl":
                for dt in el.iter("dt"):
                    dd = dt.getnext()
                    fld = self.vocab.header(inline_text(dt))
                    if fld and dd is not None and dd.tag == "dd" and fld != "title":
                        self._set(fields, fld, inline_text(dd), lang)
                continue
            if any(isinstance(ch.tag, str) and ch.tag in BLOCK_TAGS and ch.tag != "br" for ch in el):
                continue  # only leaf blocks: their parents would repeat them
            text = element_text(el)
            for line in text.split("\n"):
                for rx in self.vocab.phrases:
                    m = rx.search(line)
                    if m:
                        for fld, value in m.groupdict().items():
                            if value:
                                fields.setdefault(fld, _tidy(value))
                for seg in self.vocab.separators.split(line):
                    p = self.vocab.pair(seg)
                    if p is not None and p[0] != "title":
                        self._set(fields, p[0], p[1], lang)
        if ctx.title and ("price" in fields or fields.get("price_note") == "contact"):
            fields["title"] = ctx.title
            yield Candidate(fields, "labels", None, lang)

    # -- field values ----------------------------------------------------------------------------
    def _set(self, fields: dict[str, Any], fld: str, value: str, lang: str | None) -> None:
        """Set one field from its text; the first statement of a field wins."""
        value = clean(value)
        if not value:
            return
        if fld == "price":
            if "price" in fields or fields.get("price_note") == "contact":
                return
            parsed = self.reader.parse(value, lang)
            if parsed is not None:
                self._price(fields, parsed, value)
        elif fld == "quantity":
            if "quantity" not in fields:
                q = self.reader.quantity(value)
                if q is not None:
                    fields["quantity"], fields["unit"] = q
        elif fld == "listed_at":
            fields.setdefault("listed_at", iso_date(value))
        elif fld in ("ships_from", "ships_to", "vendor", "category"):
            if not any(ch.isalnum() for ch in value):
                return  # "—", "-" placeholders state nothing
            if fld == "ships_from" and "ships_to" not in fields:
                both = re.split(r"\s+(?:to|→|->|đến|tới|ke|ไป|发往)\s+", value, maxsplit=1)
                if len(both) == 2 and both[1].strip():
                    fields["ships_to"] = _tidy(both[1])[:200]
                    value = both[0]
            fields.setdefault(fld, _tidy(value)[:200])
        elif fld == "title":
            fields.setdefault("title", value)

    def _price(self, fields: dict[str, Any], parsed: ParsedPrice, text: str) -> None:
        if parsed.note == "contact":
            fields.setdefault("price_note", "contact")
            return
        fields["price"], fields["currency"] = parsed.amount, parsed.currency
        if parsed.amount_max is not None:
            fields["price_max"], fields["price_note"] = parsed.amount_max, "range"
        if "quantity" not in fields:
            for rx in self.vocab.after_price:
                for m in rx.finditer(text, parsed.end):
                    q = self.reader.quantity(text[m.start("quantity"):])
                    if q is not None:
                        fields["quantity"], fields["unit"] = q
                        return


def merge(found: list[Candidate]) -> list[Candidate]:
    """One candidate per (vendor, title) on a page; a vendorless one joins the vendor's."""
    out: dict[tuple[str, str], Candidate] = {}
    for c in found:
        if not c.fields.get("title"):
            continue
        key = c.key
        if not key[0]:
            same = [k for k in out if k[1] == key[1]]
            key = same[0] if len(same) == 1 else key
        if key in out:
            have = out[key]
            for k, v in c.fields.items():
                if have.fields.get(k) is None and v is not None:
                    have.fields[k] = v
            if have.element is None:
                have.element = c.element
        else:
            out[key] = c
    return list(out.values())


def _tidy(value: str) -> str:
    return clean(value).strip(" .,;:·|")


def _lang_of(el: Any) -> str | None:
    node = el
    while node is not None:
        lang = node.get("lang") if hasattr(node, "get") else None
        if lang:
            return lang.split("-")[0].lower()[:8]
        node = node.getparent()
    return None


def _nearest(el: Any, tag: str) -> Any:
    node = el.getparent()
    while node is not None and node.tag != tag:
        node = node.getparent()
    return node


def _inside(el: Any, container: Any) -> bool:
    node = el
    while node is not None:
        if node is container:
            return True
        node = node.getparent()
    return False


def _first_text(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("@value") or value.get("name")
    if value is None:
        return None
    return clean(str(value)) or None


def _walk_items(items: Iterable[Any]) -> Iterator[dict[str, Any]]:
    for item in items:
        if isinstance(item, dict):
            yield item
            for key in ("@graph", "itemListElement", "hasOfferCatalog", "makesOffer"):
                nested = item.get(key)
                if isinstance(nested, list):
                    yield from _walk_items(nested)
                elif isinstance(nested, dict):
                    yield from _walk_items([nested])
            if isinstance(item.get("item"), dict):
                yield from _walk_items([item["item"]])
        elif isinstance(item, list):
            yield from _walk_items(item)


def parse_html(html: str) -> Any | None:
    """lxml's lenient parse; None for a page it cannot read at all."""
    if not html or not html.strip():
        return None
    try:
        return lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return None


def links_of(root: Any, base_url: str, limit: int = 2000) -> list[str]:
    out: list[str] = []
    for a in root.iter("a"):
        href = (a.get("href") or "").strip()
        if href:
            try:
                out.append(urljoin(base_url, href))
            except ValueError:
                continue
            if len(out) >= limit:
                break
    return out


