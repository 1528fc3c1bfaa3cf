"""Helpers for the listing tests: lab pages rendered without any server (the lab's own
routing and templates, no socket), and page records built from them."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace
from typing import Any

import jinja2

from lab.content import page_url
from lab.onions import fake_onion, typo_onion
from lab.routing import SiteApp
from lab.specs import default_configs_dir, load_sites

KEY = b"test-pii-key-0123456789abcdef0123"


def lab_sites() -> tuple[dict[str, Any], dict[str, str]]:
    specs = {s.name: s for s in load_sites()}
    return specs, {name: fake_onion(name) for name in specs}


def renderer() -> tuple[Any, dict[str, str]]:
    """render(site, path) -> (status, html) through lab.routing.SiteApp, and the onions."""
    specs, onion_of = lab_sites()
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(default_configs_dir() / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["typo_onion"] = typo_onion
    env.globals["page_url"] = page_url
    ctx = SimpleNamespace(onion_of=onion_of, env=env, dropin=None)
    apps = {name: SiteApp(spec, ctx) for name, spec in specs.items()}

    def render(site: str, path: str) -> tuple[int, str]:
        resp = apps[site].handle(path)
        return resp.status, b"".join(resp.body).decode("utf-8")

    return render, onion_of


def record(site: str, path: str, html: str, onion_of: dict[str, str], *, fetched_at: str = "2026-11-22T10:00:00Z",
           **extra: Any) -> dict[str, Any]:
    raw = html.encode("utf-8")
    onion = onion_of[site]
    r = {"url": f"http://{onion}{path}", "onion": onion, "fetched_at": fetched_at, "status": 200, "failure": None,
         "content_type": "text/html", "title": "", "text": "", "links": [], "onion_links": [], "lang": "und",
         "sha256": hashlib.sha256(raw).hexdigest(), "size": len(raw), "raw": raw, "depth": 0, "crawl_id": "t",
         "categories": [], "entities": [], "offers": [], "evidence": []}
    r.update(extra)
    return r
