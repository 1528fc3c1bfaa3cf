"""The real onion network's walls, on the lab through real Tor: the session's lab takes on the
"walls" option (a members-only market, a captcha forum, an EndGame-style queue, a seized
market, a JavaScript-only app, a rate-limited site) and three crawls into a fresh index:

A. no profiles: the market is login_required and nothing behind it is indexed; captcha,
   queue (/vip/), js_required and rate_limited end in their named outcomes and are absent
   from search; the queue and the rate limit are waited out where they lift; the market that
   will be seized is still live and gets indexed (and tagged).
B. the market's profile with credentials from the environment (an account registered at its
   /register), the forum's session cookie from a profile (the captcha solved once by hand):
   both crawled fully, the expiring session re-established during the crawl, no link never to
   follow followed; the seized market now shows its banner: status seized in `services`,
   `check` and `stats`, and the seizure alert fires once.
C. a wrong password: bounded (account_locked, one warning), alerted once; the banner seen
   again fires nothing new.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from lab import control
from lab import options as lab_options
from tests.fixtures_es import drop_prefix, make_client
from tests.fixtures_lab import lab_env, run_onionwatch

pytestmark = pytest.mark.slow

# RATE_LIMIT_MAX_WAIT below the always-limited path's Retry-After (30 s): that path is recorded
# rate_limited at once instead of after one 30 s sleep with the same verdict; the site's ordinary
# 429s ask for 1-2 s and still have 20 s to lift (as in tests/test_walls_local.py)
CRAWL = ["--timeout", "20", "-s", "ONIONWATCH_DISCOVER=0", "-s", "ONIONWATCH_QUEUE_MAX_WAIT=15",
         "-s", "ONIONWATCH_RATE_LIMIT_MAX_WAIT=20", "-s", "ONIONWATCH_STORE_MAX_WAIT=0.5", "--summary-json"]
# crawl A needs depth 1 only: every wall it asserts on is a front page or linked from one (the
# queue's /archive and /vip/, the rate limit's /api/feed); once rate limited, a site gets one
# page every 5 s, so each deeper article of the rate-limited site cost ~6 s
CRAWL_A = ["--max-depth", "1", *CRAWL]
PASSWORD = "lab market password 1"


def ow(args: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> Any:
    proc = run_onionwatch(args, env)
    assert proc.returncode in ok, f"onionwatch {' '.join(args)} -> {proc.returncode}\n{proc.stderr[-3000:]}"
    return proc


def out_json(proc: Any) -> Any:
    text = proc.stdout
    return json.loads(text[min(i for i in (text.find("{"), text.find("[")) if i >= 0):])


def by_role(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["role"]: s for s in state["sites"]}


def indexed(es: Any, prefix: str, onion: str) -> set[str]:
    es.indices.refresh(index=f"{prefix}-pages")
    hits = es.search(index=f"{prefix}-pages", query={"term": {"onion": onion}}, size=1000, source=["url"])
    parts = [urlsplit(h["_source"]["url"]) for h in hits["hits"]["hits"]]
    return {p.path + (f"?{p.query}" if p.query else "") for p in parts}


@pytest.fixture(scope="module")
def walled(lab: dict) -> Any:
    root = Path(lab["root"])
    started = time.monotonic()
    state = control.up(root, options=("walls",), timeout=180)
    print(f"walls option added to the running lab in {time.monotonic() - started:.1f}s")
    yield dict(state, root=str(root))
    lab_options.remove(root, "walls")


@pytest.fixture(scope="module")
def world(lab: dict, walled: dict, es_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("walls-home")
    prefix = f"t{uuid.uuid4().hex[:10]}"
    (home / "alerts.yaml").write_text(f"channels:\n  default: ['jsonl:{home}/alerts.jsonl']\n")
    env = dict(lab_env(lab, home), ONIONWATCH_ES_URL=es_url, ONIONWATCH_INDEX_PREFIX=prefix,
               ONIONWATCH_SITES=str(home / "no-profiles"))
    roles = by_role(walled)
    es = make_client(es_url)
    state_file = Path(walled["dropin"]) / "seized" / "state.yaml"
    state_file.parent.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"env": env, "home": home, "prefix": prefix, "roles": roles, "es": es}
    try:
        # A: no profiles; the market that will be seized is still live
        state_file.write_text("seized: false\n")
        seeds = ",".join(f"http://{roles[r]['onion']}/" for r in
                         ("market-login", "forum-captcha", "queue", "js-required", "rate-limited", "seized"))
        out["a"] = ow(["crawl", "--seeds", seeds, *CRAWL_A], env)
        out["market_after_a"] = indexed(es, prefix, roles["market-login"]["onion"])
        out["services_a"] = {s["onion"]: s for s in out_json(ow(["services", "--json"], env))["services"]}
        out["search_a"] = {q: out_json(ow(["search", *q.split(), "--json", "--size", "100"], env))["hits"]
                           for q in ("security check characters", "queue position redirected", "javascript",
                                     "too many requests", "log in members")}
        out["baseline"] = out_json(ow(["alerts", "run", "--json"], env))
        # B: profiles and credentials; the market is seized now
        state_file.unlink()
        market, forum = roles["market-login"], roles["forum-captcha"]
        r = requests.post(market["local_url"] + "register", data={"username": "analyst", "password": PASSWORD,
                                                                   "password2": PASSWORD}, allow_redirects=False, timeout=10)
        assert r.status_code == 302, r.text
        r = requests.post(forum["local_url"] + "captcha", data={forum["captcha"]["field"]: forum["captcha"]["answer"]},
                          allow_redirects=False, timeout=10)
        cookie = r.cookies.get(forum["captcha"]["cookie"])
        assert cookie
        sites = home / "sites"
        sites.mkdir()
        shutil.copy(market["profile"], sites / "market-login.yaml")
        jar = home / "forum-cookies.txt"  # as exported from Tor Browser after solving the captcha by hand
        jar.write_text(f"# Netscape HTTP Cookie File\n{forum['onion']}\tFALSE\t/\tFALSE\t0\t"
                       f"{forum['captcha']['cookie']}\t{cookie}\n")
        (sites / "forum.yaml").write_text(f"name: lab-forum\nonions: [{forum['onion']}]\n"
                                          f"auth:\n  cookies: {{file: {jar}}}\n")
        creds = market["credentials"]
        env_b = dict(env, ONIONWATCH_SITES=str(sites), **{creds["user_env"]: "analyst", creds["password_env"]: PASSWORD})
        seeds = ",".join(f"http://{roles[r]['onion']}/" for r in ("market-login", "forum-captcha", "seized"))
        out["b"] = ow(["crawl", "--seeds", seeds, *CRAWL], env_b)
        out["alerts_b"] = out_json(ow(["alerts", "run", "--json"], env))
        # C: a wrong password (another account), and the banner once more
        requests.post(market["local_url"] + "register", data={"username": "analyst2", "password": PASSWORD,
                                                               "password2": PASSWORD}, allow_redirects=False, timeout=10)
        env_c = dict(env_b, **{creds["user_env"]: "analyst2", creds["password_env"]: "not the password"})
        seeds = ",".join([f"http://{market['onion']}/{p}" for p in ("", "escrow", "category/drugs", "vendor/siamchem")]
                         + [f"http://{roles['seized']['onion']}/"])
        out["c"] = ow(["crawl", "--seeds", seeds, *CRAWL], env_c)
        out["alerts_c"] = out_json(ow(["alerts", "run", "--json"], env))
        for name in ("a", "b", "c"):
            summary = out_json(out[name])
            print(f"crawl {name.upper()}: {summary['seconds']}s, {summary['pages']} pages, "
                  f"{summary['failures']} failures {summary['failure_reasons']}")
        yield out
    finally:
        state_file.unlink(missing_ok=True)
        drop_prefix(es, prefix)
        es.close()


def test_lab_status_names_the_walled_sites_and_their_credentials(walled: dict, world: dict) -> None:
    st = out_json(ow(["lab", "status", "--json"], world["env"]))
    roles = {s["role"] for s in st["sites"]}
    assert {"market-login", "forum-captcha", "queue", "seized"} <= roles
    market = next(s for s in st["sites"] if s["role"] == "market-login")
    assert market["credentials"]["user_env"] == "ONIONWATCH_SITE_LAB_MARKET_USER"
    assert market["credentials"]["password_env"] == "ONIONWATCH_SITE_LAB_MARKET_PASSWORD"
    assert Path(market["profile"]).parent == Path(st["profiles"]) and "walls" in st["options"]


def test_without_credentials_the_market_is_login_required_and_nothing_behind_it_indexed(world: dict) -> None:
    reasons = out_json(world["a"])["failure_reasons"]
    assert reasons.get("login_required", 0) >= 1, reasons
    assert world["market_after_a"] == set(), "nothing from behind the login wall was indexed"
    market = world["services_a"][world["roles"]["market-login"]["onion"]]
    assert (market["status"], market["wall"]) == ("up", "login_required"), market


def test_walls_end_in_their_named_outcome_and_are_not_searchable(world: dict) -> None:
    reasons = out_json(world["a"])["failure_reasons"]
    for wall in ("captcha", "queue", "js_required", "rate_limited"):
        assert reasons.get(wall, 0) >= 1, (wall, reasons)
    es, prefix, roles = world["es"], world["prefix"], world["roles"]
    assert indexed(es, prefix, roles["js-required"]["onion"]) == set()
    queue = indexed(es, prefix, roles["queue"]["onion"])
    assert {"/", "/archive"} <= queue and not [p for p in queue if p.startswith("/vip/")]
    limited = indexed(es, prefix, roles["rate-limited"]["onion"])
    assert "/" in limited and not [p for p in limited if p.startswith("/api/")]
    walled = {roles[r]["onion"] for r in ("forum-captcha", "js-required", "market-login")}
    for query, hits in world["search_a"].items():  # the walls' own words find none of their pages
        assert not [h for h in hits if h["onion"] in walled or urlsplit(h["url"]).path.startswith(("/vip/", "/api/"))], query
    services = world["services_a"]
    for role, wall in (("js-required", "js_required"), ("forum-captcha", "captcha")):
        assert (services[roles[role]["onion"]]["status"], services[roles[role]["onion"]]["wall"]) == ("up", wall)


def test_with_credentials_the_market_is_crawled_fully_with_a_new_session(world: dict) -> None:
    from lab import expected_pages, load_sites

    roles = world["roles"]
    onion_of = {s["name"]: s["onion"] for s in roles.values()}
    spec = next(s for s in load_sites(options=("walls",)) if s.role == "market-login")
    got = indexed(world["es"], world["prefix"], roles["market-login"]["onion"])
    expected = expected_pages(spec, onion_of)
    assert expected <= got, sorted(expected - got)
    assert not [p for p in got if p.startswith(("/logout", "/buy/", "/vote/", "/messages/", "/login"))]
    b = world["b"]
    assert "logged in again" in b.stderr, b.stderr[-2000:]  # the expiring session was re-established
    assert PASSWORD not in b.stderr + b.stdout
    assert out_json(b)["caps"].get("excluded", 0) >= 1  # buy/vote/message/log-out links dropped
    forum = next(s for s in load_sites(options=("walls",)) if s.role == "forum-captcha")
    assert expected_pages(forum, onion_of) <= indexed(world["es"], world["prefix"], roles["forum-captcha"]["onion"])


def test_the_seized_market_is_seized_everywhere_and_alerted_once(world: dict) -> None:
    env, seized = world["env"], world["roles"]["seized"]["onion"]
    rows = out_json(ow(["services", "--status", "seized", "--json"], env))["services"]
    assert [r["onion"] for r in rows] == [seized]
    assert rows[0]["seizure"]["evidence"] and rows[0]["seizure"]["sha256"]
    assert rows[0]["first_seen"] and rows[0]["last_seen"]  # it was a live market before (crawl A)
    baseline = {s["rule"]: s for s in world["baseline"]}
    assert all(s["baseline"] for s in baseline.values())
    after_b = {s["rule"]: s for s in world["alerts_b"]}
    after_c = {s["rule"]: s for s in world["alerts_c"]}
    rule = "a monitored market was seized"
    assert (after_b[rule]["queued"], after_c[rule]["queued"]) == (1, 0)
    sent = [json.loads(line) for line in (world["home"] / "alerts.jsonl").read_text().splitlines()]
    seizures = [a for a in sent if a["rule"] == rule]
    assert len(seizures) == 1 and seizures[0]["onion"] == seized and seizures[0]["evidence"]
    check = out_json(ow(["check", "--onion", seized, "--json", "--quiet", "--timeout", "20"], env))
    assert check["checks"][0]["status"] == "seized" and check["seized"] == 1
    today = datetime.now(UTC).date().isoformat()
    (row,) = out_json(ow(["stats", "onions", "--interval", "day", "--since", today, "--until", today,
                          "--format", "json"], env))["rows"]
    assert row["seized"] == 1, row


def test_a_wrong_password_locks_once_and_is_alerted_once(world: dict) -> None:
    c = world["c"]
    reasons = out_json(c)["failure_reasons"]
    assert reasons.get("account_locked", 0) >= 1, reasons
    assert c.stderr.count("account is locked") == 1
    lockouts = [a for a in (json.loads(x) for x in (world["home"] / "alerts.jsonl").read_text().splitlines())
                if a["rule"] == "crawler account locked out"]
    assert len(lockouts) == 1 and lockouts[0]["event"] == "account_locked"
