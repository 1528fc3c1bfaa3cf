"""Offline screenshots: a hostile stored page renders without a single network request.

A loopback HTTP server records every hit; the page references it in every way a page can
(scripts, iframes, meta refresh, remote images and CSS, @import, fonts, srcset, video
posters, objects, beacons). A control run of plain Chromium on the same file shows the
server does see a browser's fetches; our renderer — sanitised or not, isolated or not —
causes none. Run inside the empty namespace (guide: `unshare -n`), like every network test.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from evidence.render import chromium_path, render
from evidence.sanitize import sanitise
from tests.test_evidence_data import EMAIL, listing_html

ARTIFACTS = Path(__file__).parent / "artifacts"
pytestmark = pytest.mark.slow  # starts a loopback server and Chromium


class Recorder:
    def __init__(self) -> None:
        self.hits: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.hits.append(self.path)
                body = b"body{background:red}" if self.path.endswith(".css") else b"<html><body>fetched</body></html>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    if not chromium_path():
        pytest.fail("Chromium is needed (apt-get install -y chromium)")
    r = Recorder()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_control_plain_chromium_does_fetch(recorder: Recorder, tmp_path: Path) -> None:
    """The detector works: Chromium without our layers loads the page's resources."""
    page = tmp_path / "page.html"
    page.write_text(listing_html(recorder.host))
    before = len(recorder.hits)
    cmd = [chromium_path(), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'p'}",
           "--virtual-time-budget=3000", "--dump-dom", page.as_uri()]
    subprocess.run(cmd, check=False, capture_output=True, timeout=60)
    assert len(recorder.hits) - before >= 3, recorder.hits


def test_sanitised_render_makes_no_request(recorder: Recorder, tmp_path: Path) -> None:
    """Sanitised + scripts off + requests refused, in this namespace where the server is
    reachable: zero hits, nothing even attempted; the picture shows placeholders."""
    before = len(recorder.hits)
    clean = sanitise(listing_html(recorder.host).encode())
    assert recorder.host not in clean.html
    result = render(clean.html, tmp_path / "listing.png", pdf=tmp_path / "listing.pdf", isolate=False)
    assert recorder.hits[before:] == [] and result.blocked == []
    assert (tmp_path / "listing.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "listing.pdf").read_bytes()[:5] == b"%PDF-"
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(tmp_path / "listing.png", ARTIFACTS / "evidence-listing-offline.png")


def test_unsanitised_render_still_makes_no_request(recorder: Recorder, tmp_path: Path) -> None:
    """The renderer's own layer alone (no sanitiser): every attempt is refused and listed."""
    before = len(recorder.hits)
    result = render(listing_html(recorder.host), tmp_path / "raw.png", isolate=False)
    assert recorder.hits[before:] == []
    assert result.blocked and all(recorder.host in u for u in result.blocked), result.blocked


def test_isolated_render_in_its_own_namespace(recorder: Recorder, tmp_path: Path) -> None:
    before = len(recorder.hits)
    result = render(listing_html(recorder.host), tmp_path / "iso.png", isolate=True)
    assert recorder.hits[before:] == [] and result.isolated
    assert (tmp_path / "iso.png").stat().st_size > 1000


def test_masked_render_shows_no_clear_personal_data(tmp_path: Path) -> None:
    from evidence.sanitize import mask_values

    html, missing = mask_values(sanitise(listing_html().encode()).html, ["s••••••••••••@e••••••.com"])
    assert not missing and EMAIL not in html and "s••••••••••••@e••••••.com" in html
    render(html, tmp_path / "masked.png")
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(tmp_path / "masked.png", ARTIFACTS / "evidence-listing-masked.png")
