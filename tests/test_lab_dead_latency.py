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
def test_lab_up_with_dead_and_latency_switches(tmp_path):
    """`lab up --dead 12 --latency 0.5-1`: status names the dead addresses, the directory lists
    them, a descriptor lookup calls every one of them dead and the live ones found."""
    from crawler.prefilter import FOUND, NOT_FOUND, prefilter
    from tests.fixtures_lab import require_isolation, run_onionwatch

    require_isolation()
    env = dict(os.environ, ONIONWATCH_HOME=str(tmp_path / "home"), ONIONWATCH_LAB_DIR=str(tmp_path / "lab"))
    r = run_onionwatch(["lab", "up", "--dead", "12", "--latency", "0.5-1"], env, timeout=400)
    try:
        assert r.returncode == 0, r.stderr[-2000:]
        assert "latency: 0.5-1 s per response; dead addresses on the directory: 12" in r.stdout
        st = json.loads(run_onionwatch(["lab", "status", "--json"], env).stdout)
        assert st["dead"]["count"] == 12 and st["dead"]["onions"] == dead_onions(12)
        assert st["latency"]["lo"] == 0.5 and st["latency"]["hi"] == 1.0
        directory = next(s for s in st["sites"] if s["role"] == "directory")
        conn = http.client.HTTPConnection("127.0.0.1", directory["port"], timeout=30)
        started = time.monotonic()
        conn.request("GET", "/")
        body = conn.getresponse().read().decode()
        assert time.monotonic() - started >= 0.5  # the latency switch reached the site server
        linked = set(LINKED.findall(body))
        assert set(st["dead"]["onions"]) <= linked
        live = [s["onion"] for s in st["sites"] if s["role"] in ("market", "news")]
        res = prefilter(st["dead"]["onions"] + live, st["control"][0], None, parallel=8, timeout=30)
        assert {res.verdicts[o] for o in st["dead"]["onions"]} == {NOT_FOUND}, res.verdicts
        assert {res.verdicts[o] for o in live} == {FOUND}, res.verdicts
    finally:
        run_onionwatch(["lab", "down"], env)
