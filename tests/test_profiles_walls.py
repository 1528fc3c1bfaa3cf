"""Site profiles, wall rules and the walled lab sites, without any network: what a profile
accepts and refuses (before any request), how cookies are imported, which pages the rules
call walls (and which they must not), and how the lab's gates behave."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import jinja2
import pytest
from scrapy.http import HtmlResponse

from crawler.middlewares import wait_seconds
from crawler.profiles import (
    ProfileError,
    Secret,
    load_profiles,
    parse_cookies,
    slot_settings,
)
from crawler.walls import WallRules
from lab.onions import fake_onion

A, B = fake_onion("profile-a"), fake_onion("profile-b")
RULES = WallRules.load()


def write(tmp: Path, name: str, text: str) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / f"{name}.yaml").write_text(text)
    return tmp


LOGIN = f"""name: market
onions: [{A}, "http://{B}/"]
politeness: {{delay: 1.5, concurrency: 2}}
follow: {{exclude: ["^/search"]}}
auth:
  login: {{url: /login, form: "form#login"}}
"""


def test_a_profile_with_a_login_names_its_credential_variables(tmp_path: Path) -> None:
    profiles = load_profiles([write(tmp_path, "market", LOGIN)])
    p = profiles.get(B.upper())
    assert p is not None and p.onions == (A, B) and p.keeps_cookies
    assert profiles.secret_names() == ["ONIONWATCH_SITE_MARKET_USER", "ONIONWATCH_SITE_MARKET_PASSWORD"]
    with pytest.raises(ProfileError, match="ONIONWATCH_SITE_MARKET_USER and ONIONWATCH_SITE_MARKET_PASSWORD are not set"):
        profiles.resolve({})
    creds = profiles.resolve({"ONIONWATCH_SITE_MARKET_USER": "u", "ONIONWATCH_SITE_MARKET_PASSWORD": Secret("pw")})
    assert creds["market"].password.reveal() == "pw" and "pw" not in repr(creds) + str(creds["market"].password)
    assert slot_settings(profiles)[A] == {"concurrency": 2, "delay": 1.5, "randomize_delay": False}
    assert not p.follows("/search?q=x") and p.follows("/listing/1")


@pytest.mark.parametrize("text, message", [
    (LOGIN.replace('form: "form#login"', 'form: "form#login[["'), "bad CSS selector"),
    (LOGIN.replace('"^/search"', '"^/(search"'), "bad regular expression"),
    (LOGIN + "polietness: {delay: 1}\n", "unknown keys"),
    (LOGIN.replace("auth:\n  login: {url: /login,", "auth:\n  login: {password: hunter2, url: /login,"),
     "credentials never go in a profile"),
    (LOGIN.replace(f"onions: [{A}", f"onions: [{A[:-8]}aaaa.onion"), "not a valid v3 onion"),
    ("name: x\nonions: []\npoliteness: {delay: 1}\n", "lists its onion addresses"),
    (f"name: x\nonions: [{A}]\nauth:\n  cookies: {{file: /nonexistent/cookies.txt}}\n", "does not exist"),
    (f"name: x\nonions: [{A}]\nwalls: [{{name: paywall, signals: [{{css: 'div[['}}], triggers: [pay]}}]\n",
     "bad CSS selector"),
])
def test_a_bad_profile_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ProfileError, match=message) as exc:
        load_profiles([write(tmp_path, "broken", text)])
    assert "broken.yaml" in str(exc.value)


def test_two_profiles_cannot_claim_one_onion(tmp_path: Path) -> None:
    write(tmp_path, "one", LOGIN)
    write(tmp_path, "two", LOGIN.replace("name: market", "name: other"))
    with pytest.raises(ProfileError, match="already in"):
        load_profiles([tmp_path])


def test_files_with_only_other_tools_keys_are_not_crawl_profiles(tmp_path: Path) -> None:
    write(tmp_path, "extract-only", "extract: {listing: {title: h1}}\n")
    assert load_profiles([tmp_path, tmp_path / "missing"]).profiles == []


def test_a_secrets_file_must_be_private(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("user: analyst\npassword: s3cret\n")
    text = LOGIN.replace('form: "form#login"}', f'form: "form#login", credentials: {{file: {secrets}}}}}')
    profiles = load_profiles([write(tmp_path / "p", "market", text)])
    assert profiles.secret_names() == []
    secrets.chmod(0o644)
    with pytest.raises(ProfileError, match="readable by others"):
        profiles.resolve({})
    secrets.chmod(0o600)
    assert profiles.resolve({})["market"].user.reveal() == "analyst"


def test_cookie_import_netscape_and_header() -> None:
    jar = (f"# Netscape HTTP Cookie File\n#HttpOnly_{A}\tFALSE\t/\tTRUE\t0\tsid\tabc\n"
           f".example.com\tTRUE\t/\tFALSE\t0\ttrack\tx\n{B}\tFALSE\t/forum\tFALSE\t1999999999\tpref\tdark\n")
    cookies = parse_cookies(jar, (A, B), "jar")
    assert [(c.domain, c.name, c.value, c.path) for c in cookies] == [(A, "sid", "abc", "/"), (B, "pref", "dark", "/forum")]
    assert not any(c.secure for c in cookies)  # onion pages are a secure context: sent over http
    header = parse_cookies("Cookie: sid=abc; theme=dark", (A,), "env")
    assert [(c.name, c.value) for c in header] == [("sid", "abc"), ("theme", "dark")]
    with pytest.raises(ProfileError, match="no cookies for this site"):
        parse_cookies(".example.com\tTRUE\t/\tFALSE\t0\ttrack\tx\n", (A,), "jar")
    with pytest.raises(ProfileError, match="7 tab-separated"):
        parse_cookies(f"{A}\tFALSE\t/\n", (A,), "jar")


PAGES = {
    "seized": ("<title>THIS HIDDEN SITE HAS BEEN SEIZED</title><img src=/seal.png alt='FBI seal'>"
               "<h1>This hidden site has been seized</h1><p>by the Federal Bureau of Investigation and Europol "
               "pursuant to a seizure warrant.</p>"),
    "seized_de": "<title>Beschlagnahmt</title><p>Diese Plattform wurde durch das Bundeskriminalamt beschlagnahmt. ZIT, Generalstaatsanwaltschaft Frankfurt.</p>",
    "seized_zh": "<title>本网站已被查封</title><p>本网站已被依法查封。公安部 网络安全保卫局</p>",
    "seized_th": "<title>เว็บไซต์นี้ถูกยึด</title><p>เว็บไซต์นี้ถูกยึดโดย Royal Thai Police</p>",
    "news": ("<title>Police take down darknet market</title><p>The FBI and Europol said the market was seized "
             "after a two-year investigation; officers seized servers and 12 kg of drugs.</p>"),
    "captcha": "<form method=post><img src='/captcha.png'><input name=captcha_code><p>Enter the characters shown</p></form>",
    "queue": "<meta http-equiv='refresh' content='5'><p>You are in the queue. Your position: 4. You will be redirected.</p>",
    "js": "<script src='/app.js'></script><div id=root></div><noscript>Please enable JavaScript.</noscript>",
    "login": "<h1>Members only</h1><form><input name=u><input type=password name=p><button>Log in</button></form>",
    "forum_thread": "<h1>Opsec: captchas and logins</h1>" + "<p>Why does every market use a captcha? Log in via Tor only.</p>" * 80,
}


@pytest.mark.parametrize("name, expected", [
    ("seized", "seized"), ("seized_de", "seized"), ("seized_zh", "seized"), ("seized_th", "seized"),
    ("news", None), ("captcha", "captcha"), ("queue", "queue"), ("js", "js_required"), ("login", "login_required"),
    ("forum_thread", None),
])
def test_wall_rules(name: str, expected: str | None) -> None:
    v = RULES.classify(200, {}, f"http://{A}/", f"<html><body>{PAGES[name]}</body></html>".encode())
    assert (v.wall if v else None) == expected, v


def test_rate_limits_and_how_long_to_wait() -> None:
    v = RULES.classify(429, {"Retry-After": "7"}, f"http://{A}/", b"<p>Too many requests</p>")
    assert v is not None and v.wall == "rate_limited"
    resp = HtmlResponse(f"http://{A}/", status=429, headers={"Retry-After": "7"}, body=b"x")
    assert wait_seconds(resp, v.rule.wait) == 7
    assert wait_seconds(HtmlResponse(f"http://{A}/", status=429, headers={"Retry-After": "600"}, body=b"x"), v.rule.wait) == 30
    refresh = HtmlResponse(f"http://{A}/", body=b"<meta http-equiv='refresh' content='3; url=/'>queue")
    assert wait_seconds(refresh, {"default": 5, "max": 30}) == 3


@pytest.mark.parametrize("path, never", [
    ("/logout", True), ("/account/logout?x=1", True), ("/buy/ketamine-20g", True), ("/vote/12?up=1", True),
    ("/messages/send?to=a", True), ("/post/3/delete", True), ("/cart/add?id=1", True), ("/?action=buy&id=2", True),
    ("/thread/ban-vay-te-te", False), ("/rules", False), ("/listing/buy-guide", False), ("/category/drugs", False),
    ("/board/offers?page=2", False), ("/vendor/siamchem", False),
])
def test_links_never_followed(path: str, never: bool) -> None:
    import re

    assert any(re.search(p, path.lower()) for p in RULES.never_follow) == never


# -- the lab's gates, called directly -----------------------------------------------------------

@pytest.fixture(scope="module")
def apps() -> dict:
    from lab.content import page_url
    from lab.onions import typo_onion
    from lab.routing import SiteApp
    from lab.specs import load_sites

    specs = load_sites(options=("walls",))
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(specs[0].root / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["typo_onion"] = typo_onion
    env.globals["page_url"] = page_url
    ctx = SimpleNamespace(onion_of={s.name: fake_onion(s.name) for s in specs}, env=env, dropin=None)
    return {s.name: SiteApp(s, ctx) for s in specs if s.option == "walls"}


def call(app, target: str, method: str = "GET", cookies: dict | None = None, form: dict | None = None):
    from urllib.parse import urlencode

    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in (cookies or {}).items())}
    resp = app.handle(target, method, headers, urlencode(form or {}).encode())
    return resp, b"".join(resp.body).decode()


def cookie_of(resp) -> tuple[str, str]:
    name, _, rest = resp.headers["Set-Cookie"].partition("=")
    return name, rest.split(";", 1)[0]


def test_login_gate_sessions_expire_and_accounts_lock(apps: dict) -> None:
    app = apps["market-login"]
    assert call(app, "/")[0].headers["Location"] == "/login?next=/"
    assert call(app, "/register", "POST", form={"username": "gate1", "password": "password 1", "password2": "password 1"})[0].status == 302
    page, text = call(app, "/login")
    pre = cookie_of(page)
    import re

    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', text).group(1)
    ok, _ = call(app, "/login", "POST", cookies=dict([pre]), form={"csrf": csrf, "username": "gate1", "password": "password 1"})
    assert ok.status == 302 and cookie_of(ok)[0] == "sid"
    sid = dict([cookie_of(ok)])
    n = app.spec.data["gate"]["session_requests"]
    assert all(call(app, "/escrow", cookies=sid)[0].status == 200 for _ in range(n))
    assert call(app, "/escrow", cookies=sid)[0].status == 302  # the session expired
    expired, text = call(app, "/listing/ketamine-20g", cookies=sid)
    assert expired.status == 200 and "session has expired" in text and 'id="login"' in text  # the form in place
    for _ in range(3):  # a wrong password three times locks the account
        page, text = call(app, "/login")
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', text).group(1)
        last, body = call(app, "/login", "POST", cookies=dict([cookie_of(page)]),
                          form={"csrf": csrf, "username": "gate1", "password": "wrong"})
    assert last.status == 403 and "locked" in body


def test_captcha_gate_and_its_static_image(apps: dict) -> None:
    app = apps["forum-captcha"]
    page, text = call(app, "/board/offers")
    assert RULES.classify(page.status, page.headers, "http://x/board/offers", text.encode()).wall == "captcha"
    image = app.handle("/captcha.png")
    assert image.content_type == "image/png" and b"".join(image.body).startswith(b"\x89PNG")
    wrong, _ = call(app, "/captcha", "POST", form={"captcha_code": "nope"})
    assert wrong.status == 200
    solved, _ = call(app, "/captcha", "POST", form={"captcha_code": app.spec.data["gate"]["answer"].lower()})
    assert solved.status == 302
    inside, text = call(app, "/board/offers", cookies=dict([cookie_of(solved)]))
    assert inside.status == 200 and "Vendor offers" in text
    assert RULES.classify(200, {}, "http://x/board/offers", text.encode()) is None


def test_rate_gate_refuses_past_its_burst(apps: dict) -> None:
    app = apps["ratelimit"]
    statuses = [call(app, "/about")[0].status for _ in range(6)]
    assert statuses[0] == 200 and 429 in statuses
    assert call(app, "/api/feed")[0].headers["Retry-After"] == "30"
