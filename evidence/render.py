"""Offline screenshots: headless Chromium renders our own stored bytes, fetching nothing.

Layers, each enough on its own to keep a render off the network:
1. the document is sanitised first (evidence.sanitize: no scripts, frames, remote images/CSS,
   a CSP that forbids every fetch);
2. Chromium runs with scripts disabled, every request paused and failed by us over the
   DevTools protocol (and recorded: the result lists every URL the page tried), the network
   emulated offline, a proxy on a dead loopback port and a resolver that resolves nothing;
3. with ``isolate`` (the default) Chromium runs in a new network namespace that has no
   interface up at all (``unshare --net``).

The document is handed over with Page.setDocumentContent, so not even a file:// load happens.
Talks the DevTools protocol over a pipe (--remote-debugging-pipe): no port, no extra library.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

CHROMIUM = "/usr/bin/chromium"
DEAD_PROXY = "socks5://127.0.0.1:9"  # discard port: nothing listens; DNS would go there too
MAX_HTML = 16 * 1024 * 1024


class RenderError(RuntimeError):
    """Chromium could not be started or did not produce the picture in time."""


@dataclass
class RenderResult:
    png: Path
    pdf: Path | None
    width: int
    height: int
    cut: bool  # the page was taller than max_height and the picture stops there
    blocked: list[str] = field(default_factory=list)  # every URL the page tried to fetch (all refused)
    isolated: bool = True


def chromium_path() -> str | None:
    return shutil.which(os.environ.get("ONIONWATCH_CHROMIUM", CHROMIUM)) or shutil.which("chromium")


class _Pipe:
    """DevTools protocol over fds: JSON messages separated by NUL bytes."""

    def __init__(self, write_fd: int, read_fd: int, deadline: float) -> None:
        self.w, self.r, self.deadline = write_fd, read_fd, deadline
        self.buf = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> int:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self.buf:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise RenderError("Chromium did not answer in time")
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                chunk = os.read(self.r, 1 << 20)
                if not chunk:
                    raise RenderError("Chromium closed the DevTools pipe (it exited)")
                self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             on_event: Any = None) -> dict[str, Any]:
        mid = self.send(method, params, session)
        while True:
            msg = self._read()
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RenderError(f"{method}: {msg['error'].get('message')}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)
                if on_event:
                    on_event(msg)

    def wait_event(self, name: str, on_event: Any, timeout: float) -> bool:
        end = min(self.deadline, time.monotonic() + timeout)
        for msg in list(self.events):
            if msg.get("method") == name:
                return True
        while time.monotonic() < end:
            saved, self.deadline = self.deadline, end
            try:
                msg = self._read()
            except RenderError:
                return False
            finally:
                self.deadline = saved
            if "method" in msg:
                self.events.append(msg)
                on_event(msg)
                if msg["method"] == name:
                    return True
        return False


def _command(binary: str, profile: str, width: int, isolate: bool) -> list[str]:
    cmd = [binary, "--headless", "--remote-debugging-pipe", f"--user-data-dir={profile}",
           "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-extensions", "--disable-default-apps", "--disable-domain-reliability", "--no-pings",
           "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication",
           f"--proxy-server={DEAD_PROXY}", "--proxy-bypass-list=<-loopback>",
           "--host-resolver-rules=MAP * ~NOTFOUND", "--blink-settings=scriptEnabled=false,imagesEnabled=false",
           "--mute-audio", "--hide-scrollbars", f"--window-size={width},1000", "about:blank"]
    if os.geteuid() == 0:
        cmd.insert(1, "--no-sandbox")  # Chromium refuses to run as root otherwise
    if isolate:
        unshare = shutil.which("unshare")
        if not unshare:
            raise RenderError("isolate=True needs util-linux unshare")
        cmd = [unshare, "--net"] + ([] if os.geteuid() == 0 else ["--map-root-user"]) + ["--"] + cmd
    return cmd


class Renderer:
    """One headless Chromium for many pages (a fresh tab each); use as a context manager."""

    def __init__(self, *, width: int = 1280, max_height: int = 12000, isolate: bool = True,
                 timeout: float = 60.0) -> None:
        binary = chromium_path()
        if not binary:
            raise RenderError("Chromium not found (apt-get install chromium, or set ONIONWATCH_CHROMIUM)")
        self.width, self.max_height, self.isolate, self.timeout = width, max_height, isolate, timeout
        self._profile = tempfile.TemporaryDirectory(prefix="ow-render-")
        os.chmod(self._profile.name, 0o700)
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - a file, not a pipe: Chromium's chatter cannot block it
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire_fds() -> None:  # child side: the protocol wants fd 3 (in) and fd 4 (out)
            a, b = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        command = _command(binary, self._profile.name, width, isolate)
        self._proc = subprocess.Popen(command, preexec_fn=wire_fds, close_fds=False,  # noqa: PLW1509 - fds 3/4 in the child only
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=self._stderr)
        os.close(to_child_r)
        os.close(from_child_w)
        self._cdp = _Pipe(self._to_child, self._from_child, time.monotonic() + timeout)

    def render(self, html: str, png: str | os.PathLike[str], *, pdf: str | os.PathLike[str] | None = None,
               isolate: bool | None = None) -> RenderResult:
        """Render one (already sanitised) HTML document to PNG, and PDF if asked."""
        if isolate is not None and isolate != self.isolate:
            raise RenderError(f"this renderer was started with isolate={self.isolate}")
        if len(html) > MAX_HTML:
            raise RenderError(f"document of {len(html)} characters is over the {MAX_HTML} cap")
        png_path, pdf_path = Path(png), Path(pdf) if pdf else None
        blocked: list[str] = []
        cdp = self._cdp
        cdp.deadline = time.monotonic() + self.timeout
        session: str | None = None

        def on_event(msg: dict[str, Any]) -> None:
            if msg.get("sessionId") != session:
                return
            method, params = msg.get("method"), msg.get("params", {})
            if method == "Fetch.requestPaused":
                if params["request"]["url"] not in blocked:
                    blocked.append(params["request"]["url"])
                cdp.send("Fetch.failRequest", {"requestId": params["requestId"], "errorReason": "BlockedByClient"},
                         session)
            elif method == "Network.requestWillBeSent":
                url = params.get("request", {}).get("url", "")
                if url and not url.startswith("about:") and url not in blocked:
                    blocked.append(url)

        target = None
        try:
            target = cdp.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for method, params in (("Emulation.setScriptExecutionDisabled", {"value": True}),
                                   ("Network.enable", {}),
                                   ("Network.emulateNetworkConditions", {"offline": True, "latency": 0,
                                                                         "downloadThroughput": 0,
                                                                         "uploadThroughput": 0}),
                                   ("Fetch.enable", {"patterns": [{"urlPattern": "*"}]}),
                                   ("Page.enable", {})):
                cdp.call(method, params, session, on_event)
            frame = cdp.call("Page.getFrameTree", {}, session, on_event)["frameTree"]["frame"]["id"]
            cdp.events.clear()
            cdp.call("Page.setDocumentContent", {"frameId": frame, "html": html}, session, on_event)
            cdp.wait_event("Page.loadEventFired", on_event, timeout=min(10.0, self.timeout / 3))
            metrics = cdp.call("Page.getLayoutMetrics", {}, session, on_event)
            size = metrics.get("cssContentSize") or metrics.get("contentSize") or {}
            full = max(1, int(size.get("height", 1000)))
            height = min(full, self.max_height)
            cdp.call("Emulation.setDeviceMetricsOverride", {"width": self.width, "height": height,
                                                            "deviceScaleFactor": 1, "mobile": False}, session, on_event)
            shot = cdp.call("Page.captureScreenshot", {"format": "png", "fromSurface": True}, session, on_event)
            png_path.write_bytes(base64.b64decode(shot["data"]))
            if pdf_path:
                printed = cdp.call("Page.printToPDF", {"printBackground": True, "preferCSSPageSize": True},
                                   session, on_event)
                pdf_path.write_bytes(base64.b64decode(printed["data"]))
        except (OSError, KeyError, ValueError) as exc:
            raise RenderError(f"rendering failed: {type(exc).__name__}: {exc}; {self._chatter()}") from exc
        except RenderError as exc:
            raise RenderError(f"{exc}; {self._chatter()}") from exc
        finally:
            if target is not None and self._proc.poll() is None:
                try:
                    cdp.call("Target.closeTarget", {"targetId": target}, None, on_event)
                except (RenderError, OSError):
                    pass
            cdp.events.clear()
        return RenderResult(png_path, pdf_path, self.width, height, full > self.max_height, blocked, self.isolate)

    def _chatter(self) -> str:
        self._stderr.seek(0)
        tail = self._stderr.read()[-400:].decode("utf-8", "replace")
        return f"Chromium exit {self._proc.poll()}, stderr: {tail}" if tail else f"Chromium exit {self._proc.poll()}"

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                self._cdp.deadline = time.monotonic() + 5
                self._cdp.call("Browser.close")
            except (RenderError, OSError):
                pass
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(5)
        self._stderr.close()
        self._profile.cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def render(html: str, png: str | os.PathLike[str], *, pdf: str | os.PathLike[str] | None = None, width: int = 1280,
           max_height: int = 12000, isolate: bool = True, timeout: float = 60.0) -> RenderResult:
    """Render one (already sanitised) HTML document with a Chromium of its own."""
    with Renderer(width=width, max_height=max_height, isolate=isolate, timeout=timeout) as r:
        return r.render(html, png, pdf=pdf)
