"""Shared test data for the evidence tests (no tests here): stored page records as the
crawler + tagger + index leave them, their raw bodies, and a capture journal."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import lxml.html

from enrich.protect import protect
from evidence import Capture
from journal import Journal

KEY = b"test-pii-key"
MARKET = "mekongxt5oa3ubpuzyzqfedx7a6x6r6ilqbfqyx3e2kbnmpkogm4eqid.onion"
FORUM = "forumxx3hkbbw7rdtkcrtyqzzu2wpiqydz5h4omeizaurbnlhgqmbyid.onion"
BTC = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
EMAIL = "seller.mekong@example.com"
PHONE = "+66 81 234 5678"
PGP = "3A1F 9C2B 77D0 4E5A 8B61 0C3D 5E7F 9A2B 4C6D 8E0F"


def listing_html(host: str = "127.0.0.1:9") -> str:
    """A listing page full of things that would fetch: all must be inert when rendered."""
    r = f"http://{host}"
    return f"""<!DOCTYPE html><html><head><title>Pangolin scales 1kg - Mekong Exotic</title>
<meta http-equiv="refresh" content="3;url={r}/refresh">
<link rel="stylesheet" href="{r}/style.css"><link rel="icon" href="{r}/favicon.ico">
<link rel="preload" href="{r}/preload.js" as="script"><base href="{r}/base/">
<style>@import url("{r}/import.css"); @font-face{{font-family:x;src:url({r}/font.woff)}}
body{{font-family:sans-serif;margin:2em}} .hero{{background:url({r}/bg.png);border:2px solid #264}}
h1{{color:#264}}</style>
<script src="{r}/app.js"></script><script>fetch("{r}/xhr"); new Image().src="{r}/beacon";</script>
</head><body onload="fetch('{r}/onload')" background="{r}/bodybg.png">
<div class="hero"><h1>Pangolin scales 1kg</h1></div>
<img src="{r}/photo.jpg" width="300" height="200" alt="scales" srcset="{r}/photo2x.jpg 2x">
<picture><source srcset="{r}/pic.webp"><img src="{r}/pic.jpg"></picture>
<video poster="{r}/poster.jpg" src="{r}/clip.mp4"></video><audio src="{r}/a.mp3"></audio>
<iframe src="{r}/frame"></iframe><object data="{r}/obj.swf"></object><embed src="{r}/embed.swf">
<svg><image href="{r}/svg.png"/></svg><input type="image" src="{r}/btn.png">
<div style="background-image:url('{r}/inline.png')">Fresh stock, discreet shipping.</div>
<p>Price: 450 USD per kg. Pay BTC to {BTC}</p>
<p>Vendor PGP: {PGP}</p>
<p>Contact: {EMAIL} or {PHONE}</p>
<a href="{r}/next">next page</a><form action="{r}/buy"><input name="q" value="x"><button>Buy</button></form>
</body></html>"""


def plain_html(title: str, words: str) -> str:
    return f"<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{words}</p></body></html>"


def stored(url: str, html: str, *, fetched_at: str, crawl_id: str = "crawl-a", entities: list[tuple[str, str]] = (),
           categories: list[str] | None = None, offers: list[dict] | None = None,
           evidence: list[dict] | None = None) -> tuple[dict[str, Any], bytes]:
    """(page document as the index stores it, raw body)."""
    raw = html.encode()
    doc = lxml.html.document_fromstring(html)
    for bad in doc.xpath("//script|//style|//title"):
        bad.drop_tree()
    text = " ".join(doc.text_content().split())
    found = []
    for label, value in entities:
        start = text.index(value)
        found.append({"label": label, "start": start, "end": start + len(value), "score": 0.9})
    masked_text, ents = protect(text, found, KEY)
    page = {
        "doc_id": hashlib.sha256(f"{url}\n{hashlib.sha256(raw).hexdigest()}".encode()).hexdigest()[:40],
        "url": url, "onion": url.split("/")[2], "fetched_at": fetched_at, "status": 200, "failure": None,
        "content_type": "text/html", "title": lxml.html.document_fromstring(html).findtext(".//title") or "",
        "text": masked_text, "links": [], "onion_links": [], "lang": "en",
        "sha256": hashlib.sha256(raw).hexdigest(), "size": len(raw), "depth": 1, "crawl_id": crawl_id,
        "categories": categories or [],
        "entities": [{k: e.get(k) for k in ("label", "start", "end", "score", "masked", "hash")} for e in ents],
        "offers": offers or [], "evidence": evidence or [],
    }
    return page, raw


def capture_payload(page: dict[str, Any]) -> dict[str, Any]:
    """The capture entry the crawler journals for a page (masked facts, no body)."""
    return {"url": page["url"], "onion": page["onion"], "fetched_at": page["fetched_at"], "status": page["status"],
            "sha256": page["sha256"], "size": page["size"], "crawl_id": page["crawl_id"],
            "tor": {"socks": "127.0.0.1:9050", "isolation": page["onion"], "version": "0.4.8"},
            "tagger": "test-tagger 1"}


def market_captures(journal_dir: Path, host: str = "127.0.0.1:9") -> tuple[list[Capture], Journal]:
    """Three market pages (one with personal data) journaled among other captures."""
    listing, listing_raw = stored(
        f"http://{MARKET}/listing/pangolin-scales", listing_html(host), fetched_at="2026-11-22T10:00:00Z",
        entities=[("CRYPTO", BTC), ("EMAIL_ADDRESS", EMAIL), ("PHONE_NUMBER", PHONE)], categories=["wildlife"],
        offers=[{"category": "wildlife", "commodity": "pangolin scales", "start": 0, "end": 5, "price": 450.0,
                 "currency": "USD", "quantity": 1.0, "unit": "kg"}],
        evidence=[{"category": "wildlife", "kind": "commodity", "start": 0, "end": 8, "term": "pangolin"}])
    home, home_raw = stored(f"http://{MARKET}/", plain_html("Mekong Exotic", f"Welcome. Mirror: {FORUM}"),
                            fetched_at="2026-11-22T09:59:00Z")
    vendor, vendor_raw = stored(f"http://{MARKET}/vendor/tiger", plain_html("Vendor tiger", f"PGP: {PGP} BTC {BTC}"),
                                fetched_at="2026-11-22T10:01:00Z", entities=[("CRYPTO", BTC)])
    home["onion_links"] = [FORUM]
    other, _ = stored(f"http://{FORUM}/thread/1", plain_html("Forum", "talk"), fetched_at="2026-11-22T10:00:30Z")
    j = Journal(journal_dir)
    j.roll("crawl-a")
    seqs = {}
    for page in (home, other, listing, other, vendor):
        seqs.setdefault(page["url"], j.append("capture", capture_payload(page)).seq)
    caps = [Capture(home, home_raw, seqs[home["url"]]), Capture(listing, listing_raw, seqs[listing["url"]]),
            Capture(vendor, vendor_raw, seqs[vendor["url"]])]
    return caps, j
