"""The hash chain: canonical JSON, entry hashes, and checking a run of entries.

An entry is ``{seq, kind, at, payload, prev, hash}``. Its hash is SHA-256 over the canonical
JSON of ``{seq, kind, at, payload_sha256, prev}`` where ``payload_sha256`` is SHA-256 over the
canonical JSON of the payload. Hashing the payload through its own digest keeps the chain
verifiable when an excerpt withholds payloads that are not the reader's business: a withheld
entry keeps ``payload_sha256`` and its place in the chain (see ``redact``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
FIELDS = ("seq", "kind", "at", "payload", "prev", "hash")


def canonical(obj: Any) -> bytes:
    """Canonical JSON (sorted keys, no spaces, UTF-8, no NaN): equal data, equal bytes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def payload_digest(payload: Any) -> str:
    return hashlib.sha256(canonical(payload)).hexdigest()


def entry_hash(seq: int, kind: str, at: str, payload_sha256: str, prev: str) -> str:
    head = {"seq": seq, "kind": kind, "at": at, "payload_sha256": payload_sha256, "prev": prev}
    return hashlib.sha256(canonical(head)).hexdigest()


def make_entry(seq: int, kind: str, at: str, payload: Any, prev: str) -> dict[str, Any]:
    return {"seq": seq, "kind": kind, "at": at, "payload": payload, "prev": prev,
            "hash": entry_hash(seq, kind, at, payload_digest(payload), prev)}


def redact(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry without its payload, still checkable as a link of the chain."""
    return {"seq": entry["seq"], "kind": entry["kind"], "at": entry["at"], "payload_sha256": payload_digest(entry["payload"]),
            "prev": entry["prev"], "hash": entry["hash"], "withheld": True}


@dataclass(frozen=True)
class Break:
    """The first place a chain does not hold: where (file:line), which entry, and why."""

    where: str
    seq: int | None
    reason: str

    def __str__(self) -> str:
        at = f" (seq {self.seq})" if self.seq is not None else ""
        return f"{self.where}{at}: {self.reason}"


def parse_lines(lines: Iterable[bytes], where: str) -> Iterator[tuple[str, dict[str, Any] | Break]]:
    """(location, entry) per line; a line that is not an entry object yields a Break."""
    n = 0
    for n, line in enumerate(lines, 1):
        loc = f"{where}:{n}"
        if not line.endswith(b"\n"):
            yield loc, Break(loc, None, "truncated: last line is incomplete (no newline)")
            return
        try:
            entry = json.loads(line)
        except ValueError:
            yield loc, Break(loc, None, "not a JSON entry (edited or corrupted)")
            return
        if not isinstance(entry, dict):
            yield loc, Break(loc, None, "not a JSON object (edited or corrupted)")
            return
        yield loc, entry


def check(entry: dict[str, Any], loc: str, expect_seq: int | None, expect_prev: str | None) -> Break | None:
    """Check one entry against its own hash and against the entry before it."""
    seq = entry.get("seq")
    if not isinstance(seq, int) or not all(k in entry for k in ("kind", "at", "prev", "hash")):
        return Break(loc, seq if isinstance(seq, int) else None, "malformed entry (fields missing)")
    if entry.get("withheld"):
        digest = entry.get("payload_sha256")
        if not isinstance(digest, str):
            return Break(loc, seq, "withheld entry without payload_sha256")
    else:
        if "payload" not in entry:
            return Break(loc, seq, "malformed entry (no payload)")
        try:
            digest = payload_digest(entry["payload"])
        except ValueError:
            return Break(loc, seq, "payload is not canonical JSON")
    if expect_seq is not None and seq != expect_seq:
        if seq > expect_seq:
            missing = f"seq {expect_seq}" if seq == expect_seq + 1 else f"seqs {expect_seq}..{seq - 1}"
            return Break(loc, seq, f"entry missing before this one: {missing} deleted")
        return Break(loc, seq, f"out of order: expected seq {expect_seq} (entries reordered or duplicated)")
    if entry_hash(seq, entry["kind"], entry["at"], digest, entry["prev"]) != entry["hash"]:
        return Break(loc, seq, "hash does not match the entry's content (entry edited)")
    if expect_prev is not None and entry["prev"] != expect_prev:
        return Break(loc, seq, "prev does not match the hash of the entry before (chain broken or entries replaced)")
    return None


def verify_entries(entries: Iterable[tuple[str, dict[str, Any] | Break]], *, anchor: str | None = GENESIS,
                   first_seq: int | None = 1) -> tuple[Break | None, int, str]:
    """Walk (location, entry) pairs; return (first Break or None, last seq, last hash).

    ``anchor``/``first_seq`` state where the run must start (the genesis for a whole journal,
    the ``prev`` of the first entry for an excerpt); None accepts whatever comes first."""
    expect_seq, expect_prev = first_seq, anchor
    last_seq, last_hash = (first_seq - 1 if first_seq else 0), anchor or GENESIS
    for loc, entry in entries:
        if isinstance(entry, Break):
            return entry, last_seq, last_hash
        problem = check(entry, loc, expect_seq, expect_prev)
        if problem:
            return problem, last_seq, last_hash
        last_seq, last_hash = entry["seq"], entry["hash"]
        expect_seq, expect_prev = last_seq + 1, last_hash
    return None, last_seq, last_hash
