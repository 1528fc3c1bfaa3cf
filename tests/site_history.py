"""A generated year of onion-service history with a known answer: services that are born,
answer weekly checks (with outages and checker gaps), die, are seized, and sites made of
mirrors and clones. ``reference`` counts it naively from the raw events, independently of
index/lifespans.py's precomputed documents and aggregations; tests and bench/stats_bench.py
compare the two."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from index.lifespans import History

START = datetime(2025, 1, 1, tzinfo=UTC)  # a Wednesday: weekly check runs at 06:00
END = datetime(2026, 1, 1, tzinfo=UTC)
CATEGORIES = ("drugs", "leaked_data", "wildlife")
LANGS = ("en", "vi", "th", "id", "ms")


def generate(n: int, seed: int = 16) -> list[History]:
    """About ``n`` services (sites of 1-5 mirrors, 2% of sites with a phishing clone)."""
    rng = random.Random(seed)
    runs = [START + timedelta(days=7 * r, hours=6) for r in range(53)]
    out: list[History] = []
    s = 0
    while len(out) < n:
        s += 1
        size = 1 if rng.random() < 0.8 else rng.randint(2, 5)
        r = rng.random()
        cats = [] if r < 0.35 else [CATEGORIES[0]] if r < 0.7 else [CATEGORIES[1]] if r < 0.9 else [CATEGORIES[2]]
        if cats and rng.random() < 0.05:
            cats = sorted(set(cats) | {rng.choice(CATEGORIES)})
        lang = [] if rng.random() < 0.05 else [rng.choices(LANGS, weights=(60, 10, 10, 10, 5))[0]]
        site = f"site-{s:06d}"
        members = [("mirror", site, None)] * size
        if rng.random() < 0.02:
            members.append(("clone", f"clone-{s:06d}", site))
        for k, (role, sid, clone_of) in enumerate(members):
            out.append(_service(rng, runs, f"{s:06d}m{k}", cats, lang, sid, role, clone_of))
    return out[:n] if len(out) > n else out


def _service(rng: random.Random, runs: list[datetime], name: str, cats: list[str], langs: list[str],
             site_id: str, role: str, clone_of: str | None) -> History:
    first = START + timedelta(seconds=rng.randrange(int((END - START).total_seconds())))
    death = first + timedelta(days=rng.expovariate(1 / 120))
    seized = death < END and rng.random() < 0.03
    checked = rng.random() > 0.05  # a few are known from crawls only, never checked
    ups: list[datetime] = []
    downs: list[datetime] = []
    seized_at = None
    for t in runs:
        if not checked or t < first or t >= END:
            continue
        if t < death:
            r = rng.random()
            if r < 0.88:
                ups.append(t)
            elif r < 0.96:
                downs.append(t)  # an outage
            # else: no verdict (the checker could not reach Tor)
        elif seized:
            seized_at = seized_at or t  # the banner is seen at the first check after the takeover
        elif t < death + timedelta(weeks=10) and rng.random() < 0.9:
            downs.append(t)  # dead ones are re-checked for ten weeks, then given up
    last_seen = None
    if rng.random() < 0.3:  # a later crawl of a live service
        later = first + timedelta(days=rng.uniform(0, 60))
        last_seen = later if later < min(death, END) else None
    return History(f"{name}{'x' * (50 - len(name))}.onion", first, last_seen, cats, langs, ups, downs, seized_at,
                   site_id, role, clone_of)


# -- the naive reference --------------------------------------------------------------------

@dataclass
class Unit:
    first: datetime
    ups: list[datetime]
    last_alive: datetime
    down_since: datetime | None
    seized_at: datetime | None
    categories: set[str]
    langs: set[str]
    clone: bool


def units(hist: list[History], unit: str) -> list[Unit]:
    groups: dict[str, list[History]] = {}
    for h in hist:
        groups.setdefault(h.onion if unit == "addresses" else (h.site_id or h.onion), []).append(h)
    out = []
    for members in groups.values():
        first = min(h.first_seen for h in members)  # type: ignore[type-var]
        ups = sorted(t for h in members for t in h.up)  # type: ignore[misc]
        lives = [max([h.first_seen] + ([h.last_seen] if h.last_seen else []) + list(h.up)) for h in members]  # type: ignore[list-item, operator]
        last_alive = max(lives)
        later = [t for h in members for t in h.down if t > last_alive]  # type: ignore[operator]
        seized = [h.seized_at for h in members if h.seized_at]
        seized_at = min(seized) if seized else None  # type: ignore[type-var]
        if seized_at and any(h.seized_at is None and life > seized_at for h, life in zip(members, lives)):
            seized_at = None
        out.append(Unit(first, ups, last_alive, min(later) if later else None, seized_at,  # type: ignore[arg-type]
                        set().union(*(h.categories for h in members)), set().union(*(h.langs for h in members)),
                        members[0].role == "clone"))
    return out


def _index(t: datetime, interval: str) -> int:
    """Interval number since 2000-01-03 (a Monday)."""
    if interval == "month":
        return t.year * 12 + t.month - 1
    days = (t.date() - datetime(2000, 1, 3).date()).days
    return days if interval == "day" else days // 7


def reference(hist: list[History], *, unit: str, interval: str, starts: list[datetime], gone_after: int,
              category: str | None = None, lang: str | None = None) -> list[dict[str, Any]]:
    """Counts per interval (interval starts given), by brute force over the raw events."""
    us = [u for u in units(hist, unit) if (category is None or category in u.categories)
          and (lang is None or lang in u.langs)]
    rows = []
    for start in starts:
        i = _index(start, interval)
        sites = [u for u in us if not (unit == "sites" and u.clone)]
        row = {"known": 0, "alive": 0, "new": 0, "gone": 0, "seized": 0}
        for u in sites:
            fi = _index(u.first, interval)
            row["known"] += fi <= i
            row["new"] += fi == i
            row["alive"] += any(_index(t, interval) == i for t in u.ups)
            if u.seized_at is not None:
                row["seized"] += _index(u.seized_at, interval) == i
            elif u.down_since is not None:
                row["gone"] += max(_index(u.last_alive, interval) + gone_after, _index(u.down_since, interval)) == i
        if unit == "sites":
            row["clones"] = sum(1 for u in us if u.clone and _index(u.first, interval) <= i)
        rows.append(row)
    return rows


def lifetime_reference(hist: list[History], *, unit: str, as_of: datetime, gone_after: int,
                       category: str | None = None) -> tuple[int, int, float | None]:
    """(known, ended, median lifetime in days of the ended) with ``as_of`` monthly."""
    import statistics

    cutoff_i = _index(as_of, "month") + 1 - gone_after
    ended = []
    known = 0
    for u in units(hist, unit):
        if unit == "sites" and u.clone or (category and category not in u.categories):
            continue
        known += 1
        if u.seized_at is not None or (u.down_since is not None and _index(u.last_alive, "month") < cutoff_i
                                       and u.down_since < as_of):
            ended.append((u.last_alive - u.first).days)
    return known, len(ended), (statistics.median(ended) if ended else None)
