"""RFC 3161 trusted time-stamps of a bundle's manifest (rfc3161-client).

The request goes to a configured Time-Stamp Authority over HTTP(S): that is the operator's
machine talking to the TSA, never the crawler; pass ``proxies`` (e.g. Tor's SOCKS port as
``socks5h://127.0.0.1:9050``) to route it. Verification is offline: the token is checked
against the manifest bytes and the TSA's CA certificate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)


class TimestampError(RuntimeError):
    """No time-stamp could be had, or a time-stamp does not verify."""


@dataclass
class Stamp:
    token: bytes  # the DER TimeStampResp, as the TSA sent it
    gen_time: str
    serial: int
    tsa: str  # subject of the signing certificate, if the token carries it


def _describe(resp: object) -> tuple[str, int, str]:
    info = resp.tst_info  # type: ignore[attr-defined]
    subject = ""
    try:
        certs = resp.signed_data.certificates  # type: ignore[attr-defined]
        if certs:
            subject = x509.load_der_x509_certificate(next(iter(certs))).subject.rfc4514_string()
    except Exception:  # noqa: BLE001 - the subject is informative only
        subject = ""
    return info.gen_time.isoformat().replace("+00:00", "Z"), int(info.serial_number), subject


def request(data: bytes, url: str, *, timeout: float = 30.0, proxies: dict[str, str] | None = None) -> Stamp:
    """Ask the TSA at ``url`` to time-stamp ``data`` (SHA-256 imprint, nonce, certificate included)."""
    req = (TimestampRequestBuilder().data(data).hash_algorithm(HashAlgorithm.SHA256).nonce(nonce=True)
           .cert_request(cert_request=True).build())
    nonce = req.nonce
    try:
        http = requests.post(url, data=req.as_bytes(), timeout=timeout, proxies=proxies,
                             headers={"Content-Type": "application/timestamp-query"})
    except requests.RequestException as exc:
        raise TimestampError(f"time-stamp authority {url} unreachable: {type(exc).__name__}") from exc
    if http.status_code != 200:
        raise TimestampError(f"time-stamp authority answered HTTP {http.status_code}")
    try:
        resp = decode_timestamp_response(http.content)
    except Exception as exc:
        raise TimestampError(f"time-stamp authority sent no valid response: {exc}") from exc
    if resp.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        raise TimestampError(f"time-stamp refused (status {resp.status})")
    if resp.tst_info.nonce != nonce or resp.tst_info.message_imprint.message != hashlib.sha256(data).digest():
        raise TimestampError("time-stamp does not answer this request (nonce or imprint differs)")
    gen_time, serial, tsa = _describe(resp)
    return Stamp(http.content, gen_time, serial, tsa)


def verify(token: bytes, data: bytes, ca_pem: bytes) -> Stamp:
    """Check a stored token against ``data`` and the TSA's CA; TimestampError if it fails."""
    try:
        resp = decode_timestamp_response(token)
    except Exception as exc:
        raise TimestampError(f"not a time-stamp response: {exc}") from exc
    roots = x509.load_pem_x509_certificates(ca_pem)
    if not roots:
        raise TimestampError("no CA certificate to verify the time-stamp with")
    builder = VerifierBuilder()
    for root in roots:
        builder = builder.add_root_certificate(root)
    try:
        builder.build().verify_message(resp, data)
    except VerificationError as exc:
        raise TimestampError(f"time-stamp does not verify: {exc}") from exc
    gen_time, serial, tsa = _describe(resp)
    return Stamp(token, gen_time, serial, tsa)


def fingerprint(pem: bytes) -> str:
    return ", ".join(c.fingerprint(hashes.SHA256()).hex() for c in x509.load_pem_x509_certificates(pem))
