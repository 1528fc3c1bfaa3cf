"""Identifiers worth sharing, from stored captures: onion addresses, crypto addresses, PGP
fingerprints (public: they name services and payees), and personal identifiers (shared as
keyed hashes only, unless the operator explicitly includes them).

The index stores every tagged identifier masked (plus a keyed hash), so a clear crypto
address is recovered from the stored body: a value there that masks to the stored form *and*
hashes to the stored hash is the one the tagger saw. Without the hashing function (the key),
no clear value is recovered and only hashes leave.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from evidence.bundle import PUBLIC_LABELS, Capture
from evidence.sanitize import _pattern, decode

HashFn = Callable[[str, str], str]  # (label, clear value) -> keyed hash as stored by the tagger
_PGP = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{4}[ ]?){9}[0-9A-Fa-f]{4}(?![0-9A-Fa-f])")
_ONION = re.compile(r"^[a-z2-7]{56}\.onion$")
_TAGS = re.compile(r"<[^>]*>")


@dataclass
class Seen:
    """One identifier and where/when it was seen."""

    kind: str  # onion | crypto | pgp | personal
    value: str | None  # clear value (None: hash only)
    hash: str | None = None
    label: str | None = None
    urls: set[str] = field(default_factory=set)
    first: str = ""
    last: str = ""
    count: int = 0

    def saw(self, url: str, at: str) -> None:
        self.urls.add(url)
        self.count += 1
        self.first = min(self.first or at, at)
        self.last = max(self.last, at)


def _clear_values(body_text: str, masked: str, label: str, digest: str | None, hash_fn: HashFn | None,
                  validate: Callable[[str, str], bool] | None) -> list[tuple[str, str]]:
    """(clear value, keyed hash) of the values in the body that mask to ``masked`` and are the
    tagger's: same stored hash when the record has one, else valid for the label."""
    pattern = _pattern(masked)
    if pattern is None or hash_fn is None:
        return []
    out = {}
    for m in pattern.finditer(body_text):
        value = m.group(1)
        h = hash_fn(label, value)
        if (h == digest) if digest else (validate(label, value) if validate else True):
            out[value] = h
    return sorted(out.items())


def collect(captures: Iterable[Capture], *, hash_fn: HashFn | None = None, include_pii: bool = False,
            validate: Callable[[str, str], bool] | None = None) -> list[Seen]:
    """Every identifier across the captures, deduplicated, with first/last seen. Personal
    identifiers carry only their keyed hash unless ``include_pii``."""
    found: dict[tuple[str, str], Seen] = {}

    def add(kind: str, key: str, url: str, at: str, **kw: str | None) -> None:
        s = found.setdefault((kind, key), Seen(kind, **kw))  # type: ignore[arg-type]
        s.saw(url, at)

    for c in captures:
        p = c.page
        url, at = p.get("url") or "", p.get("fetched_at") or ""
        for onion in {p.get("onion"), *(p.get("onion_links") or [])}:
            if onion and _ONION.match(onion):
                add("onion", onion, url, at, value=onion)
        for m in _PGP.finditer(p.get("text") or ""):
            fp = m.group().replace(" ", "").upper()
            if re.search(r"[A-F]", fp) and re.search(r"\d", fp):
                add("pgp", fp, url, at, value=fp)
        body_text = _TAGS.sub(" ", decode(c.body, p.get("content_type") or "")) if c.body else ""
        for e in p.get("entities") or []:
            label, digest, masked = e.get("label") or "", e.get("hash"), e.get("masked") or ""
            if label == "ONION_ADDRESS":
                continue  # in clear already (above)
            clear = label in PUBLIC_LABELS or include_pii
            kind = "crypto" if label == "CRYPTO" else "personal"
            values = _clear_values(body_text, masked, label, digest, hash_fn, validate)
            for value, h in values:
                if clear:
                    add(kind, value, url, at, value=value, hash=h, label=label)
                else:
                    add(kind, f"#{h}", url, at, value=None, hash=h, label=label)
            if not values and digest:
                add(kind, f"#{digest}", url, at, value=None, hash=digest, label=label)
    return sorted(found.values(), key=lambda s: (s.kind, s.value or s.hash or ""))
