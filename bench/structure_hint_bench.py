"""The crawler's structural page-kind hint (crawler/structure.py) on the lab's own pages.

Every page a correct crawler fetches from the lab's default sites is rendered in-process (no
network, as bench/index_bench.py does), extracted by the crawler's extractor, and tagged by the
crawl's enricher twice in this one run: with the hint the structure gives and without it. Prints
how many pages get a hint, by site and kind, which pages' page kind and categories change, and
what the structure pass costs beside the extraction it is part of.

  .venv/bin/python bench/structure_hint_bench.py            # re-runs itself under unshare -n
  .venv/bin/python bench/structure_hint_bench.py --apps     # also the real django-oscar and pinnwand
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import ensure_isolated


def lab_pages() -> list[dict[str, Any]]:
    """(site, role, path, html) of every 200 text/html page of the default lab sites."""
    from lab import expected_pages, fake_onion, load_sites, serve_sites

    specs = [s for s in load_sites() if s.role != "hostile"]
    onion_of = {s.name: fake_onion(s.name) for s in specs}
    site_lab = serve_sites(specs, onion_of)
    out = []
    try:
        for spec in specs:
            for path in sorted(expected_pages(spec, onion_of)):
                resp = site_lab.apps[spec.name].handle(path)
                if resp.status != 200 or "html" not in resp.content_type:
                    continue
                html = b"".join(resp.body).decode("utf-8", "replace")
                out.append({"site": spec.name, "role": spec.role, "path": path, "onion": onion_of[spec.name], "html": html})
    finally:
        site_lab.stop()
    return out


def cueless(enricher: Any) -> None:
    """The same Dream Bazaar items (Dream Market 2016-17, MIT) as a product page whose price is not
    in its visible text (in JSON-LD or an image, as on many shops): title and description only,
    tagged without and with the "listing" hint its structure would give."""
    import yaml

    from crawler.items import KIND_HINT

    rows = []
    for path in sorted((Path(__file__).resolve().parent.parent / "configs" / "lab" / "bazaar" / "listings").glob("*.yaml")):
        item = yaml.safe_load(path.read_text(encoding="utf-8"))
        rows.append((path.stem, f"{item['title']}\n{item.get('description') or ''}".strip()))
    plain = [{"url": stem, "text": text} for stem, text in rows]
    hinted = [{"url": stem, "text": text, KIND_HINT: "listing"} for stem, text in rows]
    enricher(plain)
    enricher(hinted)
    found = [sum(bool(r["categories"]) for r in rs) for rs in (plain, hinted)]
    gained = [(a["url"], a.get("page_kind"), a["categories"], b["categories"]) for a, b in zip(plain, hinted) if a["categories"] != b["categories"]]
    print(f"\nDream Bazaar items as title + description only ({len(rows)} pages, no price in the text):")
    print(f"  tagged with a category: {found[0]} without the hint, {found[1]} with the listing hint")
    print("  the text's own page kind: " + ", ".join(f"{k} {n}" for k, n in Counter(r.get("page_kind") for r in plain).most_common()))
    for url, kind, before, after in gained:
        print(f"  {url}: text said {kind} {before} -> {after}")


def app_pages(work: Path) -> list[dict[str, Any]]:
    """Pages of the lab's real apps (django-oscar shop, pinnwand pastebin; installed with
    `python -m lab.apps install`), their runners started on 127.0.0.1 without Tor, seeded as
    `lab up --apps` seeds them: the front page, every seeded item and the shop's category pages,
    each with its truth kind (drugs, leaked_data, other)."""
    import os
    import re
    import signal
    import subprocess

    import requests

    from lab import apps, default_configs_dir, fake_onion
    from procs import free_ports

    specs = apps.resolve(["oscar", "pinnwand"])
    ports = dict(zip((s.name for s in specs), free_ports(len(specs))))
    onion_of = {s.role: fake_onion(s.name) for s in specs}
    procs, out = [], []
    try:
        started = []
        for spec in specs:
            data = work / "apps" / spec.name
            cfg, truth = apps._app_config(spec, work, ports[spec.name], onion_of[spec.role], onion_of,
                                          default_configs_dir(), None, [])
            (data / "app.json").write_text(json.dumps(cfg, ensure_ascii=False), encoding="utf-8")
            log, err = data / "runner.out", data / "app.log"
            with open(log, "wb") as o, open(err, "ab") as e:
                proc = subprocess.Popen([apps.python_of(spec), str(apps.RUN_DIR / spec.runner), "--config", str(data / "app.json")],
                                        stdout=o, stderr=e, stdin=subprocess.DEVNULL, cwd=data, start_new_session=True,
                                        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(data), "LANG": "C.UTF-8"})
            procs.append(proc)
            started.append((spec, proc, log, err, truth))
        for spec, proc, log, err, truth in started:
            ready = apps._wait_local(spec, proc, ports[spec.name], log, err, 300)
            base = f"http://127.0.0.1:{ports[spec.name]}"
            kind_of = {t.get("path") or ready["products"][t["upc"]]: t["kind"] for t in truth}
            paths = ["/", *kind_of]
            if spec.name == "oscar":
                home = requests.get(base + "/", timeout=60).text
                paths += sorted(set(re.findall(r'href="(/catalogue/category/[^"]+)"', home))) + ["/catalogue/"]
            for path in paths:
                r = requests.get(base + path, timeout=60)
                if r.status_code == 200 and "html" in r.headers.get("Content-Type", ""):
                    out.append({"site": f"app-{spec.name}", "role": spec.role, "path": path, "onion": onion_of[spec.role],
                                "html": r.text, "truth": kind_of.get(path)})
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
    return out


def main() -> None:
    ensure_isolated()
    import lxml.html

    import configs
    from crawler.extract import extract
    from crawler.items import KIND_HINT
    from crawler.structure import rules, structure_hint
    from enrich.records import RecordEnricher
    from enrich.tagger import Tagger

    pages = lab_pages()
    if "--apps" in sys.argv[1:]:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="structure-bench-") as work:
            pages += app_pages(Path(work))
    rules()  # loaded once, outside the timings
    extracted = [extract(p["html"], f"http://{p['onion']}{p['path']}") for p in pages]
    roots = [lxml.html.document_fromstring(p["html"]) for p in pages]
    t_extract = t_hint = float("inf")
    for _ in range(5):  # best of 5 interleaved passes, in CPU time of this process
        t0 = time.process_time()
        for p in pages:
            extract(p["html"], f"http://{p['onion']}{p['path']}")
        t_extract = min(t_extract, time.process_time() - t0)
        t0 = time.process_time()
        for root in roots:
            structure_hint(root)
        t_hint = min(t_hint, time.process_time() - t0)

    def record(p: dict[str, Any], e: Any, hinted: bool) -> dict[str, Any]:
        r = {"url": p["path"], "text": e.text, "lang": e.lang or "und"}
        if hinted and e.kind:
            r[KIND_HINT] = e.kind
        return r

    enricher = RecordEnricher(Tagger.load(configs.path("tagger")), b"structure-bench-key" * 2)
    plain = [record(p, e, False) for p, e in zip(pages, extracted)]
    hinted = [record(p, e, True) for p, e in zip(pages, extracted)]
    t0 = time.process_time()
    enricher(plain)
    t_tag = time.process_time() - t0
    enricher(hinted)

    by_site: dict[str, Counter[str]] = defaultdict(Counter)
    changed = []
    for p, e, a, b in zip(pages, extracted, plain, hinted):
        c = by_site[f"{p['site']} ({p['role']})"]
        c["pages"] += 1
        c[e.kind or "none"] += 1
        c["kind_changed"] += a.get("page_kind") != b.get("page_kind")
        if a["categories"] != b["categories"]:
            c["cats_changed"] += 1
            changed.append((p["site"], p["path"], e.kind, a.get("page_kind"), a["categories"], b["categories"]))
    kinds = ["listing", "shop", "forum", "none"]
    head = f"{'site (role)':28} {'pages':>5} " + " ".join(f"{k:>7}" for k in kinds) + f" {'kind chg':>8} {'cats chg':>8}"
    print(head)
    print("-" * len(head))
    total: Counter[str] = Counter()
    for site, c in sorted(by_site.items()):
        total.update(c)
        print(f"{site:28} {c['pages']:5d} " + " ".join(f"{c[k]:7d}" for k in kinds) + f" {c['kind_changed']:8d} {c['cats_changed']:8d}")
    print("-" * len(head))
    print(f"{'all':28} {total['pages']:5d} " + " ".join(f"{total[k]:7d}" for k in kinds) + f" {total['kind_changed']:8d} {total['cats_changed']:8d}")
    hinted_n = total["pages"] - total["none"]
    print(f"\npages with a structural hint: {hinted_n}/{total['pages']} ({hinted_n / max(1, total['pages']):.0%})")
    pairs = Counter(f"{a.get('page_kind')}->{e.kind}" for e, a in zip(extracted, plain) if e.kind)
    print("text's own page kind -> structural hint, on hinted pages: " + ", ".join(f"{k} {n}" for k, n in pairs.most_common()))
    print(f"\ncategories changed by the hint: {len(changed)} page(s)")
    for site, path, hint, text_kind, before, after in changed:
        print(f"  {site}{path}  hint={hint} (text said {text_kind})  {before} -> {after}")
    truth = [(p, a, b) for p, a, b in zip(pages, plain, hinted) if p.get("truth")]
    if truth:
        print("\nlab apps, seeded items tagged with their truth category (other: tagged leaked_data), without / with the hint:")
        for site, kind in sorted({(p["site"], p["truth"]) for p, _, _ in truth}):
            rows = [(a, b) for p, a, b in truth if (p["site"], p["truth"]) == (site, kind)]
            want = "leaked_data" if kind == "other" else kind
            print(f"  {site:14} {kind:12} {sum(want in a['categories'] for a, _ in rows):3d} / "
                  f"{sum(want in b['categories'] for _, b in rows):3d} of {len(rows)}")
    cueless(enricher)
    n = len(pages)
    print(f"\nCPU, best of 5: extract() {t_extract / n * 1e3:.3f} ms/page (structure pass included), the structure "
          f"pass alone {t_hint / n * 1e3:.3f} ms/page = {t_hint / max(t_extract, 1e-9):.0%} of extract(), "
          f"{t_hint / max(t_tag, 1e-9):.1%} of tagging ({t_tag / n * 1e3:.2f} ms/page, one pass)")


if __name__ == "__main__":
    main()
