"""Onion-service counts at 100,000 services: how long the stats queries take on the local
noida-db (Elasticsearch API), whether they are exact, and how far the `cardinality`
aggregation (HyperLogLog++) would be off for the same figures — side by side in one run.

A generated year (tests/site_history.py: 100,000 services in sites of 1-5 mirrors, 2% of
sites with a clone, weekly checks with outages, deaths, seizures) is turned into lifespan
documents (index/lifespans.py) and bulk-written; then each query runs 5 times:

  month / category   counts(unit, interval=month, by=category) — the chart's query
  month              counts(unit, interval=month)
  week / language    counts(unit, interval=week, by=lang)
  day (a year)       counts(unit, interval=day), 365 rows
  lifetimes          lifetimes(unit, by=category), as of now

The stats query reads the tally that refresh stores (exact per-bucket document counts from
date_histogram/terms aggregations); the same rows aggregated live over every lifespan
document are timed beside it (one run) and must be equal.

Exactness: the monthly address counts are compared with the brute-force reference; the
`cardinality` column shows what the distinct-count aggregation over the same documents
returns for "alive" per month (precision_threshold 40,000, the maximum), with its error.

Run:  .venv/bin/python bench/stats_bench.py [--services 100000]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ensure_isolated, log, machine, noida, print_table, workdir


def timed(fn, runs: int = 5) -> tuple[float, float, object]:
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--services", type=int, default=100_000)
    args = ap.parse_args()
    ensure_isolated()
    from index import Names, lifespans
    from index.checks import buckets
    from tests import site_history as gen
    from tests.fixtures_es import make_client

    print(f"machine: {machine()}")
    log(f"generating {args.services} services ...")
    t0 = time.perf_counter()
    hist = gen.generate(args.services, seed=2026)
    docs = list(lifespans.lifespan_docs(hist))
    t_gen = time.perf_counter() - t0
    n_addr = sum(d["unit"] == "address" for d in docs)
    n_site = len(docs) - n_addr
    ups = sum(len(d["up_days"]) for d in docs)
    log(f"{n_addr} address docs, {n_site} site docs, {ups} up-day values ({t_gen:.0f}s)")
    root = workdir("stats-bench")
    with noida(root / "es") as url:
        es = make_client(url)
        names = Names("bench")
        t0 = time.perf_counter()
        res = lifespans.write_lifespans(es, names, docs, replace=False)
        t_write = time.perf_counter() - t0
        assert not res["failed"], res["failed"][:3]
        log(f"bulk-wrote {res['stored']} docs in {t_write:.0f}s")

        cats = list(gen.CATEGORIES)
        year = dict(since="2025-01-01", until="2025-12-31")
        log("aggregating and storing the tallies (what refresh does after writing) ...")
        t0 = time.perf_counter()
        took = lifespans.store_tallies(es, names)
        t_tally = time.perf_counter() - t0
        queries = [
            ("month / category", dict(interval="month", by="category", values=cats, **year)),
            ("month", dict(interval="month", **year)),
            ("week / language", dict(interval="week", by="lang", **year)),
            ("day (a year)", dict(interval="day", **year)),
        ]
        rows = []
        results = {}
        for unit in ("addresses", "sites"):
            for name, kw in queries:
                med, best, out = timed(lambda kw=kw, unit=unit: lifespans.counts(es, names, unit=unit, **kw))
                live, _, out_live = timed(lambda kw=kw, unit=unit: lifespans.counts(es, names, unit=unit,
                                                                                   cached=False, **kw), runs=1)
                assert out == out_live, "stored tally and live aggregation disagree"
                results[(unit, name)] = out
                rows.append([unit, name, f"{med:.3f}", f"{best:.3f}", f"{live:.2f}", f"{live / med:.0f}x",
                             len(out), "yes" if med < 2 else "NO"])
                log(f"{unit} {name}: stored {med:.3f}s, live {live:.2f}s")
            med, best, out = timed(lambda unit=unit: lifespans.lifetimes(es, names, unit=unit, values=cats))
            live, _, out_live = timed(lambda unit=unit: lifespans.lifetimes(es, names, unit=unit, values=cats,
                                                                            cached=False), runs=1)
            assert out == out_live, "stored and live lifetimes disagree"
            rows.append([unit, "lifetimes / category", f"{med:.3f}", f"{best:.3f}", f"{live:.2f}",
                         f"{live / med:.0f}x", len(out), "yes" if med < 2 else "NO"])
            log(f"{unit} lifetimes: stored {med:.3f}s, live {live:.2f}s; median days {out[0]['median_days']}")
        print(f"\n{args.services} services -> {n_addr} address + {n_site} site lifespan documents "
              f"({ups} up-day values); generated in {t_gen:.0f}s, bulk-written in {t_write:.0f}s; "
              f"6 tallies aggregated and stored in {t_tally:.1f}s "
              f"({', '.join(f'{k} {v:.1f}s' for k, v in took.items())})")
        print_table("Stats query on noida-db: from the stored tally (median/best of 5) vs aggregating live over "
                    "every lifespan document (1 run); same rows",
                    ["unit", "query", "stored median s", "stored best s", "live s", "live / stored", "rows",
                     "< 2 s"], rows)

        # exactness against the brute-force reference, and what cardinality would say
        log("reference counts (brute force) ...")
        starts = [b.start for b in buckets("month", year["since"], year["until"])]
        ref = gen.reference(hist, unit="addresses", interval="month", starts=starts, gone_after=2)
        got = results[("addresses", "month")]
        keys = ("known", "alive", "new", "gone", "seized")
        exact = all(all(r[k] == x[k] for k in keys) for r, x in zip(got, ref, strict=True))  # type: ignore[union-attr]
        card = es.search(index=names.alias(lifespans.LIFESPANS), size=0, query={"term": {"unit": "address"}}, aggs={
            "alive": {"date_histogram": {"field": "up_days", "calendar_interval": "month", "time_zone": "UTC"},
                      "aggs": {"n": {"cardinality": {"field": "key", "precision_threshold": 40000}}}}})
        by_month = {b["key_as_string"][:7]: b for b in card["aggregations"]["alive"]["buckets"]}
        crow = []
        worst = 0.0
        for r, x in zip(got, ref, strict=True):  # type: ignore[arg-type]
            est = int(by_month[r["start"][:7]]["n"]["value"]) if r["start"][:7] in by_month else 0
            err = (est - x["alive"]) / x["alive"] * 100 if x["alive"] else 0.0
            worst = max(worst, abs(err))
            crow.append([r["start"][:7], x["known"], x["alive"], r["alive"], est, f"{err:+.2f}%"])
        print_table("Monthly address counts: reference vs index (doc counts) vs cardinality (HyperLogLog++)",
                    ["month", "known (ref)", "alive (ref)", "alive (index)", "alive (cardinality)",
                     "cardinality error"], crow)
        whole = es.search(index=names.alias(lifespans.LIFESPANS), size=0, query={"term": {"unit": "address"}},
                          aggs={"known": {"cardinality": {"field": "key", "precision_threshold": 40000}},
                                "alive_2025": {"filter": {"range": {"up_days": {"gte": "2025-01-01",
                                                                                "lt": "2026-01-01"}}},
                                               "aggs": {"n": {"cardinality": {"field": "key",
                                                                              "precision_threshold": 40000}}}}})
        alive_year = sum(1 for d in docs if d["unit"] == "address" and d["up_days"])
        print_table("Above the 40,000 precision threshold (where Elasticsearch documents HyperLogLog++ as an "
                    "estimate)", ["figure", "exact (doc count)", "cardinality", "error"],
                    [["known addresses", n_addr, int(whole["aggregations"]["known"]["value"]),
                      f"{(whole['aggregations']['known']['value'] - n_addr) / n_addr * 100:+.2f}%"],
                     ["addresses alive in 2025", alive_year, int(whole["aggregations"]["alive_2025"]["n"]["value"]),
                      f"{(whole['aggregations']['alive_2025']['n']['value'] - alive_year) / alive_year * 100:+.2f}%"]])
        print(f"\nindex counts equal the brute-force reference for every month and measure: {exact}")
        print(f"cardinality (precision_threshold 40000) worst error on monthly alive: {worst:.2f}%")
        es.close()
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
