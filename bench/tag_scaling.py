"""Scaling: tagging time and peak memory against input size, on text dense with matches.

Each size runs in its own process (peak RSS is per process) on one page made of lines that carry
offer words, prices, quantities, negation and reporting words, page furniture and validated
personal data every few characters — the worst case for anything that pairs matches with matches.
Printed side by side: wall and CPU seconds, MB/s, peak RSS, and each size's CPU time and RSS growth
per MB as a ratio of the first size's (1.0 everywhere = linear).

Run:  .venv/bin/python bench/tag_scaling.py                 (1 4 8 16 50 MB, ~2-3 min)
      .venv/bin/python bench/tag_scaling.py --sizes 1 4 --cli   (through `onionwatch tag`)
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _luhn(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def _th_id(rng: random.Random) -> str:
    body = str(rng.randint(1, 8)) + "".join(str(rng.randint(0, 9)) for _ in range(11))
    return body + str((11 - sum(int(c) * (13 - i) for i, c in enumerate(body)) % 11) % 10)


LINES = [
    "Selling MDMA 84% {q}g for ${p} escrow, call {phone} or email {email}",
    "heroin {q}g ${p} — not for sale to police, we do not sell to minors; ship worldwide",
    "{card}|{exp}|{cvv}|Verify Synthetic|1990-01-01",
    "Home | News | Donate | Report",
    "ivory tusk {q} kg for sale {p} USD, seized by customs last year; never buy fake ivory",
    "{th},{name},+66 81 555 {n4},cocaine {q}g",
    "user{n4}:pass{n4}word",
    "ketamine {q}g ${p} each, speed {q}g, ice {q}g, hash {q}g — buy now, add to cart",
    "Fullz {q} x ${p}, in stock, escrow, fast delivery; pm me on telegram",
    "Buy cocaine {q}g ${p}, crystal meth {q}g ${p}, shipping worldwide",
]


def dense_text(size: int, seed: int = 12) -> str:
    """About `size` characters of lines dense with offers, amounts, negations and PII."""
    rng = random.Random(seed)
    parts: list[str] = []
    total = 0
    while total < size:
        line = rng.choice(LINES).format(
            q=rng.randint(1, 500), p=rng.randint(10, 9000), phone=f"+66 8{rng.randint(1, 9)} {rng.randint(200, 999)} {rng.randint(1000, 9999)}",
            email=f"holder{rng.randint(1, 99999)}@example.com", card=_luhn("4" + "".join(str(rng.randint(0, 9)) for _ in range(14))),
            exp=f"{rng.randint(1, 12):02d}/{rng.randint(26, 31)}", cvv=rng.randint(100, 999), th=_th_id(rng),
            name=rng.choice(["Somchai Example", "Manee Test", "Budi Contoh"]), n4=rng.randint(1000, 9999),
        )
        parts.append(line)
        total += len(line) + 1
    return "\n".join(parts)[:size]


CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2])
from tag_scaling import dense_text
from enrich import Tagger
tagger = Tagger.load()
tagger.tag("warm up: selling MDMA 10g for $50")
text = dense_text(int(sys.argv[3]))
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
t0, c0 = time.perf_counter(), cpu()
result = tagger.tag(text)
seconds, cpu_seconds = time.perf_counter() - t0, cpu() - c0
print(json.dumps({"seconds": seconds, "cpu": cpu_seconds, "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "base_kb": base,
                  "entities": len(result["entities"]), "offers": len(result["offers"]), "evidence": len(result["evidence"]),
                  "truncated": result.get("truncated")}))
"""


def run_library(size: int) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(HERE), str(size)], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_cli(size: int) -> dict:
    line = json.dumps({"id": "dense", "text": dense_text(size)}).encode() + b"\n"
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    c0 = sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2])
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "onionwatch.cli", "tag", "--max-line-bytes", str(len(line) + 1)], input=line,
                          capture_output=True, check=True, cwd=ROOT)
    seconds = time.perf_counter() - t0
    out = json.loads(proc.stdout)
    cpu = sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2]) - c0  # includes loading the pipeline
    return {"seconds": seconds, "cpu": cpu, "rss_kb": max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss), "base_kb": 0,
            "entities": len(out.get("entities", [])), "offers": len(out.get("offers", [])),
            "evidence": len(out.get("evidence", [])), "truncated": out.get("truncated")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 4, 8, 16, 50], help="MB")
    parser.add_argument("--cli", action="store_true", help="through `onionwatch tag` (JSON in/out, one process per size)")
    args = parser.parse_args()
    rows = []
    for mb in args.sizes:
        size = int(mb * 1024 * 1024)
        r = (run_cli if args.cli else run_library)(size)
        rows.append((mb, r))
        print(f"  {mb:g} MB done in {r['seconds']:.1f} s", file=sys.stderr, flush=True)
    first_mb, first = rows[0]
    s_per_mb = first["cpu"] / first_mb
    rss_per_mb = max(1, first["rss_kb"] - first["base_kb"]) / first_mb
    print(f"tagging dense text ({'onionwatch tag' if args.cli else 'Tagger.tag'}), one page per size")
    print("(ratios: CPU seconds and RSS growth per MB, relative to the first size; the machine is shared, so wall time is shown too)")
    print(f"{'MB':>5} {'seconds':>8} {'CPU s':>6} {'MB/s':>6} {'peak RSS MB':>11} {'RSS growth MB':>13} {'CPU/MB ratio':>13} {'RSS/MB ratio':>12}"
          f" {'entities':>9} {'offers':>7} {'evidence':>8} truncated")
    for mb, r in rows:
        growth = (r["rss_kb"] - r["base_kb"]) / 1024
        print(f"{mb:>5g} {r['seconds']:>8.1f} {r['cpu']:>6.1f} {mb / r['seconds']:>6.2f} {r['rss_kb'] / 1024:>11.0f} {growth:>13.0f}"
              f" {r['cpu'] / mb / s_per_mb:>13.2f} {max(1, r['rss_kb'] - r['base_kb']) / mb / rss_per_mb:>12.2f}"
              f" {r['entities']:>9} {r['offers']:>7} {r['evidence']:>8} {r['truncated']}")


if __name__ == "__main__":
    main()
