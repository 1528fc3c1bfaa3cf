"""What a page says about its site: shingled visible text and structural fingerprints.

Text is reduced to what mirrors of one site share and other sites do not: lower-cased
words without numbers (prices, counters and dates differ between mirrors and from hour
to hour, and so does how many of them a page shows), and long tokens dropped (onion addresses, payment addresses and key
material are identifiers, compared separately, never content: a phishing clone has the
same text with other payment addresses). Shingles are hashed with CRC-32 per word and
combined per window with numpy, so the hashes are the same in every run and process.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zlib
from collections.abc import Iterable

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TOKEN = 24  # longer "words" are identifiers (v3 onions are 56, BTC 26-62, XMR 95)
_P = np.uint64(0x01000193)  # FNV prime: mixes word hashes within a shingle window
_MASK = np.uint64(0xFFFFFFFF)


def tokens(text: str) -> list[str]:
    """Content words of a visible text (see the module docstring)."""
    out = []
    for w in _WORD.findall(text.lower()):
        if len(w) > MAX_TOKEN:
            continue
        if not any(c.isdigit() for c in w):
            out.append(w)
    return out


def shingle_hashes(words: list[str], k: int = 4) -> np.ndarray:
    """Distinct 32-bit hashes of the k-word windows of ``words`` (sorted uint32 array).

    Texts shorter than k words give one shingle of the whole text (or none when empty)."""
    if not words:
        return np.empty(0, dtype=np.uint32)
    h = np.fromiter((zlib.crc32(w.encode()) for w in words), dtype=np.uint64, count=len(words))
    k = min(k, len(words))
    n = len(words) - k + 1
    acc = np.zeros(n, dtype=np.uint64)
    for j in range(k):
        acc = ((acc * _P) & _MASK) ^ h[j:j + n]
    return np.unique(acc.astype(np.uint32))


def normalise_title(title: str | None) -> str:
    """Titles compare case- and number-insensitively ("Market - mirror 3" = "market - mirror 0")."""
    return " ".join(tokens(title or ""))


def template_hash(html: str | bytes | None) -> str | None:
    """Hash of the page's DOM skeleton: the set of element paths with their classes and ids.

    Mirrors served by one installation have the same skeleton whatever the listings say;
    sites running the same market software do too, so it only supports a text match."""
    if not html:
        return None
    from lxml import etree  # lxml ships with Scrapy
    from lxml import html as lxml_html

    try:
        root = lxml_html.fromstring(html if isinstance(html, bytes) else html.encode("utf-8", "replace"))
    except (ValueError, TypeError, etree.LxmlError):  # ParserError / XMLSyntaxError on junk
        return None
    paths: set[str] = set()

    def walk(el, prefix: str) -> None:
        for child in el:
            if not isinstance(child.tag, str):
                continue
            cls = " ".join(sorted((child.get("class") or "").split()))
            path = f"{prefix}/{child.tag}" + (f".{cls}" if cls else "")
            paths.add(path)
            walk(child, path)

    walk(root, root.tag if isinstance(root.tag, str) else "")
    if len(paths) < 5:
        return None
    return hashlib.sha256("\n".join(sorted(paths)).encode()).hexdigest()[:32]


_ICON_LINK = re.compile(
    rb"""<link\b[^>]*\brel\s*=\s*["']?[^"'>]*\bicon\b[^>]*>""", re.IGNORECASE)
_DATA_HREF = re.compile(rb"""href\s*=\s*["']?data:[^;,]*(;base64)?,([^"'\s>]+)""", re.IGNORECASE)


def favicon_hash(html: str | bytes | None) -> str | None:
    """SHA-256 of an inline (data: URI) favicon, if the page has one.

    Onion sites often inline the icon to save a circuit round trip; nothing is fetched here
    (no images are downloaded). A fetched icon's hash can be passed in directly instead."""
    if not html:
        return None
    raw = html if isinstance(html, bytes) else html.encode("utf-8", "replace")
    for link in _ICON_LINK.findall(raw[:200_000]):
        m = _DATA_HREF.search(link)
        if not m:
            continue
        payload = m.group(2)
        try:
            data = base64.b64decode(payload, validate=False) if m.group(1) else payload
        except (ValueError, TypeError):
            continue
        if data:
            return hashlib.sha256(data).hexdigest()[:32]
    return None


def identifier_set(values: Iterable[str] | None) -> frozenset[str]:
    """Identifiers compare as exact strings (hashes or public addresses), empty ones dropped."""
    return frozenset(v.strip() for v in values or () if v and v.strip())
