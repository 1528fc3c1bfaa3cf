"""The checker's verdicts through a real SOCKS5 stack: requests[socks]/PySocks talking to a
small loopback SOCKS5 server that answers like Tor does (extended error codes 0xF0-0xF7),
stalls, or relays to a real local HTTP site. The real-Tor version is test_liveness_lab.py."""

from __future__ import annotations

import io
import socket
import socketserver
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from lab import fake_onion
from crawler.liveness import Checker, Progress, Target, classify, parse_duration, run_checks, verdict_reason

UP, UP2, GONE, FLAKY, BAD, STALL = (fake_onion(n) for n in ("up", "up2", "gone", "flaky", "bad", "stall"))


class TorLikeSocks:
    """SOCKS5 with username auth. Per onion: "up" relays to the local site, an int is the
    reply code, "stall" never answers the CONNECT, and a list is consumed one per attempt."""

    def __init__(self, site_port: int, plan: dict[str, Any]) -> None:
        self.plan = {k: (list(v) if isinstance(v, list) else v) for k, v in plan.items()}
        self.users: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                s = self.request
                n_methods = s.recv(2)[1]
                s.recv(n_methods)
                s.sendall(b"\x05\x02")
                ulen = s.recv(2)[1]
                user = s.recv(ulen).decode()
                s.recv(s.recv(1)[0])
                s.sendall(b"\x01\x00")
                head = s.recv(4)
                host = s.recv(s.recv(1)[0]).decode()
                s.recv(2)
                with outer.lock:
                    outer.users.append((host, user))
                    step = outer.plan.get(host, 0x04)
                    if isinstance(step, list):
                        step = step.pop(0) if len(step) > 1 else step[0]
                assert head[1] == 1  # CONNECT
                if step == "stall":
                    threading.Event().wait(5)
                    return
                if step != "up":
                    s.sendall(b"\x05" + bytes([step]) + b"\x00\x01" + b"\x00" * 6)
                    return
                upstream = socket.create_connection(("127.0.0.1", site_port))
                s.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", site_port))
                relay(s, upstream)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.addr = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def relay(a: socket.socket, b: socket.socket) -> None:
    def pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    t = threading.Thread(target=pump, args=(b, a), daemon=True)
    t.start()
    pump(a, b)
    t.join(5)


@pytest.fixture
def site() -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = b"<html><title>market</title></html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def socks_server(site: int) -> Iterator[TorLikeSocks]:
    proxy = TorLikeSocks(site, {UP: "up", UP2: "up", GONE: 0xF0, FLAKY: [0xF3, 0xF2, "up"], BAD: 0xF6, STALL: "stall"})
    yield proxy
    proxy.close()


def checker(proxy: TorLikeSocks, **kw: Any) -> tuple[Checker, list[float]]:
    sleeps: list[float] = []
    return Checker(proxy.addr, None, timeout=1.5, attempts=3, backoff=0.5, sleep=sleeps.append, **kw), sleeps


def test_up_service_is_up_on_the_first_attempt(socks_server: TorLikeSocks) -> None:
    c, sleeps = checker(socks_server)
    doc = c.check(Target(UP, "2026-01-01T00:00:00Z", ("drugs",)))
    assert (doc["status"], doc["method"], doc["http_status"], doc["attempts"], doc["reason"]) == ("up", "http", 200, 1, None)
    assert doc["latency_ms"] >= 0 and doc["first_seen"] == "2026-01-01T00:00:00Z" and doc["categories"] == ["drugs"]
    assert sleeps == [] and doc["run_id"] == c.run_id


def test_down_needs_every_attempt_and_names_tors_reason(socks_server: TorLikeSocks) -> None:
    c, sleeps = checker(socks_server)
    doc = c.check(Target(GONE))
    assert (doc["status"], doc["reason"], doc["attempts"], doc["descriptor"]) == \
        ("down", "onion_descriptor_not_found", 3, "unavailable")
    assert [a["socks_code"] for a in doc["evidence"]["attempts"]] == [0xF0] * 3
    assert sleeps == [0.5, 1.0]  # exponential backoff between attempts
    users = [u for h, u in socks_server.users if h == GONE]
    assert len(set(users)) == 3  # every attempt on a fresh circuit (distinct SOCKS username)


def test_a_flaky_circuit_recovers_and_is_up(socks_server: TorLikeSocks) -> None:
    c, _ = checker(socks_server)
    doc = c.check(Target(FLAKY))
    assert (doc["status"], doc["attempts"]) == ("up", 3)
    assert [a["reason"] for a in doc["evidence"]["attempts"]] == ["onion_rendezvous_failed", "onion_intro_failed", None]


def test_a_bad_address_is_not_retried(socks_server: TorLikeSocks) -> None:
    c, sleeps = checker(socks_server)
    doc = c.check(Target(BAD))
    assert (doc["status"], doc["reason"], doc["attempts"]) == ("down", "onion_bad_address", 1) and sleeps == []


def test_a_stall_is_a_timeout(socks_server: TorLikeSocks) -> None:
    c, _ = checker(socks_server)
    c.attempts = 1
    doc = c.check(Target(STALL))
    assert (doc["status"], doc["reason"]) == ("down", "timeout")


def test_unreachable_tor_is_unknown_not_down() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = Checker(f"127.0.0.1:{port}", None, timeout=1, attempts=2, backoff=0, sleep=lambda _: None)
    doc = c.check(Target(UP))
    assert (doc["status"], doc["reason"], doc["attempts"]) == ("unknown", "tor_unreachable", 2)


def test_pool_checks_all_with_progress_and_batches(socks_server: TorLikeSocks) -> None:
    c, _ = checker(socks_server)
    stream = io.StringIO()
    batches: list[int] = []
    targets = [Target(o) for o in (UP, GONE, BAD, UP2)]
    docs = run_checks(targets, c, concurrency=3, on_batch=lambda b: batches.append(len(b)), batch=3,
                      progress=Progress(len(targets), stream))
    assert sorted(d["status"] for d in docs) == ["down", "down", "up", "up"] and sum(batches) == 4
    assert "checked 4/4  up 2  down 2  unknown 0" in stream.getvalue()


def test_reason_and_duration_helpers() -> None:
    assert verdict_reason(["timeout", "onion_intro_failed", "timeout"], "found") == "onion_intro_failed"
    assert verdict_reason(["timeout", "timeout"], "not_found") == "onion_descriptor_not_found"
    assert verdict_reason(["timeout"], "found") == "timeout"
    assert [parse_duration(x) for x in ("6h", "30m", "1d", "90")] == [21600, 1800, 86400, 90]
    with pytest.raises(ValueError):
        parse_duration("soon")
    assert classify(ValueError("x")) == ("down", "http_error", None)
