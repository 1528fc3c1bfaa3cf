"""End to end in Debian's headless Chromium: the lab is crawled through Tor into the embedded
index, `onionwatch serve` runs on loopback, and a real browser logs in, searches, opens records
(including the lab forum's injection thread), sees the chart and the alerts.

Screenshots go to tests/artifacts/web/ (or $ONIONWATCH_ARTIFACTS/web); the path is printed.
Run inside the loopback-only namespace (scripts/test.sh).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

import pytest

from onionwatch import es_server
from procs import free_ports
from tests.fixtures_lab import REPO, lab_env, run_onionwatch, site, wait_lab_reachable

pytestmark = pytest.mark.slow

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARTIFACTS = Path(os.environ.get("ONIONWATCH_ARTIFACTS", REPO / "tests" / "artifacts")) / "web"
INJECTION_PATH = "/thread/injection-vendor-list"
# Installed before any page script: records dialogs, CSP violations and changes a payload
# could make. It runs in the page's world (CSP does not apply to DevTools-injected code).
INSTRUMENT = """
window.__ow = {dialogs: [], violations: []};
for (const name of ['alert', 'confirm', 'prompt', 'print', 'open']) {
  window[name] = (...args) => { window.__ow.dialogs.push([name, String(args[0])]); };
}
document.addEventListener('securitypolicyviolation', (e) => {
  window.__ow.violations.push({directive: e.effectiveDirective, blocked: e.blockedURI, sample: e.sample});
});
"""


class Trap:
    """A loopback HTTP server that records every request: a payload that ran would call it."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        trap = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                trap.hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _has_command(env: dict, *args: str) -> bool:
    return run_onionwatch([*args, "--help"], env, timeout=120).returncode == 0


def _start_server(env: dict, home: Path) -> tuple[subprocess.Popen, str]:
    port = free_ports(1)[0]
    log = open(home / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "onionwatch", "serve", "--port", str(port)], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    log.close()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/login", timeout=2).close()
            return proc, base
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("onionwatch serve did not start: " + (home / "serve.log").read_text()[-2000:])
            time.sleep(0.2)


@pytest.fixture(scope="module")
def served(lab: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One enriched crawl of the lab into a fresh home, liveness checks and alerts where the
    commands exist, a token, and `onionwatch serve` on a free loopback port."""
    home = tmp_path_factory.mktemp("web-home")
    env = lab_env(lab, home)
    forum = site(lab, "forum")["onion"]
    seeds = f"{site(lab, 'directory')['onion']},http://{forum}{INJECTION_PATH}"
    proc = None
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        waited = wait_lab_reachable(lab)
        print(f"\n[web] every lab onion answered after {waited:.1f} s")
        started = time.monotonic()
        crawl = run_onionwatch(["crawl", "--seeds", seeds, "--timeout", "8", "--summary-json",
                                "-s", "ONIONWATCH_MAX_PAGES_PER_ONION=40"], env, timeout=900)
        (ARTIFACTS / "crawl.log").write_text(crawl.stderr)
        summary = json.loads(crawl.stdout[crawl.stdout.index("{"):]) if "{" in crawl.stdout else {}
        (ARTIFACTS / "crawl-summary.json").write_text(json.dumps(summary, indent=1))
        assert summary.get("stored", 0) > 50, (summary.get("failure_reasons") or summary, crawl.stderr[-3000:])
        timings = {"crawl_s": round(time.monotonic() - started, 1)}
        extras: dict[str, bool] = {}
        if _has_command(env, "check"):
            extras["checks"] = run_onionwatch(["check", "--all"], env, timeout=600).returncode == 0
        if _has_command(env, "alerts", "run"):
            extras["alerts"] = run_onionwatch(["alerts", "run", "--since", "2000-01-01"], env,
                                              timeout=600).returncode == 0
        token = run_onionwatch(["token", "create", "e2e"], env).stdout.strip()
        proc, base = _start_server(env, home)
        yield {"base": base, "token": token, "home": home, "forum": forum, "extras": extras, "timings": timings,
               "summary": summary, "lab_sites": lab["sites"], "env": env}
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
        es_server.stop(home / "es")


@pytest.fixture(scope="module")
def trap() -> Iterator[Trap]:
    t = Trap()
    yield t
    t.close()


@pytest.fixture(scope="module")
def browser(served: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium, fresh profile, no background traffic, logged in through the form."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("chromium and chromium-driver are needed (apt-get install -y chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
                 "--disable-dev-shm-usage", "--window-size=1280,1000",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": INSTRUMENT})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.get(served["base"] + "/search")
    assert "/login" in driver.current_url  # not logged in yet
    driver.find_element(By.ID, "token").send_keys(served["token"])
    click_and_wait(driver, driver.find_element(By.ID, "login-submit"))
    assert driver.current_url.startswith(served["base"] + "/search")
    yield driver
    driver.quit()
    print(f"\nscreenshots of the web app: {ARTIFACTS}")


def click_and_wait(driver: Any, element: Any) -> None:
    """Click something that navigates, and wait until the new page has replaced the old one."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 30).until(expected_conditions.staleness_of(old))
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


def shot(driver: Any, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(max(height, 800), 4000))
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 1000)
    assert path.stat().st_size > 5000
    return path


def api(served: dict, path: str, token: str | None = "") -> tuple[int, Any]:
    req = urllib.request.Request(served["base"] + path)
    tok = served["token"] if token == "" else token
    if tok is not None:
        req.add_header("Authorization", f"Bearer {tok}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def page_state(driver: Any) -> dict[str, Any]:
    return driver.execute_script("""
      const on = [];
      for (const el of document.querySelectorAll('*')) {
        for (const a of el.attributes) { if (a.name.startsWith('on')) on.push(el.tagName + ' ' + a.name); }
      }
      return {
        instrumented: !!window.__ow,
        dialogs: window.__ow ? window.__ow.dialogs : null,
        violations: window.__ow ? window.__ow.violations : null,
        dangerous: document.querySelectorAll('script, iframe, object, embed, frame, base').length,
        handlers: on,
        foreign_links: [...document.querySelectorAll('a[href], [src], form[action]')]
          .map(e => e.href || e.src || e.action).filter(u => !u.startsWith(location.origin + '/')),
        resources: performance.getEntriesByType('resource').map(r => r.name)
          .filter(u => !u.startsWith(location.origin + '/')),
        title: document.title,
      };
    """)


def console_csp_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]


def test_search_filter_and_open_a_record(served: dict, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(served["base"] + "/search?q=ivory")
    total = int(browser.find_element(By.ID, "result-count").text.split()[0])
    assert total >= 2
    marks = browser.find_elements(By.CSS_SELECTOR, ".snippet mark")
    assert marks and all(m.text.lower() == "ivory" for m in marks)
    shot(browser, "01-search")
    browser.find_element(By.ID, "cat-wildlife").click()
    Select(browser.find_element(By.ID, "sort")).select_by_value("newest")
    click_and_wait(browser, browser.find_element(By.ID, "search-submit"))
    assert "category=wildlife" in browser.current_url and "sort=newest" in browser.current_url
    filtered = int(browser.find_element(By.ID, "result-count").text.split()[0])
    assert 1 <= filtered <= total
    cats = [{c.text for c in hit.find_elements(By.CSS_SELECTOR, ".cat")}
            for hit in browser.find_elements(By.CSS_SELECTOR, ".hit")]
    assert cats and all("wildlife" in c for c in cats)
    shot(browser, "02-search-wildlife")
    click_and_wait(browser, browser.find_elements(By.CSS_SELECTOR, ".hit-title")[0])
    assert "/page/" in browser.current_url
    assert len(browser.find_element(By.ID, "sha256").text) == 64
    assert browser.find_elements(By.CSS_SELECTOR, "ul.evidence li"), "category evidence spans are shown"
    url_el = browser.find_element(By.ID, "page-url")
    assert url_el.tag_name == "code" and ".onion/" in url_el.text  # the crawled URL is text, not a link
    shot(browser, "03-page-record")
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "table.facts a[href^='/service/']"))
    assert browser.find_element(By.ID, "service-onion").text.endswith(".onion")
    shot(browser, "04-service")


def test_injection_thread_is_indexed_and_inert(served: dict, browser: Any, trap: Trap) -> None:
    from selenium.webdriver.common.by import By

    status, found = api(served, f"/api/search?q=trusted+vendors&onion={served['forum']}")
    assert status == 200
    hits = [h for h in found["hits"] if h["url"].endswith(INJECTION_PATH)]
    assert hits, "the injection thread was crawled and indexed"
    browser.get(served["base"] + "/search?q=" + quote("vendor list <script>"))  # hostile query too
    browser.get(served["base"] + "/page/" + hits[0]["id"])
    state = page_state(browser)
    assert state["instrumented"]
    heading = browser.find_element(By.ID, "page-title").text
    assert "<script>alert('title')</script>" in heading and "onerror=alert('t')" in heading  # shown, as text
    text = browser.find_element(By.ID, "page-text").text
    assert "Trusted vendors" in text
    assert state["dialogs"] == [], "no alert/confirm/prompt was called"
    assert state["violations"] == [], "nothing even tried to run: all crawled markup was escaped"
    assert state["dangerous"] == 0 and state["handlers"] == []
    assert state["foreign_links"] == [] and state["resources"] == []
    assert state["title"].startswith("Page ") and state["title"].endswith("· onionwatch")
    assert console_csp_errors(browser) == []
    shot(browser, "05-injection-thread")

    # Defence in depth: pretend a template had forgotten to escape. Put the crawled title and
    # payloads aimed at a loopback trap into the live page as HTML: the CSP must stop them.
    browser.execute_script(
        "document.getElementById('page-title').innerHTML = arguments[0] + arguments[1];", heading,
        f'<img src="{trap.url}/img"><img src="x" onerror="fetch(\'{trap.url}/onerror\')">'
        f'<a id="jslink" href="javascript:fetch(\'{trap.url}/js\')">x</a>',
    )
    browser.find_element(By.ID, "jslink").click()
    time.sleep(1.5)
    after = page_state(browser)
    directives = {v["directive"] for v in after["violations"]}
    assert after["dialogs"] == [] and trap.hits == []
    assert {"img-src", "script-src-attr"} <= directives or {"img-src", "script-src-elem"} <= directives, directives
    assert any("script-src" in d or d == "default-src" for d in directives)
    assert console_csp_errors(browser), "the browser reports the CSP refusals"


def test_snapshot_download_is_an_attachment(served: dict) -> None:
    status, found = api(served, f"/api/search?q=trusted+vendors&onion={served['forum']}")
    hit = next(h for h in found["hits"] if h["url"].endswith(INJECTION_PATH))
    req = urllib.request.Request(f"{served['base']}/api/pages/{hit['id']}/snapshot",
                                 headers={"Authorization": f"Bearer {served['token']}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        body = resp.read()
        assert resp.headers["Content-Type"] == "application/octet-stream"
        assert resp.headers["Content-Disposition"].startswith("attachment;")
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    import hashlib

    assert hashlib.sha256(body).hexdigest() == hit["sha256"] and b"<script>" in body


def test_api_rejects_missing_and_wrong_tokens(served: dict) -> None:
    for path in ("/api/search?q=ivory", "/api/stats", "/api/alerts", f"/api/services/{served['forum']}"):
        assert api(served, path, token=None)[0] == 401
        assert api(served, path, token="ow_" + "x" * 43)[0] == 401
        assert api(served, path)[0] == 200
    status, doc = api(served, "/api/openapi.json", token=None)
    assert status == 200 and "/search" in doc["paths"]


def test_stats_chart_renders(served: dict, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(served["base"] + "/stats?interval=day")
    svg = browser.find_element(By.CSS_SELECTOR, "#chart svg")
    assert svg.size["width"] > 600 and svg.size["height"] > 250
    lines = browser.find_elements(By.CSS_SELECTOR, "#chart svg polyline.series")
    assert {ln.get_attribute("data-series") for ln in lines} == {"known", "new", "alive", "gone", "seized"}
    head = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#stats-rows tr th")]
    today = dict(zip(head, [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#stats-rows tr:last-child td")]))
    lab_onions = len(served["lab_sites"])
    assert int(today["known"]) == int(today["new"]) == lab_onions  # all first seen by today's crawl
    assert served["extras"].get("checks"), "onionwatch check --all ran"
    assert int(today["alive"]) == lab_onions and int(today["gone"]) == 0  # every lab service answered
    shot(browser, "06-stats")
    browser.get(served["base"] + "/stats?interval=day&by=category")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#chart svg polyline.series")) == 12  # 4 metrics × 3 categories
    shot(browser, "07-stats-by-category")
    req = urllib.request.Request(served["base"] + "/stats.csv?interval=day",
                                 headers={"Authorization": f"Bearer {served['token']}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        csv_text = resp.read().decode()
    rows = [line for line in csv_text.splitlines() if not line.startswith("#")]  # the caption comes first
    assert rows[0] == "start,known,alive,new,gone,seized,end" and len(rows) == 13
    assert csv_text.startswith("# Counted by onion address")


def test_stats_by_site_beside_tor_metrics(served: dict, browser: Any) -> None:
    """The analyst imports Tor Metrics' CSV, clusters the crawled onions into sites, and sees
    both series on one chart (Tor Metrics on its own axis), with the method under it."""
    from datetime import date, timedelta

    from selenium.webdriver.common.by import By

    env = lab_env_of(served)
    days = [date.today() - timedelta(days=k) for k in (3, 2, 1, 0)]
    csv_file = served["home"] / "hidserv-dir-v3-onions-seen.csv"
    csv_file.write_text("# (c) The Tor Project, Inc. Licensed under CC BY 3.0 US\n"
                        "# \"Unique .onion addresses (version 3 only)\"\ndate,onions,frac\n"
                        + "".join(f"{d.isoformat()},{800000 + 1000 * i},0.2{i}\n" for i, d in enumerate(days)))
    imported = run_onionwatch(["stats", "import-tor-metrics", str(csv_file)], env)
    assert imported.returncode == 0 and "imported 4 days of Tor Metrics v3" in imported.stdout, imported.stderr
    clustered = run_onionwatch(["sites", "--json"], env)
    assert clustered.returncode == 0, clustered.stderr[-2000:]
    summary = json.loads(clustered.stdout)["summary"]
    browser.get(served["base"] + f"/stats?interval=day&unit=sites&since={days[0].isoformat()}")
    lines = {ln.get_attribute("data-series") for ln in browser.find_elements(By.CSS_SELECTOR, "#chart svg polyline")}
    assert "Tor Metrics v3 estimate" in lines and "known" in lines
    head = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#stats-rows tr th")]
    today = dict(zip(head, [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#stats-rows tr:last-child td")]))
    assert int(today["known"]) == summary["sites"] and int(today["clones"]) == summary["clones"]
    assert float(today["tor_onions"]) == 803000.0
    assert "Counted by site" in browser.find_element(By.ID, "caption").text
    shot(browser, "09-stats-sites-tor-metrics")
    browser.find_element(By.ID, "unit-addresses").click()
    assert "Onion addresses per day" in browser.find_element(By.CSS_SELECTOR, "#chart svg title").get_attribute(
        "textContent")
    shot(browser, "10-stats-addresses-tor-metrics")


def lab_env_of(served: dict) -> dict:
    """The environment the served app's commands run with (its home, the lab's directory)."""
    return served["env"]


def test_alerts_page_shows_a_fired_alert(served: dict, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(served["base"] + "/alerts")
    shot(browser, "08-alerts")
    assert served["extras"].get("alerts"), "onionwatch alerts run succeeded"
    assert browser.find_elements(By.CSS_SELECTOR, "#rules tr")
    fired = browser.find_elements(By.CSS_SELECTOR, "#fired tr.alert")
    assert fired and any("leaked_data" in f.text for f in fired)
