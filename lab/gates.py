"""Walled lab sites: what real onion sites put in front of their content, played on loopback.

- ``market-login``: registration and a login form (CSRF token bound to a cookie), sessions
  that expire after a number of pages (then a redirect to the login form, or the form in
  place on listing pages), an account locked after repeated failed logins, accounts whose
  sessions never hold (user names starting ``loop-``: every page goes back to the login
  form), and links a crawler must never follow (log out, buy, vote, send a message);
- ``forum-captcha``: a static-image captcha in front of every page (unsolvable by design: the
  answer is in the lab's data, as a human would read it); solving it sets a session cookie;
- ``queue``: an EndGame-style queue: a waiting page with a meta refresh and a cookie, and the
  content once that cookie is old enough; one prefix whose queue never lets anybody in;
- ``seized``: a law-enforcement seizure banner on every page (or, while the drop-in file
  ``<dropin>/<site>/state.yaml`` says ``seized: false``, the site's content as before);
- ``js-required``: an app shell that shows nothing without JavaScript;
- ``rate-limited``: a token bucket per site (HTTP 429 + Retry-After when empty) and one path
  that is always rate limited.

Each gate's settings are the site spec's ``data.gate`` (configs/lab/sites/*.yaml); the
content behind a gate is the site's ordinary pages and collections (lab.routing).
"""

from __future__ import annotations

import secrets
import struct
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from lab.responses import HTML, Response, html
from lab.specs import read_yaml

if TYPE_CHECKING:
    from lab.routing import SiteApp

ROLES = frozenset({"market-login", "forum-captcha", "queue", "seized", "js-required", "rate-limited"})


@dataclass
class Call:
    """One HTTP request as a gate sees it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def cookies(self) -> dict[str, str]:
        jar = SimpleCookie()
        try:
            jar.load(self.headers.get("Cookie") or self.headers.get("cookie") or "")
        except Exception:  # noqa: BLE001 — a malformed header is no cookie
            return {}
        return {k: m.value for k, m in jar.items()}

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8", "replace")).items()}

    @property
    def target(self) -> str:
        q = "&".join(f"{k}={quote(v[0])}" for k, v in self.query.items())
        return self.path + (f"?{q}" if q else "")


def _cookie(name: str, value: str, *, max_age: int | None = None) -> dict[str, str]:
    extra = f"; Max-Age={max_age}" if max_age is not None else ""
    return {"Set-Cookie": f"{name}={value}; Path=/; HttpOnly{extra}"}


def redirect(location: str, headers: Mapping[str, str] | None = None, status: int = 302) -> Response:
    return Response(status, HTML, [b""], 0, {"Location": location, **(headers or {})})


def with_headers(resp: Response, headers: Mapping[str, str]) -> Response:
    resp.headers.update(headers)
    return resp


class Gate:
    """Base: the site's settings, a lock for its state, and its content behind the gate."""

    def __init__(self, app: SiteApp) -> None:
        self.app = app
        self.spec = app.spec
        self.cfg: Mapping[str, Any] = self.spec.data.get("gate") or {}
        self.lock = threading.Lock()

    def content(self, call: Call) -> Response:
        return self.app._route(call.path, call.query)

    def page(self, template: str, status: int = 200, **ctx: Any) -> Response:
        return html(self.app._render(template, gate=self.cfg, **ctx), status)

    def handle(self, call: Call) -> Response:  # pragma: no cover — every gate overrides it
        raise NotImplementedError


class LoginGate(Gate):
    """Members-only market: register, log in, expiring sessions, lockout, never-follow links."""

    def __init__(self, app: SiteApp) -> None:
        super().__init__(app)
        self.accounts: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.tokens: set[str] = set()
        self.actions: list[str] = []  # destructive links that were followed (a crawler must not)

    def _form(self, call: Call, *, nxt: str = "", error: str = "", status: int = 200, notice: str = "") -> Response:
        token = secrets.token_hex(8)
        with self.lock:
            self.tokens.add(token)
        resp = self.page("gates/login.html.j2", status, csrf=token, next=nxt, error=error, notice=notice)
        return with_headers(resp, _cookie("pre", token))

    def _session(self, call: Call) -> dict[str, Any] | None:
        sid = call.cookies.get("sid")
        with self.lock:
            s = self.sessions.get(sid or "")
            if s is None or s["left"] <= 0 or s["expires"] < time.time():
                return None
            s["left"] -= 1
            return s

    def handle(self, call: Call) -> Response:
        cfg = self.cfg
        login_path, register_path = cfg.get("login_path", "/login"), cfg.get("register_path", "/register")
        if call.path == login_path:
            return self._login(call) if call.method == "POST" else self._form(call, nxt=call.query.get("next", [""])[0])
        if call.path == register_path:
            return self._register(call) if call.method == "POST" else self.page("gates/register.html.j2")
        if call.path == "/logout":
            with self.lock:
                self.sessions.pop(call.cookies.get("sid", ""), None)
                self.actions.append(call.target)
            return redirect(login_path, _cookie("sid", "", max_age=0))
        if any(call.path.startswith(p) for p in cfg.get("actions", ())):
            with self.lock:
                self.actions.append(call.target)
            return self.page("gates/done.html.j2", action=call.path)
        if self._session(call) is None:
            if any(call.path.startswith(p) for p in cfg.get("inline_login", ())):
                return self._form(call, nxt=call.target, notice="Your session has expired. Please log in again.")
            return redirect(f"{login_path}?next={quote(call.target)}")
        return self.content(call)

    def _register(self, call: Call) -> Response:
        f = call.form
        user, password = f.get("username", "").strip(), f.get("password", "")
        with self.lock:
            if not user or len(password) < 8 or user in self.accounts or password != f.get("password2", password):
                return self.page("gates/register.html.j2", 400, error="Choose another name and a password of 8+ characters.")
            self.accounts[user] = {"password": password, "failures": 0, "locked": False}
        return redirect(self.cfg.get("login_path", "/login"))

    def _login(self, call: Call) -> Response:
        f = call.form
        user, password = f.get("username", ""), f.get("password", "")
        with self.lock:
            csrf_ok = f.get("csrf") and f.get("csrf") == call.cookies.get("pre") and f["csrf"] in self.tokens
            self.tokens.discard(f.get("csrf", ""))
            account = self.accounts.get(user)
            if account and account["locked"]:
                return self.page("gates/locked.html.j2", 403)
            if not csrf_ok:
                error = "Form expired, please try again."
            elif account is None or account["password"] != password:
                error = "Invalid username or password."
                if account is not None:
                    account["failures"] += 1
                    if account["failures"] >= int(self.cfg.get("lock_after", 3)):
                        account["locked"] = True
                        return self.page("gates/locked.html.j2", 403)
            else:
                account["failures"] = 0
                sid = secrets.token_hex(16)
                never = user.startswith("loop-")  # a broken site: the session never holds
                self.sessions[sid] = {"user": user, "left": 0 if never else int(self.cfg.get("session_requests", 10)),
                                      "expires": time.time() + float(self.cfg.get("session_seconds", 3600))}
                nxt = f.get("next") or "/"
                return redirect(nxt if nxt.startswith("/") else "/", _cookie("sid", sid))
        return self._form(call, nxt=f.get("next", ""), error=error)


class CaptchaGate(Gate):
    """Every page is a static-image captcha until the visitor's cookie says it was solved."""

    def __init__(self, app: SiteApp) -> None:
        super().__init__(app)
        self.solved: set[str] = set()

    def handle(self, call: Call) -> Response:
        name = self.cfg.get("cookie", "fsess")
        if call.path == "/captcha.png":
            data = captcha_png()
            return Response(200, "image/png", [data], len(data))
        if call.path == "/captcha" and call.method == "POST":
            if call.form.get("captcha_code", "").strip().upper() == str(self.cfg["answer"]).upper():
                token = secrets.token_hex(16)
                with self.lock:
                    self.solved.add(token)
                return redirect(call.form.get("next") or "/", _cookie(name, token))
            return self.page("gates/captcha.html.j2", 200, next=call.form.get("next", "/"), error="Wrong code.")
        with self.lock:
            ok = call.cookies.get(name) in self.solved
        if ok:
            return self.content(call)
        return self.page("gates/captcha.html.j2", 200, next=call.target, error="")


class QueueGate(Gate):
    """EndGame-style: wait in the queue (a cookie with the time you joined), then get in."""

    def __init__(self, app: SiteApp) -> None:
        super().__init__(app)
        self.joined: dict[str, float] = {}
        self.passed: set[str] = set()

    def handle(self, call: Call) -> Response:
        cfg = self.cfg
        wait, refresh = float(cfg.get("wait_seconds", 4)), int(cfg.get("refresh_seconds", 2))
        cookies = call.cookies
        never = any(call.path.startswith(p) for p in cfg.get("never", ()))
        with self.lock:
            if not never and cookies.get("egp") in self.passed:
                return self.content(call)
            token = cookies.get("eg")
            joined = self.joined.get(token or "")
            if joined is None:
                token = secrets.token_hex(12)
                self.joined[token] = joined = time.time()
                set_cookie = _cookie("eg", token)
            else:
                set_cookie = {}
            if not never and time.time() - joined >= wait:
                pass_token = secrets.token_hex(12)
                self.passed.add(pass_token)
                return with_headers(self.content(call), _cookie("egp", pass_token))
        position = 400 if never else max(1, int(wait - (time.time() - joined)) + 1)
        return with_headers(self.page("gates/queue.html.j2", 200, refresh=refresh, position=position), set_cookie)


class SeizedGate(Gate):
    """A seizure banner on every page; the site's own content while its drop-in state says
    ``seized: false`` (so a test can watch a live site being seized)."""

    def live(self) -> bool:
        dropin = self.app.lab.dropin
        if dropin is None:
            return False
        state = dropin / self.spec.name / "state.yaml"
        return state.exists() and (read_yaml(state) or {}).get("seized") is False

    def handle(self, call: Call) -> Response:
        if self.live():
            return self.content(call)
        if call.path.endswith((".png", ".jpg")):
            data = captcha_png()
            return Response(200, "image/png", [data], len(data))
        return self.page("gates/seized.html.j2", 200)


class JsGate(Gate):
    """A single-page app: every path is the same shell, empty without JavaScript."""

    def handle(self, call: Call) -> Response:
        if call.path.endswith(".js"):
            data = b"document.getElementById('app').textContent = 'Loading market...';"
            return Response(200, "application/javascript", [data], len(data))
        return self.page("gates/spa.html.j2", 200)


class RateGate(Gate):
    """A token bucket per site (``burst`` requests, one more every ``refill`` seconds) and
    paths that are always over the limit."""

    def __init__(self, app: SiteApp) -> None:
        super().__init__(app)
        self.tokens = float(self.cfg.get("burst", 3))
        self.at = time.monotonic()

    def handle(self, call: Call) -> Response:
        cfg = self.cfg
        if any(call.path.startswith(p) for p in cfg.get("always", ())):
            return self._limited(int(cfg.get("always_retry_after", 30)))
        burst, refill = float(cfg.get("burst", 3)), float(cfg.get("refill", 1.0))
        with self.lock:
            now = time.monotonic()
            self.tokens = min(burst, self.tokens + (now - self.at) / refill)
            self.at = now
            if self.tokens < 1:
                return self._limited(max(1, int(refill * (1 - self.tokens)) + 1))
            self.tokens -= 1
        return self.content(call)

    def _limited(self, retry_after: int) -> Response:
        return with_headers(self.page("gates/ratelimit.html.j2", 429, retry_after=retry_after),
                            {"Retry-After": str(retry_after)})


GATES: dict[str, type[Gate]] = {
    "market-login": LoginGate, "forum-captcha": CaptchaGate, "queue": QueueGate, "seized": SeizedGate,
    "js-required": JsGate, "rate-limited": RateGate,
}


def gate_for(app: SiteApp) -> Gate | None:
    """The gate of a walled site, None for an open one."""
    cls = GATES.get(app.spec.role)
    return cls(app) if cls else None


def captcha_png(width: int = 120, height: int = 40) -> bytes:
    """A static noise image standing in for a captcha (nobody is meant to read it)."""
    rows = []
    for y in range(height):
        rows.append(b"\x00" + bytes(((x * 7 + y * 13) ^ (x * y)) & 0xFF for x in range(width)))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b"")
