"""Evidence bundle cost, side by side in one run: N stored pages (the test listing page with
its personal data, varied) exported

  warc+text       WARC rebuilt from the bodies, text records, capture-log excerpt, manifest, report
  +screenshots    the same plus an offline screenshot per page (one isolated Chromium per bundle)

and `verify` of the bundle. Loopback only: Chromium runs in its own empty network namespace.

Run:  .venv/bin/python bench/evidence_bench.py [--pages N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine, print_table, ratio
from evidence import Capture, Options, build, verify
from tests.test_evidence_data import BTC, EMAIL, PHONE, listing_html, stored


def captures(n: int) -> list[Capture]:
    out = []
    for i in range(n):
        page, raw = stored(f"http://{'m' * 56}.onion/listing/{i}", listing_html().replace("1kg", f"{i} kg"),
                           fetched_at=f"2026-11-22T10:{i // 60 % 60:02d}:{i % 60:02d}Z",
                           entities=[("CRYPTO", BTC), ("EMAIL_ADDRESS", EMAIL), ("PHONE_NUMBER", PHONE)],
                           categories=["wildlife"])
        out.append(Capture(page, raw))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=100)
    n = ap.parse_args().pages
    caps = captures(n)
    print(f"evidence bench: {n} pages; {machine()}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        build(Path(tmp) / "a", caps, Options(case="bench", screenshots=False))
        plain = time.perf_counter() - t
        t = time.perf_counter()
        build(Path(tmp) / "b", caps, Options(case="bench"))
        shots = time.perf_counter() - t
        t = time.perf_counter()
        problems = verify(Path(tmp) / "b")
        check = time.perf_counter() - t
        assert problems == [], problems
        size = sum(p.stat().st_size for p in (Path(tmp) / "b").rglob("*") if p.is_file())
    rows.append(["warc+text", round(plain, 2), round(n / plain, 1), "1.00x"])
    rows.append(["+screenshots", round(shots, 2), round(n / shots, 1), ratio(shots, plain)])
    rows.append(["verify", round(check, 2), round(n / check, 1), ratio(check, plain)])
    print_table("bundle export (seconds, pages/s, time relative to warc+text)", ["what", "s", "pages/s", "time"], rows)
    print(f"\nbundle with screenshots: {size / 1e6:.1f} MB for {n} pages")


if __name__ == "__main__":
    main()
