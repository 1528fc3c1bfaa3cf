"""Walls and seizure banners: pages that stand in front of a site's content (a captcha, an
EndGame-style queue, "JavaScript required", a login form, a rate-limit notice) or replace it
(a law-enforcement seizure banner). They are recognised by rules kept as data
(configs/walls.yaml, configs/seizure.yaml) and become named outcomes on the page record,
never page content.

A rule is a list of weighted *signals* (a CSS selector that matches, a regex on the visible
text, the title, the raw HTML or the URL path, an HTTP status, a response header); a page is
behind the wall when the weights of the signals it shows reach the rule's ``threshold`` and
its visible text is short (``max_text``: a long page that merely talks about captchas or
seizures is content). Every rule also lists ``triggers``, lower-case substrings of which one
must occur in the raw body (or a status it names must be the response's) before the page is
parsed at all, so ordinary pages cost a substring scan, not a parse.

This module reads no settings and makes no requests: ``WallRules.classify`` takes what a
response is (status, headers, URL, body) and returns a ``Verdict`` (or None).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import lxml.html
import yaml
from cssselect import SelectorError
from lxml import etree
from lxml.cssselect import CSSSelector

import configs

SEIZED = "seized"
WALLS_FILE = "walls.yaml"
SEIZURE_FILE = "seizure.yaml"
SIGNAL_KINDS = ("css", "text", "title", "html", "url", "status", "header")
SCAN_BYTES = 256 * 1024  # wall pages are small; only this much of a body is looked at
_INVISIBLE = ("script", "style", "template", "svg")  # noscript stays: "please enable JavaScript" lives there
_SPACES = re.compile(r"\s+")


class RuleError(ValueError):
    """A wall or seizure rule that cannot work as written (bad selector, bad regex, bad key)."""


@dataclass(frozen=True)
class Signal:
    kind: str
    label: str
    weight: float
    pattern: Any  # compiled regex, CSSSelector, set of statuses, or (header name, regex | None)

    def shown_by(self, page: PageView) -> bool:
        if self.kind == "status":
            return page.status in self.pattern
        if self.kind == "header":
            name, rx = self.pattern
            value = page.headers.get(name)
            return value is not None and (rx is None or bool(rx.search(value)))
        if self.kind == "url":
            return bool(self.pattern.search(page.target))
        if self.kind == "css":
            root = page.root
            return root is not None and bool(self.pattern(root))
        if self.kind == "title":
            return bool(self.pattern.search(page.title))
        if self.kind == "text":
            return bool(self.pattern.search(page.text))
        return bool(self.pattern.search(page.html))  # html


@dataclass(frozen=True)
class Rule:
    """One wall: its signals, the score that makes a page this wall, and the text cap."""

    name: str
    signals: tuple[Signal, ...]
    threshold: float
    max_text: int
    triggers: tuple[str, ...]
    statuses: frozenset[int]
    description: str = ""
    wait: Mapping[str, Any] = field(default_factory=dict)

    def may_match(self, status: int, lowered: str) -> bool:
        return status in self.statuses or any(t in lowered for t in self.triggers)

    def score(self, page: PageView) -> tuple[float, list[str]]:
        total, shown = 0.0, []
        for s in self.signals:
            if s.shown_by(page):
                total += s.weight
                shown.append(s.label)
        return total, shown


@dataclass(frozen=True)
class Verdict:
    """A page recognised as a wall (or a seizure banner): which, and the signals it showed."""

    wall: str
    score: float
    evidence: tuple[str, ...]
    rule: Rule


class PageView:
    """What the rules look at, computed lazily (most pages never need a parse)."""

    def __init__(self, status: int, headers: Mapping[str, str], url: str, body: bytes, encoding: str = "utf-8"):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        parts = urlsplit(url)
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.html = body[:SCAN_BYTES].decode(encoding or "utf-8", "replace")
        self.lowered = self.html.lower()
        self._parsed = False
        self._root: Any = None
        self._title = ""
        self._text = ""

    def _parse(self) -> None:
        if self._parsed:
            return
        self._parsed = True
        if not self.html.strip():
            return
        try:
            root = lxml.html.document_fromstring(self.html)
        except (etree.ParserError, ValueError):
            return
        self._root = root
        t = root.find(".//title")
        self._title = _SPACES.sub(" ", t.text_content()).strip() if t is not None else ""
        body = root.find("body")
        texts = []
        for el in (body if body is not None else root).iter():
            if el.tag in _INVISIBLE or not isinstance(el.tag, str):
                continue
            if el.text and el.getparent() is not None and not _inside(el, _INVISIBLE):
                texts.append(el.text)
            if el.tail and el.getparent() is not None and not _inside(el.getparent(), _INVISIBLE):
                texts.append(el.tail)
        self._text = _SPACES.sub(" ", " ".join(texts)).strip()

    @property
    def root(self) -> Any:
        self._parse()
        return self._root

    @property
    def title(self) -> str:
        self._parse()
        return self._title

    @property
    def text(self) -> str:
        self._parse()
        return self._text


def _inside(el: Any, tags: tuple[str, ...]) -> bool:
    while el is not None:
        if el.tag in tags:
            return True
        el = el.getparent()
    return False


# -- building rules from data ---------------------------------------------------------------

def _regex(value: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(value)
    except re.error as exc:
        raise RuleError(f"{where}: bad regular expression {value!r}: {exc}") from exc


def css_selector(value: str, where: str) -> CSSSelector:
    """A compiled CSS selector, or a RuleError naming where it came from."""
    try:
        return CSSSelector(value, translator="html")
    except (SelectorError, etree.XPathSyntaxError, ValueError) as exc:
        raise RuleError(f"{where}: bad CSS selector {value!r}: {exc}") from exc


def _signal(raw: Mapping[str, Any], where: str) -> Signal:
    kinds = [k for k in SIGNAL_KINDS if k in raw]
    unknown = set(raw) - set(SIGNAL_KINDS) - {"weight", "label"}
    if len(kinds) != 1 or unknown:
        raise RuleError(f"{where}: a signal has exactly one of {SIGNAL_KINDS} (and weight, label); got {sorted(raw)}")
    kind = kinds[0]
    value = raw[kind]
    weight = float(raw.get("weight", 1))
    label = str(raw.get("label") or f"{kind}:{value}")
    if kind == "css":
        pattern: Any = css_selector(str(value), where)
    elif kind == "status":
        pattern = frozenset(int(v) for v in (value if isinstance(value, list) else [value]))
    elif kind == "header":
        if isinstance(value, str):
            value = {"name": value}
        rx = _regex(str(value["match"]), where) if value.get("match") else None
        pattern = (str(value["name"]).lower(), rx)
        label = str(raw.get("label") or f"header:{value['name']}")
    else:
        pattern = _regex(str(value), where)
    return Signal(kind, label, weight, pattern)


def build_rule(raw: Mapping[str, Any], where: str) -> Rule:
    """A Rule from its YAML mapping (configs/walls.yaml or a site profile's ``walls``)."""
    allowed = {"name", "description", "signals", "threshold", "max_text", "triggers", "wait"}
    if not isinstance(raw, Mapping) or not raw.get("name"):
        raise RuleError(f"{where}: a wall rule needs a name")
    extra = set(raw) - allowed
    if extra:
        raise RuleError(f"{where} ({raw['name']}): unknown keys {sorted(extra)}; allowed {sorted(allowed)}")
    signals = tuple(_signal(s, f"{where} ({raw['name']})") for s in raw.get("signals") or ())
    if not signals:
        raise RuleError(f"{where} ({raw['name']}): no signals")
    statuses = frozenset(v for s in signals if s.kind == "status" for v in s.pattern)
    triggers = tuple(str(t).lower() for t in raw.get("triggers") or ())
    if not triggers and not statuses:
        raise RuleError(f"{where} ({raw['name']}): give triggers (substrings that must occur before a parse)")
    return Rule(name=str(raw["name"]), signals=signals, threshold=float(raw.get("threshold", 1)),
                max_text=int(raw.get("max_text", 4000)), triggers=triggers, statuses=statuses,
                description=str(raw.get("description") or ""), wait=dict(raw.get("wait") or {}))


def seizure_rule(raw: Mapping[str, Any], where: str) -> Rule:
    """configs/seizure.yaml → one Rule named ``seized``: multilingual phrases (in the title
    they weigh more), agency names, legal wording and banner structure, each a signal."""
    signals: list[Signal] = []
    w = raw.get("weights") or {}
    for lang, phrases in (raw.get("phrases") or {}).items():
        alt = "|".join(re.escape(p) if not p.startswith("re:") else p[3:] for p in phrases)
        rx = _regex(f"(?i)(?:{alt})", f"{where} phrases.{lang}")
        signals.append(Signal("text", f"phrase:{lang}", float(w.get("phrase", 3)), rx))
        signals.append(Signal("title", f"title:{lang}", float(w.get("title", 2)), rx))
    for agency in raw.get("agencies") or ():
        names = agency["names"] if isinstance(agency, Mapping) else [agency]
        label = names[0]
        alt = "|".join(re.escape(n) for n in names)
        signals.append(Signal("text", f"agency:{label}", float(w.get("agency", 1)),
                              _regex(rf"(?<![\w]){alt}(?![\w])", f"{where} agencies")))
    for i, raw_sig in enumerate(raw.get("signals") or ()):
        signals.append(_signal(raw_sig, f"{where} signals[{i}]"))
    triggers = tuple(str(t).lower() for t in raw.get("triggers") or ())
    if not signals or not triggers:
        raise RuleError(f"{where}: the seizure rule needs phrases (or signals) and triggers")
    return Rule(name=SEIZED, signals=tuple(signals), threshold=float(raw.get("threshold", 5)),
                max_text=int(raw.get("max_text", 6000)), triggers=triggers, statuses=frozenset(),
                description=str(raw.get("description") or ""))


class WallRules:
    """Every wall rule in force: the seizure rule first, then configs/walls.yaml's in order,
    then any a site profile adds. ``classify`` returns the best-scoring rule over its
    threshold."""

    def __init__(self, rules: Iterable[Rule], never_follow: Iterable[str] = (), login_redirect: str | None = None) -> None:
        self.rules = tuple(rules)
        self.never_follow = tuple(never_follow)
        self.login_redirect = login_redirect

    @classmethod
    def load(cls, configs_dir: Path | None = None) -> WallRules:
        root = Path(configs_dir or configs.root())
        walls = _read(root / WALLS_FILE)
        seizure = _read(root / SEIZURE_FILE)
        rules = [seizure_rule(seizure, SEIZURE_FILE)] if seizure else []
        rules += [build_rule(r, WALLS_FILE) for r in walls.get("walls") or ()]
        names = [r.name for r in rules]
        if len(set(names)) != len(names):
            raise RuleError(f"{WALLS_FILE}: duplicate wall names {names}")
        never = [str(p) for p in walls.get("never_follow") or ()]
        for p in never:
            _regex(p, f"{WALLS_FILE} never_follow")
        login_redirect = walls.get("login_redirect")
        if login_redirect:
            _regex(str(login_redirect), f"{WALLS_FILE} login_redirect")
        return cls(rules, never, str(login_redirect) if login_redirect else None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.rules)

    def rule(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)

    def with_extra(self, extra: Iterable[Rule]) -> WallRules:
        """These rules plus a site's own (a site rule of the same name is tried first)."""
        extra = tuple(extra)
        return WallRules(extra + self.rules, self.never_follow, self.login_redirect)

    def classify(self, status: int, headers: Mapping[str, str], url: str, body: bytes,
                 encoding: str = "utf-8") -> Verdict | None:
        page = PageView(status, headers, url, body, encoding)
        best: Verdict | None = None
        for rule in self.rules:
            if not rule.may_match(status, page.lowered):
                continue
            score, shown = rule.score(page)
            if score < rule.threshold:
                continue
            if page.root is not None and len(page.text) > rule.max_text:
                continue
            if best is None or score - rule.threshold > best.score - best.rule.threshold:
                best = Verdict(rule.name, score, tuple(shown), rule)
        return best


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise RuleError(f"{path.name}: expected a mapping")
    return data


def wall_names(configs_dir: Path | None = None) -> tuple[str, ...]:
    """Every wall name the shipped rules can put on a record (for the failure registry's checks)."""
    return WallRules.load(configs_dir).names
