"""Indexing throughput, side by side in one run, each variant on a local noida-db of its own
(Elasticsearch API; a server's background work, such as persisting its data file, then
weighs on its own variant only):

  onionwatch   PageWriter.store(batch) — the crawler's sink: snapshots (sealed raw bodies),
               the page registry (scripted upserts whose response gives each page its
               partition), pages, and one scripted upsert per onion service; no searches,
               no aggregations, no refreshes
  bare         elasticsearch.helpers.bulk of exactly the actions PageWriter sent for that
               batch (captured from it), into a twin index layout: the ceiling for that data
  bare pages   helpers.bulk of the snapshot and page documents alone (no registry, no
               services): what the registry and the roll-ups cost on top of storing pages

Batches alternate between the variants (PageWriter, then bare for the same batch), so
machine noise hits them alike; besides the ratio of total times the table gives the median
of the per-batch ratios, which a burst of load on this shared machine moves less. Before
each timed batch every server has persisted and gone idle: noida-db rewrites its whole data
file about 0.5 s after writes stop, which takes seconds once it holds 100k records and would
otherwise land in whichever variant runs next (that wait is reported, not timed). Part 1
compares at batch 64 (the crawler's default) and 500;
part 2 grows one layout per variant to 100,000 records (10,000 with --quick) at batch 500
and reports the same ratios in three windows: 500-3k records (the first batch sets the
layout up), 5k-10k and 90k-100k: flat means the writer's cost does not grow with the index.

Records are the lab's generated pages, extracted and tagged by the crawler's own code
(docs/record.md shape); beyond 2,000 records each further record is one of those with its
own URL and body (a unique comment appended to the raw page, so its own sha256 and snapshot).

Run:  .venv/bin/python bench/index_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    ensure_isolated,
    log,
    machine,
    noida,
    print_table,
    ratio,
    rss_mb,
    workdir,
)

BASE = 2000  # real records generated; more are derived from them

def real_records(n: int, onions: int = 40) -> list[dict[str, Any]]:
    """Real page records: the lab's generated pages (rendered in-process, no network),
    extracted by the crawler's extractor and tagged by the crawl's enricher (enrich.records.RecordEnricher)."""
    import configs
    from crawler.extract import extract
    from crawler.items import shape
    from crawler.onion import find_onions
    from enrich.records import RecordEnricher
    from enrich.tagger import Tagger
    from lab import bulk_sites, fake_onion, serve_sites

    per_onion = -(-n // onions)
    specs = bulk_sites(onions, per_onion)
    onion_of = {s.name: fake_onion(s.name) for s in specs}
    site_lab = serve_sites(specs, onion_of)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
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


def records(n: int, onions: int = 40) -> list[dict[str, Any]]:
    """n page records: up to BASE real ones, then variants of them (own URL, own body)."""
    base = real_records(min(n, BASE), onions)
    out = list(base)
    for i in range(len(base), n):
        r = base[i % len(base)]
        raw = r["raw"] + f"\n<!-- copy {i} -->\n".encode()
        out.append(dict(r, url=f"{r['url'].rstrip('/')}/copy/{i}", raw=raw, sha256=hashlib.sha256(raw).hexdigest(),
                        size=len(raw)))
    return out


class Variants:
    """PageWriter and its bare twins, each variant on a noida-db of its own (so each pays its
    own server's background work, e.g. persisting its data file); ``batch`` times them all
    on the same batch, back to back."""

    def __init__(self, urls: dict[str, str], tag: str, config_dir: Path, pids: dict[str, int]) -> None:
        from index import Names, PageWriter, setup
        from index.client import connect

        self.pids = pids
        self.settled = dict.fromkeys(urls, 0.0)  # seconds waited for each server to persist and go idle

        self.clients = {variant: connect(url) for variant, url in urls.items()}
        self.names = {variant: Names(f"{tag}-{variant}") for variant in urls}
        for variant in urls:
            setup(self.clients[variant], self.names[variant], config_dir)
        self.ow = self.names["ow"]
        self.sent: list[dict[str, Any]] = []
        self.t_bulk = 0.0
        outer = self

        class Capturing(PageWriter):
            def _send(self, actions):
                outer.sent.extend(actions)
                t0 = time.perf_counter()
                try:
                    return super()._send(actions)
                finally:
                    outer.t_bulk += time.perf_counter() - t0

        self.calls = _count_calls(self.clients["ow"])
        self.trace: list[tuple[str, int, float]] = []  # (variant, batch number, seconds) per request
        for variant, es in self.clients.items():
            _time_requests(es, variant, self)
        self.writer = Capturing(self.clients["ow"], self.ow, snapshot_key=b"k" * 32, config_dir=config_dir)
        self.t = dict.fromkeys(urls, 0.0)
        self.cpu = dict.fromkeys(urls, 0.0)  # this process's CPU seconds per variant (the client side)
        self.pairs: list[dict[str, float]] = []  # per batch: seconds of each variant, back to back
        self.failed = dict.fromkeys(urls, 0)

    def batch(self, docs: list[dict[str, Any]]) -> None:
        from elasticsearch import helpers

        self.sent.clear()
        c0, t0 = time.process_time(), time.perf_counter()
        self.failed["ow"] += sum(1 for e in self.writer.store(docs) if e)
        took = {"ow": time.perf_counter() - t0}
        self.cpu["ow"] += time.process_time() - c0
        self.settle("ow")
        for variant in self.clients:
            if variant == "ow":
                continue
            actions = [_retarget(a, self.ow.prefix, self.names[variant].prefix) for a in self.sent]
            if variant == "pages":  # snapshots and pages alone, each page a plain index of its full document
                actions = [a if a["_op_type"] == "create" else
                           {"_op_type": "index", "_index": a["_index"], "_id": a["_id"], "_source": a["upsert"]}
                           for a in actions if a["_op_type"] == "create" or ("upsert" in a and "doc" in a)]
            c0, t0 = time.process_time(), time.perf_counter()
            _, errors = helpers.bulk(self.clients[variant], actions, chunk_size=200,
                                     max_chunk_bytes=8 * 1024 * 1024, raise_on_error=False, stats_only=True)
            took[variant] = time.perf_counter() - t0
            self.cpu[variant] += time.process_time() - c0
            self.failed[variant] += errors
            self.settle(variant)
        for variant, seconds in took.items():
            self.t[variant] += seconds
        self.pairs.append(took)

    def settle(self, variant: str) -> None:
        """Wait until this variant's server has persisted what it was sent and is idle, so
        the next timed batch (of any variant) does not share the machine with it. noida-db
        writes its whole data file ~0.5 s after writes stop; that takes seconds at 100k
        records, and is counted here (``settled``), not in the write times."""
        t0 = time.perf_counter()
        time.sleep(0.8)  # past the server's persistence delay
        quiet, deadline = 0, time.monotonic() + 120
        while quiet < 2 and time.monotonic() < deadline:
            c0 = _cpu(self.pids[variant])
            time.sleep(0.25)
            quiet = quiet + 1 if _cpu(self.pids[variant]) - c0 < 0.02 else 0
        self.settled[variant] += time.perf_counter() - t0 - 0.8

    def reset(self) -> None:
        """Forget what was timed so far (after the untimed first batch)."""
        self.t = dict.fromkeys(self.t, 0.0)
        self.cpu = dict.fromkeys(self.cpu, 0.0)
        self.settled = dict.fromkeys(self.settled, 0.0)
        self.pairs.clear()
        self.calls.clear()
        self.trace.clear()
        self.t_bulk = 0.0

    def count(self, variant: str) -> int:
        es, names = self.clients[variant], self.names[variant]
        es.indices.refresh(index=f"{names.prefix}-*")
        return int(es.count(index=names.pages)["count"])


def _cpu(pid: int) -> float:
    """CPU seconds a process has used so far."""
    import os

    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median_ratio(pairs: list[dict[str, float]], base: str) -> str:
    """Median over batches of (time of ``base``) / (time of PageWriter) for the same batch:
    robust to load bursts on a shared machine, which hit one batch pair at a time."""
    import statistics

    return f"{statistics.median(p[base] / p['ow'] for p in pairs):.2f}x" if pairs else "-"


def _count_calls(es) -> dict[str, int]:
    """Requests PageWriter's client makes, by endpoint (bulk vs anything else)."""
    seen: dict[str, int] = {}
    transport = es.transport
    real = transport.perform_request

    def record(method: str, target: str, *a, **kw):
        path = target.split("?")[0]
        key = "bulk" if path.endswith("/_bulk") else f"{method} {path.split('/')[-1] or path}"
        seen[key] = seen.get(key, 0) + 1
        return real(method, target, *a, **kw)

    transport.perform_request = record
    return seen


STALL_FACTOR = 4  # a request this many times slower than the median of its place in the batch ...
STALL_MIN_S = 0.1  # ... and at least this much slower is a server stall


def stalls(trace: list[tuple[str, int, float]], first: int, last: int) -> dict[str, tuple[int, float]]:
    """Server stalls of PageWriter and bare in batches ``first``..``last - 1``: {variant: (count,
    seconds beyond the usual)}. Both variants send the same actions in the same chunks, so the
    k-th request of a batch is the same work in both; one that takes far longer than the
    median k-th request (over both variants) waited for the server, e.g. noida-db rewriting its
    whole data file, which it does on a timer while writes keep coming and which lands in
    whichever variant happens to be writing then. The same rule applies to both variants."""
    import statistics
    from collections import defaultdict

    per_batch: dict[tuple[str, int], list[float]] = defaultdict(list)
    for variant, batch, seconds in trace:
        if variant in ("ow", "bare") and first <= batch < last:
            per_batch[variant, batch].append(seconds)
    by_place: dict[int, list[float]] = defaultdict(list)
    for times in per_batch.values():
        for k, seconds in enumerate(times):
            by_place[k].append(seconds)
    usual = {k: statistics.median(times) for k, times in by_place.items()}
    out = {"ow": (0, 0.0), "bare": (0, 0.0)}
    for (variant, _), times in per_batch.items():
        for k, seconds in enumerate(times):
            extra = seconds - usual[k]
            if seconds > STALL_FACTOR * usual[k] and extra > STALL_MIN_S:
                count, total = out[variant]
                out[variant] = (count + 1, total + extra)
    return out


def request_medians(trace: list[tuple[str, int, float]], first: int, last: int) -> dict[str, float]:
    """{variant: the sum over places in a batch of the median request time at that place}:
    the server's usual time for one batch, which a stall in a few batches does not move.
    Flat across windows = the server's cost per batch does not grow with the index."""
    import statistics
    from collections import defaultdict

    by_place: dict[tuple[str, int], list[float]] = defaultdict(list)
    per_batch: dict[tuple[str, int], int] = defaultdict(int)
    for variant, batch, seconds in trace:
        if first <= batch < last:
            by_place[variant, per_batch[variant, batch]].append(seconds)
            per_batch[variant, batch] += 1
    out: dict[str, float] = defaultdict(float)
    for (variant, _), times in by_place.items():
        out[variant] += statistics.median(times)
    return dict(out)


def summarize_trace(path: Path) -> None:
    """Per-batch usual request time by window, from a --trace file."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for part in dict.fromkeys(r["part"] for r in rows):
        trace = [(r["variant"], r["batch"], r["s"]) for r in rows if r["part"] == part]
        n = max(b for _, b, _ in trace) + 1
        if not rows[0].get("bulk_only"):  # traces before 5a8f5be+1 also timed the final count: drop it
            n -= 1
        windows = [(0, n)] if part != "grow" else [(1, 6), (10, 20), (max(1, n - 20), n)]
        for lo, hi in windows:
            med, st = request_medians(trace, lo, hi), stalls(trace, lo, hi)
            if not med.get("ow") or not med.get("bare"):
                continue  # a short trace: no batch in this window
            print(f"{part:10} batches {lo:>3}-{hi - 1:<3} usual request time per batch (s): "
                  + ", ".join(f"{k} {v:.3f}" for k, v in sorted(med.items()))
                  + f"; ow/bare {med['bare'] / med['ow']:.2f}x; stalls ow/bare {_stall_cell(st)}")


def without_stalls(t: dict[str, float], st: dict[str, tuple[int, float]]) -> str:
    """ow/bare ratio of total times with each variant's stall seconds taken out."""
    return ratio(t["bare"] - st["bare"][1], t["ow"] - st["ow"][1])


def _usual_cell(trace: list[tuple[str, int, float]], first: int, last: int) -> str:
    med = request_medians(trace, first, last)
    return f"{med.get('ow', 0):.3f}/{med.get('bare', 0):.3f}"


def _stall_cell(st: dict[str, tuple[int, float]]) -> str:
    return f"{st['ow'][0]}/{st['bare'][0]} ({st['ow'][1]:.1f}/{st['bare'][1]:.1f} s)"


def _time_requests(es, variant: str, v: Variants) -> None:
    """Record each request's wall time (--trace): shows where the server stalls (noida-db
    rewrites its data file on a timer while writes keep coming, blocking requests)."""
    transport = es.transport
    real = transport.perform_request

    def timed(method: str, target: str, *a, **kw):
        t0 = time.perf_counter()
        try:
            return real(method, target, *a, **kw)
        finally:
            if target.split("?")[0].endswith("/_bulk"):  # the timed writes, not the final counts
                v.trace.append((variant, len(v.pairs), time.perf_counter() - t0))

    transport.perform_request = timed


def _retarget(action: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """The same action for a twin layout."""
    out = dict(action)
    out["_index"] = new + action["_index"][len(old):]
    return out


def _store_bytes(es, pattern: str) -> int:
    """On-disk size of the indices (0 when the server doesn't report it)."""
    try:
        stats = es.indices.stats(index=pattern, metric="store")
        return int(stats["_all"]["primaries"]["store"]["size_in_bytes"])
    except Exception:  # noqa: BLE001 — a figure for the table, not a requirement
        return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="part 1 with 1,000 and 2,000 records, growth to 10,000")
    ap.add_argument("--grow-to", type=int, default=0, help="records in part 2 (default 100,000; --quick 10,000)")
    ap.add_argument("--only", choices=("1", "2"), help="run only part 1 or part 2")
    ap.add_argument("--trace", type=Path, help="write every timed request (variant, batch, seconds) as JSON lines here")
    ap.add_argument("--summarize-trace", type=Path, metavar="TRACE", help="print the usual request time per batch "
                    "(sum of per-place medians) and the stalls of a --trace file by window, and exit")
    args = ap.parse_args()
    if args.summarize_trace:
        summarize_trace(args.summarize_trace)
        return
    ensure_isolated()

    from contextlib import ExitStack

    from index.schema import default_config_dir
    from onionwatch import es_server

    sizes = {64: 1000, 500: 2000} if args.quick else {64: 4000, 500: 10000}
    grow = args.grow_to or (10_000 if args.quick else 100_000)
    marks = [m for m in (3_000, 10_000, 100_000) if m <= grow]
    window_start = {3_000: 500, 10_000: 5_000, 100_000: 90_000}  # the first batch sets the layout up
    if grow and grow not in marks:  # e.g. --grow-to 30000: its last tenth is a window too
        marks.append(grow)
        window_start[grow] = max(500, grow - max(500, grow // 10 // 500 * 500))
    tmp = workdir("index-bench")
    config_dir = default_config_dir()
    total = max(max(n + b for b, n in sizes.items()), grow)
    log(f"generating {total} records ({min(total, BASE)} rendered and tagged) ...")
    docs = records(total)
    part1: list[list[Any]] = []
    traces: list[tuple[str, list[tuple[str, int, float]]]] = []
    part2: list[list[Any]] = []
    log(machine())
    for batch_size, n in sizes.items() if args.only != "2" else ():
        with ExitStack() as stack:
            urls = {v: stack.enter_context(noida(tmp / f"p1-{batch_size}-{v}")) for v in ("ow", "bare", "pages")}
            pids = {v: es_server.status(tmp / f"p1-{batch_size}-{v}").pid for v in urls}
            v = Variants(urls, f"b{batch_size}", config_dir, pids)
            v.batch(docs[:batch_size])  # the first store sets the layout up: not part of the figures
            v.reset()
            for i in range(batch_size, batch_size + n, batch_size):
                v.batch(docs[i:i + batch_size])
            traces.append((f"batch {batch_size}", v.trace))
            st = stalls(v.trace, 0, len(v.pairs))
            count = len(docs[batch_size:batch_size + n])
            other = {k: c for k, c in v.calls.items() if k != "bulk"}
            part1.append([batch_size, count, f"{v.count('ow')}/{v.count('bare')}", count / v.t["ow"],
                          count / v.t["bare"], ratio(v.t["bare"], v.t["ow"]), median_ratio(v.pairs, "bare"),
                          _stall_cell(st), without_stalls(v.t, st), _usual_cell(v.trace, 0, len(v.pairs)),
                          count / v.t["pages"], ratio(v.t["pages"], v.t["ow"]),
                          f"{100 * v.t_bulk / v.t['ow']:.0f}%",
                          f"{1e6 * v.cpu['ow'] / count:.0f}/{1e6 * v.cpu['bare'] / count:.0f}",
                          f"{v.calls.get('bulk', 0) / len(v.pairs):.1f}",
                          " ".join(f"{k} {c}" for k, c in sorted(other.items())) or "none",
                          "/".join(str(v.failed[k]) for k in ("ow", "bare", "pages"))])
            log(f"batch {batch_size}: PageWriter {count / v.t['ow']:.0f} rec/s, bare {count / v.t['bare']:.0f}, "
                f"bare pages {count / v.t['pages']:.0f}")

    with ExitStack() as stack:
        if args.only == "1":
            grow = 0
        urls = {v: stack.enter_context(noida(tmp / f"p2-{v}")) for v in ("ow", "bare")}
        pids = {v: es_server.status(tmp / f"p2-{v}").pid for v in urls}
        v = Variants(urls, "grow", config_dir, pids)
        batch_size, done, first_pair, stopped = 500, 0, 0, ""
        last, last_settled, last_cpu = dict(v.t), dict(v.settled), dict(v.cpu)
        started = time.perf_counter()
        for i in range(0, grow, batch_size):
            if done in window_start.values():
                last, last_settled, first_pair, last_cpu = dict(v.t), dict(v.settled), len(v.pairs), dict(v.cpu)
            v.batch(docs[i:i + batch_size])
            if i == 0:
                v.calls.clear()  # the first store set the layout up
            done = min(grow, i + batch_size)
            rss = {k: rss_mb(pid) for k, pid in pids.items()}
            if done in marks:
                w = done - window_start[done]
                t = {k: v.t[k] - last[k] for k in v.t}
                batches = len(v.pairs) - first_pair
                persist = {k: (v.settled[k] - last_settled[k]) / batches for k in v.settled}
                st = stalls(v.trace, first_pair, len(v.pairs))
                part2.append([f"{window_start[done]:,}-{done:,}", w / t["ow"], w / t["bare"], ratio(t["bare"], t["ow"]),
                              median_ratio(v.pairs[first_pair:], "bare"), _stall_cell(st), without_stalls(t, st),
                              _usual_cell(v.trace, first_pair, len(v.pairs)),
                              f"{rss['ow']:.0f}/{rss['bare']:.0f}",
                              f"{persist['ow']:.1f}/{persist['bare']:.1f}",
                              f"{1e6 * (v.cpu['ow'] - last_cpu['ow']) / w:.0f}/{1e6 * (v.cpu['bare'] - last_cpu['bare']) / w:.0f}"])
                log(f"grown to {done}: PageWriter {w / t['ow']:.0f} rec/s, bare {w / t['bare']:.0f} "
                    f"({time.perf_counter() - started:.0f} s)")
            elif done % 10_000 == 0:
                log(f"grown to {done} ({time.perf_counter() - started:.0f} s, server RSS {rss['ow']:.0f}/"
                    f"{rss['bare']:.0f} MiB)")
            if _available_mb() < 2048:
                stopped = f"; stopped at {done:,} records: less than 2 GiB of memory left"
                log(stopped[2:])
                break
        other = {k: c for k, c in v.calls.items() if k != "bulk"}
        traces.append(("grow", v.trace))
        grown = v.count("ow"), v.count("bare")
        size = _store_bytes(v.clients["ow"], f"{v.ow.prefix}-*") / max(grown[0], 1)

    print(f"\nbench/index_bench.py{' --quick' if args.quick else ''} — {machine()}")
    print("Each page record = 1 snapshot + 1 registry upsert + 1 page update + its share of the service upserts "
          "(40 onions); each variant on a noida-db of its own; the first batch (layout setup) is not timed.")
    print("ow/bare = total times; ow/bare median = median over batches of the two back-to-back timings. Before "
          "each timed batch every server has persisted and gone idle (noida-db rewrites its whole data file ~0.5 s "
          "after writes; 'persist s/batch' is that wait, outside the write times). 'client CPU' is this process's CPU time "
          "per record in each variant (PageWriter's own Python work shows as the difference; less sensitive to the "
          "machine's load than the wall times). 'server stalls' are requests that took over "
          f"{STALL_FACTOR}x (and {STALL_MIN_S} s) longer than the median request of the same place in a batch, over both "
          "variants (they send the same chunks): noida-db rewrites its whole data file on a timer while writes keep coming, "
          "blocking requests, and the rewrite lands in whichever variant is writing; 'without stalls' takes each "
          "variant's stall seconds beyond the usual out of its own time; 'usual bulk s/batch' sums, over the places of a "
          "batch's bulk requests, the median request time at that place: the server's usual time per batch, flat if "
          "its cost does not grow with the index.")
    print_table("Part 1 — page records/s",
                ["batch", "records", "pages ow/bare", "PageWriter", "bare bulk", "ow/bare", "ow/bare median",
                 "server stalls ow/bare", "ow/bare without stalls", "usual bulk s/batch ow/bare", "bare pages only", "ow/bare pages", "PW time in bulk", "client CPU us/rec ow/bare",
                 "bulk requests/batch", "other requests", "errors ow/bare/pages"], part1)
    if args.trace:
        with args.trace.open("w") as fh:
            for phase, trace in traces:
                for variant, batch, seconds in trace:
                    fh.write(json.dumps({"part": phase, "variant": variant, "batch": batch, "s": round(seconds, 4),
                                         "bulk_only": True}) + "\n")
    if not part2:
        return
    print_table(f"Part 2 — as the index grows (batch 500; {grow:,} records, {grown[0]:,}/{grown[1]:,} pages stored "
                f"ow/bare; requests other than bulk after the first batch: "
                f"{', '.join(f'{k} {c}' for k, c in sorted(other.items())) or 'none'}{stopped})",
                ["records in window", "PageWriter", "bare bulk", "ow/bare", "ow/bare median", "server stalls ow/bare",
                 "ow/bare without stalls", "usual bulk s/batch ow/bare", "server RSS MiB ow/bare",
                 "persist s/batch ow/bare", "client CPU us/rec ow/bare"], part2)
    if size:
        print(f"Stored size: {size / 1024:.1f} KiB per record (PageWriter layout, as the server reports it).")


def _available_mb() -> float:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    return float("inf")


if __name__ == "__main__":
    main()
