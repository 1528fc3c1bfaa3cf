"""Journal append throughput, side by side in one run, on this machine's disk:

  journal b=N    Journal.append_many of N capture entries: hash chain + one write + one fsync
  bare b=N       the same entries serialised as canonical JSON lines, appended + fsynced per N,
                 no hash chain, no lock, no HEAD: the ceiling for that batch size
  journal b=1    Journal.append per entry (an fsync per entry)

Rounds alternate between the variants so disk and CPU noise hit them alike. Also times
Journal.verify (a full chain check from the genesis) and iterate.

Run:  .venv/bin/python bench/journal_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine, print_table, ratio
from journal import Journal, canonical


def payload(i: int) -> dict:
    """A capture entry as the crawler writes it (masked record facts, ~600 bytes)."""
    return {
        "url": f"http://{'a' * 56}.onion/listing/{i}", "onion": f"{'a' * 56}.onion",
        "fetched_at": "2026-11-30T10:00:00Z", "status": 200, "failure": None,
        "sha256": f"{i:064x}", "size": 18_000 + i % 977, "content_type": "text/html",
        "crawl_id": "bench0001", "depth": 3, "title": "Listing — Mekong Exotic Pets",
        "tor": {"socks": "127.0.0.1:9050", "isolation": f"onion-{i % 13}", "version": "0.4.8.13"},
        "tagger": "onionwatch-tagger 0.1.0", "categories": ["wildlife"], "entities": 2, "offers": 1,
    }


def run_journal(root: Path, n: int, batch: int) -> float:
    j = Journal(root)
    j.roll("bench")
    t = time.perf_counter()
    if batch == 1:
        for i in range(n):
            j.append("capture", payload(i))
    else:
        for s in range(0, n, batch):
            j.append_many([("capture", payload(i)) for i in range(s, min(n, s + batch))])
    dt = time.perf_counter() - t
    j.close()
    return n / dt


def run_bare(path: Path, n: int, batch: int) -> float:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    t = time.perf_counter()
    for s in range(0, n, batch):
        os.write(fd, b"".join(canonical({"seq": i, "kind": "capture", "payload": payload(i)}) + b"\n"
                              for i in range(s, min(n, s + batch))))
        os.fsync(fd)
    dt = time.perf_counter() - t
    os.close(fd)
    return n / dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer entries and rounds")
    args = ap.parse_args()
    n, rounds = (4_000, 2) if args.quick else (20_000, 3)
    n_single = 500 if args.quick else 2_000
    print(f"journal bench: {n} entries per batched run, {n_single} per single-append run, {rounds} rounds; {machine()}")
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="journal-bench-", dir=os.environ.get("BENCH_DIR")) as tmp:
        base = Path(tmp)
        for r in range(rounds):
            for batch in (64, 200):
                results.setdefault(f"journal b={batch}", []).append(run_journal(base / f"j{r}-{batch}", n, batch))
                results.setdefault(f"bare b={batch}", []).append(run_bare(base / f"bare{r}-{batch}.jsonl", n, batch))
            results.setdefault("journal b=1", []).append(run_journal(base / f"j{r}-1", n_single, 1))
            results.setdefault("bare b=1", []).append(run_bare(base / f"bare{r}-1.jsonl", n_single, 1))
        big = Journal(base / f"j{rounds - 1}-200")
        t = time.perf_counter()
        problem = big.verify()
        verify_rate = n / (time.perf_counter() - t)
        t = time.perf_counter()
        count = sum(1 for _ in big.iterate())
        iterate_rate = count / (time.perf_counter() - t)
        assert problem is None and count == n
        seg_bytes = sum(p.stat().st_size for p in big.segments())
    best = {k: max(v) for k, v in results.items()}
    rows = []
    for batch in (1, 64, 200):
        j, b = best[f"journal b={batch}"], best[f"bare b={batch}"]
        rows.append([batch, round(j), round(b), ratio(j, b), round(j / batch if batch > 1 else j, 1)])
    print_table("append throughput (entries/s, best of rounds; fsyncs/s = batches/s)",
                ["batch", "journal", "bare write+fsync", "journal/bare", "fsyncs/s"], rows)
    print_table("reading", ["what", "entries/s"], [["verify (full chain)", round(verify_rate)],
                                                   ["iterate", round(iterate_rate)]])
    print(f"\nentry size on disk: {seg_bytes / n:.0f} bytes; per-round figures: "
          + json.dumps({k: [round(x) for x in v] for k, v in results.items()}))


if __name__ == "__main__":
    main()
