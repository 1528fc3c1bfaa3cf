"""The lab's HTTP servers: one loopback HTTP/1.1 server per site, so a Tor onion service can
point at each; `python -m lab.server --config sites.json` runs them for `lab up`.

All state of a running lab — its sites, the onion addresses (which may arrive after the
servers start), its drop-in folder — lives on its `Lab` object, so several labs can run in
one process (tests) without touching each other.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jinja2

from lab.content import page_url
from lab.latency import Latency, etag, not_modified
from lab.onions import typo_onion
from lab.responses import html
from lab.routing import SiteApp
from lab.specs import SiteSpec, bulk_sites, default_configs_dir, load_sites


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "onionwatch-lab"
    sys_version = ""
    timeout = 60  # idle keep-alive connections give their thread back

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._respond(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._respond(send_body=False)

    def do_POST(self) -> None:  # noqa: N802 — forms of the walled sites (lab.gates)
        self._respond(send_body=True)

    def _respond(self, send_body: bool) -> None:
        app: SiteApp = self.server.app  # type: ignore[attr-defined]
        stop: threading.Event = self.server.stop  # type: ignore[attr-defined]
        app.record(self.path if self.command in ("GET", "HEAD") else f"{self.command} {self.path}")
        length = int(self.headers.get("Content-Length") or 0) if self.command == "POST" else 0
        body = self.rfile.read(min(length, 65536)) if length else b""
        try:
            resp = app.handle(self.path, self.command, self.headers, body)
        except Exception as exc:  # a broken content file must not kill the lab
            print(f"lab site {app.spec.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            resp = html("<h1>500</h1>", 500)
        lab = app.lab
        if lab.latency is not None and stop.wait(lab.latency.of(app.spec.name)):  # lab.latency: slow onions
            self.close_connection = True
            return
        if (resp.status == 200 and resp.length is not None and resp.length <= 2 << 20 and not resp.delay
                and self.command in ("GET", "HEAD")):  # conditional requests (lab.latency.not_modified)
            body_bytes = b"".join(resp.body)
            tag = etag(body_bytes)
            resp.headers.setdefault("ETag", tag)
            if not_modified(self.headers.get("If-None-Match"), tag):
                self.send_response(304)
                self.send_header("ETag", tag)
                self.end_headers()
                return
            resp.body = [body_bytes]
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
    """All lab sites running in this process; `onion_of` can be set after Tor made the keys.
    `dropin` is this lab's own folder for content added while it runs (mirroring configs/lab's
    layout, e.g. ``market/listings/*.yaml``)."""

    def __init__(self, specs: list[SiteSpec], onion_of: Mapping[str, str], host: str,
                 ports: Mapping[str, int] | None = None, dropin: Path | None = None, latency: Latency | None = None,
                 dead: Sequence[str] = ()):
        if not host.startswith("127."):
            raise ValueError("lab sites listen on loopback only")
        root = specs[0].root if specs else default_configs_dir()
        self.specs = specs
        self.onion_of: dict[str, str] = dict(onion_of)
        self.dropin = Path(dropin) if dropin else None
        self.latency = latency  # per-site response delay (lab.latency); None: answer at once
        self.dead = list(dead)  # addresses nobody publishes (lab.dead), listed by the directory
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
                ports: Mapping[str, int] | None = None, dropin: Path | None = None,
                latency: Latency | None = None, dead: Sequence[str] = ()) -> Lab:
    """Start one server per site (port 0 = any free port); returns at once, call `.stop()`."""
    return Lab(sites, onion_of, host, ports, dropin, latency, dead)


def _config_onions(cfg: Mapping[str, Any]) -> dict[str, str]:
    return {n: v["onion"] for n, v in (cfg.get("sites") or {}).items() if v.get("onion")}


def main(argv: list[str] | None = None) -> None:
    """`python -m lab.server --config sites.json`: serve until SIGTERM/SIGINT.

    Config: {"configs_dir"?: str, "dropin_dir"?: str, "host"?: str, "bulk"?: {"onions", "pages", "seed"?},
    "sites"?: {name: {"port"?: int, "onion"?: str}}, "options"?: [lab option, ...], "onions"?: {name:
    onion} (other lab sites' addresses the pages may name), "latency"?: see lab.latency, "dead"?: [v3
    address nobody publishes, ...] (the directory lists them too)} ("sites" given: only those names, bulk-NNN
    included; else all). Prints one JSON line
    {"ports": {...}} once listening. SIGHUP re-reads the onions from the config, so servers can
    start (and fix their ports) before Tor has generated the onion keys.
    """
    ap = argparse.ArgumentParser(prog="python -m lab.server")
    ap.add_argument("--config", required=True, type=Path)
    path = ap.parse_args(argv).config
    cfg = json.loads(path.read_text())
    root = Path(cfg["configs_dir"]) if cfg.get("configs_dir") else None
    specs = load_sites(root, tuple(cfg.get("options") or ()))
    if b := cfg.get("bulk"):
        specs += bulk_sites(int(b["onions"]), int(b["pages"]), seed=int(b.get("seed", 0)),
                            configs_dir=root)
    wanted = cfg.get("sites") or {s.name: {} for s in specs}
    specs = [s for s in specs if s.name in wanted]
    lab = serve_sites(specs, {**(cfg.get("onions") or {}), **_config_onions(cfg)}, cfg.get("host", "127.0.0.1"),
                      {n: v["port"] for n, v in wanted.items() if v.get("port")},
                      Path(cfg["dropin_dir"]) if cfg.get("dropin_dir") else None, Latency.parse(cfg.get("latency")),
                      cfg.get("dead") or ())
    print(json.dumps({"ports": lab.ports}), flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGHUP, lambda *_: lab.set_onions(
        {**(json.loads(path.read_text()).get("onions") or {}), **_config_onions(json.loads(path.read_text()))}))
    try:
        while not done.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    lab.stop()


if __name__ == "__main__":
    main()
