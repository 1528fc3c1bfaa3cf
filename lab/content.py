"""What a lab site's collections hold: items from its content folders (plus the running
lab's drop-in folder), inline items or the other lab onions, grouped into paged index pages.

Shared by the ground truth (lab.truth) and the server (lab.routing) so both list the same
pages. The drop-in folder is passed in by whoever serves the lab, never kept in a global:
tests add listings there while the lab runs, and configs/ is never written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from lab.specs import SiteSpec, read_yaml


def page_url(base: str, n: int) -> str:
    """Page `n` of a paged index at `base` (page 1 has no query)."""
    return base if n == 1 else f"{base}?page={n}"


def _lab_site_items(spec: SiteSpec, specs: Iterable[SiteSpec],
                    onion_of: Mapping[str, str]) -> list[dict[str, Any]]:
    return [
        {"slug": s.name, "name": s.name, "role": s.role, "title": s.title, "lang": s.lang,
         "description": s.description, "onion": onion_of[s.name]}
        for s in sorted(specs, key=lambda s: (s.role == "bulk", s.name))
        if s.name != spec.name and s.name in onion_of
    ]


def items(spec: SiteSpec, coll: Mapping[str, Any], specs: Iterable[SiteSpec],
          onion_of: Mapping[str, str], dropin: Path | None = None) -> list[dict[str, Any]]:
    """The items of one collection, each with its `url`, in the collection's order."""
    source = coll.get("source", "dir")
    if source == "lab_sites":
        found = _lab_site_items(spec, specs, onion_of)
    elif source == "inline":
        found = [dict(i) for i in coll["items"]]
    else:
        dirs = [spec.root / coll["dir"]] + ([dropin / coll["dir"]] if dropin else [])
        found = [dict(read_yaml(p), slug=p.stem) for d in dirs for p in sorted(d.glob("*.yaml"))]
    if "sort" in coll:
        found.sort(key=lambda i: (str(i.get(coll["sort"], "")), i["slug"]), reverse=bool(coll.get("reverse")))
    for item in found:
        item["url"] = coll["item_path"].format(slug=item["slug"])
    return found


def groups(coll: Mapping[str, Any], found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Index pages: one per group (or a single one), each split into `per_page` pages."""
    index = coll["index"]
    by = index.get("group_by")
    if by:
        labels = dict(index.get("groups", {}))
        values = list(labels) + sorted({i[by] for i in found} - set(labels))
        grouped = [(v, labels.get(v, v), [i for i in found if i[by] == v]) for v in values]
        grouped = [g for g in grouped if g[2]]
    else:
        grouped = [(None, coll.get("title", ""), found)]
    per = int(index.get("per_page", 10))
    return [
        {"key": key, "label": label, "items": its, "base": index["path"].format(group=key),
         "pages": max(1, -(-len(its) // per)), "per_page": per}
        for key, label, its in grouped
    ]
