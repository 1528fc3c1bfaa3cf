"""v3 onion addresses: validation and harvesting.

A v3 address is base32(pubkey[32] | checksum[2] | version[1]) where
checksum = SHA3-256(".onion checksum" | pubkey | version)[:2] and version = 3.
A typo changes the checksum, so only valid addresses are followed.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from urllib.parse import urlsplit

V3_RE = re.compile(r"(?<![a-z2-7])([a-z2-7]{56})\.onion(?![a-z0-9-])", re.IGNORECASE)


@lru_cache(maxsize=65536)  # every link on every page is checked; few distinct onions
def is_valid_v3(host: str) -> bool:
    """True for a checksum-valid v3 onion host (with or without the .onion suffix)."""
    # stem's helper, as in enrich's validator
    from stem.descriptor.hidden_service import HiddenServiceDescriptorV3 as HSv3

    host = host.lower().strip().rstrip(".")
    label = host.removesuffix(".onion").rsplit(".", 1)[-1]  # allow sub.domain.onion
    try:
        key = HSv3.identity_key_from_address(label)  # raises on a bad checksum
    except ValueError:
        return False
    # stem checks the checksum over whatever version byte the address holds: re-encoding pins it to 3
    return HSv3.address_from_identity_key(key, suffix=False) == label


def onion_of_url(url: str) -> str | None:
    """The v3 service host (`<56>.onion`) a URL points at, or None if it is not one."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return None
    if not host.endswith(".onion"):
        return None
    label = host.removesuffix(".onion").rsplit(".", 1)[-1]
    onion = f"{label}.onion"
    return onion if is_valid_v3(onion) else None


def find_onions(text: str) -> list[str]:
    """Valid v3 onion hosts mentioned in text, in order of first appearance."""
    seen: dict[str, None] = {}
    for match in V3_RE.finditer(text):
        onion = match.group(1).lower() + ".onion"
        if onion not in seen and is_valid_v3(onion):
            seen[onion] = None
    return list(seen)


def onion_from_pubkey(pubkey: bytes) -> str:
    """The v3 address of an ed25519 public key (used by tests to build known-good addresses)."""
    version = b"\x03"
    checksum = hashlib.sha3_256(b".onion checksum" + pubkey + version).digest()[:2]
    return base64.b32encode(pubkey + checksum + version).decode().lower() + ".onion"
