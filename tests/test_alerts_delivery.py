"""Alert rules end to end against a real index, a real loopback webhook server and a real
SMTP server (aiosmtpd): exactly-once delivery, dedup of re-crawls and mirrors, and a failing
channel that keeps its alert for the next run."""

from __future__ import annotations

import email
import json
import threading
import time
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from click.testing import CliRunner
from elasticsearch import Elasticsearch

import alerts as alerting
import index
from index import Names
from onionwatch.cli import main
from procs import free_ports
from tests.fixtures_es import onion, page_record


class Webhook:
    """Records every POSTed JSON body; answers ``status`` (e.g. 500 to play a broken receiver)."""

    def __init__(self, port: int = 0, status: int = 200) -> None:
        self.status = status
        self.posts: list[dict[str, Any]] = []
        self.requests = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.requests += 1
                if hook.status == 200:
                    hook.posts.append(json.loads(body))
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Webhook":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """An aiosmtpd SMTP server on loopback keeping every message it accepts."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Message] = []
        box = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                box.messages.append(email.message_from_bytes(envelope.content))
                return "250 OK"

        self.port = free_ports(1)[0]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> "Mailbox":
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def alerts(self) -> list[dict[str, Any]]:
        """The JSON payload attached to each message."""
        out = []
        for msg in self.messages:
            for part in msg.walk():
                if part.get_content_type() == "application/json":
                    out.append(json.loads(part.get_payload(decode=True)))
        return out


# -- tests ---------------------------------------------------------------------------------------

LISTING = ("Fresh TH bank customer DB 500k rows. Contact seller s***@example.com. Price 0.02 BTC. "
           "Sample rows included, escrow accepted.")


def listing(host: str, path: str, text: str = LISTING, **kw: Any) -> dict[str, Any]:
    start = text.index("s***@")
    entities = [{"label": "EMAIL_ADDRESS", "start": start, "end": start + 17, "score": 1.0,
                 "masked": "s***@example.com", "hash": "ab" * 32}]
    return page_record(f"http://{host}{path}", text, title="TH bank DB 500k", categories=["leaked_data"],
                       entities=entities, **kw)


def write(es: Elasticsearch, names: Names, *records: dict[str, Any]) -> None:
    w = index.PageWriter(es, names, snapshot_key=b"k" * 32)
    for r in records:
        w.write(r)
    assert w.flush().ok


@pytest.fixture
def receivers(tmp_path: Path) -> Iterator[tuple[Webhook, Mailbox, Path]]:
    """Webhook + SMTP receivers wired into a leaked-data page rule through <home>/alerts.yaml."""
    with Webhook() as hook, Mailbox() as box:
        home = tmp_path / "home"
        home.mkdir()
        local_config(home, hook.url, box.port)
        yield hook, box, home


def local_config(home: Path, hook_url: str, smtp_port: int) -> None:
    (home / "alerts.yaml").write_text(yaml.safe_dump({
        "channels": {"default": [f"webhook:{hook_url}", "email:analyst@example.org"]},
        "smtp": {"host": "127.0.0.1", "port": smtp_port},
        # delivery is the same for every target: these tests use a page rule (the shipped
        # leaked-data rule watches listings: tests/test_listings_alerts.py)
        "rules": [{"name": DEFAULT_RULE, "categories": ["leaked_data"], "new_pages_only": True, "channels": ["default"]}],
    }))


def run(es: Elasticsearch, names: Names, home: Path, **kw: Any) -> dict[str, Any]:
    config = alerting.load_config(home=home)
    deliverer = alerting.Deliverer(config.smtp, backoff=0.05)
    (summary,) = alerting.run(es, names, config, rule_name=DEFAULT_RULE, deliverer=deliverer, **kw)
    return summary


DEFAULT_RULE = "new leaked-data page"
SHOP, MIRROR, OTHER = onion(200), onion(201), onion(202)


def test_new_leaked_data_listing_alerts_exactly_once(es: Elasticsearch, names: Names, receivers) -> None:  # noqa: ANN001
    hook, box, home = receivers
    index.setup(es, names)
    write(es, names, listing(SHOP, "/listing/old", fetched_at="2026-11-01T10:00:00Z"),
          page_record(f"http://{SHOP}/category/data", "Data: TH bank DB", categories=["leaked_data"],
                      fetched_at="2026-11-01T10:00:00Z"))
    time.sleep(1.1)  # indexed_at has 1 s resolution: what is indexed before the baseline stays old
    first = run(es, names, home)
    assert first["baseline"] and hook.posts == [] and box.messages == []

    new = listing(SHOP, "/listing/new", LISTING.replace("500k", "800k"), fetched_at="2026-11-02T10:00:00Z")
    write(es, names,
          new,
          # the category page changed (new content, known URL): a changed page is not a new listing
          page_record(f"http://{SHOP}/category/data", "Data: TH bank DB, TH bank DB 800k", categories=["leaked_data"],
                      fetched_at="2026-11-02T10:00:00Z"),
          page_record(f"http://{OTHER}/listing/meth", "meth 10g 0.01 BTC", categories=["drugs"],
                      fetched_at="2026-11-02T10:00:00Z"))
    second = run(es, names, home)
    assert (second["queued"], second["delivered"], second["pending"]) == (1, 1, 0)
    assert len(hook.posts) == 1 and len(box.messages) == 1
    post = hook.posts[0]
    assert post == box.alerts()[0]
    assert post["rule"] == DEFAULT_RULE and post["onion"] == SHOP and post["url"] == new["url"]
    assert post["categories"] == ["leaked_data"] and post["evidence_sha256"] == new["sha256"]
    assert post["entities"] == [{"label": "EMAIL_ADDRESS", "masked": "s***@example.com"}]
    assert "800k" in post["snippet"] and "ab" * 32 not in json.dumps(post)  # masked only, never the PII hash
    assert box.messages[0]["To"] == "analyst@example.org" and SHOP in box.messages[0]["Subject"]

    # the same listing mirrored on another onion, and a re-crawl: nothing new
    write(es, names, listing(MIRROR, "/l/new-mirror", new["text"].replace(SHOP, MIRROR), fetched_at="2026-11-03T10:00:00Z"),
          dict(new, fetched_at="2026-11-04T10:00:00Z"))
    third = run(es, names, home)
    assert third["matched"] >= 1 and third["queued"] == 0
    assert len(hook.posts) == 1 and len(box.messages) == 1
    fired = index.alerts.fired(es, names)
    assert [(a["url"], a["state"], a["pending"]) for a in fired] == [(new["url"], "delivered", [])]
    wm = index.alerts.get_watermark(es, names, DEFAULT_RULE)
    assert wm["watermark"] >= fired[0]["page_indexed_at"]


def test_a_failing_channel_keeps_the_alert_for_the_next_run(es: Elasticsearch, names: Names, tmp_path: Path) -> None:
    index.setup(es, names)
    home = tmp_path / "home"
    home.mkdir()
    port = free_ports(1)[0]  # nothing listens here yet: connection refused
    with Mailbox() as box:
        local_config(home, f"http://127.0.0.1:{port}/hook", box.port)
        assert run(es, names, home)["baseline"]
        page = listing(SHOP, "/listing/x", fetched_at="2026-11-05T10:00:00Z")
        write(es, names, page)
        down = run(es, names, home)
        assert (down["queued"], down["delivered"], down["pending"]) == (1, 0, 1)
        assert len(box.messages) == 1  # email worked; only the webhook is still owed
        (queued,) = index.alerts.undelivered(es, names)
        assert queued["source"]["pending"] == [f"webhook:http://127.0.0.1:{port}/hook"]
        assert "ConnectionError" in queued["source"]["last_error"] and "/hook" not in queued["source"]["last_error"]
        wm = index.alerts.get_watermark(es, names, DEFAULT_RULE)
        assert wm["watermark"] <= queued["source"]["page_indexed_at"]

        with Webhook(port, status=500) as hook:  # listening now, but broken
            broken = run(es, names, home)
            assert (broken["queued"], broken["pending"]) == (0, 1) and hook.requests == 3  # retried with backoff
            hook.status = 200
            healed = run(es, names, home)
            assert (healed["queued"], healed["delivered"], healed["pending"]) == (0, 1, 0)
            assert [p["url"] for p in hook.posts] == [page["url"]]
            assert run(es, names, home)["delivered"] == 0 and len(hook.posts) == 1
        assert len(box.messages) == 1
        (alert,) = index.alerts.fired(es, names)
        assert alert["state"] == "delivered" and alert["attempts"] == 3


def test_fingerprint_ignores_the_hosting_onion() -> None:
    a = {"title": "DB  Dump", "text": f"see http://{SHOP}/x for sample"}
    b = {"title": "db dump", "text": f"see http://{MIRROR}/x   for sample"}
    assert alerting.fingerprint(a) == alerting.fingerprint(b)
    assert alerting.fingerprint(a) != alerting.fingerprint(dict(a, text="see other sample"))


def _cli(args: list[str], env: dict[str, str]) -> str:
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_add_rule_hunt_history_and_list(es: Elasticsearch, es_url: str, names: Names, tmp_path: Path) -> None:
    index.setup(es, names)
    write(es, names, page_record(f"http://{OTHER}/p1", "pangolin scales 5kg for sale", categories=["wildlife"],
                                 fetched_at="2026-10-01T10:00:00Z"),
          page_record(f"http://{OTHER}/p2", "ivory bangles", categories=["wildlife"], fetched_at="2026-10-01T10:00:00Z"))
    out = tmp_path / "alerts.jsonl"
    env = {"ONIONWATCH_ES_URL": es_url, "ONIONWATCH_INDEX_PREFIX": names.prefix, "ONIONWATCH_HOME": str(tmp_path)}
    _cli(["alerts", "add", "pangolin", "--query", "pangolin", "--category", "wildlife", "--channel", f"jsonl:{out}"], env)
    assert "pangolin" in _cli(["alerts", "list", "--rules"], env)
    first = json.loads(_cli(["alerts", "run", "--rule", "pangolin", "--json"], env))
    assert first[0]["baseline"] and not out.exists()
    hunted = json.loads(_cli(["alerts", "run", "--rule", "pangolin", "--since", "2020-01-01", "--json"], env))
    assert (hunted[0]["matched"], hunted[0]["delivered"]) == (1, 1)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [p["url"] for p in lines] == [f"http://{OTHER}/p1"]
    assert "1 alert(s)" in _cli(["alerts", "list"], env)
    again = json.loads(_cli(["alerts", "run", "--rule", "pangolin", "--since", "2020-01-01", "--json"], env))
    assert again[0]["queued"] == 0 and len(out.read_text().splitlines()) == 1


def test_bad_channel_is_refused(tmp_path: Path) -> None:
    env = {"ONIONWATCH_HOME": str(tmp_path)}
    result = CliRunner().invoke(main, ["alerts", "add", "x", "--channel", "pigeon:coop"], env=env)
    assert result.exit_code != 0 and "bad channel" in result.output
    assert not (tmp_path / "alerts.yaml").exists()


def test_channels_are_shown_without_credentials() -> None:
    assert alerting.redact_channel("webhook:https://user:s3cret@hooks.example.org/t/abc?k=1") == "webhook:hooks.example.org"
    assert alerting.redact_channel("email:desk@example.org") == "email:desk@example.org"
