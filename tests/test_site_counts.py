"""Counts of onion services by address and by site (mirror clusters), exact, from the real
index: a generated year of history (bulk-written) against a brute-force reference, a small
hand-checked market with mirrors, a clone, a seizure and a death, the rebuild from services
and checks, site assignments, and Tor Metrics CSV import."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import Elasticsearch

import clusters
import index
from index import Names, lifespans, sites, tor_metrics
from index.checks import buckets
from index.lifespans import History
from tests import site_history as gen
from tests.fixtures_es import drop_prefix

N_SERVICES = 6000


@pytest.fixture(scope="module")
def year(es: Elasticsearch) -> Iterator[tuple[Names, list[History]]]:
    names = Names(f"t{uuid.uuid4().hex[:10]}")
    hist = gen.generate(N_SERVICES, seed=16)
    result = lifespans.write_lifespans(es, names, lifespans.lifespan_docs(hist))
    assert result["failed"] == [] and result["stored"] > N_SERVICES
    try:
        yield names, hist
    finally:
        drop_prefix(es, names.prefix)


def _counts(rows: list[dict]) -> list[dict]:
    keys = ("known", "alive", "new", "gone", "seized", "clones")
    return [{k: r[k] for k in keys if k in r} for r in rows]


def _starts(interval: str, since: str, until: str) -> list[datetime]:
    return [b.start for b in buckets(interval, since, until)]


@pytest.mark.slow
@pytest.mark.parametrize("unit", ["addresses", "sites"])
def test_monthly_counts_by_category_are_exact(es: Elasticsearch, year, unit: str) -> None:
    names, hist = year
    starts = _starts("month", "2025-01-01", "2025-12-31")
    rows = lifespans.counts(es, names, unit=unit, interval="month", since="2025-01-01", until="2025-12-31",
                              by="category", values=list(gen.CATEGORIES), gone_after=2)
    assert len(rows) == 12 * len(gen.CATEGORIES)
    for cat in gen.CATEGORIES:
        got = [r for r in rows if r["category"] == cat]
        assert [r["start"][:10] for r in got] == [s.date().isoformat() for s in starts]
        assert _counts(got) == gen.reference(hist, unit=unit, interval="month", starts=starts, gone_after=2,
                                             category=cat)
    total = lifespans.counts(es, names, unit=unit, interval="month", since="2025-01-01", until="2025-12-31")
    ref = gen.reference(hist, unit=unit, interval="month", starts=starts, gone_after=2)
    assert _counts(total) == ref
    # a real history: every measure moves
    assert ref[-1]["known"] > 0.9 * (N_SERVICES if unit == "addresses" else ref[-1]["known"])
    assert all(sum(r[m] for r in ref) > 0 for m in ("alive", "new", "gone", "seized"))
    if unit == "sites":
        addresses = lifespans.counts(es, names, interval="month", since="2025-12-01", until="2025-12-31")
        assert ref[-1]["known"] + ref[-1]["clones"] < addresses[-1]["known"]  # mirrors collapse into sites
        assert ref[-1]["clones"] > 0


@pytest.mark.slow
def test_weekly_daily_and_language_counts_are_exact(es: Elasticsearch, year) -> None:
    names, hist = year
    for interval, since, until, n in (("week", "2025-03-01", "2025-06-30", 3), ("day", "2025-05-01", "2025-06-15", 1)):
        rows = lifespans.counts(es, names, unit="sites", interval=interval, since=since, until=until, gone_after=n)
        assert _counts(rows) == gen.reference(hist, unit="sites", interval=interval,
                                              starts=_starts(interval, since, until), gone_after=n)
    rows = lifespans.counts(es, names, unit="addresses", interval="month", since="2025-01-01", until="2025-12-31",
                              by="lang")
    assert {r["category"] for r in rows} == set(gen.LANGS)
    for lang in ("vi", "ms"):
        assert _counts([r for r in rows if r["category"] == lang]) == gen.reference(
            hist, unit="addresses", interval="month", starts=_starts("month", "2025-01-01", "2025-12-31"),
            gone_after=2, lang=lang)


@pytest.mark.slow
def test_stored_tallies_give_the_same_rows_as_live_aggregation(es: Elasticsearch, year) -> None:
    names, _ = year
    took = lifespans.store_tallies(es, names)
    assert set(took) == {f"{u}/{i}" for u in ("addresses", "sites") for i in ("day", "week", "month")}
    for unit, interval, by in (("sites", "month", "category"), ("addresses", "week", None), ("sites", "day", "lang")):
        kw = dict(unit=unit, interval=interval, since="2025-02-01", until="2025-04-30", by=by, gone_after=3)
        assert lifespans.counts(es, names, **kw) == lifespans.counts(es, names, cached=False, **kw)
    assert lifespans.stored_tally(es, names, "sites", "month")["unit"] == "sites"
    for unit in ("addresses", "sites"):  # lifetimes as of now: the stored monthly tally, same answer
        kw = dict(unit=unit, values=list(gen.CATEGORIES), gone_after=2)
        assert lifespans.lifetimes(es, names, **kw) == lifespans.lifetimes(es, names, cached=False, **kw)


@pytest.mark.slow
def test_empty_intervals_are_zero_rows(es: Elasticsearch, year) -> None:
    names, _ = year
    rows = lifespans.counts(es, names, unit="addresses", interval="month", since="2024-10-01", until="2024-12-31",
                              by="category", values=list(gen.CATEGORIES) + ["no_such_category"])
    assert len(rows) == 12
    assert all(r[m] == 0 for r in rows for m in ("known", "alive", "new", "gone", "seized"))


@pytest.mark.slow
def test_lifetimes_and_median_per_category(es: Elasticsearch, year) -> None:
    names, hist = year
    as_of = datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
    for unit in ("addresses", "sites"):
        rows = lifespans.lifetimes(es, names, unit=unit, values=list(gen.CATEGORIES), as_of=as_of, gone_after=2)
        assert rows[0]["category"] is None
        for row in rows:
            known, ended, median = gen.lifetime_reference(hist, unit=unit, as_of=as_of, gone_after=2,
                                                          category=row["category"])
            assert (row["known"], row["ended"], row["median_days"]) == (known, ended, median)
            assert sum(b["count"] for b in row["histogram"]) == row["ended"]
        assert rows[0]["ended"] > 100 and rows[0]["median_days"] > 0


# -- a hand-checked market ------------------------------------------------------------------

def _t(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def _weekly(first: str, last: str) -> list[datetime]:
    out, t = [], _t(first)
    while t <= _t(last):
        out.append(t)
        t += timedelta(weeks=1)
    return out


def market() -> list[History]:
    """Pangolin market: 3 mirrors (one dies in March, the others stay up), a phishing clone
    (born February, dies in April), a forum that is seized in May, a shop that dies in March."""
    def h(name: str, first: str, up: tuple[str, str], down: tuple[str, str] | None = None, **kw) -> History:
        return History(f"{name:a<56}.onion", _t(first), None, kw.pop("cats", ["wildlife"]), ["en"],
                       _weekly(*up), _weekly(*down) if down else [], **kw)
    return [
        h("mirrora", "2026-01-05T10:00:00Z", ("2026-01-07T06:00:00Z", "2026-06-24T06:00:00Z"), site_id="S1", role="mirror"),
        h("mirrorb", "2026-01-20T10:00:00Z", ("2026-01-21T06:00:00Z", "2026-06-24T06:00:00Z"), site_id="S1", role="mirror"),
        h("mirrorc", "2026-02-02T10:00:00Z", ("2026-02-04T06:00:00Z", "2026-03-04T06:00:00Z"),
          ("2026-03-11T06:00:00Z", "2026-06-24T06:00:00Z"), site_id="S1", role="mirror"),
        h("phish", "2026-02-10T10:00:00Z", ("2026-02-11T06:00:00Z", "2026-03-25T06:00:00Z"),
          ("2026-04-01T06:00:00Z", "2026-06-24T06:00:00Z"), site_id="S2", role="clone", clone_of="S1"),
        h("forum", "2026-01-06T10:00:00Z", ("2026-01-07T06:00:00Z", "2026-05-06T06:00:00Z"),
          seized_at=_t("2026-05-13T06:00:00Z"), cats=["leaked_data"], site_id="S3", role="mirror"),
        h("shop", "2026-01-08T10:00:00Z", ("2026-01-14T06:00:00Z", "2026-02-25T06:00:00Z"),
          ("2026-03-04T06:00:00Z", "2026-04-29T06:00:00Z"), cats=["drugs"]),
    ]


@pytest.mark.slow
def test_a_market_with_mirrors_and_a_clone_counts_as_one_site(es: Elasticsearch, names: Names) -> None:
    docs = list(lifespans.lifespan_docs(market()))
    assert lifespans.write_lifespans(es, names, docs)["failed"] == []
    kw = dict(interval="month", since="2026-01-01", until="2026-06-30", gone_after=1)
    by_addr = [(r["start"][5:7], r["known"], r["alive"], r["new"], r["gone"], r["seized"])
               for r in lifespans.counts(es, names, unit="addresses", **kw)]
    assert by_addr == [  # month, known, alive, new, gone, seized
        ("01", 4, 4, 4, 0, 0),  # mirror a, b; forum; shop
        ("02", 6, 6, 2, 0, 0),  # mirror c, phish
        ("03", 6, 5, 0, 1, 0),  # shop (last up in Feb) gone; mirror c (last up 4 Mar) alive in March
        ("04", 6, 3, 0, 2, 0),  # mirror c gone (no up in April); phish (last up March) gone
        ("05", 6, 3, 0, 0, 1),  # forum seized 13 May, never "gone"
        ("06", 6, 2, 0, 0, 0),
    ]
    by_site = [(r["start"][5:7], r["known"], r["alive"], r["new"], r["gone"], r["seized"], r["clones"])
               for r in lifespans.counts(es, names, unit="sites", **kw)]
    assert by_site == [  # month, known, alive, new, gone, seized, clones
        ("01", 3, 3, 3, 0, 0, 0),  # S1 (3 mirrors = 1 site), forum, shop
        ("02", 3, 3, 0, 0, 0, 1),  # the clone is no new site, it is a clone
        ("03", 3, 2, 0, 1, 0, 1),  # shop gone; S1 lives on through mirrors a and b
        ("04", 3, 2, 0, 0, 0, 1),
        ("05", 3, 2, 0, 0, 1, 1),
        ("06", 3, 1, 0, 0, 0, 1),
    ]
    wildlife = lifespans.counts(es, names, unit="sites", by="category", values=["wildlife"], **kw)
    assert [(r["known"], r["clones"]) for r in wildlife][-1] == (1, 1)
    site = next(d for d in docs if d["unit"] == "site" and d["key"] == "S1")
    assert site["onions"] == sorted(h.onion for h in market()[:3]) and site["role"] == "site"
    life = lifespans.lifetimes(es, names, unit="addresses", as_of="2026-06-30T00:00:00Z", gone_after=1)
    # ended (whole days, first seen -> last up): mirror c 29, phish 42, shop 47, forum (seized) 119
    assert (life[0]["known"], life[0]["ended"], life[0]["median_days"]) == (6, 4, 44.5)
    assert [b["count"] for b in life[0]["histogram"]] == [0, 1, 2, 1, 0, 0]


@pytest.mark.slow
def test_rebuild_from_services_and_checks_agrees_with_the_check_counts(es: Elasticsearch, names: Names) -> None:
    from tests import test_stats_counts as base

    index.setup(es, names)
    writer = index.PageWriter(es, names, snapshot_key=b"k" * 32)
    for o, (first_seen, cats) in base.SERVICES.items():
        writer.write(base.page_record(f"http://{o}/", f"page of {o[:6]}", fetched_at=first_seen, categories=cats))
    assert writer.flush().ok
    assert index.write_checks(es, names, base.checks())[1] == []
    result = lifespans.refresh(es, names, {base.A: {"site_id": "S", "role": "mirror"},
                                             base.B: {"site_id": "S", "role": "mirror"}})
    assert result["failed"] == [] and result["services"] == len(base.SERVICES)
    assert not lifespans.stale(es, names)
    kw = dict(interval="week", since="2026-01-05", until="2026-02-08")
    ours = lifespans.counts(es, names, unit="addresses", gone_after=2, **kw)
    theirs = index.onion_stats(es, names, gone_after=2, **kw)
    assert [(r["known"], r["new"], r["alive"]) for r in ours] == [(r["known"], r["new"], r["alive"]) for r in theirs]
    # deaths as flows: C (last up week 2) dies in week 4; B came back, so it never died
    assert [r["gone"] for r in ours] == [0, 0, 0, 1, 0]
    sites_rows = lifespans.counts(es, names, unit="sites", gone_after=2, **kw)
    assert sites_rows[-1]["known"] == ours[-1]["known"] - 1  # A and B are one site
    extra = dict(base.checks()[0], run_id="later", checked_at="2026-02-05T06:00:00Z")
    assert index.write_checks(es, names, [extra])[1] == []
    assert lifespans.stale(es, names)  # a new check: the stored tallies are out of date
    # a second refresh replaces, never duplicates
    assert lifespans.refresh(es, names)["deleted"] == 1  # site S is gone without the assignment
    assert lifespans.counts(es, names, unit="sites", gone_after=2, **kw)[-1]["known"] == ours[-1]["known"]


@pytest.mark.slow
def test_site_assignments_round_trip_with_stable_ids(es: Elasticsearch, names: Names) -> None:
    text = ("pangolin scales and ivory shipped worldwide with escrow from trusted vendors only; rhino horn "
            "powder by the gram, tiger bone wine, live birds on request, discreet packing and tracking for all")
    docs = [clusters.Doc(h.onion, f"{text} mirror {i}", "Pangolin Market", payment=["pay-clone" if h.role == "clone" else "pay-1"],
                         first_seen=h.first_seen.isoformat())
            for i, h in enumerate(market()[:4])]
    first = clusters.cluster(docs, sites.previous(es, names))
    members = [{**m.__dict__, "signals": list(m.signals), "first_seen": d.first_seen, "title": d.title}
               for m, d in zip((first.members[d.onion] for d in docs), docs)]
    assert sites.write(es, names, members, run_id="r1", method=first.params.describe())["stored"] == 4
    listed = sites.listing(es, names)
    assert len(listed) == 1 and (listed[0]["mirrors"], listed[0]["clones"]) == (3, 1)
    assert [o["role"] for o in listed[0]["onions"]] == ["mirror", "mirror", "mirror", "clone"]
    prev = {o: a["site_id"] for o, a in sites.previous(es, names).items()}
    again = clusters.cluster(list(reversed(docs)), prev)
    assert {o: m.site_id for o, m in again.members.items()} == prev


# -- Tor Metrics ----------------------------------------------------------------------------

TOR_CSV = """# © The Tor Project, Inc. Licensed under CC BY 3.0 US, Tor Metrics
# "Unique .onion addresses (version 3 only)"
# This file contains the following columns:
# date: UTC date (YYYY-MM-DD)
# onions: estimated number of unique .onion addresses
# frac: fraction of relays reporting statistics
date,onions,frac
2025-01-01,810000,0.21
2025-01-02,,
2025-01-03,805123.5,0.2
"""


def test_tor_metrics_parse() -> None:
    data = tor_metrics.parse(TOR_CSV, "hidserv-dir-v3-onions-seen.csv")
    assert data.series == "v3"
    assert [(r["date"], r["onions"], r["frac"]) for r in data.rows] == [
        ("2025-01-01", 810000.0, 0.21), ("2025-01-02", None, None), ("2025-01-03", 805123.5, 0.2)]
    assert "CC BY 3.0" in data.citation and "hidserv-dir-v3-onions-seen.csv" in data.citation
    v2 = tor_metrics.parse(TOR_CSV.replace("version 3", "version 2"), "hidserv-dir-onions-seen.csv")
    assert v2.series == "v2"


@pytest.mark.parametrize("text, line, words", [
    (TOR_CSV.replace("date,onions,frac", "day,onions,frac"), 7, "header"),
    (TOR_CSV.replace("date,onions,frac", "date,onions,frac,extra"), 7, "header"),
    (TOR_CSV.replace("2025-01-03,", "03/01/2025,"), 10, "YYYY-MM-DD"),
    (TOR_CSV.replace("2025-01-03,", "2025-02-30,"), 10, "does not exist"),
    (TOR_CSV.replace("0.21", "21%"), 8, "frac"),
    (TOR_CSV.replace("0.21", "1.5"), 8, "frac"),
    (TOR_CSV.replace("810000", "many"), 8, "onions"),
    (TOR_CSV.replace("810000", "-3"), 8, "onions"),
    (TOR_CSV.replace("2025-01-03,805123.5,0.2", "2025-01-03,805123.5"), 10, "fields"),
    (TOR_CSV.replace("2025-01-03", "2025-01-01"), 10, "repeats line 8"),
    (TOR_CSV + "# trailing comment\n", 11, "comment"),
    ("# only comments\n", 1, "no header"),
])
def test_tor_metrics_bad_input_names_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(tor_metrics.TorMetricsError) as err:
        tor_metrics.parse(text, "hidserv-dir-v3-onions-seen.csv")
    assert err.value.line == line and words in str(err.value)
    assert f"line {line}" in str(err.value) and "hidserv-dir-v3-onions-seen.csv" in str(err.value)


def test_tor_metrics_needs_a_series_it_can_tell() -> None:
    with pytest.raises(tor_metrics.TorMetricsError, match="series"):
        tor_metrics.parse(TOR_CSV.replace("version 3 only", "all"), "export.csv")
    assert tor_metrics.parse(TOR_CSV.replace("version 3 only", "all"), "export.csv", series="v2").series == "v2"


@pytest.mark.slow
def test_tor_metrics_store_is_all_or_nothing(es: Elasticsearch, names: Names, tmp_path) -> None:
    path = tmp_path / "hidserv-dir-v3-onions-seen.csv"
    path.write_text(TOR_CSV)
    out = tor_metrics.store(es, names, tor_metrics.parse_file(path))
    assert (out["rows"], out["first"], out["last"]) == (3, "2025-01-01", "2025-01-03")
    pts = tor_metrics.points(es, names, since="2025-01-02", until="2025-01-31")
    assert [(p["date"], p["onions"]) for p in pts] == [("2025-01-02", None), ("2025-01-03", 805123.5)]
    (src,) = tor_metrics.sources(es, names)
    assert src["series"] == "v3" and "CC BY 3.0" in src["citation"] and src["rows"] == 3
    # a bad file changes nothing
    bad = tmp_path / "bad-v3.csv"
    bad.write_text(TOR_CSV.replace("2025-01-03,805123.5", "2025-01-03,lots") + "2025-01-04,1,0.1\n")
    with pytest.raises(tor_metrics.TorMetricsError):
        tor_metrics.store(es, names, tor_metrics.parse_file(bad))
    assert len(tor_metrics.points(es, names)) == 3
    # a re-import replaces the series (a shorter file leaves no stale days)
    path.write_text(TOR_CSV.replace("2025-01-03,805123.5,0.2\n", ""))
    tor_metrics.store(es, names, tor_metrics.parse_file(path))
    assert [p["date"] for p in tor_metrics.points(es, names)] == ["2025-01-01", "2025-01-02"]
