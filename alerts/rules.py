"""Alert rules and where they deliver: the shipped configs/alerts.yaml with the
installation's own <home>/alerts.yaml merged over it.

A rule is a search in the `onionwatch search` language; a channel is a spec
(``webhook:URL``, ``email:ADDR``, ``jsonl:PATH``, ``stdout``) or the name of a list of them.
The caller says where the configs and the home directory are: nothing here reads settings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

import configs

CONFIG_FILE = "alerts.yaml"
CHANNEL_KINDS = ("webhook", "email", "jsonl", "stdout")
# What a rule watches: new pages, new listings, identifiers on an onion they were not on
# before, vendors on an onion (market) they were not on before (alerts/listings.py).
TARGETS = ("pages", "listings", "identifiers", "vendors", "services")


class AlertConfigError(ValueError):
    """A rule or channel that cannot work as written."""


@dataclass(frozen=True)
class Rule:
    """One alert rule; the filters mean what they mean in `onionwatch search`."""

    name: str
    query: str = ""
    categories: tuple[str, ...] = ()
    entity_labels: tuple[str, ...] = ()
    lang: tuple[str, ...] = ()
    onions: tuple[str, ...] = ()
    new_pages_only: bool = False
    channels: tuple[str, ...] = ()
    description: str = ""
    target: str = "pages"
    vendors: tuple[str, ...] = ()  # listings/vendors: only these vendors (names as written)
    identifiers: tuple[str, ...] = ()  # identifiers: values (an address, a key fingerprint, a handle)
    identifier_hashes: tuple[str, ...] = ()  # identifiers: keyed hashes, for personal values kept out of files
    statuses: tuple[str, ...] = ()  # services: a status the service took (e.g. seized; alerts/services.py)
    failures: tuple[str, ...] = ()  # services: an outcome its last fetch ended in (e.g. account_locked)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "Rule":
        def tup(key: str) -> tuple[str, ...]:
            value = raw.get(key) or ()
            return (value,) if isinstance(value, str) else tuple(str(v) for v in value)

        if not raw.get("name"):
            raise AlertConfigError(f"rule without a name: {raw}")
        target = str(raw.get("target") or "pages")
        if target not in TARGETS:
            raise AlertConfigError(f"rule {raw['name']!r}: target must be one of {TARGETS}, not {target!r}")
        if target in ("identifiers", "vendors") and not (raw.get("identifiers") or raw.get("identifier_hashes")
                                                         or raw.get("vendors")):
            raise AlertConfigError(f"rule {raw['name']!r}: a {target} rule names what to watch "
                                   f"({'identifiers or identifier_hashes' if target == 'identifiers' else 'vendors'})")
        if target == "services" and not (raw.get("statuses") or raw.get("failures")):
            raise AlertConfigError(f"rule {raw['name']!r}: a services rule names statuses (e.g. seized) or failures")
        return cls(name=str(raw["name"]), query=str(raw.get("query") or ""), categories=tup("categories"),
                   entity_labels=tup("entity_labels") or tup("entities"), lang=tup("lang"), onions=tup("onions"),
                   new_pages_only=bool(raw.get("new_pages_only", False)), channels=tup("channels"),
                   description=str(raw.get("description") or ""), target=target, vendors=tup("vendors"),
                   identifiers=tup("identifiers"), identifier_hashes=tup("identifier_hashes"),
                   statuses=tup("statuses"), failures=tup("failures"))

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()
                if v not in ("", ()) and not (k == "target" and v == "pages")}


@dataclass
class AlertConfig:
    rules: list[Rule]
    home: Path
    channels: dict[str, list[str]] = field(default_factory=dict)
    smtp: dict[str, Any] = field(default_factory=dict)

    def rule(self, name: str) -> Rule:
        for r in self.rules:
            if r.name == name:
                return r
        raise AlertConfigError(f"no rule named {name!r}; known: {[r.name for r in self.rules]}")

    def resolve(self, specs: tuple[str, ...] | list[str], _depth: int = 0) -> list[str]:
        """Channel specs with named channels expanded and ``{home}`` filled in; validated."""
        out: list[str] = []
        for spec in specs:
            if spec in self.channels and _depth < 3:
                out += self.resolve(self.channels[spec], _depth + 1)
                continue
            spec = spec.replace("{home}", str(self.home))
            kind, _, target = spec.partition(":")
            if kind not in CHANNEL_KINDS or (kind != "stdout" and not target):
                raise AlertConfigError(f"bad channel {spec!r}: use webhook:URL, email:ADDR, jsonl:PATH or stdout")
            out.append(spec)
        return list(dict.fromkeys(out))


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise AlertConfigError(f"{path}: expected a mapping")
    return data


def local_config_path(home: Path) -> Path:
    return Path(home) / CONFIG_FILE


def load_config(configs_dir: Path | None = None, *, home: Path) -> AlertConfig:
    """`<configs_dir>/alerts.yaml` (default: the configs in force) with <home>/alerts.yaml
    merged over it: channels and smtp keys override, rules of the same name replace."""
    shipped = _read_yaml(Path(configs_dir or configs.root()) / CONFIG_FILE)
    local = _read_yaml(local_config_path(home))
    rules: dict[str, Rule] = {}
    for raw in (shipped.get("rules") or []) + (local.get("rules") or []):
        rule = Rule.from_dict(raw)
        rules[rule.name] = rule
    cfg = AlertConfig(list(rules.values()), Path(home),
                      {**(shipped.get("channels") or {}), **(local.get("channels") or {})},
                      {**(shipped.get("smtp") or {}), **(local.get("smtp") or {})})
    for r in cfg.rules:
        cfg.resolve(r.channels)
    return cfg


def add_rule(rule: Rule, home: Path) -> Path:
    """Store a rule in <home>/alerts.yaml (replacing one of the same name). Owner-only: a
    webhook URL may carry a token."""
    path = local_config_path(home)
    data = _read_yaml(path)
    data["rules"] = [r for r in data.get("rules") or [] if r.get("name") != rule.name] + [rule.to_dict()]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)
    return path
