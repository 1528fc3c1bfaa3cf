"""How far the embedded Elasticsearch server (noida-db) goes: pages of ~3 KB of text are
added step by step through PageWriter (the crawler's writer, so services, snapshots and
the page registry are there too), and at each step the searches users run are timed on
the same server, with its resident memory:

  full-text      index.search(q): what `onionwatch search q` and the web app's search send
                 (multi_match over title and text, highlight, relevance sort, total count)
  + filters      the same with a category and a time range in the bool filter context
  filters only   category + time range, no text (newest first)
  count, page    index.counts, index.get_page by id, index.get_service (page_count counted)

The limit is the page count at which the median full-text search passes 1 s (linear
interpolation between the two steps around it). At the largest step an anatomy table
splits one full-text search into its parts (same query with one part removed at a time).

Records: the lab's generated pages (rendered in-process, extracted and tagged by the
crawler's own code, as in bench/index_bench.py); each page's text is several lab pages
joined to ~3 KB, each page with its own URL and body.

Run:  .venv/bin/python bench/es_limit_bench.py [--quick] [--max-pages N]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    ensure_isolated,
    log,
    machine,
    noida,
    print_table,
    rss_mb,
    workdir,
)

TEXT_BYTES = 3000
QUERIES = ["pangolin", "ivory scales", "mdma pills shipping", "passport", "price list vendor"]
LIMIT_SECONDS = 1.0


def pages(n: int, *, onions: int = 40, seed: int = 0) -> list[dict[str, Any]]:
    """n page records with ~3 KB of text each (see the module docstring)."""
    from bench.index_bench import records

    base = records(min(n, 400), onions=onions)
    out = []
    for i in range(n):
        first = base[i % len(base)]
        parts, j = [first["text"]], 1
        while sum(len(p) + 1 for p in parts) < TEXT_BYTES:
            parts.append(base[(i * 7 + j * 13 + seed) % len(base)]["text"])
            j += 1
        text = " ".join(parts)[:TEXT_BYTES]
        raw = first["raw"] + f"\n<!-- page {seed}/{i} -->\n".encode() + text.encode()
        url = f"http://{first['onion']}/bench/{seed}/{i}"
        out.append(dict(first, url=url, text=text, raw=raw, sha256=hashlib.sha256(raw).hexdigest(), size=len(raw)))
    return out


SERVER_PID = 0


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(fn: Any, repeat: int = 1) -> list[tuple[float, float]]:
    """(wall seconds, server CPU seconds) per call: wall is what a user waits on this busy
    machine; the server's CPU time is what the call costs, nearly what it takes when idle."""
    out = []
    for _ in range(repeat):
        c0, t0 = cpu_seconds(SERVER_PID), time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0, cpu_seconds(SERVER_PID) - c0))
    return out


def med(samples: list[tuple[float, float]], which: int = 0) -> float:
    return statistics.median(s[which] for s in samples)


def measure(es: Any, names: Any, sample: dict[str, Any], pid: int) -> dict[str, Any]:
    import index

    full = [t for q in QUERIES for t in timed(lambda q=q: index.search(es, names, q))]
    filtered = [t for q in QUERIES for t in timed(lambda q=q: index.search(
        es, names, q, categories=["wildlife", "drugs"], since="2026-01-01"))]
    only = timed(lambda: index.search(es, names, "", categories=["wildlife"], since="2026-01-01", sort="newest"), 3)
    counts = timed(lambda: index.counts(es, names), 3)
    page = timed(lambda: index.get_page(es, names, index.page_id(sample["url"], sample["sha256"])), 3)
    service = timed(lambda: index.get_service(es, names, sample["onion"]), 3)
    return {"full": med(full), "full_cpu": med(full, 1), "full_max": max(t for t, _ in full),
            "filtered": med(filtered), "filtered_cpu": med(filtered, 1), "only": med(only), "counts": med(counts),
            "page": med(page), "service": med(service), "rss": rss_mb(pid), "load": os.getloadavg()[0]}


def anatomy(es: Any, names: Any, q: str) -> list[list[Any]]:
    """One full-text search with one part taken away at a time (median of 3 each)."""
    from index.query import build_search

    body = build_search(q)
    variants: dict[str, dict[str, Any]] = {"as sent by index.search": body}
    variants["without highlight"] = {k: v for k, v in body.items() if k != "highlight"}
    variants["without track_total_hits"] = {k: v for k, v in body.items() if k != "track_total_hits"}
    variants["sorted newest instead of relevance"] = dict(body, sort=[{"fetched_at": "desc"}, {"doc_id": "asc"}])
    variants["text field only (no title)"] = dict(body, query={"bool": {"must": [
        {"match": {"text": {"query": q, "operator": "and"}}}], "filter": []}})
    variants["size 1, no highlight"] = dict(variants["without highlight"], size=1)
    variants["term filter only (no text)"] = {"query": {"bool": {"filter": [{"term": {"categories": "wildlife"}}]}},
                                              "size": 20, "_source": body["_source"]}
    rows = []
    for label, b in variants.items():
        t = timed(lambda b=b: es.search(index=names.pages, **b), 3)
        rows.append([label, f"{med(t) * 1000:.0f}", f"{med(t, 1) * 1000:.0f}"])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="steps up to 4,000 pages")
    ap.add_argument("--max-pages", type=int, default=0, help="stop after this many pages")
    args = ap.parse_args()
    ensure_isolated()

    import index
    from index import Names, PageWriter
    from index.client import connect
    from onionwatch import es_server

    steps = [500, 1000, 2000, 3000, 4000] if args.quick else [500, 1000, 2000, 3000, 4000, 5000, 6000, 8000,
                                                             10000, 12000, 16000, 20000]
    if args.max_pages:
        steps = [s for s in steps if s <= args.max_pages]
    tmp = workdir("es-limit")
    names = Names("limit")
    rows: list[list[Any]] = []
    series: list[tuple[int, float]] = []
    cpu_series: list[tuple[int, float]] = []
    with noida(tmp / "es") as url:
        server = es_server.status(tmp / "es")
        assert server is not None
        global SERVER_PID
        SERVER_PID = server.pid
        es = connect(url)
        log(f"{machine()}; noida-db at {url}, pid {server.pid}")
        writer = PageWriter(es, names, snapshot_key=b"k" * 32)
        stored, sample, t_write = 0, None, 0.0
        for step in steps:
            batch = pages(step - stored, seed=stored)
            sample = sample or batch[0]
            t0 = time.perf_counter()
            for i in range(0, len(batch), 500):
                errors = writer.store(batch[i:i + 500])
                assert not any(errors), [e for e in errors if e][:3]
            writer.close()
            t_write += time.perf_counter() - t0
            stored = step
            writer.refresh()
            assert index.counts(es, names)["pages"] == stored
            time.sleep(1.0)  # let the server settle (it persists ~0.5 s after writes)
            m = measure(es, names, sample, server.pid)
            series.append((stored, m["full"]))
            cpu_series.append((stored, m["full_cpu"]))
            rows.append([stored, f"{m['full']:.2f}", f"{m['full_cpu']:.2f}", f"{m['full_max']:.2f}",
                         f"{m['filtered']:.2f}", f"{m['filtered_cpu']:.2f}",
                         f"{m['only'] * 1000:.0f}", f"{m['counts'] * 1000:.0f}", f"{m['page'] * 1000:.0f}",
                         f"{m['service'] * 1000:.0f}", f"{m['rss']:.0f}", f"{m['rss'] / stored * 1024:.0f}",
                         f"{stored / t_write:.0f}", f"{m['load']:.1f}"])
            log(f"{stored} pages: full-text {m['full']:.2f} s wall, {m['full_cpu']:.2f} s server CPU "
                f"(max {m['full_max']:.2f}), RSS {m['rss']:.0f} MiB, load {m['load']:.1f}")
            if min(m["full"], m["full_cpu"]) > LIMIT_SECONDS * 1.5:
                break
        parts = anatomy(es, names, QUERIES[1])
        data_file = tmp / "es" / "elasticsearch.json"
        data_mb = data_file.stat().st_size / 2**20 if data_file.exists() else 0.0
    limit = _crossing(series, LIMIT_SECONDS)
    cpu_limit = _crossing(cpu_series, LIMIT_SECONDS)
    print(f"\nbench/es_limit_bench.py{' --quick' if args.quick else ''} — {machine()}")
    print(f"Pages of {TEXT_BYTES} characters of text (lab pages joined), written by PageWriter in batches of 500; "
          f"{len(QUERIES)} queries per step ({', '.join(QUERIES)}).")
    print_table("The embedded server (noida-db) as pages accumulate",
                ["pages", "full-text s", "server CPU s", "max s", "+filters s", "+filters CPU s",
                 "filters only ms", "counts ms", "get_page ms", "get_service ms", "server RSS MiB", "KiB RSS/page",
                 "write pages/s (cum.)", "load avg"], rows)
    print("(times are medians; 'server CPU' is the noida-db process's CPU time per query: what a query costs, "
          "close to its wall time on an idle machine)")
    print_table(f"Anatomy of one full-text search ({QUERIES[1]!r}) at {series[-1][0]} pages",
                ["variant", "wall ms", "server CPU ms"], parts)
    print(f"\nData file at the end: {data_mb:.0f} MiB for {series[-1][0]} pages.")
    for label, at in (("wall time on this machine", limit), ("server CPU time (an idle machine)", cpu_limit)):
        if at:
            print(f"Limit by {label}: a full-text search passes {LIMIT_SECONDS:.0f} s at about {at:,.0f} pages "
                  f"(server RSS ~{_rss_at(rows, at):.0f} MiB there).")
        else:
            print(f"Limit by {label}: not reached within {series[-1][0]} pages.")


def _crossing(series: list[tuple[int, float]], seconds: float) -> float | None:
    """Pages where the median time crosses ``seconds`` (linear between the steps around it)."""
    prev = (0, 0.0)
    for n, t in series:
        if t > seconds:
            (n0, t0) = prev
            return n0 + (seconds - t0) * (n - n0) / (t - t0) if t != t0 else float(n)
        prev = (n, t)
    return None


def _rss_at(rows: list[list[Any]], pages_: float) -> float:
    pts = [(int(r[0]), float(r[10])) for r in rows]
    prev = (0, pts[0][1])
    for n, mb in pts:
        if n >= pages_:
            n0, m0 = prev
            return m0 + (mb - m0) * (pages_ - n0) / (n - n0) if n != n0 else mb
        prev = (n, mb)
    return pts[-1][1]


if __name__ == "__main__":
    main()
