"""Build the tagger's development corpus: labelled JSON Lines from public sources fetched once.

Run:  .venv/bin/python bench/tagger_corpus.py [--mirror /work/.mirror] [--out bench/out/tagger-corpus]

Offline: reads the git objects of repositories already fetched into the mirror directory (no work
tree needed; several source files exist only in their history). If a repository is missing, the
script names it and how to fetch it, and stops. Output (gitignored, never committed):

  agora.jsonl     Agora market titles 2014 (mozzarellaV8/agora-marketplace: NO licence — used at
                  build time only, never committed)
  dream.jsonl     Dream Market titles 2016-17 (crunchdomo/KRW-DarkWeb, MIT); the same rows are
                  committed as tests/data/tagger/dream_market/ with the licence (`--write-sample`)
  own.jsonl       text written for this project (bench/data/tagger/own/*.yaml)
  seeds.jsonl     paragraphs of the reports in ../shared/seeds (hard negatives: reporting)
  wildlife_web.jsonl  excerpts of public web pages about wildlife products, if the private cache
                  bench/data/tagger/private/wildlife_web.yaml exists (see PROVENANCE.md)
  manifest.json   counts, label rules, and the commit/blob of every input

Every record: {id, source, text, labels: [categories], page_kind, lang, split, meta}.
Labels come from each market's own categories (rules below), not from our tagger.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data" / "tagger"
SAMPLE = ROOT / "tests" / "data" / "tagger" / "dream_market"
SEEDS = ROOT.parent / "shared" / "seeds"
CATEGORIES = ("drugs", "leaked_data", "wildlife")

REPOS = {
    "agora": ("mozzarellaV8/agora-marketplace", "mozzarellaV8+agora-marketplace/repo"),
    "dream": ("crunchdomo/KRW-DarkWeb", "crunchdomo+KRW-DarkWeb/repo"),
    "interpol": ("INTERPOL-Innovation-Centre/DW-VA-Taxonomy", "INTERPOL-Innovation-Centre+DW-VA-Taxonomy/repo"),
}


# --------------------------------------------------------------------------------------------
# git access (bare mirrors, history included)


def git_dir(mirror: Path, key: str) -> Path:
    name, rel = REPOS[key]
    path = mirror / rel
    for candidate in (path / ".git", path):
        if (candidate / "objects").is_dir():
            return candidate
    sys.exit(
        f"missing source {name}: expected a git mirror at {path}.\n"
        f"Fetch it once (e.g. `git clone --mirror https://github.com/{name} {path}`, or the project's "
        f"fetch tool), then run this script again. It reads git objects only and works offline."
    )


def git(gdir: Path, *args: str) -> bytes:
    return subprocess.run(["git", "--git-dir", str(gdir), *args], check=True, capture_output=True).stdout


def history_blobs(gdir: Path, path_re: re.Pattern[str]) -> dict[str, tuple[str, str]]:
    """blob id → (path, commit) for every version of every matching path in all of history."""
    out: dict[str, tuple[str, str]] = {}
    for commit in git(gdir, "rev-list", "--all").decode().split():
        for line in git(gdir, "ls-tree", "-r", commit).decode("utf-8", "replace").splitlines():
            meta, _, path = line.partition("\t")
            parts = meta.split()
            if len(parts) == 3 and parts[1] == "blob" and path_re.search(path) and parts[2] not in out:
                out[parts[2]] = (path, commit)
    return out


def blob_text(gdir: Path, blob: str) -> str | None:
    """The blob's text, or None when the mirror lacks it (some historic blobs were not kept)."""
    proc = subprocess.run(["git", "--git-dir", str(gdir), "cat-file", "-p", blob], capture_output=True, check=False)
    return proc.stdout.decode("utf-8", "replace") if proc.returncode == 0 else None


# --------------------------------------------------------------------------------------------
# Agora 2014 (product CSVs: list, date, vendor, product, price, cat, subcat, subsubcat, ...)

AGORA_FILES = re.compile(r"^data/product/products-2014-\d\d(?:-\d\d)?\.csv$")
# Leaked personal data sold as goods (accounts, cards, dumps, fullz, logins, identity scans).
LEAK_TITLE = re.compile(
    r"(?i)(?<![a-z])(?:cc|ccs|cvv2?|fullz|fulls|dumps?|track ?[12]|logins?|bank ?logs?|accounts?|acc|paypals?|pp"
    r"|ssn|dob|mmn|w-?2s?|credentials|combo ?lists?|databases?|db|leak(?:ed)?|scans?|bins?|profiles?"
    r"|(?:visa|master ?card|mc|amex|platinum|gold|classic|business|debit|credit)(?: cards?)?)(?![a-z])"
)
# A guide/tool/service *about* those goods is not the goods (carding tutorials are not leaked data).
GUIDE_TITLE = re.compile(
    r"(?i)(?<![a-z])(?:how ?to|guides?|tutorials?|tuto|methods?|e-?books?|books?|handbook|bible|course|pdf|templates?"
    r"|psd|software|checker|generator|tool|bot|crack(?:ed)?|vpn|proxy|proxies|socks5?|exchanger|anonymous|prepaid"
    r"|verification service|cash ?out|cashout|make money|earn|tricks?|secrets?|school|university|pack(?:age)?)(?![a-z])"
)
LEAK_CATEGORIES = {("Data", "Accounts"), ("Services", "Money"), ("Services", "Hacking"), ("Services", "Other"),
                   ("Forgeries", "NA")}
ACCOUNT_TITLE = re.compile(r"(?i)(?<![a-z])(?:accounts?|logins?|credentials)(?![a-z])")
SOFTWARE_CATEGORIES = {("Data", "Software"), ("Data", "Pirated")}  # only account titles there
DRUG_CATEGORIES = {"Drugs", "Drug paraphernalia"}
SKIP_CATEGORIES = {("Listings", "NA")}  # custom orders: no category to learn from


def agora_labels(cat: str, subcat: str, title: str) -> list[str] | None:
    """Labels from Agora's own category tree; None = leave out (no usable category)."""
    if (cat, subcat) in SKIP_CATEGORIES:
        return None
    if cat in DRUG_CATEGORIES:
        return ["drugs"]
    if GUIDE_TITLE.search(title):
        return []
    if (cat, subcat) in SOFTWARE_CATEGORIES and ACCOUNT_TITLE.search(title):
        return ["leaked_data"]
    # a forged paper ID is not data; a scan of a real one is
    scan = cat != "Forgeries" or (re.search(r"(?i)scan", title) and not re.search(r"(?i)fake|replica", title))
    if (cat, subcat) in LEAK_CATEGORIES and LEAK_TITLE.search(title) and scan:
        return ["leaked_data"]
    return []


def agora(gdir: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    blobs = history_blobs(gdir, AGORA_FILES)
    seen: dict[str, dict[str, Any]] = {}
    missing = []
    for blob, (path, commit) in sorted(blobs.items(), key=lambda kv: kv[1][0]):
        text = blob_text(gdir, blob)
        if text is None:
            missing.append(path)
            continue
        reader = csv.DictReader(io.StringIO(text))
        for row in reader:
            title = " ".join((row.get("product") or "").split())
            cat, subcat = row.get("cat") or "", row.get("subcat") or ""
            if not title or not cat:
                continue
            labels = agora_labels(cat, subcat, title)
            if labels is None:
                continue
            key = title.lower()
            if key in seen:
                continue
            seen[key] = {
                "id": f"agora-{len(seen)}", "source": "agora", "text": title, "labels": labels,
                "page_kind": "listing", "lang": "en",
                "meta": {"category": "/".join(x for x in (cat, subcat, row.get("subsubcat") or "") if x and x != "NA"),
                         "date": row.get("date"), "file": path},
            }
    rows = list(seen.values())
    for r in rows:  # time split: Jan-Feb train, Mar dev (for the within-market figures only)
        r["split"] = "dev" if (r["meta"]["date"] or "").startswith("2014-03") else "train"
    return rows, {"blobs": {b: p for b, (p, _) in blobs.items() if p not in missing}, "missing_blobs": missing}


# --------------------------------------------------------------------------------------------
# Dream Market 2016-17 (RDF/Turtle individuals with productName, description = category path)

DREAM_FILES = re.compile(r"\.(?:ttl|rdf|owl)$|(?:^|/)Final$|darkwebontologyv1$")
_PRODUCT = re.compile(r"\n(?=<http://darkwebisspooky/product/|###  http)")
_LITERAL = r'(?:"""(.*?)"""|"((?:[^"\\]|\\.)*)")'


def _unescape(s: str) -> str:
    s = s.replace("\\\\'", "'").replace("\\'", "'").replace('\\"', '"').replace("\\n", "\n").replace("\\t", " ")
    try:  # the RDF export double-encoded UTF-8 in places ("â" for "✓")
        s = s.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    return " ".join(s.split()) if "\n" not in s else s.strip()


def dream_products(gdir: Path) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    blobs = history_blobs(gdir, DREAM_FILES)
    products: dict[str, dict[str, Any]] = {}
    for blob, (path, _) in sorted(blobs.items(), key=lambda kv: kv[1][0]):
        text = blob_text(gdir, blob)
        if text is None or "productName" not in text:
            continue
        for block in _PRODUCT.split(text):
            m = re.match(r"<http://darkwebisspooky/product/(\d+)>", block)
            if not m:
                continue
            name = re.search(r"productName>?\s+" + _LITERAL, block, re.DOTALL)
            desc = re.search(r"description>?\s+" + _LITERAL, block, re.DOTALL)
            classes = re.findall(r"(?:darkwebisspooky/|ns1:)(Drugs|Digital_Goods|Services)", block.split(";")[0])
            p = products.setdefault(m.group(1), {"names": [], "descriptions": [], "classes": set()})
            for found, key in ((name, "names"), (desc, "descriptions")):
                if found:
                    value = _unescape(found.group(1) if found.group(1) is not None else found.group(2))
                    if value and value not in p[key]:
                        p[key].append(value)
            p["classes"].update(classes)
    return products, {"blobs": {b: p for b, (p, _) in blobs.items()}}


def dream(gdir: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows labelled in bench/data/tagger/dream_market_labels.yaml (market category + our reading)."""
    spec = yaml.safe_load((DATA / "dream_market_labels.yaml").read_text(encoding="utf-8"))
    products, info = dream_products(gdir)
    label_of: dict[str, tuple[list[str], str]] = {}
    for label, ids in spec["labels"].items():
        for pid in ids:
            label_of[str(pid)] = ([] if label == "none" else [label], label)
    rows = []
    for pid, p in sorted(products.items(), key=lambda kv: int(kv[0])):
        if str(pid) in {str(x) for x in spec["exclude"]} or not p["names"]:
            continue
        if pid not in label_of:
            raise SystemExit(f"dream product {pid} ({p['names'][0]!r}) has no label in dream_market_labels.yaml")
        labels, _ = label_of[pid]
        title = p["names"][0]
        category = next((d for d in p["descriptions"] if _looks_like_category(d)), "")
        description = max((d for d in p["descriptions"] if not _looks_like_category(d)), key=len, default="")
        rows.append({
            "id": f"dream-{pid}", "source": "dream", "text": title, "labels": labels, "page_kind": "listing",
            "lang": "en", "split": "test",
            "meta": {"category": category, "classes": sorted(p["classes"]), "description": description[:2000]},
        })
    return rows, info


def _looks_like_category(s: str) -> bool:
    return len(s) < 60 and "\n" not in s and not re.search(r"[.!?]\s|\d{3,}", s)


# --------------------------------------------------------------------------------------------
# Text we wrote, the seed reports, and the web wildlife excerpts


def own() -> list[dict[str, Any]]:
    rows = []
    for path in sorted((DATA / "own").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for i, item in enumerate(doc["items"]):
            rows.append({
                "id": f"own-{path.stem}-{i}", "source": "own", "text": item["text"].strip(),
                "labels": item.get("labels", []), "page_kind": item.get("page_kind", doc.get("page_kind", "other")),
                "lang": item.get("lang", doc.get("lang", "en")), "split": doc.get("split", "train"),
                "meta": {"file": path.name, "kind": item.get("kind", doc.get("kind"))},
            })
    return rows


def seeds() -> list[dict[str, Any]]:
    rows = []
    for path in sorted(SEEDS.glob("*.txt")):
        paras = [p.strip() for p in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")) if len(p.strip()) > 120]
        for i, para in enumerate(paras):
            rows.append({"id": f"seed-{path.stem}-{i}", "source": "seeds", "text": para, "labels": [],
                         "page_kind": "news", "lang": "en", "split": "test", "meta": {"file": path.name}})
    return rows


def wildlife_web() -> list[dict[str, Any]]:
    manifest = yaml.safe_load((DATA / "wildlife_web.sources.yaml").read_text(encoding="utf-8"))
    cache = DATA / "private" / "wildlife_web.yaml"
    if not cache.exists():
        print(f"note: {cache} not present: wildlife web set skipped (see bench/data/tagger/PROVENANCE.md)")
        return []
    texts = {item["url"]: item["text"] for item in yaml.safe_load(cache.read_text(encoding="utf-8"))}
    rows = []
    for i, src in enumerate(manifest["items"]):
        text = texts.get(src["url"])
        if text is None:
            continue
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        if digest != src["sha256"]:
            print(f"warning: excerpt for {src['url']} differs from the manifest ({digest} != {src['sha256']})")
        rows.append({"id": f"web-{i}", "source": "wildlife_web", "text": text, "labels": src["labels"],
                     "page_kind": src.get("page_kind", "other"), "lang": src["lang"], "split": "test",
                     "meta": {"url": src["url"], "why": src.get("why", ""), "web_split": src.get("split", "dev")}})
    return rows


# --------------------------------------------------------------------------------------------


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, default=sorted) + "\n")


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


def write_sample(rows: list[dict[str, Any]]) -> None:
    """The Dream Market rows (MIT) committed for CI, with the licence beside them."""
    SAMPLE.mkdir(parents=True, exist_ok=True)
    write_jsonl(SAMPLE / "listings.jsonl", rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirror", type=Path, default=Path(os.environ.get("ONIONWATCH_MIRROR", "/work/.mirror")))
    parser.add_argument("--out", type=Path, default=HERE / "out" / "tagger-corpus")
    parser.add_argument("--write-sample", action="store_true", help="also rewrite tests/data/tagger/dream_market/listings.jsonl")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {"label_rules": {
        "agora": "Drugs/* and Drug paraphernalia/* → drugs; titles naming accounts/cards/dumps/fullz/logins/scans in "
                 "Data, Services and Forgeries (scans only) → leaked_data unless they are guides/tools/services; "
                 "Listings/NA (custom orders) left out; everything else → no category",
        "dream": "bench/data/tagger/dream_market_labels.yaml (market category where the RDF kept it, else our reading of the title)",
    }}
    for key, build in (("agora", agora), ("dream", dream)):
        gdir = git_dir(args.mirror, key)
        rows, info = build(gdir)
        write_jsonl(args.out / f"{key}.jsonl", rows)
        head = git(gdir, "rev-parse", "HEAD").decode().strip()
        manifest[key] = {"repo": REPOS[key][0], "head": head, "rows": len(rows), **info,
                         "labels": dict(Counter(l for r in rows for l in r["labels"] or ["none"]))}
        if key == "dream" and args.write_sample:
            write_sample(rows)
    for key, build_other in (("own", own), ("seeds", seeds), ("wildlife_web", wildlife_web)):
        rows = build_other()
        write_jsonl(args.out / f"{key}.jsonl", rows)
        manifest[key] = {"rows": len(rows), "labels": dict(Counter(l for r in rows for l in r["labels"] or ["none"]))}
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1, default=sorted))
    for key in ("agora", "dream", "own", "seeds", "wildlife_web"):
        print(f"{key:13s} {manifest[key]['rows']:6d} rows  {manifest[key]['labels']}")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
