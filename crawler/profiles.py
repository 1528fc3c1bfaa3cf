"""Site profiles: what the crawler knows about one onion site (and its mirrors), as data in
``configs/sites/<name>.yaml`` or the directories given by ``ONIONWATCH_SITES``.

A profile says how politely to crawl the site (delay and concurrent requests per onion),
which links to follow (include / exclude patterns, on top of the links never followed
anywhere: configs/walls.yaml ``never_follow``), how to get past its login (a cookie jar
exported from Tor Browser, or a login form filled with credentials from environment
variables or a secrets file) and how to tell that the session was lost. Secrets are never
in a profile: it names where they come from, and they are never logged.

Everything is checked when the crawl starts (``load_profiles`` + ``Profiles.resolve``): a
bad selector or pattern, an unknown key, an invalid onion address, a missing cookie file or
missing credentials is a ``ProfileError`` naming the file and the problem, before any
request is made. This module reads no environment: the composition root passes the values
of the environment variables the profiles name (``Profiles.secret_names``).
"""

from __future__ import annotations

import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.cookiejar import Cookie
from pathlib import Path
from typing import Any

import yaml

from crawler.onion import is_valid_v3
from crawler.walls import Rule, RuleError, build_rule, css_selector

# Top-level keys of a profile; other tools keep their own keys in the same files.
KEYS = {"name", "description", "onions", "politeness", "follow", "auth", "session", "walls"}
FOREIGN_KEYS = {"extract", "match", "fingerprint"}  # e.g. the listing extractor's rules
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class ProfileError(ValueError):
    """A site profile that cannot be used as written; raised before the crawl sends anything."""


class Secret:
    """A credential value that never shows itself in a repr, a log line or a settings dump."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


def env_stem(name: str) -> str:
    """ONIONWATCH_SITE_<NAME>: the profile name upper-cased, anything else made an underscore."""
    return "ONIONWATCH_SITE_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


@dataclass(frozen=True)
class Login:
    """A login form: fetched from ``url``, the form found by ``form`` (CSS), filled and posted."""

    url: str
    form: str
    user_field: str
    password_field: str
    fields: Mapping[str, str]
    user_env: str
    password_env: str
    secrets_file: Path | None
    locked: re.Pattern[str]
    failed: re.Pattern[str] | None


@dataclass(frozen=True)
class Profile:
    name: str
    source: Path
    onions: tuple[str, ...]
    delay: float | None = None
    concurrency: int | None = None
    include: tuple[re.Pattern[str], ...] = ()
    exclude: tuple[re.Pattern[str], ...] = ()
    cookie_file: Path | None = None
    cookie_env: str | None = None
    login: Login | None = None
    lost_redirect: re.Pattern[str] | None = None
    lost_selector: str | None = None
    lost_marker: re.Pattern[str] | None = None
    max_logins: int = 20
    max_failures: int = 3
    max_lost_in_a_row: int = 3
    walls: tuple[Rule, ...] = ()
    description: str = ""

    @property
    def keeps_cookies(self) -> bool:
        return bool(self.login or self.cookie_file or self.cookie_env)

    def follows(self, target: str) -> bool:
        """Whether a link (path + query) on this site is followed: it matches an include
        pattern (when there are any) and no exclude pattern."""
        if self.include and not any(p.search(target) for p in self.include):
            return False
        return not any(p.search(target) for p in self.exclude)

    def secret_names(self) -> list[str]:
        names = []
        if self.login and not self.login.secrets_file:
            names += [self.login.user_env, self.login.password_env]
        if self.cookie_env:
            names.append(self.cookie_env)
        return names


@dataclass(frozen=True)
class Credentials:
    user: Secret
    password: Secret


@dataclass
class Profiles:
    """Every profile in force, by onion."""

    profiles: list[Profile] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.by_onion: dict[str, Profile] = {}
        for p in self.profiles:
            for onion in p.onions:
                other = self.by_onion.get(onion)
                if other is not None:
                    raise ProfileError(f"{p.source}: onion {onion[:12]}… is already in {other.source} ({other.name})")
                self.by_onion[onion] = p
        names = [p.name for p in self.profiles]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ProfileError(f"several profiles are named {sorted(dupes)}: names must be unique")

    def get(self, onion: str) -> Profile | None:
        return self.by_onion.get(onion.lower())

    def secret_names(self) -> list[str]:
        """Environment variables the profiles take credentials or cookies from."""
        return list(dict.fromkeys(n for p in self.profiles for n in p.secret_names()))

    def resolve(self, secrets: Mapping[str, Any]) -> dict[str, Credentials]:
        """Credentials of every profile with a login, from ``secrets`` (environment values the
        caller read) or the profile's secrets file; a ProfileError when any is missing."""
        out: dict[str, Credentials] = {}
        problems = []
        for p in self.profiles:
            if p.login is None:
                continue
            if p.login.secrets_file:
                try:
                    out[p.name] = _read_secrets_file(p.login.secrets_file)
                except ProfileError as exc:
                    problems.append(f"{p.source}: {exc}")
                continue
            user, password = _secret(secrets.get(p.login.user_env)), _secret(secrets.get(p.login.password_env))
            missing = [n for n, v in ((p.login.user_env, user), (p.login.password_env, password)) if not v]
            if missing:
                problems.append(f"{p.source}: site {p.name!r} logs in but {' and '.join(missing)} "
                                f"{'is' if len(missing) == 1 else 'are'} not set (or give auth.login.credentials.file)")
                continue
            out[p.name] = Credentials(user, password)  # type: ignore[arg-type]
        for p in self.profiles:
            if p.cookie_env and not _secret(secrets.get(p.cookie_env)):
                problems.append(f"{p.source}: site {p.name!r} takes its cookies from {p.cookie_env}, which is not set")
        if problems:
            raise ProfileError("; ".join(problems))
        return out

    def cookies(self, profile: Profile, secrets: Mapping[str, Any]) -> list[Cookie]:
        """The cookies a profile imports (file and/or environment), for its own onions only."""
        found: list[Cookie] = []
        if profile.cookie_file:
            found += parse_cookies(_read_text(profile.cookie_file), profile.onions, str(profile.cookie_file))
        if profile.cookie_env:
            value = _secret(secrets.get(profile.cookie_env))
            found += parse_cookies(value.reveal() if value else "", profile.onions, profile.cookie_env)
        return found


def _secret(value: Any) -> Secret | None:
    if value is None:
        return None
    if isinstance(value, Secret):
        return value if value else None
    return Secret(str(value)) if str(value) else None


# -- loading ----------------------------------------------------------------------------------

def load_profiles(dirs: Iterable[str | Path]) -> Profiles:
    """Every ``*.yaml`` profile in the given directories (missing directories are skipped;
    a file with only other tools' keys is not a crawl profile)."""
    profiles = []
    for d in dirs:
        d = Path(d).expanduser()
        if not d.is_dir():
            continue
        for path in sorted(d.glob("*.yaml")):
            try:
                raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                raise ProfileError(f"{path}: cannot read: {exc}") from exc
            if raw is None:
                continue
            if not isinstance(raw, Mapping):
                raise ProfileError(f"{path}: a site profile is a mapping")
            if not (set(raw) & (KEYS - {"name", "description"})):
                continue  # e.g. only extraction rules
            profiles.append(parse_profile(raw, path))
    return Profiles(profiles)


def _regexes(values: Any, where: str) -> tuple[re.Pattern[str], ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    out = []
    for v in values:
        try:
            out.append(re.compile(str(v)))
        except re.error as exc:
            raise ProfileError(f"{where}: bad regular expression {v!r}: {exc}") from exc
    return tuple(out)


def _only(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    if not isinstance(raw, Mapping):
        raise ProfileError(f"{where}: expected a mapping")
    extra = set(raw) - allowed
    if extra:
        raise ProfileError(f"{where}: unknown keys {sorted(extra)} (allowed: {sorted(allowed)})")


def _path(value: Any, base: Path) -> Path:
    p = Path(str(value)).expanduser()
    return p if p.is_absolute() else (base / p)


def _selector(value: Any, where: str) -> str:
    try:
        css_selector(str(value), where)
    except RuleError as exc:
        raise ProfileError(str(exc)) from exc
    return str(value)


def parse_profile(raw: Mapping[str, Any], path: Path) -> Profile:
    """One profile from its YAML mapping; every problem is a ProfileError naming ``path``."""
    where = str(path)
    extra = set(raw) - KEYS - FOREIGN_KEYS
    extra = {k for k in extra if not str(k).startswith("x-")}
    if extra:
        raise ProfileError(f"{where}: unknown keys {sorted(extra)} (a profile has {sorted(KEYS)})")
    name = str(raw.get("name") or path.stem)
    if not _NAME_RE.match(name):
        raise ProfileError(f"{where}: name {name!r} must be lower-case letters, digits, - or _")
    onions = []
    for o in raw.get("onions") or ():
        host = str(o).strip().lower().removeprefix("http://").removeprefix("https://").split("/", 1)[0]
        if not host.endswith(".onion"):
            host += ".onion"
        if not is_valid_v3(host):
            raise ProfileError(f"{where}: {str(o)[:20]}… is not a valid v3 onion address")
        onions.append(host)
    if not onions:
        raise ProfileError(f"{where}: a site profile lists its onion addresses under `onions`")
    pol = raw.get("politeness") or {}
    _only(pol, {"delay", "concurrency"}, f"{where} politeness")
    delay = float(pol["delay"]) if pol.get("delay") is not None else None
    conc = int(pol["concurrency"]) if pol.get("concurrency") is not None else None
    if (delay is not None and delay < 0) or (conc is not None and conc < 1):
        raise ProfileError(f"{where} politeness: delay >= 0 and concurrency >= 1")
    follow = raw.get("follow") or {}
    _only(follow, {"include", "exclude"}, f"{where} follow")
    kwargs: dict[str, Any] = {
        "name": name, "source": path, "onions": tuple(onions), "delay": delay, "concurrency": conc,
        "include": _regexes(follow.get("include"), f"{where} follow.include"),
        "exclude": _regexes(follow.get("exclude"), f"{where} follow.exclude"),
        "description": str(raw.get("description") or ""),
    }
    auth = raw.get("auth") or {}
    _only(auth, {"cookies", "login"}, f"{where} auth")
    stem = env_stem(name)
    if auth.get("cookies"):
        ck = auth["cookies"]
        _only(ck, {"file", "env"}, f"{where} auth.cookies")
        if ck.get("file"):
            cookie_file = _path(ck["file"], path.parent)
            if not cookie_file.is_file():
                raise ProfileError(f"{where} auth.cookies.file: {cookie_file} does not exist "
                                   "(export the session's cookies from Tor Browser there)")
            kwargs["cookie_file"] = cookie_file
        if ck.get("env"):
            kwargs["cookie_env"] = f"{stem}_COOKIE" if ck["env"] is True else str(ck["env"])
    if auth.get("login"):
        kwargs["login"] = _login(auth["login"], stem, path, where)
    session = raw.get("session") or {}
    _only(session, {"lost", "max_logins", "max_failures", "max_lost_in_a_row"}, f"{where} session")
    lost = session.get("lost") or {}
    _only(lost, {"redirect", "selector", "marker"}, f"{where} session.lost")
    login: Login | None = kwargs.get("login")
    if lost.get("redirect"):
        kwargs["lost_redirect"] = _regexes(lost["redirect"], f"{where} session.lost.redirect")[0]
    elif login:
        kwargs["lost_redirect"] = re.compile(re.escape(login.url.split("?", 1)[0]))
    if lost.get("selector"):
        kwargs["lost_selector"] = _selector(lost["selector"], f"{where} session.lost.selector")
    elif login:
        kwargs["lost_selector"] = login.form
    if lost.get("marker"):
        kwargs["lost_marker"] = _regexes(lost["marker"], f"{where} session.lost.marker")[0]
    for key in ("max_logins", "max_failures", "max_lost_in_a_row"):
        if session.get(key) is not None:
            kwargs[key] = int(session[key])
            if kwargs[key] < 1:
                raise ProfileError(f"{where} session.{key} must be at least 1")
    try:
        kwargs["walls"] = tuple(build_rule(r, f"{where} walls") for r in raw.get("walls") or ())
    except RuleError as exc:
        raise ProfileError(str(exc)) from exc
    return Profile(**kwargs)


def _login(raw: Mapping[str, Any], stem: str, path: Path, where: str) -> Login:
    w = f"{where} auth.login"
    creds = raw.get("credentials") or {} if isinstance(raw, Mapping) else {}
    for key in ("user", "password", "username", "pass"):
        if (isinstance(raw, Mapping) and key in raw) or (isinstance(creds, Mapping) and key in creds):
            raise ProfileError(f"{w}: credentials never go in a profile: name the environment variables "
                               f"(credentials.user_env / password_env) or a secrets file (credentials.file)")
    _only(raw, {"url", "form", "user_field", "password_field", "fields", "credentials", "locked", "failed"}, w)
    for key in ("url", "form"):
        if not raw.get(key):
            raise ProfileError(f"{w}: `{key}` is required")
    _only(creds, {"user_env", "password_env", "file"}, f"{w}.credentials")
    secrets_file = _path(creds["file"], path.parent) if creds.get("file") else None
    if secrets_file is not None and not secrets_file.is_file():
        raise ProfileError(f"{w}.credentials.file: {secrets_file} does not exist")
    locked = raw.get("locked") or r"(?i)account (has been |is )?(temporarily )?(locked|suspended|disabled|banned)"
    return Login(
        url=str(raw["url"]), form=_selector(raw["form"], f"{w}.form"),
        user_field=str(raw.get("user_field") or "username"), password_field=str(raw.get("password_field") or "password"),
        fields={str(k): str(v) for k, v in (raw.get("fields") or {}).items()},
        user_env=str(creds.get("user_env") or f"{stem}_USER"),
        password_env=str(creds.get("password_env") or f"{stem}_PASSWORD"),
        secrets_file=secrets_file,
        locked=_regexes(locked, f"{w}.locked")[0],
        failed=_regexes(raw["failed"], f"{w}.failed")[0] if raw.get("failed") else None,
    )


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read: {exc}") from exc


def _read_secrets_file(path: Path) -> Credentials:
    """``user:`` and ``password:`` from a YAML file only its owner can read."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ProfileError(f"secrets file {path} is readable by others: chmod 600 it")
    data = yaml.safe_load(_read_text(path)) or {}
    if not isinstance(data, Mapping) or not data.get("user") or not data.get("password"):
        raise ProfileError(f"secrets file {path} needs `user:` and `password:`")
    return Credentials(Secret(str(data["user"])), Secret(str(data["password"])))


# -- cookies ----------------------------------------------------------------------------------

def _cookie(name: str, value: str, domain: str, path: str = "/", expires: int | None = None) -> Cookie:
    # .onion pages are a secure context (Tor Browser sends Secure cookies to http://*.onion),
    # so imported cookies are not marked secure: over http they would never be sent.
    return Cookie(0, name, value, None, False, domain, False, False, path or "/", True, False,
                  expires, expires is None, None, None, {})


def parse_cookies(text: str, onions: Iterable[str], where: str) -> list[Cookie]:
    """Cookies from a Netscape cookies.txt (tab-separated, as Tor Browser extensions export)
    or a ``Cookie: a=b; c=d`` header line, kept for the profile's onions only."""
    onions = tuple(onions)
    lines = [line.rstrip("\r") for line in text.splitlines() if line.strip()]
    header = [line for line in lines if not line.startswith("#") and "\t" not in line]
    out: list[Cookie] = []
    if header and not any("\t" in line for line in lines if not line.startswith("#")):
        value = header[0].split(":", 1)[1] if header[0].lower().startswith("cookie:") else header[0]
        pairs = [p.strip() for p in value.split(";") if p.strip()]
        for pair in pairs:
            name, sep, val = pair.partition("=")
            if not sep or not name.strip():
                raise ProfileError(f"{where}: not a Cookie header (`name=value; name2=value2`)")
            out += [_cookie(name.strip(), val.strip(), onion) for onion in onions]
        if not out:
            raise ProfileError(f"{where}: no cookies in it")
        return out
    for n, line in enumerate(lines, 1):
        if line.startswith("#HttpOnly_"):
            line = line[len("#HttpOnly_"):]
        elif line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 7:
            raise ProfileError(f"{where} line {n}: a Netscape cookie line has 7 tab-separated fields")
        domain, _flag, cpath, _secure, expires, name, value = parts
        host = domain.lstrip(".").lower()
        matches = [o for o in onions if o == host or o.endswith("." + host)]
        if not matches:
            continue  # another site's cookie: not ours to send
        exp = int(expires) if expires.strip().isdigit() and int(expires) > 0 else None
        out += [_cookie(name, value, onion, cpath, exp) for onion in matches]
    if not out:
        raise ProfileError(f"{where}: no cookies for this site's onions ({', '.join(o[:12] + '…' for o in onions)})")
    return out


def slot_settings(profiles: Profiles) -> dict[str, dict[str, Any]]:
    """Scrapy DOWNLOAD_SLOTS entries (one slot per onion host) for the profiles' politeness."""
    slots: dict[str, dict[str, Any]] = {}
    for p in profiles.profiles:
        if p.delay is None and p.concurrency is None:
            continue
        entry: dict[str, Any] = {}
        if p.concurrency is not None:
            entry["concurrency"] = p.concurrency
        if p.delay is not None:
            entry["delay"] = p.delay
            entry["randomize_delay"] = False
        for onion in p.onions:
            slots[onion] = dict(entry)
    return slots
