"""Sweep benchmark: the lab's onion directory with hundreds of dead addresses listed among
slow live onions, swept through the lab's real Tor, side by side in one run:

  prefilter    `onionwatch crawl --prefilter`: descriptor lookups (HSFETCH, bounded
               parallelism) first, HTTP only to onions with a descriptor
  naive        the same crawl without the prefilter, Scrapy's defaults for a fetch
               (DOWNLOAD_TIMEOUT 180, RETRY_TIMES 2): HTTP straight away to every address
  autothrottle the prefilter crawl with Scrapy's AutoThrottle on (its defaults: start delay
               5 s, target concurrency 1 per download slot; our slots are per onion), to see
               whether per-onion concurrency adapting to latency helps or costs here

The seed list is what the lab's directory page links to (`lab up --dead N` lists the dead
addresses there among the live ones, as in a real directory), less the hostile site (its
traps and slow drips are the hostile-content bench's business). Each onion: its pages up
to --max-pages and --max-depth, no discovery of other onions.

The prefilter streams (crawler.prefilter.PrefilterStartMiddleware): lookups run while the
onions already found live are fetched, so "of which lookups" is inside "crawl", and a sweep
can beat the formula, which adds the two. "start/stop" is the process around the crawl engine
(Python, Scrapy, the Tor and store checks).

The bound (the issue's formula): live pages x latency / concurrency + dead lookups / parallel
lookups x one lookup's time, with the latency summed over the pages actually fetched (each
site has its own), the parallelism Tor really allowed (min(--parallel, MaxClientCircuitsPending
/ 2), crawler.prefilter) and one lookup measured alone on the same Tor. As no site can answer
its deepest page before its front page, a second floor: the lookups + the slowest site's
chain of (depth + 1) responses. Each arm runs on its own Tor client of the lab, so none
profits from another's descriptor or circuit cache.

Run:  .venv/bin/python bench/sweep_bench.py [--dead 300] [--latency 0.5-3] [--bulk 20:10]
          [--concurrency 32] [--parallel 32] [--max-pages 10] [--max-depth 2] [--no-autothrottle]
      (as root: re-execs under unshare -n)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import sys
import time
import urllib.request
from collections import Counter, defaultdict
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


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """User + system CPU seconds so far of each named process (/proc/PID/stat)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for name, pid in pids.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[name] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            out[name] = 0.0
    return out


_PREFILTER_RE = re.compile(r"\((\d+) lookups in ([\d.]+)s, (\d+) at once\)")


def directory_onions(state: dict) -> list[str]:
    """Every v3 onion the lab directory's front page links to (straight from its loopback port)."""
    from crawler.onion import is_valid_v3

    directory = next(s for s in state["sites"] if s["role"] == "directory")
    with urllib.request.urlopen(f"http://127.0.0.1:{directory['port']}/", timeout=30) as r:
        body = r.read().decode()
    linked = dict.fromkeys(re.findall(r'href="http://([a-z2-7]{56}\.onion)/"', body))
    return [directory["onion"]] + [o for o in linked if is_valid_v3(o)]


def sweep(state: dict, seeds: Path, client: int, home: Path, out: Path, extra: list[str], args) -> dict:
    import subprocess

    from bench.common import parse_summary

    cmd = [PY, "-m", "onionwatch", "crawl", "--seeds", str(seeds), "--summary-json", "--output", str(out),
           "--no-enrich", "--max-depth", str(args.max_depth), "--max-pages-per-onion", str(args.max_pages),
           "--concurrency", str(args.concurrency),
           "--socks", state["socks"][client], "--control", state["control"][client],
           "-s", "ONIONWATCH_DISCOVER=False", "-s", "ONIONWATCH_PROGRESS_INTERVAL=0", "-s", "LOG_LEVEL=WARNING",
           "-s", f"CONCURRENT_REQUESTS_PER_DOMAIN={args.concurrency}", *extra]
    lab_cpu = cpu_seconds(state["cpu_pids"])
    own_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=Path(__file__).resolve().parent.parent, env=onionwatch_env(home),
                          capture_output=True, text=True, timeout=7200, check=False)
    took = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    now_cpu = cpu_seconds(state["cpu_pids"])
    cpu = {name: now_cpu[name] - lab_cpu[name] for name in now_cpu}
    client_name = f"client{client}"
    cpu_row = {"crawler": after.ru_utime + after.ru_stime - own_cpu.ru_utime - own_cpu.ru_stime,
               "tor client": cpu[client_name],
               "tor relays+auths+service": sum(v for k, v in cpu.items() if not k.startswith(("client", "sites"))),
               "site server": cpu.get("sites", 0.0)}
    out.with_suffix(".log").write_text(f"$ {' '.join(cmd)}\nrc {proc.returncode}\n{proc.stderr}\n{proc.stdout}")
    if "{" not in proc.stdout:
        raise RuntimeError(f"crawl failed ({proc.returncode}): {proc.stderr[-2000:]}")
    summary = parse_summary(proc.stdout)
    summary["wall"] = took
    summary["cpu"] = cpu_row
    summary["rc"] = proc.returncode
    line = next((ln for ln in proc.stderr.splitlines() if ln.startswith("prefilter:")), "")
    summary["prefilter_line"] = line
    m = _PREFILTER_RE.search(line)
    summary["lookups"], summary["lookup_seconds"], summary["in_flight"] = (
        (int(m[1]), float(m[2]), int(m[3])) if m else (0, 0.0, 0))
    records = [json.loads(x) for x in out.read_text().splitlines() if x.strip()] if out.exists() else []
    summary["records"] = records
    return summary


def lookup_scaling(state: dict, one_lookup: float, n: int, client: int) -> list[list]:
    """The same number of dead lookups (fresh addresses, one lookup each) at 1..16 in flight,
    under Tor's own MaxClientCircuitsPending (32: crawler.prefilter allows at most 16), against
    the formula's ceil(n / k) x one lookup. (Raising Tor's limit to 64 made it worse: at 8 in
    flight Tor logged 64 circuits pending and 96 lookups took minutes.)"""
    from crawler.prefilter import DescriptorLookup
    from lab.dead import dead_onions

    rows = []
    for k in (1, 4, 8, 16):
        names = dead_onions(n, seed=f"sweep-scaling-{k}")
        before = cpu_seconds(state["cpu_pids"])
        t = time.monotonic()
        lookup = DescriptorLookup(state["control"][client], parallel=k, confirm=0, timeout=10)
        verdicts = lookup.run(names)
        took = time.monotonic() - t
        cpu = {name: v - before[name] for name, v in cpu_seconds(state["cpu_pids"]).items()}
        rows.append([lookup.in_flight, took, sum(v != "not_found" for v in verdicts.values()), f"{n / took:.1f}",
                     f"{took / n * lookup.in_flight:.3f}", ratio(took, math.ceil(n / lookup.in_flight) * one_lookup),
                     cpu[f"client{client}"], sum(v for name, v in cpu.items() if not name.startswith(("client", "sites")))])
    return rows


def page_bound(records: list[dict], lat_of: dict[str, float], concurrency: int) -> tuple[float, float, int]:
    """(sum of the fetched pages' latencies / concurrency, the slowest site's chain, pages ok)."""
    ok = [r for r in records if r.get("status") and not r.get("failure")]
    total = sum(lat_of.get(r["onion"], 0.0) for r in ok)
    deepest: dict[str, int] = defaultdict(int)
    for r in ok:
        deepest[r["onion"]] = max(deepest[r["onion"]], int(r.get("depth") or 0))
    chain = max(((d + 1) * lat_of.get(o, 0.0) for o, d in deepest.items()), default=0.0)
    return total / concurrency, chain, len(ok)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dead", type=int, default=300)
    ap.add_argument("--latency", default="0.5-3")
    ap.add_argument("--bulk", default="20:10", help="generated live onions:pages (listed by the directory)")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--parallel", type=int, default=32, help="descriptor lookups at once (asked; Tor caps it)")
    ap.add_argument("--max-pages", type=int, default=10)
    ap.add_argument("--max-depth", type=int, default=2)
    ap.add_argument("--no-autothrottle", action="store_true", help="skip the AutoThrottle arm")
    ap.add_argument("--relays", type=int, default=2, help="lab relays besides the 3 authorities (lab default 2)")
    ap.add_argument("--scaling-n", type=int, default=64, help="dead lookups per row of the scaling table")
    ap.add_argument("--keep", action="store_true", help="leave the lab running")
    args = ap.parse_args()
    ensure_isolated()
    from crawler.prefilter import DescriptorLookup
    from lab import control
    from lab.dead import dead_onions
    from lab.latency import Latency

    arms = ["prefilter", "naive"] + ([] if args.no_autothrottle else ["autothrottle"])
    clients = len(arms) + 1  # the last one: the lookup-scaling table, fresh like the sweeps' clients
    arms.append("prefilter again")  # the same home and Tor client as `prefilter`: its dead ones back off
    bulk = tuple(int(x) for x in args.bulk.split(":")) if args.bulk else None
    root = workdir("sweep")
    log(f"lab at {root}: {clients} Tor clients, {args.relays} relays + 3 authorities, latency {args.latency}, {args.dead} dead, bulk {args.bulk}")
    t0 = time.monotonic()
    state = control.up(root, clients=clients, relays=args.relays, bulk=bulk, timeout=300, latency=args.latency, dead=args.dead)
    log(f"lab up in {time.monotonic() - t0:.0f}s")
    try:
        from lab.network import TorNetwork

        lat = Latency.parse(args.latency)
        state["cpu_pids"] = {n.nick: n.pid for n in TorNetwork(root / "tor").state.nodes}
        state["cpu_pids"]["sites"] = state["sites_pid"]
        site_of = {s["onion"]: s for s in state["sites"]}
        hostile = {s["onion"] for s in state["sites"] if s["role"] == "hostile"}
        listed = directory_onions(state)
        seeds_l = [o for o in listed if o not in hostile]
        dead = [o for o in seeds_l if o not in site_of]
        live = [o for o in seeds_l if o in site_of]
        assert set(dead) == set(state["dead"]), "the directory must list every dead address of the lab"
        seeds = root / "directory.txt"
        seeds.write_text("\n".join(seeds_l) + "\n")
        lat_of = {o: (lat.of(site_of[o]["name"]) if lat else 0.0) for o in live}
        log(f"directory lists {len(listed)} onions: {len(live)} live (hostile left out), {len(dead)} dead")

        # one descriptor lookup alone (client 0, addresses not in the sweep), as the bound's unit
        probe = dead_onions(5, seed="sweep-probe")
        t = time.monotonic()
        DescriptorLookup(state["control"][0], parallel=1, confirm=0).run(probe)
        one_lookup = (time.monotonic() - t) / len(probe)
        log(f"one descriptor lookup (dead, alone): {one_lookup:.3f}s")

        scaling_rows = lookup_scaling(state, one_lookup, args.scaling_n, clients - 1)
        runs: dict[str, dict] = {}
        extra = {"prefilter": ["--prefilter", "--prefilter-parallel", str(args.parallel)],
                 "naive": ["-s", "DOWNLOAD_TIMEOUT=180", "-s", "RETRY_TIMES=2"],
                 "autothrottle": ["--prefilter", "--prefilter-parallel", str(args.parallel),
                                  "-s", "AUTOTHROTTLE_ENABLED=True"]}
        extra["prefilter again"] = extra["prefilter"]
        for i, arm in enumerate(arms):
            client, home = (0, root / "home-prefilter") if arm == "prefilter again" else (i, root / f"home-{arm}")
            runs[arm] = r = sweep(state, seeds, client, home, root / f"{arm.replace(' ', '-')}.jsonl", extra[arm], args)
            fails = Counter(x.get("failure") for x in r["records"] if x.get("failure"))
            log(f"{arm}: {r['wall']:.1f}s (crawl {r['seconds']:.1f}s), {r['pages']} pages, rc {r['rc']}, "
                f"{r['prefilter_line'] or 'no prefilter'}; failures {dict(fails)}; CPU s {r['cpu']}")

        pre = runs["prefilter"]
        page_part, chain, pages_ok = page_bound(pre["records"], lat_of, args.concurrency)
        in_flight = pre["in_flight"] or args.parallel

        def bound_of(lookups: int) -> tuple[float, float]:
            """(the formula's bound, its lookup part) for a sweep that needs ``lookups`` lookups;
            never below the lookups plus the slowest site's chain of responses."""
            part = math.ceil(lookups / in_flight) * one_lookup
            return max(page_part + part, part + chain), part

        bound, lookup_part = bound_of(pre["lookups"])
        naive_t = runs["naive"]["wall"]
        rows = []
        for arm, r in runs.items():
            own, _ = bound_of(r["lookups"]) if r["lookups"] else (bound, 0.0)  # naive: the first sweep's bound
            rows.append([arm, r["wall"], r["seconds"], r["lookup_seconds"], r["wall"] - r["seconds"],
                         sum(1 for x in r["records"] if x.get("status") and not x.get("failure")),
                         sum(1 for x in r["records"] if x.get("failure")), r["lookups"], f"{own:.1f}",
                         ratio(r["wall"], own), ratio(r["seconds"], own), ratio(r["wall"], naive_t)])
        rows.append(["bound (first sweep)", bound, bound, lookup_part, 0.0, pages_ok, "",
                     pre["lookups"], f"{bound:.1f}", "1.00x", "1.00x", ratio(bound, naive_t)])
        print_table(
            f"Sweep of the lab directory ({args.relays} relays + 3 authorities): {len(live)} live onions ({args.latency} s per response, "
            f"<={args.max_pages} pages, depth <={args.max_depth}) + {len(dead)} dead; concurrency {args.concurrency}, "
            f"lookups {in_flight} at once (asked {args.parallel})",
            ["run", "wall s", "crawl s", "of which lookups s", "start/stop s", "pages ok", "failed", "lookups",
             "bound s", "vs bound", "crawl vs bound", "vs naive"],
            rows,
        )
        mean = sum(lat_of.values()) / len(lat_of) if lat_of else 0.0
        print(f"one lookup alone {one_lookup:.3f}s; prefilter: {pre['lookups']} lookups ({pre['in_flight']} at once) "
              f"in {pre['lookup_seconds']:.1f}s = {pre['lookup_seconds'] / max(1, math.ceil(pre['lookups'] / in_flight)):.3f}s "
              f"per round vs {one_lookup:.3f}s alone; live latency mean {mean:.2f}s max {max(lat_of.values(), default=0):.2f}s; "
              f"slowest chain {chain:.1f}s")
        print_table(
            "CPU seconds during each run (2 cores shared with other work; wall s x 2 is all there is)",
            ["run", "wall s", "crawler", "its tor client", "relays+auths+service", "site server", "sum", "sum / wall"],
            [[arm, r["wall"], *(r["cpu"][k] for k in ("crawler", "tor client", "tor relays+auths+service", "site server")),
              sum(r["cpu"].values()), f"{sum(r['cpu'].values()) / r['wall']:.2f}"] for arm, r in runs.items()],
        )
        print_table(
            f"Descriptor lookups alone (a fresh Tor client of its own, before the sweeps; {args.scaling_n} new dead "
            "addresses per row, one lookup each): "
            "does in-flight parallelism scale?",
            ["in flight", "seconds", "no answer (10 s)", "lookups/s", "s per lookup x in flight", "vs alone", "tor client CPU s",
             "relays+auths+service CPU s"],
            scaling_rows,
        )
        for arm, r in runs.items():
            print(f"{arm}: {r['prefilter_line'] or 'no prefilter'}; failures {r.get('failure_reasons')}; rc {r['rc']}")
    finally:
        if not args.keep:
            control.down(root)


if __name__ == "__main__":
    main()
