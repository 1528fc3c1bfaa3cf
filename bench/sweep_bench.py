"""Sweep benchmark: a directory of mostly dead onions plus slow live ones, swept (front page
of every address) through the lab's real Tor, side by side in one run:

  prefilter  `onionwatch crawl --prefilter`: descriptor lookups (HSFETCH, bounded parallelism)
             first, HTTP only to onions with a descriptor
  naive      the same crawl without the prefilter, Scrapy's defaults for a fetch
             (DOWNLOAD_TIMEOUT 180, RETRY_TIMES 2): HTTP straight away to every address

and the bound: live pages x mean latency / concurrency + ceil(dead lookups / parallel
lookups) x one lookup's time (measured alone on the same Tor). The two crawls use different
Tor clients of the lab, so neither profits from the other's descriptor cache.

Run:  .venv/bin/python bench/sweep_bench.py [--dead 300] [--latency 0.5-3] [--concurrency 32] [--parallel 64]
      (as root: re-execs under unshare -n)
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    PY,
    ensure_isolated,
    log,
    onionwatch_env,
    print_table,
    ratio,
    workdir,
)


def sweep(state: dict, seeds: Path, client: int, home: Path, out: Path, extra: list[str],
          concurrency: int) -> tuple[float, dict]:
    import subprocess

    from bench.common import parse_summary

    cmd = [PY, "-m", "onionwatch", "crawl", "--seeds", str(seeds), "--summary-json", "--output", str(out),
           "--no-enrich", "--max-depth", "0", "--concurrency", str(concurrency),
           "--socks", state["socks"][client], "--control", state["control"][client],
           "-s", "ONIONWATCH_DISCOVER=False", "-s", "ONIONWATCH_PROGRESS_INTERVAL=0", "-s", "LOG_LEVEL=WARNING",
           "-s", f"CONCURRENT_REQUESTS_PER_DOMAIN={concurrency}", *extra]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=Path(__file__).resolve().parent.parent, env=onionwatch_env(home),
                          capture_output=True, text=True, timeout=7200, check=False)
    took = time.monotonic() - started
    out.with_suffix(".log").write_text(f"$ {' '.join(cmd)}\nrc {proc.returncode}\n{proc.stderr}\n{proc.stdout}")
    if "{" not in proc.stdout:
        raise RuntimeError(f"crawl failed ({proc.returncode}): {proc.stderr[-2000:]}")
    summary = parse_summary(proc.stdout)
    summary["rc"] = proc.returncode
    summary["stderr_prefilter"] = [ln for ln in proc.stderr.splitlines() if ln.startswith("prefilter:")]
    return took, summary


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dead", type=int, default=300)
    ap.add_argument("--latency", default="0.5-3")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--parallel", type=int, default=64, help="descriptor lookups at once")
    ap.add_argument("--keep", action="store_true", help="leave the lab running")
    args = ap.parse_args()
    ensure_isolated()
    from crawler.prefilter import DescriptorLookup
    from lab import control
    from lab.dead import dead_onions
    from lab.latency import Latency

    root = workdir("sweep")
    log(f"lab at {root}: 2 Tor clients, latency {args.latency}, {args.dead} dead addresses")
    t0 = time.monotonic()
    state = control.up(root, clients=2, timeout=240, latency=args.latency, dead=args.dead)
    log(f"lab up in {time.monotonic() - t0:.0f}s")
    try:
        live_sites = [s for s in state["sites"] if s["role"] not in ("bulk", "hostile")]
        live = [s["onion"] for s in live_sites]
        dead = state["dead"] if "dead" in state else dead_onions(args.dead)
        seeds = root / "directory.txt"
        mixed = sorted(live + dead)  # a directory: live ones scattered among the dead
        seeds.write_text("\n".join(mixed) + "\n")
        lat = Latency.parse(args.latency)
        mean_lat = statistics.mean(lat.of(s["name"]) for s in live_sites)
        max_lat = max(lat.of(s["name"]) for s in live_sites)
        # one descriptor lookup alone (client 0; addresses not in the sweep)
        probe = dead_onions(3, seed="sweep-probe")
        t = time.monotonic()
        DescriptorLookup(state["control"][0], parallel=1, confirm=0).run(probe)
        one_lookup = (time.monotonic() - t) / len(probe)
        log(f"one descriptor lookup (dead): {one_lookup:.2f}s; live {len(live)}, mean latency {mean_lat:.2f}s")

        pre_t, pre = sweep(state, seeds, 0, root / "home-pre", root / "pre.jsonl",
                           ["--prefilter", "--prefilter-parallel", str(args.parallel)], args.concurrency)
        log(f"prefilter sweep {pre_t:.1f}s: {pre.get('pages')} pages, {pre['stderr_prefilter']}")
        naive_t, naive = sweep(state, seeds, 1, root / "home-naive", root / "naive.jsonl",
                               ["-s", "DOWNLOAD_TIMEOUT=180", "-s", "RETRY_TIMES=2"], args.concurrency)
        log(f"naive sweep {naive_t:.1f}s: {naive.get('pages')} pages, failures {naive.get('failure_reasons')}")
        lookups = 2 * len(dead) + len(live)  # dead ones confirmed by a second HSDir (confirm=1)
        bound = len(live) * mean_lat / args.concurrency + math.ceil(lookups / args.parallel) * one_lookup
        floor = max_lat + math.ceil(lookups / args.parallel) * one_lookup  # one round trip can't beat the slowest site
        print_table(
            f"Sweep: {len(live)} live onions ({args.latency} s per response) + {len(dead)} dead, "
            f"concurrency {args.concurrency}, {args.parallel} lookups at once",
            ["run", "seconds", "pages ok", "failures", "vs bound", "vs naive"],
            [["prefilter", pre_t, pre.get("pages", 0), pre.get("failures", 0), ratio(pre_t, bound), ratio(pre_t, naive_t)],
             ["naive", naive_t, naive.get("pages", 0), naive.get("failures", 0), ratio(naive_t, bound), "1.00x"],
             ["bound (formula)", bound, len(live), "", "1.00x", ratio(bound, naive_t)],
             ["bound (slowest site)", floor, len(live), "", ratio(floor, bound), ratio(floor, naive_t)]],
        )
        print(f"one lookup {one_lookup:.2f}s, lookups {lookups}, mean latency {mean_lat:.2f}s, max {max_lat:.2f}s; "
              f"prefilter: {pre['stderr_prefilter']}; naive failures: {naive.get('failure_reasons')}")
    finally:
        if not args.keep:
            control.down(root)


if __name__ == "__main__":
    main()
