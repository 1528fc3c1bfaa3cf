"""Crawl the whole lab through real Tor, from the directory onion only."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from tests.fixtures_lab import lab_env, read_jsonl, run_onionwatch, site

pytestmark = pytest.mark.slow

TIMEOUT = 8  # the drip page sends a byte a second for far longer


@pytest.fixture(scope="module")
def crawl(lab, tmp_path_factory):
    home = tmp_path_factory.mktemp("crawl-home")
    print("crawl home:", home)
    out = home / "pages.jsonl"
    guard_log = home / "guard.jsonl"
    ports = [p.rsplit(":", 1)[1] for p in lab["socks"] + lab["control"]]
    directory = site(lab, "directory")["onion"]
    proc = run_onionwatch(
        [
            "crawl", "--seeds", directory, "--output", str(out), "--no-enrich", "--timeout", str(TIMEOUT),
            "--summary-json", "-s", "ONIONWATCH_NETWORK_GUARD=1", "-s", f"ONIONWATCH_GUARD_LOG={guard_log}",
            "-s", f"ONIONWATCH_GUARD_ALLOW_PORTS={','.join(ports)}",
            "-s", "ONIONWATCH_MAX_PAGES_PER_ONION=150",
        ],
        lab_env(lab, home),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout[proc.stdout.index("{"):])
    return {"records": read_jsonl(out), "summary": summary, "guard_log": guard_log, "stderr": proc.stderr, "home": home}


def _by_onion(records: list[dict]) -> dict[str, set[str]]:
    got: dict[str, set[str]] = {}
    for r in records:
        if r["failure"] is None and r["status"] == 200:
            parts = urlsplit(r["url"])
            got.setdefault(r["onion"], set()).add(parts.path + (f"?{parts.query}" if parts.query else ""))
    return got


def test_discovers_and_fetches_every_lab_page(lab, crawl) -> None:
    from lab import expected_pages, load_sites

    onion_of = {s["name"]: s["onion"] for s in lab["sites"]}
    fetched = _by_onion(crawl["records"])
    assert set(fetched) == set(onion_of.values()), "every lab onion discovered from the directory"
    for spec in load_sites():
        expected = expected_pages(spec, onion_of)
        missing = expected - fetched[onion_of[spec.name]]
        assert not missing, f"{spec.name}: not fetched {sorted(missing)[:10]}"


def test_hostile_cases_end_in_their_named_outcome(lab, crawl) -> None:
    from lab import load_sites

    hostile = next(s for s in load_sites() if s.role == "hostile")
    onion = site(lab, "hostile")["onion"]
    records = [r for r in crawl["records"] if r["onion"] == onion]
    by_path: dict[str, list[dict]] = {}
    for r in records:
        by_path.setdefault(urlsplit(r["url"]).path, []).append(r)
    for case in hostile.cases:
        path = urlsplit(case.link or case.path).path
        if case.expect in ("ok", "followed"):
            continue
        if case.expect == "bounded":
            trap = [r for r in records if urlsplit(r["url"]).path.startswith(case.path)]
            assert len(trap) <= 150, f"{case.path}: trap not bounded ({len(trap)} pages)"
            continue
        if case.expect == "not_requested":
            assert path not in by_path, f"{path} must never be requested"
            continue
        got = {r["failure"] for r in by_path.get(path, [])}
        assert case.expect in got, f"{case.path}: expected {case.expect}, got {got}"
    assert crawl["summary"]["caps"].get("pages", 0) > 0, "the trap hit the per-onion page cap"


def test_nothing_left_tor(crawl) -> None:
    assert "network guard installed" in crawl["stderr"]
    violations = crawl["guard_log"].read_text().splitlines() if crawl["guard_log"].exists() else []
    assert violations == []
    offsite = [r for r in crawl["records"] if r["failure"] == "offsite_redirect"]
    assert len(offsite) >= 2  # clearnet host and IP redirects were refused, not followed


def test_invalid_onion_addresses_are_not_followed(lab, crawl) -> None:
    from lab import decoys, load_sites

    onion_of = {s["name"]: s["onion"] for s in lab["sites"]}
    directory = next(s for s in load_sites() if s.role == "directory")
    bad = {d.lower() for d in decoys(directory, onion_of)}
    assert bad
    seen = {o for r in crawl["records"] for o in r["onion_links"]} | {r["onion"] for r in crawl["records"]}
    assert not (bad & seen)


def test_records_carry_evidence_fields(crawl) -> None:
    import hashlib  # noqa: F401

    ok = [r for r in crawl["records"] if r["failure"] is None]
    assert ok
    for r in ok:
        assert len(r["sha256"]) == 64 and r["size"] > 0
        assert r["fetched_at"].endswith("Z")
        assert r["onion"] and r["url"].startswith(f"http://{r['onion']}")
    assert any(r["lang"] in ("vi", "th", "zh", "id") for r in ok)


def test_stop_and_resume_with_jobdir(lab, tmp_path) -> None:
    """A crawl stopped early resumes from its on-disk queue: nothing fetched twice,
    and together the two runs fetch every page of the lab's market."""
    from lab import expected_pages, load_sites

    env = lab_env(lab, tmp_path)
    market = site(lab, "market")["onion"]
    common = ["crawl", "--seeds", market, "--no-enrich", "--jobdir", str(tmp_path / "job"),
              "--timeout", str(TIMEOUT), "-s", "ONIONWATCH_DISCOVER=0", "--concurrency", "1",
              "-s", "ONIONWATCH_STORE_MAX_WAIT=0.05"]
    first = run_onionwatch([*common, "--output", str(tmp_path / "a.jsonl"), "-s", "CLOSESPIDER_ITEMCOUNT=5"], env)
    assert first.returncode == 0, first.stderr[-2000:]
    second = run_onionwatch([*common, "--output", str(tmp_path / "b.jsonl")], env)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "resuming crawl" in second.stderr, "the job's crawl id is kept in the jobdir"
    a = {r["url"] for r in read_jsonl(tmp_path / "a.jsonl") if r["onion"] == market}
    b = {r["url"] for r in read_jsonl(tmp_path / "b.jsonl") if r["onion"] == market}
    assert 5 <= len(a) <= 10 and len(b) > 10, (len(a), len(b))
    assert not (a & b), "a resumed crawl does not fetch again what the first run stored"
    spec = next(s for s in load_sites() if s.name == "market")
    got = {urlsplit(u).path + (f"?{urlsplit(u).query}" if urlsplit(u).query else "") for u in a | b}
    assert expected_pages(spec, {s["name"]: s["onion"] for s in lab["sites"]}) <= got


# What a user must not see without --verbose: the framework's own log lines.
NOISE = ("elastic_transport", "ScrapyDeprecationWarning", "install_root_handler", "is experimental",
         "[scrapy", "[twisted", " ERROR", " INFO", " DEBUG", "Traceback")


def test_stderr_is_onionwatchs_own_words(crawl) -> None:
    """Progress and outcomes in onionwatch's words; no redraws off a terminal."""
    stderr = crawl["stderr"]
    assert "\r" not in stderr, "progress redraws only on a terminal"
    lines = [line for line in stderr.splitlines() if line.strip()]
    noisy = [line for line in lines if any(n in line for n in NOISE)]
    assert not noisy, noisy[:5]
    own = ("crawling: ", "network guard installed", "warning: ")
    assert all(line.startswith(own) for line in lines), [line for line in lines if not line.startswith(own)][:5]
    assert any(line.startswith("crawling: ") for line in lines)


def test_every_record_was_journaled_first_and_nothing_unmasked(crawl) -> None:
    """The output file gets a record only after the journal has it; an unenriched crawl
    journals the capture facts (and the links a resume follows), never the page's words."""
    from journal import Journal

    j = Journal(crawl["home"] / "journal")
    assert j.verify() is None
    entries = [e for e in j.iterate() if e.kind in ("capture", "failure")]
    assert sorted(e.payload["url"] for e in entries) == sorted(r["url"] for r in crawl["records"])
    assert crawl["summary"]["journaled"] == len(entries) == crawl["summary"]["stored"]
    for e in entries:
        assert e.payload["unmasked_fields_withheld"] is True
        assert "text" not in e.payload and "title" not in e.payload and "body" not in e.payload
