"""`onionwatch tag` on bad input: every bad line gets an error record in its place and a line on
stderr, the other lines are still tagged in order, and a 50 MB line is skipped in pieces."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


_REPORT_HWM = (
    "import atexit, runpy, sys\n"
    "report = sys.argv.pop(1)\n"
    "def _hwm():\n"
    "    with open('/proc/self/status') as fh, open(report, 'w') as out:\n"
    "        out.write(next(l.split()[1] for l in fh if l.startswith('VmHWM:')))\n"
    "atexit.register(_hwm)\n"
    "sys.argv[0] = 'onionwatch'\n"
    "runpy.run_module('onionwatch.cli', run_name='__main__')\n"
)


def run_tag_measured(data: bytes, *args: str) -> tuple[subprocess.CompletedProcess, int]:
    """Run `onionwatch tag` and return its own peak RSS in KiB: VmHWM of the process itself,
    written at exit (ru_maxrss of a child counts the forked test process's pages too)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        hwm = Path(tmp) / "hwm"
        # argv[1] is the report file; the wrapper pops it before the CLI parses its arguments
        proc = subprocess.run([sys.executable, "-c", _REPORT_HWM, str(hwm), "tag", *args], input=data,
                              capture_output=True, cwd=ROOT, timeout=300, check=False)
        peak = int(hwm.read_text()) if hwm.exists() else 0
    return proc, peak


def run_tag(data: bytes, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "onionwatch.cli", "tag", *args], input=data, check=False,
                          capture_output=True, cwd=ROOT, timeout=300)


def test_bad_lines_get_error_records_in_place_and_the_rest_is_tagged():
    lines = [
        json.dumps({"id": "ok-1", "text": "Selling MDMA 84% 10 grams for 0.004 BTC, escrow only."}).encode(),
        b'{"id": "broken", "text": "no closing quote}',
        json.dumps({"id": "no-text", "body": "x"}).encode(),
        b'{"id": "latin1", "text": "caf\xe9"}',
        b'{"id": "nul", "text": "a\x00b"}',
        json.dumps({"id": "escaped-nul", "text": "a\u0000b"}).encode(),
        json.dumps({"id": "number", "text": 42}).encode(),
        b"[1, 2, 3]",
        b"",
        json.dumps({"id": "ok-2", "text": "1 x US DEAD FULLZ"}).encode(),
    ]
    proc = run_tag(b"\n".join(lines) + b"\n", "--chunk-lines", "3")
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    # one record per input line (an empty one too), in input order
    assert [o.get("id") for o in out] == ["ok-1", None, "no-text", None, None, "escaped-nul", "number", None, None, "ok-2"]
    assert out[0]["categories"] == ["drugs"] and out[-1]["categories"] == ["leaked_data"]
    errors = {o["line"]: o["error"] for o in out if "error" in o}
    assert set(errors) == {2, 3, 4, 5, 6, 7, 8, 9}
    assert errors[2].startswith("not JSON") and errors[3] == "no string 'text'" and errors[4].startswith("not UTF-8")
    assert errors[5] == "NUL byte in the input line" and "NUL" in errors[6] and "int" in errors[7]
    assert errors[8] == "not a JSON object" and errors[9] == "empty line"
    stderr = proc.stderr.decode()
    for number in errors:
        assert f"line {number}: " in stderr
    assert "8 input line(s) not tagged" in stderr


def test_stdin_that_cannot_be_read_is_rc_1_with_one_message(tmp_path):
    import os

    fd = os.open(tmp_path / "sink", os.O_WRONLY | os.O_CREAT)  # write-only: read() fails (EBADF)
    try:
        proc = subprocess.run([sys.executable, "-m", "onionwatch.cli", "tag"], stdin=fd, check=False,
                              capture_output=True, cwd=ROOT, timeout=300)
    finally:
        os.close(fd)
    assert proc.returncode == 1 and proc.stdout == b""
    assert proc.stderr.decode().strip().splitlines()[-1].startswith("cannot read standard input:")


def test_a_50_mb_line_is_reported_not_read_and_memory_stays_bounded():
    big = json.dumps({"id": "big", "text": "ivory " * (50 * 1024 * 1024 // 6)}).encode()
    assert len(big) > 50 * 1024 * 1024
    data = json.dumps({"id": "a", "text": "Raw ivory tusks 12 kg for sale"}).encode() + b"\n" + big + b"\n" + \
        json.dumps({"id": "b", "text": "ARCTIC WOLF HEROIN 0.5G AAA+"}).encode() + b"\n"
    proc, peak_kb = run_tag_measured(data, "--max-line-bytes", str(4 * 1024 * 1024))
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [o["id"] for o in out] == ["a", None, "b"]
    assert out[0]["categories"] == ["wildlife"] and out[2]["categories"] == ["drugs"]
    assert out[1]["line"] == 2 and "longer than 4194304 bytes" in out[1]["error"]
    assert "line 2: line longer than" in proc.stderr.decode()
    # the 50 MB line was skipped in pieces: the tagger process never held it (spaCy + model ≈ 250 MB)
    assert 0 < peak_kb < 600 * 1024


def test_a_kind_hint_on_an_input_line_reaches_the_tagger_and_a_bad_one_is_an_error_record():
    """`kind_hint` is what the crawler's structure pass gives a crawl: on a listing the commodity
    alone is the offer; the same text without it is decided by the text (prose: no offer)."""
    text = ("Home Drugs Liquid Ketamine - 1000mg / 10mL A clean batch that was made in a proper lab. It is the "
            "same one that we have had for years and the people who tried it think that it is as good as the last one.")
    lines = [
        json.dumps({"id": "listing", "text": text, "kind_hint": "listing"}),
        json.dumps({"id": "plain", "text": text}),
        json.dumps({"id": "bogus", "text": text, "kind_hint": "catalogue"}),
        json.dumps({"id": "news", "text": text, "kind_hint": "news"}),
    ]
    proc = run_tag(("\n".join(lines) + "\n").encode())
    assert proc.returncode == 0, proc.stderr
    out = {o["id"]: o for o in map(json.loads, proc.stdout.decode().splitlines())}
    assert out["listing"]["page_kind"] == "listing" and out["listing"]["categories"] == ["drugs"]
    assert out["plain"]["page_kind"] not in ("listing", "shop") and out["plain"]["categories"] == []
    assert out["news"]["page_kind"] == "news" and out["news"]["categories"] == []
    assert "error" in out["bogus"] and "kind_hint" in out["bogus"]["error"]
    assert "line 3: 'kind_hint' must be one of" in proc.stderr.decode()
