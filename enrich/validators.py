"""Checksum and structure validators, one per entity label.

Kept libraries do the checking wherever one exists (python-stdnum, phonenumbers, base58, bech32m,
stem, pycryptodome's Keccak via enrich.checksums); only the Singapore NRIC/FIN and Vietnamese
CCCD structure are written here because no installed library covers them.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable
from typing import Any

import base58
import bech32m
import phonenumbers
from stdnum import iban, luhn
from stdnum.id import nik
from stdnum.my import nric as my_nric
from stdnum.th import pin as th_pin
from stdnum.us import ssn as us_ssn
from stem.descriptor.hidden_service import HiddenServiceDescriptorV3

from enrich import checksums

_SG_SHAPE = re.compile(r"[STFGM]\d{7}[A-Z]")
_PH_SSS = re.compile(r"\d{2}-\d{7}-\d")
_PH_TIN = re.compile(r"\d{3}-\d{3}-\d{3}(?:-\d{3,5})?")
_ETH = re.compile(r"0x[0-9a-fA-F]{40}")
_MONERO_ALPHABET = set("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")


def digits(value: str) -> str:
    return "".join(filter(str.isdigit, value))


def is_card(value: str, prefixes: Iterable[str] = ()) -> bool:
    """Luhn-valid 12-19 digit number; with prefixes, also an issued issuer range."""
    number = digits(value)
    if not 12 <= len(number) <= 19 or len(set(number)) < 2 or not luhn.is_valid(number):
        return False
    prefixes = tuple(prefixes)
    return not prefixes or number.startswith(prefixes)


def is_iban(value: str) -> bool:
    return iban.is_valid(value.upper())


def is_us_ssn(value: str) -> bool:
    number = digits(value)
    return len(number) == 9 and us_ssn.is_valid(number)


def is_th_tnin(value: str) -> bool:
    return th_pin.is_valid(digits(value))


def is_my_nric(value: str) -> bool:
    return my_nric.is_valid(digits(value))


def is_id_nik(value: str) -> bool:
    number = digits(value)
    # python-stdnum reads a birth date (day, +40 for women; month) before it looks the place up:
    # sixteen ASCII digits without a possible one fail there (most 16-digit numbers are cards)
    if len(number) == 16 and number.isascii() and not (1 <= int(number[8:10]) <= 12 and 1 <= int(number[6:8]) % 40 <= 31):
        return False
    return nik.is_valid(number)


_SG_WEIGHTS = (2, 7, 6, 5, 4, 3, 2)
_SG_TABLES = {"S": "JZIHGFEDCBA", "T": "JZIHGFEDCBA", "F": "XWUTRQPNMLK", "G": "XWUTRQPNMLK"}
_SG_OFFSET = {"S": 0, "T": 4, "F": 0, "G": 4}


def is_sg_nric_fin(value: str) -> bool:
    """Singapore NRIC/FIN: S, T, F, G series (7 digits and a weighted check letter) and the
    M series of FINs issued since 2022 (its own offset and letter table)."""
    value = value.upper()
    if not _SG_SHAPE.fullmatch(value):
        return False
    if value[0] == "M":
        return checksums.sg_m_series_ok(value)
    total = sum(int(d) * w for d, w in zip(value[1:8], _SG_WEIGHTS)) + _SG_OFFSET[value[0]]
    return _SG_TABLES[value[0]][total % 11] == value[8]


def is_vn_cccd(value: str, province_codes: Iterable[str]) -> bool:
    """Vietnamese citizen identity number: province code, century/sex digit, birth year, serial."""
    number = digits(value)
    return len(number) == 12 and number[:3] in set(province_codes)


def is_ph_sss(value: str) -> bool:
    return bool(_PH_SSS.fullmatch(value)) and len(set(digits(value))) > 2


def is_ph_tin(value: str) -> bool:
    return bool(_PH_TIN.fullmatch(value)) and len(set(digits(value))) > 2


def is_btc(value: str) -> bool:
    """Base58check (P2PKH/P2SH) or segwit mainnet address (bech32 for v0, bech32m for v1+)."""
    if value[:3].lower() == "bc1":
        try:
            bech32m.decode("bc", value.lower())
        except bech32m.DecodeError:
            return False
        return True
    try:
        raw = base58.b58decode_check(value)
    except ValueError:
        return False
    return len(raw) == 21 and raw[0] in (0x00, 0x05)


def is_eth(value: str) -> bool:
    """0x + 40 hex digits; a mixed-case address must carry a valid EIP-55 (Keccak-256) checksum.
    All-lower or all-upper case carries no checksum (EIP-55): accepted on structure alone."""
    return bool(_ETH.fullmatch(value)) and len(set(value[2:].lower())) > 4 and checksums.eth_checksum_ok(value) is not False


def eth_checksummed(value: str) -> bool:
    """True only for a mixed-case address whose EIP-55 checksum verified."""
    return checksums.eth_checksum_ok(value) is True


def is_xmr(value: str) -> bool:
    """Monero mainnet standard/subaddress (95) or integrated (106) address: Monero's block-wise
    base58, the network byte that fits the length, and the Keccak-256 checksum."""
    return (
        len(value) in (95, 106)
        and value[0] in "48"
        and set(value) <= _MONERO_ALPHABET
        and checksums.monero_checksum_ok(value)
    )


def is_onion_v3(value: str) -> bool:
    """Tor v3 onion address: base32(pubkey || checksum || version=3) with its SHA3 checksum."""
    label = value.lower().removesuffix(".onion")
    try:
        key = HiddenServiceDescriptorV3.identity_key_from_address(label)  # raises on a bad checksum
    except ValueError:
        return False
    # stem checks the checksum over whatever version byte the address holds: re-encoding pins it to 3
    return HiddenServiceDescriptorV3.address_from_identity_key(key, suffix=False) == label


def is_ip(value: str) -> bool:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return not (address.version == 4 and value.count(".") != 3)


def is_region(value: Any) -> bool:
    """A two-letter region code phonenumbers has metadata for."""
    return isinstance(value, str) and value in phonenumbers.SUPPORTED_REGIONS


def phone_region(value: str, regions: Iterable[str], possible: bool = False) -> str | None:
    """The first region (or the number's own country code) in which the number is valid.
    `possible`: an international number only has to have a possible length for its country
    (numbers from reserved ranges, e.g. drama numbers, are not "valid" but are numbers)."""
    if value.lstrip().startswith(("+", "00")):
        try:
            number = phonenumbers.parse("+" + digits(value)[2:] if value.lstrip().startswith("00") else value)
        except phonenumbers.NumberParseException:
            return None
        ok = phonenumbers.is_possible_number(number) if possible else phonenumbers.is_valid_number(number)
        return phonenumbers.region_code_for_number(number) if ok else None
    number_digits = digits(value)
    # ASCII digits and separators only (no extension, no other script's digits): the national
    # number parsing would find is a suffix of these digits, see _national_suffix
    plain = number_digits.isascii() and not any(c.isalpha() for c in value)
    for region in regions:
        if not _possible_length(number_digits, region):
            continue  # parsing is the expensive part: skip regions the length rules out
        suffix = _national_suffix(region) if plain else None
        if suffix is not None:
            starts = _strippable_start(region)
            if not (suffix.search(number_digits) if starts.match(number_digits) else suffix.match(number_digits)):
                continue  # no ending of the digits (all of them, where parsing keeps all) is a national number there
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number_for_region(number, region):
            return region
    return None


@functools.cache
def _length_rules(region: str) -> tuple[frozenset[int], str, str]:
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.general_desc is None:
        return frozenset(), "", ""
    return frozenset(meta.general_desc.possible_length), meta.national_prefix or "", str(meta.country_code)


@functools.cache
def _national_suffix(region: str) -> re.Pattern[str] | None:
    """The region's national-number pattern and its number types' patterns, both anchored at the
    end of the digits (one suffix matching both); None when parsing
    may rewrite the digits (a national-prefix transform rule, for the region or for the main
    region of its country code), so nothing can be ruled out before parsing.

    Why it is a necessary condition: phonenumbers' parse takes the national number as the digits
    after an international prefix and country code and/or a national prefix, that is a suffix of
    them, and is_valid_number_for_region requires it to match the general pattern whole, and
    one of the number types' patterns whole."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.general_desc is None or not meta.general_desc.national_number_pattern:
        return None
    main = phonenumbers.PhoneMetadata.metadata_for_region(phonenumbers.region_code_for_country_code(meta.country_code))
    if meta.national_prefix_transform_rule or (main is not None and main.national_prefix_transform_rule):
        return None
    general = meta.general_desc.national_number_pattern
    # is_valid_number_for_region also needs the national number to match one of the number
    # types' patterns (fixed line, mobile, toll free...: _number_type_helper is not UNKNOWN), the
    # same suffix as the general pattern: about half the parses on the speed bench end there
    types = [desc.national_number_pattern for desc in (getattr(meta, name) for name in _NUMBER_TYPES) if desc is not None and desc.national_number_pattern]
    if not types:
        return re.compile(f"(?:{general})\\Z")
    return re.compile(f"(?=(?:{general})\\Z)(?:{'|'.join(types)})\\Z")


@functools.cache
def _strippable_start(region: str) -> re.Pattern[str]:
    """What parsing may strip from the start of a region's plain national digits: an
    international prefix (then a country code), the country code, a national prefix. Where this
    does not match, the national number parsing gives is all of the digits, so they must match
    _national_suffix whole (its .match: both of its parts end at the end of the digits), not
    just an ending of them: most numbers tried in a region not their own fail here unparsed."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    parts = [re.escape(str(meta.country_code))]
    parts += [f"(?:{p})" for p in (meta.international_prefix, meta.national_prefix_for_parsing) if p]
    parts += [re.escape(meta.national_prefix)] if meta.national_prefix else []
    return re.compile("|".join(parts))


# the number types phonenumbers' _number_type_helper tries after the general pattern
_NUMBER_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail", "fixed_line", "mobile")


def _possible_length(number: str, region: str) -> bool:
    """Could `number` (digits, maybe with trunk prefix or country code) be national in region?"""
    lengths, trunk, country = _length_rules(region)
    if len(number) in lengths:
        return True
    if trunk and number.startswith(trunk) and len(number) - len(trunk) in lengths:
        return True
    return number.startswith(country) and len(number) - len(country) in lengths
