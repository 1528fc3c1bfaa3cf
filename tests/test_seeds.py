"""Seeds are checked before anything starts: each bad seed gets one line naming it and the
reason, and nothing starts (no Tor, no Elasticsearch, no crawl) when no valid seed is left."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.onion import onion_from_pubkey
from crawler.seeds import check_seeds

REPO = Path(__file__).resolve().parent.parent
GOOD = onion_from_pubkey(hashlib.sha256(b"seed-good").digest())
OTHER = onion_from_pubkey(hashlib.sha256(b"seed-other").digest())
TYPO = GOOD[:30] + ("a" if GOOD[30] != "a" else "b") + GOOD[31:]
V2 = "expyuzz4wqqyqhjn.onion"


def _wrong_version(onion: str) -> str:
    raw = bytearray(base64.b32decode(onion.removesuffix(".onion").upper()))
    raw[34] = 2
    return base64.b32encode(bytes(raw)).decode().lower() + ".onion"


def test_good_seeds_in_every_form() -> None:
    got = check_seeds(f"{GOOD}, http://{OTHER}/forum?x=1  {GOOD.upper()}/")
    assert got.problems == []
    assert got.urls == [f"http://{GOOD}/", f"http://{OTHER}/forum?x=1"], "normalised, duplicates dropped"


def test_a_file_of_seeds_with_comments(tmp_path: Path) -> None:
    f = tmp_path / "seeds.txt"
    f.write_text(f"# lab seeds\n{GOOD}  # the market\n\nhttp://{OTHER}/x\nhttp://example.com/\n")
    got = check_seeds(str(f))
    assert got.urls == [f"http://{GOOD}/", f"http://{OTHER}/x"] and got.source == f"file {f}"
    assert [p.seed for p in got.problems] == ["http://example.com/"]


@pytest.mark.parametrize(("seed", "reason"), [
    ("not a url at all", "not a URL or onion address"),
    ("http://example.com/", "not an onion address"),
    ("https://192.0.2.7/x", "not an onion address"),
    (V2, "a v2 onion address"),
    (f"http://{V2}/", "a v2 onion address"),
    (TYPO, "checksum does not match"),
    (_wrong_version(GOOD), "version byte is 2"),
    ("abc.onion", "3 characters; a v3 address has 56"),
    (f"ftp://{GOOD}/", "not an http(s) URL"),
    ("http://", "not a URL (no host)"),
    (f"http://{GOOD}/" + "a" * 600, "longer than 512"),
])
def test_each_bad_seed_is_named_with_its_reason(seed: str, reason: str) -> None:
    got = check_seeds(seed, max_url=512)
    assert got.urls == []
    (problem,) = got.problems
    assert problem.seed == seed and reason in problem.reason
    line = str(problem)
    assert "\n" not in line and line.startswith("seed '") and reason in line


def test_not_a_url_at_all_is_one_seed_not_five() -> None:
    assert len(check_seeds("not a url at all").problems) == 1
    assert len(check_seeds(f"{GOOD} {OTHER}").urls) == 2, "addresses separated by spaces are still a list"


def test_missing_and_empty_files(tmp_path: Path) -> None:
    for spec in (str(tmp_path / "nope.txt"), "seeds.txt", "./lists/seeds", str(tmp_path / "nope")):
        got = check_seeds(spec)
        assert got.urls == [] and [p.reason for p in got.problems] == ["seeds file not found"], spec
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n\n")
    assert "the seeds file is empty" in check_seeds(str(empty)).problems[0].reason
    assert str(check_seeds("").problems[0]) == "no seeds given"
    assert check_seeds(" , ,").problems[0].reason == "the seed list is empty"


def test_clearnet_only_when_allowed() -> None:
    assert check_seeds("http://example.com/a", allow_clearnet=True).urls == ["http://example.com/a"]


def _cli(tmp_path: Path, seeds: str) -> subprocess.CompletedProcess:
    home = tmp_path / "home"
    return subprocess.run(
        [sys.executable, "-m", "onionwatch", "crawl", "--seeds", seeds],
        check=False, cwd=REPO, capture_output=True, text=True, timeout=120,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ONIONWATCH_HOME": str(home),
             "ONIONWATCH_TOR_SOCKS": "127.0.0.1:9", "ONIONWATCH_TOR_CONTROL": "127.0.0.1:9"},
    )


@pytest.mark.parametrize("kind", ["not_a_url", "clearnet", "v2", "bad_checksum", "missing_file", "empty_file",
                                  "empty_list"])
def test_the_command_refuses_before_anything_starts(tmp_path: Path, kind: str) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("# none\n")
    seeds = {"not_a_url": "not a url at all", "clearnet": "http://example.com/", "v2": V2, "bad_checksum": TYPO,
             "missing_file": str(tmp_path / "missing.txt"), "empty_file": str(empty), "empty_list": ","}[kind]
    proc = _cli(tmp_path, seeds)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("error: ") and (seeds in lines[0] or kind == "empty_list"), lines
    assert lines[1].startswith("error: no valid seed") and "nothing to crawl" in lines[1]
    assert proc.stdout == ""
    assert not (tmp_path / "home").exists(), "no Elasticsearch, no journal, no crawl state was started"


def test_several_bad_seeds_one_line_each(tmp_path: Path) -> None:
    proc = _cli(tmp_path, f"http://example.com/, {V2}, {TYPO}")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert [line.split("'")[1] for line in lines[:3]] == ["http://example.com/", V2, TYPO]


def test_a_long_list_of_seeds_is_not_taken_for_a_file_name() -> None:
    """A list longer than a file name may be (the sweep's 300+ onions) is still a list."""
    onions = [onion_from_pubkey(hashlib.sha256(str(i).encode()).digest()) for i in range(120)]
    got = check_seeds(",".join(f"http://{o}/" for o in onions))
    assert got.problems == [] and len(got.urls) == 120
