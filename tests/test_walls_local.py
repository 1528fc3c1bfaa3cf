"""The walled lab sites (lab option "walls") crawled end to end in seconds, without Tor: the
sites are served on loopback by lab.server and a SOCKS5 server answering like Tor relays each
made-up onion to its site. Checks the crawler's session and wall handling against the same
site code the Tor lab runs (tests/test_walls_lab.py does it through real Tor): login with
credentials from the environment, re-login when the session expires, login_required without
them, lockout and login loops bounded, walls as named outcomes, links never followed."""

from __future__ import annotations

import json
import os
import socket
import socketserver
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from lab.onions import fake_onion
from lab.specs import load_sites
from tests.test_liveness_checker import relay

pytestmark = pytest.mark.slow  # starts loopback servers

REPO = Path(__file__).resolve().parent.parent
WALLED = ("market-login", "forum-captcha", "queue", "seized", "spa", "ratelimit")


class OnionSocks:
    """SOCKS5 (username auth, like Tor's IsolateSOCKSAuth) relaying each onion to its port."""

    def __init__(self, ports: dict[str, int]) -> None:
        self.ports = ports

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                s = self.request
                s.recv(s.recv(2)[1])
                s.sendall(b"\x05\x02")
                s.recv(s.recv(2)[1])
                s.recv(s.recv(1)[0])
                s.sendall(b"\x01\x00")
                s.recv(4)
                host = s.recv(s.recv(1)[0]).decode()
                s.recv(2)
                port = ports.get(host)
                if port is None:
                    s.sendall(b"\x05\xf0\x00\x01" + b"\x00" * 6)  # descriptor not found
                    return
                upstream = socket.create_connection(("127.0.0.1", port))
                s.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", port))
                relay(s, upstream)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.addr = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def walled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from lab import serve_sites

    specs = [s for s in load_sites(options=("walls",)) if s.name in WALLED]
    everyone = {s.name: fake_onion(s.name) for s in load_sites(options=("walls",))}
    dropin = tmp_path_factory.mktemp("dropin")
    lab = serve_sites(specs, everyone, dropin=dropin)
    socks = OnionSocks({everyone[name]: port for name, port in lab.ports.items()})
    yield {"lab": lab, "socks": socks.addr, "onion": everyone, "dropin": dropin}
    socks.close()
    lab.stop()


def register(lab: Any, user: str, password: str) -> None:
    r = requests.post(lab.url("market-login", "/register"), data={"username": user, "password": password,
                                                                 "password2": password}, allow_redirects=False,
                      timeout=10)
    assert r.status_code == 302, r.text


def write_profile(directory: Path, onion: str, **extra: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    text = (Path(REPO / "configs/lab/profiles/market-login.yaml.j2").read_text()
            .replace("{{ onion }}", onion))
    (directory / "market-login.yaml").write_text(text)
    return directory


def crawl(walled: dict[str, Any], tmp: Path, seeds: list[str], *args: str, env: dict[str, str] | None = None,
          ok: tuple[int, ...] = (0,)) -> tuple[list[dict], dict, subprocess.CompletedProcess]:
    out = tmp / f"out-{len(list(tmp.glob('out-*')))}.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "onionwatch", "crawl", "--seeds", ",".join(seeds), "--socks", walled["socks"],
         "--no-enrich", "--output", str(out), "--summary-json", "--timeout", "20",
         "-s", "ONIONWATCH_STORE_MAX_WAIT=0.1", "-s", "ONIONWATCH_DISCOVER=0", *args],
        check=False, cwd=REPO, capture_output=True, text=True, timeout=300,
        env={"PATH": "/usr/bin:/bin", "ONIONWATCH_HOME": str(tmp), "PYTHONUNBUFFERED": "1",
             "ONIONWATCH_SITES": str(tmp / "no-profiles"), **(env or {})},
    )
    assert proc.returncode in ok, proc.stderr[-3000:]
    records = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    summary = json.loads(proc.stdout[proc.stdout.index("{"):]) if "{" in proc.stdout else {}
    return records, summary, proc


def paths(records: list[dict], onion: str, *, ok: bool) -> set[str]:
    from urllib.parse import urlsplit

    out = set()
    for r in records:
        if r["onion"] == onion and (r["failure"] is None) == ok:
            p = urlsplit(r["url"])
            out.add(p.path + (f"?{p.query}" if p.query else ""))
    return out


def test_login_market_with_and_without_credentials(walled: dict[str, Any], tmp_path: Path) -> None:
    from lab import expected_pages

    lab, onion = walled["lab"], walled["onion"]["market-login"]
    spec = next(s for s in load_sites(options=("walls",)) if s.name == "market-login")
    expected = expected_pages(spec, walled["onion"])
    # without credentials: every page it reaches is login_required, nothing fetched behind the wall
    records, summary, _ = crawl(walled, tmp_path, [f"http://{onion}/", f"http://{onion}/listing/ketamine-20g"])
    assert paths(records, onion, ok=True) == set()
    assert {r["failure"] for r in records} == {"login_required"}, records
    assert all(r["wall"] == "login_required" and r["text"] == "" for r in records)
    # with credentials from the environment: everything behind the wall, sessions renewed
    register(lab, "analyst1", "correct horse battery")
    profiles = write_profile(tmp_path / "sites", onion)
    env = {"ONIONWATCH_SITES": str(profiles), "ONIONWATCH_SITE_LAB_MARKET_USER": "analyst1",
           "ONIONWATCH_SITE_LAB_MARKET_PASSWORD": "correct horse battery"}
    before = lab.hits("market-login")
    records, summary, proc = crawl(walled, tmp_path, [f"http://{onion}/"], env=env)
    got = paths(records, onion, ok=True)
    assert expected <= got, sorted(expected - got)
    hits = lab.hits("market-login") - before
    logins = hits["POST /login"]
    assert logins >= 2, f"the expiring session was re-established: {logins} logins"
    assert logins <= len(expected) // 4 + 2, logins  # sessions last 8 pages; 4 requests at a time
    never = [t for t in hits if t.startswith(("/logout", "/buy/", "/vote/", "/messages/send"))]
    assert never == [], never
    assert "correct horse battery" not in proc.stderr + proc.stdout
    assert summary["failures"] == 0, summary


def test_wrong_password_is_bounded_and_locks_once(walled: dict[str, Any], tmp_path: Path) -> None:
    lab, onion = walled["lab"], walled["onion"]["market-login"]
    register(lab, "analyst2", "right password 2")
    profiles = write_profile(tmp_path / "sites", onion)
    env = {"ONIONWATCH_SITES": str(profiles), "ONIONWATCH_SITE_LAB_MARKET_USER": "analyst2",
           "ONIONWATCH_SITE_LAB_MARKET_PASSWORD": "wrong password"}
    seeds = [f"http://{onion}/{p}" for p in ("", "escrow", "category/drugs", "category/data", "vendor/siamchem",
                                               "listing/ketamine-20g")]
    before = lab.hits("market-login")
    records, _, proc = crawl(walled, tmp_path, seeds, env=env)
    posts = (lab.hits("market-login") - before)["POST /login"]
    assert posts == 3, posts  # the lab locks after 3 failures: no more attempts after that
    assert [r["failure"] for r in records] == ["account_locked"] * len(seeds), records
    assert proc.stderr.count("account is locked") == 1, proc.stderr


def test_a_site_that_sends_every_page_to_login_stops(walled: dict[str, Any], tmp_path: Path) -> None:
    lab, onion = walled["lab"], walled["onion"]["market-login"]
    register(lab, "loop-analyst", "loop password 3")
    env = {"ONIONWATCH_SITES": str(write_profile(tmp_path / "sites", onion)),
           "ONIONWATCH_SITE_LAB_MARKET_USER": "loop-analyst", "ONIONWATCH_SITE_LAB_MARKET_PASSWORD": "loop password 3"}
    before = lab.hits("market-login")
    records, _, proc = crawl(walled, tmp_path, [f"http://{onion}/", f"http://{onion}/escrow"], env=env)
    posts = (lab.hits("market-login") - before)["POST /login"]
    assert posts <= 5, posts
    assert {r["failure"] for r in records} <= {"login_loop", "login_required"} and "login_loop" in {
        r["failure"] for r in records}, records
    assert "every page goes back to the login form" in proc.stderr


def test_bad_profiles_stop_the_crawl_before_any_request(walled: dict[str, Any], tmp_path: Path) -> None:
    lab, onion = walled["lab"], walled["onion"]["market-login"]
    before = sum(lab.hits("market-login").values())
    profiles = write_profile(tmp_path / "sites", onion)
    _, _, proc = crawl(walled, tmp_path, [f"http://{onion}/"], env={"ONIONWATCH_SITES": str(profiles)}, ok=(2,))
    assert "ONIONWATCH_SITE_LAB_MARKET_USER and ONIONWATCH_SITE_LAB_MARKET_PASSWORD are not set" in proc.stderr
    bad = tmp_path / "bad"
    write_profile(bad, onion)
    path = bad / "market-login.yaml"
    path.write_text(path.read_text().replace('form: "form#login"', 'form: "form#login[["'))
    _, _, proc = crawl(walled, tmp_path, [f"http://{onion}/"], ok=(2,),
                       env={"ONIONWATCH_SITES": str(bad), "ONIONWATCH_SITE_LAB_MARKET_USER": "x",
                            "ONIONWATCH_SITE_LAB_MARKET_PASSWORD": "y"})
    assert "bad CSS selector" in proc.stderr and "market-login.yaml" in proc.stderr
    assert sum(lab.hits("market-login").values()) == before


def test_walls_end_in_their_named_outcome(walled: dict[str, Any], tmp_path: Path) -> None:
    o = walled["onion"]
    seeds = [f"http://{o['forum-captcha']}/", f"http://{o['queue']}/", f"http://{o['spa']}/",
             f"http://{o['ratelimit']}/", f"http://{o['seized']}/"]
    # depth 1 reaches every wall asserted on (the queue's /archive and /vip/, the rate limit's
    # /api/feed): once rate limited, a site gets a page every 5 s, so each deeper article cost ~6 s
    records, summary, _ = crawl(walled, tmp_path, seeds, "--max-depth", "1", "-s", "ONIONWATCH_QUEUE_MAX_WAIT=12",
                                "-s", "ONIONWATCH_RATE_LIMIT_MAX_WAIT=20")
    by = {name: [r for r in records if r["onion"] == o[name]] for name in WALLED}
    assert {r["failure"] for r in by["forum-captcha"]} == {"captcha"}
    assert {r["failure"] for r in by["spa"]} == {"js_required"}
    assert {r["failure"] for r in by["seized"]} == {"seized"}
    seized = by["seized"][0]
    assert "phrase:en" in seized["wall_evidence"] and any(e.startswith("agency:") for e in seized["wall_evidence"])
    # the queue lets us in after a wait; its /vip/ queue never does
    assert paths(records, o["queue"], ok=True) >= {"/", "/archive"}
    assert paths(records, o["queue"], ok=False) == {"/vip/"}
    assert {r["failure"] for r in by["queue"] if r["failure"]} == {"queue"}
    # the rate-limited site: waited out where it lifts, rate_limited where it never does
    assert "/" in paths(records, o["ratelimit"], ok=True)
    assert paths(records, o["ratelimit"], ok=False) == {"/api/feed"}
    assert {r["failure"] for r in by["ratelimit"] if r["failure"]} == {"rate_limited"}
    for name in ("forum-captcha", "spa", "seized"):
        assert all(r["text"] == "" and r["links"] == [] and r["wall"] == r["failure"] for r in by[name])
    assert summary["failure_reasons"].get("captcha") == 1, summary


def test_captcha_forum_with_a_session_cookie_from_a_profile(walled: dict[str, Any], tmp_path: Path) -> None:
    from lab import expected_pages

    lab, onion = walled["lab"], walled["onion"]["forum-captcha"]
    r = requests.post(lab.url("forum-captcha", "/captcha"), data={"captcha_code": "K7PX2Q"}, allow_redirects=False,
                      timeout=10)
    cookie = r.cookies.get("fsess")
    assert cookie
    jar = tmp_path / "cookies.txt"  # as a Tor Browser cookie export writes it
    jar.write_text(f"# Netscape HTTP Cookie File\n{onion}\tFALSE\t/\tFALSE\t0\tfsess\t{cookie}\n")
    jar.chmod(0o600)
    sites = tmp_path / "sites"
    sites.mkdir()
    (sites / "forum.yaml").write_text(f"name: lab-forum\nonions: [{onion}]\nauth:\n  cookies: {{file: {jar}}}\n")
    records, _, _ = crawl(walled, tmp_path, [f"http://{onion}/"], env={"ONIONWATCH_SITES": str(sites)})
    spec = next(s for s in load_sites(options=("walls",)) if s.name == "forum-captcha")
    expected = expected_pages(spec, walled["onion"])
    assert expected <= paths(records, onion, ok=True)
    assert not [x for x in records if x["failure"]]


def test_seized_site_comes_back_live_through_its_dropin_state(walled: dict[str, Any], tmp_path: Path) -> None:
    state = walled["dropin"] / "seized" / "state.yaml"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text("seized: false\n")
    try:
        records, _, _ = crawl(walled, tmp_path, [f"http://{walled['onion']['seized']}/"])
    finally:
        os.unlink(state)
    assert records and not [r for r in records if r["failure"]]
