"""End to end: lab crawl → tag → index, pages/s, and where the time goes.

`onionwatch crawl --seeds <directory onion>` through the lab's Tor network, with the tagger
on and PageWriter indexing into a local noida-db: first a clean run (throughput), then the
same crawl under py-spy (CPU samples of every thread holding the GIL, bucketed by stage).

Run:  .venv/bin/python bench/e2e_bench.py [--quick]      (as root: re-execs under unshare -n)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    child_cpu, crawl_cmd, ensure_isolated, lab, log, machine, noida, onionwatch_env, parse_summary,
    print_table, profile_summary, py_spy, run_crawl, workdir,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="8 generated onions x 60 pages instead of 16 x 150")
    ap.add_argument("--lab-dir", type=Path, help="reuse (and keep) a lab at this directory")
    args = ap.parse_args()
    ensure_isolated()
    bulk = (8, 60) if args.quick else (16, 150)
    tmp = workdir("e2e-bench")
    rows = []
    with lab(args.lab_dir or tmp / "lab", clients=2, bulk=bulk, keep=args.lab_dir is not None) as state:
        seeds = tmp / "seeds.txt"
        seeds.write_text(next(s["onion"] for s in state["sites"] if s["role"] == "directory") + "\n")
        for n, profiled in enumerate((False, True)):
            with noida(tmp / f"es-{n}") as es_url:
                env = onionwatch_env(tmp / f"home-{n}", ONIONWATCH_ES_URL=es_url)
                cmd = crawl_cmd(seeds, state["socks"], state["control"], ["--timeout", "10", "--concurrency", "32"])
                log(f"crawl → tag → index{' under py-spy' if profiled else ''}")
                cpu = child_cpu()
                if profiled:
                    proc = py_spy(cmd, tmp / "e2e.pyspy", env)
                    summary = parse_summary(proc.stdout) if "{" in proc.stdout else {}
                else:
                    summary = run_crawl(cmd, env)
                cpu = child_cpu() - cpu
            rows.append(["py-spy" if profiled else "clean", summary.get("pages"), summary.get("onions"),
                         summary.get("seconds"), summary.get("pages_per_second"), summary.get("stored"),
                         summary.get("store_failed"), summary.get("failures"),
                         "-" if profiled else f"{1000 * cpu / max(summary.get('pages') or 1, 1):.1f}"])
    print(f"\nbench/e2e_bench.py{' --quick' if args.quick else ''} — {machine()}")
    print(f"lab: sample sites + {bulk[0]} generated onions x {bulk[1]} pages, 2 Tor clients, concurrency 32, "
          "discovered from the directory onion; the hostile site's drip page holds one slot to the 10 s timeout")
    print_table("Crawl → tag → index (noida-db)", ["run", "pages", "onions", "seconds", "pages/s", "stored",
                                                  "store failed", "failures", "CPU ms/page (incl. start-up)"], rows)
    if (tmp / "e2e.pyspy").exists():
        buckets, top = profile_summary(tmp / "e2e.pyspy")
        print_table("Where the time goes (py-spy --gil, all threads)", ["stage", "share"], buckets)
        print_table("Top functions by own CPU time", ["function", "share"], top)


if __name__ == "__main__":
    main()
