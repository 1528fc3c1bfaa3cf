"""Talking to Tor: a network backend that can only reach .onion hosts through a SOCKS
port (remote name resolution, per-onion circuit isolation), Tor's extended SOCKS
errors as named failure reasons, and stem control helpers."""

from __future__ import annotations

import hashlib
import struct
import time
from collections.abc import Iterable

from httpcore2 import (
    AnyIOBackend,
    AsyncNetworkBackend,
    AsyncNetworkStream,
    ConnectError,
)

# Tor's ExtendedErrors replies (tor's doc/socks-extensions) plus the RFC 1928 codes.
SOCKS_REASONS = {
    0x01: "socks_error",
    0x02: "socks_error",
    0x03: "socks_error",
    0x04: "onion_unreachable",
    0x05: "connection_refused",
    0x06: "timeout",
    0x07: "socks_error",
    0x08: "socks_error",
    0xF0: "onion_descriptor_not_found",
    0xF1: "onion_descriptor_invalid",
    0xF2: "onion_intro_failed",
    0xF3: "onion_rendezvous_failed",
    0xF4: "onion_missing_client_auth",
    0xF5: "onion_bad_client_auth",
    0xF6: "onion_bad_address",
    0xF7: "onion_intro_timeout",
}

# Reasons that say "the circuit or path failed" (a NEWNYM may help) rather than
# "the service is gone" (it won't).
CIRCUIT_REASONS = {"onion_intro_failed", "onion_rendezvous_failed", "onion_intro_timeout", "socks_error"}


class TorPolicyError(Exception):
    """A connection that would leave Tor was refused before any packet was sent."""

    reason = "offsite"


class TorUnreachableError(ConnectError):
    """Our own Tor's SocksPort did not accept the connection: nothing is known about the
    service (a liveness check says "unknown", a crawl records connection_refused)."""


class TorSocksError(Exception):
    """Tor refused or failed a SOCKS CONNECT; `reason` is a named failure reason."""

    def __init__(self, code: int, host: str) -> None:
        self.code = code
        self.reason = SOCKS_REASONS.get(code, "socks_error")
        super().__init__(f"SOCKS reply 0x{code:02x} ({self.reason}) for {host_digest(host)}")


def host_digest(host: str) -> str:
    """Short stable label for an onion in logs without spelling out the address."""
    return host[:8] + "…" if host.endswith(".onion") else "<non-onion>"


def isolation_username(onion: str) -> str:
    """IsolateSOCKSAuth key: one circuit family per onion, stable across requests."""
    return hashlib.sha256(onion.encode()).hexdigest()[:16]


class TorSocksBackend(AsyncNetworkBackend):
    """httpcore network backend: every TCP connection is a SOCKS5 CONNECT by hostname
    through one Tor SocksPort. It cannot dial anything else, so a bug above it can't
    leak a connection or a DNS lookup."""

    def __init__(self, socks_host: str, socks_port: int, allow_clearnet: bool = False,
                 isolation_suffix: str = "") -> None:
        self.socks_host = socks_host
        self.socks_port = socks_port
        self.allow_clearnet = allow_clearnet
        self.isolation_suffix = isolation_suffix  # a new suffix: new circuits (liveness retries)
        self._inner = AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable | None = None,
    ) -> AsyncNetworkStream:
        host = host.lower().rstrip(".")
        if not host.endswith(".onion") and not self.allow_clearnet:
            raise TorPolicyError(f"refused non-onion host {host_digest(host)}")
        try:
            stream = await self._inner.connect_tcp(self.socks_host, self.socks_port, timeout=timeout)
        except ConnectError as exc:
            raise TorUnreachableError(f"Tor SocksPort {self.socks_host}:{self.socks_port}: {exc}") from exc
        try:
            await socks5_connect(stream, host, port, isolation_username(host) + self.isolation_suffix, timeout)
        except BaseException:
            await stream.aclose()
            raise
        return stream

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise TorPolicyError("unix sockets are not a Tor route")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def _read_exact(stream: AsyncNetworkStream, n: int, timeout: float | None) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = await stream.read(n - len(buf), timeout=timeout)
        if not chunk:
            raise TorSocksError(0x01, "<eof>")
        buf += chunk
    return buf


async def socks5_connect(
    stream: AsyncNetworkStream, host: str, port: int, username: str, timeout: float | None
) -> None:
    """RFC 1928/1929 CONNECT with ATYP=DOMAINNAME: Tor resolves the name, we never do."""
    user = username.encode()
    await stream.write(b"\x05\x01\x02", timeout=timeout)
    ver, method = await _read_exact(stream, 2, timeout)
    if ver != 5 or method != 2:
        raise TorSocksError(0x01, host)
    await stream.write(b"\x01" + bytes([len(user)]) + user + b"\x01x", timeout=timeout)
    _, status = await _read_exact(stream, 2, timeout)
    if status != 0:
        raise TorSocksError(0x01, host)
    name = host.encode("idna") if not host.isascii() else host.encode()
    await stream.write(
        b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack(">H", port), timeout=timeout
    )
    head = await _read_exact(stream, 4, timeout)
    if head[1] != 0:
        raise TorSocksError(head[1], host)
    atyp = head[3]
    if atyp == 1:
        await _read_exact(stream, 4 + 2, timeout)
    elif atyp == 4:
        await _read_exact(stream, 16 + 2, timeout)
    elif atyp == 3:
        (length,) = await _read_exact(stream, 1, timeout)
        await _read_exact(stream, length + 2, timeout)


def wait_bootstrapped(control_port: int, timeout: float = 120.0, host: str = "127.0.0.1") -> None:
    """Block until Tor reports 100% bootstrap on its ControlPort."""
    from stem.control import Controller

    deadline = time.monotonic() + timeout
    with Controller.from_port(address=host, port=control_port) as c:
        c.authenticate()
        while True:
            phase = c.get_info("status/bootstrap-phase", "")
            if "PROGRESS=100" in phase:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"Tor on control port {control_port} not bootstrapped: {phase}")
            time.sleep(0.5)


def newnym(control_port: int, host: str = "127.0.0.1") -> bool:
    """Ask Tor for fresh circuits; False when Tor rate-limits the signal."""
    from stem import Signal
    from stem.control import Controller

    with Controller.from_port(address=host, port=control_port) as c:
        c.authenticate()
        if not c.is_newnym_available():
            return False
        c.signal(Signal.NEWNYM)
        return True
