"""What journaling first costs the crawl, per page, side by side in one run (this machine's disk):

  facts        CaptureLog.append of masked records: hash chain + one write + one fsync per batch
  + bodies     the same with the raw bodies sealed (zstd + AES-256-GCM) into the side store first
  + known      the same plus the known-URL table update (SQLite, what caps and resumes read)
  read back    what the indexer does per entry: read the journal and unseal the body

Records look like lab pages (~18 KB of HTML, ~4 KB of masked text), in batches of 200 (the
crawl's ONIONWATCH_STORE_BATCH). Rounds alternate between the variants.

Run:  .venv/bin/python bench/capture_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine, print_table, ratio
from crawler.capture import CaptureLog, record_from_entry
from crawler.known import KnownUrls
from journal import Journal
from journal.blobs import BlobStore

ONION = "a" * 56 + ".onion"
BATCH = 200


class Enriched:
    tagger = None


def records(n: int, start: int) -> list[dict]:
    out = []
    for i in range(start, start + n):
        raw = (f"<html><head><title>Listing {i}</title></head><body>" + "<p>pangolin scales 1kg 450 USD</p>" * 500
               + f"<p>lot {i}</p></body></html>").encode()
        out.append({"url": f"http://{ONION}/listing/{i}", "onion": ONION, "fetched_at": "2026-11-30T10:00:00Z",
                    "status": 200, "failure": None, "content_type": "text/html", "title": f"Listing {i}",
                    "text": ("pangolin scales 1kg 450 USD\n" * 150) + f"lot {i}", "links": [f"http://{ONION}/x/{i}"],
                    "onion_links": [], "lang": "en", "sha256": hashlib.sha256(raw).hexdigest(), "size": len(raw),
                    "raw": raw, "depth": 2, "crawl_id": "bench", "categories": ["wildlife"], "entities": [],
                    "offers": [], "evidence": []})
    return out


def run(root: Path, n: int, bodies: bool, known: bool) -> float:
    j = Journal(root / "journal")
    log = CaptureLog(j, ["127.0.0.1:9050"], "0.4.9", BlobStore(root / "journal" / "blobs", b"k") if bodies else None)
    log.journal.roll("bench")
    table = KnownUrls(root / "known.sqlite", j, lambda u: hashlib.sha1(u.encode()).hexdigest()) if known else None
    batches = [records(BATCH, s) for s in range(0, n, BATCH)]
    t = time.perf_counter()
    for batch in batches:
        seqs = log.append(batch, enricher=Enriched())
        if table is not None:
            table.add(batch, seqs)
    dt = time.perf_counter() - t
    log.close()
    if table is not None:
        table.close()
    return dt / n * 1000


def read_back(root: Path) -> float:
    j = Journal(root / "journal")
    blobs = BlobStore(root / "journal" / "blobs", b"k")
    t = time.perf_counter()
    n = 0
    for entry in j.iterate():
        record, problem = record_from_entry(entry.payload, blobs)
        assert problem is None and record["raw"]
        n += 1
    return (time.perf_counter() - t) / n * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n, rounds = (1_000, 2) if args.quick else (4_000, 3)
    print(f"capture bench: {n} records per run in batches of {BATCH}, {rounds} rounds; {machine()}")
    results: dict[str, list[float]] = {"facts": [], "+ bodies": [], "+ known": [], "read back": []}
    with tempfile.TemporaryDirectory(prefix="capture-bench-", dir=os.environ.get("BENCH_DIR")) as tmp:
        for r in range(rounds):
            for name, bodies, known in (("facts", False, False), ("+ bodies", True, False), ("+ known", True, True)):
                root = Path(tmp) / f"{name.strip('+ ')}-{r}"
                results[name].append(run(root, n, bodies, known))
            results["read back"].append(read_back(Path(tmp) / f"known-{r}"))
    best = {k: min(v) for k, v in results.items()}
    print_table("Per-record cost of journaling first (ms, best of rounds)", ["variant", "ms/record", "vs facts"],
                [[k, f"{v:.3f}", ratio(v, best["facts"])] for k, v in best.items()])


if __name__ == "__main__":
    main()
