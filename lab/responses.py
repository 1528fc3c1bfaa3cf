"""Hostile and ordinary responses the lab sends: a page, a gzip bomb, a huge page, raw bytes
in odd encodings, a slow drip.

Each streams its body in chunks (a 1 GiB bomb is about 1 MiB on the wire and never in
memory), so the lab can play a hostile server for many crawler connections at once.
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

HTML = "text/html; charset=utf-8"


@dataclass
class Response:
    status: int = 200
    content_type: str = HTML
    body: Iterable[bytes] = ()
    length: int | None = 0  # None: chunked transfer encoding
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before each body chunk (slow drip)


def html(body: str, status: int = 200) -> Response:
    data = body.encode("utf-8")
    return Response(status, HTML, [data], len(data))


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


def bomb(p: Mapping[str, Any]) -> Response:
    """A gzip member expanding to `expanded_mib` MiB (default 1 GiB), sent Content-Encoding: gzip."""
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

    return Response(200, p.get("content_type", HTML), body(),
                    len(head) + len(piece) * (n - 1) + len(tail), {"Content-Encoding": "gzip"})


def large(p: Mapping[str, Any]) -> Response:
    """A valid HTML page of `size_mib` MiB, with a Content-Length or (`chunked`) without one."""
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

    return Response(200, HTML, body(), None if p.get("chunked") else size)


def raw_bytes(p: Mapping[str, Any]) -> Response:
    """Exactly the configured bytes (hex, base64 or text in a named encoding) under any
    status and Content-Type: binary files, lying types, broken encodings."""
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


def drip(p: Mapping[str, Any]) -> Response:
    """`total_bytes` sent one byte every `interval` seconds: a server that never quite times out."""
    n = int(p.get("total_bytes", 600))
    body = (b"<p>" + b"." * n)[:n]
    return Response(200, HTML, (body[i:i + 1] for i in range(n)), n, delay=float(p.get("interval", 1.0)))
