"""Storage protection: length-preserving masks (offsets stay valid) and keyed hashes.

A hash is HMAC-SHA256 over the label and the label-normalised value, so an investigator holding
a value (an email, a card) can ask "has this leaked?" by exact match without clear values stored.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from typing import Any

import phonenumbers

MASK = "•"
_SEPARATORS = re.compile(r"[:;|]")


def normalise(label: str, value: str, region: str | None = None) -> str:
    value = value.strip()
    if label == "EMAIL_ADDRESS":
        return value.lower()
    if label == "PHONE_NUMBER":
        try:
            number = phonenumbers.parse("+" + value.lstrip()[2:] if value.startswith("00") else value, region)
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            return "".join(c for c in value if c.isdigit())
    if label in ("IBAN_CODE", "SG_NRIC_FIN"):
        return "".join(c for c in value if c.isalnum()).upper()
    if label == "CRYPTO":
        return value.lower() if value[:3].lower() == "bc1" or value[:2].lower() == "0x" else value
    if label == "ONION_ADDRESS":
        return value.lower()
    if label == "IP_ADDRESS":
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            return value
    if label == "CREDENTIAL":
        user, _, password = _split_credential(value)
        return f"{user.lower()}:{password}"
    return "".join(c for c in value if c.isdigit()) or value


def pii_hash(label: str, value: str, key: bytes, region: str | None = None) -> str:
    """Hex HMAC-SHA256 of the normalised value; region lets national phone numbers reach E.164."""
    message = f"{label}\x1f{normalise(label, value, region)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _split_credential(value: str) -> tuple[str, str, str]:
    m = _SEPARATORS.search(value)
    return (value[: m.start()], m.group(), value[m.end() :]) if m else (value, "", "")


def _keep_last(value: str, keep: int) -> str:
    """Mask letters and digits except the last `keep` of them; separators stay."""
    total = sum(c.isalnum() for c in value)
    out, seen = [], 0
    for c in value:
        if c.isalnum():
            seen += 1
            out.append(c if seen > total - keep else MASK)
        else:
            out.append(c)
    return "".join(out)


def _mask_email(value: str) -> str:
    local, at, domain = value.partition("@")
    labels = domain.split(".")
    masked_domain = ".".join([lab[:1] + MASK * (len(lab) - 1) for lab in labels[:-1]] + labels[-1:])
    return local[:1] + MASK * (len(local) - 1) + at + masked_domain


def mask(label: str, value: str) -> str:
    """Same-length masked form of one entity value."""
    if label == "EMAIL_ADDRESS":
        return _mask_email(value)
    if label == "CREDENTIAL":
        user, sep, password = _split_credential(value)
        user = _mask_email(user) if "@" in user else user[:1] + MASK * (len(user) - 1)
        return user + sep + MASK * len(password)
    if label == "ONION_ADDRESS":
        return value  # a service address, stored in clear in onion_links anyway
    if label == "CRYPTO":
        return value[:4] + MASK * (len(value) - 8) + value[-4:]
    if label == "IBAN_CODE":
        return value[:2] + _keep_last(value[2:], 4)
    if label == "CREDIT_CARD":
        return _keep_last(value, 4)
    if label in ("CARD_TRACK", "PERSONAL_FIELD", "CARD_DETAIL", "PASSWORD"):  # track data, CVV, PIN, names, dates of birth, passwords: nothing kept
        return "".join(c if c.isspace() or c in "%^;=?" else MASK for c in value)  # (Thai vowel marks too)
    return _keep_last(value, 2)


def protect(text: str, entities: list[dict[str, Any]], key: bytes) -> tuple[str, list[dict[str, Any]]]:
    """Mask every entity span in place (same length) and return entities with masked + hash."""
    chars = list(text)
    stored = []
    for e in sorted(entities, key=lambda e: (e["start"], -e["end"])):
        value = text[e["start"] : e["end"]]
        masked = mask(e["label"], value)
        chars[e["start"] : e["end"]] = masked
        stored.append({**e, "masked": masked, "hash": pii_hash(e["label"], value, key, e.get("region"))})
    return "".join(chars), stored
