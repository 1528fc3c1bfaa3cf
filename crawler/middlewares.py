"""Downloader middlewares: the Tor route and the onion-only policy are enforced here,
for every request any spider makes (start requests, links, redirects, retries); site
profiles (logins, cookies, links never followed) and walls are handled here too."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import threading
import time
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

from form2request import form2request
from scrapy import Request
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.downloadermiddlewares.redirect import (
    MetaRefreshMiddleware,
    RedirectMiddleware,
)
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import TextResponse
from scrapy.http.cookies import CookieJar

from crawler.onion import onion_of_url
from crawler.profiles import Profile, load_profiles
from crawler.tor import CIRCUIT_REASONS, TorSocksError, host_digest, newnym
from crawler.walls import Verdict, WallRules

logger = logging.getLogger(__name__)


class PolicyRefused(IgnoreRequest):
    """Refused before any packet left: `reason` is the named outcome on the record."""

    def __init__(self, reason: str, message: str, target: str | None = None) -> None:
        self.reason = reason
        self.target = target
        super().__init__(message)


class Blocklist:
    """Onion addresses never to request, stored as hex MD5 or SHA-256 of the host
    (the form Ahmia publishes), so the list itself doesn't spread the addresses."""

    def __init__(self, hashes: set[str]) -> None:
        self.hashes = {h.strip().lower() for h in hashes if h.strip()}

    @classmethod
    def from_files(cls, paths: list[str]) -> Blocklist:
        hashes: set[str] = set()
        for path in paths:
            p = Path(path)
            if p.exists():
                for line in p.read_text().splitlines():
                    line = line.split("#", 1)[0].strip()
                    if line:
                        hashes.add(line)
        return cls(hashes)

    def blocked(self, onion: str) -> bool:
        data = onion.lower().encode()
        return (
            hashlib.md5(data).hexdigest() in self.hashes
            or hashlib.sha256(data).hexdigest() in self.hashes
        )


class TorRoutingMiddleware:
    """Last middleware before the download handler: onion-only, blocklist, no media,
    and a Tor SOCKS route with a stable onion → Tor instance mapping."""

    def __init__(self, settings) -> None:
        self.socks = settings.getlist("ONIONWATCH_TOR_SOCKS")
        if not self.socks:
            raise ValueError("ONIONWATCH_TOR_SOCKS is empty: the crawler has no Tor route")
        self.allow_clearnet = settings.getbool("ONIONWATCH_ALLOW_CLEARNET")
        self.blocklist = Blocklist.from_files(
            settings.getlist("ONIONWATCH_BLOCKLIST_DEFAULT") + settings.getlist("ONIONWATCH_BLOCKLIST"))
        self.media_ext = tuple(settings.getlist("ONIONWATCH_MEDIA_EXTENSIONS"))
        self.max_url = settings.getint("URLLENGTH_LIMIT")

    @classmethod
    def from_crawler(cls, crawler):
        mw = cls(crawler.settings)
        mw.stats = crawler.stats
        return mw

    def instance_for(self, onion: str) -> int:
        digest = hashlib.sha256(onion.encode()).digest()
        return int.from_bytes(digest[:4], "big") % len(self.socks)

    def process_request(self, request):
        onion = onion_of_url(request.url)
        if onion is None and not self.allow_clearnet:
            reason = "offsite_redirect" if request.meta.get("redirect_urls") else "offsite"
            self.stats.inc_value(f"onionwatch/refused/{reason}")
            raise PolicyRefused(reason, "refused a request that would leave the onion space")
        if onion and self.blocklist.blocked(onion):
            self.stats.inc_value("onionwatch/refused/blocked")
            raise PolicyRefused("blocked", f"{host_digest(onion)} is on the blocklist")
        if len(request.url) > self.max_url:
            raise PolicyRefused("url_too_long", "URL longer than URLLENGTH_LIMIT")
        path = urlsplit(request.url).path.lower()
        if path.endswith(self.media_ext):
            self.stats.inc_value("onionwatch/refused/media")
            raise PolicyRefused("non_text_content", "media is not downloaded")
        index = self.instance_for(onion or "")
        request.meta["proxy"] = f"socks5h://{self.socks[index]}"
        request.meta["tor_instance"] = index


class _OnionOnlyRedirects:
    """Refuse an off-onion redirect where it is made, so it is recorded on the page that
    redirected (not lost to the dupefilter) and never reaches the scheduler."""

    def process_response(self, request, response):
        result = super().process_response(request, response)
        if (isinstance(result, Request) and onion_of_url(result.url) is None
                and not self.crawler.settings.getbool("ONIONWATCH_ALLOW_CLEARNET")):
            kind = (result.meta.get("redirect_reasons") or ["redirect"])[-1]
            self.crawler.stats.inc_value("onionwatch/refused/offsite_redirect")
            raise PolicyRefused("offsite_redirect", f"refused {kind} redirect off the onion space", result.url)
        return result


class OnionRedirectMiddleware(_OnionOnlyRedirects, RedirectMiddleware):
    pass


class OnionMetaRefreshMiddleware(_OnionOnlyRedirects, MetaRefreshMiddleware):
    pass


class DecompressionBomb(IgnoreRequest):
    """The body grew past DOWNLOAD_MAXSIZE while being decompressed."""

    reason = "decompression_bomb"


class BoundedHttpCompressionMiddleware(HttpCompressionMiddleware):
    """Scrapy's decompression, with its one refusal (the size cap, its only IgnoreRequest)
    named as a failure reason."""

    def process_response(self, request, response):
        try:
            return super().process_response(request, response)
        except IgnoreRequest as exc:
            raise DecompressionBomb(str(exc)) from exc


class TorFailureMiddleware:
    """Retries circuit-level onion failures and asks Tor for new circuits (NEWNYM)
    after repeated ones; a missing descriptor is final, not retried."""

    def __init__(self, settings, stats) -> None:
        self.controls = settings.getlist("ONIONWATCH_TOR_CONTROL")
        self.threshold = settings.getint("ONIONWATCH_NEWNYM_AFTER")
        self.stats = stats
        self.consecutive: dict[int, int] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_crawler(cls, crawler):
        mw = cls(crawler.settings, crawler.stats)
        mw.crawler = crawler
        return mw

    def process_response(self, request, response):
        self.consecutive[request.meta.get("tor_instance", 0)] = 0
        return response

    def process_exception(self, request, exception):
        err = _find(exception, TorSocksError)
        if err is None:
            return None
        self.stats.inc_value(f"onionwatch/socks/{err.reason}")
        if err.reason not in CIRCUIT_REASONS:
            return None
        index = request.meta.get("tor_instance", 0)
        with self._lock:
            self.consecutive[index] = self.consecutive.get(index, 0) + 1
            trip = self.consecutive[index] >= self.threshold
            if trip:
                self.consecutive[index] = 0
        if trip and index < len(self.controls):
            threading.Thread(target=self._newnym, args=(index,), daemon=True).start()
        return get_retry_request(request, spider=self.crawler.spider, reason=err.reason)

    def _newnym(self, index: int) -> None:
        host, _, port = self.controls[index].rpartition(":")
        try:
            if newnym(int(port), host or "127.0.0.1"):
                self.stats.inc_value("onionwatch/newnym")
        except Exception as exc:  # control port trouble must not kill the crawl
            logger.warning("NEWNYM on Tor instance %d failed: %s", index, exc)


def _find(exc: BaseException | None, kind: type) -> BaseException | None:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, kind):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


# -- site profiles, sessions and walls ---------------------------------------------------------
#
# SiteSessions is the crawl's runtime view of the site profiles (crawler.profiles) and the
# wall rules (crawler.walls): per-onion cookie jars, the login state machine, and what a
# response is (a page, a wall, a lost session). Two downloader middlewares use it:
# SiteSessionMiddleware (650: before the redirect middleware sees a response, so a redirect
# to a login form is caught at the URL that was asked for) and WallMiddleware (585: after
# decompression, before the meta-refresh middleware, so a queue page's refresh is ours to
# handle); WallSpiderMiddleware turns a marked response's record into a wall record.

INTERNAL = "onionwatch_internal"  # a login request or a re-ask while queued: not a page of the crawl
WALL = "onionwatch_wall"
WALL_EVIDENCE = "onionwatch_wall_evidence"
_SESSION_GEN = "onionwatch_session_gen"
_RELOGINS = "onionwatch_relogins"
WAITING_WALLS = ("queue", "rate_limited")
# A page asked again after this many re-logins is recorded as login_required; a site where no
# page gets through after logging in is stopped sooner, by the profile's max_lost_in_a_row.
MAX_RELOGINS_PER_PAGE = 4
_REDIRECTS = (301, 302, 303, 307, 308)
_REFRESH_RE = re.compile(rb"""(?i)<meta[^>]+http-equiv=["']?refresh["']?[^>]*content=["']?\s*(\d+(?:\.\d+)?)""")


class LoginFailed(IgnoreRequest):
    """The site's login form refused the credentials (given up after the profile's max_failures)."""

    reason = "login_failed"


class AccountLocked(LoginFailed):
    """The site says the account is locked, suspended or disabled: no further login attempts."""

    reason = "account_locked"


class LoginLoop(LoginFailed):
    """Every page goes back to the login form even right after logging in: stopped."""

    reason = "login_loop"


class _OnionCookiePolicy(DefaultCookiePolicy):
    """Like a browser on .onion: a Secure cookie is sent over http:// to an onion service
    (Tor Browser treats onion services as a secure context)."""

    def return_ok_secure(self, cookie, request) -> bool:
        host = (getattr(request, "host", "") or "").split(":", 1)[0].lower()
        return host.endswith(".onion") or super().return_ok_secure(cookie, request)


class _Session:
    """One onion's session: cookies, whether we are logged in, and the counters that bound
    logging in (attempts, failures in a row, sessions lost right after a login)."""

    def __init__(self, jar: CookieJar | None) -> None:
        self.jar = jar
        self.lock = asyncio.Lock()
        self.logged_in = False
        self.generation = 0
        self.logins = 0
        self.failures = 0
        self.lost_in_a_row = 0
        self.gave_up: type[LoginFailed] | None = None
        self.gave_up_msg = ""


class SiteSessions:
    """Profiles, wall rules and per-onion sessions of one crawl (one instance per crawler).

    Settings: ONIONWATCH_SITES (profile directories), ONIONWATCH_SITE_SECRETS ({environment
    variable name: value} for the credentials and cookies the profiles name; values are
    crawler.profiles.Secret), ONIONWATCH_WALLS (recognise walls; default on),
    ONIONWATCH_QUEUE_MAX_WAIT and ONIONWATCH_RATE_LIMIT_MAX_WAIT (seconds one request may wait
    in a queue or for a rate limit to lift)."""

    _instances: ClassVar[weakref.WeakKeyDictionary] = weakref.WeakKeyDictionary()

    @classmethod
    def of(cls, crawler) -> SiteSessions:
        found = cls._instances.get(crawler)
        if found is None:
            found = cls._instances[crawler] = cls(crawler)
        return found

    def __init__(self, crawler) -> None:
        s = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.profiles = load_profiles(s.getlist("ONIONWATCH_SITES"))
        secrets = s.get("ONIONWATCH_SITE_SECRETS") or {}
        self.credentials = self.profiles.resolve(secrets)
        self.imported = {p.name: self.profiles.cookies(p, secrets) for p in self.profiles.profiles
                         if p.cookie_file or p.cookie_env}
        self.rules = WallRules.load(s.get("ONIONWATCH_WALLS_CONFIG") or None)
        self.enabled = s.getbool("ONIONWATCH_WALLS", True)
        self.never = tuple(re.compile(p) for p in self.rules.never_follow)
        self.login_redirect = re.compile(self.rules.login_redirect) if self.rules.login_redirect else None
        self.max_wait = {"queue": s.getfloat("ONIONWATCH_QUEUE_MAX_WAIT", 120.0),
                         "rate_limited": s.getfloat("ONIONWATCH_RATE_LIMIT_MAX_WAIT", 60.0)}
        self.sessions: dict[str, _Session] = {}
        self._said: set[tuple[str, str]] = set()

    # -- per-onion state ---------------------------------------------------------------------
    def session(self, onion: str, *, cookies: bool = False) -> _Session | None:
        """The onion's session; created for a profiled onion, or (``cookies``) for one whose
        wall needs cookies kept (a queue). Other onions get none: no cookies are kept."""
        st = self.sessions.get(onion)
        if st is not None:
            if cookies and st.jar is None:
                st.jar = CookieJar(policy=_OnionCookiePolicy())
            return st
        profile = self.profiles.get(onion)
        if profile is None and not cookies:
            return None
        keep = cookies or (profile is not None and profile.keeps_cookies)
        st = self.sessions[onion] = _Session(CookieJar(policy=_OnionCookiePolicy()) if keep else None)
        for cookie in self.imported.get(profile.name, []) if profile else []:
            if cookie.domain == onion:
                st.jar.jar.set_cookie(cookie)
        return st

    def say_once(self, onion: str, key: str, message: str, *args) -> None:
        if (onion, key) not in self._said:
            self._said.add((onion, key))
            logger.warning(message, *args)

    def excluded(self, url: str, onion: str, *, link: bool = False) -> bool:
        """Links never followed anywhere (configs/walls.yaml never_follow), then the profile's
        exclude patterns; for links (not seeds) also its include patterns."""
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lowered = target.lower()
        if any(p.search(lowered) for p in self.never):
            return True
        profile = self.profiles.get(onion)
        if profile is None:
            return False
        if link:
            return not profile.follows(target)
        return any(p.search(target) for p in profile.exclude)

    def classify(self, response, onion: str) -> Verdict | None:
        if not self.enabled:
            return None
        profile = self.profiles.get(onion)
        rules = self.rules.with_extra(profile.walls) if profile and profile.walls else self.rules
        headers = {k.decode("latin-1"): v[-1].decode("latin-1") for k, v in response.headers.items() if v}
        encoding = getattr(response, "encoding", None) or "utf-8"
        return rules.classify(response.status, headers, response.url, response.body, encoding)

    def slow_down(self, request: Request, seconds: float) -> None:
        _slow_down(self.crawler, request, seconds)

    async def download(self, request: Request):
        """A request through every downloader middleware (redirects followed), not scheduled."""
        return await self.crawler.engine.download_async(request)

    # -- login -------------------------------------------------------------------------------
    def _give_up(self, onion: str, st: _Session, kind: type[LoginFailed], message: str) -> LoginFailed:
        st.gave_up, st.gave_up_msg, st.logged_in = kind, message, False
        self.stats.inc_value(f"onionwatch/login/{kind.reason}")
        self.say_once(onion, "login", "%s", message)
        return kind(message)

    async def ensure_login(self, onion: str, profile: Profile) -> _Session:
        st = self.session(onion)
        assert st is not None
        if st.logged_in:
            return st
        async with st.lock:
            if st.gave_up is not None:
                raise st.gave_up(st.gave_up_msg)
            if not st.logged_in:
                await self._login(onion, profile, st)
        return st

    async def _login(self, onion: str, profile: Profile, st: _Session) -> None:
        """Log in, trying again at once after a refusal (a form that expired while other
        pages set new cookies looks like one) up to the profile's max_failures in a row."""
        while True:
            refused = await self._login_once(onion, profile, st)
            if refused is None:
                return
            st.failures += 1
            self.stats.inc_value("onionwatch/login/refused")
            if st.failures >= profile.max_failures:
                raise self._give_up(onion, st, LoginFailed, f"{refused}; {st.failures} failed logins in a row: giving up")
            logger.debug("%s (%d of at most %d)", refused, st.failures, profile.max_failures)

    async def _login_once(self, onion: str, profile: Profile, st: _Session) -> str | None:
        """One login; None when it worked, else why it was refused."""
        login = profile.login
        assert login is not None
        site = f"site {profile.name} ({onion[:12]}…)"
        if st.logins >= profile.max_logins:
            raise self._give_up(onion, st, LoginLoop, f"{site}: logged in {st.logins} times in this crawl "
                                                      f"(session.max_logins): not logging in again")
        st.logins += 1
        self.stats.inc_value("onionwatch/login/attempts")
        creds = self.credentials[profile.name]
        meta = {INTERNAL: True, "dont_retry": True, "handle_httpstatus_all": True}
        page = await self.download(Request(urljoin(f"http://{onion}/", login.url), dont_filter=True, meta=dict(meta)))
        forms = page.css(login.form) if isinstance(page, TextResponse) else []
        if not forms:
            return f"{site}: no login form ({login.form}) at {login.url}"
        data = {**login.fields, login.user_field: creds.user.reveal(), login.password_field: creds.password.reveal()}
        try:
            form = form2request(forms[0], data).to_scrapy(callback=None, dont_filter=True, meta=dict(meta))
        except ValueError as exc:
            return f"{site}: cannot submit the login form: {exc}"
        result = await self.download(form)
        text = result.text if isinstance(result, TextResponse) else ""
        if login.locked.search(text):
            exc = self._give_up(onion, st, AccountLocked, f"{site}: the account is locked: no further login attempts")
            exc.response = result
            raise exc
        refused = (login.failed.search(text) if login.failed else None) or (
            isinstance(result, TextResponse) and result.css(login.form)) or result.status >= 400
        if refused:
            return f"{site}: the login was refused (HTTP {result.status})"
        st.logged_in, st.failures = True, 0
        st.generation += 1
        self.stats.inc_value("onionwatch/login/ok")
        if st.logins > 1:
            self.stats.inc_value("onionwatch/login/relogins")
        logger.info("%s: logged in%s", site, f" again (login {st.logins})" if st.logins > 1 else "")
        return None

    def lost(self, profile: Profile, response, verdict: Verdict | None) -> bool:
        """A logged-in page that shows the login form (or the profile's marker) instead."""
        if verdict is not None and verdict.wall == "login_required":
            return True
        if not isinstance(response, TextResponse):
            return False
        if profile.lost_selector and response.css(profile.lost_selector):
            return True
        return bool(profile.lost_marker and profile.lost_marker.search(response.text))

    def session_lost(self, request: Request, response, onion: str, profile: Profile, why: str):
        """Log in again and ask for the page once more; bounded (see the profile's session.*)."""
        st = self.session(onion)
        assert st is not None
        self.stats.inc_value("onionwatch/login/session_lost")
        if request.meta.get(_SESSION_GEN) in (None, st.generation) and st.logged_in:
            st.logged_in = False
            st.lost_in_a_row += 1
        site = f"site {profile.name} ({onion[:12]}…)"
        if st.lost_in_a_row > profile.max_lost_in_a_row and st.gave_up is None:
            raise self._give_up(onion, st, LoginLoop, f"{site}: every page goes back to the login form even right after "
                                                      f"logging in ({st.logins} logins): stopped crawling it")
        if st.gave_up is not None:
            raise st.gave_up(st.gave_up_msg)
        tries = request.meta.get(_RELOGINS, 0)
        if tries >= MAX_RELOGINS_PER_PAGE:  # this page keeps showing the login form: record it as walled
            return self.mark(request, response, Verdict("login_required", 0.0, (why,), None))  # type: ignore[arg-type]
        logger.debug("%s: session lost (%s) at %s", site, why, request.url)
        meta = {k: v for k, v in request.meta.items() if k not in (WALL, WALL_EVIDENCE)}
        meta[_RELOGINS] = tries + 1
        return request.replace(dont_filter=True, meta=meta)

    # -- walls -------------------------------------------------------------------------------
    def mark(self, request: Request, response, verdict: Verdict):
        """Let a wall response reach the spider whatever its status, to be recorded as the
        wall (WallSpiderMiddleware), never redirected or retried."""
        request.meta.update({WALL: verdict.wall, WALL_EVIDENCE: list(verdict.evidence),
                             "handle_httpstatus_all": True, "dont_redirect": True, "dont_retry": True})
        self.stats.inc_value(f"onionwatch/walls/{verdict.wall}")
        return response if response.request is request else response.replace(request=request)

    async def wait_out(self, request: Request, response, verdict: Verdict, onion: str):
        """A queue or a rate limit: wait as the page says (meta refresh, Retry-After, the
        rule's default) and ask again, until it lets us through or the crawl's time bound
        for this wall is spent. Returns (response, verdict or None when let through)."""
        limit = self.max_wait.get(verdict.wall, 60.0)
        started = time.monotonic()
        if verdict.wall == "queue":  # queues admit by cookie: keep this onion's cookies from now on
            st = self.session(onion, cookies=True)
            st.jar.extract_cookies(response, request)
        else:
            self.slow_down(request, wait_seconds(response, verdict.rule.wait if verdict.rule else {}))
        while True:
            delay = wait_seconds(response, verdict.rule.wait if verdict.rule else {})
            if time.monotonic() - started + delay > limit:
                break
            await asyncio.sleep(delay)
            self.stats.inc_value(f"onionwatch/walls/{verdict.wall}_asked_again")
            again = request.replace(dont_filter=True, meta={**request.meta, INTERNAL: True})
            try:
                fresh = await self.download(again)
            except Exception as exc:  # noqa: BLE001 — the wall verdict stands
                logger.debug("asking %s again failed: %s", request.url, exc)
                break
            if not isinstance(fresh, TextResponse):
                return fresh.replace(request=request), None
            new = self.classify(fresh, onion)
            response = fresh.replace(request=request)
            if new is None or new.wall != verdict.wall:
                self.stats.inc_value(f"onionwatch/walls/{verdict.wall}_passed")
                return response, new
            verdict = new
        self.say_once(onion, verdict.wall, "%s… still behind a %s wall after %.0f s: recorded as %s",
                      onion[:12], verdict.wall, time.monotonic() - started, verdict.wall)
        return response, verdict


def _slow_down(crawler, request: Request, seconds: float) -> None:
    """A site that rate-limits us gets one request at a time from now on, at least
    ``seconds`` apart (capped at 5 s), in its download slot."""
    downloader = crawler.engine.downloader
    slot = downloader.slots.get(downloader.get_slot_key(request))
    if slot is not None and (slot.concurrency > 1 or slot.delay < min(seconds, 5.0)):
        slot.concurrency = 1
        slot.delay = max(slot.delay, min(seconds, 5.0))
        crawler.stats.inc_value("onionwatch/walls/rate_limited_slowed_down")


def wait_seconds(response, wait: Mapping[str, Any]) -> float:
    """How long a queue or rate-limit page asks us to wait: Retry-After (seconds or an HTTP
    date), else its meta refresh, else the rule's default; between 0.5 s and the rule's max."""
    longest = float(wait.get("max", 30))
    seconds: float | None = None
    value = (response.headers.get(b"Retry-After") or b"").decode("latin-1").strip()
    if value:
        if value.isdigit():
            seconds = float(value)
        else:
            try:
                seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
            except (TypeError, ValueError):
                seconds = None
    if seconds is None:
        m = _REFRESH_RE.search(response.body[:65536])
        if m:
            seconds = float(m.group(1))
    if seconds is None:
        seconds = float(wait.get("default", 5))
    return min(max(seconds, 0.5), longest)


class SiteSessionMiddleware:
    """Per onion, before anything else sees a response: links never to follow are refused,
    a profiled site is logged in before its first page (and again when the session is lost),
    cookies are kept for profiled onions and queues, and a redirect to a login form is
    caught at the URL that was asked for (a lost session, or login_required without one)."""

    def __init__(self, sessions: SiteSessions) -> None:
        self.sessions = sessions

    @classmethod
    def from_crawler(cls, crawler):
        return cls(SiteSessions.of(crawler))

    async def process_request(self, request: Request) -> None:
        onion = onion_of_url(request.url)
        if onion is None:
            return
        ss = self.sessions
        internal = request.meta.get(INTERNAL)
        if not internal and ss.excluded(request.url, onion):
            ss.stats.inc_value("onionwatch/refused/excluded")
            raise PolicyRefused("excluded", "a link never followed (log out, delete, vote, buy, send…) "
                                            "or excluded by the site's profile")
        profile = ss.profiles.get(onion)
        st = ss.session(onion)
        if profile is not None and profile.login is not None and not internal:
            st = await ss.ensure_login(onion, profile)
            request.meta[_SESSION_GEN] = st.generation
        if st is not None and st.jar is not None:
            request.headers.pop(b"Cookie", None)  # a redirect copies the old header: the jar decides
            st.jar.add_cookie_header(request)
        return

    def process_response(self, request: Request, response):
        onion = onion_of_url(request.url)
        if onion is None:
            return response
        ss = self.sessions
        st = ss.sessions.get(onion)
        if st is not None and st.jar is not None:
            st.jar.extract_cookies(response, request)
        if request.meta.get(INTERNAL) or response.status not in _REDIRECTS or not ss.enabled:
            return response
        location = (response.headers.get(b"Location") or b"").decode("latin-1")
        parts = urlsplit(urljoin(request.url, location))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        profile = ss.profiles.get(onion)
        if profile is not None and profile.login is not None and profile.lost_redirect is not None:
            if profile.lost_redirect.search(target) and onion_of_url(parts.geturl()) == onion:
                return ss.session_lost(request, response, onion, profile, "redirect to the login form")
            return response
        if ss.login_redirect is not None and ss.login_redirect.search(target.lower()):
            return ss.mark(request, response, Verdict("login_required", 0.0, ("redirect to a login form",), None))  # type: ignore[arg-type]
        return response


class WallMiddleware:
    """Every page of the crawl is looked at once (after decompression): a wall is waited out
    when it can be (queue, rate limit) or marked for the spider to record as the wall; on a
    profiled site, a login form where content should be means the session was lost."""

    def __init__(self, sessions: SiteSessions) -> None:
        self.sessions = sessions

    @classmethod
    def from_crawler(cls, crawler):
        return cls(SiteSessions.of(crawler))

    async def process_response(self, request: Request, response):
        if request.meta.get(INTERNAL) or request.meta.get(WALL) or not isinstance(response, TextResponse):
            return response
        try:
            return await self._look(request, response)
        except IgnoreRequest:
            raise
        except Exception:  # a bug here must not cost the page: keep it as it came, and say so
            logger.exception("wall check failed for %s; the page is kept as it came", request.url)
            return response

    async def _look(self, request: Request, response):
        onion = onion_of_url(response.url) or onion_of_url(request.url)
        if onion is None:
            return response
        ss = self.sessions
        verdict = ss.classify(response, onion)
        profile = ss.profiles.get(onion)
        if profile is not None and profile.login is not None:
            st = ss.session(onion)
            if ss.lost(profile, response, verdict):
                return ss.session_lost(request, response, onion, profile, "login form on the page")
            if verdict is None and st is not None and st.logged_in:
                st.lost_in_a_row = 0
        if verdict is None:
            return response
        if verdict.wall in WAITING_WALLS:
            response, verdict = await ss.wait_out(request, response, verdict, onion)
            if verdict is None:
                return response
        if verdict.wall == "captcha" and profile is not None and (profile.cookie_file or profile.cookie_env):
            ss.say_once(onion, "captcha", "site %s (%s…): still a captcha with the profile's cookies: "
                        "the session cookie has expired; export a fresh one", profile.name, onion[:12])
        return ss.mark(request, response, verdict)


class WallSpiderMiddleware:
    """The spider's output for a wall response becomes a wall record (the name in `failure`
    and `wall`, the signals in `wall_evidence`, the raw body kept for its sealed snapshot,
    no text, title, links or tags) and no links are followed from it; links never to
    follow (and a profile's include/exclude) are dropped before they become requests."""

    def __init__(self, sessions: SiteSessions) -> None:
        self.sessions = sessions

    @classmethod
    def from_crawler(cls, crawler):
        return cls(SiteSessions.of(crawler))

    def _one(self, response, wall: str | None, item):
        if isinstance(item, Request):
            if wall:
                self.sessions.stats.inc_value("onionwatch/caps/wall_links")
                return None
            onion = onion_of_url(item.url)
            if onion and onion == onion_of_url(response.url) and self.sessions.excluded(item.url, onion, link=True):
                self.sessions.stats.inc_value("onionwatch/caps/excluded")
                return None
            return item
        if wall and isinstance(item, dict) and "url" in item:
            item.update(failure=wall, wall=wall, wall_evidence=list(response.meta.get(WALL_EVIDENCE) or []),
                        text="", links=[], onion_links=[], lang="und")
            self.sessions.stats.inc_value(f"onionwatch/failure/{wall}")
        return item

    def process_spider_output(self, response, result, spider=None):
        wall = response.meta.get(WALL)
        for item in result:
            out = self._one(response, wall, item)
            if out is not None:
                yield out

    async def process_spider_output_async(self, response, result, spider=None):
        wall = response.meta.get(WALL)
        async for item in result:
            out = self._one(response, wall, item)
            if out is not None:
                yield out
