"""Indexing throughput, side by side in one run, on one local noida-db (Elasticsearch API):

  onionwatch   PageWriter.store(batch) — the crawler's sink: snapshot (sealed raw body),
               page (monthly partition, re-index lookup), service roll-up (optimistic
               concurrency), refreshes so a stored page is searchable at once
  bare         elasticsearch.helpers.bulk of exactly the documents PageWriter sent for that
               batch (captured from it), into a twin index layout: the ceiling for that data

Batches alternate between the two (PageWriter, then bare for the same batch), so machine
noise hits both alike. Records are the lab's generated pages, extracted and tagged by the
crawler's own code (docs/record.md shape).

Run:  .venv/bin/python bench/index_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import log, machine, noida, print_table, ratio, workdir  # noqa: E402


def records(n: int, onions: int = 40) -> list[dict[str, Any]]:
    """Real page records: the lab's generated pages (rendered in-process, no network),
    extracted by the crawler's extractor and tagged by the crawl's enricher (enrich.records.RecordEnricher)."""
    from crawler.extract import extract
    from crawler.items import shape
    from crawler.onion import find_onions
    import configs
    from enrich.records import RecordEnricher
    from enrich.tagger import Tagger
    from lab import bulk_sites, fake_onion, serve_sites

    per_onion = -(-n // onions)
    specs = bulk_sites(onions, per_onion)
    onion_of = {s.name: fake_onion(s.name) for s in specs}
    site_lab = serve_sites(specs, onion_of)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = []
    try:
        for i in range(n):
            spec, number = specs[i % onions], i // onions
            path = f"/p/{number}" if number else "/"
            raw = b"".join(site_lab.apps[spec.name].handle(path).body)
            url = f"http://{onion_of[spec.name]}{path}"
            page = extract(raw.decode(), url)
            out.append({
                "url": url, "onion": onion_of[spec.name], "fetched_at": now, "status": 200, "failure": None,
                "content_type": "text/html", "title": page.title, "text": page.text, "links": page.links,
                "onion_links": find_onions(" ".join(page.links)), "lang": page.lang or "und",
                "sha256": hashlib.sha256(raw).hexdigest(), "size": len(raw), "raw": raw, "depth": 1,
                "crawl_id": "bench",
            })
    finally:
        site_lab.stop()
    RecordEnricher(Tagger.load(configs.path("tagger")), b"bench-pii-key-" * 2)(out)
    return [shape(r) for r in out]  # as the crawl's pipeline hands them to the sink


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1,000 records per batch size instead of 4,000")
    args = ap.parse_args()

    from elasticsearch import helpers

    from index import Names, PageWriter, setup
    from index.client import connect
    from index.names import PAGES, month_partition
    from index.schema import default_config_dir, ensure_partition

    n = 1000 if args.quick else 4000
    tmp = workdir("index-bench")
    config_dir = default_config_dir()
    rows = []
    with noida(tmp / "es") as url:
        es = connect(url)
        log(f"{machine()}; noida-db at {url}")
        for batch_size in (64, 500):
            ow, bare = Names(f"bench-ow-{batch_size}"), Names(f"bench-bare-{batch_size}")
            setup(es, ow, config_dir)
            specs = setup(es, bare, config_dir)
            docs = records(n)
            ensure_partition(es, bare, specs[PAGES], month_partition(docs[0]["fetched_at"]))
            sent: list[dict[str, Any]] = []
            bulk_time = [0.0]

            class Capturing(PageWriter):
                def _send(self, actions):  # noqa: ANN001, ANN202
                    sent.extend(actions)
                    t0 = time.perf_counter()
                    try:
                        return super()._send(actions)
                    finally:
                        bulk_time[0] += time.perf_counter() - t0

            pw_es = connect(url)
            spent = _timed(pw_es)
            writer = Capturing(pw_es, ow, snapshot_key=b"k" * 32, config_dir=config_dir)
            t_ow = t_bare = 0.0
            failed = bare_errors = 0
            for i in range(0, n, batch_size):
                batch = docs[i:i + batch_size]
                sent.clear()
                t0 = time.perf_counter()
                failed += sum(1 for e in writer.store(batch) if e)
                t_ow += time.perf_counter() - t0
                actions = [_retarget(a, ow.prefix, bare.prefix) for a in sent]
                t0 = time.perf_counter()
                _, errors = helpers.bulk(es, actions, chunk_size=200, max_chunk_bytes=8 * 1024 * 1024,
                                         raise_on_error=False, stats_only=True)
                t_bare += time.perf_counter() - t0
                bare_errors += errors
            es.indices.refresh(index=f"{ow.prefix}-*,{bare.prefix}-*")
            stored = es.count(index=ow.pages)["count"], es.count(index=bare.pages)["count"]
            size = _store_bytes(es, f"{ow.prefix}-*") / n
            rows.append([batch_size, n, f"{stored[0]}/{stored[1]}", n / t_ow, n / t_bare, ratio(t_bare, t_ow),
                         f"{100 * bulk_time[0] / t_ow:.0f}%",
                         " ".join(f"{k} {100 * v / t_ow:.0f}%" for k, v in sorted(spent.items())),
                         f"{failed}/{bare_errors}", f"{size / 1024:.1f}" if size else "-"])
            log(f"batch {batch_size}: PageWriter {n / t_ow:.0f} docs/s, bare bulk {n / t_bare:.0f} docs/s")
    print(f"\nbench/index_bench.py{' --quick' if args.quick else ''} — {machine()}")
    print("Each page record = 1 snapshot + 1 page doc + its share of service roll-ups (40 onions).")
    print_table("Indexing: page records/s into one noida-db",
                ["batch", "records", "pages stored ow/bare", "PageWriter", "bare bulk", "ow/bare",
                 "PW time in bulk", "PW time in other calls", "errors ow/bare", "KiB/record"], rows)


def _store_bytes(es, pattern: str) -> int:  # noqa: ANN001
    """On-disk size of the indices (0 when the server doesn't report it)."""
    try:
        stats = es.indices.stats(index=pattern, metric="store")
        return int(stats["_all"]["primaries"]["store"]["size_in_bytes"])
    except Exception:  # noqa: BLE001 — a figure for the table, not a requirement
        return 0


def _timed(es) -> dict[str, float]:  # noqa: ANN001
    """Wrap the non-bulk calls PageWriter makes so the bench can say where its time goes."""
    spent: dict[str, float] = {}

    def wrap(owner, name: str) -> None:  # noqa: ANN001
        real = getattr(owner, name)

        def timed(*a, **kw):  # noqa: ANN002, ANN003, ANN202
            label = {"search": "page-count aggs" if "aggs" in kw else "id lookups"}.get(name, name)
            t0 = time.perf_counter()
            try:
                return real(*a, **kw)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - t0
        setattr(owner, name, timed)

    wrap(es, "search")
    wrap(es, "mget")
    wrap(es.indices, "refresh")
    return spent


def _retarget(action: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """The same document for the twin layout, without optimistic-concurrency guards."""
    out = {k: v for k, v in action.items() if k not in ("if_seq_no", "if_primary_term")}
    out["_index"] = new + action["_index"][len(old):]
    return out


if __name__ == "__main__":
    main()
