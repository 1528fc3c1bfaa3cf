"""Lab site specs: what each sample site is (role, title, pages, collections, hostile cases).

Everything a lab site says is data under configs/lab (``sites/*.yaml``, ``bulk.yaml``); this
module only turns those files into `SiteSpec`s, so adding a site or a hostile case is a
YAML edit, and the ground truth (lab.truth) and the server (lab.routing) read the same specs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

import configs

ROLES = frozenset({"directory", "market", "forum", "leak", "news", "hostile", "bulk",
                   # walled sites (lab.gates), served with the lab option "walls"
                   "market-login", "forum-captcha", "queue", "seized", "js-required", "rate-limited"})
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def default_configs_dir() -> Path:
    """configs/lab in force now (honours $ONIONWATCH_CONFIGS)."""
    return configs.path("lab")


@dataclass(frozen=True)
class Case:
    """A documented behaviour at `path`, with the outcome a correct crawler records for it."""

    path: str
    kind: str
    expect: str
    note: str = ""
    link: str = ""
    prefix: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)

    def matches(self, path: str) -> bool:
        return path.startswith(self.path) if self.prefix else path == self.path


@dataclass(frozen=True, eq=False)
class SiteSpec:
    name: str
    role: str
    title: str
    lang: str
    description: str
    root: Path
    data: Mapping[str, Any] = field(default_factory=dict)
    pages: tuple[Mapping[str, Any], ...] = ()
    collections: tuple[Mapping[str, Any], ...] = ()
    cases: tuple[Case, ...] = ()
    option: str = ""  # a lab option (e.g. "walls"): served only when the lab is started with it


def _spec_from(raw: Mapping[str, Any], root: Path) -> SiteSpec:
    if raw.get("role") not in ROLES:
        raise ValueError(f"site {raw.get('name')!r}: role must be one of {sorted(ROLES)}")
    cases = tuple(
        Case(c["path"], c["kind"], c["expect"], c.get("note", ""), c.get("link", c["path"]),
             bool(c.get("prefix")), c.get("params", {}))
        for c in raw.get("cases", ())
    )
    return SiteSpec(
        name=raw["name"], role=raw["role"], title=raw["title"], lang=raw.get("lang", "en"),
        description=raw.get("description", ""), root=root, data=raw.get("data", {}),
        pages=tuple(raw.get("pages", ())), collections=tuple(raw.get("collections", ())),
        cases=cases, option=str(raw.get("option") or ""),
    )


def load_sites(configs_dir: Path | None = None, options: tuple[str, ...] = ()) -> list[SiteSpec]:
    """The fixed lab sites, one per `<configs_dir>/sites/*.yaml` (default: configs/lab); a site
    that belongs to a lab option (`option:`) only when that option is asked for."""
    root = Path(configs_dir or default_configs_dir())
    specs = [_spec_from(read_yaml(p), root) for p in sorted((root / "sites").glob("*.yaml"))]
    specs = [s for s in specs if not s.option or s.option in options]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate site names in {root}")
    return specs


def bulk_sites(n_onions: int, pages_per_onion: int, *, seed: int = 0,
               configs_dir: Path | None = None) -> list[SiteSpec]:
    """Synthetic benchmark sites; their pages are generated per request from `seed`, never stored."""
    root = Path(configs_dir or default_configs_dir())
    cfg = read_yaml(root / "bulk.yaml")
    return [
        SiteSpec(name=f"bulk-{i:03d}", role="bulk", title=f"{cfg['title']} #{i}", lang="en",
                 description=cfg["description"], root=root,
                 data={"index": i, "n_onions": n_onions, "pages": pages_per_onion, "seed": seed,
                       "fanout": int(cfg.get("fanout", 20))})
        for i in range(n_onions)
    ]


def known_specs(root: Path, onion_of: Mapping[str, str]) -> list[SiteSpec]:
    """The sites a directory can list: the fixed ones plus any `bulk-NNN` named in `onion_of`."""
    specs = load_sites(root)
    bulk = [int(m[1]) for n in onion_of if (m := re.fullmatch(r"bulk-(\d+)", n))]
    if bulk:
        specs += bulk_sites(max(bulk) + 1, 1, configs_dir=root)
    return specs


def read_yaml(path: Path) -> Any:
    """Parse once per file version: a listing file is re-read when it changes (a file dropped
    in or edited is served from the next request), not on every request."""
    st = path.stat()
    return _parse_yaml(path, st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=4096)
def _parse_yaml(path: Path, mtime_ns: int, size: int) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
