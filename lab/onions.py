"""Onion addresses the lab makes up: stand-ins before Tor has made the real keys, decoys
that look real but are not, and the name → address map templates read.

The v3 encoding and checksum are crawler.onion's (one validator for the whole project), so
a decoy the lab builds is invalid by exactly the rule the crawler applies.
"""

from __future__ import annotations

import hashlib

from crawler.onion import is_valid_v3, onion_from_pubkey


def fake_onion(label: str) -> str:
    """A checksum-valid v3 hostname for loopback tests, before Tor has generated real keys."""
    return onion_from_pubkey(hashlib.sha256(label.encode()).digest())


def typo_onion(host: str) -> str:
    """`host` with one character changed so its checksum fails: looks real, is not an onion."""
    label = host.lower().removesuffix(".onion")
    for pos in range(10, 50):
        for repl in "qzxa":
            candidate = label[:pos] + repl + label[pos + 1:] + ".onion"
            if candidate != host and not is_valid_v3(candidate):
                return candidate
    raise ValueError("no invalid variant found")  # unreachable for a real 56-char label


class OnionNotKnown(Exception):
    """A template used a site's onion address before `Lab.set_onions` supplied it."""


class Onions(dict):
    """name -> hostname for templates; a missing name is a 503, not a silently empty link."""

    def __missing__(self, name: str) -> str:
        raise OnionNotKnown(name)  # not a LookupError, so Jinja cannot turn it into Undefined
