"""Dead onions for the lab: checksum-valid v3 addresses of real ed25519 keys that nobody
publishes, so Tor finds no descriptor for them (as for most addresses in a real directory).
Deterministic from a seed: a test and a bench can name the same list."""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def v3_address(pubkey: bytes) -> str:
    """The v3 onion address of an ed25519 public key (rend-spec-v3: pubkey | checksum | version)."""
    version = b"\x03"
    checksum = hashlib.sha3_256(b".onion checksum" + pubkey + version).digest()[:2]
    return base64.b32encode(pubkey + checksum + version).decode().lower() + ".onion"


def valid_v3(address: str) -> bool:
    """Checksum and version of a v3 address are right."""
    raw = address.lower().removesuffix(".onion")
    if len(raw) != 56:
        return False
    try:
        data = base64.b32decode(raw.upper())
    except ValueError:
        return False
    pubkey, checksum, version = data[:32], data[32:34], data[34:]
    return version == b"\x03" and hashlib.sha3_256(b".onion checksum" + pubkey + version).digest()[:2] == checksum


def dead_onions(n: int, seed: str = "onionwatch-lab-dead") -> list[str]:
    """``n`` addresses whose keys are derived from ``seed`` and never published."""
    out = []
    for i in range(n):
        key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"{seed}/{i}".encode()).digest())
        out.append(v3_address(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)))
    return out
