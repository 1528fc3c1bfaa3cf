"""Evidence bundles: build, verify, and every way of tampering named by verify."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from evidence import BundleError, Options, build, verify
from evidence import warc as warc_mod
from tests.test_evidence_data import BTC, EMAIL, PHONE, market_captures

MEDIA_EXT = (".jpg", ".jpeg", ".gif", ".webp", ".mp4", ".mp3", ".webm", ".svg", ".swf", ".woff", ".ico", ".bmp")


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("bundle")
    caps, journal = market_captures(base / "journal")
    out = base / "bundle"
    result = build(out, caps, Options(operator="Insp. Somchai (DSI)", case="DSI-2026-0142", selection="--onion market",
                                      tool_version="0.1.0"), journal=journal)
    return {"out": out, "result": result, "caps": caps, "journal": journal, "base": base}


@pytest.fixture
def copy(made: dict, tmp_path: Path) -> Path:
    dst = tmp_path / "b"
    shutil.copytree(made["out"], dst)
    return dst


def manifest(d: Path) -> dict:
    return json.loads((d / "manifest.json").read_text())


def test_fresh_bundle_verifies_and_has_everything(made: dict) -> None:
    out, result = made["out"], made["result"]
    assert verify(out) == []
    m = manifest(out)
    assert result.captures == 3 and result.screenshots == 3 and not result.withheld
    listed = {f["path"] for f in m["files"]}
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} - {"manifest.json"}
    assert listed == on_disk
    assert {"report.html", "warc/captures.warc.gz", "journal/captures.jsonl"} <= listed
    assert sum(p.startswith("screenshots/") for p in listed) == 3 and sum(p.startswith("text/") for p in listed) == 3
    for p in out.rglob("*"):
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), (p, oct(mode))
    assert not [p for p in listed if p.lower().endswith(MEDIA_EXT)]
    report = (out / "report.html").read_text()
    for needle in ("DSI-2026-0142", "Insp. Somchai (DSI)", "Tor", *(c.page["sha256"] for c in made["caps"])):
        assert needle in report
    listing = next(c for c in m["captures"] if "listing" in c["url"])
    assert listing["journal"]["seq"] == 3 and listing["warc"]["record_type"] == "conversion"
    assert listing["screenshot"] and listing["blocked"] == 0


def test_personal_data_never_in_clear(made: dict) -> None:
    out = made["out"]
    clear = [EMAIL.encode(), PHONE.encode(), b"seller.mekong"]
    for p in out.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            if p.name.endswith(".gz"):
                data = gzip.decompress(data)
            for value in clear:
                assert value not in data, (p, value)
    text = json.loads(next((out / "text").glob("*.json")).read_text())
    assert all("masked" in e and "hash" in e for e in text["entities"])


def test_warc_round_trip_payload_digests_match_stored_sha256(made: dict) -> None:
    """Open with warcio: every response payload's SHA-256 is the stored one; the masked
    listing keeps its original digest; the chain of WARC-Concurrent-To holds."""
    from warcio.archiveiterator import ArchiveIterator

    out, caps = made["out"], made["caps"]
    by_url = {c.page["url"]: c for c in caps}
    types = []
    with open(out / "warc" / "captures.warc.gz", "rb") as fh:
        for rec in ArchiveIterator(fh, check_digests="raise"):
            types.append(rec.rec_type)
            h = rec.rec_headers
            if rec.rec_type == "warcinfo":
                info = rec.content_stream().read().decode()
                assert "onionwatch 0.1.0" in info and "Insp. Somchai" in info and "crawl-a" in info
                assert h.get_header("WARC-Type") == "warcinfo"
                continue
            url = h.get_header("WARC-Target-URI")
            body = rec.content_stream().read()
            if rec.rec_type == "response":
                stored = by_url[url]
                assert warc_mod.hex_of_label(h.get_header("WARC-Payload-Digest")) == stored.page["sha256"]
                assert body == stored.body and rec.http_headers.get_statuscode() == "200"
            elif rec.rec_type == "conversion":
                original = h.get_header("WARC-Onionwatch-Original-Payload-Digest")
                assert warc_mod.hex_of_label(original) == by_url[url].page["sha256"]
                assert EMAIL.encode() not in body and BTC.encode() in body
    assert types == ["warcinfo", "request", "response", "request", "conversion", "request", "response"]
    assert [r.rec_type for r in warc_mod.read(out / "warc" / "captures.warc.gz")] == types


def test_include_pii_exports_the_original(made: dict, tmp_path: Path) -> None:
    caps, journal = made["caps"], made["journal"]
    out = tmp_path / "pii"
    build(out, caps, Options(case="X", include_pii=True, screenshots=False), journal=journal)
    assert verify(out) == []
    listing = next(c for c in manifest(out)["captures"] if "listing" in c["url"])
    assert listing["warc"]["record_type"] == "response" and manifest(out)["include_pii"] is True
    assert EMAIL.encode() in gzip.decompress((out / "warc" / "captures.warc.gz").read_bytes())


def test_empty_selection_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="matched no stored page"):
        build(tmp_path / "empty", [], Options())
    assert not (tmp_path / "empty").exists()


def test_output_directory_must_be_new(made: dict) -> None:
    with pytest.raises(BundleError, match="not empty"):
        build(made["out"], made["caps"], Options(screenshots=False))


def _flip(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("which", ["report.html", "warc/captures.warc.gz", "journal/captures.jsonl", "screenshot", "text"])
def test_flipped_byte_in_any_file_is_named(copy: Path, which: str) -> None:
    rel = {"screenshot": next(p for p in manifest(copy)["files"] if p["path"].startswith("screenshots/"))["path"],
           "text": next(p for p in manifest(copy)["files"] if p["path"].startswith("text/"))["path"]}.get(which, which)
    _flip(copy / rel)
    problems = verify(copy)
    assert problems and problems[0].startswith(rel), problems


def test_flipped_byte_in_manifest_is_named(copy: Path) -> None:
    raw = (copy / "manifest.json").read_bytes()
    i = raw.index(b'"sha256": "') + 11
    _flip(copy / "manifest.json", i)
    problems = verify(copy)
    assert problems and any("SHA-256 does not match" in p or "differs" in p for p in problems), problems


def _journal_lines(d: Path) -> list[bytes]:
    return (d / "journal" / "captures.jsonl").read_bytes().splitlines(keepends=True)


def test_deleted_capture_entry_is_named(copy: Path) -> None:
    lines = _journal_lines(copy)
    kept = [ln for ln in lines if json.loads(ln)["seq"] != 3]  # the listing's capture entry
    (copy / "journal" / "captures.jsonl").write_bytes(b"".join(kept))
    problems = verify(copy)
    assert problems[0].startswith("journal/captures.jsonl") and "seq 3 deleted" in problems[0], problems


def test_reordered_chain_is_named(copy: Path) -> None:
    lines = _journal_lines(copy)
    lines[1], lines[2] = lines[2], lines[1]
    (copy / "journal" / "captures.jsonl").write_bytes(b"".join(lines))
    problems = verify(copy)
    assert problems[0].startswith("journal/captures.jsonl") and "(seq 3)" in problems[0], problems


def test_edited_capture_entry_is_named_even_with_manifest_updated(copy: Path) -> None:
    """Rewrite an entry's recorded hash and fix the manifest's file hash: the chain still tells."""
    from evidence.bundle import sha256_file

    path = copy / "journal" / "captures.jsonl"
    lines = _journal_lines(copy)
    entry = json.loads(lines[2])
    entry["payload"]["status"] = 404
    lines[2] = json.dumps(entry).encode() + b"\n"
    path.write_bytes(b"".join(lines))
    m = manifest(copy)
    for f in m["files"]:
        if f["path"] == "journal/captures.jsonl":
            f["sha256"], f["size"] = sha256_file(path), path.stat().st_size
    (copy / "manifest.json").write_text(json.dumps(m))
    problems = verify(copy)
    assert problems == ["journal/captures.jsonl:3 (seq 3): hash does not match the entry's content (entry edited)"]


def test_truncated_warc_is_named(copy: Path) -> None:
    path = copy / "warc" / "captures.warc.gz"
    path.write_bytes(path.read_bytes()[:-100])
    problems = verify(copy)
    assert problems[0].startswith("warc/captures.warc.gz") and "truncated" in problems[0], problems


def test_warc_cut_at_a_record_boundary_is_named(copy: Path) -> None:
    """A WARC cut cleanly between gzip members still loses a capture's record: named."""
    from evidence.bundle import sha256_file

    path = copy / "warc" / "captures.warc.gz"
    offsets = [r.offset for r in warc_mod.read(path)]
    path.write_bytes(path.read_bytes()[:offsets[-2]])  # drop the last request + response
    m = manifest(copy)
    for f in m["files"]:
        if f["path"] == "warc/captures.warc.gz":
            f["sha256"], f["size"] = sha256_file(path), path.stat().st_size
    (copy / "manifest.json").write_text(json.dumps(m))
    problems = verify(copy)
    assert problems and problems[0].startswith("warc/captures.warc.gz") and "missing" in problems[0], problems


def test_edited_report_is_named(copy: Path) -> None:
    path = copy / "report.html"
    path.write_text(path.read_text().replace("DSI-2026-0142", "DSI-2026-0999"))
    problems = verify(copy)
    assert problems == ["report.html: SHA-256 does not match manifest.json (file changed)"]


def test_deleted_and_added_files_are_named(copy: Path) -> None:
    shot = next(p for p in manifest(copy)["files"] if p["path"].startswith("screenshots/"))["path"]
    os.remove(copy / shot)
    (copy / "extra.jpg").write_bytes(b"\xff\xd8")
    problems = verify(copy)
    assert f"{shot}: missing" in problems and "extra.jpg: not listed in manifest.json (file added)" in problems


def test_unreadable_manifest_is_named(copy: Path) -> None:
    (copy / "manifest.json").write_text("{not json")
    assert verify(copy)[0].startswith("manifest.json")
