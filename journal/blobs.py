"""The journal's side store: raw bodies, compressed and encrypted, in append-only pack files.

A capture entry holds the masked record; the raw body (personal data in clear) never goes
into an entry. It goes here, sealed (zstd, then AES-256-GCM under a key derived from the
caller's secret, the body's SHA-256 as associated data so a sealed body cannot be passed off
as another), appended to ``blobs/<NNNNNN>.pack`` with one fsync per batch (group commit),
*before* the entries that reference it are appended. An entry references its body by
``{"pack", "offset", "length", "codec"}``, so the reference is covered by the hash chain.

A crash mid-write leaves unreferenced bytes at the end of a pack; later writes append after
them and nothing ever points at them. Packs are 0600 in a 0700 directory.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path
from typing import Any

import zstandard
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

CODEC = "zstd+aes-256-gcm/journal-v1"
PACK_BYTES = 256 * 1024 * 1024
MAX_BODY = 64 * 1024 * 1024
_PACK = re.compile(r"^(\d{6})\.pack$")
_MAGIC = b"OWB1"


class BlobError(RuntimeError):
    """A body that cannot be read back: missing pack, wrong key, tampered or truncated bytes."""


def _aes_key(secret: bytes) -> bytes:
    if not secret:
        raise ValueError("a key is required: bodies are only ever stored encrypted")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"onionwatch journal blob v1").derive(secret)


class BlobStore:
    """Sealed bodies beside a journal (``<journal>/blobs``). Thread-safe within a process;
    several processes may append (each append takes the pack's file lock)."""

    def __init__(self, root: str | os.PathLike[str], key: bytes, *, pack_bytes: int = PACK_BYTES) -> None:
        self.root = Path(root)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        self._aead = AESGCM(_aes_key(key))
        self.pack_bytes = pack_bytes
        self._lock = threading.Lock()
        self._recent: dict[str, dict[str, Any]] = {}  # sha256 -> ref written by this process

    def _packs(self) -> list[Path]:
        return sorted(p for p in self.root.iterdir() if _PACK.match(p.name))

    def _current(self) -> Path:
        packs = self._packs()
        if packs and packs[-1].stat().st_size < self.pack_bytes:
            return packs[-1]
        n = int(_PACK.match(packs[-1].name).group(1)) + 1 if packs else 1  # type: ignore[union-attr]
        return self.root / f"{n:06d}.pack"

    def seal(self, raw: bytes, sha256: str) -> bytes:
        nonce = os.urandom(12)
        packed = zstandard.ZstdCompressor(level=3).compress(raw)
        return _MAGIC + nonce + self._aead.encrypt(nonce, packed, sha256.encode())

    def put_many(self, bodies: dict[str, bytes]) -> dict[str, dict[str, Any]]:
        """Seal and append bodies (keyed by their SHA-256, checked here); durable (fsynced)
        when this returns. Returns a reference per sha256; a body this process already wrote
        is not written again."""
        refs: dict[str, dict[str, Any]] = {}
        todo: list[tuple[str, bytes]] = []
        for sha, raw in bodies.items():
            if hashlib.sha256(raw).hexdigest() != sha:
                raise ValueError("body does not match its sha256")
            if sha in self._recent:
                refs[sha] = self._recent[sha]
            else:
                todo.append((sha, self.seal(raw, sha)))
        if not todo:
            return refs
        import fcntl

        with self._lock:
            path = self._current()
            created = not path.exists()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                offset = os.fstat(fd).st_size
                chunks = []
                for sha, blob in todo:
                    ref = {"pack": path.name, "offset": offset, "length": len(blob), "codec": CODEC}
                    refs[sha] = ref
                    chunks.append(blob)
                    offset += len(blob)
                os.write(fd, b"".join(chunks))
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                dfd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
            for sha, _ in todo:
                self._recent[sha] = refs[sha]
            if len(self._recent) > 100_000:
                self._recent.clear()
        return refs

    def get(self, ref: dict[str, Any], sha256: str) -> bytes:
        """The verified body a reference points at."""
        if not isinstance(ref, dict) or ref.get("codec") != CODEC or not _PACK.match(str(ref.get("pack", ""))):
            raise BlobError(f"body {sha256[:12]}: not a body reference of this store")
        path = self.root / ref["pack"]
        try:
            with open(path, "rb") as fh:
                fh.seek(int(ref["offset"]))
                blob = fh.read(int(ref["length"]))
        except OSError as exc:
            raise BlobError(f"body {sha256[:12]}: {ref['pack']} cannot be read ({type(exc).__name__})") from exc
        if len(blob) != int(ref["length"]) or not blob.startswith(_MAGIC):
            raise BlobError(f"body {sha256[:12]}: truncated or not a sealed body")
        try:
            packed = self._aead.decrypt(blob[4:16], blob[16:], sha256.encode())
        except Exception as exc:  # cryptography's InvalidTag has no message
            raise BlobError(f"body {sha256[:12]}: cannot decrypt (wrong key or tampered data)") from exc
        raw = zstandard.ZstdDecompressor().decompress(packed, max_output_size=MAX_BODY)
        if hashlib.sha256(raw).hexdigest() != sha256:
            raise BlobError(f"body {sha256[:12]}: content does not match its SHA-256")
        return raw
