"""Recrawl policy and the descriptor prefilter on the real lab (Tor): a --recrawl run after
a change on one lab page refetches that page first and adds exactly one new version; dead
addresses are found by descriptor lookup and backed off."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
import yaml

from tests.fixtures_lab import lab, lab_env, read_jsonl, run_onionwatch, site  # noqa: F401

pytestmark = pytest.mark.slow


def _drop_listing(dropin: Path, n: int) -> None:
    """A listing newer than all others, in its own category, by no known vendor: of the pages
    a crawl knows, only the market's front page ("Latest listings") changes."""
    d = dropin / "market" / "listings"
    d.mkdir(parents=True, exist_ok=True)
    (d / f"zz-recrawl-{n}.yaml").write_text(yaml.safe_dump({
        "title": f"Recrawl probe {n}", "category": "recrawlprobe", "vendor": "nobody", "posted": f"2099-0{n}-01",
        "lang": "en", "prices": [{"amount": 10 + n, "currency": "USD"}], "description": "probe"}))


def _versions(*runs: list[dict]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for records in runs:
        for r in records:
            if r.get("sha256") and r.get("status") == 200 and r["sha256"] not in out.get(r["url"], []):
                out.setdefault(r["url"], []).append(r["sha256"])
    return out


def test_recrawl_changed_page_first_one_new_version(lab, tmp_path):  # noqa: F811
    env = lab_env(lab, tmp_path / "home")
    onion = next(s for s in lab["sites"] if s["name"] == "market")["onion"]  # Golden Lotus (market/listings)
    home = f"http://{onion}/"
    common = ["--no-enrich", "-s", "ONIONWATCH_DISCOVER=False"]
    a, b, c = (tmp_path / f"{x}.jsonl" for x in "abc")
    r = run_onionwatch(["crawl", "--seeds", onion, "--output", str(a), "--max-pages-per-onion", "15", *common], env)
    assert r.returncode == 0, r.stderr[-2000:]
    first = read_jsonl(a)
    fetched = {x["url"] for x in first if x.get("status") == 200}
    assert home in fetched and len(fetched) >= 8

    _drop_listing(Path(lab["dropin"]), 1)
    r = run_onionwatch(["crawl", "--recrawl", "--seeds", onion, "--output", str(b), "--concurrency", "1", *common], env)
    assert r.returncode == 0, r.stderr[-2000:]
    after1 = _versions(first, read_jsonl(b))
    new1 = [u for u, shas in after1.items() if len(shas) > len(_versions(first).get(u, []))]
    assert new1 == [home], new1  # exactly one new version: the changed front page
    assert len(read_jsonl(b)) < len(fetched) / 2  # the unchanged pages answered 304: no record

    time.sleep(1)
    _drop_listing(Path(lab["dropin"]), 2)
    r = run_onionwatch(["crawl", "--recrawl", "--seeds", onion, "--output", str(c), "--concurrency", "1", *common], env)
    assert r.returncode == 0, r.stderr[-2000:]
    after2 = _versions(first, read_jsonl(b), read_jsonl(c))
    new2 = [u for u, shas in after2.items() if len(shas) > len(after1.get(u, []))]
    assert new2 == [home], new2
    db = sqlite3.connect(tmp_path / "home" / "crawl-state" / "recrawl.sqlite")
    order = [u for (u,) in db.execute("SELECT url FROM pages WHERE fetched_at IS NOT NULL ORDER BY checked_at")]
    assert order[0] == home, order[:3]  # the page that changed before is revisited first
    changes = dict(db.execute("SELECT url, changes FROM pages"))
    assert changes[home] == 2 and sum(changes.values()) == 2
    unchanged = sum(n for (n,) in db.execute("SELECT unchanged FROM pages"))
    assert unchanged >= 2 * (len(fetched) - 1) - 2


def test_prefilter_dead_and_backoff(lab, tmp_path):  # noqa: F811
    from crawler.prefilter import BACKING_OFF, FOUND, NOT_FOUND, BackoffState, prefilter
    from lab.dead import dead_onions

    live = [s["onion"] for s in lab["sites"] if s["role"] in ("market", "forum", "news")]
    dead = dead_onions(6, seed="test-prefilter")
    state = BackoffState(tmp_path / "backoff.sqlite")
    res = prefilter(live + dead, lab["control"][0], state, parallel=8, timeout=30)
    assert {res.verdicts[o] for o in live} == {FOUND}, res.verdicts
    assert {res.verdicts[o] for o in dead} == {NOT_FOUND}, res.verdicts
    again = prefilter(live + dead, lab["control"][0], state, parallel=8, timeout=30)
    assert {again.verdicts[o] for o in dead} == {BACKING_OFF}  # not looked up again
    assert again.lookups == len(live)
    assert res.crawl() == set(live)
