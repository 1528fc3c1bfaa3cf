"""An append-only, hash-chained journal on local disk.

Layout of a journal directory (0700; every file 0600)::

    segments/000000000001-<label>.jsonl   one JSON entry a line; a new segment per crawl (``roll``)
    HEAD                                  {"seq", "hash"} of the last entry (truncation check)
    consumers/<name>.json                 "done up to seq N" for one consumer (e.g. the indexer)
    torn/                                 bytes of a write cut short by a crash, kept, never replayed
    lock                                  appends from several processes take turns on it

``append``/``append_many`` return only after the entries are written and fsynced (one fsync
per batch: group commit). A crash mid-write leaves an incomplete last line: the next writer
moves those bytes to ``torn/`` and records a ``recovery`` entry, so nothing is silently dropped
and the chain stays whole. Entries hold what the caller passes: callers pass masked records,
never raw bodies or clear personal data.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from journal.chain import (
    GENESIS,
    Break,
    canonical,
    entry_hash,
    parse_lines,
    redact,
    verify_entries,
)

MAX_ENTRY_BYTES = 8 * 1024 * 1024  # a masked record with 500k characters of Thai text fits
SEGMENT_BYTES = 64 * 1024 * 1024
_SEGMENT = re.compile(r"^(\d{12})-([A-Za-z0-9_.-]{1,64})\.jsonl$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def utc_now() -> str:
    """RFC 3339 UTC with microseconds, e.g. 2026-11-30T06:38:38.123456Z."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _mkdir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` all at once (temp file + rename), mode 0600."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if durable:
        _fsync_dir(path.parent)


def _last_line(path: Path) -> tuple[bytes, int]:
    """(last line, with its newline if it has one, and its offset); reads backwards, bounded."""
    size = path.stat().st_size
    if size == 0:
        return b"", 0
    with open(path, "rb") as fh:
        pos, buf = size, b""
        while pos > 0:
            step = min(65536, pos)
            pos -= step
            fh.seek(pos)
            buf = fh.read(step) + buf
            cut = buf.rfind(b"\n", 0, size - 1 - pos)  # a final newline ends the line, not starts it
            if cut >= 0:
                return buf[cut + 1:], pos + cut + 1
            if size - pos > 2 * MAX_ENTRY_BYTES:
                raise JournalError(f"{path.name}: last line longer than any entry can be; run verify")
        return buf, 0


@dataclass(frozen=True)
class Entry:
    seq: int
    kind: str
    at: str
    payload: Any
    prev: str
    hash: str

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Entry:
        return cls(d["seq"], d["kind"], d["at"], d.get("payload"), d["prev"], d["hash"])

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "kind": self.kind, "at": self.at, "payload": self.payload, "prev": self.prev,
                "hash": self.hash}


class JournalError(RuntimeError):
    """The journal cannot be appended to (e.g. its tail is not a valid entry)."""


class Journal:
    """One hash chain in one directory. Safe for several writer processes (a file lock)."""

    def __init__(self, root: str | os.PathLike[str], *, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.root = Path(root)
        self.segments_dir = self.root / "segments"
        self.segment_bytes = segment_bytes
        for d in (self.root, self.segments_dir, self.root / "consumers"):
            _mkdir(d)
        self._label = "journal"
        self._roll_pending = False
        self._fd: int | None = None
        self._fd_path: Path | None = None
        self._lock_fd: int | None = None
        self._lock_pid = 0
        self._state: tuple[Path | None, int, int, str] | None = None  # (segment, size, seq, hash)

    # -- segments -------------------------------------------------------------------------
    def segments(self) -> list[Path]:
        """Segment files in chain order."""
        return sorted(p for p in self.segments_dir.iterdir() if _SEGMENT.match(p.name))

    def roll(self, label: str) -> None:
        """The next append starts a new segment named after ``label`` (e.g. the crawl id)."""
        if not _NAME.match(label):
            raise ValueError(f"segment label must match {_NAME.pattern}")
        self._label = label
        self._roll_pending = True

    # -- writing --------------------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        if self._lock_fd is None or self._lock_pid != os.getpid():  # a forked child opens its own
            self._lock_fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o600)
            self._lock_pid = os.getpid()
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _tail_state(self) -> tuple[Path | None, int, int, str]:
        """(last segment, its size, last seq, last hash), repairing a torn last line."""
        segs = self.segments()
        if not segs:
            return None, 0, 0, GENESIS
        recovered: list[dict[str, Any]] = []
        for seg in reversed(segs):  # an empty last segment (crash after create) is skipped
            line, offset = _last_line(seg)
            if line and not line.endswith(b"\n"):
                recovered.append(self._move_torn(seg, offset))
                line, offset = _last_line(seg)
            if line:
                try:
                    last = json.loads(line)
                    seq, digest = int(last["seq"]), str(last["hash"])
                except (ValueError, KeyError, TypeError) as exc:
                    raise JournalError(f"{seg.name}: last line is not a journal entry; run verify") from exc
                state = (segs[-1], segs[-1].stat().st_size, seq, digest)
                if recovered:
                    self._state = state
                    self._write_entries([("recovery", r) for r in recovered], utc_now())
                    return self._state
                return state
        return segs[-1], segs[-1].stat().st_size, 0, GENESIS

    def _move_torn(self, seg: Path, offset: int) -> dict[str, Any]:
        torn_dir = self.root / "torn"
        _mkdir(torn_dir)
        with open(seg, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
        keep = torn_dir / f"{seg.stem}.{offset}.torn"
        write_atomic(keep, data)
        fd = os.open(seg, os.O_WRONLY)
        try:
            os.ftruncate(fd, offset)
            os.fsync(fd)
        finally:
            os.close(fd)
        return {"segment": seg.name, "offset": offset, "torn_bytes": len(data),
                "torn_sha256": hashlib.sha256(data).hexdigest(), "kept_as": f"torn/{keep.name}"}

    def _open_segment(self, path: Path) -> int:
        if self._fd_path != path:
            if self._fd is not None:
                os.close(self._fd)
            created = not path.exists()
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._fd_path = path
            if created:
                _fsync_dir(path.parent)
        assert self._fd is not None
        return self._fd

    def _write_entries(self, items: list[tuple[str, Any]], at: str) -> list[Entry]:
        assert self._state is not None
        seg, size, seq, prev = self._state
        if seg is None or self._roll_pending or size >= self.segment_bytes:
            label = self._label if (seg is None or self._roll_pending) else _SEGMENT.match(seg.name).group(2)  # type: ignore[union-attr]
            if seg is None or size > 0:
                seg = self.segments_dir / f"{seq + 1:012d}-{label}.jsonl"
                size = 0
            self._roll_pending = False
        entries, lines = [], []
        for kind, payload in items:
            if not isinstance(kind, str) or not _NAME.match(kind):
                raise ValueError(f"entry kind must match {_NAME.pattern}")
            seq += 1
            body = canonical(payload)  # serialised once: hashed and written as is
            digest = entry_hash(seq, kind, at, hashlib.sha256(body).hexdigest(), prev)
            line = b"".join((b'{"at":', canonical(at), b',"hash":"', digest.encode(), b'","kind":', canonical(kind),
                             b',"payload":', body, b',"prev":"', prev.encode(), b'","seq":', str(seq).encode(), b"}\n"))
            if len(line) > MAX_ENTRY_BYTES:
                raise ValueError(f"journal entry of {len(line)} bytes exceeds {MAX_ENTRY_BYTES}")
            entries.append(Entry(seq, kind, at, payload, prev, digest))
            prev = digest
            lines.append(line)
        data = b"".join(lines)
        fd = self._open_segment(seg)
        os.write(fd, data)
        os.fsync(fd)
        self._state = (seg, size + len(data), seq, prev)
        write_atomic(self.root / "HEAD", canonical({"seq": seq, "hash": prev}), durable=False)
        return entries

    def append(self, kind: str, payload: Any, *, at: str | None = None) -> Entry:
        """Append one entry; durable (fsynced) when this returns."""
        return self.append_many([(kind, payload)], at=at)[0]

    def append_many(self, items: Iterable[tuple[str, Any]], *, at: str | None = None) -> list[Entry]:
        """Append entries in order with one fsync (group commit); all or none are acknowledged."""
        items = list(items)
        if not items:
            return []
        with self._locked():
            if self._state is None or self._head_seq() != self._state[2]:
                self._state = self._tail_state()  # first use, or another process appended
            return self._write_entries(items, at or utc_now())

    def _head_seq(self) -> int | None:
        """The seq HEAD records (written under the lock after every batch); None if unreadable."""
        try:
            return int(json.loads((self.root / "HEAD").read_bytes())["seq"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd, self._fd_path = None, None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading --------------------------------------------------------------------------
    def _lines(self, segs: list[Path]) -> Iterator[tuple[str, dict[str, Any] | Break]]:
        for seg in segs:
            with open(seg, "rb") as fh:
                yield from parse_lines(fh, f"segments/{seg.name}")

    def iterate(self, from_seq: int = 1) -> Iterator[Entry]:
        """Entries with seq >= from_seq, in order (no chain check: see ``verify``).
        A torn last line (crash mid-write) is not an entry and is not yielded."""
        segs = self.segments()
        starts = [int(_SEGMENT.match(s.name).group(1)) for s in segs]  # type: ignore[union-attr]
        first = 0
        for i, start in enumerate(starts):
            if start <= from_seq:
                first = i
        for _, entry in self._lines(segs[first:]):
            if isinstance(entry, Break):
                return
            if entry["seq"] >= from_seq:
                yield Entry.from_dict(entry)

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the last entry: (0, GENESIS) for an empty journal."""
        with self._locked():
            _, _, seq, digest = self._tail_state()
        return seq, digest

    def get(self, seq: int) -> Entry | None:
        for entry in self.iterate(seq):
            return entry if entry.seq == seq else None
        return None

    def verify(self) -> Break | None:
        """Check the whole chain from the genesis, the segment names, and HEAD; the first
        break names the file, line and entry (edited, deleted, reordered, truncated)."""
        segs = self.segments()

        def walk() -> Iterator[tuple[str, dict[str, Any] | Break]]:
            for seg in segs:
                start = int(_SEGMENT.match(seg.name).group(1))  # type: ignore[union-attr]
                first = True
                with open(seg, "rb") as fh:
                    for loc, entry in parse_lines(fh, f"segments/{seg.name}"):
                        if first and isinstance(entry, dict) and entry.get("seq") != start:
                            yield loc, Break(loc, entry.get("seq"), f"segment should start at seq {start}")
                            return
                        first = False
                        yield loc, entry

        problem, last_seq, _last_hash = verify_entries(walk())
        if problem:
            return problem
        head_file = self.root / "HEAD"
        if head_file.exists():
            try:
                head = json.loads(head_file.read_bytes())
                hseq, hhash = int(head["seq"]), str(head["hash"])
            except (ValueError, KeyError, TypeError):
                return Break("HEAD", None, "not a valid head record")
            if hseq > last_seq:
                return Break("HEAD", hseq, f"truncated: HEAD records seq {hseq} but the journal ends at seq {last_seq}")
            entry = self.get(hseq) if hseq else None
            if hseq and (entry is None or entry.hash != hhash):
                return Break("HEAD", hseq, "HEAD hash differs from the entry at that seq (journal rewritten)")
        for name, seq in self.consumers().items():
            if seq > last_seq:
                return Break(f"consumers/{name}.json", seq,
                             f"truncated: consumer {name} is done up to seq {seq} but the journal ends at seq {last_seq}")
        return None

    # -- consumers ------------------------------------------------------------------------
    def mark_done(self, consumer: str, seq: int) -> None:
        """Record atomically and durably that ``consumer`` has handled every entry up to ``seq``."""
        if not _NAME.match(consumer):
            raise ValueError(f"consumer name must match {_NAME.pattern}")
        write_atomic(self.root / "consumers" / f"{consumer}.json",
                     canonical({"consumer": consumer, "seq": int(seq), "at": utc_now()}))

    def done(self, consumer: str) -> int:
        """The seq ``consumer`` is done up to (0: nothing yet)."""
        path = self.root / "consumers" / f"{consumer}.json"
        try:
            return int(json.loads(path.read_bytes())["seq"])
        except FileNotFoundError:
            return 0

    def consumers(self) -> dict[str, int]:
        out = {}
        for p in sorted((self.root / "consumers").glob("*.json")):
            try:
                out[p.stem] = int(json.loads(p.read_bytes())["seq"])
            except (ValueError, KeyError, TypeError):
                out[p.stem] = 0
        return out

    def pending(self, consumer: str) -> Iterator[Entry]:
        """Entries ``consumer`` has not marked done: what to replay after a crash."""
        return self.iterate(self.done(consumer) + 1)

    # -- excerpts -------------------------------------------------------------------------
    def excerpt(self, wanted: set[int]) -> list[dict[str, Any]]:
        """The run of entries from the first to the last wanted seq; the others in between
        are withheld (payload replaced by its digest) so the excerpt still checks as a chain."""
        if not wanted:
            return []
        lo, hi = min(wanted), max(wanted)
        out = []
        for entry in self.iterate(lo):
            if entry.seq > hi:
                break
            d = entry.as_dict()
            out.append(d if entry.seq in wanted else redact(d))
        return out
