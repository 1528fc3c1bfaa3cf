"""Is an onion service up? An HTTP probe through Tor's SOCKS port, and for a failing service
its descriptor fetched through the ControlPort, with retries on fresh circuits.

"Every domain shows DOWN" is the usual complaint about liveness tools, so a down verdict
carries its evidence: every attempt's outcome (Tor's extended SOCKS reply, or a timeout),
and whether the HSDirs still serve a descriptor. When our own Tor cannot be reached the
verdict is ``unknown``, never ``down``.
"""

from __future__ import annotations

import asyncio
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

import httpcore2
from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_exponential

from crawler.outcomes import exception_chain
from crawler.tor import TorSocksBackend, TorSocksError, TorUnreachableError, host_digest
from crawler.walls import SEIZED, WallRules

BANNER_BYTES = 256 * 1024  # of a front page's text: what the seizure rules look at
# Reasons that say the service is definitely not reachable at this address: no retry helps.
PERMANENT = {"onion_bad_address", "onion_missing_client_auth", "onion_bad_client_auth"}
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def parse_duration(text: str) -> float:
    """Seconds in ``90s``, ``30m``, ``6h``, ``1d`` (bare number: seconds)."""
    m = _DURATION_RE.match(text)
    if not m:
        raise ValueError(f"not a duration: {text!r} (e.g. 30m, 6h, 1d)")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def classify(exc: BaseException) -> tuple[str, str, int | None]:
    """(status, reason, socks reply code) for a failed probe, from the SOCKS reply
    crawler.tor decoded. status is ``down`` when Tor answered about the service,
    ``unknown`` when we never got through our own Tor."""
    chain = list(exception_chain(exc))
    for e in chain:
        if isinstance(e, TorSocksError):
            return "down", e.reason, e.code
    if any(isinstance(e, TorUnreachableError) for e in chain):
        return "unknown", "tor_unreachable", None
    if any(isinstance(e, (httpcore2.TimeoutException, asyncio.TimeoutError, TimeoutError)) for e in chain):
        return "down", "timeout", None
    return "down", "http_error", None


@dataclass(frozen=True)
class Target:
    """A service to check, with what the services index knew about it (copied into the check)."""

    onion: str
    first_seen: str | None = None
    categories: tuple[str, ...] = ()


@dataclass
class Checker:
    """Checks one service at a time; thread-safe (each call makes its own connections)."""

    socks_addr: str  # host:port
    control_addr: str | None = None  # host:port; None: no descriptor evidence
    timeout: float = 30.0
    attempts: int = 3
    backoff: float = 2.0
    descriptor_timeout: float = 30.0
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    sleep: Callable[[float], None] = time.sleep
    walls: WallRules | None = None  # seizure banners (configs/seizure.yaml), loaded when first needed

    def probe(self, onion: str, attempt: int) -> dict[str, Any]:
        """One HTTP GET / on a fresh circuit (per-onion, per-attempt SOCKS username). A front
        page that is a law-enforcement seizure banner (configs/seizure.yaml) is ``seized``."""
        started = time.monotonic()
        try:
            status, headers, body = asyncio.run(self._get(onion, attempt))
            out = {"n": attempt, "status": "up", "reason": None, "http_status": status, "socks_code": None,
                   "latency_ms": int((time.monotonic() - started) * 1000)}
            verdict = self._walls().classify(status, headers, f"http://{onion}/", body) if body else None
            if verdict is not None and verdict.wall == SEIZED:
                out.update(status=SEIZED, reason=SEIZED, seizure=list(verdict.evidence))
            return out
        except Exception as exc:  # every failure is a verdict with a reason
            status, reason, code = classify(exc)
            return {"n": attempt, "status": status, "reason": reason, "http_status": None, "socks_code": code,
                    "latency_ms": int((time.monotonic() - started) * 1000)}

    def _walls(self) -> WallRules:
        if self.walls is None:
            self.walls = WallRules.load()
        return self.walls

    async def _get(self, onion: str, attempt: int) -> tuple[int, dict[str, str], bytes]:
        """GET http://onion/ through Tor within ``timeout`` seconds: status, headers and up to
        BANNER_BYTES of a text body (enough to tell a seizure banner)."""
        host, _, port = self.socks_addr.rpartition(":")
        backend = TorSocksBackend(host or "127.0.0.1", int(port), isolation_suffix=f"-{attempt}")
        t = self.timeout
        async with httpcore2.AsyncConnectionPool(network_backend=backend, max_connections=1) as pool:
            async def get() -> tuple[int, dict[str, str], bytes]:
                async with pool.stream("GET", f"http://{onion}/", headers=[(b"Accept", b"*/*")],
                                       extensions={"timeout": {"connect": t, "read": t, "write": t, "pool": t}}) as resp:
                    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in resp.headers}
                    body = b""
                    if headers.get("Content-Type", headers.get("content-type", "")).startswith("text/"):
                        async for chunk in resp.aiter_stream():
                            body += chunk
                            if len(body) >= BANNER_BYTES:
                                break
                    return resp.status, headers, body[:BANNER_BYTES]
            return await asyncio.wait_for(get(), timeout=t)

    def descriptor(self, onion: str) -> tuple[str, str | None]:
        """Ask Tor to fetch the service's descriptor from the HSDirs: found, not_found or error."""
        if not self.control_addr:
            return "unavailable", "no control port"
        import stem
        from stem.control import Controller

        host, _, port = self.control_addr.rpartition(":")
        try:
            with Controller.from_port(address=host or "127.0.0.1", port=int(port)) as c:
                c.authenticate()
                c.get_hidden_service_descriptor(onion, timeout=self.descriptor_timeout)
                return "found", None
        except stem.DescriptorUnavailable as exc:
            return ("not_found" if "No running hidden service" in str(exc) else "error"), str(exc).replace(onion.removesuffix(".onion"), host_digest(onion))[:200]
        except (stem.ControllerError, stem.SocketError, ValueError, OSError) as exc:
            return "error", f"{type(exc).__name__}: {str(exc)[:200]}"

    def check(self, target: Target) -> dict[str, Any]:
        """A check document (see configs/index/checks.v1.json) for one service."""
        onion = target.onion.lower()
        checked_at = now_iso()
        tries: list[dict[str, Any]] = []
        # Attempt n+1 after backoff * 2**(n-1) s; stop when up or when no retry can help.
        for attempt in Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.backoff, min=0, max=3600),
            retry=retry_if_result(lambda t: t["status"] not in ("up", SEIZED) and t["reason"] not in PERMANENT),
            retry_error_callback=lambda state: state.outcome.result(),
            sleep=self.sleep,
        ):
            with attempt:
                tries.append(self.probe(onion, attempt.retry_state.attempt_number))
            attempt.retry_state.set_result(tries[-1])
        last = tries[-1]
        doc: dict[str, Any] = {
            "run_id": self.run_id, "onion": onion, "checked_at": checked_at, "attempts": len(tries),
            "first_seen": target.first_seen, "categories": list(target.categories),
            "http_status": last["http_status"], "descriptor": "skipped",
        }
        if last["status"] == "up":
            doc.update(status="up", method="http", reason=None, latency_ms=last["latency_ms"])
        elif last["status"] == SEIZED:
            doc.update(status=SEIZED, method="http", reason=SEIZED, latency_ms=last["latency_ms"])
        elif all(t["status"] == "unknown" for t in tries):
            doc.update(status="unknown", method="http", reason="tor_unreachable", latency_ms=None)
        else:
            desc, detail = self.descriptor(onion)
            doc.update(status="down", method="http+descriptor", latency_ms=None, descriptor=desc,
                       reason=verdict_reason([t["reason"] for t in tries if t["status"] == "down"], desc))
            doc["evidence"] = {"descriptor_detail": detail}
        doc.setdefault("evidence", {})["attempts"] = tries
        return doc


def verdict_reason(reasons: list[str], descriptor: str) -> str:
    """The most specific reason seen: a named Tor reply beats a bare timeout; a descriptor the
    HSDirs do not have explains timeouts."""
    named = [r for r in reasons if r.startswith("onion_")]
    if named:
        return max(set(named), key=named.count)
    if descriptor == "not_found":
        return "onion_descriptor_not_found"
    return max(set(reasons), key=reasons.count) if reasons else "unknown"


class Progress:
    """done/total and verdicts so far on stderr: one line redrawn in place on a terminal;
    elsewhere a line every ``every`` seconds and one at the end."""

    def __init__(self, total: int, stream: TextIO = sys.stderr, every: float = 10.0) -> None:
        self.total, self.stream, self.every = total, stream, every
        self.counts = {"up": 0, "down": 0, "unknown": 0, SEIZED: 0}
        self.started = time.monotonic()
        self.last = 0.0
        self._lock = threading.Lock()
        try:
            self.redraw = stream.isatty()
        except (AttributeError, ValueError):
            self.redraw = False

    def update(self, doc: dict[str, Any]) -> None:
        with self._lock:
            self.counts[doc["status"]] += 1
            done = sum(self.counts.values())
            now = time.monotonic()
            line = (f"checked {done}/{self.total}  up {self.counts['up']}  down {self.counts['down']}  "
                    f"unknown {self.counts['unknown']}" + (f"  seized {self.counts[SEIZED]}" if self.counts[SEIZED] else "")
                    + f"  {now - self.started:.0f}s")
            if self.redraw:
                self.stream.write("\r" + line + ("\n" if done == self.total else ""))
            elif done == self.total or now - self.last >= self.every:
                self.stream.write(line + "\n")
            else:
                return
            self.last = now
            self.stream.flush()


def run_checks(
    targets: list[Target],
    checker: Checker,
    *,
    concurrency: int = 8,
    on_batch: Callable[[list[dict[str, Any]]], None] | None = None,
    batch: int = 200,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Check every target with at most ``concurrency`` at once; finished results are handed
    to ``on_batch`` as they accumulate so a long run stores as it goes."""
    results: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = [pool.submit(checker.check, t) for t in targets]
        for fut in as_completed(futures):
            doc = fut.result()
            results.append(doc)
            pending.append(doc)
            if progress:
                progress.update(doc)
            if on_batch and len(pending) >= batch:
                on_batch(pending)
                pending = []
    if on_batch and pending:
        on_batch(pending)
    return results
