"""Stored page bytes → an inert HTML document that renders offline without fetching anything.

Allow-list, not block-list: only layout and text elements and attributes survive. Scripts,
frames, objects, <base>, <link>, <meta> (refresh too) go; images, video, audio, SVG and canvas
become visible placeholders; CSS keeps colours and layout but loses url(), @import and
@font-face; links point nowhere. A Content-Security-Policy that forbids every fetch is put
first in <head>. The renderer adds its own layers (scripts off, network off), so one slip here
still fetches nothing.

``mask_values`` does the same for personal data: it finds, in the page's text nodes, the
values whose masked forms the tagger stored (same shape, same visible characters) and masks
them; it reports the masked forms it could not find, so a caller can refuse to render rather
than show personal data in clear.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import lxml.etree
import lxml.html

CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; font-src 'none'; media-src 'none'; "
       "frame-src 'none'; connect-src 'none'; form-action 'none'; base-uri 'none'; script-src 'none'")
MASK = "•"
MAX_INPUT = 8 * 1024 * 1024

KEEP_TAGS = frozenset(["html", "head", "body", "title", "div", "span", "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption", "colgroup", "col", "a", "b", "i", "u", "s", "strike", "strong", "em", "small", "big", "sub", "sup", "code", "pre", "kbd", "samp", "var", "tt", "blockquote", "q", "cite", "abbr", "acronym", "address", "article", "aside", "footer", "header", "main", "nav", "section", "figure", "figcaption", "details", "summary", "mark", "del", "ins", "time", "label", "form", "fieldset", "legend", "input", "button", "select", "option", "optgroup", "textarea", "center", "font", "nobr", "wbr", "style", "dfn", "bdi", "bdo", "ruby", "rt", "rp", "data", "meter", "progress", "output"])
MEDIA_TAGS = frozenset(["img", "picture", "video", "audio", "svg", "canvas", "object", "embed", "iframe", "frame", "image", "math", "applet", "portal"])
DROP_TAGS = frozenset(["script", "template", "frameset", "noembed", "noframes"])  # dropped with their content
# Void elements the parser may wrongly nest content in (libxml2 knows no <embed>/<source>):
# the element goes, anything parsed inside it stays.
UNWRAP_TAGS = frozenset(["base", "link", "meta", "param", "source", "track", "area", "map"])
KEEP_ATTRS = frozenset(["class", "id", "style", "colspan", "rowspan", "width", "height", "align", "valign", "border", "cellpadding", "cellspacing", "dir", "lang", "type", "name", "size", "color", "face", "bgcolor", "start", "reversed", "open", "disabled", "checked", "selected", "span", "nowrap", "cols", "rows", "maxlength", "placeholder"])
_CSS_BAD = re.compile(r"@import[^;]*;?|@font-face\s*\{[^}]*\}|url\s*\([^)]*\)|image-set\s*\([^)]*\)|"
                      r"expression\s*\(|-moz-binding|behavior\s*:", re.IGNORECASE)


def clean_css(css: str) -> str:
    """CSS without anything that could fetch (escapes make a rule unreadable: dropped whole)."""
    if "\\" in css:
        return ""
    return _CSS_BAD.sub("none", css)


def decode(raw: bytes, content_type: str = "") -> str:
    """Bytes → text: the charset the server or the page declared, else UTF-8 with replacement."""
    m = re.search(r"charset=([\w.:-]+)", content_type or "", re.IGNORECASE) or re.search(
        rb"<meta[^>]+charset=[\"']?([\w.:-]+)", raw[:4096], re.IGNORECASE)
    enc = (m.group(1).decode("ascii", "replace") if isinstance(m.group(1), bytes) else m.group(1)) if m else "utf-8"
    try:
        return raw.decode(enc, errors="replace")
    except LookupError:
        return raw.decode("utf-8", errors="replace")


def _placeholder(el: lxml.html.HtmlElement, what: str) -> lxml.html.HtmlElement:
    ph = lxml.html.Element("span")
    ph.set("class", "ow-placeholder")
    w, h = el.get("width", ""), el.get("height", "")
    style = []
    if w.isdigit() and 0 < int(w) <= 4000:
        style.append(f"width:{int(w)}px")
    if h.isdigit() and 0 < int(h) <= 4000:
        style.append(f"height:{int(h)}px")
    if style:
        ph.set("style", ";".join(style))
    ph.text = f"[{what} not fetched]"
    ph.tail = el.tail
    return ph


@dataclass
class Sanitised:
    html: str
    removed: dict[str, int] = field(default_factory=dict)  # what was taken out, by tag


def _walk(root: lxml.html.HtmlElement, removed: dict[str, int]) -> None:
    for el in list(root.iter()):
        if el is root or el.getparent() is None:
            continue
        tag = el.tag if isinstance(el.tag, str) else None
        if tag is None:  # comments, processing instructions
            el.drop_tree() if hasattr(el, "drop_tree") else el.getparent().remove(el)
            continue
        tag = tag.lower().rsplit("}", 1)[-1]
        if tag in DROP_TAGS:
            removed[tag] = removed.get(tag, 0) + 1
            el.drop_tree()
        elif tag in UNWRAP_TAGS:
            removed[tag] = removed.get(tag, 0) + 1
            el.drop_tag()
        elif tag in MEDIA_TAGS or (tag == "input" and (el.get("type") or "").lower() == "image"):
            removed[tag] = removed.get(tag, 0) + 1
            what = {"img": "image", "picture": "image", "input": "image", "image": "image"}.get(tag, tag)
            ph = _placeholder(el, what)
            ph.tail = None
            el.addprevious(ph)
            el.drop_tag()  # the element goes; fallback text (or mis-nested content) stays
        elif tag not in KEEP_TAGS:
            removed[tag] = removed.get(tag, 0) + 1
            el.drop_tag()  # unknown element: keep its text
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        for name in list(el.attrib):
            if name.lower() not in KEEP_ATTRS:
                del el.attrib[name]
        if el.tag == "a":
            el.set("href", "#")
        if el.tag == "input":
            el.attrib.pop("value", None)
        if "style" in el.attrib:
            el.set("style", clean_css(el.get("style", "")))
        if el.tag == "style":
            el.text = clean_css(el.text or "")
            for child in list(el):
                el.remove(child)


STYLE = (".ow-placeholder{display:inline-block;min-width:6em;min-height:1.2em;border:1px dashed #888;"
         "background:#eee;color:#555;font:12px sans-serif;padding:2px;overflow:hidden}")


def sanitise(raw: bytes | str, content_type: str = "text/html") -> Sanitised:
    """An inert, self-contained HTML document for ``raw`` (HTML, or text shown as text)."""
    text = raw if isinstance(raw, str) else decode(raw[:MAX_INPUT], content_type)
    removed: dict[str, int] = {}
    if "html" not in (content_type or "text/html").lower() and "xml" not in (content_type or "").lower():
        body = f"<pre>{html_lib.escape(text)}</pre>"
        doc = lxml.html.document_fromstring(f"<html><head></head><body>{body}</body></html>")
    else:
        try:
            doc = lxml.html.document_fromstring(text or "<html></html>")
        except (lxml.etree.ParserError, ValueError):
            doc = lxml.html.document_fromstring(f"<html><body><pre>{html_lib.escape(text)}</pre></body></html>")
    _walk(doc, removed)
    head = doc.find("head")
    if head is None:
        head = lxml.html.Element("head")
        doc.insert(0, head)
    for i, (tag, attrs, content) in enumerate((("meta", {"charset": "utf-8"}, None),
                                               ("meta", {"http-equiv": "Content-Security-Policy", "content": CSP}, None),
                                               ("style", {}, STYLE))):
        el = lxml.html.Element(tag, attrs)
        if content:
            el.text = content
        head.insert(i, el)
    return Sanitised("<!DOCTYPE html>\n" + lxml.html.tostring(doc, encoding="unicode"), removed)


# -- personal data ----------------------------------------------------------------------

def _pattern(masked: str) -> re.Pattern[str] | None:
    """A regex for clear values that mask to ``masked``: kept characters literal, each mask
    character any non-space character, whitespace runs flexible; a lookahead, so that
    overlapping candidates are all found. None when nothing is masked (nothing to find)."""
    if MASK not in masked:
        return None
    parts = []
    for c in masked:
        if c == MASK:
            parts.append(r"\S")
        elif c.isspace():
            parts.append(r"\s+")
        else:
            parts.append(re.escape(c))
    return re.compile("(?=(" + "".join(parts) + "))")


def _masked_positions(value: str, start: int, masked: str) -> Iterator[int]:
    """Positions (in the document text) that ``masked`` hides in this match of ``value``."""
    i = 0
    for c in masked:
        if c.isspace():
            while i < len(value) and value[i].isspace():
                i += 1
            continue
        if c == MASK:
            yield start + i
        i += 1


def mask_values(html_doc: str, masked_forms: list[str]) -> tuple[str, list[str]]:
    """Mask every value in the document's text that matches one of ``masked_forms``;
    returns (document, masked forms found nowhere). Works across element boundaries."""
    doc = lxml.html.document_fromstring(html_doc)
    pieces: list[tuple[lxml.html.HtmlElement, str, int]] = []  # (element, "text"|"tail", offset)
    chunks: list[str] = []
    pos = 0
    for el in doc.iter():
        for attr in ("text", "tail"):
            value = getattr(el, attr) if isinstance(el.tag, str) or attr == "tail" else None
            if value:
                pieces.append((el, attr, pos))
                chunks.append(value)
                pos += len(value)
    full = "".join(chunks)
    hidden: set[int] = set()
    missing = []
    for form in dict.fromkeys(masked_forms):
        pattern = _pattern(form)
        if pattern is None:
            continue
        hits = 0
        for m in pattern.finditer(full):  # every candidate, overlapping ones too: the union is hidden
            hits += 1
            hidden.update(_masked_positions(m.group(1), m.start(1), form))
        if not hits:
            missing.append(form)
    out = [MASK if i in hidden and not ch.isspace() else ch for i, ch in enumerate(full)]
    masked = "".join(out)
    for (el, attr, start), chunk in zip(pieces, chunks, strict=True):
        setattr(el, attr, masked[start:start + len(chunk)])
    return "<!DOCTYPE html>\n" + lxml.html.tostring(doc, encoding="unicode"), missing
