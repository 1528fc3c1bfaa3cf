"""WARC/1.1 files (ISO 28500) with SHA-256 digests, written and read with warcio.

A capture is a request record and a response record (the HTTP response as received: status
line, headers, body), plus one warcinfo record per file naming onionwatch, the operator and
the crawl. Rebuilding from a stored snapshot (a past crawl) keeps the body byte for byte, so
its WARC-Payload-Digest equals the stored SHA-256; the HTTP headers of such a record are
reconstructed from the page record and say so (``WARC-Onionwatch-Source: snapshot``).

When a page's personal data must not leave in clear, the response is replaced by a
``conversion`` record holding the masked rendering, with the original's digest in
``WARC-Onionwatch-Original-Payload-Digest`` so the body can be matched later.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import io
import os
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Self
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

REASONS = {200: "OK", 201: "Created", 204: "No Content", 301: "Moved Permanently", 302: "Found", 304: "Not Modified",
           400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 410: "Gone",
           429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


def sha256_label(hex_digest: str) -> str:
    """Hex SHA-256 → the WARC digest form ``sha256:BASE32``."""
    return "sha256:" + base64.b32encode(bytes.fromhex(hex_digest)).decode("ascii")


def hex_of_label(label: str) -> str | None:
    """``sha256:BASE32`` (or ``sha256:HEX``) → hex; None for another algorithm or a bad value."""
    algo, _, value = (label or "").partition(":")
    if algo.lower() != "sha256":
        return None
    try:
        return (base64.b32decode(value.upper()) if len(value) != 64 else bytes.fromhex(value)).hex()
    except (binascii.Error, ValueError):
        return None


class _Sha256Writer(WARCWriter):
    """warcio's writer computing SHA-256 block and payload digests instead of SHA-1."""

    @staticmethod
    def _create_digester() -> Digester:
        return Digester("sha256")


def warc_date(rfc3339: str) -> str:
    """Any RFC 3339 time → WARC-Date (UTC, ``Z``)."""
    dt = datetime.fromisoformat(rfc3339)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + (
        f".{dt.microsecond:06d}Z" if dt.microsecond else "Z")


@dataclass
class Written:
    """What one capture added to the file."""

    request_id: str
    record_id: str  # the response (or conversion) record
    record_type: str
    payload_digest: str
    offset: int


class Warc:
    """One gzipped WARC/1.1 file being written; use as a context manager."""

    def __init__(self, path: str | os.PathLike[str], *, operator: str, crawl: str, software: str,
                 description: str = "", extra: dict[str, str] | None = None) -> None:
        self.path = Path(path)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._fh: BinaryIO = os.fdopen(fd, "wb")
        self._writer = _Sha256Writer(self._fh, gzip=True, warc_version="WARC/1.1")
        info = {"software": software, "format": "WARC File Format 1.1", "conformsTo":
                "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
                "operator": operator or "unknown", "isPartOf": crawl,
                "description": description or "Onion service captures fetched through Tor (no clearnet).",
                **(extra or {})}
        record = self._writer.create_warcinfo_record(self.path.name, info)
        self.warcinfo_id = record.rec_headers.get_header("WARC-Record-ID")
        self._writer.write_record(record)

    def _headers(self, uri: str, date: str, extra: dict[str, str]) -> dict[str, str]:
        return {"WARC-Target-URI": uri, "WARC-Date": warc_date(date), "WARC-Warcinfo-ID": self.warcinfo_id, **extra}

    def capture(self, *, url: str, fetched_at: str, status: int, body: bytes, content_type: str = "",
                response_headers: list[tuple[str, str]] | None = None,
                request_headers: list[tuple[str, str]] | None = None, extra: dict[str, str] | None = None) -> Written:
        """A request + response pair. Without ``response_headers`` the HTTP headers are
        reconstructed (Content-Type, Content-Length) and the records say so."""
        extra = dict(extra or {})
        if response_headers is None:
            extra.setdefault("WARC-Onionwatch-Source", "snapshot; HTTP headers reconstructed from the page record")
            response_headers = [("Content-Type", content_type or "application/octet-stream"),
                                ("Content-Length", str(len(body)))]
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        req = StatusAndHeaders(f"GET {path} HTTP/1.1", request_headers or [("Host", parts.netloc)], is_http_request=True)
        request = self._writer.create_warc_record(url, "request", payload=io.BytesIO(b""), http_headers=req,
                                                  warc_headers_dict=self._headers(url, fetched_at, extra))
        resp = StatusAndHeaders(f"{status} {REASONS.get(status, 'Status')}", response_headers, protocol="HTTP/1.1")
        response = self._writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=resp,
                                                   warc_headers_dict=self._headers(url, fetched_at, extra))
        response.rec_headers.add_header("WARC-Concurrent-To", request.rec_headers.get_header("WARC-Record-ID"))
        offset = self._fh.tell()
        self._writer.write_record(request)
        self._writer.write_record(response)
        return Written(request.rec_headers.get_header("WARC-Record-ID"), response.rec_headers.get_header("WARC-Record-ID"),
                       "response", response.rec_headers.get_header("WARC-Payload-Digest"), offset)

    def conversion(self, *, url: str, fetched_at: str, content: bytes, content_type: str, original_sha256: str,
                   reason: str, extra: dict[str, str] | None = None) -> Written:
        """A request + a conversion record (e.g. the masked rendering) standing in for a
        response that may not leave in clear; the original's digest is kept."""
        headers = self._headers(url, fetched_at, {**(extra or {}),
                                                  "WARC-Onionwatch-Original-Payload-Digest": sha256_label(original_sha256),
                                                  "WARC-Onionwatch-Conversion": reason})
        parts = urlsplit(url)
        req = StatusAndHeaders(f"GET {(parts.path or '/')} HTTP/1.1", [("Host", parts.netloc)], is_http_request=True)
        request = self._writer.create_warc_record(url, "request", payload=io.BytesIO(b""), http_headers=req,
                                                  warc_headers_dict=dict(headers))
        record = self._writer.create_warc_record(url, "conversion", payload=io.BytesIO(content),
                                                 warc_content_type=content_type, warc_headers_dict=headers)
        record.rec_headers.add_header("WARC-Concurrent-To", request.rec_headers.get_header("WARC-Record-ID"))
        offset = self._fh.tell()
        self._writer.write_record(request)
        self._writer.write_record(record)
        return Written(request.rec_headers.get_header("WARC-Record-ID"), record.rec_headers.get_header("WARC-Record-ID"),
                       "conversion", record.rec_headers.get_header("WARC-Payload-Digest"), offset)

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class ReadRecord:
    rec_type: str
    uri: str | None
    record_id: str
    date: str
    payload_digest: str | None
    payload_sha256: str  # recomputed from the bytes read
    headers: dict[str, str]
    status: int | None
    offset: int


class WarcReadError(ValueError):
    """The file is not a complete, well-formed WARC (truncated, corrupted, bad digest)."""


def read(path: str | os.PathLike[str]) -> Iterator[ReadRecord]:
    """Every record with its payload re-hashed; digests are checked (WarcReadError otherwise)."""
    if str(path).endswith(".gz"):
        try:  # a cut inside or between gzip members: warcio may just stop early, gzip does not
            with gzip.open(path, "rb") as gz:
                while gz.read(1 << 20):
                    pass
        except (EOFError, OSError, zlib.error) as exc:
            raise WarcReadError(f"not a complete gzip stream (truncated or corrupted): {exc}") from exc
    with open(path, "rb") as fh:
        it = ArchiveIterator(fh, check_digests="raise")
        n = 0
        try:
            for record in it:
                n += 1
                payload = record.content_stream().read()
                rh = record.rec_headers
                status = None
                if record.http_headers is not None and record.rec_type == "response":
                    try:
                        status = int(record.http_headers.get_statuscode())
                    except (TypeError, ValueError):
                        status = None
                digest = rh.get_header("WARC-Payload-Digest")
                payload_hex = hashlib.sha256(payload).hexdigest()
                if digest and hex_of_label(digest) not in (None, payload_hex):
                    raise WarcReadError(f"record {n} ({record.rec_type} {rh.get_header('WARC-Target-URI')}): payload "
                                        "does not match its WARC-Payload-Digest (truncated or altered)")
                length = rh.get_header("Content-Length")
                yield ReadRecord(record.rec_type, rh.get_header("WARC-Target-URI"), rh.get_header("WARC-Record-ID"),
                                 rh.get_header("WARC-Date"), rh.get_header("WARC-Payload-Digest"),
                                 payload_hex, dict(rh.headers), status, it.get_record_offset())
                if length is None:
                    raise WarcReadError(f"record {n}: no Content-Length (truncated)")
        except WarcReadError:
            raise
        except (ArchiveLoadFailed, EOFError, OSError, ValueError) as exc:
            raise WarcReadError(f"record {n}: {type(exc).__name__}: {exc}") from exc
        except Exception as exc:  # zlib errors and digest failures come as various types
            raise WarcReadError(f"record {n}: {type(exc).__name__}: {exc}") from exc


def new_record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def describe(records: list[ReadRecord]) -> dict[str, Any]:
    return {"records": len(records), "responses": sum(r.rec_type == "response" for r in records),
            "conversions": sum(r.rec_type == "conversion" for r in records)}
