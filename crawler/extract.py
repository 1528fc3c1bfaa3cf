"""HTML → title, visible text, links, and a page-kind hint from the structure
(crawler.structure). Bounded: text and link lists are capped so a hostile page can't blow up
a record."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import lxml.html
from lxml import etree

from crawler.structure import structure_hint

DROP_TAGS = ("script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed")
BLOCK_TAGS = (
    "p", "div", "br", "li", "ul", "ol", "tr", "td", "th", "table", "h1", "h2", "h3", "h4", "h5",
    "h6", "section", "article", "header", "footer", "nav", "aside", "main", "pre", "blockquote",
    "dd", "dt", "dl", "form", "hr", "title", "option",
)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")


def _blank(m: re.Match[str]) -> str:
    return "\t" if "\t" in m.group() else " "


@dataclass
class Extracted:
    title: str = ""
    text: str = ""
    links: list[str] = field(default_factory=list)
    lang: str = ""
    kind: str | None = None  # the page kind its structure shows (listing, shop, forum), or None


def extract(html: str, base_url: str, max_text: int = 500_000, max_links: int = 1000) -> Extracted:
    """Parse leniently; a page lxml can't parse yields empty text, not an exception."""
    if not html.strip():
        return Extracted()
    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return Extracted()
    lang = (root.get("lang") or "").split("-")[0].lower()[:8]
    title_el = root.find(".//title")
    title = _SPACES.sub(" ", title_el.text_content()).strip()[:500] if title_el is not None else ""
    links: list[str] = []
    seen: set[str] = set()
    for el in root.iter("a", "area"):
        href = (el.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "data:", "tel:")):
            continue
        try:
            url = lxml.html.urljoin(base_url, href)
        except ValueError:
            continue
        if url.startswith(("http://", "https://")) and url not in seen and len(url) <= 2048:
            seen.add(url)
            links.append(url)
            if len(links) >= max_links:
                break
    kind = structure_hint(root)  # before scripts go: JSON-LD lives in them
    for el in list(root.iter(*DROP_TAGS)):
        el.drop_tree()
    for el in root.iter(*BLOCK_TAGS):
        el.tail = "\n" + (el.tail or "")
    body = root.find("body")
    raw = (body if body is not None else root).text_content()
    # a tab stays a tab (one per run of blanks): the field separator of a TSV dump in <pre>, which
    # the tagger reads as a row (a personal record's fields are masked by their row)
    lines = (_SPACES.sub(_blank, line).strip() for line in raw.split("\n"))
    text = "\n".join(line for line in lines if line)
    return Extracted(title=title, text=text[:max_text], links=links, lang=lang, kind=kind)
