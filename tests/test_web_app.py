"""The web app through Flask's test client, over a real index (noida-db) holding hostile pages:
authentication, security headers, escaping, downloads, the API and its OpenAPI document."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch
from flask import Flask
from flask.testing import FlaskClient

import index
from index import Names, PageWriter
from onionwatch import chart
from onionwatch.web import CSP, Backend, TokenStore, create_app
from onionwatch.web import records, views
from tests.fixtures_es import drop_prefix, onion, page_record

SHOP, OTHER = onion(41), onion(42)
XSS = "<script>window.__pwned=1</script><img src=x onerror=alert(1)>"
BODY = ("Vendor list: ivory bangles 2 pcs 900 USD <b onmouseover=alert(2)>hover</b> "
        "contact **** javascript:alert(3) \"quoted\" & more ivory")
IVORY, PRICE, MASK = BODY.index("ivory"), BODY.index("900 USD"), BODY.index("****")
RAW_HTML = f"<html><head><title>{XSS}</title></head><body><p>{BODY}</p></body></html>"
HOSTILE = page_record(
    f'http://{SHOP}/thread/x?"><script>alert(4)</script>', BODY, title=f"Best list {XSS}",
    categories=["wildlife"], fetched_at="2026-11-20T10:00:00Z", raw=RAW_HTML.encode(),
    sha256=hashlib.sha256(RAW_HTML.encode()).hexdigest(), size=len(RAW_HTML.encode()),
    links=["javascript:alert(5)", "http://example.com/phish", f"http://{OTHER}/"], onion_links=[OTHER],
    entities=[{"label": "EMAIL_ADDRESS", "start": MASK, "end": MASK + 4, "score": 0.9,
               "masked": "<i>****</i>", "hash": "e" * 64}],
    offers=[{"category": "wildlife", "commodity": "<svg onload=alert(6)>", "start": IVORY, "end": IVORY + 5,
             "price": 900.0, "currency": "USD", "quantity": 2.0, "unit": "pcs"}],
    evidence=[{"category": "wildlife", "kind": "commodity", "start": IVORY, "end": IVORY + 5,
               "term": "<u onclick=x>ivory"},
              {"category": "wildlife", "kind": "price", "start": PRICE, "end": PRICE + 7, "term": None}],
)
OLDER = page_record(HOSTILE["url"], "an older version of the vendor list", title="Best list (old)",
                    fetched_at="2026-11-01T10:00:00Z")
PLAIN = [page_record(f"http://{OTHER}/p{i}", f"catalogue entry {i} about pangolin scales", title=f"Entry {i}",
                     categories=["wildlife"] if i % 2 else ["drugs"], fetched_at=f"2026-11-{10 + i:02d}T08:00:00Z",
                     lang="vi" if i == 3 else "en", page_kind="listing" if i % 2 else "forum",
                     model_version="offers-web-test")
         for i in range(5)]

NOW = datetime.now(timezone.utc).replace(microsecond=0)
CHECKS = [{"run_id": f"r{i}", "onion": SHOP, "checked_at": (NOW - timedelta(days=i)).isoformat().replace("+00:00", "Z"),
           "status": status, "method": "http", "latency_ms": 120 + i, "reason": None if status == "up" else "<b>x</b>",
           "first_seen": "2026-11-01T00:00:00Z", "categories": ["wildlife"]}
          for i, status in enumerate(["up", "down"])]
ALERT = {"rule": "new <leak>", "fingerprint": "f" * 40, "page_id": index.page_id(HOSTILE["url"], HOSTILE["sha256"]),
         "onion": SHOP, "url": HOSTILE["url"], "state": "delivered", "pending": [],
         "delivered": ["webhook:http://user:secret@127.0.0.1:9/hook?token=abc", "jsonl:/tmp/a.jsonl"],
         "created_at": "2026-11-20T11:00:00Z", "payload": {"categories": ["leaked_data"]}}


@pytest.fixture(scope="module")
def names(es: Elasticsearch) -> Iterator[Names]:
    names = Names(f"w{uuid.uuid4().hex[:10]}")
    writer = PageWriter(es, names, snapshot_key=b"web-test-key")
    for doc in [HOSTILE, OLDER, *PLAIN]:
        writer.write(doc)
    assert writer.flush().ok
    stored, failed = index.write_checks(es, names, CHECKS)
    assert stored == len(CHECKS) and not failed
    assert index.alerts.enqueue(es, names, ALERT)
    yield names
    drop_prefix(es, names.prefix)


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> TokenStore:
    return TokenStore(tmp_path_factory.mktemp("tokens") / "tokens.json")


@pytest.fixture(scope="module")
def token(tokens: TokenStore) -> str:
    return tokens.create("analyst")


@pytest.fixture(scope="module")
def app(es: Elasticsearch, names: Names, tokens: TokenStore) -> Flask:
    backend = Backend(es=es, names=names, snapshot_key=lambda: b"web-test-key", entity_labels=["EMAIL_ADDRESS"])
    return create_app(backend, tokens, b"s" * 32)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def authed(app: Flask, token: str) -> FlaskClient:
    c = app.test_client()
    resp = c.post("/login", data={"token": token, "next": "/search"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/search"
    return c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def hostile_id() -> str:
    return index.page_id(HOSTILE["url"], HOSTILE["sha256"])


class Tags(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def assert_inert(html: str) -> list[tuple[str, dict]]:
    """No script, no handler, no style attribute, no external or scripted URL in a page."""
    parser = Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag not in ("script", "iframe", "object", "embed", "base", "meta") or (
            tag == "meta" and set(attrs) <= {"charset", "name", "content"}), (tag, attrs)
        assert not [a for a in attrs if a.startswith("on") or a == "style"], (tag, attrs)
        for a in ("href", "src", "action", "formaction", "data"):
            if attrs.get(a) is not None:
                assert attrs[a].startswith("/") and not attrs[a].startswith("//"), (tag, a, attrs[a])
    return parser.tags


# --- authentication -------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/search", "/api/pages/" + "a" * 40, "/api/services", "/api/stats", "/api/alerts"])
@pytest.mark.parametrize("auth", [None, "Bearer ow_wrong", "Bearer ", "Basic YTpi", "Token x"])
def test_api_rejects_missing_or_wrong_tokens(client: FlaskClient, path: str, auth: str | None) -> None:
    resp = client.get(path, headers={"Authorization": auth} if auth else {})
    assert resp.status_code == 401
    assert resp.get_json() == {"error": "missing or invalid bearer token"}
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_api_accepts_a_valid_token_and_not_a_session(app: Flask, authed: FlaskClient, token: str) -> None:
    assert authed.get("/api/search").status_code == 401  # the API takes bearer tokens only
    resp = app.test_client().get("/api/search?q=pangolin", headers=bearer(token))
    assert resp.status_code == 200 and resp.get_json()["total"] == 5


def test_html_needs_login(client: FlaskClient, token: str) -> None:
    for path in ("/search", "/page/" + hostile_id(), f"/service/{SHOP}", "/services", "/stats", "/alerts",
                 "/page/" + hostile_id() + "/snapshot", "/stats.csv"):
        resp = client.get(path)
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/login?next="), path
    assert client.get("/search", headers=bearer("ow_nope")).status_code == 401
    assert client.get("/search", headers=bearer(token)).status_code == 200


def test_login_sets_a_strict_httponly_session_and_logout_ends_it(client: FlaskClient, token: str) -> None:
    bad = client.post("/login", data={"token": "ow_guess"})
    assert bad.status_code == 401 and "not valid" in bad.get_data(as_text=True)
    resp = client.post("/login", data={"token": token, "next": "/services"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/services"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert client.get("/services").status_code == 200
    assert client.post("/logout").status_code == 302
    assert client.get("/services").status_code == 302


def test_session_cookie_does_not_carry_the_token(client: FlaskClient, token: str) -> None:
    resp = client.post("/login", data={"token": token})
    assert token not in resp.headers["Set-Cookie"]


def test_login_redirects_only_to_local_paths(client: FlaskClient, token: str) -> None:
    for target in ("http://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        resp = client.post("/login", data={"token": token, "next": target})
        assert resp.headers["Location"] == "/search", target


def test_cross_site_posts_are_refused(client: FlaskClient, token: str) -> None:
    resp = client.post("/login", data={"token": token}, headers={"Origin": "http://evil.example"})
    assert resp.status_code == 403
    resp = client.post("/login", data={"token": token}, headers={"Sec-Fetch-Site": "cross-site"})
    assert resp.status_code == 403
    resp = client.post("/login", data={"token": token}, headers={"Origin": "null"})  # sandboxed frame
    assert resp.status_code == 403
    resp = client.post("/login", data={"token": token}, headers={"Origin": "http://localhost",
                                                                  "Sec-Fetch-Site": "same-origin"})
    assert resp.status_code == 302


def test_revoking_a_token_ends_its_sessions(app: Flask, tokens: TokenStore) -> None:
    temp = tokens.create("temp-user")
    c = app.test_client()
    c.post("/login", data={"token": temp})
    assert c.get("/alerts").status_code == 200
    assert tokens.revoke("temp-user")
    assert c.get("/alerts").status_code == 302
    assert c.get("/api/alerts", headers=bearer(temp)).status_code == 401


def test_token_store_keeps_only_hashes(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "t.json")
    tok = store.create("alice")
    text = (tmp_path / "t.json").read_text()
    assert tok not in text and hashlib.sha256(tok.encode()).hexdigest() in text
    assert (tmp_path / "t.json").stat().st_mode & 0o777 == 0o600
    assert store.verify(tok) == "alice" and store.verify(tok + "x") is None and store.verify(None) is None
    with pytest.raises(ValueError):
        store.create("alice")
    with pytest.raises(ValueError):
        store.create("bad name")
    assert [t["name"] for t in store.list()] == ["alice"]


def test_token_create_command_prints_a_working_token(tmp_path: Path) -> None:
    from onionwatch.cli import main

    env = {"ONIONWATCH_HOME": str(tmp_path)}
    out = CliRunner().invoke(main, ["token", "create", "bob"], env=env)
    assert out.exit_code == 0, out.output
    tok = out.output.strip()
    assert TokenStore(tmp_path / "web-tokens.json").verify(tok) == "bob"
    assert "bob" in CliRunner().invoke(main, ["token", "list"], env=env).output
    assert CliRunner().invoke(main, ["token", "create", "bob"], env=env).exit_code != 0


# --- headers and escaping -------------------------------------------------------------

def test_every_response_carries_security_headers(authed: FlaskClient, client: FlaskClient, token: str) -> None:
    responses = [authed.get(p) for p in ("/search?q=ivory", "/page/" + hostile_id(), "/services", "/stats",
                                         "/alerts", "/page/" + "0" * 40)]
    responses += [client.get("/login"), client.get("/api/search"), client.get("/api/openapi.json"),
                  client.get("/api/search", headers=bearer(token))]
    for resp in responses:
        assert resp.headers["Content-Security-Policy"] == CSP
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Referrer-Policy"] == "same-origin"
        assert resp.headers["Cache-Control"] == "no-store"
    assert "script-src" not in CSP and "default-src 'none'" in CSP  # no script source at all


def test_page_record_escapes_every_crawled_string(authed: FlaskClient) -> None:
    resp = authed.get("/page/" + hostile_id())
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert_inert(html)
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html  # the title, shown literally
    assert "&lt;svg onload=alert(6)&gt;" in html and "&lt;i&gt;****&lt;/i&gt;" in html
    assert "&lt;u onclick=x&gt;ivory" in html
    assert "&lt;b onmouseover=alert(2)&gt;" in html
    assert "javascript:alert(5)" in html and 'href="javascript' not in html.lower()
    assert 'href="http://example.com' not in html and "http://example.com/phish</code>" in html
    # the URL is text only; the linked onion goes to our own service page
    assert f'<code class="url" id="page-url">http://{SHOP}/thread/x?&#34;&gt;&lt;script&gt;' in html
    assert f'href="/service/{OTHER}"' in html


def test_page_record_shows_evidence_offers_entities_and_other_crawls(app: Flask, token: str) -> None:
    rec = app.test_client().get("/api/pages/" + hostile_id(), headers=bearer(token)).get_json()
    assert rec["categories"] == ["wildlife"] and rec["sha256"] == HOSTILE["sha256"]
    spans = rec["evidence"]["wildlife"]
    assert [s["excerpt"]["match"] for s in spans] == ["ivory", "900 USD"]
    assert spans[0]["excerpt"]["before"].endswith("Vendor list: ") and spans[0]["kind"] == "commodity"
    assert rec["offers"][0]["price"] == 900.0 and rec["offers"][0]["currency"] == "USD"
    ent = rec["entities"]
    assert [(e["label"], e["masked"], e["excerpt"]["match"]) for e in ent] == [("EMAIL_ADDRESS", "<i>****</i>", "****")]
    assert "hash" not in json.dumps(rec["entities"])
    older = index.page_id(OLDER["url"], OLDER["sha256"])
    assert [o["id"] for o in rec["other_crawls"]] == [older]


def test_every_page_is_inert(authed: FlaskClient) -> None:
    paths = ["/search?q=ivory", "/search?q=vendor&sort=newest", "/page/" + hostile_id(), f"/service/{SHOP}",
             "/services", "/stats", "/alerts", "/login", "/search?onion=not-an-onion"]
    for path in paths:
        resp = authed.get(path)
        assert resp.status_code in (200, 400), path
        assert_inert(resp.get_data(as_text=True))


def test_search_snippets_keep_only_mark_tags(authed: FlaskClient, app: Flask, token: str) -> None:
    api = app.test_client().get("/api/search?q=hover", headers=bearer(token)).get_json()
    snippet = api["hits"][0]["snippet"]
    assert "<mark>hover</mark>" in snippet and "<b " not in snippet and "&lt;b onmouseover" in snippet
    html = authed.get("/search?q=hover").get_data(as_text=True)
    assert "<mark>hover</mark>" in html and "&lt;b onmouseover=alert(2)&gt;" in html
    assert_inert(html)


def test_safe_snippet_escapes_anything_but_mark() -> None:
    assert records.safe_snippet("a <mark>b</mark> &lt;c&gt;") == "a <mark>b</mark> &lt;c&gt;"
    for bad in ("<img src=x onerror=alert(1)> <mark>b</mark>", "<mark onclick=x>b</mark>", '<mark>"x</mark>'):
        out = str(records.safe_snippet(bad))
        assert "<" not in out and '"' not in out, out  # all of it escaped, marks dropped


def test_snapshot_is_an_attachment_never_rendered(authed: FlaskClient, app: Flask, token: str) -> None:
    for resp in (authed.get(f"/page/{hostile_id()}/snapshot"),
                 app.test_client().get(f"/api/pages/{hostile_id()}/snapshot", headers=bearer(token))):
        assert resp.status_code == 200
        assert resp.data == RAW_HTML.encode()
        assert resp.headers["Content-Type"] == "application/octet-stream"
        assert resp.headers["Content-Disposition"] == f'attachment; filename="snapshot-{HOSTILE["sha256"]}.bin"'
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in resp.headers["Content-Security-Policy"]
        assert resp.headers["X-Snapshot-SHA256"] == hashlib.sha256(resp.data).hexdigest()
    assert authed.get("/page/" + "0" * 40 + "/snapshot").status_code == 404


# --- search and the API -----------------------------------------------------------------

def test_search_filters_count_and_paging(app: Flask, token: str, authed: FlaskClient) -> None:
    c = app.test_client()

    def api(qs: str) -> dict:
        resp = c.get("/api/search?" + qs, headers=bearer(token))
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return resp.get_json()

    assert api("q=pangolin")["total"] == 5
    assert api("q=pangolin&category=wildlife")["total"] == 2
    assert api("q=pangolin&category=wildlife&category=drugs")["total"] == 5
    assert api("lang=vi")["total"] == 1
    listings = api("kind=listing")
    assert listings["total"] == 2 and {h["page_kind"] for h in listings["hits"]} == {"listing"}
    assert api("kind=listing&kind=forum")["total"] == 5
    assert c.get("/api/search?kind=blog", headers=bearer(token)).status_code == 400
    page = c.get(f"/api/pages/{listings['hits'][0]['id']}", headers=bearer(token)).get_json()
    assert page["page_kind"] == "listing" and page["model_version"] == "offers-web-test"
    assert api(f"onion={SHOP}")["total"] == 2
    assert api("since=2026-11-12&until=2026-11-13&q=pangolin")["total"] == 2
    assert api("entity=EMAIL_ADDRESS")["hits"][0]["id"] == hostile_id()
    first = api("q=pangolin&sort=newest&size=2")
    assert [h["title"] for h in first["hits"]] == ["Entry 4", "Entry 3"] and first["next"]
    second = api(f"q=pangolin&sort=newest&size=2&after={first['next']}")
    assert [h["title"] for h in second["hits"]] == ["Entry 2", "Entry 1"]
    html = authed.get("/search?q=pangolin&sort=newest&size=10").get_data(as_text=True)
    assert '<p class="count" id="result-count">5 results' in html
    page = authed.get("/search?q=pangolin&sort=newest&size=2").get_data(as_text=True)
    nxt = re.search(r'id="next-page"', page) and re.search(r'href="(/search\?[^"]+)" id="next-page"', page).group(1)
    assert "Entry 2" in authed.get(nxt.replace("&amp;", "&")).get_data(as_text=True)


@pytest.mark.parametrize("qs", ["category=weapons", "sort=oldest", "size=0", "size=abc", "since=yesterday",
                                "onion=example.com", "after=!!notatoken", "lang=english", "entity=a%20b"])
def test_bad_search_parameters_are_400(app: Flask, token: str, authed: FlaskClient, qs: str) -> None:
    resp = app.test_client().get("/api/search?" + qs, headers=bearer(token))
    assert resp.status_code == 400 and resp.get_json()["error"]
    html = authed.get("/search?" + qs)
    assert html.status_code == 400 and 'id="search-error"' in html.get_data(as_text=True)


def test_service_and_services(app: Flask, token: str, authed: FlaskClient) -> None:
    rec = app.test_client().get(f"/api/services/{SHOP}", headers=bearer(token)).get_json()
    assert rec["service"]["onion"] == SHOP and rec["page_total"] == 2
    assert [(c["status"], c["reason"]) for c in rec["history"]] == [("up", None), ("down", "<b>x</b>")]
    listed = app.test_client().get("/api/services", headers=bearer(token)).get_json()["services"]
    assert {s["onion"] for s in listed} == {SHOP, OTHER}
    html = authed.get(f"/service/{SHOP.upper()}").get_data(as_text=True)
    assert SHOP in html and "Status history" in html
    assert authed.get("/service/" + "a" * 56 + ".onion").status_code == 404


def test_stats_and_alerts_answer(app: Flask, token: str, authed: FlaskClient) -> None:
    stats = app.test_client().get("/api/stats?interval=week", headers=bearer(token)).get_json()
    assert stats["overview"]["pages"] == 7 and stats["params"]["interval"] == "week"
    rows = stats["rows"]
    assert len(rows) == 12 and rows[-1]["end"] > NOW.isoformat()[:10]  # 12 weeks up to this one
    assert sum(r["alive"] for r in rows) == 1 and rows[-1]["alive"] == 1  # SHOP was up once, today
    assert rows[-1]["known"] == 2
    assert app.test_client().get("/api/stats?interval=year", headers=bearer(token)).status_code == 400
    alerts = app.test_client().get("/api/alerts", headers=bearer(token)).get_json()
    assert "new leaked-data sale" in [r["name"] for r in alerts["rules"]]  # the shipped rule
    assert [a["rule"] for a in alerts["fired"]] == ["new <leak>"]
    assert alerts["fired"][0]["delivered"] == ["webhook:127.0.0.1", "jsonl:/tmp/a.jsonl"]  # no credentials
    html = authed.get("/alerts").get_data(as_text=True)
    assert "new &lt;leak&gt;" in html and "secret" not in html and "token=abc" not in html
    assert f'href="/page/{hostile_id()}"' in html
    assert_inert(html)
    service = authed.get(f"/service/{SHOP}").get_data(as_text=True)
    assert '<tr class="up">' in service and '<tr class="down">' in service and "&lt;b&gt;x&lt;/b&gt;" in service
    assert authed.get("/stats").status_code == 200 and authed.get("/alerts").status_code == 200


def test_openapi_describes_every_api_route(client: FlaskClient, app: Flask) -> None:
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.") and doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    routes = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.rule)[len("/api"):] for r in app.url_map.iter_rules()
              if r.rule.startswith("/api/")}
    routes = {re.sub(r"\{doc_id\}", "{id}", r) for r in routes}
    assert routes == set(doc["paths"])
    for path, item in doc["paths"].items():
        if path != "/openapi.json":
            assert "401" in item["get"]["responses"], path


def test_app_is_read_only(app: Flask) -> None:
    for rule in app.url_map.iter_rules():
        writes = (rule.methods or set()) - {"GET", "HEAD", "OPTIONS"}
        assert not writes or rule.endpoint in ("auth.login", "auth.logout"), rule


def test_no_web_module_fetches_urls() -> None:
    src = "\n".join(p.read_text() for p in Path(views.__file__).parent.glob("*.py"))
    assert not re.search(r"^\s*(import|from)\s+(requests|urllib\.request|http\.client|httpx\w*|socket)\b", src, re.M)


# --- chart --------------------------------------------------------------------------------

def test_chart_is_valid_svg_with_escaped_labels() -> None:
    svg = str(chart.line_chart(["2026-11-01", "2026-11-08", "<x>"], {"alive": [1, 5, 3], "new <b>": [0, 4, 1]},
                               title="Services & <script>", x_label="week", y_label="onion services"))
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    lines = root.findall(f"{ns}polyline")
    assert [p.get("data-series") for p in lines] == ["alive", "new <b>"]
    assert len(lines[0].get("points").split()) == 3
    assert root.find(f"{ns}title").text == "Services & <script>"
    assert "<script" not in svg and "<b>" not in svg


def test_series_pivot_by_category() -> None:
    rows = [{"start": "2026-11-02T00:00:00Z", "category": "drugs", "known": 3, "alive": 2, "new": 1, "gone": 0},
            {"start": "2026-11-01T00:00:00Z", "category": "drugs", "known": 2, "alive": 2, "new": 2, "gone": 0},
            {"start": "2026-11-02T00:00:00Z", "category": "wildlife", "known": 1, "alive": 1, "new": 1, "gone": 0}]
    labels, series = chart.series_of(rows, by_category=True)
    assert labels == ["2026-11-01", "2026-11-02"]
    assert series["alive (drugs)"] == [2.0, 2.0] and series["new (wildlife)"] == [0.0, 1.0]
    assert not any(k.startswith("known") for k in series)
