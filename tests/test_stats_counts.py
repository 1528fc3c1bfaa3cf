"""Onion-service counts over time, against a real index holding a known history: services
that appear, die and come back across weeks. Exact counts per interval."""

from __future__ import annotations

import csv
import io
import json
import struct
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch

import index
from index import Names
from index.checks import buckets, floor_interval, next_interval
from onionwatch.cli import main
from tests.fixtures_es import onion, page_record

A, B, C, D, E, F, X = (onion(n) for n in range(100, 107))
# services: first successful crawl (first_seen) and what the tagger found
SERVICES = {
    A: ("2025-12-20T08:00:00Z", ["drugs"]),
    B: ("2026-01-06T08:00:00Z", ["leaked_data"]),
    E: ("2026-01-07T08:00:00Z", ["wildlife"]),  # known, never checked: never "gone"
    C: ("2026-01-13T08:00:00Z", ["wildlife"]),
    D: ("2026-01-20T08:00:00Z", ["leaked_data"]),
    F: ("2026-01-27T08:00:00Z", []),
}
RUNS = ["2026-01-07T06:00:00Z", "2026-01-14T06:00:00Z", "2026-01-21T06:00:00Z", "2026-01-28T06:00:00Z",
        "2026-02-04T06:00:00Z"]
# verdict per weekly run (None: not checked). B dies and returns, C dies, D ends unknown.
HISTORY = {
    A: ["up", "up", "up", "up", "up"],
    B: ["up", "down", "down", "up", "down"],
    C: [None, "up", "down", "down", "down"],
    D: [None, None, "up", "up", "unknown"],
    F: [None, None, None, None, "up"],
    X: [None, "up", None, None, None],  # checked by address, never crawled: not a known service
}
EXTRA = [(B, "2026-01-09T12:00:00Z", "down")]  # a second check in week 1 does not undo its "up"


def checks() -> list[dict]:
    out = []
    for n, at in enumerate(RUNS):
        for o, verdicts in HISTORY.items():
            if verdicts[n]:
                out.append((o, at, verdicts[n], f"run{n}"))
    out += [(o, at, v, "extra") for o, at, v in EXTRA]
    docs = []
    for o, at, status, run in out:
        first_seen, cats = SERVICES.get(o, (None, []))
        docs.append({"run_id": run, "onion": o, "checked_at": at, "status": status, "method": "http",
                     "reason": None if status == "up" else "onion_intro_failed", "attempts": 1 if status == "up" else 3,
                     "latency_ms": 400 if status == "up" else None, "first_seen": first_seen, "categories": cats,
                     "descriptor": "skipped"})
    return docs


@pytest.fixture
def history(es: Elasticsearch, names: Names) -> Names:
    index.setup(es, names)
    writer = index.PageWriter(es, names, snapshot_key=b"k" * 32)
    for o, (first_seen, cats) in SERVICES.items():
        writer.write(page_record(f"http://{o}/", f"page of {o[:6]}", fetched_at=first_seen, categories=cats))
        later = (datetime.fromisoformat(first_seen.replace("Z", "+00:00")) + timedelta(days=3)).isoformat()
        writer.write(page_record(f"http://{o}/about", "about", fetched_at=later, categories=cats))
    assert writer.flush().ok
    stored, failed = index.write_checks(es, names, checks())
    assert (stored, failed) == (len(checks()), [])
    return names


def _t(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def reference(interval: str, since: str, until: str, gone_after: int, category: str | None = None) -> list[dict]:
    """The same definitions computed naively from the history above (what the index must agree with)."""
    svc = {o: v for o, v in SERVICES.items() if category is None or category in v[1]}
    docs = [d for d in checks() if d["first_seen"] and (category is None or category in d["categories"])]
    rows = []
    for b in buckets(interval, since, until):
        w = next_interval(b.start, interval, 1 - gone_after)
        window = [d for d in docs if w <= _t(d["checked_at"]) < b.end and _t(d["first_seen"]) < w]
        verdicts = {d["onion"] for d in window if d["status"] in ("up", "down")}
        rows.append({
            "known": sum(_t(f) < b.end for f, _ in svc.values()),
            "new": sum(b.start <= _t(f) < b.end for f, _ in svc.values()),
            "alive": len({d["onion"] for d in docs if d["status"] == "up" and b.start <= _t(d["checked_at"]) < b.end}),
            "gone": len(verdicts - {d["onion"] for d in window if d["status"] == "up"}),
        })
    return rows


def counts(rows: list[dict]) -> list[tuple]:
    return [(r["start"][:10], r["known"], r["new"], r["alive"], r["gone"]) for r in rows]


def test_weekly_counts_are_exact(es: Elasticsearch, history: Names) -> None:
    rows = index.onion_stats(es, history, interval="week", since="2026-01-05", until="2026-02-08", gone_after=2)
    # (week, known, new, alive, gone)
    assert counts(rows) == [
        ("2026-01-05", 3, 2, 2, 0),  # A before; B, E new; A and B up
        ("2026-01-12", 4, 1, 2, 0),  # C new; A, C up (X is not a known service)
        ("2026-01-19", 5, 1, 2, 1),  # D new; B down two weeks running: gone
        ("2026-01-26", 6, 1, 3, 1),  # F new; B is back; C down two weeks: gone
        ("2026-02-02", 6, 0, 2, 1),  # C still gone; D unknown is no evidence; E never checked
    ]
    assert [r["end"][:10] for r in rows] == ["2026-01-12", "2026-01-19", "2026-01-26", "2026-02-02", "2026-02-09"]
    assert [tuple(r[k] for k in ("known", "new", "alive", "gone")) for r in rows] == \
        [tuple(r.values()) for r in reference("week", "2026-01-05", "2026-02-08", 2)]


def test_monthly_and_daily_counts_match_the_definitions(es: Elasticsearch, history: Names) -> None:
    month = index.onion_stats(es, history, interval="month", since="2026-01-15", until="2026-02-10", gone_after=1)
    assert counts(month) == [("2026-01-01", 6, 5, 4, 0), ("2026-02-01", 6, 0, 2, 2)]
    day = index.onion_stats(es, history, interval="day", since="2026-01-05", until="2026-02-05", gone_after=7)
    assert len(day) == 32
    assert [tuple(r[k] for k in ("known", "new", "alive", "gone")) for r in day] == \
        [tuple(r.values()) for r in reference("day", "2026-01-05", "2026-02-05", 7)]
    assert sum(r["new"] for r in day) == 5 and max(r["gone"] for r in day) > 0


def test_counts_by_category(es: Elasticsearch, history: Names) -> None:
    rows = index.onion_stats(es, history, interval="week", since="2026-01-05", until="2026-02-08",
                             category="leaked_data", gone_after=2)
    assert counts(rows) == [
        ("2026-01-05", 1, 1, 1, 0),
        ("2026-01-12", 1, 0, 0, 0),
        ("2026-01-19", 2, 1, 1, 1),
        ("2026-01-26", 2, 0, 2, 0),
        ("2026-02-02", 2, 0, 0, 0),
    ]
    for cat in ("drugs", "wildlife"):
        got = index.onion_stats(es, history, interval="week", since="2026-01-05", until="2026-02-08",
                                category=cat, gone_after=2)
        assert [tuple(r[k] for k in ("known", "new", "alive", "gone")) for r in got] == \
            [tuple(r.values()) for r in reference("week", "2026-01-05", "2026-02-08", 2, cat)]


def test_interval_boundaries() -> None:
    t = datetime(2026, 3, 5, 17, 30, tzinfo=timezone.utc)  # a Thursday
    assert floor_interval(t, "week") == datetime(2026, 3, 2, tzinfo=timezone.utc)
    assert floor_interval(t, "month") == datetime(2026, 3, 1, tzinfo=timezone.utc)
    assert next_interval(datetime(2026, 1, 1, tzinfo=timezone.utc), "month", -2) == datetime(2025, 11, 1, tzinfo=timezone.utc)
    assert len(buckets("month", "2025-11-30", "2026-02-01")) == 4
    with pytest.raises(ValueError):
        buckets("week", "2026-02-01", "2026-01-01")


def _cli(args: list[str], es_url: str, prefix: str, home: str) -> str:
    env = {"ONIONWATCH_ES_URL": es_url, "ONIONWATCH_INDEX_PREFIX": prefix, "ONIONWATCH_HOME": home}
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_stats_command_formats(es: Elasticsearch, es_url: str, history: Names, tmp_path) -> None:  # noqa: ANN001
    base = ["stats", "onions", "--interval", "week", "--since", "2026-01-05", "--until", "2026-02-08"]
    out = json.loads(_cli(base + ["--format", "json"], es_url, history.prefix, str(tmp_path)))
    assert (out["unit"], out["interval"], out["tor_metrics"]) == ("addresses", "week", [])
    assert set(out["rows"][0]) >= {"start", "end", "category", "known", "alive", "new", "gone", "seized"}
    # (week, known, new, alive, gone): deaths are counted once, when final: C dies in week 4 (last up
    # in week 2, then two weeks without); B came back, so its two down weeks are no death
    assert counts(out["rows"]) == [("2026-01-05", 3, 2, 2, 0), ("2026-01-12", 4, 1, 2, 0), ("2026-01-19", 5, 1, 2, 0),
                                   ("2026-01-26", 6, 1, 3, 1), ("2026-02-02", 6, 0, 2, 0)]
    assert "alive: at least one successful liveness check" in " ".join(out["caption"])
    # lifetimes as of now (monthly rule): ended are those with a failed check after their last
    # sign of life — B (6 Jan -> up 28 Jan: 21 days) and C (13 Jan -> its page fetched 16 Jan: 3 days);
    # A and F were never seen down, D ended unknown, E was never checked: still running
    life = {lt["category"]: lt for lt in out["lifetimes"]}
    assert (life[None]["known"], life[None]["ended"], life[None]["median_days"]) == (6, 2, 12.0)
    assert (life["wildlife"]["ended"], life["wildlife"]["median_days"]) == (1, 3)
    assert set(life) == {None, "leaked_data", "drugs", "wildlife"}
    table = _cli(base, es_url, history.prefix, str(tmp_path)).splitlines()
    assert table[0].split() == ["start", "known", "alive", "new", "gone", "seized"]
    assert table[4].split() == ["2026-01-26", "6", "3", "1", "1", "0"]
    assert table[7].startswith("lifetimes: all: median")
    assert table[9].startswith("Counted by onion address")  # the caption follows the rows
    text = _cli(base + ["--format", "csv", "--by", "category"], es_url, history.prefix, str(tmp_path))
    assert text.startswith("# Counted by onion address")
    rows = list(csv.DictReader(io.StringIO("\n".join(x for x in text.splitlines() if not x.startswith("#")))))
    assert {r["category"] for r in rows} == {"leaked_data", "drugs", "wildlife"}
    leaked = [(r["start"][:10], int(r["alive"])) for r in rows if r["category"] == "leaked_data"]
    assert leaked == [("2026-01-05", 1), ("2026-01-12", 0), ("2026-01-19", 1), ("2026-01-26", 2), ("2026-02-02", 0)]
    sites = json.loads(_cli(base + ["--format", "json", "--unit", "sites"], es_url, history.prefix, str(tmp_path)))
    assert [r["known"] for r in sites["rows"]] == [3, 4, 5, 6, 6]  # never clustered: one site per address
    for extra in ([], ["--by", "category"], ["--unit", "sites"]):
        png = tmp_path / f"chart{len(extra)}{extra[-1] if extra else ''}.png"
        _cli(base + ["--format", "png", "--output", str(png)] + extra, es_url, history.prefix, str(tmp_path))
        assert_png(png.read_bytes())
    svg = tmp_path / "chart.svg"
    _cli(base + ["--format", "svg", "--output", str(svg)], es_url, history.prefix, str(tmp_path))
    assert svg.read_text().startswith("<svg") and 'class="caption"' in svg.read_text()


TOR_CSV = """# (c) The Tor Project, Inc. Licensed under CC BY 3.0 US
# "Unique .onion addresses (version 3 only)"
date,onions,frac
2026-01-05,700000,0.12
2026-01-06,710000,0.13
2026-01-20,690000.5,0.11
"""


def test_import_tor_metrics_command(es: Elasticsearch, es_url: str, history: Names, tmp_path) -> None:  # noqa: ANN001
    bad = tmp_path / "hidserv-dir-v3-onions-seen.csv"
    bad.write_text(TOR_CSV.replace("0.13", "13%"))
    env = {"ONIONWATCH_ES_URL": es_url, "ONIONWATCH_INDEX_PREFIX": history.prefix, "ONIONWATCH_HOME": str(tmp_path)}
    result = CliRunner().invoke(main, ["stats", "import-tor-metrics", str(bad)], env=env)
    assert result.exit_code == 1
    assert "line 5" in result.output and "frac" in result.output and "nothing was imported" in result.output
    base = ["stats", "onions", "--interval", "week", "--since", "2026-01-05", "--until", "2026-02-08", "--format", "json"]
    assert json.loads(_cli(base, es_url, history.prefix, str(tmp_path)))["tor_metrics"] == []
    good = tmp_path / "hidserv-dir-v3-onions-seen.csv"
    good.write_text(TOR_CSV)
    out = _cli(["stats", "import-tor-metrics", str(good)], es_url, history.prefix, str(tmp_path))
    assert "imported 3 days of Tor Metrics v3 (2026-01-05 to 2026-01-20)" in out
    data = json.loads(_cli(base, es_url, history.prefix, str(tmp_path)))
    assert [(p["date"], p["onions"]) for p in data["tor_metrics"]] == [
        ("2026-01-05", 700000.0), ("2026-01-06", 710000.0), ("2026-01-20", 690000.5)]
    assert [r["tor_onions"] for r in data["rows"]] == [705000.0, None, 690000.5, None, None]  # weekly means
    assert "CC BY 3.0" in " ".join(data["caption"])
    png = tmp_path / "both.png"
    _cli(base[:-2] + ["--format", "png", "--output", str(png)], es_url, history.prefix, str(tmp_path))
    assert_png(png.read_bytes())


def assert_png(data: bytes, min_size: tuple[int, int] = (600, 300)) -> None:
    """A real PNG of chart size with drawn content (not a blank canvas)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= min_size[0] and height >= min_size[1]
    assert len(data) > 15_000  # axes, labels, legend and lines compress to well above a blank image


def test_check_history_and_latest(es: Elasticsearch, history: Names) -> None:
    b = index.check_history(es, history, B)
    assert [(c["checked_at"], c["status"]) for c in b] == sorted(
        [(at, v) for at, v in zip(RUNS, HISTORY[B])] + [(EXTRA[0][1], EXTRA[0][2])], reverse=True)
    assert b[0]["up"] is False and b[0]["doc_id"]
    latest = {c["onion"]: (c["checked_at"], c["status"]) for c in index.latest_checks(es, history, [B, D, X])}
    assert latest == {B: (RUNS[4], "down"), D: (RUNS[4], "unknown"), X: (RUNS[1], "up")}
    assert next(c for c in index.check_history(es, history, D) if c["status"] == "unknown")["up"] is None
