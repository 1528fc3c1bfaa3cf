"""Evidence snapshots: raw page bodies, compressed and encrypted, keyed by their SHA-256.

Raw pages carry personal data in clear, so the store only ever holds ciphertext
(zstd, then AES-256-GCM with the SHA-256 as associated data, so a blob cannot be
swapped under another id). Reading back verifies the digest: what an investigator
downloads is provably the body that was fetched.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import threading
from datetime import datetime, timezone
from typing import Any

import zstandard
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from elasticsearch import Elasticsearch, NotFoundError

from index.names import Names

CODEC = "zstd+aes-256-gcm/v1"
_MAX_RAW = 64 * 1024 * 1024


class SnapshotError(RuntimeError):
    """Snapshot missing, undecryptable with the given key, or failing its SHA-256 check."""


@functools.lru_cache(maxsize=8)  # one HKDF per key, not per page: it was 3 % of the write path
def _aes_key(key: bytes) -> bytes:
    """Any caller secret (e.g. a hex string from a key file) to a 256-bit AES key."""
    if not key:
        raise ValueError("snapshot key must not be empty")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"onionwatch snapshot v1").derive(key)


@functools.lru_cache(maxsize=8)
def key_id(key: bytes) -> str:
    """Short public identifier of a key, to tell which key sealed a snapshot (rotation)."""
    return hashlib.sha256(b"onionwatch key id\x00" + _aes_key(key)).hexdigest()[:16]


@functools.lru_cache(maxsize=8)
def _aead(key: bytes) -> AESGCM:
    """The AES-GCM cipher for a key, built once (it holds no per-message state)."""
    return AESGCM(_aes_key(key))


_local = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    """This thread's zstd compressor (level 6). Reused: a new one allocates its compression
    context on every call, which cost twice the compression itself for a few-KB page. A
    compressor must not be used by two threads at once, hence one per thread."""
    c = getattr(_local, "zstd", None)
    if c is None:
        c = _local.zstd = zstandard.ZstdCompressor(level=6)
    return c


def seal(raw: bytes, sha256: str, key: bytes, stored_at: str | None = None) -> dict[str, Any]:
    """The snapshot document for one raw body (the caller has verified ``sha256``).
    ``stored_at``: RFC 3339 UTC time to record (default now); a writer sealing a batch
    passes one time for the whole batch."""
    nonce = os.urandom(12)  # a fresh random nonce per message: never reused with the key
    packed = _compressor().compress(raw)
    blob = nonce + _aead(key).encrypt(nonce, packed, sha256.encode())
    return {
        "data": base64.b64encode(blob).decode("ascii"),
        "codec": CODEC,
        "key_id": key_id(key),
        "size": len(raw),
        "stored_size": len(blob),
        "stored_at": stored_at or datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }


def unseal(doc: dict[str, Any], sha256: str, key: bytes) -> bytes:
    """Decrypt, decompress and verify one snapshot document."""
    if doc.get("codec") != CODEC:
        raise SnapshotError(f"snapshot {sha256}: unknown codec {doc.get('codec')!r}")
    blob = base64.b64decode(doc["data"])
    try:
        packed = _aead(key).decrypt(blob[:12], blob[12:], sha256.encode())
    except Exception as exc:  # cryptography raises InvalidTag without a message
        raise SnapshotError(f"snapshot {sha256}: cannot decrypt (wrong key or tampered data)") from exc
    raw = zstandard.ZstdDecompressor().decompress(packed, max_output_size=_MAX_RAW)
    if hashlib.sha256(raw).hexdigest() != sha256:
        raise SnapshotError(f"snapshot {sha256}: content does not match its SHA-256")
    return raw


def get_snapshot(es: Elasticsearch, names: Names, sha256: str, key: bytes) -> bytes:
    """The verified raw body for an evidence download; raises SnapshotError if unavailable."""
    try:
        doc = es.get(index=names.snapshots, id=sha256)
    except NotFoundError as exc:
        raise SnapshotError(f"snapshot {sha256}: not stored") from exc
    return unseal(doc["_source"], sha256, key)
