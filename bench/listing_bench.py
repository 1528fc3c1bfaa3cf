"""Listing extraction on the lab's two market layouts, measured against the lab's own truth.

Serves the lab markets on loopback (Golden Lotus: lists and paragraphs; Dream Bazaar: tables,
Dream Market 2016-17 listings plus SEA vendors in five languages), fetches every page that
shows a listing, runs the extractor, and prints precision/recall per field and layout for the
generic extractor alone and with the site rules of configs/sites, side by side, with the
extraction time per page (ratios in one run).

  python bench/listing_bench.py [--json] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ensure_isolated

import configs
from lab.listing_truth import FIELDS, expected_listings
from lab.onions import fake_onion
from lab.specs import load_sites
from listings import ListingExtractor
from listings.evaluate import add, rates, score_page

LAYOUTS = {"market": "Golden Lotus (lists)", "bazaar": "Dream Bazaar (tables)"}


def fetch_pages(lab: Any, name: str, onion: str, paths: list[str]) -> dict[str, bytes]:
    return {p: urllib.request.urlopen(lab.url(name, p), timeout=10).read() for p in paths}


def measure(extractor: ListingExtractor, pages: dict[str, bytes], onion: str, truth: list[dict[str, Any]],
            repeat: int = 1) -> tuple[dict[str, Counter[str]], float, int]:
    by_path: dict[str, list[dict[str, Any]]] = {}
    for t in truth:
        by_path.setdefault(t["path"], []).append(t["fields"])
    total: dict[str, Counter[str]] = {}
    started = time.perf_counter()
    n = 0
    for _ in range(repeat):
        total = {}
        for path, raw in pages.items():
            got = extractor.extract(raw.decode("utf-8"), url=f"http://{onion}{path}", onion=onion).listings
            n += 1
            add(total, score_page(got, by_path.get(path, []), FIELDS))
    return total, (time.perf_counter() - started) / max(1, n), n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="extraction passes (timing)")
    args = ap.parse_args()
    ensure_isolated()
    from lab.server import Lab

    specs = [s for s in load_sites() if s.name in LAYOUTS]
    onion_of = {s.name: fake_onion(s.name) for s in load_sites()}
    variants = {
        "generic": ListingExtractor(b"bench-key" * 4, sites_dir=Path("/nonexistent")),
        "generic+rules": ListingExtractor(b"bench-key" * 4, sites_dir=configs.path("sites")),
    }
    results: dict[str, Any] = {"layouts": {}, "rules": [r.name for r in variants["generic+rules"].rules]}
    with Lab(specs, onion_of, "127.0.0.1") as lab:
        for spec in specs:
            truth = expected_listings(spec, onion_of)
            paths = sorted({t["path"] for t in truth})
            pages = fetch_pages(lab, spec.name, onion_of[spec.name], paths)
            layout: dict[str, Any] = {"pages": len(pages), "listings_shown": len(truth), "variants": {}}
            for ex in variants.values():  # warm-up: regexes, lxml and extruct loaded before timing
                measure(ex, pages, onion_of[spec.name], truth, 1)
            for vname, ex in variants.items():
                counts, per_page, _ = measure(ex, pages, onion_of[spec.name], truth, args.repeat)
                layout["variants"][vname] = {"fields": rates(counts), "ms_per_page": round(per_page * 1000, 2)}
            results["layouts"][spec.name] = layout
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"listing extraction vs the lab's truth (site rules in force: {', '.join(results['rules']) or 'none'})")
    for name, layout in results["layouts"].items():
        print(f"\n{LAYOUTS[name]}: {layout['pages']} pages showing {layout['listings_shown']} listings")
        print(f"  {'field':<11}" + "".join(f"{v + ' P':>16}{v + ' R':>16}" for v in layout["variants"]))
        for f in FIELDS:
            row = f"  {f:<11}"
            for v in layout["variants"].values():
                r = v["fields"][f]
                row += "".join(f"{('-' if r[k] is None else format(r[k], '.3f')):>16}" for k in ("precision", "recall"))
            print(row)
        g, r = layout["variants"]["generic"], layout["variants"]["generic+rules"]
        print(f"  ms/page: generic {g['ms_per_page']}, with rules {r['ms_per_page']} "
              f"(ratio {r['ms_per_page'] / g['ms_per_page']:.2f})")


if __name__ == "__main__":
    main()
