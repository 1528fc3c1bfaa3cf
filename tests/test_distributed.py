"""Three crawler processes share one crawl through a real Redis (Debian's redis-server):
`onionwatch crawl --frontier redis://...` against the lab, every page fetched exactly once."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections import Counter
from urllib.parse import urlsplit

import pytest

from procs import free_ports
from tests.fixtures_lab import REPO, lab_env, read_jsonl, site

pytestmark = pytest.mark.slow

WORKERS = 3
TIMEOUT = 8  # the hostile drip page would hold a slot far longer


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):  # noqa: ANN001, ANN201
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (apt-get install -y redis-server)")
    import redis

    port = free_ports(1)[0]
    data = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data), "--save", "",
         "--appendonly", "no", "--protected-mode", "yes"],
        stdout=open(data / "redis.log", "wb"), stderr=subprocess.STDOUT,
    )
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"redis-server did not start: {(data / 'redis.log').read_text()[-500:]}")
            time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def shared_crawl(lab, redis_url, tmp_path_factory):  # noqa: ANN001, ANN201
    home = tmp_path_factory.mktemp("distributed")
    directory = site(lab, "directory")["onion"]
    env = lab_env(lab, home)
    procs, outputs = [], []
    for i in range(WORKERS):
        out = home / f"pages-{i}.jsonl"
        outputs.append(out)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "onionwatch", "crawl", "--seeds", directory, "--frontier", redis_url,
             "--output", str(out), "--no-enrich", "--timeout", str(TIMEOUT), "--summary-json",
             "-s", "ONIONWATCH_MAX_PAGES_PER_ONION=150"],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
    results = [p.communicate(timeout=900) for p in procs]
    for p, (_, err) in zip(procs, results):
        assert p.returncode == 0, err[-3000:]
    return {"records": [read_jsonl(o) if o.exists() else [] for o in outputs]}


def _target(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def test_every_lab_page_fetched_exactly_once_across_processes(lab, shared_crawl) -> None:  # noqa: ANN001
    from lab import expected_pages, load_sites

    records = [r for per_worker in shared_crawl["records"] for r in per_worker]
    fetched = Counter(r["url"] for r in records)
    twice = {url: n for url, n in fetched.items() if n > 1}
    assert not twice, f"{len(twice)} URLs fetched more than once across the processes"
    onion_of = {s["name"]: s["onion"] for s in lab["sites"]}
    ok = {(r["onion"], _target(r["url"])) for r in records if r["failure"] is None and r["status"] == 200}
    for spec in load_sites():
        missing = {p for p in expected_pages(spec, onion_of) if (onion_of[spec.name], p) not in ok}
        assert not missing, f"{spec.name}: not fetched by any process {sorted(missing)[:10]}"


def test_the_work_was_shared(shared_crawl) -> None:  # noqa: ANN001
    pages = [sum(1 for r in per_worker if r["failure"] is None) for per_worker in shared_crawl["records"]]
    assert sum(1 for n in pages if n > 0) >= 2, f"pages per process: {pages}"


def test_a_finished_crawl_leaves_no_frontier_behind(redis_url, shared_crawl) -> None:  # noqa: ANN001
    import redis

    leftover = redis.Redis.from_url(redis_url).keys("onionwatch:*")
    assert leftover == [], f"frontier keys left after the crawl finished: {leftover}"
