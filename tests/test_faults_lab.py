"""Nothing lost, on the lab, with the fault injected by the test itself: Elasticsearch
SIGKILLed mid-crawl or down for the whole crawl, our Tor client killed (and restarted, or
not), the crawler SIGKILLed before its first journal write, right after it and mid-way —
every time the index ends with the baseline's pages, no page twice, and the exit status
says what happened. Plus: re-running the default crawl adds nothing.

One baseline crawl is shared: the demo's settings on a small lab subset (the market and the
hostile onion, no discovery: ~180 pages, the hostile cases' failures included) so each of
the faulty crawls stays short; every other crawl has its own home (journal, known URLs) and
index prefix. The re-run test crawls the whole lab with the default settings. Figures
(counts, recovery times) are printed (pytest -s).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures_lab import REPO, lab_env, site

pytestmark = pytest.mark.slow

DEMO = ["--timeout", "6", "-s", "RETRY_TIMES=1", "-s", "DEPTH_LIMIT=5", "--summary-json"]
# small journal batches, so "right after the first write" and "mid-way" are different moments
SUBSET = ["-s", "ONIONWATCH_DISCOVER=0", "-s", "ONIONWATCH_STORE_BATCH=16", "-s", "ONIONWATCH_STORE_MAX_WAIT=0.5", *DEMO]
FIGURES: dict[str, Any] = {}


# -- helpers ------------------------------------------------------------------------------------

def env_for(lab: dict, home: Path, prefix: str, es_url: str | None) -> dict[str, str]:
    env = dict(lab_env(lab, home), ONIONWATCH_INDEX_PREFIX=prefix)
    env.pop("ONIONWATCH_ES_URL", None)
    if es_url:
        env["ONIONWATCH_ES_URL"] = es_url
    return env


def start_crawl(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, list[str]]:
    """A crawl in the background; its stderr lines are collected as they come."""
    proc = subprocess.Popen([sys.executable, "-m", "onionwatch", "crawl", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    return proc, lines


def finish(proc: subprocess.Popen, lines: list[str], timeout: float = 400) -> tuple[int, dict, str]:
    assert proc.stdout is not None
    out = proc.stdout.read()  # stdout only: stderr belongs to the reader thread (communicate would take lines)
    proc.wait(timeout)
    time.sleep(0.2)  # the reader thread drains stderr
    summary = json.loads(out[out.index("{"):]) if "{" in out else {}
    return proc.returncode, summary, "\n".join(lines)


def crawl(args: list[str], env: dict[str, str]) -> tuple[int, dict, str]:
    return finish(*start_crawl(args, env))


def head_seq(home: Path) -> int:
    try:
        return int(json.loads((home / "journal" / "HEAD").read_text())["seq"])
    except (OSError, ValueError, KeyError):
        return 0


def wait_for(predicate, timeout: float, what: str) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - start


def index_state(url: str, prefix: str) -> dict[str, Any]:
    """Pages in the index under ``prefix``: how many, and URLs stored more than once."""
    from index import Names
    from tests.fixtures_es import make_client

    es = make_client(url)
    try:
        names = Names(prefix)
        es.indices.refresh(index=names.pages)
        hits = es.search(index=names.pages, size=10_000, source=["url"], query={"match_all": {}})["hits"]["hits"]
        urls: dict[str, int] = {}
        for h in hits:
            urls[h["_source"]["url"]] = urls.get(h["_source"]["url"], 0) + 1
        return {"pages": es.count(index=names.pages)["count"], "urls": set(urls),
                "duplicates": sorted(u for u, n in urls.items() if n > 1)}
    finally:
        es.close()


def journal_urls(home: Path, crawl_id: str | None = None, from_seq: int = 1) -> list[str]:
    from journal import Journal

    return [e.payload["url"] for e in Journal(home / "journal").iterate(from_seq)
            if e.kind in ("capture", "failure") and (crawl_id is None or e.payload.get("crawl_id") == crawl_id)]


def record(name: str, **figures: Any) -> None:
    FIGURES[name] = figures
    print(f"\n[faults] {name}: {json.dumps(figures)}")


@pytest.fixture(scope="module")
def baseline(lab, es_url, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """The demo's crawl, undisturbed: what every faulty crawl must end up with."""
    from tests.fixtures_es import drop_prefix, make_client

    home = tmp_path_factory.mktemp("fault-baseline")
    seeds = f"{site(lab, 'market')['onion']},{site(lab, 'hostile')['onion']}"
    t = time.monotonic()
    rc, summary, stderr = crawl(["--seeds", seeds, *SUBSET], env_for(lab, home, "tfbase", es_url))
    assert rc == 0, stderr[-3000:]
    state = index_state(es_url, "tfbase")
    record("baseline", pages=state["pages"], crawl_pages=summary["pages"], failures=summary["failures"],
           onions=summary["onions"], seconds=round(time.monotonic() - t, 1))
    assert state["pages"] == summary["pages"] > 100 and not state["duplicates"]
    assert summary["failures"] > 0, "the hostile cases' failures are part of the baseline"
    yield {"pages": state["pages"], "urls": state["urls"], "seeds": seeds, "summary": summary}
    drop_prefix(make_client(es_url), "tfbase")


@pytest.fixture
def prefix(es_url) -> Iterator[str]:
    import uuid

    from tests.fixtures_es import drop_prefix, make_client

    name = f"tf{uuid.uuid4().hex[:10]}"
    yield name
    drop_prefix(make_client(es_url), name)


def same_as_baseline(state: dict[str, Any], baseline: dict[str, Any]) -> None:
    assert not state["duplicates"], state["duplicates"][:5]
    missing = sorted(baseline["urls"] - state["urls"])
    extra = sorted(state["urls"] - baseline["urls"])
    assert state["pages"] == baseline["pages"], f"missing {missing[:5]}, extra {extra[:5]}"


# -- Elasticsearch ------------------------------------------------------------------------------

def test_embedded_es_sigkilled_mid_crawl_and_restarted(lab, baseline, tmp_path) -> None:
    """The embedded server acknowledges before it persists (noida-durability.md): killed
    mid-crawl, back on its port 10 s later, the crawl catches up from the journal."""
    from onionwatch import es_server

    home = tmp_path / "home"
    env = env_for(lab, home, "tfeskill", None)  # no URL: the crawl starts the embedded server in <home>/es
    proc, lines = start_crawl(["--seeds", baseline["seeds"], *SUBSET], env)
    data = home / "es"
    try:
        wait_for(lambda: head_seq(home) >= 20, 180, "the first journal entries")
        server = es_server.status(data)
        assert server is not None
        killed_at_seq = head_seq(home)
        os.kill(server.pid, signal.SIGKILL)
        killed = time.monotonic()
        time.sleep(10)
        restarted = es_server.start(data, port=server.port)
        assert restarted.port == server.port
        rc, summary, stderr = finish(proc, lines)
        took = time.monotonic() - killed
        assert rc == 0, stderr[-3000:]
        assert sum("Elasticsearch unreachable" in line for line in stderr.splitlines()) == 1, stderr
        state = index_state(restarted.url, "tfeskill")
        same_as_baseline(state, baseline)
        report = summary["index"]
        record("es_sigkill", killed_at_journal_seq=killed_at_seq, down_seconds=10, pages=state["pages"],
               outages=report["outage_seconds"], replays=report["replays"], indexed=report["indexed"],
               kill_to_exit_seconds=round(took, 1))
        assert report["caught_up"] and report["outage_seconds"]
    finally:
        if proc.poll() is None:
            proc.kill()
        es_server.stop(data)


def test_es_down_for_the_whole_crawl_then_up(lab, baseline, tmp_path) -> None:
    """Elasticsearch (a configured URL) is not there at all while the crawl runs: the crawl
    goes on into the journal, says so once, waits at the end, and catches up when it is up."""
    from onionwatch import es_server
    from procs import free_ports

    home = tmp_path / "home"
    port = free_ports(1)[0]
    data = tmp_path / "late-es"
    env = env_for(lab, home, "tfesdown", f"http://127.0.0.1:{port}")
    args = ["--seeds", baseline["seeds"], *SUBSET, "-s", "ONIONWATCH_ES_PERSIST_LAG=2",
            "-s", f"ONIONWATCH_ES_IDENTITY_FILE={data / 'noida.control.json'}"]
    proc, lines = start_crawl(args, env)
    try:
        wait_for(lambda: any("waiting up to" in line for line in lines), 300, "the crawl to wait for Elasticsearch")
        journaled = head_seq(home)
        assert journaled == baseline["summary"]["journaled"], "the whole crawl was journaled while Elasticsearch was down"
        up = time.monotonic()
        server = es_server.start(data, port=port)
        rc, summary, stderr = finish(proc, lines)
        caught_up = time.monotonic() - up
        assert rc == 0, stderr[-3000:]
        assert sum("Elasticsearch unreachable" in line for line in stderr.splitlines()) == 1, stderr
        state = index_state(server.url, "tfesdown")
        same_as_baseline(state, baseline)
        record("es_down_whole_crawl", journaled_while_down=journaled, pages=state["pages"],
               es_up_to_crawl_exit_seconds=round(caught_up, 1), outages=summary["index"]["outage_seconds"])
    finally:
        if proc.poll() is None:
            proc.kill()
        es_server.stop(data)


# -- Tor ----------------------------------------------------------------------------------------

def _tor_client(lab: dict) -> dict:
    net = json.loads((Path(lab["root"]) / "tor" / "network.json").read_text())
    return next(n for n in net["nodes"] if n["kind"] == "client")


def kill_tor_client(lab: dict) -> int:
    client = _tor_client(lab)
    os.killpg(client["pid"], signal.SIGKILL)
    return client["pid"]


def restart_tor_client(lab: dict) -> int:
    """The lab's Tor client again, with its torrc and data directory (same ports); the lab's
    state files are updated so later tests (and `lab down`) see the new process."""
    from crawler.torwatch import bootstrapped

    root = Path(lab["root"])
    net_file = root / "tor" / "network.json"
    net = json.loads(net_file.read_text())
    client = next(n for n in net["nodes"] if n["kind"] == "client")
    datadir = root / "tor" / client["nick"]
    with open(datadir / "stdout.log", "ab") as log:
        proc = subprocess.Popen(["tor", "--defaults-torrc", os.devnull, "-f", str(datadir / "torrc")], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    old, client["pid"] = client["pid"], proc.pid
    net_file.write_text(json.dumps(net, indent=2))
    state_file = root / "lab.json"
    state = json.loads(state_file.read_text())
    state["pids"] = [proc.pid if p == old else p for p in state["pids"]]
    state_file.write_text(json.dumps(state, indent=2))
    lab["pids"] = state["pids"]
    wait_for(lambda: bootstrapped(f"127.0.0.1:{client['controlport']}"), 120, "the Tor client to bootstrap again")
    return proc.pid


def test_tor_killed_mid_crawl_and_restarted_the_crawl_waits(lab, baseline, es_url, prefix, tmp_path) -> None:
    home = tmp_path / "home"
    proc, lines = start_crawl(["--seeds", baseline["seeds"], *SUBSET], env_for(lab, home, prefix, es_url))
    restarted = False
    try:
        wait_for(lambda: head_seq(home) >= 20, 180, "the first journal entries")
        at_seq = head_seq(home)
        kill_tor_client(lab)
        time.sleep(8)
        restart_tor_client(lab)
        restarted = True
        rc, summary, stderr = finish(proc, lines)
        assert rc == 0, stderr[-3000:]
        assert any(line.startswith("warning: Tor is unreachable") and "paused" in line for line in lines), stderr
        assert any("Tor is back after" in line for line in lines), (summary.get("tor"), stderr)
        state = index_state(es_url, prefix)
        same_as_baseline(state, baseline)
        assert summary["failures"] == baseline["summary"]["failures"], summary["failure_reasons"]
        record("tor_killed_restarted", killed_at_journal_seq=at_seq, down_seconds=8, pages=state["pages"],
               waited_seconds=summary["tor"]["outages_seconds"], requeued=summary["tor"]["requeued"])
    finally:
        if proc.poll() is None:
            proc.kill()
        if not restarted:
            restart_tor_client(lab)


def test_tor_gone_for_good_stops_non_zero_and_the_resume_reaches_the_baseline(lab, baseline, es_url, prefix,
                                                                              tmp_path) -> None:
    home = tmp_path / "home"
    env = env_for(lab, home, prefix, es_url)
    args = ["--seeds", baseline["seeds"], "--jobdir", str(tmp_path / "job"), *SUBSET]
    proc, lines = start_crawl([*args, "-s", "ONIONWATCH_TOR_WAIT=10"], env)
    try:
        wait_for(lambda: head_seq(home) >= 20, 180, "the first journal entries")
        kill_tor_client(lab)
        rc, summary, stderr = finish(proc, lines)
    finally:
        if proc.poll() is None:
            proc.kill()
        restart_tor_client(lab)
    assert rc == 3, stderr[-3000:]
    assert any(line.startswith("error: Tor is unreachable:") for line in lines), stderr
    assert summary["finish_reason"] == "tor_unreachable" and summary["pages"] < baseline["pages"]
    first = index_state(es_url, prefix)["pages"]
    rc, resumed, stderr = crawl(args, env)
    assert rc == 0, stderr[-3000:]
    state = index_state(es_url, prefix)
    same_as_baseline(state, baseline)
    record("tor_gone_then_resume", first_run_pages=first, first_run_rc=3, resumed_pages=resumed["pages"],
           pages=state["pages"])


# -- the crawler itself -------------------------------------------------------------------------

@pytest.mark.parametrize("point", ["before_first_write", "after_first_write", "midway"])
def test_crawler_sigkilled_and_resumed_with_jobdir(lab, baseline, es_url, prefix, tmp_path, point) -> None:
    home = tmp_path / "home"
    env = env_for(lab, home, prefix, es_url)
    args = ["--seeds", baseline["seeds"], "--jobdir", str(tmp_path / "job"), *SUBSET]
    first = list(args)
    if point == "before_first_write":
        # nothing is journaled for minutes: pages are fetched, none acknowledged, when it dies
        first += ["-s", "ONIONWATCH_STORE_BATCH=100000", "-s", "ONIONWATCH_STORE_MAX_WAIT=300",
                  "-s", "ONIONWATCH_PROGRESS_INTERVAL=1"]
    proc, lines = start_crawl(first, env)
    try:
        if point == "before_first_write":
            wait_for(lambda: any(line.startswith("crawling: ") for line in lines), 180, "the crawl to start")
            time.sleep(4)
        elif point == "after_first_write":
            wait_for(lambda: head_seq(home) >= 1, 180, "the first journal write")
        else:
            wait_for(lambda: head_seq(home) >= baseline["pages"] // 2, 300, "half the pages journaled")
        os.kill(proc.pid, signal.SIGKILL)
        at_seq = head_seq(home)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    if point == "before_first_write":
        assert at_seq == 0
    elif point == "after_first_write":
        assert 1 <= at_seq <= 32, at_seq
    else:
        assert baseline["pages"] // 2 <= at_seq < baseline["summary"]["journaled"], at_seq
    crawl_id = json.loads((tmp_path / "job" / "job.json").read_text())["crawl_id"]
    before = journal_urls(home, crawl_id)
    rc, summary, stderr = crawl(args, env)
    assert rc == 0, stderr[-3000:]
    after = journal_urls(home, crawl_id, from_seq=at_seq + 1)
    assert not set(before) & set(after), "a journaled page is not fetched again on resume"
    state = index_state(es_url, prefix)
    same_as_baseline(state, baseline)
    record(f"crawler_sigkill_{point}", killed_at_journal_seq=at_seq, resumed_pages=summary["pages"],
           pages=state["pages"])


# -- re-running the default crawl ---------------------------------------------------------------

def test_rerunning_the_default_crawl_adds_nothing(lab, es_url, prefix, tmp_path) -> None:
    """Default settings (depth 8, 500 pages per onion): the hostile onion's trap fills the cap.
    A re-run may fetch known pages again but no new trap page: the cap counts the URLs the
    journal knows from every run."""
    home = tmp_path / "home"
    env = env_for(lab, home, prefix, es_url)
    args = ["--seeds", site(lab, "directory")["onion"], "--timeout", "6", "--summary-json"]
    rc, first, stderr = crawl(args, env)
    assert rc == 0, stderr[-3000:]
    one = index_state(es_url, prefix)
    rc, second, stderr = crawl(args, env)
    assert rc == 0, stderr[-3000:]
    two = index_state(es_url, prefix)
    record("default_rerun", first_pages=one["pages"], second_pages=two["pages"], second_run_fetched=second["pages"],
           second_run_capped=second["caps"].get("pages", 0))
    assert first["caps"].get("pages", 0) > 0, "the trap reached the per-onion cap"
    assert second["caps"].get("pages", 0) > 0, "new trap links refused on the re-run"
    assert two["pages"] == one["pages"] and not two["duplicates"]
    assert two["urls"] == one["urls"]
