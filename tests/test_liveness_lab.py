"""On the real lab (private Tor network) with one crawl into Elasticsearch:
`check --all` records the lab's services as up, a withdrawn service is down with Tor's
reason, `stats onions` draws the history, and a new leaked-data listing on the market fires
exactly one webhook POST and one email on the next `alerts run`, and none on the run after.

The new listing is a file dropped into the running lab's drop-in directory (market/listings/
under it is read per request, like configs/lab/market/listings/) and removed again whatever
happens."""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab import control
from tests.fixtures_es import drop_prefix, make_client
from tests.fixtures_lab import lab_env, run_onionwatch, site
from tests.test_alerts_delivery import Mailbox, Webhook, local_config
from tests.test_stats_counts import assert_png

pytestmark = pytest.mark.slow

CRAWL = ["--timeout", "8", "-s", "ONIONWATCH_MAX_PAGES_PER_ONION=150"]
STOPPED = "news"
TOR_REASONS = {"onion_descriptor_not_found", "onion_intro_failed", "onion_intro_timeout", "onion_rendezvous_failed"}
LISTING = {
    "title": "Malaysia bank customer database 300k rows — fresh 2026 dump",
    "category": "data", "vendor": "datakingz", "posted": "2026-12-01", "lang": "en",
    "commodity": "database", "quantity": 300000, "unit": "rows",
    "prices": [{"amount": 0.03, "currency": "BTC"}, {"amount": 2500, "currency": "USDT"}],
    "description": "Selling a fresh Malaysian bank customer database, 300,000 rows: full name, phone, email, "
                   "account number, address. CSV, dumped 2026.\n",
    # synthetic, like all lab data: 555 numbers, example.* domains
    "sample": "name,phone,email\nAhmad Contoh,+60 12 555 0198,ahmad.contoh@example.com\n"
              "Mei Ling Ujian,+60 16 555 0342,meiling.u@example.net\n",
}


def ow(args: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> str:
    proc = run_onionwatch(args, env)
    assert proc.returncode in ok, f"onionwatch {' '.join(args)} -> {proc.returncode}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _rule(summaries: list[dict], name: str) -> dict:
    (summary,) = [s for s in summaries if s.get("rule") == name]
    return summary


def last_json(out: str) -> Any:
    return json.loads(out[out.index("{") if out.lstrip().startswith("{") else out.index("["):])


@pytest.fixture(scope="module")
def world(lab: dict, es_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:  # noqa: ANN401
    """One crawl of the lab into a fresh index prefix; alert receivers wired into the
    shipped default rule; the rule's baseline taken right after the crawl."""
    home = tmp_path_factory.mktemp("liveness-home")
    prefix = f"t{uuid.uuid4().hex[:10]}"
    env = dict(lab_env(lab, home), ONIONWATCH_ES_URL=es_url, ONIONWATCH_INDEX_PREFIX=prefix)
    with Webhook() as hook, Mailbox() as box:
        local_config(home, hook.url, box.port)
        ow(["crawl", "--seeds", site(lab, "directory")["onion"], *CRAWL], env)
        baseline = last_json(ow(["alerts", "run", "--json"], env))
        assert baseline and all(r["baseline"] for r in baseline)  # every shipped rule starts watching
        yield {"env": env, "hook": hook, "box": box, "home": home, "prefix": prefix}
    es = make_client(es_url)
    drop_prefix(es, prefix)
    es.close()


@pytest.fixture(scope="module")
def checks(lab: dict, world: dict) -> dict[str, Any]:
    """`check --all` with every lab service up, then one service withdrawn and checked again."""
    all_up = last_json(ow(["check", "--all", "--json", "--quiet", "--concurrency", "4", "--timeout", "20"], world["env"]))
    stopped = site(lab, STOPPED)["onion"]
    control.stop_site(STOPPED, root=Path(lab["root"]))
    try:
        # each attempt waits longer than the lab's fixed circuit-build timeout (30 s), so Tor's own
        # verdict on the intro/rendezvous circuits (an extended SOCKS reply) arrives before ours
        # (CI saw all three 15 s attempts time out once on a loaded machine: reason "timeout")
        down = last_json(ow(["check", "--onion", stopped, "--json", "--quiet", "--timeout", "40", "--backoff", "1"],
                            world["env"], ok=(0,)))
    finally:
        control.start_site(STOPPED, root=Path(lab["root"]))
    return {"all": all_up, "down": down, "stopped": stopped}


def test_check_all_records_every_lab_service_up(lab: dict, checks: dict) -> None:
    run = checks["all"]
    lab_onions = {s["onion"] for s in lab["sites"]}
    by_onion = {c["onion"]: c for c in run["checks"]}
    assert set(by_onion) == lab_onions  # the services index holds exactly the crawled lab onions
    assert {c["status"] for c in by_onion.values()} == {"up"} and run["stored"] == len(lab_onions)
    for c in by_onion.values():
        assert c["method"] == "http" and c["http_status"] and c["latency_ms"] > 0 and c["first_seen"]


def test_withdrawn_service_is_down_with_tors_reason(checks: dict) -> None:
    (doc,) = checks["down"]["checks"]
    assert doc["onion"] == checks["stopped"] and doc["status"] == "down"
    assert doc["reason"] in TOR_REASONS, doc["reason"]
    assert doc["attempts"] == 3 and doc["method"] == "http+descriptor"
    assert doc["descriptor"] in ("found", "not_found")  # asked the HSDirs through the ControlPort
    codes = [a["socks_code"] for a in doc["evidence"]["attempts"]]
    assert any(code and code >= 0xF0 for code in codes), codes  # at least one extended SOCKS reply


def test_stats_draw_the_history(lab: dict, world: dict, checks: dict, tmp_path: Path) -> None:
    today = datetime.now(timezone.utc).date().isoformat()
    span = ["stats", "onions", "--interval", "day", "--since", today, "--until", today]
    (row,) = json.loads(ow(span + ["--format", "json"], world["env"]))["rows"]
    n = len(lab["sites"])
    assert (row["known"], row["new"], row["alive"], row["gone"]) == (n, n, n, 0)
    png = tmp_path / "onions.png"
    ow(["stats", "onions", "--interval", "week", "--format", "png", "--output", str(png)], world["env"])
    assert_png(png.read_bytes())


def test_new_leaked_data_listing_alerts_once(lab: dict, world: dict, checks: dict) -> None:
    slug = f"zz-lab-test-{uuid.uuid4().hex[:8]}"
    listings = Path(lab["dropin"]) / "market" / "listings"
    listings.mkdir(parents=True, exist_ok=True)
    path = listings / f"{slug}.yaml"
    tmp = listings / f".{slug}.tmp"
    hook, box = world["hook"], world["box"]
    try:
        tmp.write_text(yaml.safe_dump(LISTING, allow_unicode=True, sort_keys=False), encoding="utf-8")
        os.replace(tmp, path)  # published atomically: the lab serves it from the next request
        ow(["crawl", "--seeds", site(lab, "market")["onion"], *CRAWL], world["env"])
    finally:
        tmp.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
    first = _rule(last_json(ow(["alerts", "run", "--json"], world["env"])), "new leaked-data sale")
    assert (first["queued"], first["delivered"], first["pending"]) == (1, 1, 0), first
    sale = "new leaked-data sale"
    posts = [p for p in hook.posts if p.get("rule") == sale]  # other shipped rules may fire on the lab too
    mails = [a for a in box.alerts() if a.get("rule") == sale]
    assert len(posts) == 1 and len(mails) == 1, [(p.get("rule"), p.get("title")) for p in hook.posts]
    post = posts[0]
    market = site(lab, "market")["onion"]
    # the listing is one record whichever of its pages (vendor page, category, its own) was seen first
    assert post["url"].startswith(f"http://{market}/") and post["onion"] == market
    assert post["categories"] == ["leaked_data"]  # tagged by the real tagger during the crawl
    # the shipped rule alerts once per new listing, saying what is sold, by whom, at what price
    assert post["kind"] == "listing" and post["vendor"].lower() == "datakingz" and "Malaysia bank" in post["title"]
    assert post["price"] and post["currency"]
    assert "ahmad.contoh@example.com" not in json.dumps(post)  # masked, never in clear
    assert len(post["evidence_sha256"]) == 64 and mails == [post]
    second = _rule(last_json(ow(["alerts", "run", "--json"], world["env"])), "new leaked-data sale")
    assert (second["queued"], second["delivered"]) == (0, 0)
    assert [p for p in hook.posts if p.get("rule") == sale] == posts
    assert [a for a in box.alerts() if a.get("rule") == sale] == mails
