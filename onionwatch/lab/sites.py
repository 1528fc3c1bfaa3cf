"""The lab's sample onion sites: content is data under configs/lab/, this module only serves it.

Every site runs its own loopback HTTP/1.1 server so a Tor onion service can point at it. Pages
are rendered per request, because onion addresses (and the market's listing files) change
after the servers start. The same data drives `expected_pages`, so tests compare a crawl with
what the lab really serves instead of with a hand-kept list.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import re
import signal
import struct
import sys
import threading
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jinja2
import yaml
from markupsafe import escape

from crawler.onion import is_valid_v3, onion_from_pubkey
from onionwatch import settings

ROLES = frozenset({"directory", "market", "forum", "leak", "news", "hostile", "bulk"})
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_HTML = "text/html; charset=utf-8"


# A running lab's own directory for content added while it runs (e.g. a new market
# listing for the alert tests), so tests never write into configs/.
DROPIN: Path | None = None


def default_configs_dir() -> Path:
    return settings.CONFIGS / "lab"


# --- onion addresses -------------------------------------------------------------------------

def fake_onion(label: str) -> str:
    """A checksum-valid v3 hostname for loopback tests, before Tor has generated real keys."""
    return onion_from_pubkey(hashlib.sha256(label.encode()).digest())


def typo_onion(host: str) -> str:
    """`host` with one character changed so its checksum fails: looks real, is not an onion."""
    label = host.lower().removesuffix(".onion")
    for pos in range(10, 50):
        for repl in "qzxa":
            candidate = label[:pos] + repl + label[pos + 1:] + ".onion"
            if candidate != host and not is_valid_v3(candidate):
                return candidate
    raise ValueError("no invalid variant found")  # unreachable for a real 56-char label


class OnionNotKnown(Exception):
    """A template used a site's onion address before `Lab.set_onions` supplied it."""


class _Onions(dict):
    """name -> hostname for templates; a missing name is a 503, not a silently empty link."""

    def __missing__(self, name: str) -> str:
        raise OnionNotKnown(name)  # not a LookupError, so Jinja cannot turn it into Undefined


# --- site specs ------------------------------------------------------------------------------

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
        cases=cases,
    )


def load_sites(configs_dir: Path | None = None) -> list[SiteSpec]:
    """The fixed lab sites, one per `configs/lab/sites/*.yaml`."""
    root = Path(configs_dir or default_configs_dir())
    specs = [_spec_from(_read_yaml(p), root) for p in sorted((root / "sites").glob("*.yaml"))]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate site names in {root}")
    return specs


def bulk_sites(n_onions: int, pages_per_onion: int, *, seed: int = 0,
               configs_dir: Path | None = None) -> list[SiteSpec]:
    """Synthetic benchmark sites; their pages are generated per request from `seed`, never stored."""
    root = Path(configs_dir or default_configs_dir())
    cfg = _read_yaml(root / "bulk.yaml")
    return [
        SiteSpec(name=f"bulk-{i:03d}", role="bulk", title=f"{cfg['title']} #{i}", lang="en",
                 description=cfg["description"], root=root,
                 data={"index": i, "n_onions": n_onions, "pages": pages_per_onion, "seed": seed,
                       "fanout": int(cfg.get("fanout", 20))})
        for i in range(n_onions)
    ]


# --- content files ---------------------------------------------------------------------------

_file_cache: dict[Path, tuple[tuple[int, int], Any]] = {}


def _read_yaml(path: Path) -> Any:
    """Parse once per file version: listing files are re-read when they change, not per request."""
    st = path.stat()
    key = (st.st_mtime_ns, st.st_size)
    hit = _file_cache.get(path)
    if hit and hit[0] == key:
        return hit[1]
    value = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    _file_cache[path] = (key, value)
    return value


def _lab_site_items(spec: SiteSpec, specs: Iterable[SiteSpec],
                    onion_of: Mapping[str, str]) -> list[dict[str, Any]]:
    return [
        {"slug": s.name, "name": s.name, "role": s.role, "title": s.title, "lang": s.lang,
         "description": s.description, "onion": onion_of[s.name]}
        for s in sorted(specs, key=lambda s: (s.role == "bulk", s.name))
        if s.name != spec.name and s.name in onion_of
    ]


def _items(spec: SiteSpec, coll: Mapping[str, Any], specs: Iterable[SiteSpec],
           onion_of: Mapping[str, str]) -> list[dict[str, Any]]:
    source = coll.get("source", "dir")
    if source == "lab_sites":
        items = _lab_site_items(spec, specs, onion_of)
    elif source == "inline":
        items = [dict(i) for i in coll["items"]]
    else:
        dirs = [spec.root / coll["dir"]] + ([DROPIN / coll["dir"]] if DROPIN else [])
        items = [dict(_read_yaml(p), slug=p.stem)
                 for d in dirs for p in sorted(d.glob("*.yaml"))]
    if "sort" in coll:
        items.sort(key=lambda i: (str(i.get(coll["sort"], "")), i["slug"]),
                   reverse=bool(coll.get("reverse")))
    for item in items:
        item["url"] = coll["item_path"].format(slug=item["slug"])
    return items


def _groups(coll: Mapping[str, Any], items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Index pages: one per group (or a single one), each split into `per_page` pages."""
    index = coll["index"]
    by = index.get("group_by")
    if by:
        labels = dict(index.get("groups", {}))
        values = list(labels) + sorted({i[by] for i in items} - set(labels))
        groups = [(v, labels.get(v, v), [i for i in items if i[by] == v]) for v in values]
        groups = [g for g in groups if g[2]]
    else:
        groups = [(None, coll.get("title", ""), items)]
    per = int(index.get("per_page", 10))
    return [
        {"key": key, "label": label, "items": its, "base": index["path"].format(group=key),
         "pages": max(1, -(-len(its) // per)), "per_page": per}
        for key, label, its in groups
    ]


def page_url(base: str, n: int) -> str:
    return base if n == 1 else f"{base}?page={n}"


def expected_pages(site: SiteSpec, onion_of: Mapping[str, str]) -> set[str]:
    """Paths (with query) a correct crawler fetches as 200 text/html from `site`.

    Excludes every documented case whose outcome is not `ok` (traps, bombs, redirects, binary,
    drip). `onion_of` decides which lab sites the directory lists (every other one it names).
    """
    if site.role == "bulk":
        return {"/"} | {f"/p/{i}" for i in range(1, site.data["pages"])}
    specs = _known_specs(site.root, onion_of)
    paths = {p["path"] for p in site.pages}
    paths |= {c.link for c in site.cases if c.expect == "ok"}
    for coll in site.collections:
        items = _items(site, coll, specs, onion_of)
        paths |= {i["url"] for i in items}
        if "index" in coll:
            for g in _groups(coll, items):
                paths |= {page_url(g["base"], n) for n in range(1, g["pages"] + 1)}
    return paths


def _known_specs(root: Path, onion_of: Mapping[str, str]) -> list[SiteSpec]:
    """The sites a directory can list: the fixed ones plus any `bulk-NNN` named in `onion_of`."""
    specs = load_sites(root)
    bulk = [int(m[1]) for n in onion_of if (m := re.fullmatch(r"bulk-(\d+)", n))]
    if bulk:
        specs += bulk_sites(max(bulk) + 1, 1, configs_dir=root)
    return specs


def decoys(site: SiteSpec, onion_of: Mapping[str, str]) -> list[str]:
    """Hostnames the site mentions that a crawler must reject (typo'd v3, v2-length)."""
    out = []
    for d in site.data.get("decoys", ()):
        if "address" in d:
            out.append(d["address"])
        elif d["typo_of"] in onion_of:
            out.append(typo_onion(onion_of[d["typo_of"]]))
    return out


# --- responses -------------------------------------------------------------------------------

@dataclass
class Response:
    status: int = 200
    content_type: str = _HTML
    body: Iterable[bytes] = ()
    length: int | None = 0  # None: chunked transfer encoding
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before each body chunk (slow drip)


def _html(body: str, status: int = 200) -> Response:
    data = body.encode("utf-8")
    return Response(status, _HTML, [data], len(data))


@cache
def _gzip_bomb(expanded_mib: int) -> tuple[bytes, bytes, bytes]:
    """(head, piece, tail) of one gzip member of `expanded_mib` MiB of zeros.

    Each MiB is compressed after a full flush, so its bytes are identical and the body can be
    streamed as head + piece * (n-1) + tail: about 1 KiB per MiB, no GiB ever in memory.
    """
    zero = bytes(1 << 20)
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = co.compress(zero) + co.flush(zlib.Z_FULL_FLUSH)
    piece = co.compress(zero) + co.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(expanded_mib):
        crc = zlib.crc32(zero, crc)
    # final empty fixed-Huffman block (BFINAL=1, BTYPE=01, EOB), then CRC32 and ISIZE
    tail = b"\x03\x00" + struct.pack("<II", crc, (expanded_mib << 20) & 0xFFFFFFFF)
    return head, piece, tail


def _bomb_response(p: Mapping[str, Any]) -> Response:
    n = int(p.get("expanded_mib", 1024))
    head, piece, tail = _gzip_bomb(n)

    def body() -> Iterator[bytes]:
        yield head
        batch = piece * 64
        left = n - 1
        while left:
            k = min(64, left)
            yield batch if k == 64 else piece * k
            left -= k
        yield tail

    return Response(200, p.get("content_type", _HTML), body(),
                    len(head) + len(piece) * (n - 1) + len(tail), {"Content-Encoding": "gzip"})


def _large_response(p: Mapping[str, Any]) -> Response:
    size = int(p["size_mib"]) << 20
    head = b"<!doctype html><html><head><meta charset='utf-8'><title>Huge page</title></head><body>"
    tail = b"</body></html>"
    para = (b"<p>" + p.get("filler", "lorem ipsum dolor sit amet").encode("ascii") + b"</p>\n")
    block = para * (65536 // len(para) + 1)

    def body() -> Iterator[bytes]:
        yield head
        left = size - len(head) - len(tail)
        while left > 0:
            chunk = block[:min(left, len(block))]
            left -= len(chunk)
            yield chunk
        yield tail

    return Response(200, _HTML, body(), None if p.get("chunked") else size)


def _bytes_response(p: Mapping[str, Any]) -> Response:
    parts = []
    for chunk in p["chunks"]:
        if "hex" in chunk:
            parts.append(bytes.fromhex(chunk["hex"]))
        elif "base64" in chunk:
            parts.append(base64.b64decode(chunk["base64"]))
        else:
            parts.append(chunk["text"].encode(chunk.get("encoding", "utf-8")))
    data = b"".join(parts)
    return Response(int(p.get("status", 200)), p["content_type"], [data], len(data))


def _drip_response(p: Mapping[str, Any]) -> Response:
    n = int(p.get("total_bytes", 600))
    body = (b"<p>" + b"." * n)[:n]
    return Response(200, _HTML, (body[i:i + 1] for i in range(n)), n,
                    delay=float(p.get("interval", 1.0)))


# --- one site's request handling -------------------------------------------------------------

class SiteApp:
    """Routes a path to a case, a static page, a collection index or a collection item."""

    def __init__(self, spec: SiteSpec, lab: Lab):
        self.spec = spec
        self.lab = lab
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()

    def record(self, target: str) -> None:
        with self._lock:
            self.hits[target] += 1

    def handle(self, target: str) -> Response:
        parts = urlsplit(target)
        path, query = parts.path or "/", parse_qs(parts.query)
        try:
            return self._route(path, query)
        except OnionNotKnown as exc:
            return _html(f"<h1>503</h1><p>onion of {escape(str(exc))} not known yet</p>", 503)

    def _render(self, template: str, **ctx: Any) -> str:
        onion_of = _Onions(self.lab.onion_of)
        base = {"site": self.spec, "onion": onion_of, "self_onion": onion_of.get(self.spec.name, ""),
                "decoys": decoys(self.spec, onion_of) if self.spec.data.get("decoys") else []}
        return self.lab.env.get_template(template).render(**base, **ctx)

    def _route(self, path: str, query: dict[str, list[str]]) -> Response:
        spec = self.spec
        if spec.role == "bulk":
            return self._bulk(path)
        for case in spec.cases:
            if case.matches(path):
                return self._case(case, path, query)
        onion_of = dict(self.lab.onion_of)
        known = _known_specs(spec.root, onion_of) if spec.role == "directory" else []
        colls = {c["name"]: _items(spec, c, known, onion_of) for c in spec.collections}
        for page in spec.pages:
            if page["path"] == path and not query:
                return _html(self._render(page["template"], collections=colls, page=page))
        for coll in spec.collections:
            items = colls[coll["name"]]
            if "index" in coll:
                for g in _groups(coll, items):
                    if g["base"] == path:
                        return self._index(coll, g, query, colls)
            for item in items:
                if item["url"] == path:
                    return _html(self._render(coll["item_template"], item=item, collections=colls))
        return _html(self._render("notfound.html.j2"), 404)

    def _index(self, coll, group, query, colls) -> Response:
        raw = query.get("page", ["1"])[0]
        n = int(raw) if raw.isdigit() else 0
        if not 1 <= n <= group["pages"]:
            return _html(self._render("notfound.html.j2"), 404)
        per = group["per_page"]
        body = self._render(coll["index"]["template"], group=group, number=n, collections=colls,
                            items=group["items"][(n - 1) * per:n * per],
                            page_urls=[page_url(group["base"], i) for i in range(1, group["pages"] + 1)])
        return _html(body)

    def _case(self, case: Case, path: str, query: dict[str, list[str]]) -> Response:
        p = case.params
        if case.kind == "trap_path":
            depth = [s for s in path.removeprefix(case.path).split("/") if s]
            links = [f"{path.rstrip('/')}/{k}" for k in range(1, int(p.get("fanout", 3)) + 1)]
            return _html(self._render("hostile/trap.html.j2", case=case, where=depth, links=links))
        if case.kind == "trap_query":
            raw = query.get("page", ["1"])[0]
            n = int(raw) if raw.isdigit() else 1
            links = [page_url(path, k) for k in (n - 1, n + 1, n + 7) if k >= 1]
            return _html(self._render("hostile/trap.html.j2", case=case, where=[n], links=links))
        if case.kind == "redirect":
            location = self.lab.env.from_string(p["location"]).render(onion=_Onions(self.lab.onion_of))
            return Response(int(p.get("status", 302)), _HTML, [b""], 0, {"Location": location})
        if case.kind == "gzip_bomb":
            return _bomb_response(p)
        if case.kind == "large":
            return _large_response(p)
        if case.kind == "bytes":
            return _bytes_response(p)
        if case.kind == "slow_drip":
            return _drip_response(p)
        raise ValueError(f"unknown case kind {case.kind!r} in site {self.spec.name}")

    def _bulk(self, path: str) -> Response:
        d = self.spec.data
        if path == "/":
            number = 0
        elif (m := re.fullmatch(r"/p/(\d+)", path)) and 1 <= int(m[1]) < d["pages"]:
            number = int(m[1])
        else:
            return _html(self._render("notfound.html.j2"), 404)
        cfg = _read_yaml(self.spec.root / "bulk.yaml")
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
        return _html(self._render("bulk/page.html.j2", number=number, lang=lang,
                                  paragraphs=paragraphs, children=children,
                                  siblings=[s for s in siblings if s != number], others=others))


# --- the servers -----------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "onionwatch-lab"
    sys_version = ""
    timeout = 60  # idle keep-alive connections give their thread back

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._respond(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._respond(send_body=False)

    def _respond(self, send_body: bool) -> None:
        app: SiteApp = self.server.app  # type: ignore[attr-defined]
        stop: threading.Event = self.server.stop  # type: ignore[attr-defined]
        app.record(self.path)
        try:
            resp = app.handle(self.path)
        except Exception as exc:  # a broken content file must not kill the lab
            print(f"lab site {app.spec.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            resp = _html("<h1>500</h1>", 500)
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        for k, v in resp.headers.items():
            self.send_header(k, v)
        chunked = resp.length is None
        self.send_header("Transfer-Encoding" if chunked else "Content-Length",
                         "chunked" if chunked else str(resp.length))
        self.end_headers()
        if not send_body:
            return
        for chunk in resp.body:
            if resp.delay and stop.wait(resp.delay):
                self.close_connection = True
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            if resp.delay:
                self.wfile.flush()
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def handle(self) -> None:
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the client gave up (a crawler cutting a bomb or a drip): expected

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # per-path counts are in SiteApp.hits; request lines could carry PII


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256
    allow_reuse_address = True


class Lab:
    """All lab sites running in this process; `onion_of` can be set after Tor made the keys."""

    def __init__(self, specs: list[SiteSpec], onion_of: Mapping[str, str], host: str,
                 ports: Mapping[str, int] | None = None):
        if not host.startswith("127."):
            raise ValueError("lab sites listen on loopback only")
        root = specs[0].root if specs else default_configs_dir()
        self.specs = specs
        self.onion_of: dict[str, str] = dict(onion_of)
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(root / "templates"),
                                      autoescape=True, undefined=jinja2.StrictUndefined,
                                      auto_reload=True, trim_blocks=True, lstrip_blocks=True)
        self.env.filters["typo_onion"] = typo_onion
        self.env.globals["page_url"] = page_url
        self.host = host
        self.stop_event = threading.Event()
        self.apps: dict[str, SiteApp] = {}
        self.servers: dict[str, _Server] = {}
        ports = ports or {}
        try:
            for spec in specs:
                srv = _Server((host, ports.get(spec.name, 0)), _Handler)
                srv.app, srv.stop = SiteApp(spec, self), self.stop_event  # type: ignore[attr-defined]
                self.apps[spec.name], self.servers[spec.name] = srv.app, srv  # type: ignore[attr-defined]
                threading.Thread(target=srv.serve_forever, name=f"lab-{spec.name}",
                                 kwargs={"poll_interval": 0.2}, daemon=True).start()
        except Exception:
            self.stop()
            raise

    @property
    def ports(self) -> dict[str, int]:
        return {name: srv.server_address[1] for name, srv in self.servers.items()}

    def url(self, name: str, path: str = "/") -> str:
        """Direct loopback URL of a site (tests without Tor)."""
        return f"http://{self.host}:{self.ports[name]}{path}"

    def set_onions(self, onion_of: Mapping[str, str]) -> None:
        self.onion_of.update(onion_of)

    def hits(self, name: str) -> Counter[str]:
        """Request targets (path+query) this site has received, with counts."""
        return Counter(self.apps[name].hits)

    def stop(self) -> None:
        self.stop_event.set()
        closers = [threading.Thread(target=srv.shutdown) for srv in self.servers.values()]
        for t in closers:  # in parallel: each waits up to one poll interval
            t.start()
        for t in closers:
            t.join()
        for srv in self.servers.values():
            srv.server_close()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_sites(sites: list[SiteSpec], onion_of: Mapping[str, str], host: str = "127.0.0.1",
                ports: Mapping[str, int] | None = None) -> Lab:
    """Start one server per site (port 0 = any free port); returns at once, call `.stop()`."""
    return Lab(sites, onion_of, host, ports)


def _config_onions(cfg: Mapping[str, Any]) -> dict[str, str]:
    return {n: v["onion"] for n, v in (cfg.get("sites") or {}).items() if v.get("onion")}


def main(argv: list[str] | None = None) -> None:
    """`python -m onionwatch.lab.sites --config lab.json`: serve until SIGTERM/SIGINT.

    Config: {"configs_dir"?: str, "dropin_dir"?: str, "host"?: str, "bulk"?: {"onions", "pages", "seed"?},
    "sites"?: {name: {"port"?: int, "onion"?: str}}} ("sites" given: only those names, bulk-NNN
    included; else all). Prints one JSON line
    {"ports": {...}} once listening. SIGHUP re-reads the onions from the config, so servers can
    start (and fix their ports) before Tor has generated the onion keys.
    """
    ap = argparse.ArgumentParser(prog="python -m onionwatch.lab.sites")
    ap.add_argument("--config", required=True, type=Path)
    path = ap.parse_args(argv).config
    cfg = json.loads(path.read_text())
    global DROPIN
    DROPIN = Path(cfg["dropin_dir"]) if cfg.get("dropin_dir") else None
    root = Path(cfg["configs_dir"]) if cfg.get("configs_dir") else None
    specs = load_sites(root)
    if b := cfg.get("bulk"):
        specs += bulk_sites(int(b["onions"]), int(b["pages"]), seed=int(b.get("seed", 0)),
                            configs_dir=root)
    wanted = cfg.get("sites") or {s.name: {} for s in specs}
    specs = [s for s in specs if s.name in wanted]
    lab = serve_sites(specs, _config_onions(cfg), cfg.get("host", "127.0.0.1"),
                      {n: v["port"] for n, v in wanted.items() if v.get("port")})
    print(json.dumps({"ports": lab.ports}), flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGHUP, lambda *_: lab.set_onions(_config_onions(json.loads(path.read_text()))))
    try:
        while not done.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    lab.stop()


if __name__ == "__main__":
    main()
