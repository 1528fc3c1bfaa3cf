"""RFC 3161 time-stamps of a bundle's manifest, against a real TSA: `openssl ts` behind a
loopback HTTP server, with its own CA made here."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from evidence import Options, build, tsa, verify
from tests.test_evidence_data import market_captures

pytestmark = pytest.mark.slow  # starts a loopback TSA server

TSA_CNF = """[ tsa ]
default_tsa = tsa1
[ tsa1 ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _ssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def local_tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    if not shutil.which("openssl"):
        pytest.fail("openssl is needed for the local TSA")
    d = tmp_path_factory.mktemp("tsa")
    _ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
         "-subj", "/CN=onionwatch test TSA CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    _ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr", "-subj", "/CN=onionwatch test TSA",
         cwd=d)
    (d / "ext.cnf").write_text("extendedKeyUsage=critical,timeStamping\nkeyUsage=critical,digitalSignature,nonRepudiation\n"
                               "basicConstraints=critical,CA:FALSE\n")
    _ssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "tsa.pem",
         "-days", "2", "-extfile", "ext.cnf", cwd=d)
    (d / "serial").write_text("01\n")
    (d / "tsa.cnf").write_text(TSA_CNF.format(dir=d))
    calls = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            query = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with tempfile.TemporaryDirectory(dir=d) as t:
                (Path(t) / "q.tsq").write_bytes(query)
                subprocess.run(["openssl", "ts", "-reply", "-config", str(d / "tsa.cnf"), "-queryfile", "q.tsq",
                                "-out", "r.tsr"], cwd=t, check=True, capture_output=True, timeout=30)
                reply = (Path(t) / "r.tsr").read_bytes()
            calls.append(len(query))
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"url": f"http://127.0.0.1:{server.server_address[1]}/tsa", "ca": (d / "ca.pem").read_bytes(), "calls": calls,
           "dir": d}
    server.shutdown()
    server.server_close()


def test_stamp_and_verify_round_trip(local_tsa: dict) -> None:
    stamp = tsa.request(b"manifest bytes", local_tsa["url"])
    assert stamp.gen_time.endswith("Z") and "onionwatch test TSA" in stamp.tsa
    assert tsa.verify(stamp.token, b"manifest bytes", local_tsa["ca"]).serial == stamp.serial
    with pytest.raises(tsa.TimestampError):
        tsa.verify(stamp.token, b"manifest bytez", local_tsa["ca"])


def test_openssl_agrees(local_tsa: dict, tmp_path: Path) -> None:
    """What the report tells a partner to run: openssl ts -verify accepts our token."""
    stamp = tsa.request(b"data to stamp", local_tsa["url"])
    (tmp_path / "m").write_bytes(b"data to stamp")
    (tmp_path / "t.tsr").write_bytes(stamp.token)
    (tmp_path / "ca.pem").write_bytes(local_tsa["ca"])
    out = subprocess.run(["openssl", "ts", "-verify", "-data", "m", "-in", "t.tsr", "-CAfile", "ca.pem"],
                         check=False, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "Verification: OK" in out.stdout, out.stderr


def test_timestamped_bundle_verifies_and_catches_a_reforged_manifest(local_tsa: dict, tmp_path: Path) -> None:
    caps, journal = market_captures(tmp_path / "j")
    out = tmp_path / "b"
    result = build(out, caps, Options(case="C-1", screenshots=False, tsa_url=local_tsa["url"], tsa_ca=local_tsa["ca"]),
                   journal=journal)
    assert result.timestamp and (out / "timestamp" / "manifest.tsr").exists()
    assert verify(out) == []
    # Edit the report and re-forge the manifest so every file hash matches again: only the time-stamp tells.
    from evidence.bundle import sha256_file

    (out / "report.html").write_text((out / "report.html").read_text().replace("C-1", "C-2"))
    m = json.loads((out / "manifest.json").read_text())
    for f in m["files"]:
        f["sha256"] = sha256_file(out / f["path"])
        f["size"] = (out / f["path"]).stat().st_size
    (out / "manifest.json").write_text(json.dumps(m, indent=1))
    problems = verify(out)
    assert len(problems) == 1 and problems[0].startswith("timestamp/manifest.tsr: time-stamp does not verify"), problems


def test_unreachable_tsa_is_a_clear_error(tmp_path: Path) -> None:
    caps, journal = market_captures(tmp_path / "j")
    with pytest.raises(tsa.TimestampError, match="unreachable"):
        build(tmp_path / "b", caps, Options(screenshots=False, tsa_url="http://127.0.0.1:9/tsa"), journal=journal)
