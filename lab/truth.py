"""The lab's ground truth: which pages a correct crawler fetches from each site, and which
onion-looking hostnames it must refuse.

Derived from the same specs and content the server renders (never a hand-kept list), so a
crawl is compared with what the lab really serves.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from lab.content import groups, items, page_url
from lab.onions import typo_onion
from lab.specs import SiteSpec, known_specs


def expected_pages(site: SiteSpec, onion_of: Mapping[str, str], dropin: Path | None = None) -> set[str]:
    """Paths (with query) a correct crawler fetches as 200 text/html from `site`.

    Excludes every documented case whose outcome is not `ok` (traps, bombs, redirects, binary,
    drip). `onion_of` decides which lab sites the directory lists (every other one it names);
    `dropin` is the running lab's drop-in folder when listings added there should count.
    """
    if site.role == "bulk":
        return {"/"} | {f"/p/{i}" for i in range(1, site.data["pages"])}
    specs = known_specs(site.root, onion_of)
    paths = {p["path"] for p in site.pages}
    paths |= {c.link for c in site.cases if c.expect == "ok"}
    for coll in site.collections:
        found = items(site, coll, specs, onion_of, dropin)
        paths |= {i["url"] for i in found}
        if "index" in coll:
            for g in groups(coll, found):
                paths |= {page_url(g["base"], n) for n in range(1, g["pages"] + 1)}
    return paths


def decoys(site: SiteSpec, onion_of: Mapping[str, str]) -> list[str]:
    """Hostnames the site mentions that a crawler must reject (typo'd v3, v2-length)."""
    out = []
    for d in site.data.get("decoys", ()):
        if "address" in d:
            out.append(d["address"])
        elif d["typo_of"] in onion_of:
            out.append(typo_onion(onion_of[d["typo_of"]]))
    return out
