"""Identifiers that tie one onion to another: payment addresses (BTC, ETH, XMR, USDT on TRON),
PGP keys, emails, phones, messenger handles (Telegram, Jabber/XMPP, Session, Wickr, Tox) and
onion addresses.

Every candidate is validated by its own rule (base58check / bech32(m) / EIP-55 / Monero's Keccak
checksum / Tox's XOR checksum / the v3 onion checksum / pgpy parsing the key): a string that
fails is not an identifier. Values are kept in memory only long enough to be hashed (keyed
HMAC-SHA256, the same construction and normalisation as enrich's pii_hash for the kinds both
know, so one value hashes alike in pages and here) and masked; only public kinds keep a clear
``display``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import base58
import phonenumbers

from enrich import validators
from listings.records import PUBLIC_KINDS

MASK = "•"
_B58 = "1-9A-HJ-NP-Za-km-z"

# kind -> label hashed with the value (enrich's labels where enrich hashes the same thing)
HASH_LABEL = {
    "btc": "CRYPTO", "eth": "CRYPTO", "xmr": "CRYPTO", "tron": "CRYPTO",
    "email": "EMAIL_ADDRESS", "phone": "PHONE_NUMBER", "onion": "ONION_ADDRESS",
    "pgp": "PGP_FINGERPRINT", "telegram": "TELEGRAM", "xmpp": "XMPP", "session": "SESSION_ID",
    "wickr": "WICKR", "tox": "TOX_ID",
}

_BTC58 = re.compile(rf"(?<![A-Za-z0-9])[13][{_B58}]{{25,34}}(?![A-Za-z0-9])")
_BECH = re.compile(r"(?<![A-Za-z0-9])(?:bc1|BC1)[ac-hj-np-zAC-HJ-NP-Z02-9]{11,71}(?![A-Za-z0-9])")
_ETH = re.compile(r"(?<![A-Za-z0-9])0x[0-9a-fA-F]{40}(?![0-9a-fA-F])")
_TRON = re.compile(rf"(?<![A-Za-z0-9])T[{_B58}]{{33}}(?![A-Za-z0-9])")
_XMR = re.compile(rf"(?<![A-Za-z0-9])[48][{_B58}]{{94}}(?:[{_B58}]{{11}})?(?![A-Za-z0-9])")
_ONION = re.compile(r"(?<![a-z2-7])[a-z2-7]{56}\.onion(?![a-z0-9])", re.IGNORECASE)
_EMAIL = re.compile(r"(?<![\w.%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w\-])")
_XMPP_CONTEXT = re.compile(r"(?i)(?:jabber|xmpp|jid|omemo|otr)\W{0,12}$")
_TG_LINK = re.compile(r"(?i)(?:https?://)?(?:t\.me|telegram\.me|telegram\.dog)/(?!joinchat|addstickers|share|s/|\+)@?([A-Za-z][A-Za-z0-9_]{3,31})(?![A-Za-z0-9_])")
_TG_AT = re.compile(r"(?i)(?:telegram|tele|tg)\b[^@\n]{0,20}@([A-Za-z][A-Za-z0-9_]{3,31})(?![A-Za-z0-9_])")
_SESSION = re.compile(r"(?<![0-9a-fA-F])05[0-9a-fA-F]{64}(?![0-9a-fA-F])")
_TOX = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{76}(?![0-9a-fA-F])")
_WICKR = re.compile(r"(?i)\bwickr(?:\s?me)?(?:\s?id)?\s*[:：]\s*@?([A-Za-z0-9][A-Za-z0-9_.\-]{3,31})")
_PHONE_CONTEXT = re.compile(
    r"(?i)(?:phone|tel|mobile|call|whats\s?app|wa|signal|viber|line|zalo|sđt|điện thoại|โทร|เบอร์|telp|hp|电话|手机|微信)\W{0,6}$")
_PHONE_CANDIDATE = re.compile(r"(?<![\w+])(?:\+|00)?\d[\d \-().]{6,20}\d(?!\w)")
_FPR = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{4}[ \u00a0]{0,2}){9}[0-9A-Fa-f]{4}(?![0-9A-Fa-f])")
_FPR_CONTEXT = re.compile(r"(?i)(?:pgp|gpg|fingerprint|finger print|key id|openpgp|khóa|ลายนิ้วมือ|指纹|公钥)[^\n]{0,24}$")
_PGP_BEGIN = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
_PGP_END = "-----END PGP PUBLIC KEY BLOCK-----"


@dataclass(frozen=True)
class Found:
    """One validated identifier in a text (its clear ``value`` never leaves this process)."""

    kind: str
    value: str  # normalised
    start: int
    end: int
    source: str = "text"
    key_id: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class Rejected:
    """A candidate that looked like an identifier but is not one, and why (for tests and counts)."""

    kind: str
    reason: str


# -- validators ------------------------------------------------------------------------------
def is_btc(value: str) -> bool:
    """The tagger's Bitcoin check, plus BIP-173's rule that a bech32 address is one case."""
    if value[:3].lower() == "bc1" and value not in (value.lower(), value.upper()):
        return False
    return validators.is_btc(value)


def is_tron(value: str) -> bool:
    try:
        raw = base58.b58decode_check(value)
    except ValueError:
        return False
    return len(raw) == 21 and raw[0] == 0x41


# The same checks the tagger runs (EIP-55, Monero's Keccak checksum, the v3 onion checksum).
is_eth = validators.is_eth
is_xmr = validators.is_xmr
is_onion_v3 = validators.is_onion_v3


def is_tox(value: str) -> bool:
    """Tox ID: public key (32) | nospam (4) | checksum (2) = XOR of the 36 bytes in pairs."""
    raw = bytes.fromhex(value)
    check = [0, 0]
    for i, b in enumerate(raw[:36]):
        check[i % 2] ^= b
    return bytes(check) == raw[36:] and len(set(raw[:32])) > 4


# -- hashing and masking ---------------------------------------------------------------------
def normalise(kind: str, value: str) -> str:
    value = value.strip()
    if kind in ("email", "xmpp", "telegram", "wickr", "session"):
        return value.lower().lstrip("@")
    if kind == "onion":
        return value.lower()
    if kind in ("pgp", "tox"):
        return re.sub(r"\s", "", value).upper()
    if kind in ("btc", "eth"):
        return value.lower() if value[:3].lower() == "bc1" or value[:2].lower() == "0x" else value
    return value  # xmr, tron (case carries the checksum), phone (already E.164)


def value_hash(kind: str, value: str, key: bytes) -> str:
    """Keyed hash of an identifier: HMAC-SHA256 over "<LABEL>\\x1f<normalised value>", the
    construction of enrich.protect.pii_hash (tests check both agree on shared kinds)."""
    message = f"{HASH_LABEL[kind]}\x1f{normalise(kind, value)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def mask(kind: str, value: str) -> str:
    """A masked form that names the kind of thing without giving the value away."""
    if kind == "onion":
        return value
    if kind in ("btc", "eth", "xmr", "tron", "pgp", "session", "tox"):
        return value[:4] + MASK * max(0, len(value) - 8) + value[-4:]
    if kind in ("email", "xmpp"):
        local, _, domain = value.partition("@")
        labels = domain.split(".")
        masked_domain = ".".join([lab[:1] + MASK * (len(lab) - 1) for lab in labels[:-1]] + labels[-1:])
        return local[:1] + MASK * (len(local) - 1) + "@" + masked_domain
    if kind == "phone":
        total = sum(c.isdigit() for c in value)
        out, seen = [], 0
        for c in value:
            seen += c.isdigit()
            out.append(MASK if c.isdigit() and seen <= total - 2 else c)
        return "".join(out)
    return value[:1] + MASK * max(0, len(value) - 1)


def display(kind: str, value: str) -> str:
    """Clear for public identifiers only; personal data is shown masked."""
    return normalise(kind, value) if kind in PUBLIC_KINDS else mask(kind, normalise(kind, value))


# -- finding ---------------------------------------------------------------------------------
class IdentifierFinder:
    """Finds validated identifiers in a page's text and links. ``regions`` are tried for
    national-format phone numbers written after a contact word."""

    def __init__(self, *, max_pgp_block: int = 65536, max_pgp_blocks: int = 20, max_found: int = 2000,
                 phone_regions: Iterable[str] = ("TH", "VN", "ID", "MY", "SG", "PH", "CN", "US", "GB")) -> None:
        self.max_pgp_block = max_pgp_block
        self.max_pgp_blocks = max_pgp_blocks
        self.max_found = max_found
        self.regions = list(phone_regions)
        self.rejected: list[Rejected] = []

    def find(self, text: str, links: Iterable[str] = (), *, lang: str | None = None) -> list[Found]:
        found: list[Found] = []
        taken: list[tuple[int, int]] = []

        def add(f: Found) -> None:
            if len(found) < self.max_found and not any(a < f.end and f.start < b for a, b in taken):
                found.append(f)
                taken.append((f.start, f.end))

        for f in self.pgp_blocks(text):
            add(f)
        for f in self._crypto(text):
            add(f)
        for m in _ONION.finditer(text):
            if is_onion_v3(m.group()):
                add(Found("onion", m.group().lower(), m.start(), m.end()))
            else:
                self.rejected.append(Rejected("onion", "checksum"))
        for f in self._handles(text):
            add(f)
        for m in _EMAIL.finditer(text):
            kind = "xmpp" if _XMPP_CONTEXT.search(text, max(0, m.start() - 24), m.start()) else "email"
            add(Found(kind, m.group().lower(), m.start(), m.end()))
        for f in self._fingerprints(text):
            add(f)
        for f in self._phones(text, lang):
            add(f)
        found.sort(key=lambda f: (f.start, f.end))
        for href in links:
            for f in self._from_link(href):
                if len(found) < self.max_found:
                    found.append(f)
        return found

    def _crypto(self, text: str) -> Iterator[Found]:
        for m in _BECH.finditer(text):
            if is_btc(m.group()):
                yield Found("btc", m.group().lower(), m.start(), m.end())
            else:
                self.rejected.append(Rejected("btc", "checksum"))
        for m in _BTC58.finditer(text):
            if is_btc(m.group()):
                yield Found("btc", m.group(), m.start(), m.end())
            elif len(m.group()) >= 26:
                self.rejected.append(Rejected("btc", "checksum"))
        for m in _ETH.finditer(text):
            if is_eth(m.group()):
                yield Found("eth", m.group().lower(), m.start(), m.end())
            else:
                self.rejected.append(Rejected("eth", "checksum"))
        for m in _TRON.finditer(text):
            if is_tron(m.group()):
                yield Found("tron", m.group(), m.start(), m.end())
        for m in _XMR.finditer(text):
            if is_xmr(m.group()):
                yield Found("xmr", m.group(), m.start(), m.end())
            else:
                self.rejected.append(Rejected("xmr", "checksum"))

    def _handles(self, text: str) -> Iterator[Found]:
        for m in _TG_LINK.finditer(text):
            yield Found("telegram", m.group(1).lower(), m.start(), m.end())
        for m in _TG_AT.finditer(text):
            yield Found("telegram", m.group(1).lower(), m.start(1) - 1, m.end())
        for m in _WICKR.finditer(text):
            yield Found("wickr", m.group(1).lower().rstrip("."), m.start(1), m.end(1))
        for m in _SESSION.finditer(text):
            yield Found("session", m.group().lower(), m.start(), m.end())
        for m in _TOX.finditer(text):
            if is_tox(m.group()):
                yield Found("tox", m.group().upper(), m.start(), m.end())
            else:
                self.rejected.append(Rejected("tox", "checksum"))
        for m in re.finditer(r"(?i)\bxmpp:([^\s?\"'<>]+@[^\s?\"'<>]+)", text):
            yield Found("xmpp", m.group(1).lower(), m.start(), m.end())

    def _fingerprints(self, text: str) -> Iterator[Found]:
        for m in _FPR.finditer(text):
            if _FPR_CONTEXT.search(text, max(0, m.start() - 60), m.start()):
                value = re.sub(r"\s", "", m.group()).upper()
                if len(set(value)) > 4:
                    yield Found("pgp", value, m.start(), m.end(), key_id=value[-16:])

    def _phones(self, text: str, lang: str | None) -> Iterator[Found]:
        """International numbers anywhere; national ones only after a contact word."""
        for m in _PHONE_CANDIDATE.finditer(text):
            raw = m.group().strip()
            digits = re.sub(r"\D", "", raw)
            if not 8 <= len(digits) <= 15 or re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
                continue
            intl = raw.startswith(("+", "00"))
            if not intl and not _PHONE_CONTEXT.search(text, max(0, m.start() - 16), m.start()):
                continue
            number = self._parse_phone(raw, intl)
            if number is not None:
                e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                yield Found("phone", e164, m.start(), m.end(), region=phonenumbers.region_code_for_number(number))

    def _parse_phone(self, raw: str, intl: bool) -> phonenumbers.PhoneNumber | None:
        candidates = [None] if intl else self.regions
        for region in candidates:
            try:
                n = phonenumbers.parse("+" + raw[2:] if raw.startswith("00") else raw, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(n):
                return n
        return None

    def _from_link(self, href: str) -> Iterator[Found]:
        low = href.lower()
        if low.startswith("mailto:"):
            addr = href[7:].split("?")[0]
            if _EMAIL.fullmatch(addr):
                yield Found("email", addr.lower(), 0, 0, source="link")
        elif low.startswith("xmpp:"):
            jid = href[5:].split("?")[0]
            if "@" in jid:
                yield Found("xmpp", jid.lower(), 0, 0, source="link")
        elif "t.me/" in low or "telegram.me/" in low:
            m = _TG_LINK.search(href)
            if m:
                yield Found("telegram", m.group(1).lower(), 0, 0, source="link")

    # -- PGP ---------------------------------------------------------------------------------
    def pgp_blocks(self, text: str) -> Iterator[Found]:
        """Armoured public keys, parsed by pgpy. A block larger than ``max_pgp_block`` is not
        parsed (rejected "too_large"); one pgpy cannot read is rejected "corrupt"."""
        pos = 0
        seen = 0
        while seen < self.max_pgp_blocks:
            start = text.find(_PGP_BEGIN, pos)
            if start < 0:
                return
            end = text.find(_PGP_END, start, start + self.max_pgp_block + len(_PGP_END))
            if end < 0:
                self.rejected.append(Rejected("pgp", "too_large" if text.find(_PGP_END, start) > 0 else "unterminated"))
                nxt = text.find(_PGP_END, start)
                pos = nxt + len(_PGP_END) if nxt > 0 else len(text)
                continue
            end += len(_PGP_END)
            seen += 1
            pos = end
            fpr = pgp_fingerprint(text[start:end])
            if fpr is None:
                self.rejected.append(Rejected("pgp", "corrupt"))
                continue
            yield Found("pgp", fpr[0], start, end, source="pgp_block", key_id=fpr[1])


def pgp_fingerprint(armoured: str) -> tuple[str, str] | None:
    """(fingerprint, key id) of an armoured public key, or None when pgpy cannot read it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pgpy imports the deprecated imghdr module
        import pgpy

        lines = [ln.strip() for ln in armoured.replace("\r", "").split("\n")]
        try:
            key, _ = pgpy.PGPKey.from_blob("\n".join(lines))
        except Exception:  # noqa: BLE001 — pgpy raises many types on corrupt input
            return None
        if not key.is_public and key.pubkey is None:
            return None
        fpr = str(key.fingerprint).replace(" ", "").upper()
        return fpr, fpr[-16:]


_HEX40 = re.compile(r"[0-9A-Fa-f]{4}(?:\s{0,2}[0-9A-Fa-f]{4}){9}")
_HANDLE = re.compile(r"@?([A-Za-z][A-Za-z0-9_]{3,31})")


def classify(value: str, kind: str | None = None) -> Found | None:
    """What a value an investigator typed is (for a pivot): an armoured key, a fingerprint, an
    address, a handle… ``kind`` forces one ("telegram", "wickr", "xmpp", …). None: not an
    identifier (the caller may then treat it as a vendor name)."""
    v = value.strip()
    if not v:
        return None
    if _PGP_BEGIN in v:
        fpr = pgp_fingerprint(v)
        return Found("pgp", fpr[0], 0, len(v), source="pgp_block", key_id=fpr[1]) if fpr else None
    if kind in ("telegram", "wickr", "xmpp", "session", "tox", "email", "phone"):
        if kind == "phone":
            hits = [h for h in IdentifierFinder().find("tel: " + v) if h.kind == "phone"]
            return hits[0] if hits else None
        return Found(kind, normalise(kind, v), 0, len(v))
    if (kind in (None, "pgp")) and _HEX40.fullmatch(v):
        return Found("pgp", normalise("pgp", v), 0, len(v), key_id=normalise("pgp", v)[-16:])
    m = _TG_LINK.fullmatch(v)
    if m:
        return Found("telegram", m.group(1).lower(), 0, len(v))
    finder = IdentifierFinder(max_pgp_blocks=0)
    probe = v if not v.startswith("+") else "tel: " + v
    hits = [h for h in finder.find(probe) if h.end - h.start >= len(v) - 1 or h.kind == "phone"]
    if hits:
        return hits[0]
    if kind is None and v.startswith("@") and _HANDLE.fullmatch(v):
        return Found("telegram", v[1:].lower(), 0, len(v))
    return None
