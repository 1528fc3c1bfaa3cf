"""One lab site's request handling: a URL → a documented hostile case, a static page, a
collection index page, a collection item, or the bulk generator's page.

Pages are rendered per request because onion addresses (known only once Tor made the keys)
and listing files (dropped in while the lab runs) change after the servers start.
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import jinja2
from markupsafe import escape

from lab import responses
from lab.content import groups, items, page_url
from lab.gates import Call, gate_for
from lab.onions import OnionNotKnown, Onions
from lab.responses import Response, html
from lab.specs import Case, SiteSpec, known_specs, read_yaml
from lab.truth import decoys


class SiteContext(Protocol):
    """What a site needs from the lab serving it (lab.server.Lab)."""

    onion_of: Mapping[str, str]
    env: jinja2.Environment
    dropin: Path | None
    dead: list[str]  # dead v3 addresses the directory lists among the live ones (lab.dead)


class SiteApp:
    """Routes a path to a case, a static page, a collection index or a collection item."""

    def __init__(self, spec: SiteSpec, lab: SiteContext):
        self.spec = spec
        self.lab = lab
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.gate = gate_for(self)  # a walled site (lab.gates): login, captcha, queue, banner…

    def record(self, target: str) -> None:
        with self._lock:
            self.hits[target] += 1

    def handle(self, target: str, method: str = "GET", headers: Mapping[str, str] | None = None,
               body: bytes = b"") -> Response:
        parts = urlsplit(target)
        path, query = parts.path or "/", parse_qs(parts.query)
        try:
            if self.gate is not None:
                return self.gate.handle(Call(method, path, query, headers or {}, body))
            return self._route(path, query)
        except OnionNotKnown as exc:
            return html(f"<h1>503</h1><p>onion of {escape(str(exc))} not known yet</p>", 503)

    def _render(self, template: str, **ctx: Any) -> str:
        onion_of = Onions(self.lab.onion_of)
        base = {"site": self.spec, "onion": onion_of, "self_onion": onion_of.get(self.spec.name, ""),
                "decoys": decoys(self.spec, onion_of) if self.spec.data.get("decoys") else [],
                "dead_onions": getattr(self.lab, "dead", []) if self.spec.role == "directory" else []}
        return self.lab.env.get_template(template).render(**base, **ctx)

    def _route(self, path: str, query: dict[str, list[str]]) -> Response:
        spec = self.spec
        if spec.role == "bulk":
            return self._bulk(path)
        for case in spec.cases:
            if case.matches(path):
                return self._case(case, path, query)
        onion_of = dict(self.lab.onion_of)
        known = known_specs(spec.root, onion_of) if spec.role == "directory" else []
        colls = {c["name"]: items(spec, c, known, onion_of, self.lab.dropin) for c in spec.collections}
        for page in spec.pages:
            if page["path"] == path and not query:
                return html(self._render(page["template"], collections=colls, page=page))
        for coll in spec.collections:
            found = colls[coll["name"]]
            if "index" in coll:
                for g in groups(coll, found):
                    if g["base"] == path:
                        return self._index(coll, g, query, colls)
            for item in found:
                if item["url"] == path:
                    return html(self._render(coll["item_template"], item=item, collections=colls))
        return html(self._render("notfound.html.j2"), 404)

    def _index(self, coll: Mapping[str, Any], group: dict[str, Any], query: dict[str, list[str]],
               colls: dict[str, list[dict[str, Any]]]) -> Response:
        raw = query.get("page", ["1"])[0]
        n = int(raw) if raw.isdigit() else 0
        if not 1 <= n <= group["pages"]:
            return html(self._render("notfound.html.j2"), 404)
        per = group["per_page"]
        body = self._render(coll["index"]["template"], group=group, number=n, collections=colls,
                            items=group["items"][(n - 1) * per:n * per],
                            page_urls=[page_url(group["base"], i) for i in range(1, group["pages"] + 1)])
        return html(body)

    def _case(self, case: Case, path: str, query: dict[str, list[str]]) -> Response:
        p = case.params
        if case.kind == "trap_path":
            depth = [s for s in path.removeprefix(case.path).split("/") if s]
            links = [f"{path.rstrip('/')}/{k}" for k in range(1, int(p.get("fanout", 3)) + 1)]
            return html(self._render("hostile/trap.html.j2", case=case, where=depth, links=links))
        if case.kind == "trap_query":
            raw = query.get("page", ["1"])[0]
            n = int(raw) if raw.isdigit() else 1
            links = [page_url(path, k) for k in (n - 1, n + 1, n + 7) if k >= 1]
            return html(self._render("hostile/trap.html.j2", case=case, where=[n], links=links))
        if case.kind == "redirect":
            location = self.lab.env.from_string(p["location"]).render(onion=Onions(self.lab.onion_of))
            return Response(int(p.get("status", 302)), responses.HTML, [b""], 0, {"Location": location})
        if case.kind == "gzip_bomb":
            return responses.bomb(p)
        if case.kind == "large":
            return responses.large(p)
        if case.kind == "bytes":
            return responses.raw_bytes(p)
        if case.kind == "slow_drip":
            return responses.drip(p)
        raise ValueError(f"unknown case kind {case.kind!r} in site {self.spec.name}")

    def _bulk(self, path: str) -> Response:
        d = self.spec.data
        if path == "/":
            number = 0
        elif (m := re.fullmatch(r"/p/(\d+)", path)) and 1 <= int(m[1]) < d["pages"]:
            number = int(m[1])
        else:
            return html(self._render("notfound.html.j2"), 404)
        cfg = read_yaml(self.spec.root / "bulk.yaml")
        rng = random.Random(f"{d['seed']}/{self.spec.name}/{number}")
        children = [c for c in range(number * d["fanout"] + 1, (number + 1) * d["fanout"] + 1)
                    if c < d["pages"]]
        siblings = sorted({rng.randrange(1, d["pages"]) for _ in range(3)} if d["pages"] > 1 else set())
        lang = rng.choice(sorted(cfg["sentences"]))
        paragraphs = []
        for _ in range(rng.randint(3, 6)):
            words = {k: rng.choice(v) for k, v in cfg["fill"].items()}
            words["n"], words["m"] = rng.randint(1, 500), rng.randint(1, 5000)
            paragraphs.append(rng.choice(cfg["sentences"][lang]).format(**words))
        neighbours = dict.fromkeys(f"bulk-{(d['index'] + k) % d['n_onions']:03d}" for k in (1, 7))
        others = [self.lab.onion_of[n] for n in neighbours
                  if n in self.lab.onion_of and n != self.spec.name]
        return html(self._render("bulk/page.html.j2", number=number, lang=lang,
                                 paragraphs=paragraphs, children=children,
                                 siblings=[s for s in siblings if s != number], others=others))
