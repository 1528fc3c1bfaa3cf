"""The lab's real web apps (pinnwand, django-oscar: lab.apps): what they cost and what their
crawl profiles buy, in one run.

Prints the install time recorded by `python -m lab.apps install` (scripts/setup_lab_apps.sh),
the time to add both apps to a running lab, then crawls the shop and the pastebin through
Tor twice, side by side: with the crawl profiles the lab writes for the apps (exclude: basket,
checkout, accounts, reviews/add, sort orders, facet filters; pinnwand's per-file variants and
actions; MediaWiki's edit/history/diff/special pages) and without them (only the crawler's
built-in never-follow rules and caps). Per app: pages stored, requests the app logged, POSTs
(always 0: the crawler never submits a form), requests into traps (sort orders, facets, wiki
revisions and special pages), time, and the ratio.

  python bench/lab_apps_bench.py          # as root: re-execs itself under `unshare -n`
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

from common import PY, REPO, ensure_isolated, lab, log, onionwatch_env, workdir

MAX_PAGES = 500  # the crawler's default per-onion cap


def crawl(state: dict, home: Path, out: Path, sites: str) -> float:
    seeds = ",".join(s["onion"] for s in state["sites"] if s["role"].startswith("app-"))
    env = onionwatch_env(home, Path(state["root"]), ONIONWATCH_SITES=sites)
    started = time.monotonic()
    proc = subprocess.run([PY, "-m", "onionwatch", "crawl", "--seeds", seeds, "--output", str(out), "--no-enrich",
                           "--timeout", "30", "-s", f"ONIONWATCH_MAX_PAGES_PER_ONION={MAX_PAGES}",
                           "-s", "ONIONWATCH_DISCOVER=0"],  # the apps only, not the lab the wiki lists
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=1800, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"crawl failed:\n{proc.stderr[-3000:]}")
    return time.monotonic() - started


def main() -> None:
    ensure_isolated()
    from lab import options
    from lab.apps import is_installed, load_apps, requests_of, venv_of

    for spec in load_apps().values():
        if not is_installed(spec):
            raise SystemExit(f"lab app {spec.name} is not installed: run scripts/setup_lab_apps.sh first")
        if spec.installer == "apt":
            print(f"install {spec.name:<9} Debian packages {' '.join(spec.requirements)} ({spec.version})")
            continue
        info = json.loads((venv_of(spec) / "onionwatch-lab-app.json").read_text())
        print(f"install {spec.name:<9} {info['seconds']:>6.1f} s (pip {info.get('pip_seconds', '?')} s, "
              f"{len(info['requirements'])} pinned packages)")
    root = workdir("apps-bench")
    with lab(root / "lab") as state:
        state["root"] = str(root / "lab")
        started = time.monotonic()
        state = dict(options.add(root / "lab", "apps", timeout=300), root=str(root / "lab"))
        print(f"add the apps to the running lab: {time.monotonic() - started:.1f} s (ready: {state.get('ready_seconds')} s "
              "for the default lab)")
        apps = {s["role"]: s for s in state["sites"] if s["role"].startswith("app-")}
        rows = {}
        for variant, sites in (("profile", f"{state['profiles']}:{REPO / 'configs' / 'sites'}"),
                               ("no profile", str(REPO / "configs" / "sites"))):
            before = {r: len(requests_of(s)) for r, s in apps.items()}
            out = root / f"{variant.replace(' ', '-')}.jsonl"
            seconds = crawl(state, root / f"home-{variant.replace(' ', '-')}", out, sites)
            records = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
            for role, s in apps.items():
                reqs = requests_of(s)[before[role]:]
                ok = [r for r in records if r["onion"] == s["onion"] and r["failure"] is None]
                rows[(variant, role)] = {"pages": len(ok), "requests": len(reqs), "seconds": seconds,
                                         "posts": sum(1 for m, _ in reqs if m not in ("GET", "HEAD")),
                                         "facets_sorts": sum(1 for _, p in reqs if re.search(r"sort_by=|selected_facets=|[?&](action|oldid|diff|days|limit)=|/Special:", p))}
            log(f"{variant}: crawled in {seconds:.1f}s")
        print(f"\n{'app':<13} {'variant':<11} {'pages':>6} {'requests':>9} {'POST':>5} {'traps':>10} {'crawl s':>8}")
        for (variant, role), r in rows.items():
            print(f"{role:<13} {variant:<11} {r['pages']:>6} {r['requests']:>9} {r['posts']:>5} {r['facets_sorts']:>10} "
                  f"{r['seconds']:>8.1f}")
        for role in apps:
            a, b = rows[("profile", role)], rows[("no profile", role)]
            print(f"{role}: without its profile {b['pages'] / max(a['pages'], 1):.1f}x the pages, "
                  f"{b['requests'] / max(a['requests'], 1):.1f}x the requests")


if __name__ == "__main__":
    main()
