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


def seal(raw: bytes, sha256: str, key: bytes) -> dict[str, Any]:
    """The snapshot document for one raw body (the caller has verified ``sha256``)."""
    nonce = os.urandom(12)
    packed = zstandard.ZstdCompressor(level=6).compress(raw)
    blob = nonce + AESGCM(_aes_key(key)).encrypt(nonce, packed, sha256.encode())
    return {
        "data": base64.b64encode(blob).decode("ascii"),
        "codec": CODEC,
        "key_id": key_id(key),
        "size": len(raw),
        "stored_size": len(blob),
        "stored_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }


def unseal(doc: dict[str, Any], sha256: str, key: bytes) -> bytes:
    """Decrypt, decompress and verify one snapshot document."""
    if doc.get("codec") != CODEC:
        raise SnapshotError(f"snapshot {sha256}: unknown codec {doc.get('codec')!r}")
    blob = base64.b64decode(doc["data"])
    try:
        packed = AESGCM(_aes_key(key)).decrypt(blob[:12], blob[12:], sha256.encode())
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
