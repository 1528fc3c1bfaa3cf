"""The journal: durable appends, a chain that names the first break, consumer markers, excerpts."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from journal import GENESIS, Journal, verify_entries
from journal.chain import parse_lines


def capture(i: int) -> dict:
    return {"url": f"http://x{i}.onion/", "status": 200, "sha256": f"{i:064x}", "size": i}


def filled(tmp_path: Path, n: int = 10, label: str = "crawl1") -> Journal:
    j = Journal(tmp_path / "j")
    j.roll(label)
    j.append_many([("capture", capture(i)) for i in range(1, n + 1)])
    return j


def seg_lines(j: Journal) -> tuple[Path, list[bytes]]:
    seg = j.segments()[-1]
    return seg, seg.read_bytes().splitlines(keepends=True)


def test_append_iterate_head_and_modes(tmp_path: Path) -> None:
    j = filled(tmp_path, 5)
    e = j.append("failure", {"url": "http://y.onion/", "failure": "timeout"})
    assert e.seq == 6 and j.head() == (6, e.hash)
    assert [x.seq for x in j.iterate(4)] == [4, 5, 6]
    assert [x.payload["size"] for x in j.iterate() if x.kind == "capture"] == [1, 2, 3, 4, 5]
    assert j.verify() is None
    assert stat.S_IMODE(os.stat(j.root).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(j.segments_dir).st_mode) == 0o700
    for f in [*j.segments(), j.root / "HEAD"]:
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, f
    first = next(j.iterate())
    assert first.prev == GENESIS and next(j.iterate(2)).prev == first.hash


def test_reopen_continues_chain_and_roll_starts_segment(tmp_path: Path) -> None:
    j = filled(tmp_path, 3)
    j.close()
    j2 = Journal(tmp_path / "j")
    j2.roll("crawl2")
    e = j2.append("capture", capture(4))
    assert e.seq == 4 and e.prev == j.get(3).hash
    assert [s.name for s in j2.segments()] == ["000000000001-crawl1.jsonl", "000000000004-crawl2.jsonl"]
    assert [x.seq for x in j2.iterate(4)] == [4] and [x.seq for x in j2.iterate(2)] == [2, 3, 4]
    assert j2.verify() is None


def test_size_roll_keeps_one_chain(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j", segment_bytes=600)
    for i in range(1, 21):
        j.append("capture", capture(i))
    assert len(j.segments()) > 3
    assert [x.seq for x in j.iterate()] == list(range(1, 21))
    assert [x.seq for x in j.iterate(17)] == [17, 18, 19, 20]
    assert j.verify() is None


def test_edited_entry_is_named(tmp_path: Path) -> None:
    j = filled(tmp_path)
    seg, lines = seg_lines(j)
    lines[4] = lines[4].replace(b'"status":200', b'"status":404')
    seg.write_bytes(b"".join(lines))
    problem = j.verify()
    assert problem is not None and problem.seq == 5 and "edited" in problem.reason
    assert str(problem).startswith(f"segments/{seg.name}:5")


def test_flipped_byte_is_named(tmp_path: Path) -> None:
    j = filled(tmp_path)
    seg, lines = seg_lines(j)
    data = bytearray(b"".join(lines))
    off = sum(len(x) for x in lines[:6]) + lines[6].index(b"x7")
    data[off] ^= 0x01
    seg.write_bytes(bytes(data))
    problem = j.verify()
    assert problem is not None and problem.seq == 7


def test_deleted_entry_is_named(tmp_path: Path) -> None:
    j = filled(tmp_path)
    seg, lines = seg_lines(j)
    del lines[3]
    seg.write_bytes(b"".join(lines))
    problem = j.verify()
    assert problem is not None and problem.seq == 5 and "seq 4 deleted" in problem.reason


def test_reordered_entries_are_named(tmp_path: Path) -> None:
    j = filled(tmp_path)
    seg, lines = seg_lines(j)
    lines[2], lines[3] = lines[3], lines[2]
    seg.write_bytes(b"".join(lines))
    problem = j.verify()
    assert problem is not None and problem.seq == 4 and "missing" in problem.reason


def test_renumbered_forgery_is_named(tmp_path: Path) -> None:
    """An attacker who deletes an entry and re-hashes the rest still breaks the link to HEAD."""
    from journal.chain import make_entry
    j = filled(tmp_path)
    seg, lines = seg_lines(j)
    entries = [json.loads(x) for x in lines]
    del entries[4]
    prev, out = GENESIS, []
    for n, e in enumerate(entries, 1):
        f = make_entry(n, e["kind"], e["at"], e["payload"], prev)
        prev = f["hash"]
        out.append(json.dumps(f).encode() + b"\n")
    seg.write_bytes(b"".join(out))
    problem = j.verify()
    assert problem is not None and problem.where == "HEAD" and "truncated" in problem.reason


def test_truncated_tail_and_removed_tail_are_named(tmp_path: Path) -> None:
    j = filled(tmp_path)
    seg, lines = seg_lines(j)
    seg.write_bytes(b"".join(lines[:-1]) + lines[-1][:20])
    problem = j.verify()
    assert problem is not None and "truncated" in problem.reason and problem.where.endswith(":10")
    seg.write_bytes(b"".join(lines[:-2]))
    problem = j.verify()
    assert problem is not None and problem.where == "HEAD" and "ends at seq 8" in problem.reason


def test_torn_write_is_recovered_not_lost(tmp_path: Path) -> None:
    """A crash mid-write leaves half a line; the next writer keeps those bytes and says so."""
    j = filled(tmp_path, 4)
    j.close()
    seg = j.segments()[-1]
    with open(seg, "ab") as fh:
        fh.write(b'{"seq":5,"kind":"capture","at":"2026-')
    j2 = Journal(tmp_path / "j")
    e = j2.append("capture", capture(5))
    kinds = [(x.seq, x.kind) for x in j2.iterate()]
    assert kinds[-2:] == [(5, "recovery"), (6, "capture")] and e.seq == 6
    rec = j2.get(5).payload
    assert rec["torn_bytes"] == 37 and (j2.root / rec["kept_as"]).read_bytes().startswith(b'{"seq":5')
    assert j2.verify() is None


def test_consumer_markers(tmp_path: Path) -> None:
    j = filled(tmp_path)
    assert j.done("indexer") == 0 and [e.seq for e in j.pending("indexer")][:2] == [1, 2]
    j.mark_done("indexer", 7)
    assert j.done("indexer") == 7 and [e.seq for e in j.pending("indexer")] == [8, 9, 10]
    assert stat.S_IMODE(os.stat(j.root / "consumers" / "indexer.json").st_mode) == 0o600
    assert j.verify() is None
    j.mark_done("indexer", 12)
    problem = j.verify()
    assert problem is not None and "indexer" in problem.where


def test_unhashable_payload_writes_nothing(tmp_path: Path) -> None:
    j = filled(tmp_path, 2)
    with pytest.raises(TypeError):
        j.append_many([("capture", capture(3)), ("capture", {"raw": b"bytes"})])
    with pytest.raises(ValueError):
        j.append("capture", {"x": float("nan")})
    with pytest.raises(ValueError):
        j.append("capture", {"big": "x" * 9_000_000})
    assert j.head()[0] == 2 and j.verify() is None


def test_excerpt_withholds_others_and_still_verifies(tmp_path: Path) -> None:
    j = filled(tmp_path)
    part = j.excerpt({3, 6})
    assert [e["seq"] for e in part] == [3, 4, 5, 6]
    assert [bool(e.get("withheld")) for e in part] == [False, True, True, False]
    assert "payload" not in part[1]
    lines = [json.dumps(e).encode() + b"\n" for e in part]
    problem, last, digest = verify_entries(parse_lines(lines, "x"), anchor=part[0]["prev"], first_seq=3)
    assert problem is None and last == 6 and digest == j.get(6).hash
    part[3]["payload"]["status"] = 500
    lines = [json.dumps(e).encode() + b"\n" for e in part]
    problem, _, _ = verify_entries(parse_lines(lines, "x"), anchor=part[0]["prev"], first_seq=3)
    assert problem is not None and problem.seq == 6


def _writer(root: str, start: int) -> None:
    j = Journal(root)
    for i in range(50):
        j.append_many([("capture", capture(start + i)), ("capture", capture(start + i + 1000))])


def test_several_processes_share_one_chain(tmp_path: Path) -> None:
    root = str(tmp_path / "j")
    Journal(root)
    procs = [multiprocessing.get_context("fork").Process(target=_writer, args=(root, k * 10_000)) for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    j = Journal(root)
    assert j.head()[0] == 300 and j.verify() is None
    assert len({e.payload["size"] for e in j.iterate()}) == 300
