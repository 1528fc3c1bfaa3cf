"""Render the lab's Dream Bazaar sample from the Dream Market 2016-17 listings in
crunchdomo/KRW-DarkWeb (MIT; its LICENSE is committed beside the sample).

Reads every version of the repository's RDF/Turtle files (git history, offline: the mirror
fetched at build time), keeps the products that have a name and a price, and writes one YAML
file per product into configs/lab/bazaar/listings/ (plus one vendor file per seller into
configs/lab/bazaar/vendors/). Only what the data states is written: a product without a seller
gets no vendor (the lab's "missing vendor" case), and nothing is invented for the truth.

  python bench/lab_dream_sample.py [--mirror /work/.mirror/crunchdomo+KRW-DarkWeb/repo]
"""

from __future__ import annotations

import argparse
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "configs" / "lab" / "bazaar"
MIRROR = Path("/work/.mirror/crunchdomo+KRW-DarkWeb/repo")
_LIT = r'(?:"""(.*?)"""|"((?:[^"\\]|\\.)*)")'
_FILES = re.compile(r"\.(?:ttl|rdf|owl)$|(?:^|/)Final$|darkwebontologyv1$")
_JUNK_TITLES = re.compile(r"forwarding failure|dream market login|privoxy", re.IGNORECASE)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, errors="replace",
                          check=True).stdout


def _unescape(s: str) -> str:
    s = s.replace("\\\\'", "'").replace("\\'", "'").replace('\\"', '"').replace("\\\\n", "\n").replace("\\n", "\n")
    s = s.replace("\\t", " ").replace("\t", " ")
    try:  # the RDF export double-encoded UTF-8 in places ("â\x98\x85" for "★")
        s = s.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    return s.strip()


def _place(uri: str) -> str | None:
    """'ns1:United_Kingdom', '<…/location/UK>', '"Netherlands"' → 'United Kingdom', …; the export
    glued the next row onto some values ("Worldwide')(2859,'50x…"): that tail is cut."""
    m = re.search(r'"([^"]+)"|location/([^>%]+)|ns1:([^\s;%]+)|darkwebisspooky/(?:http%3A//darkwebisspooky/)?([A-Za-z_]+)>', uri)
    if not m:
        return None
    value = next(g for g in m.groups() if g)
    value = value.replace("_", " ").strip()
    return None if value in ("-", "Dream", "") else value


def products(repo: Path) -> dict[str, dict[str, set[str]]]:
    found: dict[str, dict[str, set[str]]] = {}
    seen: set[str] = set()
    for line in _git(repo, "rev-list", "--all", "--objects").splitlines():
        sha, _, path = line.partition(" ")
        if not path or sha in seen or not _FILES.search(path):
            continue
        seen.add(sha)
        text = _git(repo, "cat-file", "-p", sha)
        if "darkwebisspooky/product/" not in text:
            continue
        for block in re.split(r"\n(?=<http://darkwebisspooky/product/)", text):
            m = re.match(r"<http://darkwebisspooky/product/(\d+)>", block)
            if not m:
                continue
            p = found.setdefault(m.group(1), {})
            head = block.split(";")[0]
            p.setdefault("classes", set()).update(re.findall(r"(?:darkwebisspooky/|ns1:)(Drugs|Digital_Goods|Services)\b", head))
            for prop in ("productName", "price", "priceUSD", "sellerName", "description", "category", "shipping_option"):
                for mm in re.finditer(r"(?:ns1:|darkwebisspooky/)" + prop + r">?\s+" + _LIT, block, re.DOTALL):
                    p.setdefault(prop, set()).add(mm.group(1) if mm.group(1) is not None else mm.group(2))
            for prop in ("ship_from", "ship_to", "shipsFrom", "shipsTo"):
                for mm in re.finditer(r"(?:ns1:|darkwebisspooky/)" + prop + r">?\s+(\S+?)\s*[;.]\s", block):
                    p.setdefault(prop.replace("ship_", "ships").replace("shipsfrom", "shipsFrom").replace("shipsto", "shipsTo"),
                                 set()).add(mm.group(1))
    return found


_CONTACT_LINE = re.compile(r"(?i)@|\b(?:kik|wickr|telegram|skype|icq|jabber|xmpp|whatsapp|signal|phone|e-?mail|"
                           r"address|username|password)\b")


def _scrub(text: str) -> str:
    """Descriptions keep what is sold and how, not who: lines with contact handles, emails,
    account or address data (even partly starred, as some sellers showed samples) are left out,
    so the lab carries no real person's data."""
    kept = [line for line in text.splitlines() if not _CONTACT_LINE.search(line)]
    return "\n".join(kept).strip()


def _best_place(values: set[str]) -> str | None:
    places = [p for p in (_place(v) for v in sorted(values, key=len)) if p]
    return places[0] if places else None


def sample(found: dict[str, dict[str, set[str]]]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    rows: list[dict[str, Any]] = []
    sellers: dict[str, str] = {}
    for pid, p in sorted(found.items(), key=lambda kv: int(kv[0])):
        names = [_unescape(n) for n in p.get("productName", ()) if _unescape(n)]
        prices = [float(x.strip("$")) for x in p.get("price", set()) | p.get("priceUSD", set())
                  if re.fullmatch(r"\$?\d+(?:\.\d+)?", x) and float(x.strip("$")) > 0]
        if not names or not prices or _JUNK_TITLES.search(names[0]):
            continue
        seller = next((s for s in sorted(p.get("sellerName", ())) if s not in ("-", "")), None)
        category = next((c.split("\\")[0].strip() for c in sorted(p.get("category", ())) if c.strip() not in ("-", "")), None)
        descriptions = [_unescape(d) for d in p.get("description", ()) if len(_unescape(d)) > 20]
        shipping = []
        for opt in sorted(p.get("shipping_option", ())):
            for price, method in re.findall(r"\$([\d.]+)\s*(?:\\+n|\n|\s)+([^\\\n$]+)", opt.replace("\\\\n", "\n").replace("\\n", "\n")):
                if method.strip():
                    shipping.append({"price": f"${price}", "method": _unescape(method.strip())})
        classes = p.get("classes", set())
        category = category or ("Drugs" if "Drugs" in classes else "Digital Goods" if "Digital_Goods" in classes else None)
        row: dict[str, Any] = {
            "title": " ".join(names[0].split()),
            "category": "drugs" if category == "Drugs" else "digital",
            "site_category": category,
            "price": prices[0], "currency": "USD", "price_text": f"${prices[0]:g}",
            "ships_from": _best_place(p.get("shipsFrom", set())),
            "ships_to": _best_place(p.get("shipsTo", set())),
            "description": _scrub(max(descriptions, key=len))[:1500] if descriptions else "",
            "shipping": shipping[:4], "lang": "en", "posted": "2017", "source_product": int(pid),
        }
        if seller:
            slug = re.sub(r"[^a-z0-9]+", "-", seller.lower()).strip("-")
            row["vendor"] = slug
            sellers[slug] = seller
        rows.append({k: v for k, v in row.items() if v not in (None, "", [])})
    return rows, sellers


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mirror", type=Path, default=MIRROR)
    args = ap.parse_args()
    rows, sellers = sample(products(args.mirror))
    listings = OUT / "listings"
    vendors = OUT / "vendors"
    for d in (listings, vendors):
        d.mkdir(parents=True, exist_ok=True)
    for old in listings.glob("dm-*.yaml"):
        old.unlink()
    for old in vendors.glob("*.yaml"):
        if "source: dream-market" in old.read_text(encoding="utf-8"):
            old.unlink()
    for row in rows:
        slug = f"dm-{row['source_product']}"
        (listings / f"{slug}.yaml").write_text(yaml.safe_dump(row, allow_unicode=True, sort_keys=False), encoding="utf-8")
    for slug, name in sellers.items():
        (vendors / f"{slug}.yaml").write_text(yaml.safe_dump(
            {"slug": slug, "name": name, "since": "2016", "bio": "Dream Market seller (2016-17 sample).",
             "source": "dream-market"},
            allow_unicode=True, sort_keys=False), encoding="utf-8")
    license_text = _git(args.mirror, "show", "HEAD:LICENSE")
    (OUT / "LICENSE").write_text(license_text, encoding="utf-8")
    print(f"{len(rows)} listings ({sum('vendor' in r for r in rows)} with a seller), {len(sellers)} sellers -> {OUT}")


if __name__ == "__main__":
    main()
