"""Crawler memory over a long crawl: RSS of the `onionwatch crawl` process sampled every
few seconds while it crawls a generated lab (50 onions x 220 pages = 11,000 pages, plus the
sample sites), discovered from the lab's directory onion. Variants in one run:

  disk queue    --jobdir DIR (the queue on disk, as production should run)
  memory queue  Scrapy's in-memory scheduler queue
  enrich        --jobdir and the tagger on (JSON lines out, no index)

Goal: RSS flat, under 400 MB.

Run:  .venv/bin/python bench/memory_bench.py [--quick]      (as root: re-execs under unshare -n)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    REPO, RssSampler, crawl_cmd, ensure_isolated, lab, log, machine, onionwatch_env, parse_summary,
    print_table, workdir,
)

GOAL_MB = 400


def lines(path: Path) -> int:
    try:
        with open(path, "rb") as fh:
            return sum(1 for _ in fh)
    except OSError:
        return 0


def crawl(state: dict, tmp: Path, name: str, args: list[str], interval: float) -> dict:
    out = tmp / f"{name}.jsonl"
    seeds = tmp / "seeds.txt"
    seeds.write_text(next(s["onion"] for s in state["sites"] if s["role"] == "directory") + "\n")
    cmd = crawl_cmd(seeds, state["socks"], state["control"],
                    ["--output", str(out), "--timeout", "10", "--concurrency", "32", *args])
    proc = subprocess.Popen(cmd, cwd=REPO, env=onionwatch_env(tmp / f"home-{name}"),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    series = []
    with RssSampler(proc.pid, interval) as sampler:
        last = 0
        while proc.poll() is None:
            time.sleep(0.5)
            if len(sampler.samples) > last:
                last = len(sampler.samples)
                t, mb = sampler.samples[-1]
                series.append((t, lines(out), mb))
        stdout = proc.stdout.read()
    summary = parse_summary(stdout) if "{" in stdout else {}
    return {"name": name, "series": series, "summary": summary}


def describe(run: dict) -> list:
    series = run["series"]
    rss = [mb for _, _, mb in series]
    pages = series[-1][1] if series else 0
    # growth over the second half of the crawl, per 1,000 pages (after start-up has settled)
    half = [s for s in series if s[1] >= pages / 2]
    slope = (half[-1][2] - half[0][2]) / max(half[-1][1] - half[0][1], 1) * 1000 if len(half) > 1 else 0.0
    peak = max(rss) if rss else 0.0
    return [run["name"], pages, run["summary"].get("pages_per_second", "-"), f"{rss[len(rss) // 10]:.0f}",
            f"{peak:.0f}", f"{rss[-1]:.0f}", f"{slope:+.1f}", "yes" if peak < GOAL_MB else "NO"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="50 onions x 60 pages, disk queue only")
    ap.add_argument("--interval", type=float, default=3.0, help="seconds between RSS samples")
    ap.add_argument("--lab-dir", type=Path, help="reuse (and keep) a lab at this directory")
    args = ap.parse_args()
    ensure_isolated()
    bulk = (50, 60) if args.quick else (50, 220)
    tmp = workdir("memory-bench")
    variants = [("disk queue", ["--jobdir", str(tmp / "job-disk"), "--no-enrich"])]
    if not args.quick:
        variants += [("memory queue", ["--no-enrich"]), ("enrich", ["--jobdir", str(tmp / "job-enrich")])]
    runs = []
    with lab(args.lab_dir or tmp / "lab", clients=2, bulk=bulk, keep=args.lab_dir is not None) as state:
        for name, extra in variants:
            log(f"crawl: {name}")
            runs.append(crawl(state, tmp, name.replace(" ", "-"), extra, args.interval))
            log(f"{name}: {describe(runs[-1])}")
    print(f"\nbench/memory_bench.py{' --quick' if args.quick else ''} — {machine()}")
    print(f"lab: {bulk[0]} generated onions x {bulk[1]} pages + the sample sites, from the directory onion, "
          f"2 Tor clients, concurrency 32; RSS sampled every {args.interval:g}s")
    for run in runs:
        step = max(1, len(run["series"]) // 25)
        print_table(f"RSS series — {run['name']}", ["t (s)", "pages", "RSS MB"],
                    [[f"{t:.0f}", p, f"{mb:.0f}"] for t, p, mb in run["series"][::step] + run["series"][-1:]])
    print_table("Summary", ["variant", "pages", "pages/s", "RSS @10% MB", "peak MB", "end MB",
                            "MB per 1k pages (2nd half)", f"< {GOAL_MB} MB"], [describe(r) for r in runs])


if __name__ == "__main__":
    main()
