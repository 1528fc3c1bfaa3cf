"""The lab's dead addresses and latency: the directory lists the dead addresses among the live
onions (a sweep from it meets them), and `onionwatch lab up` takes dead addresses and latency as
switches (checked before anything starts). The slow test starts its own small lab through the
CLI: the site server waits its latency, and a descriptor lookup on its Tor calls every listed
dead address dead."""

from __future__ import annotations

import http.client
import json
import os
import re
import time

import pytest
from click.testing import CliRunner

from lab import fake_onion, load_sites
from lab.dead import dead_onions, valid_v3

LINKED = re.compile(r'href="http://([a-z2-7]{56}\.onion)/"')


def _page(specs, onion_of: dict[str, str], name: str, dead: list[str] | None = None) -> tuple[int, str]:
    """A lab site's answer to GET / as its server renders it (lab.routing), without a server."""
    from lab.routing import SiteApp
    from lab.server import Lab

    context = Lab([], onion_of, "127.0.0.1", dead=dead or ())  # no sites: no listening socket
    resp = SiteApp(next(s for s in specs if s.name == name), context).handle("/")
    return resp.status, b"".join(resp.body).decode()


def test_directory_lists_dead_addresses_among_the_live_ones():
    specs = [s for s in load_sites() if s.role in ("directory", "market", "forum")]
    onion_of = {s.name: fake_onion(s.name) for s in specs}
    dead = dead_onions(40, seed="test-directory")
    status, body = _page(specs, onion_of, "directory", dead)
    linked = set(LINKED.findall(body))
    assert status == 200
    assert set(dead) <= linked and all(valid_v3(d) for d in dead)
    assert {onion_of["market"], onion_of["forum"]} <= linked  # the live ones are still there
    assert not set(dead) & set(LINKED.findall(_page(specs, onion_of, "market", dead)[1]))  # only the directory
    plain = _page(specs, onion_of, "directory")[1]  # without dead addresses: no such section
    assert not set(dead) & set(LINKED.findall(plain)) and "not yet checked" not in plain


@pytest.mark.parametrize("argv, says", [
    (["--latency", "fast"], "--latency"),
    (["--latency", "3-1"], "lo <= hi"),
    (["--dead", "-5"], "--dead"),
])
def test_lab_up_refuses_bad_latency_and_dead_before_starting(argv, says, tmp_path, monkeypatch):
    from onionwatch.cli import main

    monkeypatch.setenv("ONIONWATCH_LAB_DIR", str(tmp_path / "lab"))
    result = CliRunner().invoke(main, ["lab", "up", *argv])
    assert result.exit_code == 2 and says in result.output, result.output
    assert not (tmp_path / "lab").exists()  # nothing was started


@pytest.mark.slow
def test_lab_up_with_dead_and_latency_switches_and_a_prefiltered_sweep(tmp_path):
    """`lab up --dead 12 --latency 0.5-1`: status names the dead addresses, the directory lists
    them among the live ones and answers after its latency; `crawl --prefilter` of the
    directory's list fetches every live onion and no dead one, and a second sweep backs the
    dead ones off without looking them up."""
    from tests.fixtures_lab import read_jsonl, require_isolation, run_onionwatch

    require_isolation()
    env = dict(os.environ, ONIONWATCH_HOME=str(tmp_path / "home"), ONIONWATCH_LAB_DIR=str(tmp_path / "lab"))
    r = run_onionwatch(["lab", "up", "--dead", "12", "--latency", "0.5-1"], env, timeout=400)
    try:
        assert r.returncode == 0, r.stderr[-2000:]
        assert "latency: 0.5-1 s per response; dead addresses on the directory: 12" in r.stdout
        st = json.loads(run_onionwatch(["lab", "status", "--json"], env).stdout)
        dead = st["dead"]["onions"]
        assert st["dead"]["count"] == 12 and dead == dead_onions(12)
        assert st["latency"]["lo"] == 0.5 and st["latency"]["hi"] == 1.0
        directory = next(s for s in st["sites"] if s["role"] == "directory")
        conn = http.client.HTTPConnection("127.0.0.1", directory["port"], timeout=30)
        started = time.monotonic()
        conn.request("GET", "/")
        body = conn.getresponse().read().decode()
        assert time.monotonic() - started >= 0.5  # the latency switch reached the site server
        listed = [o for o in dict.fromkeys(LINKED.findall(body)) if valid_v3(o)]
        assert set(dead) <= set(listed)
        live = {s["onion"] for s in st["sites"] if s["role"] != "hostile"} & set(listed)
        seeds = tmp_path / "directory.txt"
        seeds.write_text("\n".join(sorted(live | set(dead))) + "\n")
        lines = []
        for n in (1, 2):
            out = tmp_path / f"sweep{n}.jsonl"
            r = run_onionwatch(["crawl", "--prefilter", "--seeds", str(seeds), "--max-depth", "0", "--no-enrich",
                                "--output", str(out), "-s", "ONIONWATCH_DISCOVER=False"], env, timeout=400)
            assert r.returncode == 0, r.stderr[-2000:]
            lines.append(next(ln for ln in r.stderr.splitlines() if ln.startswith("prefilter:")))
            fetched = {rec["onion"] for rec in read_jsonl(out)}
            assert fetched == live, (live - fetched, fetched - live)  # no record for any dead onion
        assert f"{len(live)} with a descriptor, 12 dead, 0 backing off, 0 unknown" in lines[0], lines[0]
        assert f"{len(live)} with a descriptor, 0 dead, 12 backing off, 0 unknown ({len(live)} lookups" in lines[1], lines
    finally:
        run_onionwatch(["lab", "down"], env)
