"""What the real lab apps are seeded with, built from configs/lab (no app code needed here).

- ``pastes``: the leak site's synthetic dumps (``leak/pastes``) and the samples of the market's
  data listings (``sample:``), as pinnwand pastes. Slugs are derived from the file names (the
  alphabet of pinnwand's routes, A-Z2-7), so they are known before pinnwand runs.
- ``products``: listings (Dream Market 2016-17 sample, MIT; Golden Lotus) as Oscar products:
  category path, vendor (a partner), price with its currency, and a description in HTML that
  carries the listing's text, its prices as written, and — for data listings — links to their
  sample and to the vendor's other dumps on the pastebin's onion.

Every item says its ``kind`` (drugs, wildlife, leaked_data, other): what the tagger should find.
All personal data in these files is synthetic (see configs/lab/README.md).
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from pathlib import Path
from typing import Any

import yaml

FIAT = ("USD", "EUR", "THB", "VND", "CNY", "IDR", "MYR", "PHP")
STABLE = {"USDT": "USD", "USDC": "USD"}
KIND_OF_CATEGORY = {"drugs": "drugs", "wildlife": "wildlife", "data": "leaked_data"}
SHOP_CATEGORY = {"drugs": "Drugs", "wildlife": "Wildlife & rare goods", "data": "Databases", "digital": "Digital Goods"}
DRUG_WORDS = ("Drugs", "Dissociatives", "ยากระตุ้น", "Stimulants")
WILDLIFE_WORDS = ("野生动物制品", "Satwa langka", "Hàng quý hiếm")


# what makes a paste a leak of personal data rather than, say, a config file: e-mail addresses,
# card numbers, 13-digit national IDs, phone numbers
PERSONAL = re.compile(r"[\w.+-]+@[\w-]+\.\w+|\b\d{13,19}\b|\+\d{2}[\d ]{8,}")


def slug(name: str, length: int = 12) -> str:
    """A pinnwand-style slug (A-Z, 2-7) that is always the same for the same name."""
    return base64.b32encode(hashlib.sha256(f"onionwatch-lab:{name}".encode()).digest()).decode()[:length]


def _files(configs: Path, dirs: list[str]) -> list[Path]:
    return [p for d in dirs for p in sorted((configs / d).glob("*.yaml"))]


def _read(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def paste_name(path: Path, sample: bool = False) -> str:
    return f"sample:{path.stem}" if sample else f"paste:{path.stem}"


def pastes(configs: Path, paste_dirs: list[str], sample_dirs: list[str]) -> list[dict[str, Any]]:
    out = []
    for path in _files(configs, paste_dirs):
        raw = _read(path)
        head = [str(raw.get("title") or path.stem)] + ([str(raw["intro"])] if raw.get("intro") else [])
        name = paste_name(path)
        out.append({"slug": slug(name), "file_slug": slug(name + "#file"), "lexer": "text",
                    "filename": f"{path.stem}.txt", "posted": str(raw.get("posted") or "") or None,
                    "raw": "\n".join(head) + "\n\n" + str(raw.get("body") or "").rstrip() + "\n",
                    "kind": "leaked_data" if PERSONAL.search(str(raw.get("body") or "")) else "other",
                    "source": str(path.relative_to(configs))})
    for path in _files(configs, sample_dirs):
        raw = _read(path)
        if not raw.get("sample"):
            continue
        name = paste_name(path, sample=True)
        text = f"Free sample: {raw.get('title')}\nVendor: {raw.get('vendor', 'unknown')}\n\n{str(raw['sample']).rstrip()}\n"
        out.append({"slug": slug(name), "file_slug": slug(name + "#file"), "lexer": "text",
                    "filename": f"{path.stem}-sample.txt", "posted": str(raw.get("posted") or "") or None,
                    "raw": text, "kind": KIND_OF_CATEGORY.get(str(raw.get("category")), "other"),
                    "source": str(path.relative_to(configs))})
    return out


def paste_index(pastes: list[dict[str, Any]], title: str = "Public dumps") -> str:
    """A reStructuredText page listing every paste (pinnwand serves extra .rst pages from its
    page_path: an operator's way to publish an index on a pastebin that has none)."""
    lines = [title, "=" * len(title), "", "Dumps and samples posted here, newest first.", ""]
    for p in sorted(pastes, key=lambda p: str(p.get("posted") or ""), reverse=True):
        label = p["raw"].splitlines()[0].strip().replace("`", "'").replace("<", "(").replace(">", ")") or p["slug"]
        lines.append(f"* `{label} </{p['slug']}>`__")
    return "\n".join(lines) + "\n"


def _price(raw: dict[str, Any]) -> tuple[float | None, str, str]:
    """(amount, currency, as written) for the shop: a fiat price (stablecoins as dollars) or none."""
    if raw.get("prices"):
        prices = [(float(p["amount"]), str(p["currency"]).upper()) for p in raw["prices"]]
        written = " / ".join(f"{a:g} {c}" for a, c in prices)
        for amount, cur in prices:
            cur = STABLE.get(cur, cur)
            if cur in FIAT:
                return amount, cur, written
        return None, "USD", written
    written = str(raw.get("price_text") or "")
    if raw.get("price") is not None and str(raw.get("currency", "USD")).upper() in FIAT:
        return float(raw["price"]), str(raw.get("currency", "USD")).upper(), written
    return None, "USD", written


def _kind(raw: dict[str, Any]) -> str:
    cat, site_cat = str(raw.get("category") or ""), str(raw.get("site_category") or "")
    if cat in KIND_OF_CATEGORY:
        return KIND_OF_CATEGORY[cat]
    if site_cat in DRUG_WORDS:
        return "drugs"
    if site_cat in WILDLIFE_WORDS:
        return "wildlife"
    if site_cat == "Databases":
        return "leaked_data"
    return "other"


def _category(raw: dict[str, Any]) -> list[str]:
    if raw.get("site_category"):
        top = {"Dissociatives": "Drugs", "ยากระตุ้น": "Drugs"}.get(str(raw["site_category"]))
        return [top, str(raw["site_category"])] if top else [str(raw["site_category"])]
    return [SHOP_CATEGORY.get(str(raw.get("category")), "Other")]


def products(configs: Path, listing_dirs: list[str], *, paste_onion: str | None = None,
             paste_seed: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Oscar products from listing files; with `paste_onion`, data listings link to their sample
    paste, and the leak pastes are spread over the data listings as "more dumps" links."""
    paste_seed = paste_seed or {}
    leaks = [paste_name(p) for p in _files(configs, paste_seed.get("pastes") or [])] if paste_onion else []
    sampled = {p.stem for p in _files(configs, paste_seed.get("samples") or [])} if paste_onion else set()
    files = _files(configs, listing_dirs)
    data_items = [p for p in files if _kind(_read(p)) == "leaked_data"]
    extra: dict[str, list[str]] = {p.stem: [] for p in data_items}
    for i, name in enumerate(leaks):
        if data_items:
            extra[data_items[i % len(data_items)].stem].append(name)
    out = []
    for path in files:
        raw = _read(path)
        amount, currency, written = _price(raw)
        vendor = str(raw.get("vendor") or "Dream Bazaar")
        paras = [html.escape(x.strip()) for x in str(raw.get("description") or "").split("\n\n") if x.strip()]
        body = "".join(f"<p>{p}</p>" for p in paras)
        meta = [f"Vendor: {html.escape(vendor)}"]
        if written:
            meta.append(f"Price: {html.escape(written)}")
        for key, label in (("ships_from", "Ships from"), ("ships_to", "Ships to"), ("quantity", "Quantity")):
            if raw.get(key):
                meta.append(f"{label}: {html.escape(str(raw[key]))}")
        links = []
        if paste_onion and raw.get("sample") and path.stem in sampled:
            links.append(f"/{slug(paste_name(path, sample=True))}")
        links += [f"/{slug(n)}" for n in extra.get(path.stem, [])]
        link_html = "".join(
            f'<li><a href="http://{paste_onion}{lk}">{"Free sample" if i == 0 and raw.get("sample") else "More dumps"}: '
            f"http://{paste_onion}{lk}</a></li>" for i, lk in enumerate(links))
        description = body + "<ul>" + "".join(f"<li>{m}</li>" for m in meta) + "</ul>"
        if link_html:
            description += f"<p>Samples on our paste:</p><ul>{link_html}</ul>"
        out.append({"upc": path.stem[:64], "title": str(raw.get("title") or path.stem), "description": description,
                    "category": _category(raw), "vendor": vendor, "price": amount, "currency": currency,
                    "kind": _kind(raw), "source": str(path.relative_to(configs)), "links": links,
                    "lang": str(raw.get("lang") or "en")})
    return out


def wiki_pages(directory: dict[str, Any], sites: list[dict[str, Any]] | None,
               onion_of: dict[str, str]) -> dict[str, str]:
    """Wikitext pages of a Hidden-Wiki-style directory (MediaWiki), by title (underscores): a
    main page linking to one page per section, each listing the lab's onions of its roles as
    external links — what onion directories on MediaWiki look like."""
    sites = [s for s in (sites or []) if s.get("onion")]
    name = str(directory.get("title") or "The Hidden Wiki")
    sections: dict[str, list[str]] = directory.get("sections") or {}
    pages: dict[str, str] = {}
    intro = (f"'''{name}''' — an uncensored directory of onion services. Verify every address: "
             "phishing clones are everywhere.")
    main = [intro, "", "== Categories =="]
    for section, roles in sections.items():
        entries = [s for s in sites if s.get("role") in roles]
        title = section.replace(" ", "_")
        main.append(f"* [[{section}]] ({len(entries)} links)")
        lines = [f"Onion services listed under ''{section}''. Back to the [[Main Page]].", "",
                 "{| class=\"wikitable\"", "! Service !! Address !! Notes"]
        for s in sorted(entries, key=lambda s: str(s.get("title"))):
            lines += ["|-", f"| {s.get('title') or s['name']} || [http://{s['onion']}/ {s['onion']}] || {s['role']}"]
        lines += ["|}", "", f"[[Category:{section}]]"]
        pages[title] = "\n".join(lines) + "\n"
    featured = [s for s in sites if s.get("role") in (directory.get("featured") or [])]
    if featured:
        main += ["", "== Featured =="] + [f"* [http://{s['onion']}/ {s.get('title') or s['name']}]" for s in featured]
    pages["Main_Page"] = "\n".join(main) + "\n"
    return dict(sorted(pages.items()))
