"""Checksums that need Keccak-256 (Ethereum EIP-55, Monero) and the Singapore M-series FIN.

Keccak-256 is the original Keccak padding, not NIST SHA3-256 (hashlib's sha3_256 differs), so it
comes from pycryptodome's `Crypto.Hash.keccak`.
"""

from __future__ import annotations

import re

from Crypto.Hash import keccak

_HEX40 = re.compile(r"0x[0-9a-fA-F]{40}")
_MONERO_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_MONERO_INDEX = {c: i for i, c in enumerate(_MONERO_ALPHABET)}
# Monero's base58 encodes 8-byte blocks as 11 characters; a short final block of n bytes takes
# _BLOCK_CHARS[n] characters.
_BLOCK_CHARS = (0, 2, 3, 5, 6, 7, 9, 10, 11)
_CHARS_TO_BYTES = {chars: n for n, chars in enumerate(_BLOCK_CHARS)}
# Network bytes of mainnet addresses: standard (4…), integrated (4…), subaddress (8…).
_MONERO_PREFIXES = {18: 69, 19: 77, 42: 69}


def keccak256(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()


def eth_checksum_ok(value: str) -> bool | None:
    """EIP-55 for a 0x + 40 hex address: True if the mixed case matches Keccak of the lower-case
    hex, False if it does not, None when the address is all one case (EIP-55 carries no
    checksum then: the address is well formed but unverified)."""
    if not _HEX40.fullmatch(value):
        return False
    body = value[2:]
    if body == body.lower() or body == body.upper():
        return None
    digest = keccak256(body.lower().encode("ascii")).hex()
    return all(
        (c.upper() if int(h, 16) >= 8 else c.lower()) == c if c.isalpha() else True
        for c, h in zip(body, digest)
    )


def monero_decode(value: str) -> bytes | None:
    """Monero's block-wise base58 → bytes (None if not decodable)."""
    out = bytearray()
    for start in range(0, len(value), 11):
        block = value[start : start + 11]
        size = _CHARS_TO_BYTES.get(len(block))
        if size is None:
            return None
        number = 0
        for ch in block:
            digit = _MONERO_INDEX.get(ch)
            if digit is None:
                return None
            number = number * 58 + digit
        if number >= 1 << (8 * size):
            return None
        out += number.to_bytes(size, "big")
    return bytes(out)


def monero_checksum_ok(value: str) -> bool:
    """Mainnet standard, integrated or subaddress: network byte, keys, Keccak-256 checksum."""
    if len(value) not in (95, 106):
        return False
    raw = monero_decode(value)
    if raw is None or not raw or _MONERO_PREFIXES.get(raw[0]) != len(raw):
        return False
    return keccak256(raw[:-4])[:4] == raw[-4:]


_SG_WEIGHTS = (2, 7, 6, 5, 4, 3, 2)
_SG_M_LETTERS = "KLJNPQRTUWX"


def sg_m_series_ok(value: str) -> bool:
    """Singapore FIN M series (issued from 2022): weights 2,7,6,5,4,3,2, plus 3, mod 11,
    P = 11 - remainder, check letter KLJNPQRTUWX[P - 1] (as implemented in the Singapore
    government's open-source FormSG validator)."""
    value = value.upper()
    if len(value) != 9 or value[0] != "M" or not value[1:8].isdigit():
        return False
    remainder = (sum(int(d) * w for d, w in zip(value[1:8], _SG_WEIGHTS)) + 3) % 11
    return _SG_M_LETTERS[11 - remainder - 1] == value[8]
