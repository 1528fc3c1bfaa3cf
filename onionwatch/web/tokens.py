"""API tokens for the web app: only their SHA-256 is stored, so a leaked token file
lets nobody in. Tokens are 256-bit random, so an unsalted hash is enough."""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

PREFIX = "ow_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """A JSON file of {name, sha256, created_at}; written atomically under a lock."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> list[dict[str, Any]]:
        try:
            return list(json.loads(self.path.read_text())["tokens"])
        except FileNotFoundError:
            return []

    def _write(self, tokens: list[dict[str, Any]]) -> None:
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"tokens": tokens}, fh, indent=1)
        os.replace(tmp, self.path)

    def create(self, name: str, *, admin: bool = False) -> str:
        """A new token for ``name`` (returned once, never stored in clear); an admin's token
        also opens the audit trail."""
        if not _NAME.match(name):
            raise ValueError("token name: 1-64 letters, digits, _ . @ - (starting with a letter or digit)")
        token = PREFIX + secrets.token_urlsafe(32)
        with self._locked():
            tokens = self._read()
            if any(t["name"] == name for t in tokens):
                raise ValueError(f"a token named {name!r} exists; revoke it first")
            created = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
            tokens.append({"name": name, "sha256": token_digest(token), "created_at": created, "admin": bool(admin)})
            self._write(tokens)
        return token

    def revoke(self, name: str) -> bool:
        with self._locked():
            tokens = self._read()
            kept = [t for t in tokens if t["name"] != name]
            if len(kept) != len(tokens):
                self._write(kept)
            return len(kept) != len(tokens)

    def list(self) -> list[dict[str, Any]]:
        """Names, creation times and admin flags (no hashes)."""
        return [{"name": t["name"], "created_at": t["created_at"], "admin": bool(t.get("admin"))} for t in self._read()]

    def is_admin(self, name: str) -> bool:
        return any(t["name"] == name and t.get("admin") for t in self._read())

    def name_for_digest(self, digest: str) -> str | None:
        """Whose token has this digest (sessions keep the digest, so revoking ends them)."""
        found = None
        for t in self._read():  # compare against every entry in constant time per entry
            if hmac.compare_digest(t["sha256"], digest):
                found = t["name"]
        return found

    def verify(self, token: str | None) -> str | None:
        """The token's name, or None for a missing, malformed or unknown token."""
        if not token or not token.startswith(PREFIX) or len(token) > 200:
            return None
        return self.name_for_digest(token_digest(token))
